"""Higher-timeframe aggregation of stored time bars equals building from ticks."""

from __future__ import annotations

import pandas as pd
import pytest

from tickdeck.core.bars import aggregate_time_bars, compute_bars
from tickdeck.core.errors import InvalidBarSpec

FLOATS = ["open", "high", "low", "close", "volume", "dollar_volume", "vwap", "buy_volume", "sell_volume",
          "avg_spread_bps"]
EXACT = ["end", "trade_count", "session", "spread_count"]


@pytest.mark.parametrize("target", ["time:5m", "time:15m", "time:1h", "time:1d"])
def test_aggregating_minute_bars_equals_building_from_ticks(make_random_ticks, target):
    ticks = make_random_ticks(6000, seed=5)
    minute = compute_bars(ticks, "time:1m")
    direct = compute_bars(ticks, target)
    up = aggregate_time_bars(minute, "time:1m", target)
    pd.testing.assert_index_equal(up.index, direct.index)
    pd.testing.assert_frame_equal(up[EXACT], direct[EXACT])
    pd.testing.assert_frame_equal(up[FLOATS], direct[FLOATS], rtol=1e-12)


def test_daily_bars_are_one_per_session(make_random_ticks):
    day = aggregate_time_bars(compute_bars(make_random_ticks(3000, seed=2), "time:1m"), "time:1m", "time:1d")
    assert [(a.strftime("%H:%M"), b.strftime("%H:%M")) for a, b in zip(day.index, day["end"])] == [
        ("04:00", "09:30"), ("09:30", "16:00"), ("16:00", "20:00")]


def test_target_must_be_a_multiple_of_the_source():
    with pytest.raises(InvalidBarSpec, match="multiple"):
        aggregate_time_bars(pd.DataFrame(), "time:2m", "time:5m")
    with pytest.raises(InvalidBarSpec, match="time specs"):
        aggregate_time_bars(pd.DataFrame(), "tick:5", "time:5m")
