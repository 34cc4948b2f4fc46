"""``/api/v1/admin`` and ``/api/v1/pipeline``: health, data freshness, retention, backfill.

* ``GET /admin/health-check`` (viewer) — :func:`core.health.check_health` (feed port, ArcticDB, SQL,
  Redis, disk, memory, CPU).
* ``GET /admin/data-status`` (viewer) — every dataset's freshness and quality (:mod:`tickdeck.core.status`).
* ``POST /admin/cleanup`` (admin) — retention (:mod:`core.retention`): a dry run unless
  ``confirm=true``; the answer lists what was (would be) deleted.
* ``POST /admin/backfill`` (admin) — a ``backfill`` job (202 with its ``Location``).
* ``GET /pipeline/health`` (viewer) — job queue depth per status, services, feed, dead letters,
  last days written (:mod:`core.pipeline_health`).
"""

from __future__ import annotations

import collections
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from tickdeck.app.api.deps import CtxDep, Principal, audit, require_role
from tickdeck.app.api.errors import problem
from tickdeck.app.api.schemas import (BackfillIn, CleanupOut, DataStatus, DataStatusOut, DayWrittenOut, HealthOut,
                             JobAccepted, PipelineHealthOut)
from tickdeck.app.api.v1._shapes import accepted, feed_out, service_out
from tickdeck.app.api.v1.collection import requester, symbols_of
from tickdeck.core.health import check_health
from tickdeck.core.naming import date_range, format_day
from tickdeck.core.pipeline_health import pipeline_health
from tickdeck.core.retention import apply_retention
from tickdeck.core.status import dataset_statuses
from tickdeck.jobs.queue import JobQueue

router = APIRouter(tags=["admin"])

Viewer = Annotated[Principal, Depends(require_role("viewer"))]
Admin = Annotated[Principal, Depends(require_role("admin"))]


@router.get("/admin/health-check", response_model=HealthOut, summary="system health (tickdeck.core.health)")
def health_check(ctx: CtxDep, _: Viewer) -> HealthOut:
    return HealthOut.model_validate(check_health(ctx).to_dict())


@router.get("/admin/data-status", response_model=DataStatus, summary="every dataset's freshness and quality")
def data_status(ctx: CtxDep, _: Viewer) -> DataStatus:
    statuses = dataset_statuses(ctx)
    counts = collections.Counter(s.state for s in statuses)
    return DataStatus(datasets=[DataStatusOut.model_validate(s) for s in statuses],
                      counts={k: counts.get(k, 0) for k in ("fresh", "stale", "outdated", "empty", "failing")})


@router.post("/admin/cleanup", response_model=CleanupOut,
             summary="apply retention: a dry run unless confirm=true (then it deletes)")
def cleanup(ctx: CtxDep, principal: Admin,
            confirm: Annotated[bool, Query(description="true: delete; false (default): only report")] = False,
            ) -> CleanupOut:
    report = apply_retention(ctx, dry_run=not confirm)
    out = CleanupOut.model_validate(report.to_dict())
    audit(principal, ctx, "admin.cleanup" if confirm else "admin.cleanup.dry_run", "retention",
          {"dry_run": not confirm, "tick_days": len(out.tick_days), "bar_series": len(out.bar_series),
           "bytes_freed": out.bytes_freed})
    return out


@router.post("/admin/backfill", status_code=202, response_model=JobAccepted,
             summary="queue a backfill of missing days (202; follow Location)")
def backfill(ctx: CtxDep, principal: Admin, request: Request, body: BackfillIn | None = None):
    body = body or BackfillIn()
    params: dict = {}
    if body.symbols:
        params["symbols"] = symbols_of(body.symbols)
    if (body.start is None) != (body.end is None):
        problem(422, detail="give both start and end, or neither (every stale dataset up to the last completed day)")
    if body.start is not None:
        start, end = date_range(body.start, body.end)
        params.update(start=format_day(start), end=format_day(end))
    elif body.symbols:
        problem(422, detail="symbols need start and end (without a range, every stale dataset is backfilled)")
    queue = JobQueue.for_context(ctx)
    jid = queue.submit("backfill", params, priority=2, requested_by=requester(principal))
    audit(principal, ctx, "admin.backfill", f"job {jid}", params)
    return accepted(request, queue.get(jid))


@router.get("/pipeline/health", response_model=PipelineHealthOut,
            summary="job queue depth, services, feed, dead letters, last days written")
def pipeline(ctx: CtxDep, _: Viewer) -> PipelineHealthOut:
    h = pipeline_health(ctx)
    return PipelineHealthOut(status=h.status, issues=list(h.issues), jobs=h.jobs, oldest_pending_s=h.oldest_pending_s,
                             services=[service_out(s) for s in h.services], supervisor_alive=h.supervisor_alive,
                             feeds=[feed_out(ev) for ev in h.feeds.values()], dead_letters_new=h.dead_letters_new,
                             last_days_written=[DayWrittenOut.model_validate(d) for d in h.last_days_written])
