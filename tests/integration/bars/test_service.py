"""Default bars stored in ArcticDB and the catalog; get_bars from store, cache or ticks; the hook."""

from __future__ import annotations

import collections

import numpy as np
import pandas as pd
import pytest

from builders import store_synthetic
from tickdeck.core import naming
from tickdeck.core.bars import (FAMILIES, build_default_bars, compute_bars, default_specs, get_bars, install,
                                parse_spec)
from tickdeck.core.bars.arrays import BarInputError
from tickdeck.core.bars.service import cache_clear, restore_frame
from tickdeck.core.errors import DayNotFound, InvalidBarSpec

DAY = "2024-07-02"


@pytest.fixture
def day_ctx(ctx):
    cache_clear()
    store_synthetic(ctx, "AAPL", DAY, DAY, ticks=20_000)
    return ctx


def test_default_set_has_three_specs_per_family_scaled_to_the_day(day_ctx):
    info = day_ctx.store.day_info("AAPL", DAY)
    specs = default_specs(info)
    assert collections.Counter(s.family for s in specs) == {f: 3 for f in FAMILIES}  # three of each, no more
    vol = [s for s in specs if s.family == "volume"]
    assert all(info.volume / s.value > 10 for s in vol)  # every volume spec gives a useful number of bars


def test_build_default_bars_stores_every_series_with_tier2_metadata(day_ctx):
    rows = build_default_bars(day_ctx, "AAPL", DAY)
    want = default_specs(day_ctx.store.day_info("AAPL", DAY))
    assert [str(parse_spec(r.spec)) for r in rows] == [str(s) for s in want]  # one row per default spec, in order
    assert all(r.bars > 0 for r in rows)
    cat = day_ctx.catalog.bar_series("AAPL", DAY)
    assert {(r.family, r.spec) for r in cat} == {(r.family, r.spec) for r in rows}
    spec = parse_spec("time:5m")
    df, meta = day_ctx.store.read_series("bars_time", naming.bar_symbol("AAPL", DAY, spec.storage_name))
    df = restore_frame(df)
    assert meta["spec"] == "time:5m" and meta["bars"] == len(df)
    assert meta["ingest_id"] == day_ctx.store.day_info("AAPL", DAY).ingest_id
    ticks = day_ctx.store.read_day("AAPL", DAY)
    pd.testing.assert_frame_equal(df, compute_bars(ticks, spec))
    assert df["volume"].sum() == ticks["last_sz"].sum()
    cache_clear()
    pd.testing.assert_frame_equal(get_bars(day_ctx, "AAPL", DAY, spec=spec), df)  # read back from the store


def test_get_bars_computes_on_demand_when_not_stored(day_ctx):
    bars = get_bars(day_ctx, "AAPL", DAY, None, "volume:7777")
    pd.testing.assert_frame_equal(bars, compute_bars(day_ctx.store.read_day("AAPL", DAY), "volume:7777"))
    assert not day_ctx.store.list_series("bars_volume")  # nothing written by a read


def test_get_bars_filters_sessions(day_ctx):
    all_bars = get_bars(day_ctx, "AAPL", DAY, spec="time:1m")
    reg = get_bars(day_ctx, "AAPL", DAY, spec="time:1m", session="regular")
    assert 0 < len(reg) < len(all_bars) and (reg["session"] == 1).all()
    assert reg.index[0].strftime("%H:%M") == "09:30"


def test_reingested_day_is_never_served_from_a_stale_cache(day_ctx):
    build_default_bars(day_ctx, "AAPL", DAY, specs=["tick:100"])
    before = get_bars(day_ctx, "AAPL", DAY, spec="tick:100")
    store_synthetic(day_ctx, "AAPL", DAY, DAY, ticks=5_000, seed=9)  # replaces the day, new ingest id
    after = get_bars(day_ctx, "AAPL", DAY, spec="tick:100")
    assert len(after) < len(before)
    assert after["trade_count"].sum() == day_ctx.store.day_info("AAPL", DAY).ticks


def test_get_bars_over_several_days_concatenates_per_day(ctx):
    cache_clear()
    store_synthetic(ctx, "MSFT", "2024-07-01", "2024-07-03", ticks=3_000)
    bars = get_bars(ctx, "MSFT", "2024-07-01", "2024-07-03", "time:15m", session="regular")
    assert sorted({d.isoformat() for d in bars.index.date}) == ["2024-07-01", "2024-07-02", "2024-07-03"]
    assert bars.index.is_monotonic_increasing


def test_install_builds_default_bars_after_each_ingested_day(ctx):
    install(ctx)
    install(ctx)  # idempotent
    assert len(ctx.extras["after_write"]) == 1
    store_synthetic(ctx, "SPY", DAY, DAY, ticks=5_000)
    assert len(ctx.catalog.bar_series("SPY", DAY)) == 39


def test_missing_day_and_bad_spec_raise_clear_errors(day_ctx):
    with pytest.raises(DayNotFound):
        get_bars(day_ctx, "AAPL", "2024-07-05", spec="time:1m")
    with pytest.raises(InvalidBarSpec):
        get_bars(day_ctx, "AAPL", DAY, spec="volume:-1")
    with pytest.raises(InvalidBarSpec):
        build_default_bars(day_ctx, "AAPL", DAY, specs=["volume:0"])
    assert day_ctx.catalog.bar_series("AAPL") == []


def test_non_finite_ticks_store_nothing(ctx):
    """A frame with a NaN price (written behind the ingest checks) is refused before any bar is written."""
    store_synthetic(ctx, "QQQ", DAY, DAY, ticks=2_000)
    df = ctx.store.read_day("QQQ", DAY)
    df.iloc[50, df.columns.get_loc("last")] = np.nan
    ctx.store.ticks.write(naming.tick_symbol("QQQ", DAY), df, metadata=ctx.store.ticks.read_metadata(
        naming.tick_symbol("QQQ", DAY)).metadata)
    with pytest.raises(BarInputError, match="row 50"):
        build_default_bars(ctx, "QQQ", DAY)
    assert ctx.store.list_series("bars_time") == []
    assert ctx.catalog.bar_series("QQQ") == []


def test_catalog_rows_land_in_postgresql_too(settings, pg_url):
    from dataclasses import replace

    from tickdeck.core.context import Context

    c = Context.open(replace(settings, sql_url=pg_url))
    try:
        store_synthetic(c, "IWM", DAY, DAY, ticks=3_000)
        rows = build_default_bars(c, "IWM", DAY, specs=["time:5m", "renko:0.1"])
        assert {r.spec for r in c.catalog.bar_series("IWM")} == {r.spec for r in rows} == {"time:5m", "renko:0.1"}
    finally:
        c.close()
