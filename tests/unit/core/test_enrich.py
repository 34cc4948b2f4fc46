import numpy as np
import pytest
from hypothesis import given, settings as hsettings, strategies as st

from builders import make_raw
from tickdeck.core.calendar import get_calendar
from tickdeck.core.enrich import date_time_from_utc_ns, enrich, utc_ns_from_date_time
from tickdeck.core.errors import SchemaError

CAL = get_calendar("XNYS")
NAN = float("nan")


def _enrich(raw):
    return enrich(raw, symbol="TEST", source="unit", ingest_id="i-1", calendar=CAL)


def test_lee_ready_golden_sequence():
    # mid:          10.00  10.01  10.01  10.005  none   10.02
    raw = make_raw([10.00, 10.01, 10.01, 10.00, 10.00, 10.02],
                   bids=[9.99, 10.00, 10.00, 10.00, NAN, 10.01],
                   asks=[10.01, 10.02, 10.02, 10.01, NAN, 10.03])
    df = _enrich(raw)
    # at mid → tick rule; first trade undetermined; zero ticks carry the last non-zero change
    assert df["trade_sign"].tolist() == [0, 1, 1, -1, -1, 1]
    assert df["tick_direction"].tolist() == [0, 1, 0, -1, 0, 1]
    assert df["midpoint"].iloc[3] == pytest.approx(10.005)
    assert np.isnan(df["midpoint"].iloc[4]) and np.isnan(df["spread"].iloc[4])
    assert df["spread_bps"].iloc[0] == pytest.approx(0.02 / 10.0 * 1e4)
    assert df["price_change"].iloc[1] == pytest.approx(0.01)
    assert np.isnan(df["log_return"].iloc[0])
    assert df["log_return"].iloc[5] == pytest.approx(np.log(10.02 / 10.00))
    # price improvement: sell at 10.00 vs bid 10.00 → 0; buy at 10.01 vs ask 10.02 → 0.01
    assert df["price_improvement"].iloc[3] == pytest.approx(0.0)
    assert df["price_improvement"].iloc[1] == pytest.approx(0.01)
    assert df["effective_spread"].iloc[3] == pytest.approx(2 * 0.005)


def test_sessions_and_seconds_since_open_golden():
    raw = make_raw([10.0] * 7)
    secs = [4 * 3600, 9.5 * 3600 - 1, 9.5 * 3600, 16 * 3600 - 1, 16 * 3600, 20 * 3600 - 1, 20 * 3600]
    raw["time"][:] = (np.array(secs) * 1e6).astype(np.int64)
    df = _enrich(raw)
    assert df["session"].tolist() == [0, 0, 1, 1, 2, 2, -1]
    assert df["is_regular"].tolist() == [False, False, True, True, False, False, False]
    assert df["is_extended_hours"].tolist() == [True, True, False, False, True, True, False]
    assert df["seconds_since_open"].iloc[2] == 0.0
    assert df["seconds_since_open"].iloc[0] == -5.5 * 3600
    assert str(df.index.tz) == "America/New_York" and df.index[2].hour == 9 and df.index[2].minute == 30


def test_early_close_day_sessions():
    raw = make_raw([10.0] * 3, day=20240703)
    raw["time"][:] = (np.array([12.99 * 3600, 13 * 3600, 17 * 3600]) * 1e6).astype(np.int64)
    assert _enrich(raw)["session"].tolist() == [1, 2, -1]


def test_condition_and_size_flags():
    raw = make_raw([250.0, 10.0, 10.0, 10.0, 10.0, 10.05],
                   sizes=[1000, 50, 10_000, 200, 200, 300],
                   bids=[249.9, 9.99, 9.99, 9.99, 9.99, 10.0], asks=[250.1, 10.01, 10.01, 10.01, 10.01, 10.02],
                   conds=[0x01, 0x01, 0x01, 0x3D, 0x3E, 0x01])
    df = _enrich(raw)
    assert df["is_block_trade"].tolist() == [True, False, True, False, False, False]  # $250k, 10k shares
    assert df["is_odd_lot"].tolist() == [False, True, False, False, False, False]
    assert df["participant_type"].tolist() == [2, 0, 2, 1, 1, 1]
    assert df["is_intermarket_sweep"].tolist() == [False, False, False, True, False, False]
    assert df["is_derivatively_priced"].tolist() == [False, False, False, False, True, False]
    assert df["is_qualified"].tolist() == [True, True, True, True, False, True]
    assert df["is_outside_quote"].tolist() == [False, False, False, False, False, True]
    assert df["dollar_volume"].iloc[0] == 250_000.0
    assert df["trade_pct_of_day"].sum() == pytest.approx(100.0)
    assert (df["source"] == "unit").all() and (df["ingest_id"] == "i-1").all() and (df["symbol"] == "TEST").all()


def test_volume_rate_counts_trailing_60_seconds():
    raw = make_raw([10.0] * 4, sizes=[60, 120, 180, 600], step_s=30)
    df = _enrich(raw)
    # t=0,30,60,90 s: window (t-60, t]
    assert df["volume_rate"].tolist() == pytest.approx([1.0, 3.0, 5.0, 13.0])  # (180 + 600) / 60


def test_missing_raw_column_is_a_schema_error():
    raw = make_raw([10.0, 10.1])
    del raw["bid"]
    with pytest.raises(SchemaError, match="'bid'"):
        _enrich(raw)


def test_date_time_round_trip_across_dst():
    for day in (20240310, 20240311, 20241103, 20241104, 20240101):
        date = np.full(3, day, dtype=np.int32)
        t = np.array([4 * 3600e6, 12 * 3600e6, 19.99 * 3600e6], dtype=np.int64)
        d2, t2 = date_time_from_utc_ns(utc_ns_from_date_time(date, t))
        assert (d2 == date).all() and (t2 == t).all()


quotes = st.tuples(st.floats(0.5, 500), st.floats(0, 5), st.floats(-6, 6))


@hsettings(max_examples=60, deadline=None)
@given(st.lists(quotes, min_size=1, max_size=60), st.integers(0, 2**32 - 1))
def test_enrichment_invariants(rows, seed):
    rng = np.random.default_rng(seed)
    bid = np.array([r[0] for r in rows])
    ask = bid + np.array([r[1] for r in rows])
    last = np.maximum(0.01, bid + np.array([r[2] for r in rows]))
    crossed = rng.random(len(rows)) < 0.2
    bid = np.where(crossed, ask + 0.5, bid)
    df = _enrich(make_raw(np.round(last, 4), sizes=rng.integers(1, 20_000, len(rows)), bids=bid, asks=ask))
    valid = (df["bid"] > 0) & (df["ask"] >= df["bid"])
    mid = df["midpoint"][valid]
    assert ((mid >= df["bid"][valid] - 1e-9) & (mid <= df["ask"][valid] + 1e-9)).all()
    assert df["midpoint"][~valid].isna().all()
    assert (df["spread"][valid] >= 0).all()
    assert df["trade_sign"].isin([-1, 0, 1]).all()
    above = valid & (df["last"] > df["midpoint"])
    below = valid & (df["last"] < df["midpoint"])
    assert (df["trade_sign"][above] == 1).all() and (df["trade_sign"][below] == -1).all()
    assert (df["volume_rate"] * 60 >= df["last_sz"] - 1e-6).all()
    assert (df["is_block_trade"] == ((df["last_sz"] >= 10_000) | (df["dollar_volume"] >= 200_000))).all()
