"""The one decorator every UI callback goes through, and the notification helpers it uses.

A :class:`~core.errors.TickdeckError` becomes a readable warning notification (its message
already says what was wrong and where). Anything else is logged with its traceback under a
short error id and shown as ``internal error, id …`` so a user can quote the id and an
operator can find the traceback in the server log.
"""

from __future__ import annotations

import functools
import html
import inspect
import logging
import uuid
from typing import Any, Callable

import panel as pn

from tickdeck.core.errors import TickdeckError

log = logging.getLogger("tickdeck.ui")

NOTIFY_MS = 8_000  # long enough to read a one-line error, short enough not to pile up


def notify(message: str, level: str = "info") -> None:
    """Show a toast in a served page; log it when there is no notification area (Jupyter, tests).

    The toast library inserts its message as HTML, so the text is escaped here: messages quote
    values from URLs, forms, files and feeds.
    """
    area = getattr(pn.state, "notifications", None)
    if area is None:
        log.info("%s: %s", level, message)
        return
    getattr(area, level)(html.escape(str(message)), duration=NOTIFY_MS)


def describe(exc: BaseException, *, where: str = "") -> str:
    """The one line a user sees for ``exc``; internal errors are logged with their traceback under an id.

    A :class:`TickdeckError` is its own message (it says what was wrong and where). Anything
    else becomes ``internal error, id …``; the server log holds the traceback under that id.
    """
    if isinstance(exc, TickdeckError):
        return str(exc)
    err_id = uuid.uuid4().hex[:8]
    log.error("internal error %s in %s", err_id, where or "callback", exc_info=exc)
    return f"internal error, id {err_id}"


def report(exc: BaseException, *, where: str = "") -> str:
    """Turn an exception into the text the user sees (and log internal errors); returns the text."""
    text = describe(exc, where=where)
    notify(text, "warning" if isinstance(exc, TickdeckError) else "error")
    return text


def ui_action(func: Callable) -> Callable:
    """Decorate a page callback (sync or async) so errors are reported, never raised to Bokeh.

    The wrapped callback returns ``None`` when it failed. The page can read the last message
    from ``self.last_error`` (set when the instance has that attribute), which tests use.
    """

    def _record(args, text: str | None) -> None:
        if args and hasattr(args[0], "last_error"):
            try:
                args[0].last_error = text or ""
            except Exception:  # noqa: BLE001 - recording must never mask the original error
                pass

    if inspect.iscoroutinefunction(func):
        @functools.wraps(func)
        async def async_wrapper(*args, **kwargs) -> Any:
            try:
                out = await func(*args, **kwargs)
            except Exception as e:  # noqa: BLE001 - the point of the decorator
                _record(args, report(e, where=func.__qualname__))
                return None
            _record(args, None)
            return out

        return async_wrapper

    @functools.wraps(func)
    def wrapper(*args, **kwargs) -> Any:
        try:
            out = func(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - the point of the decorator
            _record(args, report(e, where=func.__qualname__))
            return None
        _record(args, None)
        return out

    return wrapper
