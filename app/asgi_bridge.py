"""Serve an ASGI app (the FastAPI API) from the Tornado server that serves the pages: one port, one loop.

:func:`patterns` gives Tornado URL patterns for a list of path prefixes; each request under them is
handed to the ASGI app as an ASGI 3 ``http`` or ``websocket`` scope, on the server's own event loop
(Tornado 6 runs on asyncio), so the API shares the process's context, bus and worker with the
pages. Why a bridge and not Panel's FastAPI integration is in docs/api.md "Serving".

What the bridge does:

* ``http``: the request body is collected as it arrives (Tornado does not parse it: a malformed
  multipart upload is the ASGI app's to refuse; at most :data:`MAX_BODY_BYTES`) and given as one
  ``http.request`` message; the response is streamed — each ``http.response.body`` with
  ``more_body`` is written and flushed at once, so Arrow/CSV/Parquet streams go out as they are
  made and a slow client holds back the producer (``flush`` waits for the socket). A client that
  disconnects makes the next ``receive`` return ``http.disconnect``.
* ``websocket``: the ASGI app decides first — ``websocket.accept`` (with its subprotocol) completes
  Tornado's handshake; ``websocket.close`` before accepting answers 403; a denial response
  (``websocket.http.response.*``, e.g. a 401/429 problem document) is sent as the HTTP answer to
  the upgrade request. Then messages flow both ways; ``websocket.send`` waits until Tornado has
  written the frame (back-pressure for slow clients); a closed client gives ``websocket.disconnect``.
* The client address is Tornado's ``remote_ip`` (``X-Forwarded-For`` applied with
  ``--use-xheaders``); the socket's own peer address is in ``scope["extensions"]["tickdeck.peer"]``
  so that "loopback only" cannot be claimed with a forged header. ``root_path`` is the ``--prefix``.
"""

from __future__ import annotations

import asyncio
import logging
import re
from urllib.parse import unquote

import tornado.iostream
import tornado.web
import tornado.websocket

log = logging.getLogger(__name__)

PEER_EXTENSION = "tickdeck.peer"
MAX_BODY_BYTES = 1 << 30  # request bodies (file uploads to /api/v1/imports) are held in memory up to 1 GiB


def _peer(request) -> str:
    context = getattr(request.connection, "context", None)
    return getattr(context, "_orig_remote_ip", None) or request.remote_ip or ""


def _scope(handler, kind: str, root_path: str) -> dict:
    request = handler.request
    path = request.path
    host, _, port = (request.host or "").rpartition(":") if ":" in (request.host or "") else (request.host, "", "")
    scheme = request.protocol if kind == "http" else ("wss" if request.protocol == "https" else "ws")
    scope = {
        "type": kind,
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": request.version.split("/")[-1] if request.version else "1.1",
        "scheme": scheme,
        "path": unquote(path),
        "raw_path": path.encode("latin-1", "replace"),
        "query_string": (request.query or "").encode("latin-1", "replace"),
        "root_path": root_path,
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1", "replace"))
                    for k, v in request.headers.get_all()],
        "client": (request.remote_ip or "", 0),
        "server": (host or "localhost", int(port) if port.isdigit() else None),
        "extensions": {PEER_EXTENSION: {"address": _peer(request)}},
        "state": {},
    }
    if kind == "http":
        scope["method"] = request.method
    else:
        scope["subprotocols"] = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")
                                 if p.strip()]
        scope["extensions"]["websocket.http.response"] = {}
    return scope


@tornado.web.stream_request_body
class AsgiHttpHandler(tornado.web.RequestHandler):
    """One HTTP request handed to the ASGI app (see the module docstring)."""

    def initialize(self, app, root_path: str = "") -> None:
        self.app = app
        self.root_path = root_path
        self._disconnected = asyncio.Event()
        self._body = bytearray()

    def prepare(self) -> None:
        self.request.connection.set_max_body_size(MAX_BODY_BYTES)

    def data_received(self, chunk: bytes) -> None:
        self._body += chunk

    def check_xsrf_cookie(self) -> None:  # the API has its own CSRF rule (app.api.deps)
        return None

    def on_connection_close(self) -> None:
        self._disconnected.set()

    def compute_etag(self):  # the app sets its own caching headers
        return None

    async def _handle(self, *args) -> None:
        body_sent = False
        started = False

        async def receive() -> dict:
            nonlocal body_sent
            if not body_sent:
                body_sent = True
                return {"type": "http.request", "body": bytes(self._body), "more_body": False}
            await self._disconnected.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            nonlocal started
            kind = message["type"]
            if kind == "http.response.start":
                started = True
                self.set_status(message["status"])
                self.clear_header("Content-Type")
                self.clear_header("Server")
                for name, value in message.get("headers", []):
                    self.add_header(name.decode("latin-1"), value.decode("latin-1"))
            elif kind == "http.response.body":
                if self._finished or self._disconnected.is_set():
                    return
                chunk = message.get("body", b"")
                if chunk:
                    self.write(chunk if isinstance(chunk, bytes) else bytes(chunk))  # Tornado takes bytes only
                if message.get("more_body", False):
                    try:
                        await self.flush()
                    except tornado.iostream.StreamClosedError:
                        self._disconnected.set()
                else:
                    self.finish()

        try:
            await self.app(_scope(self, "http", self.root_path), receive, send)
        except Exception:  # noqa: BLE001 - the ASGI app's own handlers failed: answer 500 if nothing was sent
            log.exception("ASGI app failed on %s %s", self.request.method, self.request.path)
            if not started:
                self.set_status(500)
                self.set_header("Content-Type", "application/problem+json")
                self.finish('{"type":"about:blank","title":"Internal error","status":500,"detail":"internal error"}')
                return
        if not self._finished and not self._disconnected.is_set():
            self.finish()

    get = post = put = patch = delete = head = options = _handle


