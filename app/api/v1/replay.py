"""``/api/v1/replay``: scenario replay of stored days through the live path (:mod:`core.scenario`).

* ``POST /replay`` (researcher) — start a replay of ``symbols`` over a ``date`` or ``start``/``end``
  at ``speed`` (1–100 or ``"max"``); it runs as the supervised ``replay`` service (started within
  about a second), replacing a replay already running. 422 for a bad window or speed, 404 when no
  symbol has a stored day in the window.
* ``GET /replay`` (viewer) — the service's status and the player's last reported state (position,
  ticks delivered of the total, speed).
* ``POST /replay/pause``, ``/replay/resume``, ``/replay/seek`` (``{"to": "11:30"}``),
  ``/replay/speed`` (``{"speed": 50}``) (researcher) — controls of the running replay, applied
  without a restart; 409 when no replay is asked to run.
* ``DELETE /replay`` (researcher) — stop it.

A replay writes nothing into the store; it publishes on the bus as live collection does, so pages
and ``/ws`` streams show it as live.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from tickdeck.app.api.deps import CtxDep, Principal, audit, require_role
from tickdeck.app.api.errors import problem
from tickdeck.app.api.schemas import Record, ServiceOut
from tickdeck.app.api.v1._shapes import CONFLICT, service_out
from tickdeck.app.api.v1.collection import requester
from tickdeck.core.replay_service import NAME, NoReplay, ReplayControl
from tickdeck.core.scenario import ReplayRequest
from tickdeck.core.services import ServiceControl

router = APIRouter(tags=["replay"])

Viewer = Annotated[Principal, Depends(require_role("viewer"))]
Researcher = Annotated[Principal, Depends(require_role("researcher"))]
Speed = float | Literal["max"]


class ReplayStart(BaseModel):
    """``POST /replay``: what to replay and how fast."""

    model_config = ConfigDict(extra="forbid")

    symbols: list[str] = Field(min_length=1, max_length=100, examples=[["AAPL", "MSFT"]])
    date: str | None = Field(None, max_length=10, description="a stored day, YYYY-MM-DD", examples=["2024-07-02"])
    start: str | None = Field(None, max_length=40, description="ET date/time, or a time of day with date",
                              examples=["09:30"])
    end: str | None = Field(None, max_length=40, description="ET date/time (exclusive), or a time of day with date",
                            examples=["16:00"])
    speed: Speed = Field(10.0, description="1 to 100 times real time, or max (as fast as possible)")
    paused: bool = Field(False, description="start paused at the window's start")


class ReplaySeek(BaseModel):
    """``POST /replay/seek``: continue from the first tick at or after ``to`` (ET; a time of day
    means on the window's first day)."""

    model_config = ConfigDict(extra="forbid")

    to: str = Field(min_length=1, max_length=40, examples=["11:30"])


class ReplaySpeed(BaseModel):
    """``POST /replay/speed``."""

    model_config = ConfigDict(extra="forbid")

    speed: Speed = Field(examples=[50])


class ReplayStateOut(Record):
    """The player's last reported state (``tickdeck.core.scenario.ReplayState``)."""

    state: Literal["playing", "paused", "finished", "stopped"]
    symbols: list[str]
    start: str
    end: str
    speed: float | None = Field(description="null: as fast as possible")
    position: int = Field(description="data time of the next tick, UTC ns")
    position_et: str
    delivered: int
    total: int
    batches: int
    error: str = ""


class ReplayOut(Record):
    """``GET /replay``: the ``replay`` service and the player's state (null before any replay reported)."""

    service: ServiceOut
    replay: ReplayStateOut | None = None
    params: dict = Field(description="what the replay was last asked: symbols, window, speed, paused, seek")


def _out(replay: ReplayControl) -> ReplayOut:
    st = replay.state()
    return ReplayOut(service=service_out(replay.status()),
                     replay=ReplayStateOut.model_validate(st) if st else None, params=replay.params())


def _replay(ctx) -> ReplayControl:
    return ReplayControl(ServiceControl(ctx))


@router.post("/replay", status_code=202, response_model=ReplayOut,
             summary="replay stored days through the live path (the supervised replay service)")
def start_replay(ctx: CtxDep, principal: Researcher, body: ReplayStart) -> ReplayOut:
    request = ReplayRequest.make(body.symbols, date=body.date, start=body.start, end=body.end, speed=body.speed)
    replay = _replay(ctx)
    params = replay.start(request, by=requester(principal), paused=body.paused)
    audit(principal, ctx, "replay.start", ",".join(request.symbols), params)
    return _out(replay)


@router.get("/replay", response_model=ReplayOut, summary="the replay service's status and the player's position")
def get_replay(ctx: CtxDep, _: Viewer) -> ReplayOut:
    return _out(_replay(ctx))


def _control(ctx, principal: Principal, action: str, *args) -> ReplayOut:
    replay = _replay(ctx)
    try:
        change = getattr(replay, action)(*args, by=requester(principal))
    except NoReplay as e:
        problem(409, detail=str(e))
    audit(principal, ctx, f"replay.{action.replace('set_', '')}", ",".join(replay.params()["symbols"]), change)
    return _out(replay)


@router.post("/replay/pause", response_model=ReplayOut, responses=CONFLICT, summary="pause the running replay")
def pause_replay(ctx: CtxDep, principal: Researcher) -> ReplayOut:
    return _control(ctx, principal, "pause")


@router.post("/replay/resume", response_model=ReplayOut, responses=CONFLICT, summary="resume the paused replay")
def resume_replay(ctx: CtxDep, principal: Researcher) -> ReplayOut:
    return _control(ctx, principal, "resume")


@router.post("/replay/seek", response_model=ReplayOut, responses=CONFLICT,
             summary="continue the replay from a time of its window")
def seek_replay(ctx: CtxDep, principal: Researcher, body: ReplaySeek) -> ReplayOut:
    return _control(ctx, principal, "seek", body.to)


@router.post("/replay/speed", response_model=ReplayOut, responses=CONFLICT, summary="change the replay's speed")
def speed_replay(ctx: CtxDep, principal: Researcher, body: ReplaySpeed) -> ReplayOut:
    return _control(ctx, principal, "set_speed", body.speed)


@router.delete("/replay", response_model=ReplayOut, summary="stop the replay")
def stop_replay(ctx: CtxDep, principal: Researcher) -> ReplayOut:
    replay = _replay(ctx)
    replay.stop(by=requester(principal))
    audit(principal, ctx, "replay.stop", NAME, {})
    return _out(replay)
