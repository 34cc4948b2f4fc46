"""Bars over real recorded trades: CME ESU4 (Databento DBN) and Binance BTCUSDT (Parquet), from NautilusTrader's
test data (see /work/shared/realdata/README.md).

Each file is stored by the real importer (``import_file``, what ``tickdeck import`` runs) and its bars come
from the bars service (``get_bars``), so the importer's units and calendars are what the bars see. Expected
values are computed from the files with a plain reading (databento's DataFrame, pandas), never from tickdeck.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tickdeck.core.bars import BarBuilder, get_bars, tick_arrays
from tickdeck.core.instruments import stored_terms
from tickdeck.core.sources.files import import_file

ET = "America/New_York"
ES_FILE, BTC_FILE = "esu4-glbx-trades_2024-07-01T23-58.dbn.zst", "btcusdt-trades.parquet"


@pytest.fixture(scope="module")
def store(tmp_path_factory, realdata):
    """Both files imported into one store: (ctx, {symbol: stored day})."""
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context

    ctx = Context.open(Settings(data_dir=tmp_path_factory.mktemp("bars-realdata") / "data"))
    days = {}
    for file, symbol in ((ES_FILE, "ESU4"), (BTC_FILE, "BTCUSDT")):
        rep = import_file(ctx, realdata / file, symbol=symbol)
        assert rep.rejected == 0 and len(rep.days) == 1
        days[symbol] = rep.days[0].day
    yield ctx, days
    ctx.close()


@pytest.fixture(scope="module")
def es_src(realdata) -> pd.DataFrame:
    import databento

    raw = databento.DBNStore.from_file(realdata / ES_FILE).to_df(price_type="float")
    idx = pd.DatetimeIndex(raw["ts_event"]).tz_convert(ET)
    return pd.DataFrame({"price": raw["price"].to_numpy(float), "size": raw["size"].to_numpy(np.int64)},
                        index=idx).sort_index(kind="stable")


@pytest.fixture(scope="module")
def btc_src(realdata) -> pd.DataFrame:
    return pd.read_parquet(realdata / BTC_FILE)


def _bars(store, symbol, spec):
    ctx, days = store
    return get_bars(ctx, symbol, days[symbol], spec=spec)


def test_es_minute_bars_match_pandas_resample_of_the_file(store, es_src):
    bars = _bars(store, "ESU4", "time:1m")
    r = es_src["price"].resample("1min")
    ref = pd.DataFrame({"open": r.first(), "high": r.max(), "low": r.min(), "close": r.last(),
                        "volume": es_src["size"].resample("1min").sum().astype(float)}).dropna()
    assert len(es_src) == 120 and len(bars) == len(ref)
    pd.testing.assert_frame_equal(bars[["open", "high", "low", "close", "volume"]], ref, check_names=False,
                                  check_freq=False, check_index_type=False)
    ctx, days = store
    ticks = ctx.store.read_day("ESU4", days["ESU4"], columns=["last_sz", "trade_sign"])
    signed = ticks.loc[ticks["trade_sign"] != 0, "last_sz"].sum()  # the first trade has no prior tick or quote
    assert (bars["buy_volume"] + bars["sell_volume"]).sum() == signed and 0 < signed <= es_src["size"].sum()


@pytest.mark.parametrize("spec", ["tick:10", "volume:25", "volume:25:split", "dollar:500000", "dollar:500000:split",
                                  "range:0.5", "renko:0.25", "tick_imbalance:ewma5:t10", "volume_runs:ewma5:t10",
                                  "dollar_imbalance:ewma5:t10"])
def test_es_bars_conserve_volume_and_stream_identically(store, es_src, spec):
    bars = _bars(store, "ESU4", spec)
    assert bars["volume"].sum() == es_src["size"].sum()
    # dollar volume in USD: $50 a point per contract, on every bar (the flushed last one too)
    dollars = float((es_src["price"] * es_src["size"]).sum()) * 50
    assert bars["dollar_volume"].sum() == pytest.approx(dollars, rel=1e-12)
    np.testing.assert_allclose(bars["dollar_volume"] / (bars["vwap"] * bars["volume"]), 50.0, rtol=1e-12)
    ctx, days = store
    ticks = ctx.store.read_day("ESU4", days["ESU4"])
    terms = stored_terms(ctx, "ESU4")  # as live bars build them
    b = BarBuilder(spec, calendar=ctx.calendar_for("ESU4").name)
    parts = [b.update(tick_arrays(ticks.iloc[i:i + 17], terms=terms)) for i in range(0, len(ticks), 17)]
    parts.append(b.flush())
    streamed = pd.concat(parts)
    pd.testing.assert_frame_equal(streamed[bars.columns], bars, check_exact=True, check_names=False)


def test_es_renko_bricks_are_quarter_points(store):
    closes = _bars(store, "ESU4", "renko:0.25")["close"].to_numpy()[:-1]  # the last bar is closed by the data's end
    steps = np.abs(np.diff(closes))
    assert len(steps) >= 2 and np.allclose(steps % 0.25, 0) and (steps > 0).all()


def test_btc_dollar_bars_hold_the_files_dollar_volume(store, btc_src):
    dollars = float((btc_src["price"] * btc_src["quantity"]).sum())
    bars = _bars(store, "BTCUSDT", "dollar:100000")
    assert bars["dollar_volume"].sum() == pytest.approx(dollars, rel=1e-9)
    assert (bars["dollar_volume"].to_numpy()[:-1] >= 100_000).all()  # each closed bar reached $100,000 ...
    assert 10 < len(bars) <= math.ceil(dollars / 100_000)  # ... so there are at most total / $100,000 of them


@pytest.mark.parametrize("spec", ["time:1m", "dollar:100000", "dollar_imbalance:ewma10:t50", "dollar_runs:ewma10:t50",
                                  "heikin_ashi:1m"])
def test_btc_bars_are_consistent(store, btc_src, spec):
    bars = _bars(store, "BTCUSDT", spec)
    assert bars["trade_count"].sum() == len(btc_src)
    assert bars["dollar_volume"].sum() == pytest.approx((btc_src["price"] * btc_src["quantity"]).sum(), rel=1e-9)
    ctx, days = store
    ticks = ctx.store.read_day("BTCUSDT", days["BTCUSDT"], columns=["last_sz", "trade_sign"])
    signed = ticks.loc[ticks["trade_sign"] != 0, "last_sz"].sum() / 1e8  # unsigned: no prior tick or quote
    assert (bars["buy_volume"] + bars["sell_volume"]).sum() == pytest.approx(signed, rel=1e-12)  # in coins
    assert bars["volume"].sum() == pytest.approx(float(btc_src["quantity"].sum()), rel=1e-12)


@pytest.mark.parametrize("spec", ["volume:1", "volume:1:split"])
def test_btc_volume_bars_count_whole_coins(store, btc_src, spec):
    coins = float(btc_src["quantity"].sum())  # 87.07 BTC in the file
    plain = _bars(store, "BTCUSDT", "volume:1")
    assert len(plain) <= math.ceil(coins), f"{len(plain)} bars of at least one coin from {coins:.2f} coins"
    assert (plain["volume"].to_numpy()[:-1] >= 1.0).all()  # each closed bar reached one coin
    bars = plain if spec == "volume:1" else _bars(store, "BTCUSDT", spec)
    assert bars["volume"].sum() == pytest.approx(coins, rel=1e-12)
    if spec.endswith("split"):
        assert len(bars) == math.ceil(coins)
        np.testing.assert_allclose(bars["volume"].to_numpy()[:-1], 1.0, rtol=1e-9)
    ctx, days = store  # the streaming form counts coins too
    ticks = ctx.store.read_day("BTCUSDT", days["BTCUSDT"])
    b = BarBuilder(spec, calendar=ctx.calendar_for("BTCUSDT").name)
    terms = stored_terms(ctx, "BTCUSDT")
    parts = [b.update(tick_arrays(ticks.iloc[i:i + 101], terms=terms)) for i in range(0, len(ticks), 101)]
    parts.append(b.flush())
    pd.testing.assert_frame_equal(pd.concat(parts)[bars.columns], bars, check_exact=True, check_names=False)


@pytest.mark.parametrize("spec", ["volume:0.01", "volume_imbalance:ewma10:t50", "volume_runs:ewma10:t50"])
def test_btc_volume_families_report_coins(store, btc_src, spec):
    bars = _bars(store, "BTCUSDT", spec)
    coins = float(btc_src["quantity"].sum())
    assert bars["volume"].sum() == pytest.approx(coins, rel=1e-12)
    np.testing.assert_allclose(bars["vwap"], bars["dollar_volume"] / bars["volume"], rtol=1e-12)  # USDT per coin
    assert (bars["vwap"] >= bars["low"] * (1 - 1e-12)).all() and (bars["vwap"] <= bars["high"] * (1 + 1e-12)).all()


@pytest.mark.parametrize("spec", ["volume:1e-7:split", "dollar:0.001:split"])
def test_btc_absurd_split_spec_fails_clearly_in_both_forms(store, spec):
    from tickdeck.core.bars.threshold import MAX_SPLIT_BARS, BarSpecTooFine
    from tickdeck.core.errors import InvalidBarSpec

    with pytest.raises(BarSpecTooFine, match="larger threshold") as e:  # 87 coins / 1e-7: 8.7e8 bars
        _bars(store, "BTCUSDT", spec)
    assert isinstance(e.value, InvalidBarSpec) and f"{MAX_SPLIT_BARS:,}" in str(e.value)
    ctx, days = store
    ticks = ctx.store.read_day("BTCUSDT", days["BTCUSDT"])
    b = BarBuilder(spec, calendar=ctx.calendar_for("BTCUSDT").name)
    terms = stored_terms(ctx, "BTCUSDT")
    with pytest.raises(BarSpecTooFine):  # the running total trips it, however the stream is cut
        for i in range(0, len(ticks), 101):
            b.update(tick_arrays(ticks.iloc[i:i + 101], terms=terms))
