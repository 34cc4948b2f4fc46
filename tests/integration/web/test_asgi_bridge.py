"""Issue 13: the Tornado-to-ASGI bridge that serves the API beside the pages on one port — a real Tornado
server on a loopback port with a small ASGI app behind it, called over HTTP and WebSocket."""

from __future__ import annotations

import asyncio
import json
import socket
import threading

import httpx
import pytest


async def asgi_app(scope, receive, send):
    """Echo what the bridge handed over; stream memoryview chunks; accept, deny or echo WebSockets."""
    if scope["type"] == "http":
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        if scope["path"].endswith("/stream"):
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
            for i in range(5):
                await send({"type": "http.response.body", "body": memoryview(f"chunk{i};".encode()),
                            "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        out = json.dumps({"path": scope["path"], "root_path": scope["root_path"], "method": scope["method"],
                          "client": scope["client"][0], "peer": scope["extensions"]["tickdeck.peer"]["address"],
                          "query": scope["query_string"].decode(), "body": len(body)}).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(out)).encode())]})
        await send({"type": "http.response.body", "body": out})
    elif scope["type"] == "websocket":
        assert (await receive())["type"] == "websocket.connect"
        if scope["path"].endswith("/deny"):
            body = b'{"status":401}'
            await send({"type": "websocket.http.response.start", "status": 401,
                        "headers": [(b"content-type", b"application/problem+json"), (b"retry-after", b"7")]})
            await send({"type": "websocket.http.response.body", "body": body})
            return
        await send({"type": "websocket.accept"})
        while True:
            msg = await receive()
            if msg["type"] == "websocket.disconnect":
                return
            await send({"type": "websocket.send", "bytes": memoryview(b"echo:" + msg["text"].encode())})


@pytest.fixture(scope="module")
def bridged():
    import tornado.httpserver
    import tornado.web

    from tickdeck.app.asgi_bridge import patterns

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder = {}

    def run():
        asyncio.set_event_loop(loop)
        app = tornado.web.Application(patterns(asgi_app, http=("/td/api",), websocket=("/td/ws",), root_path="/td"))
        holder["server"] = tornado.httpserver.HTTPServer(app, xheaders=True)
        holder["server"].listen(port, "127.0.0.1")
        ready.set()
        loop.run_forever()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    ready.wait(10)
    yield f"127.0.0.1:{port}"
    loop.call_soon_threadsafe(holder["server"].stop)
    loop.call_soon_threadsafe(loop.stop)
    t.join(5)


def test_http_request_reaches_the_app_with_prefix_client_and_peer(bridged):
    """Issue 13: path, root_path (the --prefix), method, query and body arrive; the forwarded client is
    the client, the socket's peer stays the peer (so 'loopback only' cannot be claimed by a header)."""
    r = httpx.post(f"http://{bridged}/td/api/v1/x?a=1", content=b"12345", headers={"X-Forwarded-For": "203.0.113.9"})
    got = r.json()
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert got == {"path": "/td/api/v1/x", "root_path": "/td", "method": "POST", "client": "203.0.113.9",
                   "peer": "127.0.0.1", "query": "a=1", "body": 5}


def test_streamed_memoryview_chunks_arrive_whole(bridged):
    """Issue 13: a streamed response whose chunks are memoryviews is sent, not cut off."""
    r = httpx.get(f"http://{bridged}/td/api/stream")
    assert r.status_code == 200 and r.text == "".join(f"chunk{i};" for i in range(5))


def test_malformed_multipart_body_goes_to_the_app_unparsed(bridged):
    """Issue 13: Tornado does not parse (and refuse with its own HTML 400) a broken multipart body."""
    r = httpx.post(f"http://{bridged}/td/api/upload", content=b"--x\r\nContent-Disposition: form-data; name=\x1c\r\n",
                   headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert r.status_code == 200 and r.json()["body"] > 0


def test_websocket_denial_is_the_apps_http_answer_and_accepted_sockets_echo(bridged):
    """Issue 13: a WebSocket the app refuses gets the app's status, headers and body as the answer to
    the upgrade; an accepted one carries frames both ways (memoryview frames too)."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    with pytest.raises(InvalidStatus) as refused:
        connect(f"ws://{bridged}/td/ws/deny", open_timeout=10)
    assert refused.value.response.status_code == 401 and refused.value.response.headers["Retry-After"] == "7"
    assert refused.value.response.body == b'{"status":401}'
    with connect(f"ws://{bridged}/td/ws/echo", open_timeout=10) as ws:
        ws.send("hello")
        assert ws.recv(timeout=10) == b"echo:hello"
