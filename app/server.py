"""The Panel server: maps URL slugs to page factories (one page instance per session).

The per-process :class:`~core.context.Context` opens lazily on the first session so that
``--num-procs`` forks before any database or store connection exists.
"""

from __future__ import annotations

import logging
import threading

import panel as pn

from app.wiring import open_context
from core.config import Settings
from core.context import Context

log = logging.getLogger(__name__)

_ctx: Context | None = None
_ctx_lock = threading.Lock()
_settings: Settings | None = None



def context() -> Context:
    global _ctx
    with _ctx_lock:
        if _ctx is None:
            _ctx = open_context(_settings)
        return _ctx


def _template(title: str, page) -> pn.template.FastListTemplate:
    from app.routes import ROUTES

    links = "".join(f'<a href="./{r.slug}" style="display:block;margin:6px 0">{r.title}</a>' for r in ROUTES)
    tmpl = pn.template.FastListTemplate(
        title=f"tickdeck · {title}", header_background="#1f2937", accent_base_color="#2563eb",
        sidebar=[pn.pane.HTML(f"<nav aria-label='pages'>{links}</nav>")], collapsed_sidebar=False,
        main=[page], theme_toggle=False,
    )
    return tmpl


def _factory(route):
    def make():
        return _template(route.title, route.factory(context()))

    make.__name__ = f"page_{route.slug or 'home'}"
    return make


def routes() -> dict:
    from app.routes import ROUTES

    return {("/" + r.slug) if r.slug else "/": _factory(r) for r in ROUTES}


def serve(settings: Settings, *, port: int = 5006, address: str = "127.0.0.1", prefix: str = "",
          num_procs: int = 1, allow_websocket_origin: list[str] | None = None, show: bool = False) -> None:
    """Start the server and block."""
    global _settings
    _settings = settings
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    origins = allow_websocket_origin or [f"localhost:{port}", f"127.0.0.1:{port}", f"{address}:{port}"]
    pn.serve(
        routes(), port=port, address=address, prefix=prefix or "", num_procs=num_procs,
        websocket_origin=origins, show=show, title="tickdeck", start=True,
        use_xheaders=True, check_unused_sessions=10_000, unused_session_lifetime=60_000,
    )
