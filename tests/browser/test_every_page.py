"""Every page against one real ``tickdeck serve`` (demo data, no users: the local admin sees all pages):
as a phone shows it, as assistive technology reads it, and the monitor's layout and clock (issue 15,
items 11, 15 and 17).

* At 375 px wide, on every page: the sidebar starts collapsed, nothing overflows sideways (neither
  the document nor the page region), no request leaves the server's origin, no page error, and
  axe-core (``axe-playwright-python``) finds no serious or critical violation; the explorer's chart
  takes the screen's width.
* Keyboard and labels: a typed date is taken, clicking a checkbox's label toggles it, focus is visible.
* The monitor: Start/Stop first, the mode toggle labelled and "Completed days" only in history mode,
  sparklines with a peak instead of a percentage, human-readable storage, a header spinner at rest
  while nothing loads, and the session badge on the demo feed's clock (``TICKDECK_DEMO_NOW``).
"""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from page_watch import watch
from tickdeck.app.routes import ROUTES

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 800}
DESKTOP = {"width": 1366, "height": 900}
PAGE_READY = ".bk-panel-models-layout-Column, .bk-Column"
DEMO_NOW = "2024-07-03 10:00:00"  # a Wednesday in the regular session: the demo feed's emulated clock
PAGES = [r.slug for r in ROUTES] + ["explorer?symbol=AAPL"]
# the WCAG 2.1 A and AA rules (axe's best-practice rules are moderate or minor: landmarks, headings)
AXE_OPTIONS = {"resultTypes": ["violations"], "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a",
                                                                                      "wcag21aa"]}}

# the widest canvas (the explorer's price chart), walking shadow roots
WIDEST_CANVAS = """() => { let w = 0; const walk = (r) => { for (const el of r.querySelectorAll('*')) {
  if (el.tagName === 'CANVAS') w = Math.max(w, el.getBoundingClientRect().width);
  if (el.shadowRoot) walk(el.shadowRoot); } }; walk(document); return w; }"""
OVERFLOW = """() => { const m = document.getElementById('main');
  return {doc: document.documentElement.scrollWidth, inner: innerWidth,
          main: m ? m.scrollWidth : 0, mainClient: m ? m.clientWidth : 0}; }"""
# the page template's accessibility pass ran after the page rendered (app/templates/page.html)
A11Y_PASSED = "() => Number(document.documentElement.getAttribute('data-td-a11y') || 0) >= 2"
IN_SHADOW = """(sel) => { const out = []; const walk = (r) => { for (const el of r.querySelectorAll('*')) {
  if (el.matches(sel)) out.push(el); if (el.shadowRoot) walk(el.shadowRoot); } }; walk(document); return out; }"""


@pytest.fixture(scope="module")
def served(module_app_server):
    return module_app_server(env={"TICKDECK_DEMO_NOW": DEMO_NOW, "TICKDECK_DEMO_SPEED": "1"})


