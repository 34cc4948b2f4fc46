"""The table rules of core/tick_table.py against independent computations (pandas / datetime)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from tickdeck.core.schema import STORED_COLUMNS
from tickdeck.core.tick_table import (
    DEFAULT_TICK_COLUMNS, TICK_COLUMNS, TIME_COLUMN, InvalidTimeOfDay, display_frame, integral, parse_time_of_day,
    time_window,
)

ET = "America/New_York"


def _frame(times: list[str]) -> pd.DataFrame:
    idx = pd.DatetimeIndex(pd.to_datetime(times, format="mixed")).tz_localize(ET)
    n = len(idx)
    return pd.DataFrame({"last": np.linspace(100, 101, n), "session": np.array([0, 1, 2, -1][:n] * (n // 4 + 1))[:n]
                         .astype(np.int8), "tick_id": np.arange(1_000_000, 1_000_000 + n, dtype=np.int64),
                         "volume": np.arange(n, dtype=np.float64) * 100, "vwap": np.full(n, 100.25)}, index=idx)


def test_all_43_columns_are_offered_and_the_defaults_are_among_them():
    assert len(TICK_COLUMNS) + 1 == 43  # the index is the time column
    assert set(DEFAULT_TICK_COLUMNS) <= set(STORED_COLUMNS)


def test_times_show_microseconds_so_ticks_in_one_second_differ():
    times = ["2024-07-02 09:30:00.000001", "2024-07-02 09:30:00.000250", "2024-07-02 09:30:00.5", "2024-12-02 16:00"]
    out = display_frame(_frame(times))
    expected = [pd.Timestamp(t).strftime("%Y-%m-%d %H:%M:%S.%f") for t in times]  # naive ET wall clock
    assert list(out[TIME_COLUMN]) == expected
    assert out[TIME_COLUMN].nunique() == 4


def test_codes_become_names_ids_stay_integers_and_whole_floats_become_integers():
    out = display_frame(_frame(["2024-07-02 09:30", "2024-07-02 09:31", "2024-07-02 09:32", "2024-07-02 09:33"]))
    assert list(out["session"]) == ["pre", "regular", "after", "outside"]
    assert out["tick_id"].dtype == np.int64 and out["tick_id"].iloc[0] == 1_000_000
    assert out["volume"].dtype == np.int64 and list(out["volume"]) == [0, 100, 200, 300]
    assert out["vwap"].dtype == np.float64  # 100.25 is not whole
    assert list(out.columns)[0] == TIME_COLUMN


def test_chosen_columns_only_and_in_that_order():
    out = display_frame(_frame(["2024-07-02 09:30"]), ["tick_id", "last", "not_a_column"])
    assert list(out.columns) == [TIME_COLUMN, "tick_id", "last"]


def test_integral_leaves_nan_and_fractions_alone():
    assert integral(np.array([1.0, np.nan])).dtype == np.float64
    assert integral(np.array([1.0, 2.5])).dtype == np.float64
    assert integral(np.array([1.0, 2.0])).dtype == np.int64


@pytest.mark.parametrize("text,expected", [("09:30", dt.time(9, 30)), ("9:30:05", dt.time(9, 30, 5)),
                                           ("15:59:59.25", dt.time(15, 59, 59, 250_000)), ("", None)])
def test_time_of_day_parses_common_forms(text, expected):
    assert parse_time_of_day(text) == expected


@pytest.mark.parametrize("text", ["25:00", "9.30", "noon", "09:61"])
def test_bad_time_of_day_says_the_expected_form(text):
    with pytest.raises(InvalidTimeOfDay, match="HH:MM"):
        parse_time_of_day(text)


def test_time_window_is_half_open_and_applies_to_every_day():
    times = ["2024-07-01 09:29:59.999999", "2024-07-01 09:30", "2024-07-01 09:30:59.999", "2024-07-01 09:31",
             "2024-07-02 09:30:30", "2024-07-02 10:00"]
    df = _frame(times)
    mask = time_window(df.index, dt.time(9, 30), dt.time(9, 31))
    wall = pd.DatetimeIndex(pd.to_datetime(times, format="mixed"))
    expected = (wall.time >= dt.time(9, 30)) & (wall.time < dt.time(9, 31))
    assert mask.tolist() == list(expected) == [False, True, True, False, True, False]
    assert time_window(df.index, None, None).all()
    assert not time_window(df.index, dt.time(11), dt.time(10)).any()
