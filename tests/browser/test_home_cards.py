"""Home page in Chromium against a real `tickdeck serve`: one card per stored dataset."""

import json


def test_home_cards_show_stored_symbols_with_catalog_numbers(app_server, page, shot):
    s = app_server()
    datasets = {d["symbol"]: d for d in json.loads(s.cli("catalog", "--json").stdout)}
    assert set(datasets) == {"AAPL", "MSFT"}
    page.goto(s.url)
    cards = page.locator("article.td-card")
    cards.first.wait_for()
    assert cards.count() == 2
    for sym, d in datasets.items():
        card = page.locator(f'article.td-card[data-symbol="{sym}"]')
        text = card.inner_text()
        assert sym in text
        assert f"{d['ticks']:,}" in text  # data points read from the catalog, not made up
        assert d["first_day"] in text and d["last_day"] in text
    shot(page, "home")


def test_home_with_empty_store_says_so(app_server, page):
    s = app_server(data=False)
    page.goto(s.url)
    page.get_by_text("No datasets").first.wait_for()
    assert page.locator("article.td-card").count() == 0
