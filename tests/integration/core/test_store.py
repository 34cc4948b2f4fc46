import datetime as dt
import threading

import numpy as np
import pandas as pd
import pytest

from builders import make_trades, store_synthetic
from tickdeck.core.enrich import enrich
from tickdeck.core.errors import DayNotFound, SchemaError, SymbolNotFound
from tickdeck.core.store import Store

D = dt.date


def _day(ctx, n=500, seed=0, day=20240702):
    return enrich(make_trades(n, seed, day=day), symbol="AAPL", source="test", ingest_id=f"i{seed}",
                  calendar=ctx.calendar())


def test_write_read_day_round_trip_with_metadata(ctx):
    df = _day(ctx)
    info = ctx.store.write_day("AAPL", "2024-07-02", df)
    back = ctx.store.read_day("AAPL", "2024-07-02")
    pd.testing.assert_frame_equal(back, df, check_freq=False)
    assert str(back.index.tz) == "America/New_York"
    meta = ctx.store.day_info("AAPL", "2024-07-02")
    assert meta == info
    assert meta.ticks == 500 and meta.volume == int(df["last_sz"].sum())
    assert meta.vwap == pytest.approx((df["last"] * df["last_sz"]).sum() / df["last_sz"].sum())
    assert (meta.first, meta.last) == (df.index[0], df.index[-1])


def test_write_replaces_whole_day(ctx):
    ctx.store.write_day("AAPL", "2024-07-02", _day(ctx, 500, 1))
    ctx.store.write_day("AAPL", "2024-07-02", _day(ctx, 200, 2))
    assert len(ctx.store.read_day("AAPL", "2024-07-02")) == 200
    assert ctx.store.day_info("AAPL", "2024-07-02").ingest_id == "i2"


def test_invalid_frame_is_rejected_and_store_untouched(ctx):
    good = _day(ctx)
    ctx.store.write_day("AAPL", "2024-07-02", good)
    bad = good.drop(columns=["midpoint"])
    with pytest.raises(SchemaError, match="midpoint"):
        ctx.store.write_day("AAPL", "2024-07-02", bad)
    bad2 = good.copy()
    bad2.iloc[7, bad2.columns.get_loc("last")] = np.nan
    with pytest.raises(SchemaError) as e:
        ctx.store.write_day("AAPL", "2024-07-02", bad2)
    assert e.value.row == 7
    pd.testing.assert_frame_equal(ctx.store.read_day("AAPL", "2024-07-02"), good, check_freq=False)


def test_read_filters_columns_and_session(ctx):
    res = store_synthetic(ctx, "MSFT", "2024-07-01", "2024-07-01")
    reg = ctx.store.read_day("MSFT", "2024-07-01", columns=["last", "session"], session="regular")
    assert list(reg.columns) == ["last", "session"]
    assert len(reg) == res[0].info.regular_ticks and (reg["session"] == 1).all()
    ext = ctx.store.read_day("MSFT", "2024-07-01", columns=["session"], session=["pre", "after"])
    assert len(ext) == res[0].info.pre_ticks + res[0].info.after_ticks


def test_read_range_concatenates_in_order_and_lists_days(ctx):
    store_synthetic(ctx, "SPY", "2024-07-01", "2024-07-08")
    assert ctx.store.list_days("SPY") == [D(2024, 7, 1), D(2024, 7, 2), D(2024, 7, 3), D(2024, 7, 5), D(2024, 7, 8)]
    df = ctx.store.read_range("SPY", "2024-07-02", "2024-07-05", columns=["last"])
    assert df.index.is_monotonic_increasing
    assert sorted(set(df.index.date)) == [D(2024, 7, 2), D(2024, 7, 3), D(2024, 7, 5)]


def test_unknown_symbol_or_day_is_named(ctx):
    with pytest.raises(DayNotFound, match="ZZZ on 2024-07-02"):
        ctx.store.read_day("ZZZ", "2024-07-02")
    with pytest.raises(SymbolNotFound, match="ZZZ"):
        ctx.store.require_ticker("ZZZ")
    with pytest.raises(KeyError):  # NotFound errors are KeyErrors too
        ctx.store.day_info("ZZZ", "2024-07-02")


def test_delete_day(ctx):
    ctx.store.write_day("AAPL", "2024-07-02", _day(ctx))
    ctx.store.delete_day("AAPL", "2024-07-02")
    assert ctx.store.list_days("AAPL") == []


def test_sizes_per_library(ctx):
    store_synthetic(ctx, "AAPL", "2024-07-01", "2024-07-01")
    sizes = ctx.store.sizes()
    assert sizes["ticks"] > 100_000


def test_reader_never_sees_a_partial_day(ctx):
    """Readers racing a rewrite see either the old or the new day, whole."""
    a, b = _day(ctx, 20_000, 1), _day(ctx, 30_000, 2)
    ctx.store.write_day("AAPL", "2024-07-02", a)
    seen, errors, stop = set(), [], threading.Event()

    def reader():
        s = Store(ctx.settings.arctic_uri)
        while not stop.is_set():
            try:
                seen.add(len(s.read_day("AAPL", "2024-07-02", columns=["last"])))
            except Exception as e:  # noqa: BLE001
                errors.append(e)

    t = threading.Thread(target=reader)
    t.start()
    for i in range(12):
        ctx.store.write_day("AAPL", "2024-07-02", b if i % 2 == 0 else a)
    stop.set()
    t.join()
    assert not errors, errors[0]
    assert seen <= {20_000, 30_000} and seen


def test_append_day_extends_and_refreshes_metadata(ctx):
    df = _day(ctx, 1000)
    ctx.store.append_day("AAPL", "2024-07-02", df.iloc[:600])
    info = ctx.store.append_day("AAPL", "2024-07-02", df.iloc[600:])
    assert info.ticks == 1000 and info.volume == int(df["last_sz"].sum()) and info.last == df.index[-1]
    with pytest.raises(SchemaError, match="before the stored last tick"):
        ctx.store.append_day("AAPL", "2024-07-02", df.iloc[:10])


def test_cached_reads_are_shared_and_never_stale(ctx):
    ctx.store.write_day("AAPL", "2024-07-02", _day(ctx, 300, 1))
    a = ctx.store.read_range("AAPL", "2024-07-02", "2024-07-02", columns=["last"], cached=True)
    b = ctx.store.read_range("AAPL", "2024-07-02", "2024-07-02", columns=["last"], cached=True)
    assert a is b and ctx.store.frame_cache.hits == 1
    ctx.store.write_day("AAPL", "2024-07-02", _day(ctx, 200, 2))  # rewrite: new version and ingest id
    c = ctx.store.read_range("AAPL", "2024-07-02", "2024-07-02", columns=["last"], cached=True)
    assert len(c) == 200


def test_frame_cache_evicts_least_recently_used():
    from tickdeck.core.store import FrameCache

    cache = FrameCache(max_bytes=2500)
    frames = {k: pd.DataFrame({"x": np.zeros(100)}) for k in "abc"}  # ~928 bytes each with index
    for k in "ab":
        cache.put(k, frames[k])
    assert cache.get("a") is frames["a"]  # a is now most recent
    cache.put("c", frames["c"])
    assert cache.get("b") is None and cache.get("a") is frames["a"] and cache.nbytes <= 2500
