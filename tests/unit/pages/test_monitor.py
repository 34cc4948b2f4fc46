"""MonitorPage without a browser: real ctx (LMDB + SQLite), real in-process bus."""

from __future__ import annotations

import socket

import pandas as pd
import pytest

from tickdeck.pages.components.ui import countdown, human_bytes
from tickdeck.pages.monitor import MonitorPage


def _page(ctx):
    page = MonitorPage(ctx=ctx, autostart=False)
    page.start_updates()  # listener only: no server session, so no periodic callbacks
    return page


def _feed_status(ctx, kind="level1", **counters):
    """The feed client's own status object (what Level1Client/HistoryClient publish)."""
    from tickdeck.core.sources.iqfeed import CircuitBreaker, _Status

    st = _Status("127.0.0.1", 5009 if kind == "level1" else 9100, kind, CircuitBreaker(failure_threshold=1), ctx.bus)
    for k, v in counters.items():
        setattr(st, k, v)
    return st


@pytest.fixture(scope="module")
def emulator():
    from tickdeck.core.sources.iqfeed_emulator import EmulatorThread, IQFeedEmulator

    with EmulatorThread(IQFeedEmulator(symbols=("AAPL",), now="2024-07-03 10:00:00", speed=0, ticks=300,
                                       port_history=0, port_l1=0)) as e:
        yield e


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again on return: connections are refused


def test_feed_status_of_a_real_history_request_shows_state_latency_counters_and_age(ctx, emulator):
    """Issue 12: the panel reads the FeedStatusChanged the history client publishes while it fetches from the
    emulator over TCP: state badge with text, latency with one decimal, labelled counters, "s ago" instead of
    epoch floats."""
    from tickdeck.core.sources.iqfeed import HistoryClient
    from tickdeck.pages.components.feed import latency_text

    page = _page(ctx)
    client = HistoryClient("127.0.0.1", emulator.port_history, bus=ctx.bus)
    try:
        got = client.ticks_days("AAPL", 1)
        assert page.flush() >= 1
        st = client.status()
        html = page.feed_pane.object
        assert page.feed_state() == ("ok", "Feed connected") and "td-ok" in html and "connected" in html
        assert st.lines == got.lines > 0 and st.latency_ms is not None
        assert latency_text(st.latency_ms) in html and page.latency.value == round(st.latency_ms, 1)
        assert f"<dt>Lines received</dt><dd>{st.lines:,}</dd>" in html and "<dt>Reconnects</dt><dd>0</dd>" in html
        assert ("just now" in html or " s ago" in html) and str(st.updated_at) not in html
        assert "updated_at" not in html and "latency_ms" not in html  # no raw key/value dump
    finally:
        client.close()
    page.flush()
    assert page.feed_state() == ("bad", "Feed disconnected")  # the client's last word when it closes
    page.stop_updates()


def test_reconnecting_disconnected_and_breaker_open_come_from_a_refused_connection(ctx):
    """Issue 12: every feed state has a badge whose text names it, each published by the history client
    while it fails to reach a closed port (no waiting between attempts: the client's sleep is injected)."""
    from tickdeck.core.errors import FeedError
    from tickdeck.core.sources.iqfeed import CircuitBreaker, HistoryClient

    page = _page(ctx)
    states = []
    ctx.bus.listen("collection", lambda m: states.append(m.event.state))
    port = _closed_port()
    client = HistoryClient("127.0.0.1", port, bus=ctx.bus, breaker=CircuitBreaker(failure_threshold=3),
                           max_attempts=2, sleep=lambda s: None)
    with pytest.raises(FeedError):
        client.ticks_days("AAPL", 1)
    assert states == ["reconnecting", "disconnected"]
    page.flush()
    assert page.feed_state() == ("bad", "Feed disconnected") and "td-bad" in page.feed_pane.object
    assert "Connection refused" in page.feed_pane.object and f"127.0.0.1:{port}" in page.feed_pane.object
    assert "—" in page.feed_pane.object  # no latency measured
    with pytest.raises(FeedError):
        client.ticks_days("AAPL", 1)  # the third failure opens the circuit
    assert states[-1] == "breaker_open"
    page.flush()
    assert page.feed_state() == ("bad", "Feed breaker open") and "breaker open" in page.feed_pane.object


def test_an_error_text_from_the_feed_is_escaped(ctx):
    """The client's own status object with a last error carrying markup (a feed may send any text)."""
    st = _feed_status(ctx, connected=True, last_error="<script>x</script> reset")
    page = _page(ctx)
    st.publish()
    page.flush()
    assert "&lt;script&gt;x&lt;/script&gt; reset" in page.feed_pane.object and "<script>" not in page.feed_pane.object


def test_level1_client_stands_for_the_feed_and_history_is_listed_too(ctx):
    from tickdeck.pages.components.feed import latency_text

    page = _page(ctx)
    _feed_status(ctx, kind="history", connected=True, latency_ms=12.0).publish()
    _feed_status(ctx, kind="level1", connected=True, latency_ms=4.25).publish()
    page.flush()
    html = page.feed_pane.object
    assert "data-testid='feed-level1'" in html and "data-testid='feed-history'" in html
    assert page.latency.value == float(latency_text(4.25).split()[0])  # one decimal of the Level 1 latency


