"""Enrichment of a day in slices gives, bit for bit, the frame whole-day enrichment gives.

Issue 11 item 18: a large day is enriched a slice at a time, carrying the previous price, the
tick-rule direction, the running quantity behind the trailing 60 s volume and the day's total
quantity (``trade_pct_of_day``) across slices. Random days (quotes missing or crossed, runs of
zero ticks, bursts of equal timestamps, zero sizes, fractional and multiplied instruments) and
the real sample files are compared column by column on their bytes, with slice sizes from one
row to the whole day.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings as hsettings, strategies as st

from tickdeck.core.calendar import get_calendar
from tickdeck.core.enrich import enrich, enrich_slices
from tickdeck.core.errors import SchemaError
from tickdeck.core.instruments import InstrumentTerms, class_defaults
from tickdeck.core.schema import RAW_COLUMNS

CAL = get_calendar("XNYS")
KW = dict(symbol="TEST", source="unit", ingest_id="i-1")
CRYPTO = InstrumentTerms("crypto", 1.0, 8, None)
FUTURES = InstrumentTerms("futures", 50.0, 0, 1.0)


def _random_day(n: int, seed: int) -> tuple[dict, np.ndarray]:
    """Raw columns of ``n`` trades on 2024-07-02 (pre-market to after-hours), in time order."""
    rng = np.random.default_rng(seed)
    start = CAL.bounds("2024-07-02").pre_open.value
    gaps = rng.choice([0, 0, 1_000, 50_000_000, 3_000_000_000, 90_000_000_000], n, p=[.3, .1, .3, .2, .09, .01])
    ns = start + np.cumsum(gaps).astype(np.int64)  # bursts at one timestamp, and gaps longer than the 60 s window
    ns = np.minimum(ns, start + 15 * 3600 * 10**9)
    price = np.round(100 + np.cumsum(rng.choice([-0.01, 0.0, 0.0, 0.01], n)), 2)  # long runs of zero ticks
    bid, ask = price - 0.01, price + 0.01
    bid[rng.random(n) < 0.05] = np.nan  # no quote
    crossed = rng.random(n) < 0.02
    ask[crossed] = np.round(price[crossed] - 0.02, 2)  # some crossed quotes
    size = rng.integers(0, 20_000, n)
    size[rng.random(n) < 0.01] = 0
    raw = {"tick_id": np.arange(1, n + 1, dtype=np.int64), "last": price, "last_sz": size, "bid": bid, "ask": ask,
           "last_type": np.full(n, ord("C"), np.uint8), "mkt_ctr": rng.integers(0, 30, n).astype(np.int16),
           "cond1": rng.choice([0, 0, 0, 0x01, 0x17, 0x3D], n).astype(np.uint8), "cond2": np.zeros(n, np.uint8),
           "cond3": np.zeros(n, np.uint8), "cond4": np.zeros(n, np.uint8)}
    from tickdeck.core.enrich import date_time_from_utc_ns

    raw["date"], raw["time"] = date_time_from_utc_ns(ns)
    raw["tot_vlm"] = np.cumsum(size)
    return raw, ns


def assert_same_frame(whole: pd.DataFrame, parts: list[pd.DataFrame]) -> None:
    """Every column and the index of the concatenated slices equal ``whole``'s, byte for byte."""
    assert sum(len(p) for p in parts) == len(whole)
    assert list(whole.columns) == list(parts[0].columns)
    assert all(p.index.name == whole.index.name and str(p.index.tz) == str(whole.index.tz) for p in parts)
    assert np.concatenate([p.index.asi8 for p in parts]).tobytes() == whole.index.asi8.tobytes()
    for c in whole.columns:
        w = whole[c].to_numpy()
        assert all(p[c].dtype == whole[c].dtype for p in parts), c
        got = np.concatenate([p[c].to_numpy() for p in parts])
        if w.dtype == object:
            assert got.tolist() == w.tolist(), c
        else:
            assert got.tobytes() == w.tobytes(), c


def _slices(raw, ns, rows, **kw):
    out, at = [], 0
    for lo, hi, df in enrich_slices(raw, timestamps_ns=ns, rows=rows, **KW, **kw):
        assert (lo, hi) == (at, at + len(df)) and len(df) <= rows
        at = hi
        out.append(df)
    return out


@pytest.mark.parametrize("terms", [None, CRYPTO, FUTURES], ids=["equity", "crypto-1e-8", "futures-x50"])
@pytest.mark.parametrize("rows", [1, 7, 1000, 65_536, 200_000])
def test_slices_of_a_random_day_are_byte_identical_to_the_whole_day(rows, terms):
    """Issue 11 item 18: slice-wise enrichment equals whole-day enrichment on random days."""
    n = 600 if rows == 1 else 2_000 if rows < 100 else 120_000  # a slice of few rows costs a frame per slice
    raw, ns = _random_day(n, seed=rows)
    whole = enrich(raw, timestamps_ns=ns, calendar=CAL, terms=terms, **KW)
    assert_same_frame(whole, _slices(raw, ns, rows, calendar=CAL, terms=terms))


