"""The explorer in depth, as a researcher uses it in Chromium against one real ``tickdeck serve``
over the generated demo days (AAPL, MSFT, 2024-07-01..03): wheel zoom and its floor, the grid's
tick detail, bar controls that follow the URL.

One server for the module (started once, ~10 s), a fresh browser page per journey.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from services_needed import free_port, stop_group

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 90

X_RANGE = """() => { for (const d of Bokeh.documents) { const r = d.get_model_by_name('td-x-range');
  if (r) return [r.start, r.end]; } return null; }"""
SHOWN = """() => { for (const d of Bokeh.documents) { const i = d.get_model_by_name('td-price-image');
  if (i) { const l = d.get_model_by_name('td-price-line'); const n = d.get_model_by_name('td-chart-note');
    const t = l.data.time, r = d.get_model_by_name('td-x-range');
    let inside = 0; for (const v of t) if (v >= r.start && v <= r.end) inside++;
    return {image: i.data.image.length, line: t.length, inside: inside, note: n.visible ? n.text : '',
            covers: t.length > 0 && t[0] <= r.start && t[t.length - 1] >= r.end}; } }
  return null; }"""
PRICE_CANVAS = """() => { let best = null; const walk = (r) => { for (const el of r.querySelectorAll('*')) {
  if (el.tagName === 'CANVAS' && !best) { const b = el.getBoundingClientRect();
    if (b.height > 250) best = [b.x, b.y, b.width, b.height]; }
  if (el.shadowRoot) walk(el.shadowRoot); } }; walk(document); return best; }"""


@pytest.fixture(scope="module")
def served(tmp_path_factory, demo_data, chromium_path):
    """``tickdeck serve`` over a copy of the demo data, shared by this module's journeys."""
    data_dir = tmp_path_factory.mktemp("depth") / "data"
    shutil.copytree(demo_data, data_dir)
    port = free_port()
    log = data_dir.parent / "serve.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "tickdeck", "serve", "--port", str(port)], cwd=ROOT,
                                stdout=fh, stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, "TICKDECK_DATA_DIR": str(data_dir),
                                     "TICKDECK_SECRET": "browser-test-secret"})
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        assert proc.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        try:
            with urllib.request.urlopen(url + "login", timeout=2):
                break
        except urllib.error.HTTPError:
            break
        except OSError:
            time.sleep(0.2)  # polling interval while the server boots, not a wait for a condition
    yield url
    stop_group(proc)


@pytest.fixture(autouse=True)
def _patient(page):
    """Waits are on conditions; on a loaded 2-core machine a cold Panel session can take over a minute."""
    page.set_default_timeout(150_000)


def _text(locator) -> str:
    """The text a Panel pane shows (it lives in the pane's shadow root)."""
    return locator.evaluate("e => (e.shadowRoot || e).textContent").strip()


def _open_tab(page, url: str, tab: str) -> None:
    """Open the explorer on a selection, wait for it to load, then click one of its tabs."""
    page.goto(url)
    _summary(page, r"AAPL · 2024-07-02 · regular session · [\d,]+ ticks")
    page.locator(".bk-tab", has_text=tab).click()


def _open_linked_tab(page, url: str, tab: str) -> None:
    """Open the explorer from a link naming the tab (``&tab=table``): it lands there, no click."""
    page.goto(f"{url}&tab={tab}")
    _summary(page, r"AAPL · 2024-07-02 · regular session · [\d,]+ ticks")
    page.locator(".bk-tab.bk-active", has_text=tab.capitalize()).wait_for()


def _summary(page, pattern):
    page.locator(".td-summary", has_text=re.compile(pattern)).wait_for()


def test_wheel_zooms_at_once_down_to_a_floor_that_still_shows_ticks_or_says_none(served, page, shot):
    page.goto(served + "explorer?symbol=AAPL&start=2024-07-02&session=regular")
    _summary(page, r"AAPL · 2024-07-02 · regular session · [\d,]+ ticks")
    page.wait_for_function(SHOWN)
    x0, x1 = page.evaluate(X_RANGE)
    x, y, w, h = page.evaluate(PRICE_CANVAS)
    page.mouse.move(x + w / 2, y + h / 2)
    page.mouse.wheel(0, -300)  # no tool clicked first: wheel zoom is active by default
    page.wait_for_function(f"() => {{ const r = ({X_RANGE})(); return r && r[1] - r[0] < {x1 - x0}; }}")
    for _ in range(15):
        page.mouse.wheel(0, -300)
    # settled: raw ticks (no image) cover the window the browser shows, and the message matches them
    page.wait_for_function(f"""() => {{ const s = ({SHOWN})();
      return s && s.image === 0 && s.covers && ((s.inside > 0) === (s.note === '')); }}""")
    lo, hi = page.evaluate(X_RANGE)
    assert 10 - 1e-6 <= hi - lo < 1_000  # ms: 15 notches reach below a second, never below the 10 ms floor
    shown = page.evaluate(SHOWN)
    if shown["inside"] == 0:  # nothing traded inside the window: the user is told so, above the chart
        page.locator(".td-chart-note", has_text="No ticks in view").wait_for()
    else:
        assert page.locator(".td-chart-note", has_text="No ticks in view").count() == 0
    shot(page, "explorer-zoom-floor")


