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

Unauthenticated ``/<page>/autoload.js`` (Panel 1.9, ``AutoloadJsHandler.get``)
    Its ``get_session`` is ``@authenticated``: for a visitor without a session it redirects and
    returns ``None``, which ``get`` then awaits — ``TypeError`` with a traceback in the server log
    for every crafted request. The fix answers 403 before that (one access-log line). Retire it
    when Panel checks the user in ``get`` itself.

Refused or early-closed websockets (Bokeh 3.9 ``WSHandler.open``)
    A connection without the ``bokeh`` subprotocol or with a bad or expired token raises
    ``ProtocolError`` out of ``open`` (logged with a traceback), a token that is not base64 JSON
    raises ``UnicodeDecodeError``/``JSONDecodeError`` the same way, and a client that closes
    during the handshake makes ``open`` read ``selected_subprotocol`` of a closed connection
    (``AssertionError``). The fix closes such connections quietly (code 1008 "policy
    violation") with one WARNING line, or one INFO line for a client that already left.
    Retire it when Bokeh closes these without raising.

Writes to a closed tab (Panel 1.9, ``panel.io.document``)
    When a tab closes while Panel writes its patches, the writer task fails with
    ``WebSocketClosedError`` and the write futures it had already started (or that the session's
    teardown cancels too late) are never read: asyncio logs "Task exception was never retrieved"
    with a traceback for an ordinary closed tab. The fix ends the writer quietly and installs, on
    the server's loop, an exception handler that drops exactly these closed-socket errors (DEBUG)
    and passes everything else on. Retire it when Panel reads its write futures itself.

Google Fonts request of the Fast design (Panel 1.9, ``panel.theme.fast.Fast._resources["font"]``)
    Every page of the Fast list template asked ``fonts.googleapis.com`` for Open Sans: a request
    leaving the origin (blocked offline, a privacy leak otherwise). The fix drops the design's font
    resource; pages keep the system sans-serif. Retire it when Panel can turn the font off.

"reference already known" (Bokeh 3.9, ``bokeh.core.serialization.Deserializer._decode_object_ref``)
    A client patch that names a model the session already has (a tab re-sending an object while it
    closes or reconnects) makes Bokeh warn ``BokehUserWarning: reference already known 'p1234'`` on
    stderr, with the source line, for every such object; Bokeh then uses the known model, so nothing
    is wrong. The fix ignores exactly that warning. Retire it when Bokeh stops warning for it.
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
    _quiet_crafted_requests()
    _quiet_closed_tab_writes()
    _no_font_cdn()
    quiet_known_references()
    try:
        from panel.io import document as pdoc

        original = pdoc._dispatch_msgs
        pdoc._WRITE_MSGS, pdoc._WRITE_BLOCK, pdoc._dispatch_write_task  # noqa: B018 - present?
    except (ImportError, AttributeError) as e:
        log.warning("Panel's patch writer changed (%s): queued-patch work-around not applied", e)
        return

    from tornado.websocket import WebSocketClosedError

    async def dispatch_msgs(doc) -> None:
        try:
            await original(doc)
        except WebSocketClosedError:  # the tab closed while its patches were being written
            pdoc._WRITE_BLOCK.pop(doc, None)
            log.debug("patches of a closed session dropped")
            return
        if doc in pdoc._WRITE_MSGS and doc not in pdoc._WRITE_BLOCK:  # queued while the last batch was written
            pdoc._WRITE_BLOCK[doc] = True
            pdoc._dispatch_write_task(doc, dispatch_msgs, doc)

    pdoc._dispatch_msgs = dispatch_msgs  # Panel looks the writer up by name on every schedule


WS_POLICY_VIOLATION = 1008  # RFC 6455 close code for a refused connection


def _quiet_crafted_requests() -> None:
    """403 for unauthenticated autoload.js; quiet close for refused or early-closed websockets."""
    try:
        from bokeh.protocol.exceptions import ProtocolError
        from panel.io import server as pserver

        autoload_get = pserver.AutoloadJsHandler.get
        ws_open = pserver.WSHandler.open
    except (ImportError, AttributeError) as e:
        log.warning("Panel's autoload/websocket handlers changed (%s): crafted-request work-around not applied", e)
        return

    async def get(self, *args, **kwargs):
        if not self.current_user:
            self.set_status(403)
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish("sign in first\n")
            return None
        return await autoload_get(self, *args, **kwargs)

    def open(self, *args, **kwargs):
        if self.ws_connection is None:  # the client left during the handshake
            log.info("websocket %s closed by the client before it opened", self.request.path)
            return None
        try:
            return ws_open(self, *args, **kwargs)
        except (ProtocolError, ValueError, KeyError, TypeError) as e:  # bad subprotocol, forged or garbled token
            reason = str(e)[:200] if isinstance(e, ProtocolError) else "malformed session token"
            log.warning("refused websocket %s from %s: %s", self.request.path, self.request.remote_ip, reason)
            self.close(WS_POLICY_VIOLATION, "refused")
            return None

    pserver.AutoloadJsHandler.get = get
    pserver.WSHandler.open = open


def filter_closed_socket_errors(loop) -> None:
    """On ``loop``, drop unretrieved task errors that only say a websocket was closed (idempotent).

    Everything else still reaches the previous (or default) exception handler.
    """
    from tornado.iostream import StreamClosedError
    from tornado.websocket import WebSocketClosedError

    if getattr(loop, "_tickdeck_quiet_closed", False):
        return
    previous = loop.get_exception_handler()

    def handler(loop, context) -> None:
        if isinstance(context.get("exception"), (WebSocketClosedError, StreamClosedError)):
            log.debug("dropped a write to a closed websocket: %s", context.get("message"))
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
    loop._tickdeck_quiet_closed = True


def _quiet_closed_tab_writes() -> None:
    """Install :func:`filter_closed_socket_errors` on the server's loop when its first session opens."""
    import asyncio

    import panel as pn

    def install(_session_context=None) -> None:
        try:
            loop = asyncio.get_running_loop()  # the server's loop: sessions are created on it
        except RuntimeError:  # a session made outside a running loop (tests, notebooks)
            return
        filter_closed_socket_errors(loop)

    pn.state.on_session_created(install)  # once per process (after --num-procs forks), on its loop


def _no_font_cdn() -> None:
    try:
        from panel.theme.fast import Fast

        Fast._resources = {k: v for k, v in Fast._resources.items() if k != "font"}
    except (ImportError, AttributeError) as e:
        log.warning("Panel's Fast design changed (%s): font work-around not applied", e)


def quiet_known_references() -> None:
    """Ignore Bokeh's "reference already known" warning (the known model is used; nothing is lost)."""
    import warnings

    try:
        from bokeh.util.warnings import BokehUserWarning
    except ImportError as e:
        log.warning("Bokeh's warnings moved (%s): known-reference work-around not applied", e)
        return
    warnings.filterwarnings("ignore", message=r"reference already known ", category=BokehUserWarning)
