"""Validation over HTTP: run validators on a stored day, queue a validation job over a range, read the
quality scores and the gaps of a symbol.

* ``GET /validate/{check}/{symbol}/{day}`` — :func:`core.validation.validate_day` (stored results
  of the same data version younger than a day are reused unless ``use_cache=false``).
* ``POST /quality/validate`` — a ``validate`` job (with scoring) over the stored days of a range:
  202 with ``Location`` of the job.
* ``GET /quality/{symbol}`` — :func:`core.quality_report.quality_days`.
* ``GET /gaps/{symbol}`` — :func:`core.quality_report.gaps`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request

from tickdeck.app.api.deps import CtxDep, Principal, audit, require_role
from tickdeck.app.api.errors import problem
from tickdeck.app.api.schemas import DAY_MAX, DAY_MIN, DayReportOut, GapsOut, JobAccepted, QualityOut, QualityValidateIn
from tickdeck.app.api.v1._shapes import accepted
from tickdeck.core.naming import format_day, normalize_ticker
from tickdeck.core.quality_report import RangeTooLong, gaps, quality_days, report_record, stored_days_in
from tickdeck.core.validation import validate_day

router = APIRouter(tags=["validation"])
Viewer = Annotated[Principal, Depends(require_role("viewer"))]
Researcher = Annotated[Principal, Depends(require_role("researcher"))]
SymbolPath = Annotated[str, Path(max_length=40, description="ticker, e.g. AAPL", examples=["AAPL"])]
Validator = Literal["session", "storage", "timezone", "continuity", "rules", "all"]
FromQ = Annotated[dt.date | None, Query(ge=DAY_MIN, le=DAY_MAX, description="first day (default: first stored)")]
ToQ = Annotated[dt.date | None, Query(ge=DAY_MIN, le=DAY_MAX, description="last day (default: last stored)")]
SeverityQ = Literal["CRITICAL", "HIGH", "MEDIUM", "LOW"]


@router.get("/validate/{check}/{symbol}/{day}", response_model=DayReportOut,
            summary="run a validator (or all) on a stored day")
def validate(ctx: CtxDep, principal: Viewer, check: Annotated[Validator, Path(description="validator, or all")],
             symbol: SymbolPath, day: Annotated[dt.date, Path(ge=DAY_MIN, le=DAY_MAX, description="YYYY-MM-DD")],
             use_cache: Annotated[bool, Query(description="reuse stored results of the same data version")] = True
             ) -> DayReportOut:
    report = validate_day(ctx, symbol, day, types=None if check == "all" else check, use_cache=use_cache)
    return DayReportOut.model_validate(report_record(report))


@router.post("/quality/validate", status_code=202, response_model=JobAccepted,
             summary="validate and score a symbol's stored days in a range, as a job (202 with Location)")
def quality_validate(request: Request, ctx: CtxDep, principal: Researcher, body: QualityValidateIn):
    from tickdeck.jobs.queue import JobQueue

    sym = normalize_ticker(body.symbol)
    days = stored_days_in(ctx, sym, body.start, body.end)
    params = {"symbol": sym, "days": [format_day(d) for d in days], "score": True}
    queue = JobQueue.for_context(ctx)
    job_id = queue.submit("validate", params, requested_by=principal.user.name)
    audit(principal, ctx, "quality.validate", sym, {"job_id": job_id, "days": len(days),
                                                    "start": format_day(days[0]), "end": format_day(days[-1])})
    return accepted(request, queue.get(job_id))


@router.get("/quality/{symbol}", response_model=QualityOut, summary="quality score and components per stored day")
def quality(ctx: CtxDep, principal: Viewer, symbol: SymbolPath, start: FromQ = None, end: ToQ = None) -> QualityOut:
    return QualityOut.model_validate(quality_days(ctx, symbol, start, end))


@router.get("/gaps/{symbol}", response_model=GapsOut, summary="gaps in the ticks and missing trading days, by severity",
            responses={413: {"description": "the range spans more days than one answer covers"}})
def list_gaps(ctx: CtxDep, principal: Viewer, symbol: SymbolPath, start: FromQ = None, end: ToQ = None,
              min_severity: Annotated[SeverityQ, Query(description="only gaps this bad or worse")] = "LOW"
              ) -> GapsOut:
    try:
        report = gaps(ctx, symbol, start, end, min_severity=min_severity)
    except RangeTooLong as e:
        problem(413, detail=str(e))
    return GapsOut.model_validate(report)
