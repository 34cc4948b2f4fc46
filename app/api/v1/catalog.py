"""``GET /api/v1/catalog``: what is stored, venue → instrument → data types, with counts and coverage.

The tree the Catalog page draws (:func:`core.catalog_tree.catalog_tree`), from catalog rows only.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from tickdeck.app.api.deps import CtxDep, Principal, require_role
from tickdeck.app.api.schemas import CatalogOut
from tickdeck.core.catalog_tree import catalog_tree

router = APIRouter(tags=["catalog"])
Viewer = Annotated[Principal, Depends(require_role("viewer"))]


@router.get("/catalog", response_model=CatalogOut, summary="venue → instrument → ticks and bar series, with counts")
def catalog(ctx: CtxDep, principal: Viewer) -> CatalogOut:
    venues = catalog_tree(ctx)
    instruments = [i for v in venues for i in v.instruments]
    return CatalogOut.model_validate({"instruments": len(instruments), "ticks": sum(i.ticks for i in instruments),
                                      "venues": venues})
