"""The last known status of each feed client: a last-value cache of
:class:`core.events.FeedStatusChanged`, fed by the bus, readable by any process.

A feed client (the history client of a collect job, the Level 1 client of live collection)
publishes its state and counters on the bus topic ``collection`` after every request or batch.
A page opened or an API process started after the last change would see nothing until the next
one — and a client that stopped sends no more. So :func:`install` (idempotent per context)
listens on ``collection`` and keeps the newest status per feed client kind (``history``,
``level1``) in memory; a daemon thread writes them to ``system_config['feed.status']`` at once
when a client's state changes and at most every :data:`PERSIST_EVERY_S` otherwise (never on the
publisher's thread: the Level 1 acknowledgement path must not wait for SQL). The writer thread
runs only while there is something to write: an idle context keeps no thread. :func:`latest`
returns, per kind, the newer of the in-memory and the stored status, so a fresh process or a
fresh page shows what the last one saw.

The process that runs feed clients installs it (the service supervisor, the ``collect`` job
kind); readers (the monitor page, the API's ``/feeds/status``) call :func:`latest`, which
installs it in theirs too. With the Redis bus every installed process hears every client.

It keeps the last :class:`core.events.FeedSwitched` of live collection's failover as well
(:func:`last_switch`, stored at once under ``system_config['feed.failover']``): which endpoint
(primary or backup) collection is on, since when and why.

Warnings
--------
A status says when it was last updated (``updated_at``, epoch seconds): a process killed
without closing its clients leaves its last state (e.g. ``connected``) behind; readers show
its age.
"""

from __future__ import annotations

import logging
import threading
import time

from tickdeck.core.events import FEED_KINDS, FeedStatusChanged, FeedSwitched

log = logging.getLogger(__name__)

CONFIG_KEY = "feed.status"
SWITCH_KEY = "feed.failover"
PERSIST_EVERY_S = 5.0  # counters change every batch; the stored copy lags at most this long (state changes: at once)
EXTRAS_KEY = "feed_status"
_install_lock = threading.Lock()


