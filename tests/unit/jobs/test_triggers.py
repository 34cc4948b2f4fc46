"""Session status and market triggers on a simulated clock across a holiday and an early close."""

from __future__ import annotations

import pandas as pd

from tickdeck.core.services import ServiceControl
from tickdeck.core.session_status import session_status
from tickdeck.jobs.queue import JobQueue
from tickdeck.jobs.triggers import MarketTriggers

ET = "America/New_York"


def t(s):
    return pd.Timestamp(s, tz=ET)


def test_status_during_regular_session_counts_down_to_the_close(ctx):
    st = session_status(ctx.calendar(), t("2024-07-02 15:00"))
    assert (st.session, st.is_open, st.next_session) == ("regular", True, "after")
    assert st.next_transition == t("2024-07-02 16:00") and st.countdown_s == 3600 and st.countdown == "01:00:00"


def test_status_on_early_close_day_uses_the_early_close(ctx):
    st = session_status(ctx.calendar(), t("2024-07-03 12:30"))
    assert st.early_close and st.close == t("2024-07-03 13:00")
    assert st.next_transition == t("2024-07-03 13:00")
    after = session_status(ctx.calendar(), t("2024-07-03 13:30"))
    assert after.session == "after" and after.next_transition == t("2024-07-03 17:00")


def test_status_on_a_holiday_names_it_and_points_to_the_next_pre_market(ctx):
    st = session_status(ctx.calendar(), t("2024-07-04 11:00"))
    assert (st.session, st.is_open, st.trading_day) == ("closed", False, None)
    assert st.holiday_name == "July 4th"
    assert st.next_session == "pre" and st.next_transition == t("2024-07-05 04:00")


def _simulate(ctx, start, end, step="5min"):
    q = JobQueue(ctx.catalog.engine, ctx.bus)
    trig = MarketTriggers(ctx, q)
    fired = []
    for now in pd.date_range(t(start), t(end), freq=step):
        fired += [(e.action, e.day, pd.Timestamp(e.at)) for e in trig.check(now)]
    return q, fired


def test_triggers_fire_open_close_and_end_once_per_trading_day_across_holiday_and_early_close(ctx):
    """Issue 12: the open asks for the live service (no job on a worker slot), the close queues
    the finalize job, the end of the extended session (plus the grace) stops the service."""
    ctx.catalog.set_config("watchlist", ["AAPL", "MSFT"])
    q, fired = _simulate(ctx, "2024-07-02 08:00", "2024-07-05 21:00")
    assert [(a, d) for a, d, _ in fired] == [
        ("open", "2024-07-02"), ("close", "2024-07-02"), ("end", "2024-07-02"),
        ("open", "2024-07-03"), ("close", "2024-07-03"), ("end", "2024-07-03"),  # early close
        ("open", "2024-07-05"), ("close", "2024-07-05"), ("end", "2024-07-05"),  # 07-04 holiday: nothing
    ]
    at = {(a, d): ts for a, d, ts in fired}
    assert at[("close", "2024-07-03")] == t("2024-07-03 13:00")
    assert at[("end", "2024-07-03")] == t("2024-07-03 17:05")  # after-hours end 17:00 + 2 min grace, 5 min steps
    assert at[("close", "2024-07-02")] == t("2024-07-02 16:00")
    assert at[("end", "2024-07-02")] == t("2024-07-02 20:05")
    assert at[("open", "2024-07-05")] == t("2024-07-05 09:30")
    jobs = sorted(q.list(), key=lambda j: j.id)
    assert [j.kind for j in jobs] == ["finalize"] * 3  # live collection is a service, not a job
    assert jobs[1].params["early_close"] is True and jobs[1].priority == 0
    want = ServiceControl(ctx).desired("live")
    assert (want.state, want.requested_by) == ("stopped", "trigger:end")


