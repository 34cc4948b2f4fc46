"""Home page in Chromium against a real `tickdeck serve`: one card per stored dataset."""

import json


def test_home_cards_show_stored_symbols_with_catalog_numbers(demo_server, page, shot):
    s = demo_server
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


def test_home_with_empty_store_says_so(empty_server, page):
    s = empty_server
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
    subprocess.run([sys.executable, "-m", "tickdeck", "generate", "NVDA", "--start", "2024-07-01",
                    "--end", "2024-07-01",
                    "--ticks", "500"], env={**os.environ, "TICKDECK_DATA_DIR": str(s.data_dir), **env}, check=True,
                   capture_output=True, timeout=300)  # another process: day_written reaches the server over Redis
    page.locator('article.td-card[data-symbol="NVDA"]').wait_for(timeout=30_000)
    assert page.locator("article.td-card").count() == 3


# Every synthetic fault except the gap, on 100 trades: the validation pipeline scores this day 1/100.
BROKEN_FAULTS = "bad_prints,crossed_quotes,decreasing_volume,out_of_order,wrong_timezone,duplicates"
BROKEN_DAY = "2024-07-05"


def test_a_dataset_scored_1_is_red_and_poor_on_home_admin_and_validation(scratch_server, page, shot):
    """Issue 12: a dataset stored with quality 1 shows a red badge on home, admin and validation."""
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context
    from tickdeck.core.quality_scale import format_quality

    app = scratch_server  # FAULTY is this test's own symbol
    app.cli("generate", "FAULTY", "--start", BROKEN_DAY, "--end", BROKEN_DAY, "--faults", BROKEN_FAULTS,
            "--ticks", "100")  # scored by the real validation pipeline as the day is written
    ctx = Context.open(Settings(data_dir=app.data_dir))
    try:
        [row] = ctx.catalog.tick_days("FAULTY")
    finally:
        ctx.close()
    assert row.quality_score is not None and row.quality_score < 5  # 1.0 with today's validators
    words = f"{format_quality(row.quality_score)} / 100 (poor)"

    page.goto(app.url)
    card = page.locator('article.td-card[data-symbol="FAULTY"]')
    card.wait_for()
    assert card.get_attribute("data-status") == "bad"
    badge = card.locator(".td-badge")
    assert badge.inner_text().strip() == "✕ Poor quality"
    assert badge.evaluate("e => getComputedStyle(e).color") == "rgb(207, 34, 46)"  # red, with the text
    assert words in card.inner_text() and "100 %" not in card.inner_text()
    shot(page, "quality-1-home")

    page.goto(app.url + "admin")
    frow = page.locator(".td-frow[data-symbol='FAULTY']")
    frow.wait_for()
    assert frow.get_attribute("data-level") == "bad"
    assert "Poor quality" in frow.inner_text() and words in frow.inner_text()
    shot(page, "quality-1-admin")

    page.goto(app.url + f"validation?symbol=FAULTY&day={BROKEN_DAY}")
    status = page.locator("[data-testid='dataset-status'][data-symbol='FAULTY']")
    status.wait_for()
    assert status.get_attribute("data-level") == "bad" and "Poor quality" in status.inner_text()
    quality = page.locator("[data-testid='quality'][data-band='poor']")  # the day, validated again here
    quality.wait_for()
    assert f"Quality {format_quality(row.quality_score)} / 100 (poor)" in quality.inner_text()
    shot(page, "quality-1-validation")
