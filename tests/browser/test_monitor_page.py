"""Collection monitor in Chromium: live counters appear after a ``collection`` event (via Redis)."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.redis]


def test_monitor_shows_live_counters_after_collection_event(app_server, page, shot, redis_url):
    from core.events import RedisBus

    app = app_server(env={"TICKDECK_REDIS_URL": redis_url})
    page.goto(app.url + "monitor")
    page.locator("[data-testid='session-status']").wait_for()
    assert "No feed status yet" in page.locator("[data-testid='feed-status']").inner_text()
    bus = RedisBus(redis_url)  # another process (a collector) publishing, as in production
    try:
        bus.publish("collection", {"state": "connected", "lines": 123456, "ticks": 120000, "errors": 3,
                                   "reconnects": 1, "latency_ms": 4.2}, type_="feed_status")
        bus.publish("collection", {"stage": "collect", "done": 2, "total": 4, "message": "AAPL 2024-07-02",
                                   "job_id": 42}, type_="progress")
        bus.publish("collection", {"symbol": "AAPL", "day": "2024-07-02", "ticks": 61234, "source": "iqfeed"},
                    type_="day_written")
        page.locator("[data-testid='feed-status']", has_text="Feed connected").wait_for()
    finally:
        bus.close()
    counters = page.locator("[data-testid='feed-counters']").inner_text()
    assert "123,456" in counters and "reconnects" in counters
    page.locator("text=AAPL 2024-07-02: 61,234 ticks stored").wait_for()
    page.locator("text=50%").first.wait_for()  # the active collection's progress
    assert "in" in page.locator("[data-testid='session-countdown']").inner_text()
    shot(page, "monitor-live")
