"""``/api/v1/collection``: start and stop collection, and what it is doing.

* ``POST /collection/start`` (admin) — ``mode=live``: the supervised ``live`` service
  (:class:`core.services.ServiceControl`) with ``symbols`` (default: the watchlist); when it already
  runs, the new symbol set is applied without a restart. ``mode=history``: a ``collect`` job for the
  trading days ``start``..``end``. Both answer 202 with a ``Location`` to follow (the status, or the job).
* ``GET /collection/status`` (viewer) — the live service, unfinished collect jobs and the feed.
* ``DELETE /collection/stop`` (admin) — stop the live service (its final flush lands every
  acknowledged tick); ``cancel_jobs=true`` also cancels unfinished collect jobs.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from tickdeck.app.api.deps import CtxDep, Principal, audit, require_role
from tickdeck.app.api.errors import problem
from tickdeck.app.api.schemas import CollectionStart, CollectionStarted, CollectionStatus, ServiceOut
from tickdeck.app.api.v1._shapes import CONFLICT, feed_out, job_location, job_out, service_out
from tickdeck.core import feed_status
from tickdeck.core.naming import date_range, format_day, normalize_ticker
from tickdeck.core.services import ServiceControl, ServiceError
from tickdeck.jobs.queue import UNFINISHED, JobQueue

router = APIRouter(tags=["collection"])

Viewer = Annotated[Principal, Depends(require_role("viewer"))]
Admin = Annotated[Principal, Depends(require_role("admin"))]
LIVE = "live"


def requester(principal: Principal) -> str:
    """Who a service or job request is recorded as asked by."""
    return f"{principal.user.name} (API{f' key {principal.key_name}' if principal.key_name else ''})"


def symbols_of(raw) -> list[str]:
    """Normalised, de-duplicated tickers (422 naming the first bad one)."""
    return list(dict.fromkeys(normalize_ticker(s) for s in raw))


@router.post("/collection/start", status_code=202, response_model=CollectionStarted,
             summary="start live collection (the live service) or queue a history collect job")
def start_collection(ctx: CtxDep, principal: Admin, body: CollectionStart, request: Request) -> JSONResponse:
    symbols = symbols_of(body.symbols)
    if body.mode == LIVE:
        if body.start or body.end:
            problem(422, detail="start and end are for mode=history; live collection streams the current day")
        control = ServiceControl(ctx)
        control.start(LIVE, by=requester(principal), params={"symbols": symbols} if symbols else {})
        audit(principal, ctx, "collection.start", LIVE, {"mode": "live", "symbols": symbols})
        location = request.url_for("collection_status").path
        out = CollectionStarted(mode="live", location=location, service=service_out(control.status(LIVE)))
    else:
        if not symbols or body.start is None or body.end is None:
            problem(422, detail="mode=history needs symbols, start and end")
        start, end = date_range(body.start, body.end)
        days = ctx.calendar().trading_days(start, end)
        if not days:
            problem(422, detail=f"no trading days between {start} and {end}")
        queue = JobQueue.for_context(ctx)
        jid = queue.submit("collect", {"symbols": symbols, "start": format_day(start), "end": format_day(end)},
                           priority=body.priority, requested_by=requester(principal))
        audit(principal, ctx, "collection.start", f"job {jid}",
              {"mode": "history", "symbols": symbols, "start": format_day(start), "end": format_day(end)})
        location = job_location(request, jid)
        out = CollectionStarted(mode="history", location=location, job=job_out(queue.get(jid)))
    return JSONResponse(out.model_dump(mode="json"), status_code=202, headers={"Location": location})


@router.get("/collection/status", response_model=CollectionStatus, name="collection_status",
            summary="the live service, unfinished collect jobs and the feed's last status")
def collection_status(ctx: CtxDep, _: Viewer) -> CollectionStatus:
    control = ServiceControl(ctx)
    jobs = JobQueue.for_context(ctx).list(status=UNFINISHED, kind="collect", limit=200)
    return CollectionStatus(service=service_out(control.status(LIVE)), supervisor_alive=control.supervisor_alive(),
                            jobs=[job_out(j) for j in jobs],
                            feeds=[feed_out(ev) for ev in feed_status.latest(ctx).values()])


@router.delete("/collection/stop", response_model=ServiceOut, responses=CONFLICT,
               summary="stop the live service (and with cancel_jobs, unfinished collect jobs)")
def stop_collection(ctx: CtxDep, principal: Admin,
                    cancel_jobs: Annotated[bool, Query(description="also cancel unfinished collect jobs")] = False,
                    ) -> ServiceOut:
    control = ServiceControl(ctx)
    try:
        control.stop(LIVE, by=requester(principal))
    except ServiceError as e:
        problem(409, detail=str(e))
    cancelled = []
    if cancel_jobs:
        from tickdeck.core.errors import JobError

        queue = JobQueue.for_context(ctx)
        for job in queue.list(status=UNFINISHED, kind="collect", limit=1000):
            try:
                queue.cancel(job.id)
                cancelled.append(job.id)
            except JobError:  # finished meanwhile
                pass
    audit(principal, ctx, "collection.stop", LIVE, {"cancelled_jobs": cancelled})
    return service_out(control.status(LIVE))
