"""``POST /api/v1/imports``: upload a file and import it as a job (researcher).

The upload (multipart: ``file`` plus the form fields of ``tickdeck import``) is saved in
``<data_dir>/uploads`` under a generated name — the client's file name only lends its extension
(:mod:`core.uploads`) — and an ``import`` job is queued; 202 with a ``Location`` of the job. The
job imports it as ``tickdeck import`` does: a stored day from another source, or one the file would
shrink sharply, is left as it was unless ``replace=true``, and the job then fails naming the day.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile

from tickdeck.app.api.deps import CtxDep, Principal, audit, require_role
from tickdeck.app.api.schemas import JobAccepted
from tickdeck.app.api.v1._shapes import accepted
from tickdeck.app.api.v1.collection import requester
from tickdeck.core.calendar import CALENDAR_NAMES
from tickdeck.core.naming import normalize_ticker
from tickdeck.core.uploads import FORMAT_EXTENSIONS, remove_upload, save_upload
from tickdeck.jobs.queue import JobQueue

router = APIRouter(tags=["imports"])

Researcher = Annotated[Principal, Depends(require_role("researcher"))]


@router.post("/imports", status_code=202, response_model=JobAccepted,
             summary="upload a CSV, Parquet or DBN file and queue its import (202; follow Location)")
def create_import(
    ctx: CtxDep, principal: Researcher, request: Request,
    file: Annotated[UploadFile, File(description="the file; its name's extension tells the format unless "
                                                 "format is given")],
    symbol: Annotated[str, Form(max_length=32, description="ticker to store under")],
    source: Annotated[str | None, Form(max_length=64, description="recorded as import:SOURCE")] = None,
    calendar: Annotated[str | None, Form(description=f"one of {', '.join(CALENDAR_NAMES)}")] = None,
    format: Annotated[str | None, Form(description=f"one of {', '.join(FORMAT_EXTENSIONS)}")] = None,
    mapping: Annotated[list[str] | None, Form(description="CSV/Parquet column mapping TARGET=COLUMN")] = None,
    replace: Annotated[bool, Form(description="replace stored days from another source or that would shrink "
                                              "sharply (the previous version stays restorable)")] = False,
):
    from tickdeck.app.api.errors import problem

    sym = normalize_ticker(symbol)
    if calendar is not None and calendar not in CALENDAR_NAMES:
        problem(422, detail=f"calendar {calendar!r} is not one of {', '.join(CALENDAR_NAMES)}")
    saved = save_upload(ctx.settings, file.file, file.filename or "", format or None)
    params = {"file": saved.path.name, "symbol": sym, "source": source or None, "calendar": calendar,
              "format": format or None, "mapping": list(mapping or []), "replace": bool(replace),
              "upload_name": (file.filename or "")[-200:], "bytes": saved.bytes}
    try:
        queue = JobQueue.for_context(ctx)
        jid = queue.submit("import", params, priority=1, requested_by=requester(principal))
    except BaseException:
        remove_upload(ctx.settings, saved.path)
        raise
    audit(principal, ctx, "import.create", f"job {jid}",
          {k: v for k, v in params.items() if k != "file"})
    return accepted(request, queue.get(jid))
