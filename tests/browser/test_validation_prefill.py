"""Validation page in Chromium: the form starts prefilled, a holiday and an unknown symbol say so.

A real ``tickdeck serve`` on generated days; the last dataset written is the one offered.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def _message(page, text: str):
    msg = page.locator("[data-testid='validation-message']", has_text=text)
    msg.wait_for()
    return msg.inner_text()


def test_form_is_prefilled_with_the_latest_dataset_and_day_and_validates_it(scratch_server, page, shot):
    app = scratch_server  # NVDA is this test's own, written last just below
    app.cli("generate", "NVDA", "--start", "2024-07-08", "--end", "2024-07-09", "--ticks", "5000")
    page.goto(app.url + "validation")
    _message(page, "Filled in the latest dataset, NVDA, and its last stored day, 2024-07-09")
    assert page.get_by_label("Symbol").input_value() == "NVDA"
    assert "overall-status" not in page.content()  # prefilled, not run
    shot(page, "validation-prefilled")
    page.get_by_role("button", name="Validate").click()
    overall = page.locator("[data-testid='overall-status']")
    overall.wait_for()
    assert "NVDA · 2024-07-09" in page.locator("h3", has=overall).inner_text()


def test_a_holiday_and_an_unknown_symbol_each_say_what_is_wrong(demo_server, page, shot):
    app = demo_server
    page.goto(app.url + "validation?symbol=AAPL&day=2024-07-04")
    text = _message(page, "was closed")
    assert "the market (XNYS) was closed on Thu 2024-07-04 (July 4th)" in text
    shot(page, "validation-holiday")
    page.goto(app.url + "validation?symbol=ZZZZ")
    text = _message(page, "unknown symbol")
    assert text.startswith("Error unknown symbol ZZZZ") or "unknown symbol ZZZZ: no data is stored" in text
    assert "AAPL" in text and "closed" not in text
    shot(page, "validation-unknown-symbol")
