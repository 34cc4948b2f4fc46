"""The Panel server: maps URL slugs to page factories (one page instance per session).

The per-process :class:`~core.context.Context` opens lazily on the first session so that
``--num-procs`` forks before any database or store connection exists. Templates, navigation,
auth and routing live here; pages only get injected services.
"""

from __future__ import annotations

import html
import logging
import threading

import panel as pn

from app.wiring import open_context
from core.config import Settings
from core.context import Context
from core.errors import PermissionDenied

log = logging.getLogger(__name__)

_ctx: Context | None = None
_ctx_lock = threading.Lock()
_settings: Settings | None = None
_embedded: dict = {"worker": True, "scheduler": True, "handle": None}


def context() -> Context:
    """The process's context (opened on first use), with the embedded job worker started."""
    global _ctx
    with _ctx_lock:
        if _ctx is None:
            _ctx = open_context(_settings)
            if _embedded["worker"]:
                from jobs.worker import start_embedded

                _embedded["handle"] = start_embedded(_ctx, scheduler=_embedded["scheduler"])
        return _ctx


def _header_user() -> str:
    from app.auth import LOCAL_USER, current_user

    try:
        u = current_user()
    except PermissionDenied:
        return ""
    if u.name == LOCAL_USER:
        return '<span style="color:#fff;font-size:.9em">local admin (no users: auth off)</span>'
    return (f'<span style="color:#fff;font-size:.9em" id="td-user">{html.escape(u.name)} · {u.role}</span> '
            '<a href="./logout" style="color:#fff;margin-left:10px">Sign out</a>')


def _template(title: str, page) -> pn.template.FastListTemplate:
    from app.routes import ROUTES

    links = "".join(f'<a href="./{r.slug}" style="display:block;margin:6px 0">{r.title}</a>' for r in ROUTES)
    return pn.template.FastListTemplate(
        title=f"tickdeck · {title}", header_background="#1f2937", accent_base_color="#2563eb",
        sidebar=[pn.pane.HTML(f"<nav aria-label='pages'>{links}</nav>")], collapsed_sidebar=False,
        header=[pn.pane.HTML(_header_user(), align="center")],
        main=[page], theme_toggle=False, sidebar_width=180,
    )


def _denied(route, message: str):
    return pn.pane.Markdown(f"## {route.title}\n\n**Not allowed:** {html.escape(message)}",
                            css_classes=["td-denied"])


def _factory(route):
    def make():
        from app.auth import require_role

        try:
            require_role(route.role)
            page = route.factory(context())
        except PermissionDenied as e:
            page = _denied(route, str(e))
        return _template(route.title, page)

    make.__name__ = f"page_{route.slug or 'home'}"
    return make


def routes() -> dict:
    from app.routes import ROUTES

    return {("/" + r.slug) if r.slug else "/": _factory(r) for r in ROUTES}


def serve(settings: Settings, *, port: int = 5006, address: str = "127.0.0.1", prefix: str = "",
          num_procs: int = 1, allow_websocket_origin: list[str] | None = None, show: bool = False,
          worker: bool = True) -> None:
    """Start the server and block (login required once a user exists, see :mod:`app.auth`).

    With ``worker`` (the embedded default) each server process runs a job-worker thread; the
    APScheduler scheduler (schedules and market triggers) runs only when there is one process —
    with ``num_procs > 1`` run one ``tickdeck worker --scheduler`` beside the servers.
    """
    global _settings
    from app.auth import make_auth_provider

    _settings = settings
    _embedded["worker"] = worker
    _embedded["scheduler"] = worker and num_procs == 1
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if num_procs == 1:
        context()  # no fork ahead: open services and start the worker before the first visitor
    pn.extension("tabulator", notifications=True)
    origins = allow_websocket_origin or [f"localhost:{port}", f"127.0.0.1:{port}", f"{address}:{port}"]
    pn.serve(
        routes(), port=port, address=address, prefix=prefix or "", num_procs=num_procs,
        websocket_origin=origins, show=show, title="tickdeck", start=True,
        use_xheaders=True, check_unused_sessions=10_000, unused_session_lifetime=60_000,
        cookie_secret=settings.secret, auth_provider=make_auth_provider(lambda: context().catalog),
    )
