"""The server: maps URL slugs to page factories (one page instance per session), and serves the
HTTP API (:func:`app.api.create_api`: ``/api``, ``/ws/…``, ``/healthz``, ``/readyz``) on the same port
through :mod:`app.asgi_bridge` — one origin, one event loop, one context per process (docs/api.md
"Serving" says why the Tornado server stays the root).

The per-process :class:`~core.context.Context` opens lazily on the first session so that
``--num-procs`` forks before any database or store connection exists. Templates, navigation,
auth and routing live here; pages only get injected services.

No page shows a server traceback: a page whose factory (or first rendering) fails is replaced
by one readable message — a :class:`~core.errors.TickdeckError`'s own text, or ``internal error,
id …`` — and any exception a widget or periodic callback raises goes through the same
:func:`pages.components.actions.report` (``pn.config.exception_handler``). Internal errors are
logged with their traceback under that id (logger ``tickdeck.ui``).

When the context opens (at start with one process, on the first session of each forked one), it
warms up what a first visitor would otherwise wait for: the chart code
(:func:`pages.components.tick_plot.warm_up`: numba compilation of datashader's kernels, Bokeh and
HoloViews plotting), the exchange calendar and the page template. This runs in the opening thread,
before any page is built: a background thread importing modules while a session imports others
can hit Python's import-lock deadlock detection (``_DeadlockError``) and break that page.
"""

from __future__ import annotations

import html
import logging
import threading

import panel as pn

from tickdeck.app.wiring import open_context
from tickdeck.core.config import Settings
from tickdeck.core.context import Context
from tickdeck.core.errors import PermissionDenied, TickdeckError

log = logging.getLogger(__name__)

_ctx: Context | None = None
_ctx_lock = threading.Lock()
_settings: Settings | None = None
_embedded: dict = {"worker": True, "scheduler": True, "handle": None}
_warm: dict = {"enabled": True, "done": False}
# A session without a connection (a closed tab, or a page whose scripts are still loading) is
# discarded after UNUSED_SESSION_LIFETIME_MS, checked every CHECK_UNUSED_SESSIONS_MS.
UNUSED_SESSION_LIFETIME_MS = 60_000
CHECK_UNUSED_SESSIONS_MS = 10_000
# Paths the API answers (under --prefix): everything below these, and WebSockets below /ws (/ws itself
# is the home page's Bokeh socket).
API_HTTP_PATHS = ("/api", "/healthz", "/readyz", "/metrics")
API_WS_PATHS = ("/ws",)


def api_patterns(settings: Settings, prefix: str = "") -> list:
    """Tornado URL patterns serving the FastAPI app (on this process's context) beside the pages."""
    from tickdeck.app.api import create_api
    from tickdeck.app.asgi_bridge import patterns

    api = create_api(settings, context)
    return patterns(api, http=API_HTTP_PATHS, websocket=API_WS_PATHS, root_path=(prefix or "").rstrip("/"))


def warm_up() -> float | None:
    """Warm up pages and charts once per process (no-op when disabled or done); returns the seconds taken."""
    if not _warm["enabled"] or _warm["done"]:
        return None
    _warm["done"] = True
    import time

    from tickdeck.pages.components.tick_plot import warm_up as warm_charts

    t0 = time.perf_counter()
    try:
        cal = _ctx.calendar() if _ctx is not None else None
        if cal is not None:
            cal.last_completed_trading_day()  # loads the exchange calendar (first use: ~0.5 s)
        _template("warm-up", pn.pane.Markdown(""))  # template classes and files (first use: ~0.7 s)
        warm_charts()
    except Exception:  # noqa: BLE001 - an optimisation: the first visitor then pays for it
        log.exception("warm-up failed; the first page and chart will load their code on use")
        return None
    seconds = time.perf_counter() - t0
    print(f"warm-up done in {seconds:.1f} s", flush=True)
    return seconds


def context() -> Context:
    """The process's context (opened on first use), with the embedded job worker started."""
    global _ctx
    with _ctx_lock:
        if _ctx is None:
            _ctx = open_context(_settings)
            warm_up()  # before the worker thread starts importing job code
            if _embedded["worker"]:
                from tickdeck.jobs.worker import start_embedded

                _embedded["handle"] = start_embedded(_ctx, scheduler=_embedded["scheduler"])
        return _ctx


def _header_user() -> str:
    from tickdeck.app.auth import LOCAL_USER, current_user

    try:
        u = current_user()
    except PermissionDenied:
        return ""
    if u.name == LOCAL_USER:
        return '<span class="td-user" title="no users: auth off">local admin</span>'
    return (f'<span class="td-user" id="td-user">{html.escape(u.name)} · {u.role}</span> '
            '<a class="td-user" href="./logout">Sign out</a>')


HEADER_CSS = """
.td-user { color: #fff; font-size: .9em; white-space: nowrap; }
a.td-user { margin-left: 10px; }
a.td-user:focus-visible { outline: 3px solid #93c5fd; outline-offset: 2px; }
"""


