"""Instrument terms on real files: ES futures (Databento DBN), BTCUSDT (Binance Parquet), Nautilus instruments.

Expected values are computed from an independent reading of each file (databento's DataFrame,
pandas), never from the importer. Files: /work/shared/realdata (NautilusTrader test data).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tickdeck.core.sources.files import import_file

ES_TRADES = "esu4-glbx-trades_2024-07-01T23-58.dbn.zst"


def _es_trades(realdata) -> pd.DataFrame:
    import databento

    df = databento.DBNStore.from_file(realdata / ES_TRADES).to_df(price_type="float")
    return df.sort_values("ts_event", kind="stable")


def test_es_trades_are_round_lots_with_50_dollar_multiplier(ctx, realdata):
    """Issue 11 item 30: no ES trade is an odd lot or retail; dollar_volume = price × contracts × 50."""
    src = _es_trades(realdata)
    import_file(ctx, realdata / ES_TRADES, symbol="ESU4")
    df = ctx.store.read_day("ESU4", "2024-07-02")
    assert len(df) == len(src) == 120
    assert not df["is_odd_lot"].any()
    assert not (df["participant_type"] == 0).any()
    expected = src["price"].to_numpy() * src["size"].to_numpy() * 50.0
    np.testing.assert_allclose(df["dollar_volume"].to_numpy(), expected, rtol=1e-15)
    assert df["dollar_volume"].median() > 250_000  # one ES contract ≈ $276,000, not 5,529 "dollars"
    assert not df["is_block_trade"].any()  # the largest print is 18 contracts ≈ $5.0M < $10M
    ds = ctx.catalog.dataset("ESU4")
    terms = (ds.asset_class, ds.multiplier, ds.size_decimals, ds.lot_size, ds.tick_size)
    assert terms == ("futures", 50.0, 0, 1.0, 0.25)


def test_btcusdt_dollar_volume_is_price_times_real_quantity(ctx, realdata):
    """Issue 11 item 29: sizes stored in 1e-8 units; notional and block share from real BTC quantities."""
    src = pd.read_parquet(realdata / "btcusdt-trades.parquet").sort_values("timestamp", kind="stable")
    import_file(ctx, realdata / "btcusdt-trades.parquet", symbol="BTCUSDT")
    df = ctx.store.read_day("BTCUSDT", "2021-01-08")
    notional = src["price"].to_numpy() * src["quantity"].to_numpy()
    np.testing.assert_allclose(df["dollar_volume"].to_numpy(), notional, rtol=1e-12)
    assert 200 < np.median(df["dollar_volume"]) < 220  # the $210 median trade
    assert df["is_block_trade"].mean() < 0.001  # was 100 %: every trade "institutional"
    assert df["is_block_trade"].sum() == (notional >= 100_000).sum()
    assert (df["participant_type"] == 2).sum() == df["is_block_trade"].sum()
    assert not df["is_odd_lot"].any()
    ds = ctx.catalog.dataset("BTCUSDT")
    assert (ds.asset_class, ds.multiplier, ds.size_decimals, ds.lot_size) == ("crypto", 1.0, 8, None)
    np.testing.assert_allclose(df["last_sz"].to_numpy() / 10.0 ** ds.size_decimals, src["quantity"].to_numpy(),
                               rtol=0, atol=5e-9)


def _binary8(values) -> pa.Array:
    return pa.array([int(x).to_bytes(8, "little", signed=True) for x in np.round(np.asarray(values) * 1e9)],
                    pa.binary(8))


def test_nautilus_instrument_definition_supplies_the_multiplier(ctx, realdata, tmp_path):
    """Issue 11 item 30: a catalog's FuturesContract record (multiplier, lot, increment) becomes the terms."""
    src = _es_trades(realdata)
    inst = "ESU4.GLBX"
    ticks = pa.table({"price": _binary8(src["price"]), "size": _binary8(src["size"]),
                      "aggressor_side": pa.array(np.ones(len(src), np.uint8)),
                      "trade_id": pa.array([str(i) for i in range(1, len(src) + 1)]),
                      "ts_event": pa.array(src["ts_event"].astype("int64").to_numpy().astype(np.uint64)),
                      "ts_init": pa.array(src["ts_event"].astype("int64").to_numpy().astype(np.uint64))})
    ticks = ticks.replace_schema_metadata({"instrument_id": inst, "price_precision": "2", "size_precision": "0"})
    (tmp_path / "cat/data/trade_tick" / inst).mkdir(parents=True)
    pq.write_table(ticks, tmp_path / "cat/data/trade_tick" / inst / "part-0.parquet")
    definition = pa.table({"id": [inst], "raw_symbol": ["ESU4"], "price_precision": pa.array([2], pa.uint8()),
                           "size_precision": pa.array([0], pa.uint8()), "price_increment": ["0.25"],
                           "multiplier": ["50"], "lot_size": ["1"]})
    (tmp_path / "cat/data/futures_contract" / inst).mkdir(parents=True)
    pq.write_table(definition, tmp_path / "cat/data/futures_contract" / inst / "part-0.parquet")

    # a symbol the contract table does not know: only the definition can say $50 per point
    rep = import_file(ctx, tmp_path / "cat", symbol="SPMINI", calendar="CMES")
    assert rep.ticks == 120 and rep.asset_class == "futures"
    df = ctx.store.read_day("SPMINI", "2024-07-02")
    np.testing.assert_allclose(df["dollar_volume"].to_numpy(), src["price"].to_numpy() * src["size"].to_numpy() * 50,
                               rtol=1e-15)
    assert not df["is_odd_lot"].any()
    ds = ctx.catalog.dataset("SPMINI")
    assert (ds.multiplier, ds.lot_size, ds.tick_size) == (50.0, 1.0, 0.25)


