"""Timezone validator: are the stamps tz-aware ET, monotonic, on the right day and unshifted?

Checks (codes in brackets):

* the stored index is tz-aware ``America/New_York`` [NAIVE_INDEX, WRONG_INDEX_TZ];
* timestamps never go backwards [NOT_MONOTONIC];
* XNYS days: every tick's ET wall-clock date is the stored day [WRONG_DAY_TICKS];
* the raw ``date``/``time`` columns (ET wall clock) agree with the index; a whole-hour
  disagreement means one of them was converted with the wrong UTC offset, e.g. across a DST
  change [TIME_COLUMNS_SHIFTED];
* session profile (calendars with extended hours): the share of ticks inside the regular
  session is compared with the share after shifting every stamp back by −5, −4, −1, +1, +4 or
  +5 hours; if a shift explains the day much better, the stamps are UTC (or DST-) shifted
  [UTC_SHIFTED]. This is how a day of UTC wall-clock labelled as ET is caught.

DST days (the first trading day after a switch, e.g. 2024-03-11, 2024-11-04) are marked in
the metrics (``dst_transition``) and go through the same checks: a wrong offset there shows as
a 1-hour shift.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from tickdeck.core.enrich import utc_ns_from_date_time
from tickdeck.core.validation.result import CRITICAL, HIGH, DayData, Issue, ValidationResult, ts_iso

NAME = "timezone"
CHECKS = ("index_tz", "monotonic", "wall_clock_day", "raw_time_columns", "session_profile", "dst")
ET = "America/New_York"
PROFILE_SAMPLE = 20_000  # ticks sampled for the profile test: a share estimate to ±1%, fast on any day size
PROFILE_SHIFTS_H = (-5, -4, -1, 1, 4, 5)  # UTC offsets of ET (4/5 h) and a missed DST switch (1 h)
PROFILE_MARGIN = 0.15  # a shift must put 15 points more of the day in the regular session to be believed
_H = 3_600 * 10**9
RAW_CHUNK = 1 << 20  # ticks whose raw date/time are compared with the index per step


def _offset_h(day: dt.date) -> float:
    t = pd.Timestamp(dt.datetime.combine(day, dt.time(12))).tz_localize(ET)
    return t.utcoffset().total_seconds() / 3600


def is_dst_transition(day: dt.date) -> bool:
    """True when the UTC offset at noon differs from the one a week earlier (first days after a switch)."""
    return _offset_h(day) != _offset_h(day - dt.timedelta(days=7))


def validate_timezone(data: DayData, config) -> ValidationResult:
    """Run the timezone checks on one day (see the module docstring)."""
    n, cal = data.n, data.calendar
    issues: list[Issue] = []
    metrics: dict = {"index_tz": data.tz, "dst_transition": is_dst_transition(data.day),
                     "utc_offset_h": _offset_h(data.day)}
    if data.tz is None:
        issues.append(Issue(NAME, CRITICAL, "NAIVE_INDEX", "The stored index is tz-naive; re-ingest with "
                            "timestamps localized to America/New_York."))
    elif data.tz != ET:
        issues.append(Issue(NAME, HIGH, "WRONG_INDEX_TZ", f"The stored index is in {data.tz}; re-ingest converting "
                            "with tz_convert('America/New_York')."))
    if n == 0:
        return ValidationResult.build(NAME, data.symbol, data.day, CHECKS, issues, metrics)
    ns = data.ns
    back = np.flatnonzero(ns[1:] < ns[:-1])
    metrics["backwards_steps"] = int(back.size)
    if back.size:
        issues.append(Issue(NAME, CRITICAL, "NOT_MONOTONIC",
                            f"Timestamps go backwards {back.size:,} times in the stored day; re-ingest (the "
                            "write path sorts) — readers and bars assume sorted data.",
                            ts_iso(ns[back[0]]), ts_iso(ns[back[-1] + 1]), int(back.size), data.example_rows(back + 1)))

    if cal.name == "XNYS":
        midnight = pd.Timestamp(data.day).tz_localize(ET).value
        nxt = pd.Timestamp(data.day + dt.timedelta(days=1)).tz_localize(ET).value
        wrong = np.flatnonzero((ns < midnight) | (ns >= nxt))
        metrics["wrong_day_ticks"] = int(wrong.size)
        if wrong.size:
            issues.append(Issue(NAME, HIGH, "WRONG_DAY_TICKS",
                                f"{wrong.size:,} ticks are not on {data.day} in ET; the stamps are shifted or the day "
                                "was mislabelled — re-import with the right timezone.",
                                ts_iso(ns[wrong[0]]), ts_iso(ns[wrong[-1]]), int(wrong.size), data.example_rows(wrong)))

    _check_raw_columns(data, issues, metrics)
    if cal.extended_hours and cal.is_trading_day(data.day):
        _check_profile(data, issues, metrics)
    else:
        metrics["session_profile"] = "not applicable (calendar without extended sessions or closed day)"
    return ValidationResult.build(NAME, data.symbol, data.day, CHECKS, issues, metrics)


def _check_raw_columns(data: DayData, issues: list, metrics: dict) -> None:
    date = data.date
    if not date.size or int(date.min()) < 19000101:
        metrics["raw_time_columns"] = "absent"
        return
    bad, diffs = [], []
    for lo in range(0, date.size, RAW_CHUNK):  # a slice at a time: the raw stamps of a whole day are 40 MB per 5M
        hi = lo + RAW_CHUNK
        try:
            raw_ns = utc_ns_from_date_time(date[lo:hi], data.time[lo:hi])
        except Exception:  # noqa: BLE001 - unparseable raw dates are reported, not raised
            metrics["raw_time_columns"] = "unparseable"
            return
        d = data.ns[lo:hi] - raw_ns
        at = np.flatnonzero(np.abs(d) >= 10**9)  # the index may carry sub-µs precision the raw time lacks
        bad.append(at + lo)
        diffs.append(d[at])
    bad, diff_bad = np.concatenate(bad), np.concatenate(diffs)
    metrics["raw_time_mismatches"] = int(bad.size)
    if bad.size:
        hours = float(np.median(diff_bad)) / _H
        whole = abs(hours - round(hours)) < 1e-6
        what = f"by {hours:+.0f} h (a UTC-offset or DST error)" if whole else f"by a median {hours * 3600:+.1f} s"
        issues.append(Issue(NAME, HIGH, "TIME_COLUMNS_SHIFTED",
                            f"{bad.size:,} ticks have raw date/time differing from the index {what}; "
                            "find which conversion is wrong and re-import.",
                            ts_iso(data.ns[bad[0]]), ts_iso(data.ns[bad[-1]]), int(bad.size), data.example_rows(bad)))


def _check_profile(data: DayData, issues: list, metrics: dict) -> None:
    step = max(1, data.n // PROFILE_SAMPLE)
    sample = data.ns[::step]
    label = data.calendar.label_sessions

    def share(shift_h: int) -> float:
        return float(np.count_nonzero(label(sample - shift_h * _H) == 1)) / sample.size

    base = share(0)
    best_h, best = max(((h, share(h)) for h in PROFILE_SHIFTS_H), key=lambda x: x[1])
    metrics["regular_share"] = round(base, 4)
    metrics["best_shift_h"], metrics["best_shift_regular_share"] = best_h, round(best, 4)
    if best - base > PROFILE_MARGIN and best >= 0.5:
        issues.append(Issue(
            NAME, CRITICAL, "UTC_SHIFTED",
            f"The session profile fits {best_h:+d} h better: only {base:.0%} of ticks are in the regular session as "
            f"stored, {best:.0%} after shifting stamps back by {best_h} h. The source wrote "
            + ("UTC wall-clock labelled as ET" if abs(best_h) >= 4 else "the wrong DST offset")
            + "; re-import converting from UTC.",
            ts_iso(data.ns[0]), ts_iso(data.ns[-1]), data.n, data.example_rows([0])))
