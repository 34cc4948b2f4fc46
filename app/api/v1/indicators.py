"""``/api/v1/indicators``: market breadth, options flow and derived metrics (viewer).

Placeholders until the indicators engine stores series: each answers 404 "no indicators stored"
while the ``indicators`` library has none of its group (:mod:`core.indicator_series`), else the
names of the stored series.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from app.api.deps import CtxDep, Principal, require_role
from app.api.schemas import IndicatorSeries
from core.indicator_series import stored_series

router = APIRouter(tags=["indicators"])

Viewer = Annotated[Principal, Depends(require_role("viewer"))]


@router.get("/indicators/market-breadth", response_model=IndicatorSeries, summary="market breadth series")
def market_breadth(ctx: CtxDep, _: Viewer) -> IndicatorSeries:
    return IndicatorSeries(group="market-breadth", series=stored_series(ctx, "market-breadth"))


@router.get("/indicators/options-flow", response_model=IndicatorSeries, summary="options flow series")
def options_flow(ctx: CtxDep, _: Viewer) -> IndicatorSeries:
    return IndicatorSeries(group="options-flow", series=stored_series(ctx, "options-flow"))


@router.get("/indicators/derived-metrics", response_model=IndicatorSeries, summary="derived metric series")
def derived_metrics(ctx: CtxDep, _: Viewer) -> IndicatorSeries:
    return IndicatorSeries(group="derived-metrics", series=stored_series(ctx, "derived-metrics"))
