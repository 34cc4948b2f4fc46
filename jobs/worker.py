"""Workers: claim jobs from the SQL queue and run them in N slots, in this process or another.

``tickdeck worker`` runs :meth:`Worker.run` in its own process (any number of them may share
one PostgreSQL database); ``tickdeck serve`` calls :func:`start_embedded`, which runs a worker
with ``Settings.worker_slots`` slots (default 2) plus the scheduler and the service supervisor
inside the server process. A slot is a thread that claims and runs one job at a time, so with
two slots a backfill or an export runs while another job does; long-running services (live
collection) are not jobs and take no slot (:mod:`core.services`).

On start (and every :data:`RECOVER_EVERY_S` while idle) a worker marks jobs orphaned by a dead
worker as ``interrupted`` and re-queues them per their retry policy, and completes the
post-write step (default bars, validation) of days whose writer was killed during it
(:func:`core.ingest.complete_pending`: one SQL query when nothing is pending).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from tickdeck.core.errors import JobError
from tickdeck.jobs.queue import STALE_AFTER_S, JobQueue, JobRecord, default_worker_id
from tickdeck.jobs.runner import run_job, wait_heartbeat

log = logging.getLogger(__name__)

POLL_S = 0.5  # idle wait between claims: fast pick-up without hammering SQL
RECOVER_EVERY_S = 30.0  # how often an idle worker looks for orphaned jobs
SLOT_RESTART_S = 5.0  # a slot whose loop failed (e.g. SQL briefly down) starts again after this
MAX_SLOTS = 64


class Worker:
    """Claims and runs jobs, up to ``slots`` at a time.

    Parameters
    ----------
    ctx
        The process's :class:`tickdeck.core.context.Context`.
    kinds
        Only claim these kinds (default: all).
    stale_after_s
        Heartbeat age after which a running job counts as orphaned.
    slots
        Jobs run at once, each in its own thread (``<worker id>/<slot>`` in the job's
        ``worker`` column when more than one).
    heartbeat
        The clock of each running job's heartbeat (:func:`jobs.runner.wait_heartbeat`: every
        ``HEARTBEAT_S``); a test passes one it beats on demand.

    Raises
    ------
    JobError
        ``slots`` outside 1..64.
    """

    def __init__(self, ctx, *, worker_id: str | None = None, kinds=None, poll_s: float = POLL_S,
                 stale_after_s: float = STALE_AFTER_S, auto_retry: bool = True, slots: int = 1,
                 heartbeat: Callable[[threading.Event], bool] = wait_heartbeat):
        if not 1 <= int(slots) <= MAX_SLOTS:
            raise JobError(f"a worker runs 1..{MAX_SLOTS} slots, got {slots!r}")
        self.ctx = ctx
        self.queue = JobQueue(ctx.catalog.engine, ctx.bus)
        self.worker_id = worker_id or f"{default_worker_id()}:{uuid.uuid4().hex[:6]}"
        self.kinds = kinds
        self.poll_s = poll_s
        self.stale_after_s = stale_after_s
        self.auto_retry = auto_retry
        self.slots = int(slots)
        self.heartbeat = heartbeat
        self.stop_event = threading.Event()
        self.ran: list[JobRecord] = []
        self._lock = threading.Lock()
        self._taken = 0  # jobs claimed (or about to be) by this run, for max_jobs
        self.busy: dict[int, int] = {}  # slot -> id of the job it runs now

    def recover(self) -> list[int]:
        self.complete_pending()
        return self.queue.recover_stale(stale_after_s=self.stale_after_s, auto_retry=self.auto_retry)

    def complete_pending(self) -> list:
        """Finish post-write steps a killed writer left pending; never raises (logged)."""
        from tickdeck.core.ingest import complete_pending

        try:
            done = complete_pending(self.ctx)
        except Exception:  # noqa: BLE001 - e.g. a day's store briefly unreadable; retried next round
            log.exception("completing pending post-write steps failed")
            return []
        if done:
            log.info("completed the post-write step of %d day(s) left pending", len(done))
        return done

    def slot_id(self, slot: int) -> str:
        return self.worker_id if self.slots == 1 else f"{self.worker_id}/{slot + 1}"

    def run_once(self, slot: int = 0) -> JobRecord | None:
        """Claim and run one job in ``slot``; ``None`` when the queue is empty."""
        job = self.queue.claim(self.slot_id(slot), self.kinds)
        if job is None:
            return None
        self.busy[slot] = job.id
        try:
            rec = run_job(self.ctx, self.queue, job, self.slot_id(slot), heartbeat=self.heartbeat)
        finally:
            self.busy.pop(slot, None)
        self.ran.append(rec)
        return rec

    def _take(self, max_jobs: int | None) -> bool:
        with self._lock:
            if max_jobs is not None and self._taken >= max_jobs:
                return False
            self._taken += 1
            return True

    def _give_back(self) -> None:
        with self._lock:
            self._taken -= 1

    def _loop(self, slot: int, once: bool, max_jobs: int | None) -> None:
        last_recover = time.monotonic()
        while not self.stop_event.is_set():
            if not self._take(max_jobs):
                break
            if self.run_once(slot) is not None:
                continue
            self._give_back()
            if once:
                break
            if slot == 0 and time.monotonic() - last_recover > RECOVER_EVERY_S:
                self.recover()
                last_recover = time.monotonic()
            self.stop_event.wait(self.poll_s)

    def _slot_main(self, slot: int, once: bool, max_jobs: int | None) -> None:
        while not self.stop_event.is_set():
            try:
                self._loop(slot, once, max_jobs)
                return
            except Exception:  # noqa: BLE001 - e.g. SQL briefly down; the other slots go on
                log.exception("worker slot %s failed; restarting in %g s", self.slot_id(slot), SLOT_RESTART_S)
                if once:
                    return
                self.stop_event.wait(SLOT_RESTART_S)

    def run(self, *, once: bool = False, max_jobs: int | None = None) -> int:
        """Run jobs until stopped, the queue drains (``once``) or ``max_jobs`` ran; returns the count.

        With one slot the jobs run in the calling thread; with more, each slot is a thread and
        this call waits for them all (signals still reach the calling thread).
        """
        self._taken = 0
        self.recover()
        if self.slots == 1:
            self._loop(0, once, max_jobs)
            return self._taken
        threads = [threading.Thread(target=self._slot_main, args=(i, once, max_jobs), daemon=True,
                                    name=f"tickdeck-worker-slot-{i + 1}") for i in range(self.slots)]
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                t.join(0.5)
        return self._taken

    def stop(self) -> None:
        self.stop_event.set()


@dataclass
class EmbeddedHandle:
    """What :func:`start_embedded` returns; ``stop()`` ends the services, the slots and the scheduler."""

    worker: Worker
    thread: threading.Thread
    scheduler: object | None
    supervisor: object | None = None

    def stop(self, timeout: float = 10.0) -> None:
        if self.supervisor is not None:
            self.supervisor.shutdown()  # services first: each gets its bounded final flush
        self.worker.stop()
        if self.scheduler is not None:
            self.scheduler.shutdown()
        self.thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self.thread.is_alive()


def start_embedded(ctx, *, scheduler: bool = True, triggers: bool | None = None, slots: int | None = None,
                   services: bool | None = None, clock=None, trigger_every_s: float | None = None,
                   poll_s: float | None = None) -> EmbeddedHandle:
    """Start a worker (``slots`` threads, default ``Settings.worker_slots``) inside this process,
    and with ``scheduler`` the persistent scheduler, the market triggers and the service supervisor.

    Parameters
    ----------
    triggers
        Install the market triggers with the scheduler (default ``Settings.market_triggers``,
        ``TICKDECK_MARKET_TRIGGERS``).
    services
        Run the service supervisor (default: with the scheduler — one of each per database).
    clock, trigger_every_s
        The market triggers' clock (default the demo feed's clock when configured, else the wall
        clock, ET; :class:`jobs.triggers.MarketTriggers`) and how often they are checked (tests run
        a simulated day with the emulator's clock).
    poll_s
        Idle wait of the worker's slots and the supervisor's round (default :data:`POLL_S` and
        :data:`core.services.POLL_S`); a simulated day shortens them with its clock.
    """
    w = Worker(ctx, slots=slots or ctx.settings.worker_slots, poll_s=poll_s or POLL_S)
    t = threading.Thread(target=_guarded_run, args=(w,), name="tickdeck-worker", daemon=True)
    t.start()
    sched = sup = None
    if services if services is not None else scheduler:
        from tickdeck.core.services import Supervisor

        sup = Supervisor(ctx, **({"poll_s": poll_s} if poll_s else {}))
        sup.start()
    if scheduler:
        from tickdeck.jobs.scheduler import TRIGGER_CHECK_S, Scheduler

        sched = Scheduler(ctx, clock=clock)
        if ctx.settings.market_triggers if triggers is None else triggers:
            sched.install_market_triggers(trigger_every_s or TRIGGER_CHECK_S)
        sched.start()
    return EmbeddedHandle(w, t, sched, sup)


def _guarded_run(w: Worker) -> None:
    while not w.stop_event.is_set():
        try:
            w.run()
        except Exception:  # noqa: BLE001 - e.g. SQL briefly down; keep the embedded worker alive
            log.exception("embedded worker loop failed; restarting in 5 s")
            w.stop_event.wait(5)
