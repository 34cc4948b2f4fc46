"""The quiet-log work-arounds of ``tickdeck.app.panel_fixes`` against the installed Tornado and asyncio."""

from __future__ import annotations

import asyncio
import gc
import logging

from tornado.websocket import WebSocketClosedError

from tickdeck.app.panel_fixes import filter_closed_socket_errors


def _abandoned_failure(loop, exc: BaseException) -> None:
    """A task that fails with ``exc`` and whose result nobody reads (what a write to a closed tab leaves)."""
    async def fail():
        raise exc

    task = loop.create_task(fail())
    loop.run_until_complete(asyncio.sleep(0))
    loop.run_until_complete(asyncio.sleep(0))
    assert task.done()
    del task
    gc.collect()


def test_closed_websocket_errors_are_dropped_and_others_still_logged(caplog):
    """Issue 11 item 27: "Task exception was never retrieved" for a write to a closed websocket is not
    logged (no traceback in the server log for an ordinary closed tab); any other error still is."""
    loop = asyncio.new_event_loop()
    try:
        filter_closed_socket_errors(loop)
        filter_closed_socket_errors(loop)  # idempotent
        with caplog.at_level(logging.ERROR, logger="asyncio"):
            _abandoned_failure(loop, WebSocketClosedError())
            assert "never retrieved" not in caplog.text
            _abandoned_failure(loop, RuntimeError("a real bug"))
            assert "never retrieved" in caplog.text and "a real bug" in caplog.text
    finally:
        loop.close()