def _open(page, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.locator(PAGE_READY).first.wait_for()
    page.wait_for_function(A11Y_PASSED)


def _context(browser, viewport):
    ctx = browser.new_context(viewport=viewport)
    ctx.set_default_timeout(60_000)
    return ctx


@pytest.fixture(scope="module")
def phone(served, browser):
    """One 375 px tab for all pages, with the page errors and off-origin requests it saw."""
    ctx = _context(browser, PHONE)
    page = ctx.new_page()
    errors, foreign = watch(page, urlparse(served.url).netloc)
    yield page, errors, foreign
    ctx.close()


@pytest.mark.parametrize("slug", PAGES)
def test_every_page_fits_a_phone_stays_on_its_origin_and_passes_axe(served, phone, slug, shot):
    from axe_playwright_python.sync_playwright import Axe

    page, errors, foreign = phone
    errors.clear()
    foreign.clear()
    name = slug.split("?")[0] or "home"
    problems: list[str] = []
    _open(page, served.url + slug)
    if slug.startswith("explorer?"):
        page.wait_for_function(f"() => ({WIDEST_CANVAS})() > 0")
        width = page.evaluate(WIDEST_CANVAS)
        if width < 0.85 * PHONE["width"]:
            problems.append(f"the chart is {width:.0f} px wide on a {PHONE['width']} px screen")
    if "hidden" not in (page.locator("#sidebar").get_attribute("class") or ""):
        problems.append(f"the sidebar is open at {PHONE['width']} px")
    o = page.evaluate(OVERFLOW)
    if o["doc"] > o["inner"] or o["main"] > o["mainClient"]:
        problems.append(f"overflows sideways {o}")
    for v in Axe().run(page, options=AXE_OPTIONS).response["violations"]:
        if v["impact"] in ("serious", "critical"):
            targets = [n["target"][-1] for n in v["nodes"]][:3]
            problems.append(f"axe {v['id']} ({v['impact']}) {v['help']} at {targets}")
    shot(page, f"phone-{name}" + ("-chart" if "?" in slug else ""))
    assert problems == [], "\n".join(problems)
    assert foreign == [] and errors == []


def test_typed_dates_checkbox_labels_and_focus_rings(served, browser):
    ctx = _context(browser, DESKTOP)
    page = ctx.new_page()
    _open(page, served.url + "validation")
    # a typed day is taken (the field is not read-only), the server's widget gets it
    day = page.get_by_label("Day (or first day)")
    assert day.get_attribute("readonly") is None
    day.fill("2024-07-02")
    day.press("Enter")
    page.wait_for_function("""() => { for (const d of Bokeh.documents) for (const m of d.all_models)
      if (m.type.endsWith('DatetimePicker') && m.title === 'Day (or first day)') return m.value === '2024-07-02';
      return false; }""")
    # clicking the checkbox's label toggles the box
    box = page.get_by_role("checkbox", name="Use cached results")
    before = box.is_checked()
    page.get_by_text("Use cached results", exact=True).click()
    page.wait_for_function(f"""() => {{ for (const d of Bokeh.documents) for (const m of d.all_models)
      if (m.type === 'Checkbox' && m.label === 'Use cached results') return m.active === {str(not before).lower()};
      return false; }}""")
    assert box.is_checked() is (not before)
    # keyboard focus is drawn: the navigation's links get an outline
    link = page.locator("nav[aria-label='pages'] a").first
    link.focus()
    page.keyboard.press("Tab")
    page.keyboard.press("Shift+Tab")
    style = page.evaluate("""() => { let el = document.activeElement;
      while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
      const s = getComputedStyle(el); return [el.tagName, s.outlineStyle, s.outlineWidth]; }""")
    assert style[0] == "A" and style[1] != "none" and style[2] != "0px", style
    ctx.close()


def test_monitor_controls_first_demo_clock_sparklines_and_storage(served, browser, shot):
    ctx = _context(browser, DESKTOP)
    page = ctx.new_page()
    _open(page, served.url + "monitor")
    badge = page.get_by_test_id("session-status")
    assert "Regular session" in badge.inner_text()  # the demo feed's clock (10:00 ET on a Wednesday), not the wall's
    start = page.get_by_role("button", name="Start collection").bounding_box()
    feed = page.get_by_text("Feed connection", exact=True).bounding_box()
    assert start["y"] < feed["y"]  # Start/Stop come first
    # the mode toggle is labelled; "Completed days" applies to history only
    assert page.get_by_text("What to collect").is_visible()
    days = page.get_by_role("textbox", name="Completed days")
    assert days.is_visible()
    page.get_by_label("Live: today's session").check()
    days.wait_for(state="hidden")
    page.get_by_label("History: completed days").check()
    days.wait_for(state="visible")
    # sparklines name their value with the window's peak (a y-axis, no "▼-100 %" change)
    page.wait_for_function("""() => { for (const d of Bokeh.documents) for (const m of d.all_models)
      if (m.type === 'Title' && (m.text || '').startsWith('Ticks per second: ')) return m.text.includes('peak');
      return false; }""")
    assert page.get_by_text("%", exact=False).filter(has_text="▼").count() == 0
    # storage sizes are human-readable: the raw byte count is not a column
    sizes = page.locator(".tabulator").filter(has_text="library").first
    assert sizes.locator(".tabulator-col[tabulator-field='bytes']").count() == 0 or \
        not sizes.locator(".tabulator-col[tabulator-field='bytes']").first.is_visible()
    assert sizes.get_by_text("KB").count() + sizes.get_by_text("MB").count() > 0
    # the header spinner comes to rest after each of the page's once-a-second refreshes (two ticks)
    countdown = page.get_by_test_id("session-countdown")
    for _ in range(2):
        text = countdown.inner_text()
        page.wait_for_function(f"""() => {{ const el = ({IN_SHADOW})("[data-testid='session-countdown']")[0];
            return el && el.innerText !== {text!r}; }}""")
        # at rest between ticks (it may spin while a refresh is served on a busy machine, but never stays on)
        page.wait_for_function(f"() => ({IN_SHADOW})('.loader.spin').length === 0", timeout=20_000)
    shot(page, "monitor-1366")
    ctx.close()
