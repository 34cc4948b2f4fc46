"""``/api/v1/exports``: an export as a job, and its file once it is done (researcher).

``POST /exports`` takes what ``tickdeck export`` takes (no output path: the file is written in the
exports directory under a generated name) and answers 202 with a ``Location`` of its job;
``GET /exports/{job id}/download`` streams the finished file (a partitioned export as a zip) —
only ever a file inside the exports directory (:mod:`core.downloads`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, StreamingResponse

from tickdeck.app.api.deps import CtxDep, Principal, audit, require_role
from tickdeck.app.api.errors import problem
from tickdeck.app.api.schemas import ExportIn, JobAccepted
from tickdeck.app.api.v1._shapes import accepted, problem_doc
from tickdeck.app.api.v1.collection import requester
from tickdeck.app.api.v1.jobs import JobId
from tickdeck.core.downloads import resolve_export, unique_out, zip_directory
from tickdeck.core.export import ExportRequest
from tickdeck.core.naming import format_day
from tickdeck.jobs.queue import JobQueue

router = APIRouter(tags=["exports"])

Researcher = Annotated[Principal, Depends(require_role("researcher"))]
MEDIA = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet", "jsonl": "application/x-ndjson"}
DOWNLOAD_MEDIA = (*MEDIA.values(), "application/zip", "application/octet-stream")


@router.post("/exports", status_code=202, response_model=JobAccepted,
             summary="queue an export (202; follow Location, then GET /exports/{id}/download)")
def create_export(ctx: CtxDep, principal: Researcher, body: ExportIn, request: Request):
    params = {"symbols": list(body.symbols), "start": format_day(body.start), "end": format_day(body.end),
              "spec": body.spec, "session": body.session, "columns": list(body.columns) if body.columns else None,
              "format": body.format, "partition": body.partition}
    req = ExportRequest.from_params(params, ctx.settings)  # 422 on a bad symbol, range, format or column
    if req.spec != "ticks":
        from tickdeck.core.bars import parse_spec

        parse_spec(req.spec)  # 422 listing the grammar, now rather than in the job
    params["out"] = str(unique_out(ctx.settings, req.out))
    queue = JobQueue.for_context(ctx)
    jid = queue.submit("export", params, priority=1, requested_by=requester(principal))
    audit(principal, ctx, "export.create", f"job {jid}", {k: v for k, v in params.items() if k != "out"})
    return accepted(request, queue.get(jid), download=request.url_for("download_export", job_id=jid).path)


@router.get("/exports/{job_id}/download", name="download_export",
            summary="the finished export's file (a partitioned export as a zip)",
            responses={200: {"content": {m: {} for m in DOWNLOAD_MEDIA}, "description": "the file"},
                       409: problem_doc("the export job has not succeeded (yet)")})
def download_export(ctx: CtxDep, _: Researcher, job_id: JobId):
    job = JobQueue.for_context(ctx).get(job_id)
    if job.kind != "export":
        problem(404, detail=f"job {job_id} is a {job.kind} job, not an export")
    if job.status != "succeeded":
        problem(409, detail=f"export job {job_id} is {job.status}" +
                (f": {job.message}" if job.message and job.status in ("failed", "cancelled") else
                 "; download it once it has succeeded"))
    path = resolve_export(ctx.settings, job.result.get("out") or job.params.get("out") or "")
    if path.is_dir():
        name = f"{path.name}.zip"
        return StreamingResponse(zip_directory(path), media_type="application/zip",
                                 headers={"Content-Disposition": f'attachment; filename="{name}"'})
    fmt = (job.result.get("request") or {}).get("format") or job.params.get("format", "")
    return FileResponse(path, media_type=MEDIA.get(fmt, "application/octet-stream"), filename=path.name)