def test_grid_shows_microsecond_times_plain_ids_session_names_and_filters_by_time(served, page, shot):
    _open_linked_tab(page, served + "explorer?symbol=AAPL&start=2024-07-02&session=regular", "table")
    rows = page.locator(".td-row-count", has_text=re.compile(r"^\s*[\d,]+ ticks\s*$"))
    rows.wait_for()
    total = int(_text(rows).split()[0].replace(",", ""))
    page.locator(".tabulator-row").first.wait_for()
    times = page.locator('.tabulator-cell[tabulator-field="time (ET)"]').all_inner_texts()[:5]
    assert all(re.fullmatch(r"2024-07-02 \d\d:\d\d:\d\d\.\d{6}", t) for t in times), times
    assert len(set(times)) == len(times)  # the first rows at the open are distinguishable
    ids = page.locator('.tabulator-cell[tabulator-field="tick_id"]').all_inner_texts()[:5]
    assert ids and all(re.fullmatch(r"\d+", i) for i in ids), ids  # no thousands separators
    assert set(page.locator('.tabulator-cell[tabulator-field="session"]').all_inner_texts()) == {"regular"}
    shot(page, "explorer-table-detail")

    page.get_by_label("From (ET)").fill("10:00")
    page.get_by_label("From (ET)").press("Enter")
    page.get_by_label("To, before (ET)").fill("10:30")
    page.get_by_label("To, before (ET)").press("Enter")
    filtered = page.locator(".td-row-count", has_text="(10:00 – 10:30 ET)")
    filtered.wait_for()
    shown = int(_text(filtered).split()[0].replace(",", ""))
    assert 0 < shown < total and f"of {total:,} ticks" in _text(filtered)
    page.locator('.tabulator-cell[tabulator-field="time (ET)"]', has_text="2024-07-02 10:0").first.wait_for()
    first = page.locator('.tabulator-cell[tabulator-field="time (ET)"]').first.inner_text()
    assert "10:00:00" <= first[11:] < "10:30:00"

    page.get_by_label("To, before (ET)").fill("10:75")
    page.get_by_label("To, before (ET)").press("Enter")
    page.locator(".td-row-count", has_text="not a time of day").wait_for()


def test_bar_controls_follow_the_link_disable_in_tick_view_and_explain_a_bad_spec(served, page, shot):
    page.goto(served + "explorer?symbol=AAPL&start=2024-07-02&view=bars&spec=renko:0.05")
    _summary(page, r"bars of renko:0.05")
    family = page.get_by_role("combobox", name="Bar type")
    assert family.input_value() == "renko"  # not "time"
    spec = page.get_by_label("Bar spec")
    assert spec.is_enabled()
    spec.fill("renko:abc")
    spec.press("Enter")
    page.locator(".td-spec-note", has_text="renko needs a number").wait_for()
    shot(page, "explorer-bad-spec")
    page.get_by_role("button", name="ticks", exact=True).click()
    _summary(page, r"[\d,]+ ticks")
    expect(page.get_by_label("Bar spec")).to_be_disabled()
    expect(page.get_by_role("textbox", name="SMA", exact=True)).to_be_disabled()


def test_export_tab_says_rows_and_size_before_the_download(served, page, shot):
    _open_linked_tab(page, served + "explorer?symbol=AAPL&start=2024-07-02&session=regular", "export")
    preview = re.compile(r"[\d,]+ rows × 43 columns · about [\d.,]+ [KM]?B as CSV")
    info = page.locator(".td-export-info", has_text=preview)
    info.wait_for()
    rows = int(_text(info).split()[0].replace(",", ""))
    _summary(page, rf"regular session · {rows:,} ticks")  # the rows the selection holds
    page.get_by_role("button", name="parquet", exact=True).click()
    page.locator(".td-export-info", has_text="as PARQUET").wait_for()
    shot(page, "explorer-export-preview")


def test_analysis_tab_shows_volume_profile_and_spreads(served, page, shot):
    _open_tab(page, served + "explorer?symbol=AAPL&start=2024-07-02&session=regular", "Analysis")
    page.locator(".td-analysis-note", has_text=re.compile(r"AAPL · 2024-07-02 · regular session")).wait_for()
    page.wait_for_function("""() => { let n = 0; for (const d of Bokeh.documents) for (const m of d.all_models)
      if (m.title && m.title.text && /Volume profile · POC|Spread over time|Spread distribution/.test(m.title.text))
        n++; return n >= 3; }""")
    shot(page, "explorer-analysis")


# -- trading time, tabs from the link, phones ---------------------------------------------------------
THREE_DAYS = "explorer?symbol=AAPL&start=2024-07-01&end=2024-07-03"
HOUR_MS = 3_600_000
# the widest stretch of the time axis without any traded volume, and the axis' whole width (ms)
AXIS_GAPS = """() => { for (const d of Bokeh.documents) { const r = d.get_model_by_name('td-x-range');
  if (!r) continue; const v = d.get_model_by_name('td-volume'), t = v.data.time, c = d.get_model_by_name('td-clock');
  let gap = 0; for (let i = 1; i < t.length; i++) gap = Math.max(gap, t[i] - t[i - 1]);
  return {gap: gap, width: r.end - r.start, n: t.length, segments: c.data.ts.length,
          seams: d.get_model_by_name('td-seams').data.x.length}; } return null; }"""