def test_the_open_asks_for_the_live_service_with_the_watchlist(ctx):
    """Issue 12: after the open the live service is desired running for the watchlist's feed symbols."""
    ctx.catalog.set_config("watchlist", ["AAPL", "MSFT"])
    q, fired = _simulate(ctx, "2024-07-02 09:00", "2024-07-02 10:00")
    assert [(a, ts) for a, _, ts in fired] == [("open", t("2024-07-02 09:30"))]
    want = ServiceControl(ctx).desired("live")
    assert (want.state, want.requested_by, want.params["symbols"]) == ("running", "trigger:open", ["AAPL", "MSFT"])
    assert q.list() == []


def test_the_end_trigger_leaves_a_live_service_started_by_hand_running(ctx):
    """Issue 12: only a live collection the open started is stopped by the end trigger."""
    ctx.catalog.set_config("watchlist", ["AAPL"])
    ServiceControl(ctx).start("live", by="cli", params={"symbols": ["AAPL"]})
    _, fired = _simulate(ctx, "2024-07-02 09:00", "2024-07-02 21:00")
    assert [a for a, _, _ in fired] == ["open", "close"]
    assert ServiceControl(ctx).desired("live").requested_by == "cli"


def test_imported_and_synthetic_datasets_are_neither_streamed_nor_finalised(ctx):
    """Issue 12: the triggers only send IQFeed datasets to the feed."""
    ctx.catalog.upsert_dataset("IMP", source="import:csv")
    ctx.catalog.upsert_dataset("SYN", source="synthetic")
    ctx.catalog.set_config("watchlist", ["IMP", "SYN", "AAPL"])
    q, _ = _simulate(ctx, "2024-07-02 09:00", "2024-07-02 16:30")
    assert ServiceControl(ctx).desired("live").params["symbols"] == ["AAPL"]
    assert [j.params["symbols"] for j in q.list()] == [["AAPL"]]


def test_triggers_do_not_refire_after_a_restart(ctx):
    ctx.catalog.set_config("watchlist", ["AAPL"])
    _simulate(ctx, "2024-07-02 09:00", "2024-07-02 10:00")
    q, fired = _simulate(ctx, "2024-07-02 10:00", "2024-07-02 16:30")
    assert [a for a, _, _ in fired] == ["close"]


def test_starting_after_the_close_finalises_without_starting_live_collection(ctx):
    ctx.catalog.set_config("watchlist", ["AAPL"])
    q, fired = _simulate(ctx, "2024-07-02 18:00", "2024-07-02 18:10")
    assert [a for a, _, _ in fired] == ["close"]
    assert [j.kind for j in q.list()] == ["finalize"]


def test_triggers_follow_the_demo_feeds_clock_not_the_wall_clock(ctx):
    """A server on the demo feed (TICKDECK_DEMO_NOW) opens the session the feed is in: before its open
    nothing fires whatever the wall clock says, inside it the open fires for the feed's day."""
    from tickdeck.core.context import Context

    ctx.catalog.set_config("watchlist", ["AAPL"])
    q = JobQueue(ctx.catalog.engine, ctx.bus)
    for at, expected in (("2024-07-10 08:00:00", []), ("2024-07-10 10:00:00", [("open", "2024-07-10")])):
        demo = Context.open(ctx.settings.with_(demo_now=at, demo_speed=0.0))
        try:
            assert [(e.action, e.day) for e in MarketTriggers(demo, q).check()] == expected
        finally:
            demo.close()


def test_market_triggers_setting_reads_the_environment():
    import pytest

    from tickdeck.core.config import Settings
    from tickdeck.core.errors import ConfigError

    assert Settings.from_env({}).market_triggers is True
    assert Settings.from_env({"TICKDECK_MARKET_TRIGGERS": "0"}).market_triggers is False
    with pytest.raises(ConfigError, match="TICKDECK_MARKET_TRIGGERS"):
        Settings.from_env({"TICKDECK_MARKET_TRIGGERS": "sometimes"})
