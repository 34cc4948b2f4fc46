import datetime as dt

import numpy as np
import pandas as pd
import pytest

from tickdeck.core.calendar import get_calendar
from tickdeck.core.errors import ConfigError, NotFound

D = dt.date


@pytest.fixture(scope="module")
def cal():
    return get_calendar("XNYS")


def test_trading_days_skip_weekends_and_holidays(cal):
    assert cal.trading_days("2024-07-01", "2024-07-08") == [D(2024, 7, 1), D(2024, 7, 2), D(2024, 7, 3),
                                                            D(2024, 7, 5), D(2024, 7, 8)]


def test_holidays_have_names(cal):
    h = cal.holidays("2024-11-01", "2024-12-31")
    assert h[D(2024, 11, 28)] == "Thanksgiving" and h[D(2024, 12, 25)] == "Christmas"
    assert cal.holiday_name("2024-07-04") == "July 4th"
    assert cal.holiday_name("2024-07-05") is None


def test_early_closes(cal):
    assert cal.early_closes("2024-01-01", "2024-12-31") == [D(2024, 7, 3), D(2024, 11, 29), D(2024, 12, 24)]
    b = cal.bounds("2024-11-29")
    assert (b.close.hour, b.after_close.hour, b.early_close) == (13, 17, True)


@pytest.mark.parametrize("ts,session", [
    ("2024-07-02 03:59:59", "outside"), ("2024-07-02 04:00", "pre"), ("2024-07-02 09:29:59", "pre"),
    ("2024-07-02 09:30", "regular"), ("2024-07-02 15:59:59", "regular"), ("2024-07-02 16:00", "after"),
    ("2024-07-02 19:59:59", "after"), ("2024-07-02 20:00", "outside"), ("2024-07-03 13:00", "after"),
    ("2024-07-04 11:00", "outside"), ("2024-07-06 11:00", "outside"), ("2024-03-11 09:30", "regular"),
])
def test_session_of(cal, ts, session):
    assert cal.session_of(ts) == session


def test_session_of_accepts_utc(cal):
    assert cal.session_of(pd.Timestamp("2024-07-02 13:30", tz="UTC")) == "regular"  # 09:30 EDT
    assert cal.session_of(pd.Timestamp("2024-01-02 14:29", tz="UTC")) == "pre"  # 09:29 EST


def test_label_sessions_vectorised_matches_scalar(cal):
    ts = pd.date_range("2024-07-01", "2024-07-09", freq="17min", tz="America/New_York")
    labels = cal.label_sessions(ts.asi8)
    names = {-1: "outside", 0: "pre", 1: "regular", 2: "after"}
    sample = np.linspace(0, len(ts) - 1, 60).astype(int)
    assert [names[int(labels[i])] for i in sample] == [cal.session_of(ts[i]) for i in sample]


def test_last_completed_trading_day(cal):
    assert cal.last_completed_trading_day("2024-07-05 12:00") == D(2024, 7, 3)
    assert cal.last_completed_trading_day("2024-07-05 20:00") == D(2024, 7, 5)
    assert cal.last_completed_trading_day("2024-07-07 10:00") == D(2024, 7, 5)


def test_missing_days(cal):
    assert cal.missing_days("2024-07-01", "2024-07-09", ["2024-07-02", D(2024, 7, 8)]) == [
        D(2024, 7, 1), D(2024, 7, 3), D(2024, 7, 5), D(2024, 7, 9)]


def test_next_transition(cal):
    label, nxt = cal.next_transition("2024-07-03 14:00")
    assert label == "after" and nxt == pd.Timestamp("2024-07-03 17:00", tz="America/New_York")
    label, nxt = cal.next_transition("2024-07-04 12:00")
    assert label == "closed" and nxt == pd.Timestamp("2024-07-05 04:00", tz="America/New_York")


def test_bounds_of_non_trading_day_is_not_found(cal):
    with pytest.raises(NotFound, match="2024-07-04"):
        cal.bounds("2024-07-04")


def test_unknown_calendar():
    with pytest.raises(ConfigError):
        get_calendar("NOPE")


def test_other_calendars_have_regular_session_only():
    assert get_calendar("24/7").session_of("2024-07-04 03:00") == "regular"
    cme = get_calendar("CMES")
    b = cme.bounds("2024-07-02")
    assert b.pre_open == b.open and b.open.day == 1  # CME session opens the evening before