@hsettings(max_examples=60, deadline=None)
@given(n=st.integers(1, 400), rows=st.integers(1, 450), seed=st.integers(0, 2**32 - 1))
def test_slices_match_the_whole_day_for_any_day_and_slice_size(n, rows, seed):
    """Issue 11 item 18: any number of rows, any slice size (a slice may be the whole day)."""
    raw, ns = _random_day(n, seed)
    whole = enrich(raw, timestamps_ns=ns, calendar=CAL, **KW)
    assert_same_frame(whole, _slices(raw, ns, rows, calendar=CAL))


def test_the_trailing_volume_window_reaches_back_across_many_slices():
    """Issue 11 item 18: 60 s of ticks span dozens of slices; volume_rate still sums all of them."""
    n = 20_000
    raw, _ = _random_day(n, seed=5)
    ns = CAL.bounds("2024-07-02").open.value + np.arange(n, dtype=np.int64) * 5_000_000  # 200 ticks a second
    whole = enrich(raw, timestamps_ns=ns, calendar=CAL, **KW)
    parts = _slices(raw, ns, 97, calendar=CAL)
    assert_same_frame(whole, parts)
    assert whole["volume_rate"].iloc[-1] == pytest.approx(raw["last_sz"][-12_000:].sum() / 60)


def test_scalar_and_derived_raw_columns_give_the_same_frame():
    """Issue 11 item 18: constant columns as scalars, and date/time/tot_vlm left out, enrich the same."""
    raw, ns = _random_day(50_000, seed=11)
    raw["mkt_ctr"][:] = 0
    raw["cond1"][:] = 0
    whole = enrich(raw, timestamps_ns=ns, calendar=CAL, **KW)
    lean = {k: raw[k] for k in ("tick_id", "last", "last_sz", "bid", "ask")}
    lean.update(last_type=np.uint8(ord("C")), mkt_ctr=np.int16(0), cond1=np.uint8(0), cond2=np.uint8(0),
                cond3=np.uint8(0), cond4=np.uint8(0))
    assert_same_frame(whole, _slices(lean, ns, 4_096, calendar=CAL))
    assert_same_frame(whole, [enrich(lean, timestamps_ns=ns, calendar=CAL, **KW)])


def test_rows_out_of_time_order_are_refused_in_slices():
    """Issue 11 item 18: the trailing window needs time order; an unsorted day is refused, naming the row."""
    raw, ns = _random_day(1_000, seed=2)
    ns = ns.copy()
    ns[500], ns[501] = ns[501] + 1, ns[500]
    with pytest.raises(SchemaError, match="time order") as e:
        list(enrich_slices(raw, timestamps_ns=ns, calendar=CAL, rows=100, **KW))
    assert e.value.row == 501


def _real_day(path, symbol: str, calendar: str):
    """The sample file's trades (or quotes) of its busiest session day, time-ordered raw columns."""
    from tickdeck.core.sources.files import assign_session_days, build_raw, read_file, size_units

    cal = get_calendar(calendar)
    t = read_file(path, symbol=symbol)
    days, _ = assign_session_days(t.ns, cal)
    vals, counts = np.unique(days, return_counts=True)
    sel = np.flatnonzero(days == vals[np.argmax(counts)])
    order = sel[np.argsort(t.ns[sel], kind="stable")]
    units, unit = size_units(t.size[order])
    ids = (t.tick_id if t.tick_id is not None else t.row)[order]
    raw = build_raw(t.ns[order], t.price[order], units, t.bid[order], t.ask[order], ids, quote_only=t.quote_only)
    terms = class_defaults({"XNYS": "equity", "CMES": "futures", "24/7": "crypto"}[calendar])
    if unit != 1.0:
        terms = InstrumentTerms(terms.asset_class, terms.multiplier, 8, terms.lot_size)
    return raw, t.ns[order], cal, terms


@pytest.mark.parametrize("name, symbol, calendar", [
    ("esh4-glbx-mdp3-20231225.mbo.dbn.zst", "ESH4", "CMES"),
    ("esu4-glbx-mbp-1_2024-07-01T23-58.dbn.zst", "ESU4", "CMES"),
    ("btcusdt-trades.parquet", "BTCUSDT", "24/7"),
    ("usdjpy-ticks.csv", "USDJPY", "24/7"),
])
@pytest.mark.parametrize("rows", [5, 500])
def test_slices_of_real_market_data_are_byte_identical_to_the_whole_day(realdata, name, symbol, calendar, rows):
    """Issue 11 item 18: slice-wise enrichment equals whole-day enrichment on the real sample files."""
    raw, ns, cal, terms = _real_day(realdata / name, symbol, calendar)
    assert len(ns) > 100 and set(raw) == set(RAW_COLUMNS)
    whole = enrich(raw, timestamps_ns=ns, calendar=cal, terms=terms, **KW)
    assert_same_frame(whole, _slices(raw, ns, rows, calendar=cal, terms=terms))
