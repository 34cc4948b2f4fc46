"""Session spans for chart shading (core/trading_time.py) against the calendar's own bounds."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from tickdeck.core.trading_time import SESSION_NAMES, session_spans


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
