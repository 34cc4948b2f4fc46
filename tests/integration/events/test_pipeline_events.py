"""Issue 12: job, trigger, bars, validation, quality, health and service events from the real
producers (job queue + worker, market triggers, bars service, validation service, quality score,
health check, service supervisor) to a subscriber, over the in-process bus and over real Redis."""

from __future__ import annotations

import threading

import pandas as pd

from tickdeck.core.bars.service import build_default_bars
from tickdeck.core.collect import collect_days
from tickdeck.core.health import check_health
from tickdeck.core.validation.quality import quality_score
from tickdeck.core.validation.service import validate_day
from tickdeck.jobs import runner
from tickdeck.jobs.queue import JobQueue
from tickdeck.jobs.triggers import MarketTriggers
from tickdeck.jobs.worker import Worker

DAY = "2024-07-01"


def test_collect_job_publishes_job_changed_with_kind_on_every_change(ectx, recorder, monkeypatch):
    """Issue 12: every jobs event — set_progress included — carries the job's kind (a queued
    collect job's progress bar stayed at 0 % without it). Every progress step is written (the runner's
    time-based write throttle off), so the steps seen do not depend on how fast the machine is."""
    monkeypatch.setattr(runner, "PROGRESS_PERSIST_S", 0.0)
    q = JobQueue.for_context(ectx)
    jid = q.submit("collect", {"symbols": ["AAPL", "MSFT"], "days": [DAY, "2024-07-02"]}, priority=0)
    assert Worker(ectx).run(once=True) == 1
    recorder.settle()
    mine = [e for e in recorder.events("JobChanged") if e.id == jid]
    assert {e.kind for e in mine} == {"collect"} and {e.priority for e in mine} == {0}
    assert mine[0].change == "submitted" and mine[0].status == "pending"
    assert mine[1].change == "started" and mine[1].status == "running" and mine[1].worker
    progress = [e.progress for e in mine if e.change == "progress"]
    assert progress == [25.0, 50.0, 75.0, 100.0]  # one step per symbol-day of the 2 × 2
    assert (mine[-1].change, mine[-1].status, mine[-1].progress, mine[-1].error) == ("succeeded", "succeeded",
                                                                                      100.0, "")


def test_failed_job_publishes_the_last_line_of_its_error(ectx, recorder):
    q = JobQueue.for_context(ectx)
    jid = q.submit("collect", {"symbols": ["ZZZZ"], "days": [DAY]})
    Worker(ectx).run(once=True)
    recorder.settle()
    last = [e for e in recorder.events("JobChanged") if e.id == jid][-1]
    assert (last.status, last.kind) == ("failed", "collect") and "does not know symbol" in last.error


def test_close_trigger_publishes_trigger_fired_with_its_job(ectx, recorder):
    """Issue 12: TriggerFired from the market triggers on a simulated clock."""
    collect_days(ectx, ["AAPL"], [DAY])  # an IQFeed dataset: the close finalises it
    fired = MarketTriggers(ectx, JobQueue.for_context(ectx)).check(pd.Timestamp("2024-07-03 16:30",
                                                                                tz="America/New_York"))
    recorder.settle()
    events = recorder.events("TriggerFired")
    assert [(e.action, e.day, e.job_id) for e in events] == [(f.action, f.day, f.job_id) for f in fired]
    close = [e for e in events if e.action == "close"]
    assert close and close[0].job_id is not None and close[0].at.startswith("2024-07-03T16:30")


def test_bars_validation_and_quality_publish_their_events(ectx, recorder):
    """Issue 12: BarsBuilt (topic bars.<SYM>.<spec>), ValidationDone and QualityScored (0–100)."""
    collect_days(ectx, ["AAPL"], [DAY])
    rows = build_default_bars(ectx, "AAPL", DAY, specs=["time:1m", "tick:500"])
    report = validate_day(ectx, "AAPL", DAY, use_cache=False)
    q = quality_score(ectx, "AAPL", DAY, report=report)
    recorder.settle()

    built = recorder.events("BarsBuilt")
    assert sorted((b.spec, b.family, b.bars) for b in built) == sorted((r.spec, r.family, r.bars) for r in rows)
    topics = {m.topic for m in recorder.messages if m.type == "BarsBuilt"}
    assert topics == {"bars.AAPL.time:1m", "bars.AAPL.tick:500"}
    [done] = recorder.events("ValidationDone")
    assert (done.symbol, done.day, done.status, done.issues) == ("AAPL", DAY, report.status, len(report.issues))
    assert done.ingest_id == ectx.store.day_info("AAPL", DAY).ingest_id
    [scored] = recorder.events("QualityScored")
    assert (scored.symbol, scored.day, scored.score) == ("AAPL", DAY, q.score) and 0 <= scored.score <= 100


def test_health_check_publishes_health_reported(ectx, recorder):
    """Issue 12: HealthReported with its typed checks."""
    rep = check_health(ectx, publish=True)
    recorder.settle()
    [ev] = recorder.events("HealthReported")
    assert ev.status == rep.status and ev.at == rep.at.isoformat()
    assert [(c.name, c.status, c.detail) for c in ev.checks] == [(c.name, c.status, c.detail) for c in rep.checks]
    assert ev.checks[0].name == "feed" and ev.checks[0].status == "ok"  # the emulator's history port answers


def test_service_supervisor_publishes_service_changed(ectx, recorder):
    """Issue 12: ServiceChanged from the service supervisor (start, run, stop)."""
    from tickdeck.core.services import Supervisor, ThreadService

    class Idle(ThreadService):
        name = "idle"

        def run(self, params, stop, beat):
            beat("idling")
            stop.wait()

    sup = Supervisor(ectx, {"idle": Idle})
    sup.control.start("idle", by="test")
    sup.tick()
    sup.tick()
    sup.control.stop("idle", by="test")
    sup.tick()
    recorder.settle()
    states = [e.state for e in recorder.events("ServiceChanged") if e.name == "idle"]
    assert states[:2] == ["starting", "running"] and states[-2:] == ["stopping", "stopped"]
    assert all(e.since > 0 for e in recorder.events("ServiceChanged"))
    assert not [t for t in threading.enumerate() if t.name == "tickdeck-service-idle" and t.is_alive()]
