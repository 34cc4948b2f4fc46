"""The job queue: rows in the SQL ``jobs`` table, claimed atomically by workers.

A job row holds kind, params, priority (0 high, 1 normal, 2 backfill), status, progress
0–100 with a message, created/started/finished times, a heartbeat, the error text (with the
traceback), the retry count and who asked. Statuses::

    pending -> running -> succeeded | failed | cancelled | interrupted
    failed | cancelled | interrupted --retry--> pending

Claiming is atomic across processes: on PostgreSQL ``SELECT … FOR UPDATE SKIP LOCKED`` picks
the row inside the transaction that marks it running; on SQLite a conditional
``UPDATE … WHERE status='pending'`` is checked by its rowcount (a loser simply tries the next
row). Every state change is published on the bus topic ``jobs``.

Warnings
--------
Cancellation is cooperative: :meth:`JobQueue.cancel` sets ``cancel_requested`` on a running
job and the runner's ``progress`` callable raises :class:`JobCancelled` at the job's next
progress report.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from dataclasses import asdict, dataclass
from typing import Iterable

from sqlalchemy import and_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from core import db
from core.errors import JobError, NotFound

STATUSES = ("pending", "running", "succeeded", "failed", "cancelled", "interrupted")
FINISHED = ("succeeded", "failed", "cancelled", "interrupted")
RETRYABLE = ("failed", "cancelled", "interrupted")
PRIORITIES = {0: "high", 1: "normal", 2: "backfill"}
# A running job whose heartbeat is older than this is considered orphaned by a dead worker;
# the runner beats every HEARTBEAT_S, so 15 s tolerates long GC pauses and a loaded machine.
STALE_AFTER_S = 15.0
ERROR_TEXT_LIMIT = 20_000  # keep tracebacks readable in the UI and bounded in the table


class JobCancelled(JobError):
    """Raised inside a job (by its ``progress`` callable) when a cancel was requested."""

    def __init__(self, job_id: int | None = None):
        self.job_id = job_id
        super().__init__(f"job {job_id} was cancelled" if job_id is not None else "job was cancelled")


class JobNotFound(JobError, NotFound):
    """No job row with this id."""

    def __init__(self, job_id: int):
        self.job_id = job_id
        super().__init__(f"no job with id {job_id}")


@dataclass(frozen=True)
class JobRecord:
    """A snapshot of one job row."""

    id: int
    kind: str
    params: dict
    priority: int
    status: str
    progress: float
    message: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    heartbeat_at: dt.datetime | None
    error: str
    retries: int
    max_retries: int
    requested_by: str
    worker: str
    cancel_requested: bool
    result: dict

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("created_at", "started_at", "finished_at", "heartbeat_at"):
            d[k] = None if d[k] is None else d[k].isoformat()
        return d


_FIELDS = [f for f in JobRecord.__dataclass_fields__]


def _record(row: db.Job) -> JobRecord:
    return JobRecord(**{f: getattr(row, f) for f in _FIELDS})


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class JobQueue:
    """Submit, inspect, claim and finish jobs in the SQL ``jobs`` table.

    Parameters
    ----------
    engine
        The catalog's SQLAlchemy engine (``ctx.catalog.engine``); several queues (threads,
        processes) may share one database.
    bus
        Optional events bus; state changes are published on topic ``jobs``.
    """

    def __init__(self, engine: Engine, bus=None):
        self.engine = engine
        self.bus = bus
        self.Session = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def for_context(cls, ctx) -> "JobQueue":
        q = ctx.extras.get("job_queue")
        if q is None:
            q = ctx.extras["job_queue"] = cls(ctx.catalog.engine, ctx.bus)
        return q

    # -- publishing -----------------------------------------------------------------------
    def _publish(self, type_: str, rec: JobRecord | None, **extra) -> None:
        if self.bus is None or rec is None:
            return
        data = {"id": rec.id, "kind": rec.kind, "status": rec.status, "progress": rec.progress,
                "message": rec.message, "priority": rec.priority, **extra}
        self.bus.publish("jobs", data, type_=type_)

    # -- submit and inspect ---------------------------------------------------------------
    def submit(self, kind: str, params: dict | None = None, *, priority: int = 1, requested_by: str = "system",
               max_retries: int = 2) -> int:
        """Queue a job; returns its id.

        Raises
        ------
        JobError
            Unknown kind, bad priority or params that are not a JSON object.
        """
        from jobs.kinds import KINDS

        if kind not in KINDS:
            raise JobError(f"unknown job kind {kind!r}; choose one of {', '.join(sorted(KINDS))}")
        if priority not in PRIORITIES:
            raise JobError(f"priority must be 0 (high), 1 (normal) or 2 (backfill), got {priority!r}")
        if params is not None and not isinstance(params, dict):
            raise JobError(f"job params must be a mapping, got {type(params).__name__}")
        with self.Session.begin() as s:
            row = db.Job(kind=kind, params=dict(params or {}), priority=priority, status="pending",
                         requested_by=requested_by, max_retries=max_retries, created_at=db.utcnow())
            s.add(row)
            s.flush()
            rec = _record(row)
        self._publish("submitted", rec)
        return rec.id

    def get(self, job_id: int) -> JobRecord:
        with self.Session() as s:
            row = s.get(db.Job, int(job_id))
            if row is None:
                raise JobNotFound(int(job_id))
            return _record(row)

    def list(self, status: str | Iterable[str] | None = None, kind: str | None = None,
             limit: int = 200) -> list[JobRecord]:
        """Jobs newest first, optionally filtered by status(es) and kind."""
        stmt = select(db.Job).order_by(db.Job.id.desc()).limit(limit)
        if status:
            stmt = stmt.where(db.Job.status.in_([status] if isinstance(status, str) else list(status)))
        if kind:
            stmt = stmt.where(db.Job.kind == kind)
        with self.Session() as s:
            return [_record(r) for r in s.scalars(stmt)]

    def counts(self) -> dict[str, int]:
        from sqlalchemy import func

        with self.engine.connect() as c:
            rows = c.execute(select(db.Job.status, func.count(db.Job.id)).group_by(db.Job.status)).all()
        return {st: 0 for st in STATUSES} | {r[0]: int(r[1]) for r in rows}

    # -- operator actions -----------------------------------------------------------------
    def cancel(self, job_id: int) -> JobRecord:
        """Cancel a pending job at once, or ask a running one to stop (cooperative).

        Raises
        ------
        JobNotFound, JobError
            No such job, or it already finished.
        """
        now = db.utcnow()
        with self.Session.begin() as s:
            n = s.execute(update(db.Job).where(db.Job.id == job_id, db.Job.status == "pending").values(
                status="cancelled", finished_at=now, message="cancelled before start")).rowcount
            if not n:
                n = s.execute(update(db.Job).where(db.Job.id == job_id, db.Job.status == "running").values(
                    cancel_requested=True)).rowcount
        rec = self.get(job_id)
        if not n:
            raise JobError(f"job {job_id} is {rec.status}; only pending or running jobs can be cancelled")
        self._publish("cancel_requested" if rec.status == "running" else "cancelled", rec)
        return rec

    def retry(self, job_id: int, *, count: bool = True) -> JobRecord:
        """Put a failed, cancelled or interrupted job back in the queue (retries + 1).

        Raises
        ------
        JobNotFound, JobError
            No such job, or it is pending/running/succeeded.
        """
        with self.Session.begin() as s:
            n = s.execute(update(db.Job).where(db.Job.id == job_id, db.Job.status.in_(RETRYABLE)).values(
                status="pending", progress=0.0, message="queued for retry", started_at=None, finished_at=None,
                heartbeat_at=None, worker="", cancel_requested=False,
                retries=db.Job.retries + (1 if count else 0))).rowcount
        rec = self.get(job_id)
        if not n:
            raise JobError(f"job {job_id} is {rec.status}; only failed, cancelled or interrupted jobs can be retried")
        self._publish("retried", rec)
        return rec

    def retry_all_failed(self) -> list[int]:
        """Retry every failed job; returns their ids."""
        with self.engine.connect() as c:
            ids = [r[0] for r in c.execute(select(db.Job.id).where(db.Job.status == "failed").order_by(db.Job.id))]
        done = []
        for i in ids:
            try:
                self.retry(i)
                done.append(i)
            except JobError:  # changed state meanwhile (another operator retried it)
                pass
        return done

    def reprioritise(self, job_id: int, priority: int) -> JobRecord:
        if priority not in PRIORITIES:
            raise JobError(f"priority must be 0, 1 or 2, got {priority!r}")
        with self.Session.begin() as s:
            n = s.execute(update(db.Job).where(db.Job.id == job_id).values(priority=priority)).rowcount
        if not n:
            raise JobNotFound(job_id)
        rec = self.get(job_id)
        self._publish("reprioritised", rec)
        return rec

    # -- worker side ----------------------------------------------------------------------
    def claim(self, worker: str, kinds: Iterable[str] | None = None) -> JobRecord | None:
        """Atomically take the most urgent pending job (priority, then age) for ``worker``.

        Returns ``None`` when nothing is pending. Two workers never get the same job.
        """
        kinds = list(kinds) if kinds else None
        base = select(db.Job.id).where(db.Job.status == "pending")
        if kinds:
            base = base.where(db.Job.kind.in_(kinds))
        base = base.order_by(db.Job.priority, db.Job.id)
        now = db.utcnow()
        claimed = dict(status="running", worker=worker, started_at=now, heartbeat_at=now, progress=0.0,
                       message="started", cancel_requested=False)
        if self.engine.dialect.name == "postgresql":
            with self.Session.begin() as s:
                job_id = s.execute(base.limit(1).with_for_update(skip_locked=True)).scalar()
                if job_id is None:
                    return None
                s.execute(update(db.Job).where(db.Job.id == job_id).values(**claimed))
        else:
            job_id = None
            for _ in range(20):  # each loss means another worker took that row; try the next one
                with self.engine.connect() as c:
                    cand = c.execute(base.limit(1)).scalar()
                if cand is None:
                    return None
                with self.Session.begin() as s:
                    n = s.execute(update(db.Job).where(and_(db.Job.id == cand, db.Job.status == "pending"))
                                  .values(**claimed)).rowcount
                if n == 1:
                    job_id = cand
                    break
            if job_id is None:
                return None
        rec = self.get(job_id)
        self._publish("started", rec, worker=worker)
        return rec

    def heartbeat(self, job_id: int, worker: str) -> bool:
        """Refresh the heartbeat; returns whether a cancel was requested."""
        with self.Session.begin() as s:
            s.execute(update(db.Job).where(db.Job.id == job_id, db.Job.worker == worker,
                                           db.Job.status == "running").values(heartbeat_at=db.utcnow()))
            return bool(s.execute(select(db.Job.cancel_requested).where(db.Job.id == job_id)).scalar())

    def set_progress(self, job_id: int, percent: float, message: str = "") -> None:
        pct = max(0.0, min(100.0, float(percent)))
        with self.Session.begin() as s:
            s.execute(update(db.Job).where(db.Job.id == job_id, db.Job.status == "running").values(
                progress=pct, message=message[:2000], heartbeat_at=db.utcnow()))
        if self.bus is not None:
            self.bus.publish("jobs", {"id": job_id, "status": "running", "progress": pct, "message": message},
                             type_="progress")

    def finish(self, job_id: int, status: str, *, error: str = "", result: dict | None = None,
               message: str = "", worker: str | None = None) -> JobRecord:
        """Record the outcome of a running job (only while it is still ``running``, and still
        owned by ``worker`` when given, so a job recovered elsewhere is not overwritten)."""
        if status not in FINISHED:
            raise JobError(f"cannot finish a job as {status!r}")
        values = dict(status=status, finished_at=db.utcnow(), error=error[-ERROR_TEXT_LIMIT:],
                      message=message[:2000] or status)
        if status == "succeeded":
            values["progress"] = 100.0
        if result is not None:
            values["result"] = result
        cond = [db.Job.id == job_id, db.Job.status == "running"]
        if worker is not None:
            cond.append(db.Job.worker == worker)
        with self.Session.begin() as s:
            s.execute(update(db.Job).where(*cond).values(**values))
        rec = self.get(job_id)
        self._publish(status, rec, error=error.strip().splitlines()[-1] if error.strip() else "")
        return rec

    def recover_stale(self, *, stale_after_s: float = STALE_AFTER_S, auto_retry: bool = True,
                      now: dt.datetime | None = None) -> list[int]:
        """Mark running jobs whose worker stopped heartbeating as ``interrupted``.

        With ``auto_retry`` each one whose ``retries < max_retries`` goes back to pending
        (retries + 1); the error text keeps the interruption note. Returns the ids marked.
        """
        now = now or db.utcnow()
        cutoff = now - dt.timedelta(seconds=stale_after_s)
        with self.engine.connect() as c:
            rows = c.execute(select(db.Job.id, db.Job.worker, db.Job.retries, db.Job.max_retries).where(
                db.Job.status == "running", db.Job.heartbeat_at < cutoff)).all()
        marked = []
        for job_id, worker, retries, max_retries in rows:
            note = f"interrupted: worker {worker or '?'} stopped heartbeating (no beat for {stale_after_s:g} s)"
            with self.Session.begin() as s:
                n = s.execute(update(db.Job).where(db.Job.id == job_id, db.Job.status == "running",
                                                   db.Job.heartbeat_at < cutoff).values(
                    status="interrupted", finished_at=now, error=note, message="interrupted")).rowcount
            if not n:
                continue
            marked.append(job_id)
            self._publish("interrupted", self.get(job_id))
            if auto_retry and retries < max_retries:
                self.retry(job_id)
        return marked
