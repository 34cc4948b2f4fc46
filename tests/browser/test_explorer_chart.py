"""The explorer's tick chart in Chromium: zooming re-aggregates the visible range on the server;
a new selection swaps the chart's data in place. Also: the server's warm-up runs at start."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser

CHART_DATA = """() => { for (const d of Bokeh.documents) { const i = d.get_model_by_name('td-price-image');
  if (i) { const l = d.get_model_by_name('td-price-line'); const r = d.get_model_by_name('td-price-image');
    return {image: i.data.image.length, line: l.data.price.length, x: i.data.x.length ? i.data.x[0] : null,
            dw: i.data.dw.length ? i.data.dw[0] : null, id: i.id}; } } return null; }"""
MARK = "() => { for (const d of Bokeh.documents) { const i = d.get_model_by_name('td-price-image'); " \
       "if (i) { window.__tdData = i.data; return true; } } return false; }"
CHANGED = "() => { for (const d of Bokeh.documents) { const i = d.get_model_by_name('td-price-image'); " \
          "if (i && i.data !== window.__tdData) return true; } return false; }"
PRICE_CANVAS = """() => { let best = null; const walk = (r) => { for (const el of r.querySelectorAll('*')) {
  if (el.tagName === 'CANVAS' && !best) { const b = el.getBoundingClientRect();
    if (b.height > 250) best = [b.x, b.y, b.width, b.height]; }
  if (el.shadowRoot) walk(el.shadowRoot); } }; walk(document); return best; }"""


def test_zoom_re_renders_the_visible_range_and_selections_reuse_the_chart(demo_server, page, shot):
    app = demo_server
    page.goto(app.url + "explorer?symbol=AAPL&start=2024-07-02&session=regular")
    page.locator(".td-summary", has_text=re.compile(r"AAPL · 2024-07-02 · regular session · [\d,]+ ticks")).wait_for()
    page.wait_for_function(CHART_DATA)
    before = page.evaluate(CHART_DATA)
    assert before["image"] == 1 and before["line"] == 0  # 20,000 ticks: an image of ticks per pixel

    # wheel zoom is active from the start: no tool to click first
    x, y, w, h = page.evaluate(PRICE_CANVAS)
    page.mouse.move(x + w / 2, y + h / 2)
    page.evaluate(MARK)
    for _ in range(4):
        page.mouse.wheel(0, -400)
    page.wait_for_function(CHANGED)
    zoomed = page.evaluate(CHART_DATA)
    if zoomed["image"]:  # still many ticks visible: the image now spans the narrower range
        assert zoomed["dw"] < before["dw"]
    else:  # few enough for the ticks themselves
        assert zoomed["line"] > 0
    shot(page, "explorer-zoomed")

    page.evaluate(MARK)
    page.get_by_role("combobox", name="Symbol").select_option("MSFT")
    page.locator(".td-summary", has_text="MSFT · 2024-07-02").wait_for()
    page.wait_for_function(CHANGED)
    after = page.evaluate(CHART_DATA)
    assert after["id"] == before["id"]  # the same chart models, new data
    assert after["image"] == 1 and after["line"] == 0  # the whole new day: an image again


def test_server_warms_up_at_start(demo_server):
    app = demo_server
    import time

    deadline = time.monotonic() + 120
    while "warm-up done" not in app.log.read_text():
        assert "warm-up failed" not in app.log.read_text(), app.log.read_text()[-3000:]
        assert time.monotonic() < deadline, app.log.read_text()[-3000:]
        time.sleep(0.2)  # polling the server's log file, not waiting on a page
