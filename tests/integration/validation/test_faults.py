"""Every synthetic fault kind is detected; clean synthetic days pass without HIGH/CRITICAL issues."""

from __future__ import annotations

import pytest

from tickdeck.core.sources.synthetic import FAULT_KINDS, generate_into_store
from tickdeck.core.validation import CRITICAL, FAIL, HIGH, validate_day

TICKS = 4_000  # regular-session trades per synthetic day: enough for every check, fast on 2 cores

EXPECTED = {  # fault kind -> (validator, code) that must report it
    "gaps": ("continuity", "GAP"),
    "bad_prints": ("rules", "BAD_PRINTS"),
    "crossed_quotes": ("rules", "CROSSED_QUOTES"),
    "decreasing_volume": ("continuity", "VOLUME_DECREASED"),
    "out_of_order": ("continuity", "OUT_OF_ORDER"),
    "wrong_timezone": ("timezone", "UTC_SHIFTED"),
    "duplicates": ("continuity", "DUPLICATE_TICK_IDS"),
}


def test_every_fault_kind_has_an_expected_detection():
    assert set(EXPECTED) == set(FAULT_KINDS)


@pytest.mark.parametrize("kind", sorted(FAULT_KINDS))
def test_fault_kind_is_detected(ctx, kind):
    generate_into_store(ctx, ["FLT"], "2024-07-02", "2024-07-02", faults=[kind], ticks=TICKS)
    report = validate_day(ctx, "FLT", "2024-07-02")
    validator, code = EXPECTED[kind]
    found = [i for i in report.issues if i.code == code]
    assert found and found[0].validator == validator, [(i.code, i.severity) for i in report.issues]
    assert report.status != "PASS"


def test_gap_fault_reports_a_high_twenty_minute_gap_with_its_window(ctx):
    generate_into_store(ctx, ["FLT"], "2024-07-02", "2024-07-02", faults=["gaps"], ticks=TICKS)
    gap = next(i for i in validate_day(ctx, "FLT", "2024-07-02").issues if i.code == "GAP")
    assert gap.severity == HIGH
    assert gap.start < "2024-07-02T11:00:01" and gap.end >= "2024-07-02T11:20:00"
    assert 1195 <= gap.examples[0]["seconds"] <= 1500


def test_decreasing_volume_counts_each_backward_step(ctx):
    generate_into_store(ctx, ["FLT"], "2024-07-02", "2024-07-02", faults=["decreasing_volume"], ticks=TICKS)
    issue = next(i for i in validate_day(ctx, "FLT", "2024-07-02").issues if i.code == "VOLUME_DECREASED")
    assert issue.rows == 5 and issue.message.startswith("Volume decreased 5 times")


def test_wrong_timezone_is_critical_and_names_the_shift(ctx):
    generate_into_store(ctx, ["FLT"], "2024-07-02", "2024-07-02", faults=["wrong_timezone"], ticks=TICKS)
    rep = validate_day(ctx, "FLT", "2024-07-02")
    tz = rep.result("timezone")
    assert tz.status == FAIL and tz.metrics["best_shift_h"] == 4
    assert any(i.code == "UTC_SHIFTED" and i.severity == CRITICAL for i in tz.issues)


@pytest.mark.parametrize("day", ["2024-07-02", "2024-07-03", "2024-03-11", "2024-11-04", "2024-12-24"])
def test_clean_days_have_no_high_or_critical_issue(ctx, day):
    generate_into_store(ctx, ["AAPL", "ZZT", "QQQ"], day, day, ticks=TICKS)
    for sym in ("AAPL", "ZZT", "QQQ"):
        rep = validate_day(ctx, sym, day)
        bad = [(i.validator, i.code, i.message) for i in rep.issues if i.severity in (HIGH, CRITICAL)]
        assert bad == [], (sym, day, bad)
        assert rep.status != FAIL


def test_dst_day_is_marked_and_passes_the_timezone_checks(ctx):
    generate_into_store(ctx, ["AAPL"], "2024-03-11", "2024-03-11", ticks=TICKS)
    tz = validate_day(ctx, "AAPL", "2024-03-11").result("timezone")
    assert tz.metrics["dst_transition"] is True and tz.metrics["utc_offset_h"] == -4.0
    assert tz.status == "PASS" and tz.metrics["raw_time_mismatches"] == 0


def test_early_close_day_checks_the_last_trade_against_the_early_close(ctx):
    generate_into_store(ctx, ["AAPL"], "2024-07-03", "2024-07-03", ticks=TICKS)
    s = validate_day(ctx, "AAPL", "2024-07-03").result("session")
    assert s.metrics["last_regular"] < "2024-07-03T13:00:00"
    assert s.metrics["last_regular_lead_s"] < 300 and s.status == "PASS"
