"""``/api/v1/data/{symbol}/…``: a dataset's metadata, its ticks (JSON pages or streamed Arrow IPC,
Parquet, CSV) and its bars of any spec (stored, or computed on demand like the explorer).

Ticks come from :mod:`core.tick_query` (pages with an opaque cursor; streams day by day, never the
whole range in memory), encoded by :mod:`core.wire_formats` on whole columns; bars from
:func:`core.bar_query.bars_table` over :func:`core.bars.get_bars`. Everything that can fail
(unknown symbol or day, bad spec, column or cursor, a range too large for JSON) fails before the
first byte is sent, as a problem document.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Iterator, Literal

import anyio
from fastapi import APIRouter, Depends, Path, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse

from tickdeck.app.api.deps import CtxDep, Principal, require_role
from tickdeck.app.api.errors import problem
from tickdeck.app.api.schemas import DAY_MAX, DAY_MIN, BarsOut, DatasetMetadata, TickPageOut
from tickdeck.app.api.v1.datasets import dataset_out
from tickdeck.core.bar_query import bars_table
from tickdeck.core.datasets import dataset_metadata
from tickdeck.core.export_formats import prefetch
from tickdeck.core.tick_query import (PAGE_MAX_ROWS, PAGE_ROWS, STREAM_FORMATS, CursorExpired, RangeTooLarge,
                             check_json_size, tick_page, tick_query, tick_range, tick_tables)
from tickdeck.core.wire_formats import EXTENSIONS, MEDIA_TYPES, arrow_stream, csv_stream, json_records, parquet_stream

router = APIRouter(tags=["data"])
Viewer = Annotated[Principal, Depends(require_role("viewer"))]
Format = Literal["json", "csv", "parquet", "arrow"]
Session = Literal["all", "pre", "regular", "after"]
Compression = Literal["none", "lz4", "zstd"]
SymbolPath = Annotated[str, Path(max_length=40, description="ticker, e.g. AAPL", examples=["AAPL"])]
StartQ = Annotated[dt.date | None, Query(ge=DAY_MIN, le=DAY_MAX,
                                         description="first day (YYYY-MM-DD); default: the last stored day")]
EndQ = Annotated[dt.date | None, Query(ge=DAY_MIN, le=DAY_MAX, description="last day, inclusive; default: start")]
RowsFromQ = Annotated[dt.date | None, Query(ge=DAY_MIN, le=DAY_MAX, description="first day of the per-day rows")]
RowsToQ = Annotated[dt.date | None, Query(ge=DAY_MIN, le=DAY_MAX, description="last day of the per-day rows")]
SEND_GROUP_BYTES = 8 << 20  # bytes of a streamed answer produced per worker-thread hop
SessionQ = Annotated[Session, Query(description="pre 04:00-09:30, regular 09:30-16:00, after 16:00-20:00 ET")]


def _media(schema_model, formats: tuple[str, ...]) -> dict:
    content = {MEDIA_TYPES[f].split(";")[0]: ({"schema": schema_model.model_json_schema()} if f == "json" else
                                              {"schema": {"type": "string", "format": "binary"}}) for f in formats}
    return {200: {"description": "rows in the asked format", "content": content}}


def _filename(symbol: str, start: dt.date, end: dt.date, what: str, fmt: str) -> str:
    span = start.isoformat() if start == end else f"{start}_{end}"
    return f"{symbol}_{span}_{what.replace(':', '-')}{EXTENSIONS[fmt]}"


def _json_body(head: dict, records: bytes) -> bytes:
    """``head`` as a JSON object with ``"data": <records>`` appended (the records are already JSON)."""
    text = json.dumps(head, separators=(",", ":"), default=str)
    return text[:-1].encode() + b',"data":' + records + b"}"


def _next_group(chunks: Iterator) -> bytes:
    """The next chunks of ``chunks`` joined, up to about :data:`SEND_GROUP_BYTES` (empty at the end)."""
    out, size = [], 0
    for chunk in chunks:
        out.append(chunk)
        size += memoryview(chunk).nbytes
        if size >= SEND_GROUP_BYTES:
            break
    return b"".join(out)


async def _body(chunks: Iterator):
    """Send ``chunks`` (a blocking iterator of bytes-like chunks) as ASGI body messages of about
    :data:`SEND_GROUP_BYTES` bytes (ASGI bodies are ``bytes``), one worker-thread hop per message, not
    per chunk (an Arrow IPC batch is a chunk per column buffer); closed on the thread when the client
    goes away, so a Parquet writer thread stops too."""
    try:
        while group := await run_in_threadpool(_next_group, chunks):
            yield group
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            with anyio.CancelScope(shield=True):
                await run_in_threadpool(close)


def _stream(fmt: str, tables: Iterator, filename: str, compression: str = "none") -> StreamingResponse:
    """A streamed download; the first table was read already, so a bad request failed before this."""
    first = next(tables)
    rest = prefetch(tables)  # the next slice is read from the store while this one is sent

    def chained():
        yield first
        yield from rest

    packed = None if compression == "none" else compression
    chunks = {"arrow": lambda: arrow_stream(chained(), compression=packed),
              "parquet": lambda: parquet_stream(chained()), "csv": lambda: csv_stream(chained())}[fmt]()
    return StreamingResponse(_body(chunks), media_type=MEDIA_TYPES[fmt],
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/data/{symbol}/metadata", response_model=DatasetMetadata,
            summary="dataset row, status, instrument terms, per-day tier-1 metadata, stored bar series")
def metadata(ctx: CtxDep, principal: Viewer, symbol: SymbolPath,
             start: RowsFromQ = None, end: RowsToQ = None) -> DatasetMetadata:
    m = dataset_metadata(ctx, symbol, start, end)
    return DatasetMetadata(dataset=dataset_out(m.dataset, m.status), description=m.description,
                           terms=m.terms.__dict__, days=list(m.days), bar_series=list(m.bar_series))


@router.get("/data/{symbol}/ticks", summary="ticks: JSON pages with a cursor, or streamed arrow, parquet, csv",
            response_model=TickPageOut, responses={**_media(TickPageOut, ("json", *STREAM_FORMATS)),
                                                   413: {"description": "range too large for JSON: use a "
                                                         "streaming format"},
                                                   410: {"description": "the cursor's day was replaced"}})
def ticks(ctx: CtxDep, principal: Viewer, symbol: SymbolPath, start: StartQ = None, end: EndQ = None,
          session: SessionQ = "all",
          columns: Annotated[str | None, Query(max_length=2000, description="comma-separated columns (default all); "
                                               "timestamp and symbol always come")] = None,
          format: Annotated[Format, Query(description="json (paged) or a streamed file")] = "json",
          limit: Annotated[int, Query(ge=1, le=PAGE_MAX_ROWS, description="JSON rows per page")] = PAGE_ROWS,
          cursor: Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page")] = None,
          compression: Annotated[Compression, Query(description="arrow only: Arrow's buffer compression")] = "none"):
    q = tick_query(ctx, symbol, start, end, session=session, columns=columns)
    r = tick_range(ctx, q)
    if format != "json":
        tables = tick_tables(ctx, q, r, plain_strings=format != "arrow")
        return _stream(format, tables, _filename(q.symbol, q.start, q.end, f"ticks_{session}", format), compression)
    try:
        check_json_size(r)
        page = tick_page(ctx, q, r, cursor=cursor, limit=limit)
    except RangeTooLarge as e:
        problem(413, detail=str(e), extra={"rows": e.rows, "limit": e.limit, "formats": list(STREAM_FORMATS)})
    except CursorExpired as e:
        problem(410, title="Cursor expired", detail=str(e))
    head = {"symbol": q.symbol, "start": q.start.isoformat(), "end": q.end.isoformat(), "session": q.session,
            "columns": page.table.column_names, "rows": page.rows, "next_cursor": page.next_cursor}
    return Response(_json_body(head, json_records(page.table)), media_type=MEDIA_TYPES["json"])


@router.get("/data/{symbol}/bars/{spec}", summary="bars of any spec: stored, or computed from the ticks",
            response_model=BarsOut, responses=_media(BarsOut, ("json", *STREAM_FORMATS)))
def bars(ctx: CtxDep, principal: Viewer, symbol: SymbolPath,
         spec: Annotated[str, Path(max_length=80, description="FAMILY:PARAM[:OPTION...], e.g. time:1m, tick:500, "
                                   "volume:10000:split, renko:0.25, tick_imbalance:ewma20", examples=["time:1m"])],
         start: StartQ = None, end: EndQ = None, session: SessionQ = "all",
         format: Annotated[Format, Query(description="json or a file")] = "json"):
    b = bars_table(ctx, symbol, spec, start, end, session=session)
    if format == "json":
        head = {"symbol": b.symbol, "spec": b.spec, "start": b.start.isoformat(), "end": b.end.isoformat(),
                "session": session, "columns": b.table.column_names, "rows": b.table.num_rows}
        return Response(_json_body(head, json_records(b.table)), media_type=MEDIA_TYPES["json"])
    return _stream(format, iter([b.table]), _filename(b.symbol, b.start, b.end, b.spec, format))

