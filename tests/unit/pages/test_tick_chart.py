"""The explorer's tick chart without a browser: arrays, aggregation, zooms, the plot's data swaps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bokeh.models import WheelZoomTool

from tickdeck.pages.components.charts import (
    LINE_TICKS_LIMIT, LEVELS, MIN_VIEW_NS, equalised, et_offset, naive_et, price_counts, tick_arrays, visible,
)
from tickdeck.pages.components.tick_plot import NO_TICKS, RAW_TICKS_LIMIT, TickPlot, tick_chart, tick_frame

ET = "America/New_York"


def ticks(n: int, start: str = "2024-07-02 09:30", span: str = "6.5h", seed: int = 0) -> pd.DataFrame:
    """``n`` sorted trades spread over ``span`` from ``start`` (ET), a random-walk price."""
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp(start, tz=ET)
    offsets = np.sort(rng.integers(0, pd.Timedelta(span).value, n))
    index = pd.DatetimeIndex(t0.value + offsets, tz="UTC").tz_convert(ET)
    last = 100 + np.cumsum(rng.normal(0, 0.01, n))
    return pd.DataFrame({"last": last, "bid": last - 0.01, "ask": last + 0.01,
                         "last_sz": rng.integers(1, 500, n)}, index=index)


def test_tick_arrays_are_views_whose_clock_is_et_wall_time():
    df = ticks(10_000)
    a = tick_arrays(df)
    assert np.shares_memory(a.last, df["last"].to_numpy()) and np.shares_memory(a.t, df.index.asi8)
    wall = df.index.tz_localize(None).asi8
    assert np.array_equal(a.t + a.offset, wall)
    assert not a.last.flags.writeable


def test_tick_arrays_across_a_dst_change_materialise_the_wall_clock():
    df = ticks(5_000, start="2024-03-08 09:30", span="4D")  # clocks change on Sunday 2024-03-10
    assert et_offset(df.index) is None
    a = tick_arrays(df)
    assert a.offset == 0
    assert np.array_equal(a.t, df.index.tz_localize(None).asi8)
    assert np.array_equal(naive_et(df.index).view("i8"), a.t)


def test_dense_counts_count_every_visible_tick_once():
    df = ticks(200_000)
    a = tick_arrays(df)
    i0, i1, x, y = visible(a)
    assert (i0, i1) == (0, len(df))
    counts = price_counts(a, i0, i1, x, y, width=1100, height=280, line=False)  # what > LINE_TICKS_LIMIT get
    assert counts.dtype == np.uint16 and counts.shape == (280, 1100)
    assert int(counts.sum()) == len(df)
    per_column = counts.sum(axis=0)
    t = df.index.tz_localize(None).asi8
    expected = np.bincount(((t - x[0]) * 1100 // (x[1] - x[0])).astype(int), minlength=1100)
    assert np.abs(per_column - expected).sum() <= 0.001 * len(df)  # only edge rounding may differ


def test_up_to_the_limit_counts_draw_a_connected_line():
    df = ticks(300)
    a = tick_arrays(df)
    i0, i1, x, y = visible(a)
    assert i1 - i0 <= LINE_TICKS_LIMIT
    counts = price_counts(a, i0, i1, x, y, width=1100, height=280)
    lit = (counts > 0).any(axis=0)
    first, last = np.flatnonzero(lit)[[0, -1]]
    assert lit[first:last + 1].all()  # a line, not 300 dots: every column between the ends is lit


def test_zoom_aggregates_only_the_visible_range():
    df = ticks(100_000)
    chart = tick_chart(df)
    lo, hi = pd.Timestamp("2024-07-02 11:00"), pd.Timestamp("2024-07-02 11:30")
    frame = tick_frame(chart.arrays, (lo, hi))
    wall = df.index.tz_localize(None)
    inside = (wall >= lo) & (wall <= hi)
    assert frame.visible == inside.sum()
    assert frame.x == (lo.value, hi.value)
    assert frame.image is None  # ~7,700 ticks: the quotes themselves, one either side of the range
    starts = frame.band[0]
    assert (starts[1:-1] >= lo.value / 1e6).all() and (starts[1:-1] <= hi.value / 1e6).all()
    assert starts[0] < lo.value / 1e6 and starts[-1] > hi.value / 1e6
    assert np.isclose(frame.volume[1].sum(), df["last_sz"][inside].sum())
    assert frame.y[0] < df["last"][inside].min() and frame.y[1] > df["last"][inside].max()


def test_few_visible_ticks_are_sent_as_a_line_with_their_sizes():
    df = ticks(50_000)
    chart = tick_chart(df)
    t = df.index.tz_localize(None).asi8
    frame = tick_frame(chart.arrays, (pd.Timestamp(t[1000]), pd.Timestamp(t[1999])))
    assert frame.image is None and frame.visible <= RAW_TICKS_LIMIT
    times, price, size = frame.line
    assert np.array_equal(price, df["last"].to_numpy()[999:2001])  # one tick either side of the range
    assert np.array_equal(size, df["last_sz"].to_numpy()[999:2001])
    assert np.allclose(times, t[999:2001] / 1e6)


def test_equalised_levels_follow_the_counts_rank():
    counts = np.array([[0, 1, 1, 2], [3, 100, 0, 5]], np.uint16)
    levels, lo, hi = equalised(counts)
    assert levels.dtype == np.uint8
    assert (levels[counts == 0] == 0).all()
    flat_c, flat_l = counts.ravel(), levels.ravel()
    order = np.argsort(flat_c, kind="stable")
    assert (np.diff(flat_l[order].astype(int)) >= 0).all()  # monotone in the count
    assert flat_l[flat_c == 1].min() == 1 and levels.max() == LEVELS
    nz = counts > 0
    assert (lo[levels[nz]] <= counts[nz]).all() and (counts[nz] <= hi[levels[nz]]).all()


def test_plot_swaps_data_in_place_and_drops_repeated_zooms():
    plot = TickPlot()
    figures = (plot.price, plot.band, plot.volume)
    df = ticks(100_000)
    chart = tick_chart(df, title="XYZ trades")
    plot.show(chart)
    assert plot.price.title.text == "XYZ trades"
    assert plot.image_source.data["image"][0].shape == (280, 1100)
    x0, x1 = chart.frame.x
    assert (plot.x_range.start, plot.x_range.end) == (x0 / 1e6, x1 / 1e6)
    renders = plot.renders
    mid = (x0 + x1) / 2e6
    plot.zoom((mid, mid + 60_000), (plot.y_range.start, plot.y_range.end))  # one minute: few ticks, a line
    assert plot.renders == renders + 1
    assert plot.image_source.data["image"] == [] and len(plot.line_source.data["price"]) == plot.frame.visible + 2
    plot.zoom((mid, mid + 60_000), (plot.y_range.start, plot.y_range.end))  # the linked figures announce it again
    assert plot.renders == renders + 1
    assert (plot.price, plot.band, plot.volume) == figures  # same figures: only their data changed
    other = tick_chart(ticks(60_000, seed=1), title="ABC trades")
    plot.show(other)
    assert plot.arrays is other.arrays and plot.image_source.data["image"][0].dtype == np.uint8


@pytest.mark.parametrize("n", [1, 2])
def test_tiny_days_still_chart(n):
    frame = tick_chart(ticks(n)).frame
    assert frame.visible == n and frame.line is not None


def test_raw_level_band_is_the_quotes_of_each_tick():
    df = ticks(50_000)
    t = df.index.tz_localize(None).asi8
    frame = tick_frame(tick_chart(df).arrays, (pd.Timestamp(t[100]), pd.Timestamp(t[199])))
    times, bid, ask = frame.band
    assert np.array_equal(bid, df["bid"].to_numpy()[99:201]) and np.array_equal(ask, df["ask"].to_numpy()[99:201])
    assert np.allclose(times, t[99:201] / 1e6)


def test_zoom_below_the_floor_is_widened_around_its_centre():
    df = ticks(1_000)
    t = df.index.tz_localize(None).asi8
    mid = int(t[500])
    frame = tick_frame(tick_chart(df).arrays, (pd.Timestamp(mid - 1_000), pd.Timestamp(mid + 1_000)))  # 2 µs
    assert frame.x[1] - frame.x[0] == MIN_VIEW_NS
    assert frame.x[0] == mid - MIN_VIEW_NS // 2


def test_a_window_without_ticks_keeps_the_surrounding_prices_and_says_so():
    df = ticks(1_000)  # ~23 s apart on average: a 10 ms window between two trades is empty
    t = df.index.tz_localize(None).asi8
    gap = int(np.argmax(np.diff(t)))
    lo, hi = t[gap] + 1_000_000, t[gap] + 11_000_000
    assert t[gap + 1] > hi
    plot = TickPlot()
    plot.show(tick_chart(df))
    assert not plot.note.visible
    plot.zoom((lo / 1e6, hi / 1e6))
    frame = plot.frame
    assert frame.empty and plot.note.visible and plot.note.text == NO_TICKS
    around = df["last"].to_numpy()[gap:gap + 2]
    assert frame.y[0] < around.min() and frame.y[1] > around.max()  # the prices in force, not a 0–1 axis
    assert frame.y[1] - frame.y[0] < 1.0
    assert list(plot.line_source.data["price"]) == list(around)  # the step from the trade before runs across
    plot.zoom((t[0] / 1e6, t[-1] / 1e6))
    assert not plot.note.visible


def test_wheel_zoom_is_the_active_scroll_tool_and_the_range_has_a_floor():
    plot = TickPlot()
    grid = plot.layout.children[1]
    active = grid.toolbar.active_scroll
    assert isinstance(active.tools[0], WheelZoomTool)
    assert plot.x_range.min_interval == MIN_VIEW_NS / 1e6


def test_pre_and_after_hours_are_shaded_where_the_chart_shows_them():
    import datetime as dt

    from tickdeck.core.trading_time import session_spans
    from tickdeck.pages.components.tick_plot import SESSION_SHADES

    df = ticks(5_000, start="2024-07-02 08:00", span="10h")  # 08:00–18:00: part of pre, all regular, part of after
    chart = tick_chart(df, sessions=session_spans(dt.date(2024, 7, 2), dt.date(2024, 7, 2)))
    s = chart.shades
    assert s["colour"] == [SESSION_SHADES[0], SESSION_SHADES[2]]  # no shade over the regular session
    def ms(hhmm):
        return pd.Timestamp(f"2024-07-02 {hhmm}").value / 1e6

    assert list(s["left"]) == [ms("04:00"), ms("16:00")] and list(s["right"]) == [ms("09:30"), ms("20:00")]
    plot = TickPlot()
    plot.show(chart)
    assert list(plot.session_source.data["colour"]) == s["colour"]


def test_two_plots_share_no_model_so_two_sessions_can_show_them():
    from bokeh.document import Document

    first, second = TickPlot(), TickPlot()
    Document().add_root(first.layout)
    Document().add_root(second.layout)  # raised "Models must be owned by only a single document"
    assert first.volume.xaxis[0].formatter is not second.volume.xaxis[0].formatter
