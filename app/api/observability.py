"""What the API adds for operations: ``GET /metrics`` (Prometheus text format) and a middleware that
gives every HTTP request an id (``X-Request-ID``: the caller's when it sends a sane one, else a new
one; sent back on the answer and bound for the request's log records) and counts it in
``tickdeck_api_request_duration_seconds`` by method, route *template* and status.

Who may scrape ``/metrics``: a client connected directly from loopback, or from a network listed
in ``TICKDECK_METRICS_ALLOW`` (comma-separated addresses or CIDR networks, e.g. the compose
network), without credentials — "directly" meaning both the socket's peer and the client address
after ``X-Forwarded-For`` are in those networks, so a request relayed by a proxy on the same host
from elsewhere is not; anyone else needs an API key or a signed-in session (any role).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import time
import uuid

from fastapi import FastAPI
from fastapi.responses import Response
from starlette.requests import Request

from tickdeck.app.api.deps import API_PREFIX, PEER_EXTENSION, authenticate
from tickdeck.core import metrics
from tickdeck.core.errors import ConfigError
from tickdeck.core.logging_setup import REQUEST_ID

log = logging.getLogger("tickdeck.api.access")

METRICS_PATH = "/metrics"
ALLOW_ENV = "TICKDECK_METRICS_ALLOW"
REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")  # a caller's id is kept only if it cannot forge a log line
UNMATCHED = "unmatched"  # the route label of a request no route matched (bounded cardinality)


def allowed_networks(env=None) -> list:
    """Loopback plus the networks of ``TICKDECK_METRICS_ALLOW``.

    Raises
    ------
    ConfigError
        An entry is not an address or network.
    """
    nets = [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")]
    raw = (os.environ if env is None else env).get(ALLOW_ENV, "")
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        try:
            nets.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ConfigError(ALLOW_ENV, f"{part!r} is not an address or network (e.g. 10.0.0.0/8)") from None
    return nets


def _inside(host: str | None, nets) -> bool:
    try:
        addr = ipaddress.ip_address((host or "").strip("[]"))
    except ValueError:
        return False
    return any(addr in n for n in nets if n.version == addr.version)


def route_template(scope) -> str:
    """The matched route's path template (``/api/v1/datasets/{symbol}``), or :data:`UNMATCHED`.

    FastAPI's lazily included routers leave the router's own path in ``scope["route"]`` (without the
    ``/api/v1`` prefix it was included under): the prefix is put back from the request path."""
    template = getattr(scope.get("route"), "path", None)
    if not template:
        return UNMATCHED
    path, root = scope.get("path", ""), scope.get("root_path", "")
    if root and path.startswith(root):  # served under --prefix
        path = path[len(root):]
    if path.startswith(API_PREFIX + "/") and not template.startswith(API_PREFIX):
        template = API_PREFIX + template
    return template


class RequestObserver:
    """ASGI middleware: request id, duration histogram, one access log record (INFO) per request."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        sent = dict(scope.get("headers") or ()).get(b"x-request-id", b"").decode("latin-1")
        rid = sent if _SANE_ID.match(sent) else uuid.uuid4().hex
        status = [500]

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), (b"x-request-id", rid.encode())]}
            await send(message)

        token = REQUEST_ID.set(rid)
        t0 = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - t0
            route = route_template(scope)
            metrics.api_request(scope.get("method", ""), route, status[0], seconds)
            log.info("%s %s %s %.1f ms", scope.get("method", ""), route, status[0], seconds * 1000)
            REQUEST_ID.reset(token)


def install(app: FastAPI, get_ctx) -> None:
    """Add the middleware and ``GET /metrics`` to ``app``."""
    nets = allowed_networks()
    app.add_middleware(RequestObserver)
    state: dict = {}

    def collector():
        if "c" not in state:
            state["c"] = metrics.StateCollector(get_ctx())
        return state["c"]

    @app.get(METRICS_PATH, tags=["health"], summary="Prometheus metrics (loopback, TICKDECK_METRICS_ALLOW or a key)",
             response_class=Response, responses={200: {"content": {"text/plain": {}}}})
    def metrics_page(request: Request) -> Response:
        peer = (request.scope.get("extensions") or {}).get(PEER_EXTENSION, {}).get("address")
        client = request.client.host if request.client else ""
        if not (_inside(client, nets) and _inside(peer if peer is not None else client, nets)):
            authenticate(request)  # 401 with the reason unless a key or session is sent
        body, content_type = metrics.render(collector())
        return Response(body, media_type=content_type)
