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


def test_home_shows_a_dataset_written_by_another_process(app_server, page, redis_url):
    import os
    import subprocess
    import sys

    env = {"TICKDECK_REDIS_URL": redis_url}
    s = app_server(env=env)
    page.goto(s.url)
    page.locator("article.td-card").first.wait_for()
    assert page.locator('article.td-card[data-symbol="NVDA"]').count() == 0
    subprocess.run([sys.executable, "-m", "app.cli", "generate", "NVDA", "--start", "2024-07-01", "--end", "2024-07-01",
                    "--ticks", "500"], env={**os.environ, "TICKDECK_DATA_DIR": str(s.data_dir), **env}, check=True,
                   capture_output=True, timeout=300)  # another process: day_written reaches the server over Redis
    page.locator('article.td-card[data-symbol="NVDA"]').wait_for(timeout=30_000)
    assert page.locator("article.td-card").count() == 3
