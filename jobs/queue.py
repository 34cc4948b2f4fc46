"""The job queue: rows in the SQL ``jobs`` table, claimed atomically by workers.

A job row holds kind, params, priority (0 high, 1 normal, 2 backfill), status, progress
0–100 with a message, created/started/finished times, a heartbeat, the error text (with the
traceback), the retry count, who asked and the job that queued it (``parent_id``). Statuses::

    pending -> running -> succeeded | failed | cancelled | interrupted
    running -> waiting (it queued child jobs) -> succeeded | failed | cancelled
    failed | cancelled | interrupted --retry--> pending   (a parent: its failed children)

**Parents and children.** A job that queues jobs with ``submit(..., parent_id=job.id)`` does
not succeed when its own function returns: it becomes ``waiting`` (its worker slot is free) and
its progress is the children's. When the last child finishes, the parent is settled: succeeded
when every child succeeded, failed when any child failed or was interrupted for good — its
``message`` names the child and carries the child's message, its ``error`` the child's
traceback — and cancelled when a child was cancelled. Retrying a finished parent retries its
failed, cancelled and interrupted children and makes it wait again; retrying a child reopens a
finished parent.

Claiming is atomic across processes: on PostgreSQL ``SELECT … FOR UPDATE SKIP LOCKED`` picks
the row inside the transaction that marks it running; on SQLite a conditional
``UPDATE … WHERE status='pending'`` is checked by its rowcount (a loser simply tries the next
row). Every state change is published on the bus topic ``jobs`` as a
:class:`core.events.JobChanged` (``change`` says what happened, progress included).

Warnings
--------
Cancellation is cooperative: :meth:`JobQueue.cancel` sets ``cancel_requested`` on a running
job and the runner's ``progress`` callable raises :class:`tickdeck.jobs.errors.JobCancelled` at the
job's next progress report.
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

from tickdeck.core import db
from tickdeck.core.errors import JobError
from tickdeck.core.events import JobChanged
from tickdeck.jobs.errors import JobCancelled, JobNotFound  # noqa: F401 - JobCancelled is re-exported
from tickdeck.jobs.registry import check_kind

STATUSES = ("pending", "running", "waiting", "succeeded", "failed", "cancelled", "interrupted")
FINISHED = ("succeeded", "failed", "cancelled", "interrupted")
UNFINISHED = ("pending", "running", "waiting")
RETRYABLE = ("failed", "cancelled", "interrupted")
PRIORITIES = {0: "high", 1: "normal", 2: "backfill"}
# A running job whose heartbeat is older than this is considered orphaned by a dead worker;
# the runner beats every HEARTBEAT_S, so 15 s tolerates long GC pauses and a loaded machine.
STALE_AFTER_S = 15.0
ERROR_TEXT_LIMIT = 20_000  # keep tracebacks readable in the UI and bounded in the table


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
    parent_id: int | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("created_at", "started_at", "finished_at", "heartbeat_at"):
            d[k] = None if d[k] is None else d[k].isoformat()
        return d


_FIELDS = [f for f in JobRecord.__dataclass_fields__]


def _record(row: db.Job) -> JobRecord:
    return JobRecord(**{f: getattr(row, f) for f in _FIELDS})


def _describe(job: JobRecord) -> str:
    """``collect AAPL 2024-07-01..2024-07-05``: a job's kind with its symbols and days, for messages."""
    p = job.params or {}
    syms = p.get("symbols") or ([p["symbol"]] if p.get("symbol") else [])
    days = p.get("days") or ([p["day"]] if p.get("day") else [])
    days = days.split(",") if isinstance(days, str) else list(days)
    syms = syms.replace(",", " ").split() if isinstance(syms, str) else list(syms)
    span = (f"{days[0]}..{days[-1]}" if len(days) > 1 else days[0]) if days else \
        (f"{p['start']}..{p['end']}" if p.get("start") and p.get("end") else "")
    return " ".join(str(x) for x in [job.kind, ",".join(map(str, syms)) if syms else "", span] if x)


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
    def _publish(self, change: str, rec: JobRecord | None, *, error: str = "", worker: str = "") -> None:
        if self.bus is None or rec is None:
            return
        self.bus.publish(JobChanged(id=rec.id, kind=rec.kind, status=rec.status, progress=float(rec.progress),
                                    message=rec.message, parent_id=rec.parent_id, priority=rec.priority,
                                    error=error, change=change, worker=worker or rec.worker))

    # -- submit and inspect ---------------------------------------------------------------
    def submit(self, kind: str, params: dict | None = None, *, priority: int = 1, requested_by: str = "system",
               max_retries: int = 2, parent_id: int | None = None) -> int:
        """Queue a job; returns its id.

        ``parent_id`` makes it a child of that job: the parent waits for it and fails with its
        error when it fails (see the module docstring).

        Raises
        ------
        JobError
            Unknown kind, bad priority or params that are not a JSON object.
        """
        check_kind(kind)
        if priority not in PRIORITIES:
            raise JobError(f"priority must be 0 (high), 1 (normal) or 2 (backfill), got {priority!r}")
        if params is not None and not isinstance(params, dict):
            raise JobError(f"job params must be a mapping, got {type(params).__name__}")
        with self.Session.begin() as s:
            row = db.Job(kind=kind, params=dict(params or {}), priority=priority, status="pending",
                         requested_by=requested_by, max_retries=max_retries, created_at=db.utcnow(),
                         parent_id=None if parent_id is None else int(parent_id))
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

        A waiting parent is cancelled with its children: pending ones at once, running ones
        on request; it settles as cancelled once they have finished.

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
                n = s.execute(update(db.Job).where(db.Job.id == job_id, db.Job.status.in_(("running", "waiting")))
                              .values(cancel_requested=True)).rowcount
        rec = self.get(job_id)
        if not n:
            raise JobError(f"job {job_id} is {rec.status}; only pending, running or waiting jobs can be cancelled")
        self._publish("cancel_requested" if rec.status in ("running", "waiting") else "cancelled", rec)
        if rec.status == "waiting":
            self._cancel_children(job_id)
            self.settle(job_id)
        elif rec.status == "cancelled" and rec.parent_id is not None:
            self.settle(rec.parent_id)
        return self.get(job_id)

    def _cancel_children(self, job_id: int) -> None:
        for child in self.children(job_id):
            if child.status in UNFINISHED and not child.cancel_requested:
                try:
                    self.cancel(child.id)
                except JobError:  # finished meanwhile
                    pass

    def retry(self, job_id: int, *, count: bool = True) -> JobRecord:
        """Put a failed, cancelled or interrupted job back in the queue (retries + 1).

        A parent is not run again: its failed, cancelled and interrupted children are retried
        and it waits for them. Retrying a child reopens its finished parent.

        Raises
        ------
        JobNotFound, JobError
            No such job, or it is pending/running/waiting/succeeded.
        """
        again = [c for c in self.children(job_id) if c.status in RETRYABLE]
        if again:
            with self.Session.begin() as s:
                n = s.execute(update(db.Job).where(db.Job.id == job_id, db.Job.status.in_(RETRYABLE)).values(
                    status="waiting", finished_at=None, error="", cancel_requested=False,
                    message=f"waiting: retried {len(again)} child job(s)",
                    retries=db.Job.retries + (1 if count else 0))).rowcount
            if n:
                for c in again:
                    self.retry(c.id, count=count)
                rec = self.get(job_id)
                self._publish("retried", rec)
                return rec
        with self.Session.begin() as s:
            n = s.execute(update(db.Job).where(db.Job.id == job_id, db.Job.status.in_(RETRYABLE)).values(
                status="pending", progress=0.0, message="queued for retry", started_at=None, finished_at=None,
                heartbeat_at=None, worker="", cancel_requested=False,
                retries=db.Job.retries + (1 if count else 0))).rowcount
        rec = self.get(job_id)
        if not n:
            raise JobError(f"job {job_id} is {rec.status}; only failed, cancelled or interrupted jobs can be retried")
        self._publish("retried", rec)
        if rec.parent_id is not None:
            self._reopen(rec.parent_id, f"waiting: child job {job_id} retried")
        return rec

    def _reopen(self, parent_id: int, message: str) -> None:
        """A finished parent whose child runs again waits again (and so on up the tree)."""
        with self.Session.begin() as s:
            n = s.execute(update(db.Job).where(db.Job.id == parent_id, db.Job.status.in_(RETRYABLE)).values(
                status="waiting", finished_at=None, error="", message=message, cancel_requested=False)).rowcount
        if n:
            rec = self.get(parent_id)
            self._publish("waiting", rec)
            if rec.parent_id is not None:
                self._reopen(rec.parent_id, f"waiting: child job {parent_id} waits again")

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
            kind, parent_id, priority = s.execute(select(db.Job.kind, db.Job.parent_id, db.Job.priority)
                                                  .where(db.Job.id == job_id)).one()
        if self.bus is not None:
            self.bus.publish(JobChanged(id=job_id, kind=kind, status="running", progress=pct, message=message,
                                        parent_id=parent_id, priority=priority, change="progress"))
        if parent_id is not None:
            self._roll_up(parent_id)

    def _roll_up(self, parent_id: int) -> None:
        """A waiting parent's progress: the mean of its children's (a finished child counts 100)."""
        from sqlalchemy import case, func

        done = case((db.Job.status.in_(FINISHED), 100.0), else_=db.Job.progress)
        with self.Session.begin() as s:
            pct = s.execute(select(func.avg(done)).where(db.Job.parent_id == parent_id)).scalar()
            n = s.execute(update(db.Job).where(db.Job.id == parent_id, db.Job.status == "waiting").values(
                progress=float(pct or 0.0))).rowcount
        if n:
            self._publish("progress", self.get(parent_id))

    # -- parents and children -------------------------------------------------------------
    def children(self, job_id: int) -> list[JobRecord]:
        """The jobs queued by ``job_id`` (``parent_id``), oldest first."""
        with self.Session() as s:
            return [_record(r) for r in s.scalars(select(db.Job).where(db.Job.parent_id == job_id)
                                                  .order_by(db.Job.id))]

    def wait_for_children(self, job_id: int, worker: str, result: dict | None = None) -> JobRecord | None:
        """After a job's function returned: when it queued children, make it ``waiting`` (its
        slot is free) and settle it at once if they already finished. Returns ``None`` (and
        changes nothing) for a job without children."""
        kids = self.children(job_id)
        if not kids:
            return None
        values = dict(status="waiting", heartbeat_at=db.utcnow(),
                      message=f"waiting for {len(kids)} child job(s)")
        if result is not None:
            values["result"] = result
        with self.Session.begin() as s:
            n = s.execute(update(db.Job).where(db.Job.id == job_id, db.Job.status == "running",
                                               db.Job.worker == worker).values(**values)).rowcount
        rec = self.get(job_id)
        if n:
            self._publish("waiting", rec)
            rec = self.settle(job_id)
        return rec

    def settle(self, job_id: int) -> JobRecord:
        """Finish a waiting parent whose children have all finished (else update its progress).

        The outcome: ``failed`` when a child failed or was interrupted (the message names the
        first such child and carries its message; ``error`` holds its error text), else
        ``cancelled`` when a child was cancelled, else ``succeeded``. Safe to call from several
        workers at once: only one settles it.
        """
        rec = self.get(job_id)
        if rec.status != "waiting":
            return rec
        kids = self.children(job_id)
        open_ = [c for c in kids if c.status in UNFINISHED]
        if open_:
            self._roll_up(job_id)
            return self.get(job_id)
        failed = [c for c in kids if c.status in ("failed", "interrupted")]
        cancelled = [c for c in kids if c.status == "cancelled"]
        if failed:
            c = failed[0]
            what = f"child job {c.id} ({_describe(c)}) {c.status}: {c.message or c.status}"
            more = f" ({len(failed)} of {len(kids)} child jobs failed)" if len(failed) > 1 else ""
            status, message = "failed", what + more
            error = f"{what}{more}\n\n--- error of job {c.id} ---\n{c.error}"
        elif cancelled:
            c = cancelled[0]
            status, message, error = "cancelled", f"child job {c.id} ({_describe(c)}) was cancelled", ""
        else:
            note = str((rec.result or {}).get("note") or "")
            status, error = "succeeded", ""
            message = f"done: {len(kids)} child job(s) succeeded" + (f"; {note}" if note else "")
        values = dict(status=status, finished_at=db.utcnow(), message=message[:2000], error=error[-ERROR_TEXT_LIMIT:])
        if status == "succeeded":
            values["progress"] = 100.0
        with self.Session.begin() as s:
            n = s.execute(update(db.Job).where(db.Job.id == job_id, db.Job.status == "waiting")
                          .values(**values)).rowcount
        rec = self.get(job_id)
        if n:
            self._publish(status, rec, error=message if status == "failed" else "")
            if rec.parent_id is not None:
                self.settle(rec.parent_id)
        return rec

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
            n = s.execute(update(db.Job).where(*cond).values(**values)).rowcount
        rec = self.get(job_id)
        self._publish(status, rec, error=error.strip().splitlines()[-1] if error.strip() else "")
        if n and status != "succeeded":
            self._cancel_children(job_id)  # children of a parent that failed or stopped half-way
        if n and rec.parent_id is not None:
            self.settle(rec.parent_id)
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
            rec = self.get(job_id)
            self._publish("interrupted", rec)
            if auto_retry and retries < max_retries:
                self.retry(job_id)
            elif rec.parent_id is not None:
                self.settle(rec.parent_id)
        return marked
