"""Queue semantics on SQLite and PostgreSQL: submit, claim order, atomic claims, operator actions."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import update

from tickdeck.core import db
from tickdeck.core.errors import JobError
from tickdeck.jobs.queue import JobNotFound, JobQueue


def test_submit_records_kind_params_priority_and_requester(queue):
    jid = queue.submit("health", {"a": 1}, priority=0, requested_by="alice")
    rec = queue.get(jid)
    assert (rec.kind, rec.params, rec.priority, rec.status, rec.requested_by) == (
        "health", {"a": 1}, 0, "pending", "alice")
    assert rec.created_at.tzinfo is not None and rec.started_at is None


def test_submit_rejects_unknown_kind_and_bad_priority(queue):
    with pytest.raises(JobError, match="unknown job kind"):
        queue.submit("nope")
    with pytest.raises(JobError, match="priority"):
        queue.submit("health", priority=7)


def test_claim_takes_highest_priority_then_oldest(queue):
    a = queue.submit("health", priority=2)
    b = queue.submit("health", priority=1)
    c = queue.submit("health", priority=0)
    d = queue.submit("health", priority=1)
    order = [queue.claim("w").id for _ in range(4)]
    assert order == [c, b, d, a]
    assert queue.claim("w") is None
    assert queue.get(a).status == "running" and queue.get(a).worker == "w"


def test_two_queues_on_one_database_never_claim_the_same_job(jctx):
    from tickdeck.core.db import open_engine

    ids = [JobQueue(jctx.catalog.engine).submit("health") for _ in range(40)]
    engines = [open_engine(str(jctx.settings.sql_url), migrate=False) for _ in range(2)]
    got: list[list[int]] = [[], []]

    def drain(i):
        q = JobQueue(engines[i])
        while (rec := q.claim(f"w{i}")) is not None:
            got[i].append(rec.id)

    threads = [threading.Thread(target=drain, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for e in engines:
        e.dispose()
    claimed = got[0] + got[1]
    assert len(claimed) == len(set(claimed)), "a job was claimed twice"
    assert sorted(claimed) == ids


def test_cancel_pending_job_is_immediate_and_finished_job_cannot_be_cancelled(queue):
    jid = queue.submit("health")
    assert queue.cancel(jid).status == "cancelled"
    assert queue.claim("w") is None
    with pytest.raises(JobError, match="only pending, running or waiting"):
        queue.cancel(jid)
    with pytest.raises(JobNotFound):
        queue.cancel(999_999)


def test_cancel_running_job_sets_the_flag_only(queue):
    jid = queue.submit("health")
    queue.claim("w")
    rec = queue.cancel(jid)
    assert rec.status == "running" and rec.cancel_requested
    assert queue.heartbeat(jid, "w") is True


def test_retry_requeues_failed_job_and_counts_it(queue):
    jid = queue.submit("health")
    queue.claim("w")
    queue.finish(jid, "failed", error="Traceback ...\nValueError: boom")
    rec = queue.retry(jid)
    assert (rec.status, rec.retries, rec.progress) == ("pending", 1, 0.0)
    with pytest.raises(JobError, match="only failed"):
        queue.retry(jid)


def test_retry_all_failed_only_touches_failed_jobs(queue):
    f1, f2, ok = (queue.submit("health") for _ in range(3))
    for _ in (f1, f2, ok):
        queue.claim("w")
    queue.finish(f1, "failed", error="x")
    queue.finish(f2, "failed", error="y")
    queue.finish(ok, "succeeded")
    assert queue.retry_all_failed() == [f1, f2]
    assert [queue.get(j).status for j in (f1, f2, ok)] == ["pending", "pending", "succeeded"]


def test_reprioritise_changes_claim_order(queue):
    a = queue.submit("health", priority=2)
    b = queue.submit("health", priority=1)
    queue.reprioritise(a, 0)
    assert queue.claim("w").id == a
    assert queue.claim("w").id == b


def test_finish_does_not_overwrite_a_job_recovered_elsewhere(queue):
    jid = queue.submit("health")
    queue.claim("w1")
    _age_heartbeat(queue, jid, 60)
    queue.recover_stale(stale_after_s=5, auto_retry=False)
    queue.finish(jid, "succeeded", worker="w1")
    assert queue.get(jid).status == "interrupted"


def test_stale_running_job_is_interrupted_and_retried_per_policy(queue):
    retry_me = queue.submit("health", max_retries=1)
    exhausted = queue.submit("health", max_retries=0)
    fresh = queue.submit("health")
    for _ in range(3):
        queue.claim("dead-worker")
    _age_heartbeat(queue, retry_me, 60)
    _age_heartbeat(queue, exhausted, 60)
    marked = queue.recover_stale(stale_after_s=10)
    assert sorted(marked) == [retry_me, exhausted]
    r = queue.get(retry_me)
    assert (r.status, r.retries) == ("pending", 1) and "interrupted" in r.error
    assert queue.get(exhausted).status == "interrupted"
    assert queue.get(fresh).status == "running"


def test_state_changes_are_published_on_the_jobs_topic(queue, jctx):
    seen = []
    jctx.bus.listen("jobs", seen.append)
    jid = queue.submit("health")
    queue.claim("w")
    queue.set_progress(jid, 40, "halfway")
    queue.finish(jid, "succeeded")
    assert [m.event.change for m in seen] == ["submitted", "started", "progress", "succeeded"]
    assert {m.type for m in seen} == {"JobChanged"} and {m.event.kind for m in seen} == {"health"}
    assert seen[2].event.progress == 40 and seen[2].event.message == "halfway"


def _age_heartbeat(queue, job_id, seconds):
    with queue.Session.begin() as s:
        s.execute(update(db.Job).where(db.Job.id == job_id).values(
            heartbeat_at=db.utcnow() - dt.timedelta(seconds=seconds)))
