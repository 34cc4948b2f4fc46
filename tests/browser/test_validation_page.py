"""Validation page in Chromium: a day with an injected gap is flagged by the continuity validator."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

GAP_DAY = "2024-07-05"


def test_validate_day_with_injected_gap_shows_it_flagged(scratch_server, page, shot):
    app = scratch_server  # the gap day is this test's own
    app.cli("generate", "AAPL", "--start", GAP_DAY, "--end", GAP_DAY, "--faults", "gaps", "--ticks", "20000")
    page.goto(app.url + f"validation?symbol=AAPL&day={GAP_DAY}")
    cont = page.locator("section[data-validator='continuity']")
    cont.wait_for()
    assert cont.get_attribute("data-status") == "FAIL"
    assert "FAIL — needs fixing" in cont.inner_text()  # the status is spelled out, not only coloured
    gap_row = page.locator("tr.td-issue[data-code='GAP']").first
    gap_row.wait_for()
    text = gap_row.inner_text()
    assert "HIGH" in text and "10:5" in text and "11:20" in text
    message = gap_row.locator("xpath=following-sibling::tr[1]").inner_text()
    assert "gap" in message.lower() and "Backfill" in message  # the message says what to do
    assert "Overall FAIL" in page.locator("[data-testid='overall-status']").inner_text()
    for v in ("session", "timezone"):
        assert page.locator(f"section[data-validator='{v}']").get_attribute("data-status") == "PASS"
    assert "Continuity ✖ FAIL" in page.locator("[data-testid='validator-overview']").inner_text()
    shot(page, "validation-gap-day")
    timeline = page.locator("text=Timeline of located issues")
    timeline.scroll_into_view_if_needed()
    page.locator(".bk-Canvas, canvas").first.wait_for()
    shot(page, "validation-gap-day-timeline")


def test_validate_form_reports_missing_day_readably(demo_server, page, shot):
    app = demo_server
    page.goto(app.url + "validation?symbol=AAPL&day=2024-08-01")
    msg = page.locator("[data-testid='validation-message']", has_text="no tick days stored for AAPL")
    msg.wait_for()
    page.get_by_role("button", name="Validate").wait_for()
    shot(page, "validation-missing-day")
