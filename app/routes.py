"""URL slug → page factory. One line per page; the server and the navigation read this list.

A factory takes the per-process :class:`~core.context.Context` and returns a Panel viewable
(a fresh page instance per browser session). ``role`` is the least role that may open the
page (``viewer``, ``researcher`` or ``admin``; only enforced when auth is on).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Route:
    slug: str  # "" is the home page
    title: str
    factory: Callable  # factory(ctx) -> viewable
    role: str = "viewer"


def _home(ctx):
    from pages.home import HomePage

    page = HomePage(ctx=ctx)
    page.start_live()
    return page


def _explorer(ctx):
    import panel as pn

    from app.auth import current_user
    from pages.explorer import ExplorerPage

    user = current_user()
    page = ExplorerPage(ctx=ctx, defer_load=True, role=user.role, user=user.name)
    page.sync_location()
    pn.state.onload(page.refresh_async)
    return page


def _catalog(ctx):
    from pages.catalog_page import CatalogPage

    page = CatalogPage(ctx=ctx)
    page.sync_location()
    return page


ROUTES: list[Route] = [
    Route("", "Home", _home),
    Route("explorer", "Explorer", _explorer),
    Route("catalog", "Catalog", _catalog),
    Route("validation", "Validation", lambda ctx: __import__("pages.validation_page", fromlist=["_"]).ValidationPage(ctx=ctx)),
    Route("monitor", "Collection monitor", lambda ctx: __import__("pages.monitor", fromlist=["_"]).MonitorPage(ctx=ctx)),
    Route("admin", "Admin", lambda ctx: __import__("pages.admin", fromlist=["_"]).AdminPage(ctx=ctx), role="admin"),
]
