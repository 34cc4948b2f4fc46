"""The HTTP API: a FastAPI app with ``/api/v1`` (one router module per resource, listed in
:data:`app.api.v1.ROUTERS`), the WebSocket streams (``app/api/streams.py``, ``/ws/…``), ``/healthz``
and ``/readyz`` (no auth), the OpenAPI document at ``/api/v1/openapi.json`` and an interactive
docs page at ``/api/docs`` whose Swagger UI files are served from the ``swagger_ui_bundle`` package
(no CDN: it works offline).

It knows nothing about Panel: :func:`app.server.serve` mounts the pages beside it on one port. A
route parses the request, calls ``core`` and shapes the answer (:mod:`app.api.schemas`); who may
call it, rate limits and audit records come from :mod:`app.api.deps`, errors become problem
documents in :mod:`app.api.errors`.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from typing import Callable

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse

from tickdeck.app.api import errors, observability
from tickdeck.app.api.deps import API_PREFIX, RateLimiter
from tickdeck.app.api.schemas import PROBLEM_RESPONSES, Liveness, Readiness
from tickdeck.core.config import Settings
from tickdeck.core.context import Context

log = logging.getLogger("tickdeck.api")

API_VERSION = "1"
OPENAPI_URL = f"{API_PREFIX}/openapi.json"
DOCS_URL = "/api/docs"
DOCS_ASSETS = "/api/docs/assets"
STREAMS_MODULE = "tickdeck.app.api.streams"

DESCRIPTION = """tickdeck's datasets, ticks, bars, validation, collection and jobs over HTTP, and live
streams over WebSockets. Authenticate with `Authorization: Bearer <API key>` (`tickdeck keys create`);
errors are `application/problem+json`. See docs/api.md."""


def router_modules() -> list:
    """The modules whose ``router`` the API includes: every :data:`tickdeck.app.api.v1.ROUTERS` entry, then streams."""
    from tickdeck.app.api.v1 import ROUTERS

    modules = [importlib.import_module(f"tickdeck.app.api.v1.{name}") for name in ROUTERS]
    if importlib.util.find_spec(STREAMS_MODULE) is not None:
        modules.append(importlib.import_module(STREAMS_MODULE))
    return modules


def create_api(settings: Settings, get_ctx: Callable[[], Context]) -> FastAPI:
    """The API app. ``get_ctx()`` returns the process's context (it may open it on first use).

    Rate limits count in Redis when ``settings.redis_url`` is set, else in this process's memory.
    """
    app = FastAPI(title="tickdeck API", version=API_VERSION, description=DESCRIPTION, openapi_url=OPENAPI_URL,
                  docs_url=None, redoc_url=None, swagger_ui_oauth2_redirect_url=None)
    app.state.settings = settings
    app.state.get_ctx = get_ctx
    app.state.limiter = RateLimiter(settings.api_limit, settings.api_stream_limit, settings.redis_url or "memory://")
    errors.install(app)
    for module in router_modules():
        if module.__name__ == STREAMS_MODULE:
            app.include_router(module.router)
        else:
            app.include_router(module.router, prefix=API_PREFIX, responses=PROBLEM_RESPONSES)
    _health_routes(app)
    observability.install(app, get_ctx)  # GET /metrics, request ids and durations
    _docs_routes(app)
    return app


# -- /healthz, /readyz ------------------------------------------------------------------------------
def readiness(ctx: Context) -> Readiness:
    """SQL answers a query, the store lists its libraries, the bus is open."""
    from sqlalchemy import text

    checks: dict[str, str] = {}
    try:
        with ctx.catalog.engine.connect() as c:
            c.execute(text("select 1"))
        checks["sql"] = "ok"
    except Exception as e:  # noqa: BLE001 - reported, not raised: this is the health check
        checks["sql"] = f"{type(e).__name__}: {e}"[:200]
    try:
        ctx.store.library_names()
        checks["store"] = "ok"
    except Exception as e:  # noqa: BLE001
        checks["store"] = f"{type(e).__name__}: {e}"[:200]
    try:
        ctx.bus.stats  # noqa: B018 - the bus answers (its counters)
        checks["bus"] = "ok"
    except Exception as e:  # noqa: BLE001
        checks["bus"] = f"{type(e).__name__}: {e}"[:200]
    ready = all(v == "ok" for v in checks.values())
    return Readiness(status="ready" if ready else "not ready", checks=checks)


def _health_routes(app: FastAPI) -> None:
    @app.get("/healthz", response_model=Liveness, tags=["health"], summary="liveness (no auth)")
    async def healthz() -> Liveness:
        return Liveness()

    @app.get("/readyz", response_model=Readiness, tags=["health"], summary="readiness (no auth)",
             responses={503: {"model": Readiness, "description": "not ready"}})
    def readyz() -> JSONResponse:
        try:
            result = readiness(app.state.get_ctx())
        except Exception as e:  # noqa: BLE001 - the context could not open
            result = Readiness(status="not ready", checks={"context": f"{type(e).__name__}: {e}"[:200]})
        return JSONResponse(result.model_dump(), status_code=200 if result.status == "ready" else 503)


# -- /api/docs ---------------------------------------------------------------------------------
DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tickdeck API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" type="image/png" href="docs/assets/favicon-32x32.png">
<link rel="stylesheet" href="docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="docs/assets/swagger-ui-bundle.js"></script>
<script src="docs/assets/tickdeck-docs.js"></script>
</body></html>
"""
# Relative URLs (the page is /api/docs): they stay right under --prefix and behind a proxy.
DOCS_INIT = """window.ui = SwaggerUIBundle({url: "v1/openapi.json", dom_id: "#swagger-ui",
  deepLinking: true, validatorUrl: null, withCredentials: true, tryItOutEnabled: false,
  presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout"});
"""
DOCS_FILES = ("swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png", "favicon-16x16.png")


