"""``/api/v1/feeds``: the feed clients' last status, and the live service's symbols.

* ``GET /feeds/status`` (viewer) — the newest :class:`core.events.FeedStatusChanged` per feed client
  (``history``, ``level1``) from :mod:`core.feed_status`, with its age: known after a restart too;
  ``last_switch``: live collection's newest failover switch (:class:`core.events.FeedSwitched`) or null.
* ``POST /feeds/subscribe`` (admin) — add symbols to the running live service; ``DELETE
  /feeds/unsubscribe?symbols=…`` removes them. No restart: the service watches an added symbol,
  fills its day in from history up to now, then stores its live ticks; a removed one stops being
  stored (:class:`core.live.LiveSymbols`). A symbol the feed does not know is dropped again and
  listed under ``params.rejected`` of ``GET /collection/status``. 409 when the service is not running.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from tickdeck.app.api.deps import CtxDep, Principal, audit, require_role
from tickdeck.app.api.errors import problem
from tickdeck.app.api.schemas import FeedsStatus, SymbolsChange, SymbolsChanged
from tickdeck.app.api.v1._shapes import CONFLICT, feed_out, service_out
from tickdeck.app.api.v1.collection import LIVE, requester, symbols_of
from tickdeck.core import feed_status
from tickdeck.core.services import ServiceControl, ServiceError

router = APIRouter(tags=["collection"])

Viewer = Annotated[Principal, Depends(require_role("viewer"))]
Admin = Annotated[Principal, Depends(require_role("admin"))]


@router.get("/feeds/status", response_model=FeedsStatus, summary="each feed client's last known status")
def feeds_status(ctx: CtxDep, _: Viewer) -> FeedsStatus:
    switch = feed_status.last_switch(ctx)
    return FeedsStatus(feeds=[feed_out(ev) for ev in feed_status.latest(ctx).values()],
                       last_switch=switch.to_dict() if switch is not None else None)


def _change(ctx, principal: Principal, symbols: list[str], *, add: bool) -> SymbolsChanged:
    control = ServiceControl(ctx)
    before = list(control.desired(LIVE).params.get("symbols") or control.status(LIVE).params.get("symbols") or [])
    try:
        want = (control.subscribe if add else control.unsubscribe)(symbols, by=requester(principal))
    except ServiceError as e:
        problem(409, detail=str(e))
    now = list(want.params["symbols"])
    added, removed = [s for s in now if s not in before], [s for s in before if s not in now]
    audit(principal, ctx, "feeds.subscribe" if add else "feeds.unsubscribe", LIVE,
          {"symbols": symbols, "added": added, "removed": removed})
    return SymbolsChanged(symbols=now, added=added, removed=removed, service=service_out(control.status(LIVE)))


@router.post("/feeds/subscribe", response_model=SymbolsChanged, responses=CONFLICT,
             summary="add symbols to the running live service (no restart; their day is filled in from history)")
def subscribe(ctx: CtxDep, principal: Admin, body: SymbolsChange) -> SymbolsChanged:
    return _change(ctx, principal, symbols_of(body.symbols), add=True)


@router.delete("/feeds/unsubscribe", response_model=SymbolsChanged, responses=CONFLICT,
               summary="remove symbols from the running live service (no restart; they stop being stored)")
def unsubscribe(ctx: CtxDep, principal: Admin,
                symbols: Annotated[list[str], Query(min_length=1, max_length=500,
                                                    description="tickers; repeat or comma-separate")],
                ) -> SymbolsChanged:
    names = symbols_of(s.strip() for part in symbols for s in part.split(",") if s.strip())
    if not names:
        problem(422, detail="symbols: name at least one ticker")
    return _change(ctx, principal, names, add=False)
