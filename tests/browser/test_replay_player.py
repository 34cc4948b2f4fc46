"""The monitor's scenario replay player bar in Chromium against a real ``tickdeck serve`` (the shared
``demo_server``: a replay writes nothing into the store, and the test ends the replay it starts)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from waiting import wait_for

from tickdeck.core.catalog import Catalog
from tickdeck.core.replay_service import NAME as REPLAY_SERVICE
from tickdeck.core.services import ServiceControl

pytestmark = [pytest.mark.browser]

DAY = "2024-07-02"  # a stored demo day (conftest.DEMO_START..DEMO_END)


def _number(page, testid: str) -> int:
    return int(page.get_by_test_id(testid).inner_text().replace(",", ""))


def test_player_bar_plays_pauses_and_ends_a_replay_of_a_stored_day(demo_server, page, shot):
    """Play AAPL's stored day from 09:30 at 100×: the status line says playing and its tick count and the replay's
    bar count (BarClosed of origin scenario, counted apart from live bars) grow; Pause holds the count even
    after the speed is set to "as fast as possible"; End replay stops it."""
    catalog = Catalog(f"sqlite:///{demo_server.data_dir / 'tickdeck.db'}")
    try:
        page.goto(demo_server.url + "monitor")
        state = page.get_by_test_id("replay-state")
        state.wait_for()
        assert "no replay" in state.inner_text()

        page.get_by_label("Replay symbols").fill("AAPL")
        page.get_by_label("Replay symbols").press("Tab")
        page.get_by_label("Day", exact=True).fill(DAY)
        page.get_by_label("Day", exact=True).press("Tab")
        page.get_by_label("From (ET)").fill("09:30")  # the regular session: ~90 ticks a second at 100×
        page.get_by_label("From (ET)").press("Tab")
        page.get_by_label("Speed").select_option(label="100×")
        page.get_by_role("button", name="▶ Play").click()

        page.get_by_test_id("replay-state").filter(has_text="playing").wait_for(timeout=30_000)
        first = wait_for(lambda: _number(page, "replay-delivered"), "the first replayed ticks on the page")
        wait_for(lambda: _number(page, "replay-delivered") > first, "the tick count moving while playing")
        wait_for(lambda: _number(page, "replay-bars") > 0, "the replay's bars counted on the monitor")
        status = page.get_by_test_id("replay-state").locator("xpath=..").inner_text()
        assert "AAPL" in status and "100×" in status and f"{DAY} " in status, status
        page.mouse.move(0, 0)  # no button tooltip over the bar in the picture
        shot(page, "monitor-replay-playing")

        page.get_by_role("button", name="Pause").click()
        page.get_by_test_id("replay-state").filter(has_text="paused").wait_for(timeout=30_000)
        held = _number(page, "replay-delivered")
        # paused, the speed changes to max: once the page shows the new speed, a supervisor round and
        # a player round have passed, and still no tick went out
        page.get_by_label("Speed").select_option(label="as fast as possible")
        page.get_by_role("button", name="Set speed").click()
        page.get_by_text("as fast as possible —").wait_for(timeout=30_000)
        assert "paused" in page.get_by_test_id("replay-state").inner_text()
        assert _number(page, "replay-delivered") == held, "paused: no tick delivered"

        page.get_by_role("button", name="■ End replay").click()
        page.get_by_test_id("replay-state").filter(has_text="no replay").wait_for(timeout=30_000)
        control = ServiceControl(SimpleNamespace(catalog=catalog))
        wait_for(lambda: control.status(REPLAY_SERVICE).state == "stopped", "the replay service stopped")
    finally:
        ServiceControl(SimpleNamespace(catalog=catalog)).stop(REPLAY_SERVICE, by="test")  # leave none running
        catalog.engine.dispose()
