"""Persistent schedules on APScheduler 3, stored in the SQL database next to the jobs table.

A schedule does not run work itself: when it fires it *submits* a queue job of its kind, so
the work is claimed by any worker, shows progress and can be cancelled like any other job.
Schedules live in APScheduler's ``apscheduler_jobs`` table (``SQLAlchemyJobStore`` on the
catalog's engine) and therefore survive restarts. Missed runs are coalesced into one.

Warnings
--------
Run the scheduler in one process per database (the embedded server, or one
``tickdeck worker --scheduler``): APScheduler 3 job stores are not meant to be shared by
several running schedulers.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from tickdeck.core.errors import JobError
from tickdeck.jobs.queue import JobQueue

log = logging.getLogger(__name__)

MISFIRE_GRACE_S = 3600  # a run missed while down still fires once within the hour (coalesced)
TRIGGER_CHECK_S = 20  # market-trigger polling; open/close fire at most this late
TRIGGERS_SCHEDULE = "market-triggers"
_CURRENT: "Scheduler | None" = None  # the running scheduler of this process (see _fire)


@dataclass(frozen=True)
class ScheduleInfo:
    name: str
    kind: str
    params: dict
    priority: int
    trigger: str
    next_run: dt.datetime | None


def _fire(kind: str, params: dict, priority: int) -> None:
    """Module-level entry point APScheduler stores by reference: submit a queue job."""
    if _CURRENT is None:
        log.warning("schedule for %s fired with no scheduler context", kind)
        return
    _CURRENT.queue.submit(kind, params, priority=priority, requested_by="scheduler")


def _check_triggers() -> None:
    if _CURRENT is None:
        return
    from tickdeck.jobs.triggers import MarketTriggers

    try:
        MarketTriggers(_CURRENT.ctx, _CURRENT.queue, clock=_CURRENT.clock).check()
    except Exception:  # noqa: BLE001 - e.g. SQL briefly down: the next check fires what is due
        log.exception("market trigger check failed")


class Scheduler:
    """The process's persistent scheduler.

    Parameters
    ----------
    ctx
        :class:`core.context.Context`; its catalog engine hosts the job store.
    clock
        What the market triggers take as "now" (default :class:`jobs.triggers.MarketTriggers`'s: the
        demo feed's clock when configured, else the wall clock, ET); a test passes the emulator's clock
        to run a trading day in minutes.
    """

    def __init__(self, ctx, *, clock=None):
        self.ctx = ctx
        self.clock = clock
        self.queue = JobQueue(ctx.catalog.engine, ctx.bus)
        self._sched = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=ctx.catalog.engine)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_S},
            timezone="America/New_York",
        )

    # -- schedules ------------------------------------------------------------------------
    def add_schedule(self, name: str, kind: str, params: dict | None = None, *, cron: str | None = None,
                     every_s: float | None = None, priority: int = 1, start_now: bool = False) -> ScheduleInfo:
        """Create or replace a named schedule that submits ``kind`` jobs.

        ``cron`` is a five-field crontab in ET (``"30 16 * * mon-fri"``); ``every_s`` an interval.

        Raises
        ------
        JobError
            Neither or both of ``cron``/``every_s``, a bad crontab or an unknown kind.
        """
        from tickdeck.jobs.registry import KIND_NAMES

        if kind not in KIND_NAMES:
            raise JobError(f"unknown job kind {kind!r} for schedule {name!r}")
        if (cron is None) == (every_s is None):
            raise JobError(f"schedule {name!r} needs exactly one of cron or every_s")
        try:
            trig = (CronTrigger.from_crontab(cron, timezone="America/New_York") if cron
                    else IntervalTrigger(seconds=every_s))
        except ValueError as e:
            raise JobError(f"schedule {name!r}: bad crontab {cron!r}: {e}") from None
        extra = {"next_run_time": dt.datetime.now(dt.timezone.utc)} if start_now else {}
        self._sched.add_job(_fire, trig, args=[kind, dict(params or {}), priority], id=name, name=name,
                            replace_existing=True, **extra)
        return self._info(self._sched.get_job(name))

    def remove_schedule(self, name: str) -> None:
        from apscheduler.jobstores.base import JobLookupError

        try:
            self._sched.remove_job(name)
        except JobLookupError:
            raise JobError(f"no schedule named {name!r}") from None

    def schedules(self) -> list[ScheduleInfo]:
        return [self._info(j) for j in self._sched.get_jobs()]

    def install_market_triggers(self, every_s: float = TRIGGER_CHECK_S) -> None:
        """Check the market triggers now and every ``every_s`` seconds (see :mod:`tickdeck.jobs.triggers`)."""
        self._sched.add_job(_check_triggers, IntervalTrigger(seconds=every_s), id=TRIGGERS_SCHEDULE,
                            name=TRIGGERS_SCHEDULE, replace_existing=True,
                            next_run_time=dt.datetime.now(dt.timezone.utc))

    @staticmethod
    def _info(job) -> ScheduleInfo:
        args = list(job.args) + [None, {}, 1][len(job.args):]
        kind = args[0] if job.func is _fire else "triggers"
        params = args[1] if job.func is _fire else {}
        prio = args[2] if job.func is _fire else 0
        return ScheduleInfo(job.id, kind, params, prio, str(job.trigger), getattr(job, "next_run_time", None))

    # -- lifecycle ------------------------------------------------------------------------
    def start(self, paused: bool = False) -> None:
        global _CURRENT
        _CURRENT = self
        self._sched.start(paused=paused)

    def shutdown(self) -> None:
        global _CURRENT
        if self._sched.running:
            self._sched.shutdown(wait=False)
        if _CURRENT is self:
            _CURRENT = None
