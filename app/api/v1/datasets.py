"""``GET /api/v1/datasets``: the stored datasets with their status, filtered as on the home page.

Filters are :class:`core.datasets.DatasetFilter` (the home page uses the same): ``venue`` is the
exchange the home cards and the catalog show (``XNYS``, ``XNAS``, ``CME``), ``vendor`` the data
vendor stored in a dataset's venue field (``IQFEED``, ``SIM``). Statuses come
from :func:`core.status.dataset_statuses` for the returned page only.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from tickdeck.app.api.deps import CtxDep, Principal, require_role
from tickdeck.app.api.schemas import DAY_MAX, DAY_MIN, DatasetList, DatasetOut, DatasetStatusOut
from tickdeck.core.catalog import DatasetSummary
from tickdeck.core.datasets import DatasetFilter, filter_datasets
from tickdeck.core.naming import date_range
from tickdeck.core.status import DatasetStatus, dataset_statuses

router = APIRouter(tags=["datasets"])
Viewer = Annotated[Principal, Depends(require_role("viewer"))]
DATASETS_PAGE = 500  # datasets per answer by default
DATASETS_MAX_PAGE = 5_000  # statuses of 2,000 datasets take ~160 ms; more per answer only adds latency


def dataset_out(d: DatasetSummary, status: DatasetStatus) -> DatasetOut:
    """A catalog summary and its status as the API's dataset record."""
    return DatasetOut.model_validate({**{f: getattr(d, f) for f in DatasetSummary.__dataclass_fields__},
                                      "status": DatasetStatusOut.model_validate(status)})


@router.get("/datasets", response_model=DatasetList, summary="datasets with their status (home page filters)")
def list_datasets(
    ctx: CtxDep, principal: Viewer,
    search: Annotated[str, Query(max_length=100,
                                 description="text inside the symbol, source, vendor or exchange")] = "",
    source: Annotated[str | None, Query(max_length=100, description="only this source")] = None,
    venue: Annotated[str | None, Query(max_length=100, description="only this exchange (MIC: XNYS, XNAS; CME), "
                                                                   "as on the home page and the catalog")] = None,
    vendor: Annotated[str | None, Query(max_length=100, description="only this data vendor, the dataset's "
                                                                    "stored venue field (IQFEED, SIM)")] = None,
    covers_from: Annotated[dt.date | None, Query(ge=DAY_MIN, le=DAY_MAX,
                                                 description="has stored days on or after this day")] = None,
    covers_to: Annotated[dt.date | None, Query(ge=DAY_MIN, le=DAY_MAX,
                                               description="has stored days on or before this day")] = None,
    min_quality: Annotated[float, Query(ge=0, le=100, description="minimum mean quality, 0-100 (0: any)")] = 0,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=DATASETS_MAX_PAGE)] = DATASETS_PAGE,
) -> DatasetList:
    if covers_from is not None and covers_to is not None:
        date_range(covers_from, covers_to)  # 422 when reversed
    flt = DatasetFilter(search=search, source=source or None, venue=vendor or None, exchange=venue or None,
                        covers_from=covers_from,
                        covers_to=covers_to, min_quality=min_quality)
    matching = filter_datasets(ctx.catalog.datasets(), flt)
    page = matching[offset:offset + limit]
    statuses = dataset_statuses(ctx, datasets=page) if page else []
    return DatasetList(total=len(matching), offset=offset, limit=limit,
                       items=[dataset_out(d, s) for d, s in zip(page, statuses)])
