"""Pages on an empty store: each renders a designed empty state (what to do next), never a traceback."""

from __future__ import annotations

import panel as pn
from bokeh.document import Document

from tickdeck.pages.components.ui import empty_state_html


def _render(viewable) -> str:
    """Build the Bokeh models as a server session would and return the text of every HTML pane."""
    layout = viewable.__panel__() if hasattr(viewable, "__panel__") else viewable
    layout.get_root(Document())  # raises where the browser would have shown a traceback
    return "\n".join(str(p.object) for p in layout.select(pn.pane.HTML))


def test_empty_state_card_escapes_text_and_lists_commands():
    html = empty_state_html("No <data>", "why & how", (("Generate", "tickdeck generate A --start x"), ("Ask", "")))
    assert "No &lt;data&gt;" in html and "why &amp; how" in html
    assert "<code>tickdeck generate A --start x</code>" in html and "<li>Ask</li>" in html


def test_explorer_on_an_empty_store_renders_next_steps_instead_of_failing(ctx):
    from tickdeck.pages.explorer import ExplorerPage

    page = ExplorerPage(ctx=ctx)
    text = _render(page)
    assert page.is_empty and page.last_error == ""
    assert "No tick data yet" in text and "tickdeck generate" in text and "tickdeck import" in text


def test_explorer_deferred_load_on_an_empty_store_raises_nothing(ctx):
    import asyncio

    from tickdeck.pages.explorer import ExplorerPage

    page = ExplorerPage(ctx=ctx, defer_load=True)
    asyncio.run(page.refresh_async())
    assert page.last_error == ""


def test_home_on_an_empty_store_shows_how_to_add_data(ctx):
    from tickdeck.pages.home import HomePage

    html = HomePage(ctx=ctx)._cards()[0].object
    assert "No datasets yet" in html and "tickdeck collect" in html and "No datasets match" not in html


def test_catalog_on_an_empty_store_shows_how_to_add_data(ctx):
    from tickdeck.pages.catalog_page import CatalogPage

    text = _render(CatalogPage(ctx=ctx))
    assert "Nothing stored yet" in text and "tickdeck generate" in text


def test_monitor_on_an_empty_store_points_at_its_start_controls(ctx):
    from tickdeck.pages.monitor import MonitorPage

    text = _render(MonitorPage(ctx=ctx, autostart=False))
    assert "Nothing collected yet" in text and "tickdeck collect AAPL --live" in text


def test_validation_on_an_empty_store_shows_how_to_add_data(ctx):
    from tickdeck.pages.validation_page import ValidationPage

    text = _render(ValidationPage(ctx=ctx))
    assert "Nothing to validate yet" in text and "tickdeck generate" in text


def test_admin_on_an_empty_store_shows_how_to_add_data(ctx):
    from tickdeck.core.users import User

    from tickdeck.app.routes import QueueJobs
    from tickdeck.pages.admin import AdminPage

    page = AdminPage(ctx=ctx, autostart=False, user=User("ops", "admin"), jobs=QueueJobs.for_context(ctx))
    text = _render(page)
    assert "No datasets yet" in text and "tickdeck collect" in text
