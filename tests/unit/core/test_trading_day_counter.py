"""tickdeck.core.backfill.TradingDayCounter counts what calendar.trading_days lists, without the list."""

from __future__ import annotations

import datetime as dt

import numpy as np

from tickdeck.core.backfill import TradingDayCounter, freshness_of
from tickdeck.core.calendar import get_calendar


def test_counts_equal_the_calendars_lists_over_holidays_and_weekends():
    """Issue 12: freshness for thousands of datasets counts trading days by binary search."""
    cal = get_calendar("XNYS")
    counter = TradingDayCounter(cal, "2023-12-01", "2024-12-31")
    rng = np.random.default_rng(3)
    base = dt.date(2023, 12, 1)
    for _ in range(300):
        a, b = sorted(base + dt.timedelta(days=int(x)) for x in rng.integers(0, 396, 2))
        assert counter.count(a, b) == len(cal.trading_days(a, b)), (a, b)
    assert counter.count(dt.date(2024, 7, 4), dt.date(2024, 7, 4)) == 0  # a holiday
    assert counter.count(dt.date(2024, 7, 5), dt.date(2024, 7, 1)) == 0  # reversed: nothing


def test_freshness_with_and_without_a_counter_agree():
    cal = get_calendar("XNYS")
    now = "2024-12-20 21:00"
    counter = TradingDayCounter(cal, "2024-01-02", cal.last_completed_trading_day(now))
    for latest in (dt.date(2024, 1, 2), dt.date(2024, 7, 3), dt.date(2024, 12, 19), dt.date(2024, 12, 20), None):
        assert freshness_of("AAPL", latest, cal, now=now, counter=counter) == freshness_of("AAPL", latest, cal, now=now)
