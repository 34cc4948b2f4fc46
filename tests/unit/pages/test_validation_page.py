"""ValidationPage without a browser: real ctx, real synthetic days, the real validation service."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from builders import store_synthetic

from tickdeck.core.validation.quality import QualityScore
from tickdeck.core.validation.result import HIGH, DayReport, Issue, ValidationResult
from tickdeck.core.validation.service import HistoryEntry
from tickdeck.pages.validation_page import ValidationPage, history_frame, issues_frame, quality_rows

DAY = dt.date(2024, 7, 1)


@pytest.fixture
def gap_day(ctx):
    store_synthetic(ctx, "AAPL", DAY, DAY, faults=["gaps"], ticks=8000)
    return ctx


def test_gap_day_is_flagged_by_continuity_with_its_time(gap_day):
    page = ValidationPage(ctx=gap_day, symbol="AAPL", day=DAY)
    page.run(wait=True)
    report = page.reports[DAY]
    assert report.status == "FAIL"
    cont = report.result("continuity")
    assert cont.status == "FAIL"
    table = issues_frame(cont)
    gap = table[table.code == "GAP"].iloc[0]
    assert gap.severity == HIGH and gap["where"].startswith("10:5") and "11:20" in gap["where"]
    card = page.validator_cards["continuity"].objects[0]
    assert "FAIL — needs fixing" in card.objects[0].object
    assert "data-code='GAP'" in card.objects[1].object and gap.message in card.objects[1].object
    assert "Overall FAIL" in page.detail.objects[0].object
    lanes = {r.glyph.__class__.__name__ for r in page.timeline_pane.object.renderers}
    assert "HBar" in lanes  # the gap is drawn on the timeline
    assert {"continuity", "session"} <= set(page.history_table.value["validator"])


def test_clean_day_passes_every_validator_panel(ctx):
    store_synthetic(ctx, "MSFT", DAY, DAY, ticks=8000)
    page = ValidationPage(ctx=ctx, symbol="msft", day=DAY)
    page.run(wait=True)
    for v in ("session", "timezone", "continuity"):
        assert page.reports[DAY].result(v).status == "PASS"
        assert "PASS — no problem found" in page.validator_cards[v].objects[0].objects[0].object


def test_range_lists_each_stored_day_and_selects_one(ctx):
    store_synthetic(ctx, "AAPL", "2024-07-01", "2024-07-03", ticks=5000)
    page = ValidationPage(ctx=ctx, symbol="AAPL", day=DAY, end=dt.date(2024, 7, 5))
    page.run(wait=True)
    assert list(page.days_table.value["day"]) == ["2024-07-01", "2024-07-02", "2024-07-03"]
    assert page.days_table.visible and page.selected == dt.date(2024, 7, 3)
    page.select_day(DAY, wait=True)
    assert page.selected == DAY


def test_missing_day_shows_readable_message(ctx):
    store_synthetic(ctx, "AAPL", DAY, DAY, ticks=3000)
    page = ValidationPage(ctx=ctx, symbol="AAPL", day=dt.date(2024, 8, 1))
    page.run(wait=True)
    assert "no tick days stored for AAPL" in page.message
    assert "role='alert'" in page.status_pane.object and not page.reports


def test_range_end_before_start_is_rejected(ctx):
    page = ValidationPage(ctx=ctx, symbol="AAPL", day=DAY, end=dt.date(2024, 6, 1))
    page.run(wait=True)
    assert "end 2024-06-01 is before start 2024-07-01" in page.message  # tickdeck.core.naming.date_range


def test_symbol_without_day_defaults_to_latest_stored_day(ctx):
    store_synthetic(ctx, "AAPL", "2024-07-01", "2024-07-02", ticks=3000)
    page = ValidationPage(ctx=ctx, symbol="AAPL")
    assert page.day == dt.date(2024, 7, 2)


def test_issue_table_and_history_formatting():
    issue = Issue("continuity", HIGH, "GAP", "no trades for 1200 s; re-collect 11:00–11:20",
                  "2024-07-01T11:00:00-04:00", "2024-07-01T11:20:00-04:00", 0)
    res = ValidationResult.build("continuity", "AAPL", DAY, ["gaps"], [issue])
    df = issues_frame(res)
    assert df.iloc[0]["where"] == "11:00:00 → 11:20:00"
    report = DayReport.build("AAPL", DAY, [res])
    assert report.status == "FAIL"
    h = history_frame([HistoryEntry("continuity", "FAIL", 2, "v", pd.Timestamp("2024-07-02 10:00", tz="UTC"))])
    assert h.iloc[0]["issues"] == 2
    assert quality_rows(QualityScore("AAPL", DAY, 80.0, 90.0, 70.0, 100.0, 60.0)) == [
        ("completeness", 90.0), ("accuracy", 70.0), ("timeliness", 100.0), ("consistency", 60.0)]