def _per_bar_ticks(bars: pd.DataFrame, values: np.ndarray) -> np.ndarray:
    """Sum of ``values`` over each bar's ticks (bars partition the day's ticks in order)."""
    starts = np.r_[0, np.cumsum(bars["trade_count"].to_numpy())[:-1]]
    return np.add.reduceat(values, starts)


def test_bar_dollar_volume_is_the_sum_of_the_ticks_dollar_volume(ctx, realdata):
    """Issue 11 items 29/30: bars carry the same notional as the enriched ticks (ES × 50, BTC in real BTC)."""
    from tickdeck.core.bars import build_default_bars, get_bars

    import_file(ctx, realdata / ES_TRADES, symbol="ESU4")
    import_file(ctx, realdata / "btcusdt-trades.parquet", symbol="BTCUSDT")
    for sym, day in (("ESU4", "2024-07-02"), ("BTCUSDT", "2021-01-08")):
        ticks = ctx.store.read_day(sym, day)
        dv = ticks["dollar_volume"].to_numpy()
        for spec in ("time:1m", "tick:7", "dollar:1000000", "dollar:1000000:split"):
            bars = get_bars(ctx, sym, day, spec=spec)
            assert bars["dollar_volume"].sum() == pytest.approx(dv.sum(), rel=1e-12), (sym, spec)
            assert ((bars["vwap"] >= bars["low"] - 1e-9) & (bars["vwap"] <= bars["high"] + 1e-9)).all()
            # bar volume is in the instrument's quantity: stored size units / 10**size_decimals (BTC in coins)
            units = 10.0 ** ctx.catalog.dataset(sym).size_decimals
            assert bars["volume"].sum() == pytest.approx(ticks["last_sz"].sum() / units, rel=1e-12)
            if not spec.endswith("split"):
                np.testing.assert_allclose(bars["dollar_volume"].to_numpy(), _per_bar_ticks(bars, dv), rtol=1e-12)
            if spec.startswith("dollar") and not spec.endswith("split"):
                # each bar closes on the trade whose notional (in currency) reaches $1,000,000
                before_last = bars["dollar_volume"].to_numpy() - dv[np.cumsum(bars["trade_count"].to_numpy()) - 1]
                assert (before_last[:-1] < 1_000_000).all()
                assert (bars["dollar_volume"].to_numpy()[:-1] >= 1_000_000).all()
        rows = build_default_bars(ctx, sym, day)
        dollar_specs = [float(r.spec.split(":")[1]) for r in rows if r.family == "dollar"]
        assert dv.sum() / 1000 < min(dollar_specs) and max(dollar_specs) < dv.sum() / 10  # 40–400 bars of notional


def test_day_totals_in_the_catalog_are_in_currency_and_vwap_is_a_price(ctx, realdata):
    """Issue 11 items 29/30: the tier-1 row's dollar volume is the sum of the ticks' notional
    (× 50 for ES, real BTC quantities), and its VWAP stays a price."""
    es = _es_trades(realdata)
    import_file(ctx, realdata / ES_TRADES, symbol="ESU4")
    row = {r.day.isoformat(): r for r in ctx.catalog.tick_days("ESU4")}["2024-07-02"]
    px, sz = es["price"].to_numpy(), es["size"].to_numpy()
    assert row.dollar_volume == pytest.approx(float((px * sz * 50.0).sum()), rel=1e-12)
    assert row.vwap == pytest.approx(float((px * sz).sum() / sz.sum()), rel=1e-12)

    btc = pd.read_parquet(realdata / "btcusdt-trades.parquet")
    import_file(ctx, realdata / "btcusdt-trades.parquet", symbol="BTCUSDT")
    row = ctx.catalog.tick_days("BTCUSDT")[0]
    notional = btc["price"].to_numpy() * btc["quantity"].to_numpy()
    assert row.dollar_volume == pytest.approx(float(notional.sum()), rel=1e-9)
    assert row.vwap == pytest.approx(float(notional.sum() / btc["quantity"].sum()), rel=1e-9)
