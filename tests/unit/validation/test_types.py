"""Result types, gap scale, DST detection and anomaly z-scores."""

from __future__ import annotations

import datetime as dt

import numpy as np

from tickdeck.core.validation.anomaly import _loo_z
from tickdeck.core.validation.continuity import gap_severity
from tickdeck.core.validation.result import (CRITICAL, FAIL, HIGH, LOW, MEDIUM, PASS, WARN, DayReport, Issue,
                                    ValidationResult, status_of)
from tickdeck.core.validation.rules import ValidationConfig
from tickdeck.core.validation.timezone import is_dst_transition


def _issue(sev):
    return Issue("x", sev, "C", "m")


def test_status_is_fail_on_high_warn_on_medium_pass_on_low():
    assert status_of([_issue(LOW)]) == PASS
    assert status_of([_issue(LOW), _issue(MEDIUM)]) == WARN
    assert status_of([_issue(MEDIUM), _issue(HIGH)]) == FAIL
    assert status_of([_issue(CRITICAL)]) == FAIL
    assert status_of([]) == PASS


def test_issue_round_trips_through_a_dict():
    i = Issue("continuity", HIGH, "GAP", "m", "2024-07-02T11:00:00-04:00", "2024-07-02T11:20:00-04:00", 3,
              ({"a": 1},))
    assert Issue.from_dict(i.to_dict()) == i


def test_day_report_status_is_the_worst_validator_status_and_issues_are_sorted_by_severity():
    d = dt.date(2024, 7, 2)
    a = ValidationResult.build("a", "X", d, ("c",), [_issue(LOW)])
    b = ValidationResult.build("b", "X", d, ("c",), [_issue(MEDIUM), _issue(CRITICAL)])
    rep = DayReport.build("X", d, [a, b])
    assert rep.status == FAIL
    assert [i.severity for i in rep.issues] == [CRITICAL, MEDIUM, LOW]
    assert rep.to_dict()["issues"][0]["severity"] == CRITICAL


def test_gap_scale_regular_session_five_minutes_is_medium():
    secs = np.array([119, 120, 300, 899, 900, 3600, 7200], dtype=float)
    sev = gap_severity(secs, np.ones(secs.size, bool), ValidationConfig())
    assert sev.tolist() == [4, 3, 2, 2, 1, 0, 0]  # none, LOW, MEDIUM, MEDIUM, HIGH, CRITICAL, CRITICAL


def test_gap_scale_extended_sessions_stop_at_medium():
    secs = np.array([600, 1800, 3600, 20000], dtype=float)
    sev = gap_severity(secs, np.zeros(secs.size, bool), ValidationConfig())
    assert sev.tolist() == [4, 3, 2, 2]


def test_dst_transition_days_are_the_first_days_after_a_switch():
    assert is_dst_transition(dt.date(2024, 3, 11))
    assert is_dst_transition(dt.date(2024, 11, 4))
    assert not is_dst_transition(dt.date(2024, 7, 2))


def test_leave_one_out_z_score_singles_out_the_outlier():
    x = np.array([100, 101, 99, 100, 102, 98, 500], dtype=float)
    z, mean, std = _loo_z(x)
    assert z[-1] > 100 and np.all(np.abs(z[:-1]) < 3)
    assert mean[-1] == 100.0
