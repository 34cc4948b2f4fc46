"""Backfill plans and freshness, retention (dry run and real), health report, schedules."""

from __future__ import annotations

import datetime as dt
import socket

import pytest

from builders import store_synthetic
from tickdeck.core import db
from tickdeck.core.backfill import freshness, plan_backfill, plan_stale, submit_plans
from tickdeck.core.bars import build_default_bars
from tickdeck.core.health import check_health
from tickdeck.core.retention import RetentionPolicy, apply_retention
from tickdeck.core.validation import validate_day
from tickdeck.jobs.queue import JobQueue

D = dt.date


def test_backfill_plan_lists_missing_trading_days_and_latest_failing_ones(ctx):
    # 1 Jul failed validation (bad prints), was re-stored clean and passes now; 5 Jul fails
    store_synthetic(ctx, "AAPL", "2024-07-01", "2024-07-01", ticks=2000, faults=["bad_prints"])
    assert validate_day(ctx, "AAPL", "2024-07-01").status == "FAIL"
    store_synthetic(ctx, "AAPL", "2024-07-01", "2024-07-01", ticks=2000)
    assert validate_day(ctx, "AAPL", "2024-07-01").status == "PASS"  # fixed since: not failing any more
    store_synthetic(ctx, "AAPL", "2024-07-05", "2024-07-05", ticks=2000, faults=["bad_prints"])
    assert validate_day(ctx, "AAPL", "2024-07-05").status == "FAIL"
    plan = plan_backfill(ctx, "aapl", "2024-07-01", "2024-07-08")
    assert plan.missing == (D(2024, 7, 2), D(2024, 7, 3), D(2024, 7, 8))  # 07-04 holiday, weekend skipped
    assert plan.failing == (D(2024, 7, 5),)
    q = JobQueue(ctx.catalog.engine)
    ids = submit_plans([plan], lambda k, p, pr: q.submit(k, p, priority=pr))
    job = q.get(ids[0])
    assert (job.kind, job.priority) == ("generate", 2)  # a synthetic dataset goes to the generator (issue 12)
    assert job.params["days"] == ["2024-07-02", "2024-07-03", "2024-07-05", "2024-07-08"]


def test_freshness_counts_trading_days_behind_the_last_completed_day(ctx):
    store_synthetic(ctx, "AAPL", "2024-07-01", "2024-07-02", ticks=200)
    now = "2024-07-08 21:00"
    (f,) = freshness(ctx, now=now)
    assert (f.symbol, f.latest_day, f.last_completed, f.days_behind) == ("AAPL", D(2024, 7, 2), D(2024, 7, 8), 3)
    plans = plan_stale(ctx, now=now)
    assert [p.missing for p in plans] == [(D(2024, 7, 3), D(2024, 7, 5), D(2024, 7, 8))]


def test_backfill_all_stale_uses_the_configured_watchlist(ctx):
    store_synthetic(ctx, "AAPL", "2024-07-01", "2024-07-01", ticks=200)
    ctx.catalog.set_config("watchlist", ["MSFT"])
    (f,) = freshness(ctx, now="2024-07-02 21:00")
    assert f.symbol == "MSFT" and f.latest_day is None and f.days_behind > 0


def test_retention_dry_run_reports_and_real_run_deletes_old_days(ctx):
    store_synthetic(ctx, "AAPL", "2024-06-03", "2024-06-04", ticks=200)
    store_synthetic(ctx, "AAPL", "2024-07-01", "2024-07-01", ticks=200)
    build_default_bars(ctx, "AAPL", "2024-06-03", specs=["time:1m"])  # the bars service's series and row
    ctx.catalog.add_dead_letters([("synthetic", "AAPL", "raw", "bad")])
    with ctx.catalog.Session.begin() as s:
        s.execute(db.DeadLetter.__table__.update().values(created_at=db.utcnow() - dt.timedelta(days=400)))
    policy = RetentionPolicy.from_dict({"ticks": 20, "bars": 20, "dead_letter_days": 90})
    dry = apply_retention(ctx, policy, today="2024-07-02", dry_run=True)
    assert dry.tick_days == ("AAPL/2024-06-03", "AAPL/2024-06-04")
    assert dry.bar_series == ("bars_time:AAPL/2024-06-03/1m",)
    assert dry.dead_letters == 1 and dry.bytes_freed > 0
    assert ctx.store.list_days("AAPL") == [D(2024, 6, 3), D(2024, 6, 4), D(2024, 7, 1)]
    real = apply_retention(ctx, policy, today="2024-07-02")
    assert real.bytes_freed == dry.bytes_freed and real.tick_days == dry.tick_days
    assert ctx.store.list_days("AAPL") == [D(2024, 7, 1)]
    assert [r.day for r in ctx.catalog.tick_days("AAPL")] == [D(2024, 7, 1)]
    assert ctx.store.list_series("bars_time") == [] and ctx.catalog.bar_series("AAPL") == []
    assert ctx.catalog.count_dead_letters(None) == 0


def test_retention_policy_rejects_unknown_keys_and_bad_values(ctx):
    from tickdeck.core.errors import TickdeckError

    with pytest.raises(TickdeckError, match="unknown key 'tick'"):
        RetentionPolicy.from_dict({"tick": 3})
    with pytest.raises(TickdeckError, match="positive"):
        RetentionPolicy.from_dict({"ticks": -1})


def test_health_is_degraded_when_the_feed_port_is_closed_and_healthy_when_open(ctx):
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        port = srv.getsockname()[1]
        ctx.settings = ctx.settings.with_(feed_port_history=port)
        up = check_health(ctx)
    assert up.check("feed").status == "ok"
    assert up.check("sql").status == "ok" and up.check("arcticdb").status == "ok"
    down = check_health(ctx)
    assert down.check("feed").status == "degraded"
    assert down.status in ("degraded",)
    assert {c.name for c in down.checks} == {"feed", "arcticdb", "sql", "redis", "disk", "memory", "cpu"}


def test_health_with_sql_down_is_unhealthy(ctx):
    ctx.catalog.engine.dispose()
    from sqlalchemy import create_engine

    ctx.catalog.engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none",
                                       connect_args={"connect_timeout": 1})
    rep = check_health(ctx)
    assert rep.status == "unhealthy" and rep.check("sql").status == "down"


def test_schedules_persist_in_sql_across_scheduler_restarts(jctx):
    from tickdeck.jobs.scheduler import Scheduler

    s1 = Scheduler(jctx)
    s1.start(paused=True)
    s1.add_schedule("nightly-retention", "retention", {"dry_run": True}, cron="15 21 * * mon-fri")
    s1.shutdown()
    s2 = Scheduler(jctx)
    s2.start(paused=True)
    try:
        (info,) = s2.schedules()
        assert (info.name, info.kind, info.params) == ("nightly-retention", "retention", {"dry_run": True})
        assert info.next_run is not None and info.next_run.hour == 21
    finally:
        s2.shutdown()


def test_a_due_schedule_submits_a_queue_job(jctx):
    import time

    from tickdeck.jobs.scheduler import Scheduler

    s = Scheduler(jctx)
    s.start()
    try:
        s.add_schedule("health-now", "health", every_s=3600, start_now=True, priority=0)
        q = JobQueue(jctx.catalog.engine)
        deadline = time.monotonic() + 10
        while not q.list(kind="health") and time.monotonic() < deadline:
            time.sleep(0.05)
        (job,) = q.list(kind="health")
        assert job.requested_by == "scheduler" and job.priority == 0
    finally:
        s.shutdown()
