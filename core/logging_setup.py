"""Log set-up for the command line and the servers: text (default) or one JSON object per line
(``TICKDECK_LOG_FORMAT=json``), with the request id of the API call and the id of the job whose
code logged.

The ids live in context variables: the API middleware (:mod:`tickdeck.app.api.observability`)
binds ``request_id`` for one request (``X-Request-ID``), the job runner binds ``job_id`` and
``job_kind`` while a job runs (its thread). :class:`ContextFilter` copies them onto every record,
so a text log can show them too (``%(request_id)s``) and :class:`JsonFormatter` writes them.

========================== ========== =====================================================
variable                   default    meaning
========================== ========== =====================================================
TICKDECK_LOG_FORMAT        text       ``text`` or ``json`` (one object per line on stderr)
TICKDECK_LOG_LEVEL         WARNING    ``DEBUG``, ``INFO``, ``WARNING``, ``ERROR`` (``-v``: DEBUG)
========================== ========== =====================================================
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging
import os
import sys
from typing import Iterator, Mapping

from tickdeck.core.errors import ConfigError

FORMAT_ENV = "TICKDECK_LOG_FORMAT"
LEVEL_ENV = "TICKDECK_LOG_LEVEL"
FORMATS = ("text", "json")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
CONTEXT_FIELDS = ("request_id", "job_id", "job_kind")

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("tickdeck_request_id", default=None)
JOB_ID: contextvars.ContextVar[int | None] = contextvars.ContextVar("tickdeck_job_id", default=None)
JOB_KIND: contextvars.ContextVar[str | None] = contextvars.ContextVar("tickdeck_job_kind", default=None)
_VARS = {"request_id": REQUEST_ID, "job_id": JOB_ID, "job_kind": JOB_KIND}


@contextlib.contextmanager
def bound(**ids) -> Iterator[None]:
    """Bind ``request_id``, ``job_id`` or ``job_kind`` for the code inside (this thread or task)."""
    tokens = [(_VARS[k], _VARS[k].set(v)) for k, v in ids.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class ContextFilter(logging.Filter):
    """Copies the bound ids onto each record (``None`` when not bound)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in _VARS.items():
            if not hasattr(record, name):
                setattr(record, name, var.get())
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``time`` (UTC ISO 8601), ``level``, ``logger``, ``message``, the
    bound ids that are set, ``process``, ``thread`` and ``exception`` (the traceback) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        out = {"time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
               "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is None:
                value = _VARS[name].get()
            if value is not None:
                out[name] = value
        out["process"], out["thread"] = record.process, record.threadName
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        elif record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def log_format(env: Mapping[str, str] | None = None) -> str:
    """``text`` or ``json`` from ``TICKDECK_LOG_FORMAT``.

    Raises
    ------
    ConfigError
        Another value.
    """
    raw = (os.environ if env is None else env).get(FORMAT_ENV, "").strip().lower() or "text"
    if raw not in FORMATS:
        raise ConfigError(FORMAT_ENV, f"expected one of {', '.join(FORMATS)}, got {raw!r}")
    return raw


def log_level(env: Mapping[str, str] | None = None, *, verbose: bool = False) -> int:
    """The root level: DEBUG with ``verbose``, else ``TICKDECK_LOG_LEVEL`` (default WARNING).

    Raises
    ------
    ConfigError
        An unknown level name.
    """
    if verbose:
        return logging.DEBUG
    raw = (os.environ if env is None else env).get(LEVEL_ENV, "").strip().upper() or "WARNING"
    if raw not in LEVELS:
        raise ConfigError(LEVEL_ENV, f"expected one of {', '.join(LEVELS)}, got {raw!r}")
    return getattr(logging, raw)


def configure(*, verbose: bool = False, env: Mapping[str, str] | None = None, stream=None,
              force: bool = False) -> logging.Handler | None:
    """Install one handler on the root logger as the environment says; returns it.

    Like :func:`logging.basicConfig`, nothing changes when the root logger already has handlers
    that this function did not install (a test runner, an application embedding a command), unless
    ``force``: then they are replaced. The values are checked either way.

    Raises
    ------
    ConfigError
        ``TICKDECK_LOG_FORMAT`` or ``TICKDECK_LOG_LEVEL`` has a value it does not know.
    """
    fmt, level = log_format(env), log_level(env, verbose=verbose)
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, "tickdeck_handler", False)]
    if root.handlers and not ours and not force:
        return None
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(ContextFilter())
    handler.tickdeck_handler = True
    for h in list(root.handlers) if force else ours:
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
