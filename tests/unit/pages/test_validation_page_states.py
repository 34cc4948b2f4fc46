"""ValidationPage's honest states: prefilled form, market closed, unknown symbol, PASS with notes.

Real ctx, real synthetic days from the generator (which follows the XNYS calendar), the real
validation service; what is asserted is the text the page shows.
"""

from __future__ import annotations

import datetime as dt

from builders import store_synthetic

from tickdeck.core.quality_report import MarketClosed, UnknownSymbol, days_to_validate
from tickdeck.pages.validation_page import ValidationPage


def test_an_empty_form_is_prefilled_with_the_latest_dataset_and_day_without_running(ctx):
    store_synthetic(ctx, "AAPL", "2024-07-01", "2024-07-02", ticks=2000)
    store_synthetic(ctx, "MSFT", "2024-07-08", "2024-07-10", ticks=2000)  # written last
    page = ValidationPage(ctx=ctx)
    assert (page.symbol, page.day) == ("MSFT", dt.date(2024, 7, 10))
    assert page.symbol_input.value == "MSFT" and page.day_input.value == dt.date(2024, 7, 10)
    assert not page.reports and "latest dataset, MSFT" in page.status_pane.object
    page.run(wait=True)
    assert list(page.reports) == [dt.date(2024, 7, 10)]


def test_an_empty_store_leaves_the_form_empty(ctx):
    page = ValidationPage(ctx=ctx)
    assert page.symbol == "" and page.day is None
    page.run(wait=True)
    assert "enter a symbol" in page.message


def test_a_holiday_says_the_market_was_closed_with_the_holidays_name(ctx):
    store_synthetic(ctx, "AAPL", "2024-07-01", "2024-07-05", ticks=2000)
    page = ValidationPage(ctx=ctx, symbol="AAPL", day=dt.date(2024, 7, 4))
    page.run(wait=True)
    assert "market (XNYS) was closed on Thu 2024-07-04 (July 4th)" in page.message
    assert "role='alert'" in page.status_pane.object and not page.reports
    page.day = dt.date(2024, 11, 28)
    page.run(wait=True)
    assert "closed on Thu 2024-11-28 (Thanksgiving)" in page.message
    page.day = dt.date(2024, 7, 6)
    page.run(wait=True)
    assert "closed on Sat 2024-07-06 (weekend)" in page.message


def test_an_unknown_symbol_is_told_apart_from_a_missing_day(ctx):
    store_synthetic(ctx, "AAPL", "2024-07-01", "2024-07-02", ticks=2000)
    page = ValidationPage(ctx=ctx, symbol="ZZZZ", day=dt.date(2024, 7, 1))
    page.run(wait=True)
    unknown = page.message
    assert unknown.startswith("unknown symbol ZZZZ: no data is stored for it (stored symbols: AAPL)")
    page.symbol, page.day = "AAPL", dt.date(2024, 8, 1)
    page.run(wait=True)
    missing = page.message
    assert missing.startswith("no tick days stored for AAPL on 2024-08-01 (stored: 2024-07-01 … 2024-07-02")
    assert "unknown" not in missing and "closed" not in missing
    page.symbol, page.day = "ZZZZ", None  # a symbol alone (as from a URL): still named unknown
    page.run(wait=True)
    assert page.message.startswith("unknown symbol ZZZZ")


def test_days_to_validate_raises_distinct_errors(ctx):
    store_synthetic(ctx, "AAPL", "2024-07-01", "2024-07-03", ticks=2000)
    assert days_to_validate(ctx, "aapl", "2024-07-01", "2024-07-05") == [dt.date(2024, 7, d) for d in (1, 2, 3)]
    for sym, day, err in (("ZZZZ", "2024-07-01", UnknownSymbol), ("AAPL", "2024-07-04", MarketClosed)):
        try:
            days_to_validate(ctx, sym, day)
        except err as e:
            assert e.symbol == sym
        else:
            raise AssertionError(f"{sym} {day} did not raise {err.__name__}")


def test_a_pass_with_low_issues_reads_pass_with_notes_not_no_problem_found(ctx):
    store_synthetic(ctx, "AAPL", "2024-07-03", "2024-07-03", ticks=3000)  # the 13:00 early close
    page = ValidationPage(ctx=ctx, symbol="AAPL", day=dt.date(2024, 7, 3))
    page.run(wait=True)
    report = page.reports[dt.date(2024, 7, 3)]
    notes = report.issues
    assert report.status == "PASS" and notes and {i.severity for i in notes} == {"LOW"}
    header = page.detail.objects[0].object
    plural = "s" if len(notes) != 1 else ""
    assert f"Overall PASS with {len(notes)} low-severity note{plural}" in header
    assert "no problem found" not in header and f"{len(notes)} issue{plural} ({len(notes)} LOW)" in header
    with_note = next(r for r in report.results if r.issues)
    card = page.validator_cards[with_note.validator].objects[0].objects[0].object
    n = len(with_note.issues)
    assert f"PASS with {n} low-severity note{'s' if n != 1 else ''}" in card and "no problem found" not in card
    clean = next(r for r in report.results if r.status == "PASS" and not r.issues)
    assert "PASS — no problem found" in page.validator_cards[clean.validator].objects[0].objects[0].object
    assert page.quality.completeness == 100.0  # the half day is complete