def test_queued_collect_job_progress_comes_from_the_job_queue(ctx):
    """Issue 12: JobQueue.set_progress publishes the job's kind, so a queued collect job's bar moves."""
    from tickdeck.jobs.queue import JobQueue

    page = _page(ctx)
    q = JobQueue.for_context(ctx)
    jid = q.submit("collect", {"symbols": ["AAPL"], "days": ["2024-07-01"]})
    q.claim("w1")
    q.set_progress(jid, 40.0, "collect: AAPL 2024-07-01")
    page.flush()
    assert page.active[f"job {jid}"]["percent"] == 40.0
    html = page.active_pane.object
    assert "AAPL 2024-07-01" in html and "40%" in html and "value='40'" in html and "running" in html
    q.finish(jid, "failed", error="Traceback\nFeedError: boom")
    page.flush()
    assert page.active[f"job {jid}"]["finished"] and "data-status='failed'" in page.active_pane.object


def test_collection_progress_of_a_local_run_is_shown(ctx):
    from tickdeck.core.collect import _emit
    from tickdeck.core.progress import Progress

    page = _page(ctx)
    _emit(ctx, None, Progress("collect", 1, 4, "AAPL 2024-07-01"))
    page.flush()
    assert page.active["collection"]["percent"] == 25.0 and "value='25'" in page.active_pane.object


def test_day_written_counts_ticks_and_rates_go_into_sparkline(ctx):
    from builders import store_synthetic

    from tickdeck.core.bars.service import build_default_bars

    page = _page(ctx)
    page.tick()  # first sample
    store_synthetic(ctx, "AAPL", "2024-07-01", "2024-07-01", ticks=500)
    build_default_bars(ctx, "AAPL", "2024-07-01", specs=["time:5m"])
    page.tick()
    written = ctx.store.day_info("AAPL", "2024-07-01").ticks
    assert page.ticks_written == written
    assert page.ticks_trend.value > 0
    assert page.bars_trend.value > 0
    assert f"AAPL 2024-07-01: {written:,} ticks stored" in page.recent_pane.object


def test_ago_and_latency_formatting():
    from tickdeck.pages.components.feed import ago, latency_text

    assert [ago(s) for s in (0.2, 3.7, 125, 7300, 200_000)] == ["just now", "3 s ago", "2 min ago", "2 h ago",
                                                                  "2 d ago"]
    assert latency_text(53.94) == "53.9 ms" and latency_text(None) == "—"


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
    """Issue 12: the monitor's session clock is tickdeck.core.session_status (its own copy is gone)."""
    page = MonitorPage(ctx=ctx, autostart=False)
    page._render_session(pd.Timestamp("2024-07-02 09:00", tz="America/New_York"))
    assert "Market: Pre-market" in page.session_pane.object
    assert "regular open in <b>30 min 00 s</b>" in page.session_pane.object
    page._render_session(pd.Timestamp("2024-07-04 12:00", tz="America/New_York"))
    assert "Market: Closed" in page.session_pane.object and "holiday: July 4th" in page.session_pane.object
    import tickdeck.pages.monitor as monitor_module

    assert not hasattr(monitor_module, "session_status") or monitor_module.session_status.__module__ == \
        "tickdeck.core.session_status"


def test_formatters():
    assert human_bytes(2048) == "2.0 KB"
    assert countdown(3725) == "1 h 02 min 05 s"
    assert countdown(65) == "1 min 05 s"


def test_renders_as_bare_layout(ctx):
    import panel as pn

    page = MonitorPage(ctx=ctx, autostart=False)
    assert isinstance(page.__panel__(), pn.Column)


def test_start_collection_queues_a_collect_job_and_stop_cancels_it(ctx):
    from tickdeck.jobs.queue import JobQueue

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
    """Issue 12: roles come from the injected user, not from tickdeck.app.auth."""
    from tickdeck.core.users import User
    from tickdeck.jobs.queue import JobQueue

    page = MonitorPage(ctx=ctx, autostart=False, user=User("vic", "viewer"), jobs=JobQueue.for_context(ctx))
    page.symbols = "AAPL"
    page.start_collection()
    assert "needs the admin role; vic is a viewer" in page.message
    assert JobQueue.for_context(ctx).list() == []
    page.stop_collection()
    assert "needs the admin role" in page.message


def test_live_mode_asks_the_supervised_live_service_not_a_worker_slot(ctx):
    """Issue 12: live collection is a service — the monitor records a start request for the
    supervisor (no collect job takes a worker slot) and Stop asks the service to stop."""
    from tickdeck.core.services import ServiceControl
    from tickdeck.jobs.queue import JobQueue

    services = ServiceControl(ctx)
    page = MonitorPage(ctx=ctx, autostart=False, jobs=JobQueue.for_context(ctx), services=services)
    page.symbols, page.mode = "aapl, msft", "live"
    page.start_collection()
    want = services.desired("live")
    assert (want.state, want.params["symbols"]) == ("running", ["AAPL", "MSFT"])
    assert JobQueue.for_context(ctx).list(kind="collect") == []
    page.stop_collection()
    assert services.desired("live").state == "stopped"
