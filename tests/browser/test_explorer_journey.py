"""Journeys through home, explorer and catalog in Chromium against a real ``tickdeck serve``."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser


def _summary(page):
    return page.locator(".td-summary")


def test_browse_cards_view_data_change_bar_type_export_csv(demo_server, page, shot, tmp_path):
    app = demo_server
    page.goto(app.url)
    card = page.locator('article.td-card[data-symbol="AAPL"]')
    card.wait_for()
    assert page.locator("article.td-card").count() == 2
    assert card.locator(".td-badge").inner_text().strip() != ""  # a text label, not only a colour
    import json

    ticks = {d["symbol"]: d["ticks"] for d in json.loads(app.cli("catalog", "--json").stdout)}
    assert f"{ticks['AAPL']:,}" in card.inner_text()  # data points from the catalog
    page.get_by_label("Search datasets").fill("MSF")
    page.get_by_label("Search datasets").press("Enter")
    page.locator("#td-count", has_text="1 dataset").wait_for()
    page.get_by_label("Search datasets").fill("")
    page.get_by_label("Search datasets").press("Enter")
    card.wait_for()
    shot(page, "home")

    card.locator("a.td-view").click()
    page.wait_for_url(re.compile(r"/explorer\?symbol=AAPL"))
    _summary(page).filter(has_text=re.compile(r"AAPL · 2024-07-03 · all session · [\d,]+ ticks")).wait_for()
    page.locator(".bk-Canvas, canvas").first.wait_for()
    shot(page, "explorer-ticks")

    page.get_by_role("combobox", name="Bar type").select_option("volume")
    _summary(page).filter(has_text="bars of volume").wait_for()
    page.wait_for_url(re.compile(r"spec=volume"))
    shot(page, "explorer-bars")

    page.get_by_role("button", name="ticks", exact=True).click()
    _summary(page).filter(has_text="ticks").wait_for()
    page.locator(".bk-tab", has_text="Table").click()
    page.locator(".tabulator-row").first.wait_for()
    assert page.locator(".tabulator-row").count() <= 50  # remote pagination: one page in the browser
    shot(page, "explorer-table")

    page.locator(".bk-tab", has_text="Export").click()
    with page.expect_download(timeout=120_000) as dl_info:
        page.get_by_role("button", name="Download CSV").click()
    dl = dl_info.value
    assert "AAPL" in dl.suggested_filename and dl.suggested_filename.endswith(".csv")
    path = tmp_path / dl.suggested_filename
    dl.save_as(path)
    lines = path.read_text().splitlines()
    assert lines[0].startswith("timestamp,") and "last" in lines[0].split(",")
    assert len(lines) > 1_000


def test_catalog_page_shows_tree_and_gap_calendar(demo_server, page, shot):
    app = demo_server
    page.goto(app.url + "catalog?symbol=MSFT")
    page.locator('details[data-symbol="AAPL"]').wait_for()
    page.locator('td.present[data-day="2024-07-02"]').wait_for()
    assert page.locator("td.present").count() == 3
    assert page.locator("td.missing").count() == 0
    assert "Coverage of MSFT" in page.locator("h3", has_text="Coverage").inner_text()
    shot(page, "catalog")
