"""MonitorPage without a browser: real ctx (LMDB + SQLite), real in-process bus."""

from __future__ import annotations

import pandas as pd

from pages.components.ui import countdown, human_bytes
from pages.monitor import MonitorPage


def _page(ctx):
    page = MonitorPage(ctx=ctx, autostart=False)
    page.start_updates()  # listener only: no server session, so no periodic callbacks
    return page


def test_feed_status_event_shows_state_and_counters(ctx):
    page = _page(ctx)
    ctx.bus.publish("collection", {"state": "connected", "lines": 1200, "ticks": 1000, "errors": 2,
                                   "reconnects": 1, "latency_ms": 3.5}, type_="feed_status")
    assert page.flush() == 1
    assert "Feed connected" in page.feed_pane.object
    assert "td-ok" in page.feed_pane.object
    assert "1,200" in page.feed_pane.object
    assert page.latency.value == 3.5
    page.stop_updates()


def test_disconnected_feed_is_red_with_text(ctx):
    page = _page(ctx)
    ctx.bus.publish("collection", {"state": "disconnected", "ticks": 0}, type_="feed_status")
    page.flush()
    assert page.feed_state() == ("bad", "Feed disconnected")
    assert "td-bad" in page.feed_pane.object


def test_progress_events_become_active_collections(ctx):
    page = _page(ctx)
    ctx.bus.publish("collection", {"stage": "collect", "done": 1, "total": 4, "message": "AAPL 2024-07-01",
                                   "job_id": 7}, type_="progress")
    page.flush()
    assert page.active["job 7"]["percent"] == 25.0
    html = page.active_pane.object
    assert "AAPL 2024-07-01" in html and "25%" in html and "<progress" in html and "value='25'" in html


def test_day_written_counts_ticks_and_rates_go_into_sparkline(ctx):
    page = _page(ctx)
    page.tick()  # first sample
    ctx.bus.publish("collection", {"symbol": "AAPL", "day": "2024-07-01", "ticks": 5000, "source": "iqfeed"},
                    type_="day_written")
    ctx.bus.publish("bars.AAPL.time.60s", {"bars": 3})
    page.tick()
    assert page.ticks_written == 5000
    assert page.ticks_trend.value > 0
    assert page.bars_trend.value > 0
    assert "AAPL 2024-07-01: 5,000 ticks stored" in page.recent_pane.object


def test_generated_day_is_listed_and_storage_sizes_shown(ctx):
    from builders import store_synthetic

    page = _page(ctx)
    store_synthetic(ctx, "MSFT", "2024-07-01", "2024-07-01", ticks=2000)
    page.flush()
    page.refresh(sizes=True)
    assert "MSFT" in page.recent_pane.object
    sizes = page.sizes_table.value
    assert "ticks" in set(sizes["library"]) and int(sizes.loc[sizes.library == "ticks", "bytes"].iloc[0]) > 0


def test_dead_letters_counted_and_listed(ctx):
    ctx.catalog.add_dead_letters([("iqfeed", "AAPL", "garbage,line", "unparseable price"),
                                  ("iqfeed", "AAPL", "x", "too few fields")])
    page = _page(ctx)
    assert page.dead_count.value == 2
    assert set(page.dead_table.value["reason"]) == {"unparseable price", "too few fields"}


def test_start_without_symbols_shows_readable_error(ctx):
    page = _page(ctx)
    page.symbols = "  "
    page.start_collection()
    assert "enter at least one symbol" in page.message
    assert page.message_pane.alert_type == "danger"


def test_session_pane_counts_down_with_the_core_session_clock(ctx):
    """Issue 12: the monitor's session clock is core.session_status (its own copy is gone)."""
    page = MonitorPage(ctx=ctx, autostart=False)
    page._render_session(pd.Timestamp("2024-07-02 09:00", tz="America/New_York"))
    assert "Market: Pre-market" in page.session_pane.object
    assert "regular open in <b>30 min 00 s</b>" in page.session_pane.object
    page._render_session(pd.Timestamp("2024-07-04 12:00", tz="America/New_York"))
    assert "Market: Closed" in page.session_pane.object and "holiday: July 4th" in page.session_pane.object
    import pages.monitor

    assert not hasattr(pages.monitor, "session_status") or pages.monitor.session_status.__module__ == \
        "core.session_status"


def test_formatters():
    assert human_bytes(2048) == "2.0 KB"
    assert countdown(3725) == "1 h 02 min 05 s"
    assert countdown(65) == "1 min 05 s"


def test_renders_as_bare_layout(ctx):
    import panel as pn

    page = MonitorPage(ctx=ctx, autostart=False)
    assert isinstance(page.__panel__(), pn.Column)


def test_start_collection_queues_a_collect_job_and_stop_cancels_it(ctx):
    from jobs.queue import JobQueue

    page = MonitorPage(ctx=ctx, autostart=False, jobs=JobQueue.for_context(ctx))  # the facade the server injects
    page.start_updates()
    page.symbols = "aapl, msft"
    page.days = 2
    page.start_collection()
    q = JobQueue.for_context(ctx)
    [job] = q.list(kind="collect")
    assert job.params["symbols"] == ["AAPL", "MSFT"] and len(job.params["days"]) == 2
    assert job.priority == 0 and "Queued collect job" in page.message
    page.flush()  # the queue's "submitted" event on topic jobs shows up as an active collection
    assert f"job {job.id}" in page.active
    page.stop_collection()
    assert q.get(job.id).status == "cancelled"
    assert "1 collection" in page.message


def test_a_viewer_cannot_start_or_stop_collection(ctx):
    """Issue 12: roles come from the injected user, not from app.auth."""
    from core.users import User
    from jobs.queue import JobQueue

    page = MonitorPage(ctx=ctx, autostart=False, user=User("vic", "viewer"), jobs=JobQueue.for_context(ctx))
    page.symbols = "AAPL"
    page.start_collection()
    assert "needs the admin role; vic is a viewer" in page.message
    assert JobQueue.for_context(ctx).list() == []
    page.stop_collection()
    assert "needs the admin role" in page.message
