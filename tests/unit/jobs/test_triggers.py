"""Session status and market triggers on a simulated clock across a holiday and an early close."""

from __future__ import annotations

import pandas as pd
import pytest

from core.session_status import session_status
from jobs.queue import JobQueue
from jobs.triggers import MarketTriggers

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


def test_triggers_fire_open_and_close_once_per_trading_day_across_holiday_and_early_close(ctx):
    ctx.catalog.set_config("watchlist", ["AAPL", "MSFT"])
    q, fired = _simulate(ctx, "2024-07-02 08:00", "2024-07-05 21:00")
    assert [(a, d) for a, d, _ in fired] == [
        ("open", "2024-07-02"), ("close", "2024-07-02"),
        ("open", "2024-07-03"), ("close", "2024-07-03"),  # early close
        ("open", "2024-07-05"), ("close", "2024-07-05"),  # 07-04 holiday: nothing
    ]
    at = {(a, d): ts for a, d, ts in fired}
    assert at[("close", "2024-07-03")] == t("2024-07-03 13:00")
    assert at[("close", "2024-07-02")] == t("2024-07-02 16:00")
    assert at[("open", "2024-07-05")] == t("2024-07-05 09:30")
    jobs = sorted(q.list(), key=lambda j: j.id)
    assert [j.kind for j in jobs] == ["collect", "finalize"] * 3
    assert jobs[0].params == {"mode": "live", "symbols": ["AAPL", "MSFT"], "day": "2024-07-02"}
    assert jobs[3].params["early_close"] is True and jobs[3].priority == 0


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
