"""Ingest rules: flags and rejects on small hand-built tick arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from builders import make_raw, make_trades
from tickdeck.core.calendar import get_calendar
from tickdeck.core.enrich import enrich
from tickdeck.core.errors import SchemaError
from tickdeck.core.validation.rules import (CROSSED, LOCKED, OUTSIDE_QUOTE, PRICE_JUMP, STALE_QUOTE, VOLUME_SPIKE,
                                   ValidationConfig, compute_flags, flag_names, make_ingest_rules)

CFG = ValidationConfig()


def _arrays(prices, sizes=None, bids=None, asks=None, step_s=1.0):
    n = len(prices)
    ns = (np.arange(n) * step_s * 1e9).astype(np.int64) + 1_720_000_000 * 10**9
    last = np.asarray(prices, dtype=np.float64)
    size = np.full(n, 100, np.int64) if sizes is None else np.asarray(sizes, np.int64)
    bid = last - 0.01 if bids is None else np.asarray(bids, np.float64)
    ask = last + 0.01 if asks is None else np.asarray(asks, np.float64)
    return ns, last, size, bid, ask, np.ones(n, np.int8)


def _walk(n, seed=1):
    rng = np.random.default_rng(seed)
    return np.round(100 + np.cumsum(rng.choice([-0.01, 0.0, 0.01], n)), 2)


def test_crossed_and_locked_quotes_are_flagged_not_rejected():
    ns, last, size, bid, ask, sess = _arrays(_walk(50))
    bid[5], ask[5] = ask[5] + 0.02, bid[5]
    bid[7] = ask[7]
    f = compute_flags(ns, last, size, bid, ask, sess, CFG)
    assert f[5] & CROSSED and f[7] & LOCKED
    assert np.count_nonzero(f & (CROSSED | LOCKED)) == 2


def test_isolated_bad_print_is_flagged_but_the_trade_returning_to_the_market_is_not():
    prices = _walk(300)
    prices[200] *= 1.15
    ns, last, size, bid, ask, sess = _arrays(prices)
    bid[200], ask[200] = prices[199] - 0.01, prices[199] + 0.01  # quote stays where the market is
    f = compute_flags(ns, last, size, bid, ask, sess, CFG)
    assert f[200] & PRICE_JUMP and f[200] & OUTSIDE_QUOTE
    assert not f[201] & PRICE_JUMP
    assert np.flatnonzero(f & PRICE_JUMP).tolist() == [200]


def test_jump_confirmed_by_volume_or_after_a_long_pause_is_not_a_bad_print():
    prices = _walk(300)
    prices[200:] += 5.0  # a real level shift
    ns, last, size, bid, ask, sess = _arrays(prices)
    size[200] = 100_00  # heavy volume at the jump
    assert not compute_flags(ns, last, size, bid, ask, sess, CFG)[200] & PRICE_JUMP
    size[200] = 100
    ns[200:] += 600 * 10**9  # ten minutes of silence before it
    assert not compute_flags(ns, last, size, bid, ask, sess, CFG)[200] & PRICE_JUMP
    ns[200:] -= 600 * 10**9
    assert compute_flags(ns, last, size, bid, ask, sess, CFG)[200] & PRICE_JUMP


def test_volume_spike_beyond_100x_recent_average_is_flagged():
    ns, last, size, bid, ask, sess = _arrays(_walk(100))
    size[80] = 100 * 100 + 100
    size[90] = 100 * 50
    f = compute_flags(ns, last, size, bid, ask, sess, CFG)
    assert np.flatnonzero(f & VOLUME_SPIKE).tolist() == [80]


def test_stale_quote_in_regular_session_is_flagged_after_the_configured_age():
    ns, last, size, bid, ask, sess = _arrays(np.full(20, 100.0), step_s=60.0)
    bid[:], ask[:] = 99.99, 100.01
    f = compute_flags(ns, last, size, bid, ask, sess, CFG.with_(stale_quote_s=300))
    assert np.flatnonzero(f & STALE_QUOTE).tolist() == list(range(6, 20))


def test_flag_names_decode_the_bitmask():
    assert flag_names(CROSSED | PRICE_JUMP) == ["crossed", "price_jump"]


def _frame(raw):
    return enrich(raw, symbol="TEST", source="test", ingest_id="t-1", calendar=get_calendar("XNYS"))


def test_rules_reject_non_positive_prices_and_negative_sizes_with_a_reason():
    raw = make_raw([100.0, np.nan, -1.0, 100.02, 100.03], bids=99.99, asks=100.05)
    raw["last_sz"][3] = -5
    kept, rejects = make_ingest_rules()(_frame(raw))
    assert len(kept) == 2
    reasons = sorted(r for _, r in rejects)
    assert reasons == ["negative trade size", "price is not finite and positive", "price is not finite and positive"]
    assert all("tick_id=" in text for text, _ in rejects)


def test_rules_keep_a_clean_frame_untouched_and_record_flags_in_the_sink():
    df = _frame(make_trades(2_000, seed=3))
    df.loc[df.index[100], ["bid", "ask"]] = [101.0, 100.0]
    sink = {}
    kept, rejects = make_ingest_rules(sink=sink)(df)
    assert kept is df and rejects == []
    (key, flags), = sink.items()
    assert key == ("TEST", "t-1")
    assert int(flags["tick_id"].iat[0]) == int(df["tick_id"].iat[100]) and flags["flags"].iat[0] & CROSSED


def test_missing_required_column_refuses_the_whole_day():
    df = _frame(make_trades(10)).drop(columns=["tot_vlm"])
    with pytest.raises(SchemaError, match="tot_vlm"):
        make_ingest_rules()(df)


def test_mistyped_column_refuses_the_whole_day():
    df = _frame(make_trades(10))
    df["last_sz"] = df["last_sz"].astype(str)
    with pytest.raises(SchemaError, match="last_sz"):
        make_ingest_rules()(df)


def test_empty_frame_passes():
    df = _frame(make_trades(3)).iloc[:0]
    kept, rejects = make_ingest_rules()(df)
    assert len(kept) == 0 and rejects == [] and isinstance(kept.index, pd.DatetimeIndex)
