"""Session spans for chart shading (core/trading_time.py) against the calendar's own bounds."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from tickdeck.core.trading_time import SESSION_NAMES, session_spans, trading_clock


def _ns(text: str) -> int:
    return pd.Timestamp(text).value


def test_spans_skip_the_holiday_and_honour_the_early_close():
    s = session_spans(dt.date(2024, 7, 3), dt.date(2024, 7, 5))  # 3rd: 13:00 close, 4th: Independence Day
    assert len(s) == 6
    assert [SESSION_NAMES[k] for k in s.kind[:3]] == ["pre", "regular", "after"]
    assert list(s.start[:3]) == [_ns("2024-07-03 04:00"), _ns("2024-07-03 09:30"), _ns("2024-07-03 13:00")]
    assert s.end[1] == _ns("2024-07-03 13:00")
    assert s.start[3] == _ns("2024-07-05 04:00") and s.end[5] == _ns("2024-07-05 20:00")
    assert (s.end > s.start).all() and (s.start[1:] >= s.end[:-1]).all()


# -- trading time -------------------------------------------------------------------------------
def _days(*texts: str) -> np.ndarray:
    return np.array([_ns(t) for t in texts], dtype=np.int64)


def test_trading_clock_collapses_nights_the_weekend_and_the_holiday_and_keeps_the_early_close():
    c = trading_clock(dt.date(2024, 7, 3), dt.date(2024, 7, 8), "regular")
    assert list(c.real_start) == list(_days("2024-07-03 09:30", "2024-07-05 09:30", "2024-07-08 09:30"))
    assert list(c.real_end) == list(_days("2024-07-03 13:00", "2024-07-05 16:00", "2024-07-08 16:00"))
    # the 13:00 close, Independence Day and the weekend take no width: 3.5 h + 6.5 h + 6.5 h of axis
    assert list(c.seams - c.real_start[0]) == [3.5 * 3600e9, 10 * 3600e9]
    assert list(c.closed_ns) == [_ns("2024-07-05 09:30") - _ns("2024-07-03 13:00"),
                                 _ns("2024-07-08 09:30") - _ns("2024-07-05 16:00")]
    x = c.to_trading(_days("2024-07-03 09:30", "2024-07-03 12:59", "2024-07-05 09:30", "2024-07-08 15:00"))
    assert list(x - x[0]) == [0, 209 * 60e9, 3.5 * 3600e9, (3.5 + 6.5 + 5.5) * 3600e9]


def test_trading_time_round_trips_inside_sessions_and_is_monotonic_everywhere():
    c = trading_clock(dt.date(2024, 7, 1), dt.date(2024, 7, 12), "all")
    rng = np.random.default_rng(7)
    t = np.sort(rng.integers(_ns("2024-06-30"), _ns("2024-07-13 23:00"), 200_000))
    x = c.to_trading(t)
    assert (np.diff(x) >= 0).all()  # order kept: charts can searchsorted trading times
    i = np.clip(np.searchsorted(c.real_start, t, side="right") - 1, 0, len(c) - 1)
    inside = (t >= c.real_start[i]) & (t < c.real_end[i])
    assert inside.sum() > 50_000 and (c.to_real(x[inside]) == t[inside]).all()
    # a time in a closed period sits on the seam, which reads as the next open
    [seam] = c.to_trading(_days("2024-07-04 12:00"))  # Independence Day
    assert seam in c.seams and c.to_real([seam])[0] == _ns("2024-07-05 04:00")
    # the first segment is the identity: a one-day view reads the same on either axis
    day = _days("2024-07-01 04:00", "2024-07-01 13:45:12.5", "2024-07-01 19:59")
    assert (c.to_trading(day) == day).all()


def test_a_closed_period_holding_data_stays_open():
    weekend_trade = _ns("2024-07-06 12:00")  # a Saturday: a 24-hour market's data is not squeezed onto a seam
    times = np.sort(np.concatenate([_days("2024-07-05 10:00", "2024-07-08 10:00"), [weekend_trade]]))
    c = trading_clock(dt.date(2024, 7, 5), dt.date(2024, 7, 8), "regular", times=times)
    assert len(c) == 1 and not c.collapses
    assert (np.diff(c.to_trading(times)) > 0).all()
    bare = trading_clock(dt.date(2024, 7, 5), dt.date(2024, 7, 8), "regular", times=times[[0, 2]])
    assert bare.collapses and bare.to_trading(times[[2]])[0] - bare.to_trading(times[[0]])[0] == 6.5 * 3600e9
