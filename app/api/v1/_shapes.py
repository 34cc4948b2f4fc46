"""Shapes shared by the operations routers (collection, feeds, jobs, exports, imports, admin):
core records to response models, and the 202 answer of queued work."""

from __future__ import annotations

import time

from fastapi import Request
from fastapi.responses import JSONResponse

from tickdeck.app.api.schemas import FeedStatusOut, JobAccepted, JobOut, Problem, ServiceOut


def problem_doc(description: str) -> dict:
    """An OpenAPI response of a problem document (for statuses beyond the API-wide ones)."""
    schema = Problem.model_json_schema()
    return {"description": description, "content": {"application/problem+json": {"schema": schema}}}


CONFLICT = {409: problem_doc("the record's state does not allow it (the detail says which state)")}


def job_out(rec) -> JobOut:
    """A ``tickdeck.jobs.queue.JobRecord`` (the traceback stays in the job table; ``message``: one-line error)."""
    return JobOut.model_validate(rec)


def service_out(st) -> ServiceOut:
    """A ``tickdeck.core.services.ServiceStatus`` with its state in words."""
    return ServiceOut.model_validate({**st.to_dict(), "description": st.describe()})


def feed_out(ev, now: float | None = None) -> FeedStatusOut:
    """A ``tickdeck.core.events.FeedStatusChanged`` with its age."""
    now = time.time() if now is None else now
    return FeedStatusOut.model_validate({**ev.to_dict(), "age_s": round(max(now - ev.updated_at, 0.0), 3)})


def job_location(request: Request, job_id: int) -> str:
    """``/api/v1/jobs/{id}`` as this server is reached (its root path included)."""
    return request.url_for("get_job", job_id=job_id).path


def accepted(request: Request, rec, *, download: str | None = None) -> JSONResponse:
    """202 with ``Location`` of the job and the job itself."""
    location = job_location(request, rec.id)
    body = JobAccepted(job=job_out(rec), location=location, download=download)
    return JSONResponse(body.model_dump(mode="json"), status_code=202, headers={"Location": location})
