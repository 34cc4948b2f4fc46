"""Issue 15 items 12–14 in Chromium against one real ``tickdeck serve`` (module scope).

The data comes from the real producer: ``tickdeck collect`` against the IQFeed emulator over TCP,
which corrupts every 500th history line (a letter after the price), so the store holds the days
minus those lines and the catalog holds them as dead letters. Then:

* home — each card shows the last price the store has (the last stored trade), the change
  against the previous stored day, a sparkline, a coverage strip, "Updates: one-off" (the days
  were written in one run, not day after day) and the exchange (XNAS) with IQFeed as source;
  the current page is marked in the navigation;
* catalog — bar specs grouped per family, each a link to those bars in the explorer; the venue is
  the exchange; gap-calendar days link to the explorer / validation; July 4th labelled;
* dead letters — filter by symbol, inspect a row, a still-bad edit is refused by *Check*, the
  fixed line is replayed and its tick is then in the stored day.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.services_needed import free_port, stop_group
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
TICKDECK = [sys.executable, "-m", "tickdeck"]
DAYS = ("2024-07-03", "2024-07-05")  # July 4th (closed) between them
SYMBOLS = ("AAPL", "MSFT")
EVERY = 500  # the emulator corrupts every 500th history line
TICKS = 3000  # regular-session trades per emulated day: quick to collect, still some dead letters
START_TIMEOUT_S = 90
PRICE_FIELD = 3  # in "RequestID,LH,ts,last,..." (the corrupted field: "190.25x")
TICK_ID_FIELD = 8
SCREENSHOTS = ROOT / "test-output" / "screenshots"


@pytest.fixture(scope="module")
def site(tmp_path_factory, chromium_path):
    from tickdeck.core.sources.iqfeed_emulator import EmulatorFaults, EmulatorThread, IQFeedEmulator

    data_dir = tmp_path_factory.mktemp("d3") / "data"
    env = {**os.environ, "TICKDECK_DATA_DIR": str(data_dir), "TICKDECK_SECRET": "d3-test-secret"}
    for k in ("TICKDECK_SQL_URL", "TICKDECK_ARCTIC_URI", "TICKDECK_FEED_HOST", "TICKDECK_REDIS_URL"):
        env.pop(k, None)
    _ctx_of(data_dir).close()  # schema created once, before two processes open it
    port = free_port()
    log = data_dir.parent / "serve.log"
    fh = open(log, "w")
    proc = subprocess.Popen([*TICKDECK, "serve", "--port", str(port), "--no-worker"], cwd=ROOT, env=env, stdout=fh,
                            stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}/"  # the server boots while the collection runs (pages read the catalog)

    emu = IQFeedEmulator(symbols=SYMBOLS, now="2024-07-08 10:00:00", speed=1.0, ticks=TICKS, port_history=0,
                         port_l1=0, faults=EmulatorFaults(malformed_every=EVERY, malformed_kind="price"))
    with EmulatorThread(emu) as running:
        r = subprocess.run([*TICKDECK, "collect", *SYMBOLS, "--start", DAYS[0], "--end", DAYS[-1]], cwd=ROOT,
                           env={**env, "TICKDECK_FEED_PORT_HISTORY": str(running.port_history)},
                           capture_output=True, text=True, timeout=300)

    def answers():
        assert proc.poll() is None, f"tickdeck serve exited {proc.returncode}:\n{log.read_text()[-3000:]}"
        try:
            with urllib.request.urlopen(base + "login", timeout=2):
                return True
        except OSError:
            return False

    try:
        assert r.returncode == 0, r.stderr[-3000:]
        wait_for(answers, "tickdeck serve to answer", timeout=START_TIMEOUT_S, poll=0.2)
    except BaseException:
        os.killpg(proc.pid, 9)
        raise
    yield type("Site", (), {"base": base, "data_dir": data_dir, "log": log})
    stop_group(proc, fh)


def _ctx_of(data_dir):
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context

    return Context.open(Settings(data_dir=data_dir))


def _ctx(site):
    return _ctx_of(site.data_dir)


def _shots(page, name: str, ready: str) -> None:
    """Full-page screenshots at 1366 and 375 px wide (looked at by hand). Each width is loaded afresh (the
    template lays out the sidebar on load), then ``ready`` is waited for."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1366, 375):
        page.set_viewport_size({"width": width, "height": 900})
        page.reload()
        page.locator(ready).first.wait_for()
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1400, "height": 950})


def test_home_cards_show_the_stored_last_price_change_trend_coverage_and_honest_updates(site, page):
    ctx = _ctx(site)
    try:
        last = {}
        for sym in SYMBOLS:
            a, b = (ctx.store.read_day(sym, d, columns=["last"])["last"] for d in DAYS)
            last[sym] = (float(b.iloc[-1]), float(b.iloc[-1]) - float(a.iloc[-1]))
    finally:
        ctx.close()
    page.goto(site.base)
    for sym, (price, change) in last.items():
        card = page.locator(f'article.td-card[data-symbol="{sym}"]')
        card.wait_for()
        assert float(card.locator(".td-last").get_attribute("data-last")) == price  # the store's last trade
        assert card.locator(".td-last").inner_text() == f"{price:,.2f}"
        assert f"{change:+,.2f}" in card.locator(".td-change").inner_text()
        assert card.locator("svg.td-spark polyline").count() == 1  # two daily closes: a line
        assert [c.get_attribute("data-day") for c in card.locator(".td-strip .td-cell").all()] == list(DAYS)
        assert card.locator(".td-frequency").inner_text() == "one-off"  # collected in one run: not "daily"
        sub = card.locator(".td-sub").inner_text()
        assert "XNAS" in sub and "source IQFeed" in sub and "IQFEED" not in sub
    nav = page.locator("nav[aria-label='pages'] a[aria-current='page']")
    assert nav.count() == 1 and nav.inner_text() == "Home"
    _shots(page, "d3-home", "article.td-card")


