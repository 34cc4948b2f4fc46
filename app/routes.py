"""URL slug → page factory. One line per page; the server and the navigation read this list.

A factory takes the per-process :class:`~core.context.Context` and returns a Panel viewable
(a fresh page instance per browser session).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Route:
    slug: str  # "" is the home page
    title: str
    factory: Callable  # factory(ctx) -> viewable


def _home(ctx):
    from pages.home import HomePage

    return HomePage(catalog=ctx.catalog)


ROUTES: list[Route] = [
    Route("", "Home", _home),
    Route("validation", "Validation", lambda ctx: __import__("pages.validation_page", fromlist=["_"]).ValidationPage(ctx=ctx)),
    Route("monitor", "Collection monitor", lambda ctx: __import__("pages.monitor", fromlist=["_"]).MonitorPage(ctx=ctx)),
]
