"""The explorer's trading-time axis on a real ctx (LMDB + SQLite): a multi-day view has no empty
nights, its labels and hovers read real ET times, and the clock-time toggle brings the gaps back."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from builders import store_synthetic

START, END = dt.date(2024, 7, 1), dt.date(2024, 7, 3)  # Mon, Tue and the 13:00 early close
HOUR = 3_600 * 10**9


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context

    ctx = Context.open(Settings(data_dir=tmp_path_factory.mktemp("trading-time")))
    store_synthetic(ctx, "AAPL", START, END, ticks=3000)
    yield ctx
    ctx.close()


def _page(ctx, **params):
    from tickdeck.pages.explorer import ExplorerPage

    return ExplorerPage(ctx=ctx, **{"symbol": "AAPL", "start": START, "end": END, **params})


def test_a_three_day_tick_view_defaults_to_trading_time_without_empty_nights(stored):
    page = _page(stored)
    assert page.axis == "trading" and page.last_error == ""
    chart = page.loaded.chart
    t = chart.arrays.t + chart.arrays.offset
    assert chart.clock is not None and len(chart.clock.seams) == 2  # two nights collapsed
    assert np.diff(t).max() < HOUR  # no stretch of the axis without trades longer than a quiet hour
    assert t[-1] - t[0] < (16 + 16 + 13) * HOUR  # three sessions (04:00-20:00, the early close's to 17:00)
    real = pd.DatetimeIndex(chart.real_times(t))  # every trade maps back to its own time
    index = page.loaded.frame.index.tz_convert("America/New_York").tz_localize(None)
    assert (real == index).all()
    shades = chart.shades  # pre/after-hours shading sits on the same axis, between the seams
    assert len(shades["left"]) == 6 and (np.asarray(shades["right"]) > np.asarray(shades["left"])).all()


def test_clock_time_shows_the_nights_and_a_one_day_view_is_the_same_on_both(stored):
    clock = _page(stored, axis="clock").loaded.chart
    assert clock.clock is None and np.diff(clock.arrays.t).max() >= 8 * HOUR  # 20:00 -> 04:00
    one = _page(stored, end=None).loaded.chart
    assert one.clock is None  # nothing to collapse inside one day


def test_the_tick_plot_labels_trading_time_with_real_times_and_marks_the_seams(stored):
    from tickdeck.pages.components.tick_plot import TickPlot

    page = _page(stored)
    plot = page._ticks
    assert isinstance(plot, TickPlot) and plot.volume.xaxis[0].formatter is plot.trading_format
    clock = page.loaded.chart.clock
    assert list(plot.seam_source.data["x"]) == list(clock.seams / 1e6)
    assert list(plot.clock_source.data["rs"]) == list(clock.real_start / 1e6)
    page.axis = "clock"  # the toggle: wall clock again, no seams
    assert plot.volume.xaxis[0].formatter is plot.clock_format and len(plot.seam_source.data["x"]) == 0


def test_bars_over_three_days_are_placed_in_trading_time(stored):
    import holoviews as hv
    from bokeh.models import ColumnDataSource, CustomJSTickFormatter
    from bokeh.plotting import figure

    page = _page(stored, view="bars", bar_spec="time:60s")
    assert page.last_error == "", page.last_error
    plot = hv.renderer("bokeh").get_plot(page.loaded.chart)
    formatters = [ax.formatter for fig in plot.state.select({"type": figure}) for ax in fig.xaxis]
    assert any(isinstance(f, CustomJSTickFormatter) for f in formatters)
    bars = [s for s in plot.state.select({"type": ColumnDataSource}) if "start" in s.data and "open" in s.data]
    assert bars and bars[0].data["start"][0].startswith("2024-07-01 ")  # the hover's real start
    left = np.sort(np.asarray(bars[0].data["left"], dtype="datetime64[ns]").view("i8"))
    assert np.diff(left).max() < HOUR  # 1-minute bars with no night between them
    # pre-market and after-hours shaded on the same trading axis: Tuesday's pre-market starts at the first seam
    overlay = page.loaded.chart.values()[0]
    shaded = [el for el in overlay if isinstance(el, hv.VSpans)]
    assert len(shaded) == 2
    pre = min((np.sort(el.dimension_values(0).astype("datetime64[ns]").view("i8")) for el in shaded),
              key=lambda v: v[0])  # the pre-market spans start the day
    assert len(pre) == 3  # one pre-market per day
    seams = [el for el in overlay if isinstance(el, hv.VLines)][0].dimension_values(0)
    assert pre[1] == seams.astype("datetime64[ns]").view("i8")[0]


def test_the_price_image_follows_the_plot_width_the_browser_reports():
    """A phone's ~270 px plot gets a ~270 px image (drawn without smoothing, a wider one drops columns)."""
    from tickdeck.pages.components.tick_plot import TickPlot, tick_chart

    n = 100_000  # an image, not the raw ticks
    t = pd.Timestamp("2024-07-02 09:30", tz="America/New_York").value + np.sort(
        np.random.default_rng(1).integers(0, 6 * HOUR, n))
    last = 100 + np.cumsum(np.random.default_rng(2).normal(0, 0.01, n))
    df = pd.DataFrame({"last": last, "bid": last - 0.01, "ask": last + 0.01, "last_sz": np.full(n, 100)},
                      index=pd.DatetimeIndex(t, tz="UTC").tz_convert("America/New_York"))
    plot = TickPlot()
    plot.show(tick_chart(df))
    assert plot.image_source.data["image"][0].shape == (plot.height, 1100)
    x = tuple(plot.frame.x)
    plot._on_width("inner_width", None, 273)  # what the browser's layout reports (the journey at 375 px: real)
    assert plot.image_source.data["image"][0].shape == (plot.height, 273)
    assert plot.frame.x == pytest.approx(x, abs=1_000)  # the same range (ms floats: within a µs)
    renders = plot.renders
    plot._on_width("inner_width", 273, 273)
    plot._on_width("inner_width", 273, 4000)  # never wider than the image the server is sized for
    assert plot.renders == renders + 1 and plot.image_source.data["image"][0].shape[1] == 1100
