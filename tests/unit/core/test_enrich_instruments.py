"""Enrichment under instrument terms: real quantities, contract multipliers, size rules per asset class."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from builders import make_raw
from tickdeck.core import conditions
from tickdeck.core.calendar import get_calendar
from tickdeck.core.enrich import enrich
from tickdeck.core.instruments import EQUITY, FUTURES, InstrumentTerms, future_root, resolve_terms, terms_from_dataset
from tickdeck.core.sources.synthetic import generate_day

XNYS = get_calendar("XNYS")
CMES = get_calendar("CMES")


def _enrich(raw, terms=None, calendar=XNYS):
    kw = {} if terms is None else {"terms": terms}
    return enrich(raw, symbol="TEST", source="unit", ingest_id="i-1", calendar=calendar, **kw)


def test_equity_day_is_enriched_exactly_as_before_instrument_terms():
    """Issue 11 item 30: default terms are the equity rules of before — every column unchanged."""
    raw = generate_day("AAPL", "2024-07-02", calendar=XNYS, ticks=20_000)
    default = _enrich(raw)
    pd.testing.assert_frame_equal(default, _enrich(raw, EQUITY), check_exact=True)
    pd.testing.assert_frame_equal(default, _enrich(raw, resolve_terms("AAPL", "equity")), check_exact=True)
    # today's size rules, written out from the raw columns
    last, size = raw["last"], raw["last_sz"]
    dollar = last * size.astype(np.float64)
    bits = conditions.flag_bits(raw["cond1"], raw["cond2"], raw["cond3"], raw["cond4"])
    odd = (size < 100) | ((bits & conditions.FLAG_BITS["odd_lot"]) != 0)
    block = (size >= 10_000) | (dollar >= 200_000)
    np.testing.assert_array_equal(default["dollar_volume"].to_numpy(), dollar)
    np.testing.assert_array_equal(default["is_odd_lot"].to_numpy(), odd)
    np.testing.assert_array_equal(default["is_block_trade"].to_numpy(), block)
    np.testing.assert_array_equal(default["participant_type"].to_numpy(), np.where(block, 2, np.where(odd, 0, 1)))
    np.testing.assert_array_equal(default["trade_pct_of_day"].to_numpy(), size * (100.0 / size.sum()))
    assert odd.any() and block.any() and (~odd & ~block).any()  # the day exercises all three classes


def test_futures_contracts_are_round_lots_worth_price_times_multiplier():
    """Issue 11 item 30: one ES contract is not an odd lot nor retail; notional carries the $50 multiplier."""
    raw = make_raw([5529.0, 5529.25, 5529.5, 5529.25], sizes=[1, 2, 18, 40], day=20240702)
    df = _enrich(raw, resolve_terms("ESU4", "futures"), calendar=CMES)
    assert not df["is_odd_lot"].any()
    np.testing.assert_array_equal(df["dollar_volume"].to_numpy(), raw["last"] * raw["last_sz"] * 50.0)
    # block: $10,000,000 notional → 37 contracts at 5,529 (18 contracts = $4.98M is not)
    assert df["is_block_trade"].tolist() == [False, False, False, True]
    assert df["participant_type"].tolist() == [1, 1, 1, 2]
    assert df["volume_rate"].iloc[-1] == pytest.approx((1 + 2 + 18 + 40) / 60)  # contracts per second


def test_crypto_sizes_in_1e8_units_are_real_quantities():
    """Issue 11 item 29: 0.000263 BTC stored as 26,300 units is $10, not a $1bn block."""
    qty = np.array([0.000263, 0.004376, 1.5, 3.0])
    raw = make_raw([39432.48, 39439.44, 39440.0, 39441.0], sizes=np.round(qty * 1e8).astype(np.int64))
    df = _enrich(raw, InstrumentTerms("crypto", 1.0, 8, None, None))
    np.testing.assert_allclose(df["dollar_volume"].to_numpy(), raw["last"] * qty, rtol=1e-15)
    assert not df["is_odd_lot"].any()
    assert df["is_block_trade"].tolist() == [False, False, False, True]  # $118,323 ≥ $100,000
    assert df["participant_type"].tolist() == [1, 1, 1, 2]
    assert df["volume_rate"].iloc[-1] == pytest.approx(qty.sum() / 60)
    assert df["trade_pct_of_day"].sum() == pytest.approx(100.0)
    assert (df["last_sz"].to_numpy() == raw["last_sz"]).all()  # stored units stay as they are


def test_fx_block_counts_base_currency_units():
    """Issue 11 item 30: FX has no odd lots; a block is 10 million of the base currency."""
    raw = make_raw([86.5, 86.5], sizes=[1_000, 10_000_000])
    df = _enrich(raw, resolve_terms("USDJPY", "fx"))
    assert df["is_odd_lot"].tolist() == [False, False] and df["is_block_trade"].tolist() == [False, True]


@pytest.mark.parametrize("symbol,root", [("ESU4", "ES"), ("ESZ24", "ES"), ("MESH5", "MES"), ("NQM4", "NQ"),
                                         ("6EU4", "6E"), ("CLF5", "CL"), ("@ES#", "ES"), ("ES.c.0", "ES"),
                                         ("ES", "ES"), ("AAPL", None), ("SPY", None)])
def test_future_root_from_contract_and_continuous_symbols(symbol, root):
    """Issue 11 item 30: the root picks the contract terms (ESU4 → ES)."""
    assert future_root(symbol) == root


def test_terms_precedence_file_then_table_then_stored_row():
    """Issue 11 item 30: the file's instrument data beats the table, the table beats a stale row."""
    assert resolve_terms("ESU4", "futures") == InstrumentTerms("futures", 50.0, 0, 1.0, 0.25)
    assert resolve_terms("ZNU4", "futures").multiplier == FUTURES["ZN"].multiplier == 1000.0
    stale = {"asset_class": "futures", "multiplier": 1.0, "lot_size": None, "tick_size": None}
    row = type("Row", (), stale)()
    assert resolve_terms("ESU4", "futures", existing=row).multiplier == 50.0
    custom = type("Row", (), {**stale, "multiplier": 25.0})()
    assert resolve_terms("XYZU4", "futures", existing=custom).multiplier == 25.0
    assert resolve_terms("ESU4", "futures", file_terms={"multiplier": 5.0}).multiplier == 5.0
    assert resolve_terms("BTCUSDT", "crypto", size_decimals=8) == InstrumentTerms("crypto", 1.0, 8, None, None)
    # a dataset row written before terms existed (NULL lot size) still gets the equity round lot
    assert terms_from_dataset({"asset_class": "equity", "multiplier": 1.0, "size_decimals": 0}) == EQUITY
