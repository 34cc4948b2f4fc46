"""Market indicators page in Chromium against a real ``tickdeck serve``, fed by the real producers: the
IQFeed emulator over TCP → live collection (symbols and DTN statistics) → the ``indicators`` service →
the bus → the page; alerts by the ``alerts`` service. The server's supervisor runs the services (asked
through :class:`core.services.ServiceControl` on the server's SQL store, as the CLI does).

Accessibility is checked with axe-core from the ``axe-playwright-python`` package's local copy (no CDN),
and every request the page makes stays on the server's origin.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.browser]

SYMBOLS = ["AAPL", "MSFT", "NVDA", "SPY", "IWM", "DIA"]  # three NYSE issues: NYSE TRIN is defined
STATISTICS = ["JTNT.Z", "JTQT.Z", "RINT.Z", "RIQT.Z", "VCOET.Z", "VPOET.Z", "H1NH.Z", "H1NL.Z"]
EMULATED_NOW = "2024-07-03 10:00:00"  # a Wednesday morning: Level 1 streams regular-session data
SPEED = 10.0  # emulated seconds per wall second: new 1 s instants every page update

# A shown value's text and data-at (the instant it is of) anywhere in the page (panes live in shadow roots).
FIND = """(selector) => {
  const find = (root) => {
    const el = root.querySelector(selector);
    if (el) return el;
    for (const n of root.querySelectorAll('*')) {
      if (n.shadowRoot) { const f = find(n.shadowRoot); if (f) return f; }
    }
    return null;
  };
  const el = find(document);
  return el ? [el.textContent.trim(), el.dataset.at || '0'] : null;
}"""
SHOWN_AFTER = f"""([selector, after]) => {{ const v = ({FIND})(selector);
  return !!v && v[0] !== '—' && BigInt(v[1]) > BigInt(after); }}"""


def _axe_path() -> Path:
    try:
        import axe_playwright_python
    except ImportError:
        from services_needed import missing_service

        missing_service("axe-core (pip install axe-playwright-python, in the test extras)")
    return Path(axe_playwright_python.__file__).parent / "axe.min.js"


def _shown(page, selector: str) -> tuple[str, int]:
    text, at = page.evaluate(FIND, selector)
    return text, int(at)


def _axe_serious(page) -> list[str]:
    page.add_script_tag(path=str(_axe_path()))
    # the page's own content (#main): the app template's navigation is checked with the template
    result = page.evaluate("async () => await axe.run({include: [['#main']]}, {resultTypes: ['violations']})")
    return [f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes'][:3]]}"
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


@pytest.fixture
def live_app(app_server):
    """A served app whose supervisor runs live collection of the emulator, the indicators and the alerts
    services; yields (served, services control)."""
    from tickdeck.core.catalog import Catalog
    from tickdeck.core.services import ServiceControl
    from tickdeck.core.sources.iqfeed_emulator import EmulatorThread, IQFeedEmulator

    emu = IQFeedEmulator(symbols=tuple(SYMBOLS), now=EMULATED_NOW, speed=SPEED, ticks=10_000, port_history=0,
                         port_l1=0, seed=7)
    with EmulatorThread(emu) as running:
        served = app_server(data=False, env={"TICKDECK_FEED_PORT_HISTORY": str(running.port_history),
                                             "TICKDECK_FEED_PORT_L1": str(running.port_l1)})
        catalog = Catalog(f"sqlite:///{served.data_dir / 'tickdeck.db'}")
        control = ServiceControl(SimpleNamespace(catalog=catalog))
        try:
            control.start("indicators", by="test")
            control.start("alerts", by="test")
            control.start("live", by="test", params={"symbols": SYMBOLS + STATISTICS})
            yield served, control
        finally:
            for name in ("live", "indicators", "alerts"):
                control.stop(name, by="test")
            catalog.engine.dispose()


@pytest.mark.timeout(900)  # serve start, collection start-up and the alert round trip on a loaded 2-core box
def test_live_tick_and_trin_move_and_a_rule_made_in_the_form_fires_a_toast_and_a_history_row(live_app, page, shot):
    """Issue 14: with the emulator streaming, the page shows the feed's and the local TICK/TRIN values
    changing (later instants, at most once a second); a rule created in the form fires (alerts service)
    and its toast and history row appear; acknowledging it marks the row."""
    served, _ = live_app
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(served.url))
    foreign: list[str] = []

    def block(route):
        foreign.append(route.request.url)
        route.abort()

    page.context.route(lambda url: not url.startswith(origin), block)
    page.goto(served.url + "indicators")
    page.get_by_role("button", name="Market breadth").wait_for()

    tick, trin = "[data-testid='v-TICK.NYSE-feed']", "[data-testid='v-TRIN.NYSE-feed']"
    local = "[data-testid='v-TRIN.NYSE-local']"
    page.wait_for_function(SHOWN_AFTER, arg=[tick, "0"], polling=200, timeout=120_000)
    page.wait_for_function(SHOWN_AFTER, arg=[local, "0"], polling=200, timeout=120_000)
    seen_tick, seen_trin = [_shown(page, tick)], [_shown(page, trin)]
    deadline = time.monotonic() + 90
    while len({v for v, _ in seen_tick} - {"—"}) < 2 or len({v for v, _ in seen_trin} - {"—"}) < 2:  # values move
        assert time.monotonic() < deadline, (seen_tick[-5:], seen_trin[-5:])
        page.wait_for_function(SHOWN_AFTER, arg=[tick, str(seen_tick[-1][1])], polling=200, timeout=30_000)
        seen_tick.append(_shown(page, tick))
        seen_trin.append(_shown(page, trin))
    ats = [a for _, a in seen_tick]
    assert ats == sorted(ats) and len(set(ats)) >= 2
    assert "live" in page.locator("[data-testid='indicators-status']").inner_text()
    shot(page, "indicators-breadth-live")

    try:
        _rule_fires_and_is_acknowledged(page, shot)
    except Exception:
        shot(page, "indicators-alert-failure")
        raise
    assert not foreign, f"requests left the origin: {foreign}"


def _rule_fires_and_is_acknowledged(page, shot) -> None:
    page.get_by_role("button", name="Alerts", exact=True).click()
    page.get_by_placeholder("TICK extreme").fill("tick seen")
    page.get_by_placeholder("indicator:TICK.NYSE").fill("indicator:NO_SUCH")
    page.get_by_placeholder("e.g. 1000").fill("-100000")
    page.get_by_role("button", name="Add rule").click()
    page.locator("p", has_text="unknown indicator 'NO_SUCH'").wait_for()  # under the form, readable
    page.get_by_placeholder("indicator:TICK.NYSE").fill("indicator:TICK.NYSE@feed")
    page.get_by_role("button", name="Add rule").click()
    page.locator("p", has_text="Added rule").wait_for()

    toast = page.locator(".notyf__toast", has_text="Alert 'tick seen' fired")
    toast.wait_for(timeout=120_000)
    row = page.locator(".tabulator-row", has_text="TICK.NYSE").filter(has_text="no")
    row.first.wait_for(timeout=30_000)
    shot(page, "indicators-alert-fired")
    row.first.click()
    page.get_by_role("button", name="Acknowledge selected alert").click()
    page.locator(".tabulator-row", has_text="by ").first.wait_for(timeout=30_000)


@pytest.mark.timeout(600)
def test_indicators_page_has_no_serious_accessibility_violations(live_app, page, shot):
    """Issue 14: no serious or critical axe-core violations in the live page's content (breadth and
    alerts sections)."""
    served, _ = live_app
    page.goto(served.url + "indicators")
    page.wait_for_function(SHOWN_AFTER, arg=["[data-testid='v-TICK.NYSE-feed']", "0"], polling=200,
                           timeout=120_000)
    problems = _axe_serious(page)
    page.get_by_role("button", name="Alerts", exact=True).click()
    page.get_by_role("button", name="Add rule").wait_for()
    problems += _axe_serious(page)
    assert not problems, "\n".join(problems)
    shot(page, "indicators-alerts")
