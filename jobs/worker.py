"""Workers: claim jobs from the SQL queue and run them, in a thread or a separate process.

``tickdeck worker`` runs :meth:`Worker.run` in its own process (any number of them may share
one PostgreSQL database); ``tickdeck serve`` calls :func:`start_embedded`, which runs one
worker thread plus the scheduler inside the server process. On start (and every
:data:`RECOVER_EVERY_S` while idle) a worker marks jobs orphaned by a dead worker as
``interrupted`` and re-queues them per their retry policy, and completes the post-write step
(default bars, validation) of days whose writer was killed during it
(:func:`core.ingest.complete_pending`: one SQL query when nothing is pending).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass

from jobs.queue import STALE_AFTER_S, JobQueue, JobRecord, default_worker_id
from jobs.runner import run_job

log = logging.getLogger(__name__)

POLL_S = 0.5  # idle wait between claims: fast pick-up without hammering SQL
RECOVER_EVERY_S = 30.0  # how often an idle worker looks for orphaned jobs


class Worker:
    """Claims and runs jobs one at a time.

    Parameters
    ----------
    ctx
        The process's :class:`core.context.Context`.
    kinds
        Only claim these kinds (default: all).
    stale_after_s
        Heartbeat age after which a running job counts as orphaned.
    """

    def __init__(self, ctx, *, worker_id: str | None = None, kinds=None, poll_s: float = POLL_S,
                 stale_after_s: float = STALE_AFTER_S, auto_retry: bool = True):
        self.ctx = ctx
        self.queue = JobQueue(ctx.catalog.engine, ctx.bus)
        self.worker_id = worker_id or f"{default_worker_id()}:{uuid.uuid4().hex[:6]}"
        self.kinds = kinds
        self.poll_s = poll_s
        self.stale_after_s = stale_after_s
        self.auto_retry = auto_retry
        self.stop_event = threading.Event()
        self.ran: list[JobRecord] = []

    def recover(self) -> list[int]:
        self.complete_pending()
        return self.queue.recover_stale(stale_after_s=self.stale_after_s, auto_retry=self.auto_retry)

    def complete_pending(self) -> list:
        """Finish post-write steps a killed writer left pending; never raises (logged)."""
        from core.ingest import complete_pending

        try:
            done = complete_pending(self.ctx)
        except Exception:  # noqa: BLE001 - e.g. a day's store briefly unreadable; retried next round
            log.exception("completing pending post-write steps failed")
            return []
        if done:
            log.info("completed the post-write step of %d day(s) left pending", len(done))
        return done

    def run_once(self) -> JobRecord | None:
        """Claim and run one job; ``None`` when the queue is empty."""
        job = self.queue.claim(self.worker_id, self.kinds)
        if job is None:
            return None
        rec = run_job(self.ctx, self.queue, job, self.worker_id)
        self.ran.append(rec)
        return rec

    def run(self, *, once: bool = False, max_jobs: int | None = None) -> int:
        """Run jobs until stopped, the queue drains (``once``) or ``max_jobs`` ran; returns the count."""
        n = 0
        self.recover()
        last_recover = time.monotonic()
        while not self.stop_event.is_set():
            if max_jobs is not None and n >= max_jobs:
                break
            rec = self.run_once()
            if rec is not None:
                n += 1
                continue
            if once:
                break
            if time.monotonic() - last_recover > RECOVER_EVERY_S:
                self.recover()
                last_recover = time.monotonic()
            self.stop_event.wait(self.poll_s)
        return n

    def stop(self) -> None:
        self.stop_event.set()


@dataclass
class EmbeddedHandle:
    """What :func:`start_embedded` returns; ``stop()`` ends the thread and the scheduler."""

    worker: Worker
    thread: threading.Thread
    scheduler: object | None

    def stop(self, timeout: float = 10.0) -> None:
        self.worker.stop()
        if self.scheduler is not None:
            self.scheduler.shutdown()
        self.thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self.thread.is_alive()


def start_embedded(ctx, *, scheduler: bool = True, triggers: bool = True) -> EmbeddedHandle:
    """Start one worker thread (and the persistent scheduler) inside this process."""
    w = Worker(ctx)
    t = threading.Thread(target=_guarded_run, args=(w,), name="tickdeck-worker", daemon=True)
    t.start()
    sched = None
    if scheduler:
        from jobs.scheduler import Scheduler

        sched = Scheduler(ctx)
        if triggers:
            sched.install_market_triggers()
        sched.start()
    return EmbeddedHandle(w, t, sched)


def _guarded_run(w: Worker) -> None:
    while not w.stop_event.is_set():
        try:
            w.run()
        except Exception:  # noqa: BLE001 - e.g. SQL briefly down; keep the embedded worker alive
            log.exception("embedded worker loop failed; restarting in 5 s")
            w.stop_event.wait(5)
