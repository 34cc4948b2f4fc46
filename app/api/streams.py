"""WebSocket streams: ``/ws/ticks/{symbol}``, ``/ws/bars/{symbol}/{spec}``, ``/ws/collection``,
``/ws/indicators``, ``/ws/alerts`` and the multiplexed ``/ws/v1``.

The protocol — channels, messages, windows, slow clients, ``since`` — is :mod:`core.streams`;
a route here only authorises the upgrade, parses its path and query, and hands the socket to a
:class:`core.streams.StreamClient` of the process's :class:`tickdeck.core.streams.StreamHub`.

Authorisation happens before the upgrade is accepted (:func:`app.api.deps.authorize_stream`: an
API key in ``Authorization: Bearer …``, or the pages' session cookie from the same origin; the
viewer role; one count against the stream-connection rate limit), so a refused client gets the
401, 403 or 429 problem document as the HTTP answer to its upgrade request; a bad path or query
(unknown channel, invalid spec or ``since``) answers 422 the same way. There is no ``?token=``:
servers and proxies log query strings, and the key would land in their logs.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated

from fastapi import APIRouter, Depends, WebSocket
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect

from tickdeck.app.api.deps import API_PREFIX, CtxDep, Principal, authorize_stream, get_ctx, require_role
from tickdeck.app.api.schemas import PROBLEM_RESPONSES, StreamStatsOut
from tickdeck.core.streams import (
    InvalidCursor, StreamClient, StreamError, StreamHub, StreamStats, close_reason, hub_for, parse_channel,
    parse_request, parse_since,
)

router = APIRouter(tags=["streams"])


def _viewer(websocket: WebSocket) -> Principal:
    return authorize_stream(websocket, "viewer")


_viewer.tickdeck_role = "viewer"  # read back by tickdeck.app.api.api_routes (the auth matrix)
ViewerDep = Annotated[Principal, Depends(_viewer)]


def _batch_ms(websocket: WebSocket) -> int | None:
    raw = websocket.query_params.get("batch_ms")
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise StreamError(f"batch_ms must be a whole number of milliseconds (0-1000), got {raw!r}") from None


async def _serve(websocket: WebSocket, principal: Principal, channels: list[str], *, multiplex: bool) -> None:
    """Check the request, accept it, then send what the client's channels carry until either side ends."""
    parsed = [parse_channel(c) for c in channels]
    since = {}
    raw_since = websocket.query_params.get("since")
    if raw_since is not None:
        if multiplex or not (len(parsed) == 1 and parsed[0].kind == "tick"):
            raise InvalidCursor("?since= applies to /ws/ticks/{symbol}; on /ws/v1 send "
                                '{"type": "subscribe", "channels": [...], "since": {"tick:SYM": cursor}}')
        since = {parsed[0].name: parse_since(raw_since)}
    batch_ms = _batch_ms(websocket)
    ctx = await run_in_threadpool(get_ctx, websocket)
    hub = hub_for(ctx)
    label = principal.user.name + (f"/{principal.key_name}" if principal.key_name else "")
    client = hub.connect(batch_ms=batch_ms, label=label, single=not multiplex)
    try:
        await websocket.accept()
        if parsed:
            try:
                await hub.subscribe(client, [c.name for c in parsed], since)
            except StreamError as e:  # e.g. the bus cannot listen: the upgrade is already accepted
                await websocket.close(1011, close_reason(f"stream unavailable: {e}"))
                return
        await _run(websocket, hub, client, multiplex)
    finally:
        hub.disconnect(client)


async def _run(websocket: WebSocket, hub: StreamHub, client: StreamClient, multiplex: bool) -> None:
    sender = asyncio.create_task(client.run(websocket.send_text))
    receiver = asyncio.create_task(_receive(websocket, hub, client, multiplex))
    dropped = asyncio.create_task(client.wait_closed())
    done, pending = await asyncio.wait({sender, receiver, dropped}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    gone = receiver in done or (sender in done and sender.exception() is not None)
    if client.close_code is not None and not gone:  # the hub dropped it: say why (if it still reads)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(websocket.close(client.close_code, client.close_reason),
                                   hub.config.close_timeout_s)
    for task in done:
        if not task.cancelled() and isinstance(task.exception(), Exception) and \
                not isinstance(task.exception(), (WebSocketDisconnect, OSError, RuntimeError)):
            raise task.exception()


async def _receive(websocket: WebSocket, hub: StreamHub, client: StreamClient, multiplex: bool) -> None:
    """Client messages until it disconnects: subscribe / unsubscribe on /ws/v1, ignored elsewhere."""
    while True:
        msg = await websocket.receive()
        if msg["type"] == "websocket.disconnect":
            return
        if not multiplex:
            continue
        text = msg.get("text")
        if text is None:
            text = (msg.get("bytes") or b"").decode("utf-8", "replace")
        try:
            req = parse_request(text)
            if req.type == "subscribe":
                await hub.subscribe(client, req.channels, req.since)
            else:
                hub.unsubscribe(client, req.channels)
        except StreamError as e:
            client.reply("error", {"detail": str(e)})


@router.websocket("/ws/v1", name="stream_multiplexed")
async def stream_multiplexed(websocket: WebSocket, principal: ViewerDep) -> None:
    """Any channels: send ``{"type": "subscribe" | "unsubscribe", "channels": [...]}``."""
    await _serve(websocket, principal, [], multiplex=True)


@router.websocket("/ws/ticks/{symbol}", name="stream_ticks")
async def stream_ticks(websocket: WebSocket, symbol: str, principal: ViewerDep) -> None:
    """Live ticks of one symbol (``?since=`` resumes after a cursor)."""
    await _serve(websocket, principal, [f"tick:{symbol}"], multiplex=False)


@router.websocket("/ws/bars/{symbol}/{spec}", name="stream_bars")
async def stream_bars(websocket: WebSocket, symbol: str, spec: str, principal: ViewerDep) -> None:
    """Bars of one symbol and spec as they close (``data.origin``: ``live``, or ``scenario`` for a replay's)."""
    await _serve(websocket, principal, [f"bar:{symbol}:{spec}"], multiplex=False)


@router.websocket("/ws/collection", name="stream_collection")
async def stream_collection(websocket: WebSocket, principal: ViewerDep) -> None:
    """Collection events: feed status, progress, days written, live batches."""
    await _serve(websocket, principal, ["collection"], multiplex=False)


@router.websocket("/ws/indicators", name="stream_indicators")
async def stream_indicators(websocket: WebSocket, principal: ViewerDep) -> None:
    """Indicator updates (published by the indicators engine)."""
    await _serve(websocket, principal, ["indicators"], multiplex=False)


@router.websocket("/ws/alerts", name="stream_alerts")
async def stream_alerts(websocket: WebSocket, principal: ViewerDep) -> None:
    """Alerts as they fire (published by the alert engine)."""
    await _serve(websocket, principal, ["alerts"], multiplex=False)


@router.get(f"{API_PREFIX}/streams", response_model=StreamStatsOut, responses=PROBLEM_RESPONSES,
            summary="this server process's live streams: clients, messages sent, slow clients dropped")
async def stream_stats(principal: Annotated[Principal, Depends(require_role("admin"))], ctx: CtxDep) -> StreamStatsOut:
    hub = ctx.extras.get("stream_hub")
    stats = hub.stats if hub is not None else StreamStats(0, 0, 0, 0, 0, 0, 0, 0)  # no stream opened yet
    return StreamStatsOut.model_validate(stats)
