"""The explorer's Analysis tab says what is going on before a load and for bars (real ctx)."""

from __future__ import annotations

import datetime as dt

from builders import store_synthetic

DAY = dt.date(2024, 7, 2)


def test_analysis_tab_before_the_load_says_it_is_coming_and_for_bars_asks_for_ticks(ctx):
    from tickdeck.pages.explorer import ExplorerPage

    store_synthetic(ctx, "AAPL", DAY, DAY, ticks=2000)
    page = ExplorerPage(ctx=ctx, symbol="AAPL", start=DAY, tab="analysis", defer_load=True)
    [note] = page.analysis_views()
    assert "once the selection has loaded" in note.object  # a link to the tab, before its data arrived
    page.param.update(view="bars", bar_spec="time:60s")
    page.refresh()
    [note] = page.analysis_views()
    assert "choose **ticks** under Show" in note.object