def swagger_ui_dir():
    """The Swagger UI files of the installed ``swagger_ui_bundle`` package."""
    from pathlib import Path

    import swagger_ui_bundle

    return Path(swagger_ui_bundle.swagger_ui_path)


def _docs_routes(app: FastAPI) -> None:
    from fastapi import HTTPException
    from fastapi.responses import FileResponse, Response

    @app.get(DOCS_URL, include_in_schema=False)
    async def docs_page() -> HTMLResponse:
        return HTMLResponse(DOCS_PAGE, headers={"Cache-Control": "no-cache"})

    @app.get(DOCS_ASSETS + "/{name}", include_in_schema=False)
    async def docs_asset(name: str):
        if name == "tickdeck-docs.js":
            return Response(DOCS_INIT, media_type="text/javascript")
        if name not in DOCS_FILES:
            raise HTTPException(404, f"no docs asset {name!r}")
        return FileResponse(swagger_ui_dir() / name, headers={"Cache-Control": "public, max-age=86400"})


# -- the route table (auth matrix, docs) ------------------------------------------------------------
PUBLIC = "public"


def _role_of(dependant) -> str | None:
    for sub in dependant.dependencies:
        role = getattr(sub.call, "tickdeck_role", None) or _role_of(sub)
        if role:
            return role
    return None


def api_routes(app: FastAPI) -> list[tuple[str, str, str]]:
    """Every ``(method, path, least role)`` of ``app``'s HTTP and WebSocket routes, in order; the role is
    :data:`PUBLIC` for routes without :func:`~app.api.deps.require_role` (health, OpenAPI, docs), and
    WebSocket routes have the method ``WS``."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before include_router became lazy: app.routes is flat
        def iter_route_contexts(routes):
            return routes
    out = []
    for route in iter_route_contexts(app.routes):
        dependant = getattr(route, "dependant", None)
        role = (_role_of(dependant) if dependant is not None else None) or PUBLIC
        methods = getattr(route, "methods", None) or {"WS"}
        for method in sorted(methods - {"HEAD"}) or ["HEAD"]:
            out.append((method, route.path, role))
    return out