def test_catalog_groups_specs_by_family_links_days_and_names_the_holiday(site, page):
    page.goto(site.base + "catalog?symbol=AAPL")
    venue = page.locator("details[data-venue='XNAS'] > summary")
    venue.wait_for()
    aapl = page.locator("details[data-symbol='AAPL']")
    summary = aapl.locator("> summary")
    assert "source IQFeed" in summary.inner_text()
    summary.click()
    families = aapl.locator("details.td-family")
    assert families.count() >= 5  # one branch per bar family the pipeline stored, not a line of specs
    time_family = aapl.locator("details.td-family[data-family='time']")
    time_family.locator("> summary").click()
    links = time_family.locator("a.td-spec")
    assert links.count() >= 2
    for a in links.all():
        spec = a.get_attribute("data-spec")
        assert spec.startswith("time:") and a.get_attribute("href") == \
            f"./explorer?symbol=AAPL&view=bars&spec={spec.replace(':', '%3A')}"
    cell = page.locator("td.present[data-day='2024-07-05'] a")
    assert cell.get_attribute("href") == "./explorer?symbol=AAPL&start=2024-07-05&end=2024-07-05"
    holiday = page.locator("td.holiday[data-day='2024-07-04']")
    assert holiday.get_attribute("data-holiday") == "July 4th" and holiday.inner_text() == "H"
    assert "2024-07-04 July 4th" in page.locator(".td-holidays").inner_text()
    nav = page.locator("nav[aria-label='pages'] a[aria-current='page']")
    assert nav.inner_text() == "Catalog"
    _shots(page, "d3-catalog", "details[data-venue]")


def test_a_dead_letter_is_fixed_and_replayed_in_the_browser_and_its_tick_is_stored(site, page):
    ctx = _ctx(site)
    try:
        letters = [r for r in ctx.catalog.dead_letters(status=None, limit=10_000) if r.symbol == "AAPL"]
    finally:
        ctx.close()
    assert letters and all(r.reason.startswith("last:") and r.status == "new" for r in letters)
    page.goto(site.base + "deadletters")
    page.get_by_role("combobox", name="Symbol").select_option("AAPL")
    count = page.locator("#td-dl-count")
    wait_for(lambda: count.inner_text().startswith(f"{len(letters):,} shown"), "the AAPL filter", timeout=30)
    page.locator(".tabulator-row").first.click()
    inspect = page.locator("[data-testid='dl-inspect']")
    inspect.wait_for()
    row = next(r for r in letters if r.id == int(inspect.get_attribute("data-id")))
    cells = row.raw.split(",")
    assert cells[PRICE_FIELD].endswith("x") and row.reason in inspect.inner_text()
    editor = page.locator("textarea")
    wait_for(lambda: editor.input_value() == row.raw, "the line in the editor", timeout=30)

    editor.fill(row.raw.replace(cells[PRICE_FIELD], cells[PRICE_FIELD] + "y"))  # still bad: refused, nothing stored
    editor.blur()
    page.get_by_role("button", name="Check line").click()
    result = page.locator("[data-testid='dl-result']")
    wait_for(lambda: result.count() and "Still refused" in result.inner_text(), "the refusal", timeout=30)
    assert result.get_attribute("data-ok") == "false"

    cells[PRICE_FIELD] = cells[PRICE_FIELD].rstrip("x")
    fixed = ",".join(cells)
    editor.fill(fixed)
    editor.blur()
    page.get_by_role("button", name="Check line").click()
    wait_for(lambda: "Parses: 1 tick(s) of AAPL" in result.inner_text(), "the check", timeout=30)
    page.get_by_role("button", name="Save & replay").click()
    wait_for(lambda: "Replayed dead letter" in result.inner_text(), "the replay", timeout=60)
    day = next(d for d in DAYS if d in cells[2])
    assert f"AAPL {day}" in result.inner_text()
    _shots(page, "d3-deadletters", "#td-dl-count")

    ctx = _ctx(site)
    try:
        stored = ctx.store.read_day("AAPL", day, columns=["tick_id", "last"])
        [after] = [r for r in ctx.catalog.dead_letters(status=None, limit=10_000) if r.id == row.id]
        audit = [a for a in ctx.catalog.audit_log(50) if a.action == "deadletter.replay"]
    finally:
        ctx.close()
    tick = stored[stored["tick_id"] == int(cells[TICK_ID_FIELD])]
    assert len(tick) == 1 and float(tick["last"].iloc[0]) == float(cells[PRICE_FIELD])  # the day now has it
    assert after.status == "replayed" and after.raw == fixed
    assert audit and audit[0].target == str(row.id)


def test_pages_have_no_horizontal_overflow_at_375(site, page):
    page.set_viewport_size({"width": 375, "height": 800})
    for path, ready in (("", "article.td-card"), ("catalog", "details[data-venue]"),
                        ("deadletters", "#td-dl-count")):
        page.goto(site.base + path)
        page.locator(ready).first.wait_for()
        over = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert over <= 1, (path, over)
    page.goto(site.base + "catalog?symbol=AAPL")
    cell = page.locator("td[data-day='2024-07-05']")  # the gap calendar wraps below the tree, not clipped
    cell.wait_for()
    box = cell.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 375, box