class AsgiWebSocketHandler(tornado.websocket.WebSocketHandler):
    """One WebSocket handed to the ASGI app (see the module docstring)."""

    def initialize(self, app, root_path: str = "") -> None:
        self.app = app
        self.root_path = root_path
        self._inbox: asyncio.Queue = asyncio.Queue()
        self._subprotocol: str | None = None
        self._task: asyncio.Task | None = None
        self._closed = False
        self._opened = asyncio.Event()  # the handshake is done (or failed): frames may be written

    def open(self, *args, **kwargs) -> None:
        self._opened.set()

    def check_origin(self, origin: str) -> bool:  # the API checks the origin of cookie-authorised streams itself
        return True

    def select_subprotocol(self, subprotocols):
        return self._subprotocol

    async def get(self, *args, **kwargs) -> None:
        if self.request.headers.get("Upgrade", "").lower() != "websocket":
            return await super().get(*args, **kwargs)  # Tornado's own 400 for a plain GET
        decided: asyncio.Future = asyncio.get_running_loop().create_future()
        denial: dict = {"status": 403, "headers": [], "body": b""}
        self._inbox.put_nowait({"type": "websocket.connect"})

        async def receive() -> dict:
            return await self._inbox.get()

        async def send(message: dict) -> None:
            kind = message["type"]
            if not decided.done():
                if kind == "websocket.accept":
                    self._subprotocol = message.get("subprotocol")
                    decided.set_result("accept")
                elif kind == "websocket.close":
                    decided.set_result("close")
                elif kind == "websocket.http.response.start":
                    denial["status"] = message["status"]
                    denial["headers"] = message.get("headers", [])
                elif kind == "websocket.http.response.body":
                    denial["body"] += message.get("body", b"")
                    if not message.get("more_body", False):
                        decided.set_result("deny")
                return
            if kind == "websocket.send":
                await self._opened.wait()
                if self._closed:
                    raise OSError("websocket closed")
                data = message.get("bytes")
                try:
                    if data is not None:
                        await self.write_message(data if isinstance(data, bytes) else bytes(data), binary=True)
                    else:
                        await self.write_message(message.get("text", ""))
                except tornado.websocket.WebSocketClosedError:
                    self._closed = True
                    raise OSError("websocket closed") from None
            elif kind == "websocket.close":
                if not self._closed:
                    self._closed = True
                    self.close(message.get("code", 1000), message.get("reason") or None)

        async def run() -> None:
            try:
                await self.app(_scope(self, "websocket", self.root_path), receive, send)
            except Exception:  # noqa: BLE001 - logged; the socket is closed below
                log.exception("ASGI app failed on websocket %s", self.request.path)
            finally:
                if not decided.done():
                    decided.set_result("close")
                elif not self._closed and self.ws_connection is not None:
                    self._closed = True
                    self.close(1011 if not self._inbox.empty() else 1000)

        self._task = asyncio.ensure_future(run())
        outcome = await decided
        if outcome == "accept":
            try:
                return await super().get(*args, **kwargs)
            finally:
                if self.ws_connection is None:  # the handshake failed (bad headers): the app sees a disconnect
                    self._closed = True
                    self._inbox.put_nowait({"type": "websocket.disconnect", "code": 1006})
                self._opened.set()
        if outcome == "deny":
            self.set_status(denial["status"])
            for name, value in denial["headers"]:
                self.add_header(name.decode("latin-1"), value.decode("latin-1"))
            self.finish(denial["body"])
        else:
            self.set_status(403)
            self.finish()
        self._inbox.put_nowait({"type": "websocket.disconnect", "code": 1006})

    def on_message(self, message) -> None:
        if isinstance(message, bytes):
            self._inbox.put_nowait({"type": "websocket.receive", "bytes": message})
        else:
            self._inbox.put_nowait({"type": "websocket.receive", "text": message})

    def on_close(self) -> None:
        self._closed = True
        self._opened.set()
        self._inbox.put_nowait({"type": "websocket.disconnect", "code": self.close_code or 1005,
                                "reason": self.close_reason or ""})


def patterns(app, *, http: tuple[str, ...], websocket: tuple[str, ...] = (), root_path: str = "") -> list:
    """Tornado URL patterns (unprefixed: the Bokeh server adds ``--prefix``) for the ASGI ``app``.

    ``http``: paths served with everything below them (``/api`` → ``/api``, ``/api/…``);
    ``websocket``: paths whose sub-paths only are WebSockets (``/ws`` → ``/ws/…``; ``/ws`` itself is the
    home page's Bokeh socket).
    """
    kw = {"app": app, "root_path": root_path}
    out = [(rf"{re.escape(p)}/.+", AsgiWebSocketHandler, kw) for p in websocket]
    out += [(rf"{re.escape(p)}(?:/.*)?", AsgiHttpHandler, kw) for p in http]
    return out
