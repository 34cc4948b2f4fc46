"""``/api/v1/indicators``: market breadth, options flow and derived metrics (viewer).

Each answers one day of its group from the ``indicators`` library (:mod:`core.indicator_series`):
``?day=`` (default: the latest stored), filters (``names``; ``source`` for breadth; ``symbol``,
``metrics``, ``window`` for derived metrics — without ``symbol`` the latest value per symbol), and
``?format=json`` (columns) or ``arrow`` (an Arrow IPC stream). 404 "no indicators stored for …"
while the group has no stored series, or not on that day.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from tickdeck.app.api.deps import CtxDep, Principal, require_role
from tickdeck.app.api.schemas import DAY_MAX, DAY_MIN, IndicatorColumns
from tickdeck.core.indicator_series import arrow_table, breadth_answer, derived_answer, json_columns, options_answer
from tickdeck.core.wire_formats import EXTENSIONS, MEDIA_TYPES, arrow_stream

router = APIRouter(tags=["indicators"])

Viewer = Annotated[Principal, Depends(require_role("viewer"))]
Format = Literal["json", "arrow"]
DayQ = Annotated[dt.date | None, Query(ge=DAY_MIN, le=DAY_MAX,
                                       description="the day (YYYY-MM-DD); default: the latest stored")]
FormatQ = Annotated[Format, Query(description="json (columns) or arrow (Arrow IPC stream)")]
NamesQ = Annotated[str | None, Query(max_length=2000,
                                     description="comma-separated series names, e.g. TICK.NYSE,TRIN.NYSE")]
_RESPONSES = {200: {"description": "the day's series", "content": {
    MEDIA_TYPES["json"].split(";")[0]: {"schema": IndicatorColumns.model_json_schema()},
    MEDIA_TYPES["arrow"].split(";")[0]: {"schema": {"type": "string", "format": "binary"}}}}}


def _answer(a, format: str):
    if format == "arrow":
        body = b"".join(bytes(c) for c in arrow_stream(iter([arrow_table(a)])))
        name = f"{a.group}_{a.day}{EXTENSIONS['arrow']}"
        return Response(body, media_type=MEDIA_TYPES["arrow"],
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return Response(json_columns(a), media_type=MEDIA_TYPES["json"])


@router.get("/indicators/market-breadth", response_model=IndicatorColumns, responses=_RESPONSES,
            summary="market breadth of a day: local, from the feed, or their difference")
def market_breadth(ctx: CtxDep, _: Viewer, day: DayQ = None,
                   source: Annotated[Literal["local", "feed", "diff"], Query(description="local over the collected "
                                     "universe, the feed's statistics, or local minus feed")] = "local",
                   names: NamesQ = None, format: FormatQ = "json"):
    return _answer(breadth_answer(ctx, day, source, names), format)


@router.get("/indicators/options-flow", response_model=IndicatorColumns, responses=_RESPONSES,
            summary="put/call volumes and ratios of a day (from the feed)")
def options_flow(ctx: CtxDep, _: Viewer, day: DayQ = None, names: NamesQ = None, format: FormatQ = "json"):
    return _answer(options_answer(ctx, day, names), format)


@router.get("/indicators/derived-metrics", response_model=IndicatorColumns, responses=_RESPONSES,
            summary="derived metrics: a symbol's series over a day, or the latest value per symbol")
def derived_metrics(ctx: CtxDep, _: Viewer, day: DayQ = None,
                    symbol: Annotated[str | None, Query(max_length=40, description="ticker; omit for the latest "
                                                         "value of every symbol")] = None,
                    metrics: Annotated[str | None, Query(max_length=2000, description="comma-separated metric "
                                                          "names, e.g. vpin,kyle_lambda")] = None,
                    window: Annotated[Literal["1min", "5min", "session"] | None, Query()] = None,
                    format: FormatQ = "json"):
    return _answer(derived_answer(ctx, day, symbol, metrics, window), format)
