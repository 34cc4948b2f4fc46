"""Explorer reads and home paging on a real ctx (LMDB + SQLite)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from builders import store_synthetic

DAY = dt.date(2024, 7, 2)


def test_tick_view_reads_chart_columns_and_the_table_adds_the_rest(ctx):
    from tickdeck.pages.components.grid import TICK_GRID_COLUMNS
    from tickdeck.pages.explorer import CHART_COLUMNS, ExplorerPage

    store_synthetic(ctx, "AAPL", DAY, DAY, ticks=3000)
    page = ExplorerPage(ctx=ctx, symbol="AAPL", start=DAY, session="regular")
    assert sorted(page.loaded.frame.columns) == sorted(CHART_COLUMNS)  # stored order
    assert page._chart_box.objects == [page._ticks.pane]  # the tick chart, not the (bars) HoloViews pane
    table = page.table_frame()
    full = ctx.store.read_range("AAPL", DAY, DAY, columns=TICK_GRID_COLUMNS, session="regular")
    assert list(table.columns) == TICK_GRID_COLUMNS
    pd.testing.assert_frame_equal(table, full[TICK_GRID_COLUMNS], check_freq=False)
    assert np.shares_memory(table["last"].to_numpy(), page.loaded.frame["last"].to_numpy())  # joined, not copied
    page.tab = "table"
    grid = page._grid_holder.objects[0]
    assert "trade_sign" in grid.value.columns and len(grid.value) == len(full)


def test_a_second_page_on_the_same_day_shares_its_frame(ctx):
    from tickdeck.pages.explorer import ExplorerPage

    store_synthetic(ctx, "AAPL", DAY, DAY, ticks=3000)
    first = ExplorerPage(ctx=ctx, symbol="AAPL", start=DAY)
    second = ExplorerPage(ctx=ctx, symbol="AAPL", start=DAY)
    assert second.loaded.frame is first.loaded.frame
    assert np.shares_memory(second._ticks.arrays.last, first._ticks.arrays.last)


def test_a_rewritten_day_gives_the_table_a_fresh_consistent_read(ctx):
    from tickdeck.pages.explorer import ExplorerPage

    store_synthetic(ctx, "AAPL", DAY, DAY, ticks=3000)
    page = ExplorerPage(ctx=ctx, symbol="AAPL", start=DAY, session="regular")
    store_synthetic(ctx, "AAPL", DAY, DAY, ticks=2000, seed=7)  # replaces the day
    table = page.table_frame()
    assert len(table) == 2000 and table.index.equals(
        ctx.store.read_range("AAPL", DAY, DAY, columns=["last"], session="regular").index)


def _datasets(ctx, n: int) -> None:
    from tickdeck.core.store import DayInfo

    t = pd.Timestamp(f"{DAY} 09:30", tz="America/New_York")
    for i in range(n):
        ctx.catalog.upsert_dataset(f"S{i:03d}", source="synthetic" if i % 2 else "iqfeed", venue="SIM")
    ctx.catalog.upsert_tick_days([DayInfo(f"S{i:03d}", DAY, 1000, t, t, 1000, 1e5, 100.0, 100, 101, 99, 100, 1.0,
                                          0, 1000, 0, 0, "x") for i in range(n)])


def _rendered(page) -> tuple[int, str]:
    html = page._cards()[0].object
    return html.count('<article class="td-card"'), html


def test_home_renders_a_page_of_cards_and_shows_more_on_request(ctx):
    from tickdeck.pages.home import CARDS_PER_PAGE, HomePage

    _datasets(ctx, CARDS_PER_PAGE * 2 + 5)
    page = HomePage(ctx=ctx)
    n, html = _rendered(page)
    assert n == CARDS_PER_PAGE and f"{CARDS_PER_PAGE * 2 + 5:,} datasets · showing {CARDS_PER_PAGE}" in html
    assert page._more.visible and f"({CARDS_PER_PAGE + 5} not shown)" in page._more.label
    page.show_more()
    assert _rendered(page)[0] == CARDS_PER_PAGE * 2
    page.show_more()
    assert _rendered(page)[0] == CARDS_PER_PAGE * 2 + 5 and not page._more.visible
    page.source = "iqfeed"  # filters run over every dataset, then paging starts again
    n, html = _rendered(page)
    assert page.shown == CARDS_PER_PAGE and n == CARDS_PER_PAGE
    assert f"{CARDS_PER_PAGE + 3:,} datasets" in html and 'data-symbol="S000"' in html


def test_home_arms_one_flush_per_batch_of_live_events_and_none_while_idle(ctx):
    from bokeh.document import Document

    from tickdeck.pages.home import HomePage

    store_synthetic(ctx, "AAPL", DAY, DAY, ticks=500)
    page = HomePage(ctx=ctx)
    page.start_live()
    page._doc = Document()  # what start_live keeps in a served session: where the flush is scheduled
    assert len(page._doc.session_callbacks) == 0  # idle: nothing scheduled, no polling
    store_synthetic(ctx, "MSFT", DAY, DAY, ticks=500)  # day_written events
    store_synthetic(ctx, "NVDA", DAY, DAY, ticks=500)
    assert len(page._doc.session_callbacks) == 1  # one timer for the whole batch
    assert page.flush() == 2
    store_synthetic(ctx, "AMD", DAY, DAY, ticks=500)
    assert len(page._doc.session_callbacks) == 2  # the next batch arms again
    doc = page._doc
    page.stop_live()
    store_synthetic(ctx, "TSLA", DAY, DAY, ticks=500)  # no longer followed
    assert len(doc.session_callbacks) == 2 and page.flush() == 1  # AMD only