FORMAT = """(ticks) => { for (const d of Bokeh.documents) { const f = d.get_model_by_name('td-trading-format');
  if (f) return f.doFormat(ticks, {loc: 0}); } return null; }"""


def test_three_days_on_trading_time_have_no_night_gaps_and_read_real_times(served, page, shot):
    from tickdeck.core.trading_time import trading_clock

    page.goto(served + THREE_DAYS)
    _summary(page, r"AAPL · 2024-07-01 → 2024-07-03 · all session · [\d,]+ ticks")
    page.wait_for_function(f"() => {{ const a = ({AXIS_GAPS})(); return a && a.n > 0 && a.seams === 2; }}")
    trading = page.evaluate(AXIS_GAPS)
    # the two nights are gone: no stretch without trades as long as the 8 h between 20:00 and 04:00
    assert trading["segments"] == 3 and trading["gap"] < HOUR_MS, trading
    assert trading["width"] <= (16 + 16 + 13) * HOUR_MS + HOUR_MS  # three sessions, the 3rd's closing at 17:00
    shot(page, "explorer-trading-time")
    # the axis labels read the real ET time: 5.5 h after the first seam is Tuesday 09:30
    seam = int(trading_clock("2024-07-01", "2024-07-03", "all").seams[0] // 1_000_000)
    labels = page.evaluate(FORMAT, [seam + 5.5 * HOUR_MS, seam + 6.5 * HOUR_MS])
    assert labels == ["Tue 07/02 09:30", "10:30"], labels
    # hours apart across days, every label names its day (a narrow axis hides some: "16:00" alone is ambiguous)
    labels = page.evaluate(FORMAT, [seam - 4 * HOUR_MS, seam + 4 * HOUR_MS, seam + 12 * HOUR_MS])
    assert labels == ["Mon 07/01 16:00", "Tue 08:00", "Tue 16:00"], labels
    # and so does the hover: far right on the axis is Wednesday, inside its session
    x, y, w, h = page.evaluate(PRICE_CANVAS)
    page.mouse.move(x + 0.9 * w, y + h / 2)
    tip = page.locator(".bk-tooltip-content", has_text="price").first
    tip.wait_for()
    when = re.search(r"(2024-\d\d-\d\d) (\d\d):(\d\d):\d\d\.\d{3}", tip.inner_text())
    assert when and when.group(1) == "2024-07-03" and "04" <= when.group(2) < "17", tip.inner_text()
    # the toggle puts the nights back
    page.get_by_role("button", name="Clock time", exact=True).click()
    page.wait_for_function(f"() => {{ const a = ({AXIS_GAPS})(); return a && a.n > 0 && a.segments === 0; }}")
    clock = page.evaluate(AXIS_GAPS)
    assert clock["gap"] >= 8 * HOUR_MS and clock["seams"] == 0, clock
    assert "axis=clock" in page.url
    shot(page, "explorer-clock-time")


def test_phone_folds_the_controls_behind_a_button_and_shows_the_chart_first(served, browser, shot):
    from axe_playwright_python.sync_playwright import Axe

    ctx = browser.new_context(viewport={"width": 375, "height": 800})
    ctx.set_default_timeout(150_000)
    page = ctx.new_page()
    page.goto(served + "explorer?symbol=AAPL&start=2024-07-01&end=2024-07-02")  # enough ticks for an image
    _summary(page, r"AAPL · 2024-07-01 → 2024-07-02 · all session · [\d,]+ ticks")
    toggle = page.get_by_role("button", name="Show controls")
    expect(toggle).to_be_visible()
    symbol = page.get_by_role("combobox", name="Symbol")
    expect(symbol).to_be_hidden()
    page.wait_for_function(f"() => ({PRICE_CANVAS})() !== null")
    x, y, w, h = page.evaluate(PRICE_CANVAS)
    assert y < 800 and w > 0.85 * 375  # the chart is on the first screen, full width
    # the price image is drawn at the plot's own width (not 1,100 px squeezed: a thin line would lose columns)
    page.wait_for_function("""() => { for (const d of Bokeh.documents) {
      const i = d.get_model_by_name('td-price-image');
      if (i && i.data.image.length) return i.data.image[0].shape[1] <= 375; } return false; }""")
    violations = [v for v in Axe().run(page, options={"runOnly": {"type": "tag", "values": [
        "wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}).response["violations"] if v["impact"] in ("serious", "critical")]
    assert violations == [], [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in violations]
    shot(page, "phone-explorer-folded")
    toggle.click()
    expect(symbol).to_be_visible()
    expect(page.get_by_role("button", name="Hide controls")).to_be_visible()
    shot(page, "phone-explorer-controls")
    ctx.close()
