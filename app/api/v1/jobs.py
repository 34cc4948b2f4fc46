"""``/api/v1/jobs``: list and inspect jobs (viewer), cancel and retry them (admin).

The job queue is :class:`jobs.queue.JobQueue` (the same rows the pages and ``tickdeck jobs`` use).
Cancelling a running job is cooperative: the answer shows ``cancel_requested`` and the job ends
as ``cancelled`` at its next progress report.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from tickdeck.app.api.deps import CtxDep, Principal, audit, require_role
from tickdeck.app.api.schemas import JobOut, JobStatus
from tickdeck.app.api.v1._shapes import CONFLICT, job_out
from tickdeck.jobs.queue import JobQueue
from tickdeck.jobs.registry import KIND_NAMES

router = APIRouter(tags=["jobs"])

Viewer = Annotated[Principal, Depends(require_role("viewer"))]
Admin = Annotated[Principal, Depends(require_role("admin"))]
MAX_LIST = 1000
JobId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the job's id")]  # the SQL column is a 32-bit integer


@router.get("/jobs", response_model=list[JobOut], summary="jobs, newest first")
def list_jobs(ctx: CtxDep, _: Viewer,
              status: Annotated[list[JobStatus] | None, Query(description="one or more statuses")] = None,
              kind: Annotated[str | None, Query(description=f"one of {', '.join(KIND_NAMES)}",
                                                max_length=32)] = None,
              limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 100) -> list[JobOut]:
    if kind is not None and kind not in KIND_NAMES:
        from tickdeck.app.api.errors import problem

        problem(422, detail=f"unknown job kind {kind!r}; choose one of {', '.join(KIND_NAMES)}")
    return [job_out(r) for r in JobQueue.for_context(ctx).list(status=status or None, kind=kind, limit=limit)]


@router.get("/jobs/{job_id}", response_model=JobOut, summary="one job", name="get_job")
def get_job(ctx: CtxDep, _: Viewer, job_id: JobId) -> JobOut:
    return job_out(JobQueue.for_context(ctx).get(job_id))


@router.post("/jobs/{job_id}/cancel", response_model=JobOut, responses=CONFLICT,
             summary="cancel a pending job, or ask a running one to stop (409 when it has finished)")
def cancel_job(ctx: CtxDep, principal: Admin, job_id: JobId) -> JobOut:
    rec = JobQueue.for_context(ctx).cancel(job_id)
    audit(principal, ctx, "job.cancel", f"job {job_id}", {"kind": rec.kind, "status": rec.status})
    return job_out(rec)


@router.post("/jobs/{job_id}/retry", response_model=JobOut, responses=CONFLICT,
             summary="queue a failed, cancelled or interrupted job again (409 otherwise)")
def retry_job(ctx: CtxDep, principal: Admin, job_id: JobId) -> JobOut:
    rec = JobQueue.for_context(ctx).retry(job_id)
    audit(principal, ctx, "job.retry", f"job {job_id}", {"kind": rec.kind, "retries": rec.retries})
    return job_out(rec)
