"""Bars over real recorded trades: CME ESU4 (Databento DBN) and Binance BTCUSDT (Parquet).

The files come from NautilusTrader's test data (see /work/shared/realdata/README.md); they are
converted to tick frames here so this test does not depend on the general importers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tickdeck.core.bars import BarBuilder, compute_bars

ET = "America/New_York"


@pytest.fixture(scope="module")
def es_ticks(realdata):
    import databento

    raw = databento.DBNStore.from_file(realdata / "esu4-glbx-trades_2024-07-01T23-58.dbn.zst").to_df()
    idx = pd.DatetimeIndex(raw["ts_event"] if "ts_event" in raw else raw.index).tz_convert(ET)
    sign = np.where(raw["side"].to_numpy() == "B", 1, np.where(raw["side"].to_numpy() == "A", -1, 0))
    return pd.DataFrame({"last": raw["price"].to_numpy(float), "last_sz": raw["size"].to_numpy(np.int64),
                         "trade_sign": sign.astype(np.int8), "session": np.ones(len(raw), np.int8)},
                        index=pd.DatetimeIndex(idx, name="timestamp")).sort_index(kind="stable")


@pytest.fixture(scope="module")
def btc_ticks(realdata):
    raw = pd.read_parquet(realdata / "btcusdt-trades.parquet")
    idx = pd.DatetimeIndex(raw["timestamp"]).as_unit("ns").tz_convert(ET)
    sign = np.where(raw["buyer_maker"].astype(bool).to_numpy(), -1, 1).astype(np.int8)  # maker buyer = sell aggressor
    return pd.DataFrame({"last": raw["price"].to_numpy(float), "last_sz": raw["quantity"].to_numpy(float),
                         "trade_sign": sign, "session": np.ones(len(raw), np.int8)},
                        index=pd.DatetimeIndex(idx, name="timestamp"))


def test_es_minute_bars_match_pandas_resample(es_ticks):
    bars = compute_bars(es_ticks, "time:1m", calendar=None)
    r = es_ticks["last"].resample("1min")
    ref = pd.DataFrame({"open": r.first(), "high": r.max(), "low": r.min(), "close": r.last(),
                        "volume": es_ticks["last_sz"].resample("1min").sum().astype(float)}).dropna()
    assert len(es_ticks) == 120 and len(bars) == len(ref)
    pd.testing.assert_frame_equal(bars[["open", "high", "low", "close", "volume"]], ref, check_names=False,
                                  check_freq=False, check_index_type=False)
    assert (bars["buy_volume"] + bars["sell_volume"]).sum() == es_ticks["last_sz"].sum()


@pytest.mark.parametrize("spec", ["tick:10", "volume:25", "volume:25:split", "dollar:500000", "range:0.5",
                                  "renko:0.25", "tick_imbalance:ewma5:t10", "volume_runs:ewma5:t10"])
def test_es_bars_conserve_volume_and_stream_identically(es_ticks, spec):
    bars = compute_bars(es_ticks, spec, calendar=None)
    assert bars["volume"].sum() == es_ticks["last_sz"].sum()
    b = BarBuilder(spec, calendar=None)
    parts = [b.update(es_ticks.iloc[i:i + 17]) for i in range(0, len(es_ticks), 17)] + [b.flush()]
    pd.testing.assert_frame_equal(pd.concat(parts), bars, check_exact=True)


def test_es_renko_bricks_are_quarter_points(es_ticks):
    bars = compute_bars(es_ticks, "renko:0.25", calendar=None)
    closes = bars["close"].to_numpy()[:-1]  # the last bar is closed by the end of data
    assert len(closes) >= 1
    assert np.allclose(np.diff(closes) % 0.25, 0) or np.allclose(np.abs(np.diff(closes)) % 0.25, 0)


def test_btc_fractional_sizes_split_into_exact_one_coin_bars(btc_ticks):
    bars = compute_bars(btc_ticks, "volume:1:split", calendar="24/7")
    assert bars["volume"].sum() == pytest.approx(btc_ticks["last_sz"].sum(), rel=1e-12)
    np.testing.assert_allclose(bars["volume"].to_numpy()[:-1], 1.0, rtol=1e-9)
    plain = compute_bars(btc_ticks, "volume:1", calendar="24/7")
    assert (plain["volume"].to_numpy()[:-1] >= 1.0).all()


@pytest.mark.parametrize("spec", ["time:1m", "dollar:100000", "dollar_imbalance:ewma10:t50", "dollar_runs:ewma10:t50",
                                  "heikin_ashi:1m"])
def test_btc_bars_are_consistent(btc_ticks, spec):
    bars = compute_bars(btc_ticks, spec, calendar="24/7")
    assert bars["trade_count"].sum() == len(btc_ticks)
    assert bars["dollar_volume"].sum() == pytest.approx((btc_ticks["last"] * btc_ticks["last_sz"]).sum(), rel=1e-9)
    assert (bars["buy_volume"] + bars["sell_volume"]).to_numpy() == pytest.approx(bars["volume"].to_numpy())