class FeedStatusCache:
    """Newest :class:`FeedStatusChanged` per feed client kind, persisted in SQL (see the module docstring)."""

    def __init__(self, ctx, *, persist_every_s: float = PERSIST_EVERY_S):
        self.ctx = ctx
        self.persist_every_s = persist_every_s
        self._lock = threading.Lock()
        self._latest: dict[str, FeedStatusChanged] = {}
        self._switch: FeedSwitched | None = None
        self._switch_saved: FeedSwitched | None = None
        self._saved_state: dict[str, str] = {}
        self._dirty = False
        self._wake = threading.Event()
        self._halt = threading.Event()
        self._stop_listening = None
        self._thread: threading.Thread | None = None

    def start(self) -> "FeedStatusCache":
        """Listen on the bus (idempotent); the writer thread starts with the first status."""
        if self._stop_listening is None:
            self._stop_listening = self.ctx.bus.listen("collection", self._on_message)
        return self

    def close(self) -> None:
        """Stop listening; what is newer than the stored copy is written first."""
        if self._stop_listening is not None:
            self._stop_listening()
            self._stop_listening = None
        self._halt.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)

    def _on_message(self, msg) -> None:  # the publisher's thread: memory only
        if isinstance(msg.event, FeedStatusChanged):
            self.record(msg.event)
        elif isinstance(msg.event, FeedSwitched):  # rare (a failover): kept and written at once
            with self._lock:
                self._switch = msg.event
                self._dirty = True
                if self._thread is None and not self._halt.is_set():
                    self._thread = threading.Thread(target=self._writer, name="tickdeck-feed-status", daemon=True)
                    self._thread.start()
            self._wake.set()

    def record(self, ev: FeedStatusChanged) -> None:
        """Keep ``ev`` when it is the newest of its kind; a changed state is written at once."""
        with self._lock:
            prev = self._latest.get(ev.kind)
            if prev is not None and prev.updated_at > ev.updated_at:
                return
            self._latest[ev.kind] = ev
            self._dirty = True
            changed = self._saved_state.get(ev.kind) != ev.state
            if self._thread is None and not self._halt.is_set():
                self._thread = threading.Thread(target=self._writer, name="tickdeck-feed-status", daemon=True)
                self._thread.start()
        if changed:
            self._wake.set()

    def _writer(self) -> None:
        while not self._halt.is_set():
            self._wake.wait(self.persist_every_s)
            self._wake.clear()
            with self._lock:
                if not self._dirty:  # nothing new for a whole period: end (the next status starts one)
                    self._thread = None
                    return
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - SQL briefly down: the next round writes it
                log.exception("feed status: writing the last-value cache failed")
        self.flush()

    def flush(self) -> None:
        """Write the in-memory statuses that are newer than the stored ones."""
        with self._lock:
            if not self._dirty:
                return
            mine = dict(self._latest)
            switch = self._switch
            self._dirty = False
        if switch is not None and switch is not self._switch_saved:
            self.ctx.catalog.set_config(SWITCH_KEY, switch.to_dict())
            self._switch_saved = switch
        if not mine:
            return
        stored = _stored(self.ctx)
        merged = {**stored, **{k: ev for k, ev in mine.items()
                              if k not in stored or stored[k].updated_at <= ev.updated_at}}
        self.ctx.catalog.set_config(CONFIG_KEY, {k: ev.to_dict() for k, ev in merged.items()})
        with self._lock:
            self._saved_state.update({k: ev.state for k, ev in mine.items()})

    def latest(self) -> dict[str, FeedStatusChanged]:
        """Per kind, the newer of this process's last status and the stored one."""
        stored = _stored(self.ctx)
        with self._lock:
            mine = dict(self._latest)
        out = dict(stored)
        for k, ev in mine.items():
            if k not in out or out[k].updated_at <= ev.updated_at:
                out[k] = ev
        return {k: out[k] for k in FEED_KINDS if k in out}


def _stored(ctx) -> dict[str, FeedStatusChanged]:
    raw = ctx.catalog.get_config(CONFIG_KEY, {}) or {}
    out = {}
    for kind, d in raw.items():
        try:
            out[kind] = FeedStatusChanged(**d)
        except (TypeError, ValueError) as e:  # written by another version: skipped, not fatal
            log.warning("feed status: stored status of %r is not usable (%s)", kind, e)
    return out


def last_switch(ctx) -> FeedSwitched | None:
    """The newest failover switch of live collection known here or stored by any process, or None."""
    cache = install(ctx)
    with cache._lock:
        mine = cache._switch
    raw = ctx.catalog.get_config(SWITCH_KEY, None)
    stored = None
    if raw:
        try:
            stored = FeedSwitched(**raw)
        except (TypeError, ValueError) as e:  # written by another version
            log.warning("feed status: the stored failover switch is not usable (%s)", e)
    if mine is None or (stored is not None and stored.wall > mine.wall):
        return stored
    return mine


def install(ctx) -> FeedStatusCache:
    """The context's cache, started on first use (``ctx.extras['feed_status']``)."""
    cache = ctx.extras.get(EXTRAS_KEY)
    if cache is None:
        with _install_lock:
            cache = ctx.extras.get(EXTRAS_KEY)
            if cache is None:
                cache = ctx.extras[EXTRAS_KEY] = FeedStatusCache(ctx).start()
    return cache


def latest(ctx) -> dict[str, FeedStatusChanged]:
    """The last known status of each feed client kind (``history``, ``level1``), newest first
    known to this process or any other (see the module docstring)."""
    return install(ctx).latest()


def age_s(ev: FeedStatusChanged, now: float | None = None) -> float:
    """Seconds since ``ev`` was published."""
    return max((now if now is not None else time.time()) - ev.updated_at, 0.0)
