"""Hand-computed bars for every family on small sequences, sessions, labels and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tickdeck.core.bars import BAR_COLUMNS, BarInputError, compute_bars
from tickdeck.core.bars.aggregate import BarIntegrityError, bars_frame, empty_columns

ET = "America/New_York"


def counts(df):
    return df["trade_count"].tolist()


def test_bar_frame_has_the_documented_columns_indexed_by_start(make_ticks):
    bars = compute_bars(make_ticks([10, 11, 12]), "tick:2")
    assert list(bars.columns) == BAR_COLUMNS
    assert bars.index.name == "start" and str(bars.index.tz) == ET


def test_time_bars_are_aligned_to_the_session_clock(make_ticks):
    t = make_ticks([10, 12, 9, 11, 13], [100, 200, 300, 400, 500],
                   times=["09:30:10", "09:30:50", "09:31:00", "09:33:05", "09:33:59.999"], signs=[1, -1, 1, 0, 1],
                   spreads=[2.0, np.nan, 4.0, 1.0, 3.0])
    bars = compute_bars(t, "time:60s")
    assert [ts.strftime("%H:%M:%S") for ts in bars.index] == ["09:30:00", "09:31:00", "09:33:00"]
    assert [ts.strftime("%H:%M:%S") for ts in bars["end"]] == ["09:31:00", "09:32:00", "09:34:00"]
    first = bars.iloc[0]
    assert (first.open, first.high, first.low, first.close) == (10, 12, 10, 12)
    assert first.volume == 300 and first.dollar_volume == 10 * 100 + 12 * 200
    assert first.vwap == pytest.approx(3400 / 300)
    assert first.buy_volume == 100 and first.sell_volume == 200
    assert first.avg_spread_bps == 2.0 and first.spread_count == 1
    assert counts(bars) == [2, 1, 2]
    assert bars.iloc[2].avg_spread_bps == 2.0


def test_hour_bars_are_clipped_to_session_boundaries(make_ticks):
    t = make_ticks([10, 11, 12, 13, 14], times=["04:00:05", "09:10:00", "15:45:00", "16:10:00", "19:50:00"],
                   sessions=[0, 0, 1, 2, 2])
    bars = compute_bars(t, "time:1h")
    got = [(a.strftime("%H:%M"), b.strftime("%H:%M")) for a, b in zip(bars.index, bars["end"])]
    assert got == [("04:00", "04:30"), ("08:30", "09:30"), ("15:30", "16:00"), ("16:00", "16:30"), ("19:30", "20:00")]


def test_cross_option_lets_a_bar_span_sessions(make_ticks):
    t = make_ticks([1, 2, 3, 4, 5, 6], sessions=[0, 0, 1, 1, 1, 1], start="09:29:58")
    assert counts(compute_bars(t, "tick:3")) == [2, 3, 1]
    assert counts(compute_bars(t, "tick:3:cross")) == [3, 3]


def test_tick_bars_close_every_n_trades(make_ticks):
    bars = compute_bars(make_ticks([1, 2, 3, 4, 5, 6, 7]), "tick:3")
    assert counts(bars) == [3, 3, 1]
    assert bars["close"].tolist() == [3, 6, 7]


def test_volume_bars_close_on_the_crossing_trade_without_carrying_the_excess(make_ticks):
    bars = compute_bars(make_ticks([1, 2, 3, 4, 5], [40, 50, 30, 100, 20]), "volume:100")
    assert bars["volume"].tolist() == [120, 100, 20]
    assert counts(bars) == [3, 1, 1]


def test_split_volume_bars_carry_the_excess_exactly(make_ticks):
    bars = compute_bars(make_ticks([1, 2, 3, 4, 5], [40, 50, 30, 100, 20]), "volume:100:split")
    assert bars["volume"].tolist() == [100, 100, 40]
    assert counts(bars) == [3, 2, 2]  # a split trade counts in each bar it feeds
    assert bars["close"].tolist() == [3, 4, 5] and bars["open"].tolist() == [1, 3, 4]


def test_split_block_fills_several_bars_at_one_timestamp(make_ticks):
    bars = compute_bars(make_ticks([10, 11], [30, 250]), "volume:100:split")
    assert bars["volume"].tolist() == [100, 100, 80]
    assert bars.index[1] == bars.index[2]
    assert bars["volume"].sum() == 280


def test_dollar_bars_use_price_times_size(make_ticks):
    bars = compute_bars(make_ticks([10, 10, 10, 20], [50, 40, 30, 60]), "dollar:1000")
    assert bars["dollar_volume"].tolist() == [1200, 1200]
    split = compute_bars(make_ticks([10, 10, 10, 20], [50, 40, 30, 60]), "dollar:1000:split")
    assert split["dollar_volume"].tolist() == pytest.approx([1000, 1000, 400])


def test_range_bars_close_when_high_minus_low_reaches_r(make_ticks):
    bars = compute_bars(make_ticks([100, 100.5, 99.8, 100.9, 101, 101.5, 100.4]), "range:1")
    assert counts(bars) == [4, 3]
    assert (bars["high"] - bars["low"]).tolist() == pytest.approx([1.1, 1.1])


def test_range_bars_treat_decimal_prices_exactly(make_ticks):
    bars = compute_bars(make_ticks([100.2, 100.25, 100.3, 100.31]), "range:0.1")
    assert counts(bars) == [3, 1]


def test_renko_needs_one_brick_with_the_trend_and_two_against(make_ticks):
    bars = compute_bars(make_ticks([100, 100.5, 101.0, 101.4, 100.6, 99.9, 99.0, 102.1]), "renko:1")
    assert counts(bars) == [3, 4, 1]
    assert bars["close"].tolist() == [101.0, 99.0, 102.1]


def test_heikin_ashi_smooths_time_bars(make_ticks):
    t = make_ticks([10, 14, 8, 12, 12, 15, 11, 13], times=["10:00:01", "10:00:02", "10:00:03", "10:00:04",
                                                          "10:01:01", "10:01:02", "10:01:03", "10:01:04"])
    ha = compute_bars(t, "heikin_ashi:1m")
    plain = compute_bars(t, "time:1m")
    c1 = (10 + 14 + 8 + 12) / 4
    o1 = (10 + 12) / 2
    c2 = (12 + 15 + 11 + 13) / 4
    o2 = (o1 + c1) / 2
    assert ha["close"].tolist() == [c1, c2]
    assert ha["open"].tolist() == [o1, o2]
    assert ha["high"].tolist() == [14, 15] and ha["low"].tolist() == [8, 11]
    assert (ha["volume"] == plain["volume"]).all() and (ha.index == plain.index).all()


def test_tick_imbalance_bars_follow_the_ewma_threshold(make_ticks):
    # warm-up bar of t0=3 ticks: theta=2 (signs 0,+1,+1) -> E[T]=3, E[b]=2/3, E[v]=1 -> threshold 2
    bars = compute_bars(make_ticks([10, 11, 12, 13, 14, 15, 16, 15, 14]), "tick_imbalance:ewma1:t3")
    assert counts(bars) == [3, 2, 2, 2]


def test_tick_runs_bars_follow_the_larger_side(make_ticks):
    bars = compute_bars(make_ticks([10, 11, 12, 11, 12, 13, 14]), "tick_runs:ewma1:t3")
    assert counts(bars) == [3, 3, 1]


@pytest.mark.parametrize("kind", ["imbalance", "runs"])
def test_volume_and_dollar_information_bars_scale_with_their_flow(make_random_ticks, kind):
    t = make_random_ticks(3000, seed=3, sessions=False)
    unit = t.assign(last_sz=np.ones(len(t), np.int64))
    tick = compute_bars(unit, f"tick_{kind}:ewma10:t50")
    vol = compute_bars(unit.assign(last_sz=7), f"volume_{kind}:ewma10:t50")
    assert counts(tick) == counts(vol)
    real = compute_bars(t, f"volume_{kind}:ewma10:t50")
    assert counts(real) != counts(tick) and sum(counts(real)) == len(t)


@pytest.mark.parametrize("spec", ["time:1m", "heikin_ashi:5m", "tick:50", "volume:5000", "dollar:500000",
                                  "volume:5000:split", "range:0.1", "renko:0.05", "tick_imbalance:ewma10:t50",
                                  "volume_imbalance:ewma10:t50", "dollar_imbalance:ewma10:t50",
                                  "tick_runs:ewma10:t50", "volume_runs:ewma10:t50", "dollar_runs:ewma10:t50"])
def test_every_family_conserves_trades_and_never_spans_a_session(make_random_ticks, spec):
    t = make_random_ticks(4000, seed=11)
    bars = compute_bars(t, spec)
    if "split" not in spec:
        assert bars["trade_count"].sum() == len(t)
    assert bars["volume"].sum() == pytest.approx(t["last_sz"].sum())
    assert (bars["high"] >= bars[["open", "close"]].max(axis=1)).all()
    sess, ts = t["session"].to_numpy(), t.index.asi8
    assert set(bars["session"]) == set(sess) == {0, 1, 2}  # the day has all three sessions, and so do the bars
    for start, end, session in zip(bars.index.asi8, pd.DatetimeIndex(bars["end"]).asi8, bars["session"]):
        inside = sess[(ts >= start) & (ts <= end)]  # every bar: each trade between its start and end
        assert len(inside) and (inside == session).all(), (spec, start, session, set(inside))


def test_non_finite_price_is_rejected_with_its_row(make_ticks):
    with pytest.raises(BarInputError, match=r"last.*row 2.*finite"):
        compute_bars(make_ticks([1.0, 2.0, np.nan, 3.0]), "tick:2")
    with pytest.raises(BarInputError, match="last_sz"):
        compute_bars(make_ticks([1.0, 2.0], [10, 10]).assign(last_sz=[10.0, np.inf]), "volume:5")


def test_unsorted_ticks_are_rejected(make_ticks):
    t = make_ticks([1, 2, 3])
    with pytest.raises(BarInputError, match="backwards"):
        compute_bars(t.iloc[[0, 2, 1]], "tick:2")


def test_integrity_violation_raises_loudly():
    cols = empty_columns(1)
    cols.update(start=np.array([1]), end=np.array([2]), open=np.array([10.0]), high=np.array([9.0]),
                low=np.array([8.0]), close=np.array([8.5]), volume=np.array([1.0]))
    with pytest.raises(BarIntegrityError, match="high=9.0"):
        bars_frame(cols, "test")


def test_empty_input_gives_no_bars(make_ticks):
    assert len(compute_bars(make_ticks([]), "renko:1")) == 0
