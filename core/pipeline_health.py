"""The collection pipeline at a glance: job queue depth, services, feed, dead letters, last days written.

:func:`pipeline_health` reads it all from SQL (the job table, the services' statuses, the feed
status cache, dead letters, tier-1 rows), so any process answers the same. ``issues`` names
what needs a look, one sentence each; ``status`` is ``ok`` without issues, else ``degraded``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from tickdeck.core import db
from tickdeck.core.events import FeedStatusChanged

JOB_STATUSES = ("pending", "running", "waiting", "succeeded", "failed", "cancelled", "interrupted")
PENDING_STALL_S = 600.0  # a job pending this long means no worker takes jobs (or all slots are busy for long)
LAST_DAYS = 10  # most recently written symbol-days listed


@dataclass(frozen=True)
class DayWritten:
    """A symbol-day whose tier-1 row was written recently (``updated_at``, UTC)."""

    symbol: str
    day: dt.date
    ticks: int
    source: str
    updated_at: dt.datetime


@dataclass(frozen=True)
class PipelineHealth:
    status: str  # ok | degraded
    issues: tuple[str, ...]
    jobs: dict  # status -> number of jobs
    oldest_pending_s: float | None
    services: tuple  # core.services.ServiceStatus
    supervisor_alive: bool
    feeds: dict  # kind -> core.events.FeedStatusChanged (the last known status)
    dead_letters_new: int
    last_days_written: tuple[DayWritten, ...]


def _utc(t: dt.datetime | None) -> dt.datetime | None:
    if t is not None and t.tzinfo is None:
        return t.replace(tzinfo=dt.timezone.utc)
    return t


def job_counts(ctx) -> tuple[dict[str, int], dt.datetime | None]:
    """Jobs per status, and the creation time of the oldest pending job."""
    j = db.Job
    with ctx.catalog.engine.connect() as c:
        rows = c.execute(select(j.status, func.count(j.id)).group_by(j.status)).all()
        oldest = c.execute(select(func.min(j.created_at)).where(j.status == "pending")).scalar()
    return {s: 0 for s in JOB_STATUSES} | {r[0]: int(r[1]) for r in rows}, _utc(oldest)


def last_days_written(ctx, limit: int = LAST_DAYS) -> tuple[DayWritten, ...]:
    t = db.TickDay
    with ctx.catalog.engine.connect() as c:
        rows = c.execute(select(t.symbol, t.day, t.ticks, t.source, t.updated_at)
                         .order_by(t.updated_at.desc(), t.id.desc()).limit(limit)).all()
    return tuple(DayWritten(r[0], r[1], int(r[2] or 0), r[3] or "", _utc(r[4])) for r in rows)


def _feed_issue(kind: str, ev: FeedStatusChanged) -> str | None:
    if ev.state == "breaker_open":
        return f"the {kind} feed's circuit breaker is open: {ev.last_error or 'too many failures'}"
    if ev.state == "reconnecting":
        return f"the {kind} feed is reconnecting: {ev.last_error or 'connection lost'}"
    return None


def pipeline_health(ctx, *, now: dt.datetime | None = None) -> PipelineHealth:
    """What the pipeline is doing and what needs a look (see the module docstring)."""
    from tickdeck.core import feed_status
    from tickdeck.core.services import ServiceControl

    now = now or dt.datetime.now(dt.timezone.utc)
    counts, oldest = job_counts(ctx)
    control = ServiceControl(ctx)
    services = tuple(control.statuses())
    alive = control.supervisor_alive()
    feeds = feed_status.latest(ctx)
    issues: list[str] = []
    pending_s = (now - oldest).total_seconds() if oldest is not None else None
    if pending_s is not None and pending_s > PENDING_STALL_S:
        issues.append(f"the oldest pending job has waited {pending_s / 60:.0f} min: is a worker running?")
    for st in services:
        if st.state in ("failed", "restarting"):
            issues.append(f"service {st.name}: {st.describe()}" + (f" ({st.last_error})" if st.last_error else ""))
        elif st.desired == "running" and not alive:
            issues.append(f"service {st.name} should run but no supervisor is running")
    live = {st.name: st for st in services}.get("live")
    for kind, ev in feeds.items():
        if kind == "level1" and (live is None or live.state != "running"):
            continue  # the last run's state; nothing is collecting live now
        why = _feed_issue(kind, ev)
        if why:
            issues.append(why)
    if live is not None and live.state == "running" and "level1" in feeds and feeds["level1"].state == "disconnected":
        issues.append("live collection runs but its Level 1 feed is disconnected")
    dead = ctx.catalog.count_dead_letters()
    return PipelineHealth("degraded" if issues else "ok", tuple(issues), counts, pending_s, services, alive, feeds,
                          dead, last_days_written(ctx))
