"""Issue 15, item 17: an error about the validation form goes once the user fixes what it was about."""

from __future__ import annotations

import datetime as dt


def test_validation_error_clears_when_the_form_changes(ctx):
    from builders import store_synthetic

    from tickdeck.pages.validation_page import ValidationPage

    store_synthetic(ctx, "AAPL", "2024-07-01", "2024-07-01", ticks=300)
    page = ValidationPage(ctx=ctx, autorun=False)
    page.symbol = " "  # the user cleared the prefilled symbol
    page.run()
    assert "role='alert'" in page.status_pane.object and "enter a symbol" in page.status_pane.object
    page.symbol = "AAPL"
    assert "role='alert'" not in page.status_pane.object and "enter a symbol" not in page.status_pane.object
    page.day = dt.date(2024, 7, 1)  # no error shown: nothing to clear, the form's hint stays
    assert "role='alert'" not in page.status_pane.object
