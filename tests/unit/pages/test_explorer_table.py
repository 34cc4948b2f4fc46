"""The explorer's Table tab on a real ctx (LMDB + SQLite): chosen columns, µs times, the time filter."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from builders import store_synthetic

DAY = dt.date(2024, 7, 2)


def test_table_shows_chosen_columns_microsecond_times_and_a_filtered_row_count(ctx):
    from tickdeck.core.tick_table import TIME_COLUMN
    from tickdeck.pages.explorer import ExplorerPage

    store_synthetic(ctx, "AAPL", DAY, DAY, ticks=3000)
    page = ExplorerPage(ctx=ctx, symbol="AAPL", start=DAY, session="regular")
    stored = ctx.store.read_range("AAPL", DAY, DAY, session="regular")
    frame, count = page.grid_view()
    assert count == f"{len(stored):,} ticks"
    assert list(frame.columns)[0] == TIME_COLUMN and "spread" in frame.columns
    assert set(frame["session"]) == {"regular"}
    wall = stored.index.tz_localize(None)
    assert list(frame[TIME_COLUMN][:5]) == [t.strftime("%Y-%m-%d %H:%M:%S.%f") for t in wall[:5]]

    page.param.update(columns=["tick_id", "participant_type", "is_odd_lot"], from_time="10:00", to_time="10:30")
    frame, count = page.grid_view()
    inside = (wall >= pd.Timestamp("2024-07-02 10:00")) & (wall < pd.Timestamp("2024-07-02 10:30"))
    assert count == f"{inside.sum():,} of {len(stored):,} ticks (10:00 – 10:30 ET)"
    assert list(frame.columns) == [TIME_COLUMN, "tick_id", "participant_type", "is_odd_lot"]
    assert np.array_equal(frame["tick_id"].to_numpy(), stored["tick_id"].to_numpy()[inside])
    assert set(frame["participant_type"]) <= {"retail", "regular", "institutional"}

    page.tab = "table"
    grid = page._grid_holder.objects[0]
    assert grid.formatters["tick_id"].format == "0"  # ids without thousands separators
    page.to_time = "10:75"
    assert page._grid_holder.objects == [] and "not a time of day" in page._rows.object


def test_bar_table_shows_integer_volumes(ctx):
    from tickdeck.pages.explorer import ExplorerPage

    store_synthetic(ctx, "AAPL", DAY, DAY, ticks=3000)
    page = ExplorerPage(ctx=ctx, symbol="AAPL", start=DAY, session="regular", view="bars", bar_spec="time:300s")
    frame, count = page.grid_view()
    assert count == f"{len(page.loaded.frame):,} bars"
    assert frame["volume"].dtype == np.int64
    assert np.array_equal(frame["volume"].to_numpy(), page.loaded.frame["volume"].to_numpy())
    assert page._columns.disabled
