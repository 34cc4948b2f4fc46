"""Runs one claimed job: heartbeat thread, progress persistence, outcome with traceback.

The job function gets a ``progress`` callable. Each call checks a cancel flag that the
heartbeat thread refreshes from SQL every :data:`HEARTBEAT_S` (so a cancel takes effect
within ~1 s of the next progress report) and persists the percentage at most every
:data:`PROGRESS_PERSIST_S` (the bus gets the same update). A job that raises is recorded as
``failed`` with its traceback; the runner itself never raises for a job's error. A job that
queued child jobs (``parent_id``) becomes ``waiting`` when its function returns and is settled
by the queue when its children finish (:meth:`jobs.queue.JobQueue.wait_for_children`).
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable

from tickdeck.core import metrics
from tickdeck.core.logging_setup import bound
from tickdeck.core.progress import Progress
from tickdeck.jobs.kinds import get_kind
from tickdeck.jobs.errors import JobCancelled
from tickdeck.jobs.queue import JobQueue, JobRecord

log = logging.getLogger(__name__)

HEARTBEAT_S = 1.0  # cancel latency and liveness resolution; well under queue.STALE_AFTER_S
PROGRESS_PERSIST_S = 0.25  # bound SQL writes from chatty jobs to ~4 per second


class JobProgress:
    """The ``progress`` callable handed to a job function."""

    def __init__(self, queue: JobQueue, job_id: int):
        self.queue = queue
        self.job_id = job_id
        self.cancelled = threading.Event()
        self._last_write = 0.0
        self.last: Progress | None = None

    def __call__(self, p: Progress | float, message: str = "") -> None:
        if self.cancelled.is_set():
            raise JobCancelled(self.job_id)
        if not isinstance(p, Progress):
            p = Progress("job", int(round(float(p))), 100, message)
        self.last = p
        now = time.monotonic()
        if now - self._last_write >= PROGRESS_PERSIST_S or (p.total and p.done >= p.total):
            self._last_write = now
            msg = f"{p.stage}: {p.message}" if p.message else p.stage
            self.queue.set_progress(self.job_id, p.percent, msg)

    def spawn(self, kind: str, params: dict, *, priority: int = 1, requested_by: str = "system") -> int:
        """Queue a child job of this job (``parent_id``): this job then succeeds only when every
        child does, and fails with a failed child's error. Returns the child's id."""
        return self.queue.submit(kind, params, priority=priority, requested_by=requested_by, parent_id=self.job_id)


def wait_heartbeat(stop: threading.Event) -> bool:
    """The heartbeat's clock: wait :data:`HEARTBEAT_S` for the next beat; ``True`` once ``stop`` is set.
    A test hands :func:`run_job` (or :class:`jobs.worker.Worker`) a clock of its own that beats on demand."""
    return stop.wait(HEARTBEAT_S)


class _Heartbeat(threading.Thread):
    def __init__(self, queue: JobQueue, job_id: int, worker: str, prog: JobProgress,
                 wait: Callable[[threading.Event], bool] = wait_heartbeat):
        super().__init__(name=f"job-{job_id}-heartbeat", daemon=True)
        self.queue, self.job_id, self.worker, self.prog, self.wait = queue, job_id, worker, prog, wait
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.wait(self.stop):
            try:
                if self.queue.heartbeat(self.job_id, self.worker):
                    self.prog.cancelled.set()
            except Exception:  # noqa: BLE001 - a transient SQL error must not kill the job
                log.warning("heartbeat for job %s failed", self.job_id, exc_info=True)


def run_job(ctx, queue: JobQueue, job: JobRecord, worker: str, *,
            heartbeat: Callable[[threading.Event], bool] = wait_heartbeat) -> JobRecord:
    """Run a claimed job to its outcome and record it; returns the final record.

    While it runs, log records carry its id and kind (:mod:`core.logging_setup`); its run time and
    outcome are counted in ``tickdeck_job_duration_seconds`` / ``tickdeck_jobs_finished_total``.
    ``heartbeat`` is the clock of the job's heartbeat thread (:func:`wait_heartbeat`)."""
    with bound(job_id=job.id, job_kind=job.kind):
        t0 = time.perf_counter()
        rec = _run_job(ctx, queue, job, worker, heartbeat)
        metrics.job_finished(job.kind, rec.status, time.perf_counter() - t0)
        return rec


def _run_job(ctx, queue: JobQueue, job: JobRecord, worker: str, heartbeat) -> JobRecord:
    prog = JobProgress(queue, job.id)
    beat = _Heartbeat(queue, job.id, worker, prog, heartbeat)
    if job.cancel_requested:
        prog.cancelled.set()
    beat.start()
    try:
        fn = get_kind(job.kind)
        result = fn(ctx, dict(job.params or {}), progress=prog)
        if prog.cancelled.is_set() or queue.heartbeat(job.id, worker):
            # finished despite a late cancel request: the work is done, keep it
            log.info("job %s finished after a cancel request", job.id)
        result = result if isinstance(result, dict) else {"value": result}
        waiting = queue.wait_for_children(job.id, worker, result)
        if waiting is not None:
            return waiting
        note = str(result.get("note") or "")
        return queue.finish(job.id, "succeeded", result=result, worker=worker,
                            message=f"done; {note}" if note else "done")
    except JobCancelled as e:
        note = f"; {e.note}" if e.note else ""
        return queue.finish(job.id, "cancelled", worker=worker, message=f"cancelled on request{note}")
    except Exception as e:  # noqa: BLE001 - record every failure, the queue goes on
        tb = traceback.format_exc()
        log.warning("job %s (%s) failed: %s", job.id, job.kind, e)
        return queue.finish(job.id, "failed", error=tb, worker=worker, message=f"{type(e).__name__}: {e}"[:2000])
    finally:
        beat.stop.set()
        beat.join(timeout=5)