def _template(title: str, page, slug: str | None = None):
    from tickdeck.app.page_template import PageTemplate
    from tickdeck.app.routes import ROUTES

    current = ' aria-current="page"'
    links = "".join(f'<a href="./{r.slug}"{current if r.slug == slug else ""} '
                    f'style="display:block;margin:6px 0">{r.title}</a>' for r in ROUTES)
    return PageTemplate(
        title=f"tickdeck · {title}", header_background="#1f2937", accent_base_color="#2563eb",
        sidebar=[pn.pane.HTML(f"<nav aria-label='pages'>{links}</nav>", stylesheets=[NAV_CSS])],
        collapsed_sidebar=False,  # narrow screens collapse it on load (app/templates/page.html)
        header=[pn.pane.HTML(_header_user(), align="center", stylesheets=[HEADER_CSS])],
        main=[page], theme_toggle=False, sidebar_width=180,
    )


NAV_CSS = """
a { color: #1d4ed8; }
a[aria-current="page"] { font-weight: 700; color: #111827; text-decoration: none; }
a[aria-current="page"]::before { content: "▸ "; }
a:focus-visible { outline: 3px solid #2563eb; outline-offset: 2px; }
"""


def _denied(route, message: str):
    return pn.pane.Markdown(f"## {route.title}\n\n**Not allowed:** {html.escape(message)}",
                            css_classes=["td-denied"])


def _failed(route, exc: BaseException):
    """What a page shows instead of itself when building it failed: one line, never a traceback."""
    from tickdeck.pages.components.actions import describe

    text = describe(exc, where=f"page {route.slug or 'home'}")
    if isinstance(exc, TickdeckError):
        log.info("page %s not built: %s", route.slug or "home", text)
    return pn.pane.HTML(f"<h2>{html.escape(route.title)}</h2><p role='alert'>⚠ This page could not be shown: "
                        f"{html.escape(text)}</p>", css_classes=["td-page-error"], sizing_mode="stretch_width")


def _factory(route):
    def make():
        from tickdeck.app.auth import require_role

        try:
            try:
                require_role(route.role)
                page = route.factory(context())
            except PermissionDenied as e:
                page = _denied(route, str(e))
            return _template(route.title, page, route.slug)  # renders the page: its errors surface here too
        except Exception as e:  # noqa: BLE001 - shown as one line; internal errors logged with an id
            return _template(route.title, _failed(route, e), route.slug)

    make.__name__ = f"page_{route.slug or 'home'}"
    return make


def routes() -> dict:
    from tickdeck.app.routes import ROUTES

    return {("/" + r.slug) if r.slug else "/": _factory(r) for r in ROUTES}


def serve(settings: Settings, *, port: int = 5006, address: str = "127.0.0.1", prefix: str = "",
          num_procs: int = 1, allow_websocket_origin: list[str] | None = None, show: bool = False,
          worker: bool = True, warm_up: bool = True) -> None:
    """Start the server and block (login required once a user exists, see :mod:`tickdeck.app.auth`).

    With ``worker`` (the embedded default) each server process runs a job worker with
    ``TICKDECK_WORKER_SLOTS`` slots (default 2); the APScheduler scheduler (schedules and market
    triggers) and the service supervisor (live collection) run only when there is one process —
    with ``num_procs > 1`` run one ``tickdeck worker --scheduler`` beside the servers. With
    ``warm_up`` each process warms up page and chart code when its context opens (before serving with one process).
    """
    global _settings
    from tickdeck.app import panel_fixes
    from tickdeck.app.login import make_auth_provider
    from tickdeck.pages.components.actions import report

    panel_fixes.apply()

    _settings = settings
    _embedded["worker"] = worker
    _embedded["scheduler"] = worker and num_procs == 1
    _warm["enabled"] = warm_up
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    pn.extension("tabulator", notifications=True)  # before the warm-up builds a template
    pn.config.exception_handler = lambda e: report(e, where="callback")  # never a traceback in a page
    if num_procs == 1:
        context()  # no fork ahead: open services and start the worker before the first visitor
    origins = allow_websocket_origin or [f"localhost:{port}", f"127.0.0.1:{port}", f"{address}:{port}"]
    try:
        pn.serve(
            routes(), port=port, address=address, prefix=prefix or "", num_procs=num_procs,
            extra_patterns=api_patterns(settings, prefix),
            websocket_origin=origins, show=show, title="tickdeck", start=True,
            use_xheaders=True, check_unused_sessions=CHECK_UNUSED_SESSIONS_MS,
            unused_session_lifetime=UNUSED_SESSION_LIFETIME_MS,
            cookie_secret=settings.secret, auth_provider=make_auth_provider(lambda: context().catalog, settings),
        )
    finally:  # the server stopped (Ctrl-C, SIGTERM): services get their bounded final flush, slots end
        if _embedded["handle"] is not None:
            _embedded["handle"].stop()
