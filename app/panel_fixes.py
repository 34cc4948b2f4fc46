"""Work-arounds for Panel behaviour that the served app depends on; each says why and how to retire it.

``apply()`` is called once by :func:`app.server.serve` before the server starts.

Queued patches left unsent (Panel 1.9, ``panel.io.document._dispatch_msgs``)
    When a session's update cannot be written at once (the websocket is busy), Panel queues the
    patch and schedules a writer task. A writer that is already sending an earlier batch clears
    the session's "queued" flag when it finishes, even if another patch was queued while it was
    awaiting the socket; the writer scheduled for that patch then finds the flag cleared and
    returns, and the patch stays queued until some later update of that session. Under load
    (tens of sessions loading at once) an explorer could keep its spinner with the chart
    computed but never sent: about one session in a hundred in ``tests/bench/bench_sessions.py``.
    The fix re-dispatches when a writer finishes with patches still queued. Retire it once
    Panel's writer re-checks the queue itself (the bench then loads every session without it).
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

_applied = False


def apply() -> None:
    """Install the work-arounds (idempotent). Logs and skips one whose Panel internals moved."""
    global _applied
    if _applied:
        return
    _applied = True
    try:
        from panel.io import document as pdoc

        original = pdoc._dispatch_msgs
        pdoc._WRITE_MSGS, pdoc._WRITE_BLOCK, pdoc._dispatch_write_task  # noqa: B018 - present?
    except (ImportError, AttributeError) as e:
        log.warning("Panel's patch writer changed (%s): queued-patch work-around not applied", e)
        return

    async def dispatch_msgs(doc) -> None:
        await original(doc)
        if doc in pdoc._WRITE_MSGS and doc not in pdoc._WRITE_BLOCK:  # queued while the last batch was written
            pdoc._WRITE_BLOCK[doc] = True
            pdoc._dispatch_write_task(doc, dispatch_msgs, doc)

    pdoc._dispatch_msgs = dispatch_msgs  # Panel looks the writer up by name on every schedule
