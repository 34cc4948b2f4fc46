"""Bar controls and overlays of the explorer on a real ctx (LMDB + SQLite)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from builders import store_synthetic

DAY = dt.date(2024, 7, 2)


def test_overlays_start_once_their_window_is_full():
    from tickdeck.pages.components.charts import with_overlays

    close = np.random.default_rng(3).normal(100, 1, 60)
    out = with_overlays(pd.DataFrame({"close": close}), sma=20, ema=10, bollinger=20)
    assert out["sma"][:19].isna().all() and out["bb_upper"][:19].isna().all() and out["ema"][:9].isna().all()
    windows = np.lib.stride_tricks.sliding_window_view(close, 20)
    assert np.allclose(out["sma"][19:], windows.mean(axis=1))
    assert np.allclose(out["bb_upper"][19:], windows.mean(axis=1) + 2 * windows.std(axis=1))
    assert np.allclose(out["bb_lower"][19:], windows.mean(axis=1) - 2 * windows.std(axis=1))
    ema, alpha = close[0], 2 / 11
    for c in close[1:10]:
        ema = alpha * c + (1 - alpha) * ema
    assert np.isclose(out["ema"][9], ema)


@pytest.fixture
def stored(ctx):
    store_synthetic(ctx, "AAPL", DAY, DAY, ticks=3000)
    return ctx


@pytest.mark.parametrize("spec", ["tick_imbalance:ewma20:t100", "renko:0.05"])
def test_bar_type_follows_the_spec_of_a_link(stored, spec):
    from tickdeck.pages.explorer import ExplorerPage

    page = ExplorerPage(ctx=stored, symbol="AAPL", start=DAY, defer_load=True)
    page.param.update(view="bars", bar_spec=spec)  # what the URL sync does after construction
    assert page._family.value == spec.split(":")[0]
    assert page.bar_spec == spec  # the menu following the link does not replace its spec by the default
    assert not page._spec.disabled and page._spec_note.object == ""


def test_bar_inputs_are_disabled_in_tick_view_and_a_bad_spec_is_explained_inline(stored):
    from tickdeck.pages.explorer import ExplorerPage

    page = ExplorerPage(ctx=stored, symbol="AAPL", start=DAY)
    assert page.view == "ticks"
    assert page._spec.disabled and all(w.disabled for w in page._overlays)
    page.param.update(view="bars", bar_spec="renko:abc")
    assert not page._spec.disabled
    assert "renko needs a number" in page._spec_note.object
    page.bar_spec = "renko:0.05"
    assert page._spec_note.object == ""


def test_more_bars_than_candles_render_as_a_close_line_with_overlays():
    import holoviews as hv

    from tickdeck.pages.components.charts import CANDLE_LIMIT, candle_chart, ensure_extension

    n = CANDLE_LIMIT + 100
    start = pd.date_range("2024-07-02 09:30", periods=n, freq="s", tz="America/New_York")
    close = 100 + np.cumsum(np.random.default_rng(1).normal(0, 0.01, n))
    bars = pd.DataFrame({"start": start, "end": start + pd.Timedelta(seconds=1), "open": close, "high": close + 0.01,
                         "low": close - 0.01, "close": close, "volume": np.full(n, 100.0), "vwap": close})
    ensure_extension()
    plot = hv.renderer("bokeh").get_plot(candle_chart(bars, title="many", sma=20))  # raised SkipRendering
    assert plot.state is not None


def test_analysis_tab_shows_volume_profile_and_spreads_of_the_loaded_ticks(stored):
    from tickdeck.core.analysis import volume_profile
    from tickdeck.pages.explorer import ExplorerPage

    page = ExplorerPage(ctx=stored, symbol="AAPL", start=DAY, session="regular")
    views = page.analysis_views()
    assert len(views) == 3 and "ticks" in views[0].object
    ticks = stored.store.read_range("AAPL", DAY, DAY, columns=["last", "last_sz"], session="regular")
    expected = volume_profile(ticks["last"].to_numpy(), ticks["last_sz"].to_numpy())
    assert f"POC {expected.poc:.2f}" in views[1].object.opts.get().kwargs["title"]
    import holoviews as hv

    for pane in views[1:]:
        assert hv.renderer("bokeh").get_plot(pane.object).state is not None  # the charts render
    page.view = "bars"
    assert "choose **ticks**" in page.analysis_views()[0].object
