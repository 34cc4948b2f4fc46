"""Issue 13: live streams over WebSockets against a real server (``start_api_server``: a separate
process serving ``create_api``) whose supervised live service collects from a real IQFeed
emulator over TCP, over the in-process bus and over a real Redis.

The emulator runs 60x (a time bar closes every wall second; ~250 trades/s per symbol). Stream
clients are real WebSocket clients (``websockets``); what is stored is read back with core from
the server's data directory once the materialiser has caught up.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import time

import numpy as np
import pytest
import websockets

from services_needed import missing_service
from tickdeck.core.events import BAR_FIELDS, TICK_ARRAYS
from tickdeck.core.schema import RAW_COLUMNS

DAY = "2024-07-03"
EMULATED_NOW = f"{DAY} 10:00:00"
EMULATOR_SPEED = 60.0
EMULATOR_TICKS = 100_000  # regular-session trades per emulated day: ~250/s per symbol at 60x
SYMBOLS = ("AAPL", "MSFT")
MAX_LAG_S = 5.0  # the test server drops a client whose oldest waiting message is this old (10 s by default)
STREAM_ENV = {"TICKDECK_WS_HEARTBEAT_S": "0.5", "TICKDECK_WS_MAX_LAG_S": str(MAX_LAG_S),
              "TICKDECK_API_STREAM_LIMIT": "1000 per minute"}  # these tests open many streams with one key
WAIT_S = 90.0
STALL_SPEEDUP = 10  # the feed's speed-up while a stalled client fills its socket buffers (~2,500 trades/s a symbol)


# -- fixtures ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def private_redis(tmp_path_factory):
    """A Redis server of this module's own (so no other test run's events reach its channels)."""
    exe = shutil.which("redis-server")
    if exe is None:
        missing_service("redis-server (for a private Redis)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp_path_factory.mktemp("redis"))], stdout=subprocess.DEVNULL)
    import redis

    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 30
    while True:
        try:
            redis.Redis.from_url(url, socket_connect_timeout=1).ping()
            break
        except redis.RedisError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                missing_service(f"a private redis-server on port {port}")
            time.sleep(0.05)  # polling while redis-server starts
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module", params=["local", pytest.param("redis", marks=pytest.mark.redis)])
def stream_server(request, start_api_server):
    """A server whose live service collects AAPL and MSFT from an emulator of its own (``.emulator``:
    its clock starts at EMULATED_NOW whatever the other server's tests took), on the bus of the param."""
    from tickdeck.core.sources.iqfeed_emulator import EmulatorThread, IQFeedEmulator

    with EmulatorThread(IQFeedEmulator(symbols=SYMBOLS, now=EMULATED_NOW, speed=EMULATOR_SPEED,
                                       ticks=EMULATOR_TICKS, port_history=0, port_l1=0)) as emu:
        env = {**STREAM_ENV, "TICKDECK_FEED_HOST": "127.0.0.1", "TICKDECK_FEED_PORT_HISTORY": str(emu.port_history),
               "TICKDECK_FEED_PORT_L1": str(emu.port_l1)}
        if request.param == "redis":
            env["TICKDECK_REDIS_URL"] = request.getfixturevalue("private_redis")
        server = start_api_server(env=env)
        server.emulator = emu
        server.cli("service", "start", "live", "--symbols", ",".join(SYMBOLS), "--wait", "120")
        yield server
        server.cli("service", "stop", "live", "--wait", "120")


@pytest.fixture(scope="module")
def stored(stream_server):
    """A core context on the server's data directory (what is stored)."""
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context

    ctx = Context.open(Settings(data_dir=stream_server.data_dir))
    yield ctx
    ctx.close()


# -- a stream client ------------------------------------------------------------------------------
class Stream:
    """A WebSocket client of the server reading every frame (a JSON array of messages) on its own task."""

    def __init__(self, server, path: str, who: str | None = "viewer", **connect):
        self.url = server.url.replace("http://", "ws://") + path
        self.headers = {"Authorization": f"Bearer {server.keys[who]}"} if who else {}
        self.connect_kw = connect
        self.messages: list[dict] = []
        self.closed: websockets.ConnectionClosed | None = None
        self._changed = asyncio.Event()

    async def __aenter__(self) -> "Stream":
        self.ws = await websockets.connect(self.url, additional_headers=self.headers, max_size=None, proxy=None,
                                           open_timeout=60, **self.connect_kw)
        self._task = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc) -> None:
        await self.ws.close()
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                self.messages.extend(json.loads(frame))
                self._changed.set()
        except websockets.ConnectionClosed as e:
            self.closed = e
        self.closed = self.closed or websockets.ConnectionClosedOK(None, None)
        self._changed.set()

    async def send(self, obj) -> None:
        await self.ws.send(json.dumps(obj))

    async def wait(self, predicate, what: str, timeout: float = WAIT_S) -> None:
        async def until():
            while not predicate(self):
                if self.closed is not None and not predicate(self):
                    raise AssertionError(f"the stream closed ({self.closed}) before {what}")
                self._changed.clear()
                await self._changed.wait()
        try:
            await asyncio.wait_for(until(), timeout)
        except asyncio.TimeoutError:
            kinds = sorted({m["type"] for m in self.messages})
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}; received {kinds}") from None

    def of(self, type_: str, channel: str | None = None) -> list[dict]:
        return [m for m in self.messages if m["type"] == type_ and (channel is None or m["channel"] == channel)]

    def tick_count(self, channel: str) -> int:
        return sum(len(m["data"]["tick_id"]) for m in self.of("TicksAppended", channel))


def tick_columns(messages: list[dict]) -> dict[str, np.ndarray]:
    """The TicksAppended messages' columns concatenated in arrival order, as the event's dtypes."""
    return {k: np.concatenate([np.array(m["data"][k], dtype=np.float64 if dt_ == "float64" else dt_)
                               for m in messages]) if messages else np.empty(0, dtype=dt_)
            for k, dt_ in TICK_ARRAYS.items()}


def wait_stored(ctx, symbol: str, tick_id: int, timeout: float = WAIT_S) -> None:
    """Until the materialiser has moved ``symbol``'s ticks up to ``tick_id`` into the day."""
    from tickdeck.core.errors import DayNotFound

    deadline = time.monotonic() + timeout
    while True:
        try:
            ids = ctx.store.read_day(symbol, DAY, columns=["tick_id"])["tick_id"].to_numpy()
            if ids.size and ids.max() >= tick_id:
                return
        except DayNotFound:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{symbol} {DAY} did not reach tick {tick_id} within {timeout:g}s")
        time.sleep(0.2)  # polling interval of the condition above


def assert_equal_to_stored(ctx, symbol: str, got: dict[str, np.ndarray]) -> None:
    """``got`` (received in order) is exactly the stored ticks between its first and last tick id."""
    assert got["tick_id"].size > 0
    assert np.all(np.diff(got["tick_id"]) > 0), "ticks arrive in tick-id order, none twice"
    lo, hi = int(got["tick_id"][0]), int(got["tick_id"][-1])
    wait_stored(ctx, symbol, hi)
    day = ctx.store.read_day(symbol, DAY, columns=RAW_COLUMNS)
    ids = day["tick_id"].to_numpy()
    keep = (ids >= lo) & (ids <= hi)
    order = np.argsort(ids[keep], kind="stable")
    assert np.array_equal(got["tick_id"], ids[keep][order]), "every stored tick of the range once, no gap"
    for c in RAW_COLUMNS:
        assert np.array_equal(got[c], day[c].to_numpy()[keep][order], equal_nan=True), c
    assert np.array_equal(got["timestamp"], day.index.asi8[keep][order])


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 400))


# -- tests ------------------------------------------------------------------------------------------
def test_heartbeats_arrive_on_the_configured_period(stream_server):
    """Issue 13: every client gets {type: heartbeat, data.server_time, timestamp, sequence} every
    TICKDECK_WS_HEARTBEAT_S (0.5 s here; 10 s by default)."""
    async def main():
        async with Stream(stream_server, "/ws/collection") as s:
            await s.wait(lambda c: len(c.of("heartbeat")) >= 3, "three heartbeats")
            beats = s.of("heartbeat")
            assert [b["sequence"] for b in beats] == sorted(b["sequence"] for b in beats)
            assert all(b["channel"] is None and b["data"]["server_time"] > 0 for b in beats)
            gaps = np.diff([b["timestamp"] for b in beats])
            assert np.all((gaps > 0.25) & (gaps < 5.0)), gaps
    run(main())


def test_a_stream_upgrade_without_a_key_is_401_and_a_bad_channel_422(stream_server):
    """Issue 13: the upgrade is authorised like the HTTP API (viewer at least); a refusal or a bad
    path is the HTTP answer to the upgrade, as a problem document."""
    async def main():
        for path, who, status, words in (("/ws/ticks/AAPL", None, 401, "API key"),
                                         ("/ws/ticks/AAPL", "revoked", 401, "revoked"),
                                         ("/ws/bars/AAPL/time:7x", "viewer", 422, "invalid bar spec"),
                                         ("/ws/ticks/AAPL?since=yesterday", "viewer", 422, "since must be")):
            with pytest.raises(websockets.InvalidStatus) as e:
                async with Stream(stream_server, path, who):
                    pass
            response = e.value.response
            assert response.status_code == status, path
            problem = json.loads(bytes(response.body))
            assert problem["status"] == status and words in problem["detail"], problem
    run(main())


def test_subscribe_and_unsubscribe_on_the_multiplexed_stream(stream_server):
    """Issue 13: on /ws/v1 a subscribe to tick, bar and topic channels is acknowledged and each
    channel's live events arrive as {type, channel, data, timestamp, sequence}; after the
    'unsubscribed' reply no message of that channel arrives; a bad request is an error message
    and the connection stays open."""
    async def main():
        async with Stream(stream_server, "/ws/v1") as s:
            await s.send({"type": "subscribe", "channels": ["tick:AAPL", "bar:AAPL:time:1m", "collection"]})
            await s.wait(lambda c: c.of("subscribed"), "the subscribed reply")
            assert s.of("subscribed")[0]["data"]["channels"] == ["bar:AAPL:time:1m", "collection", "tick:AAPL"]
            await s.wait(lambda c: c.of("TicksAppended") and c.of("BarClosed") and c.of("LiveBatch"),
                         "ticks, a closed bar and a live batch")
            tick = s.of("TicksAppended")[0]
            assert tick["channel"] == "tick:AAPL" and tick["data"]["symbol"] == "AAPL"
            assert tick["sequence"] == tick["data"]["tick_id"][-1] and tick["data"]["day"] == DAY
            assert s.of("BarClosed")[0]["data"]["spec"] == "time:1m"
            assert all(m["data"]["symbols"] == list(SYMBOLS) for m in s.of("LiveBatch"))

            await s.send({"type": "subscribe", "channels": ["quotes:AAPL"]})
            await s.wait(lambda c: c.of("error"), "the error reply")
            assert "unknown channel 'quotes:AAPL'" in s.of("error")[0]["data"]["detail"]

            await s.send({"type": "unsubscribe", "channels": ["tick:AAPL"]})
            await s.wait(lambda c: c.of("unsubscribed"), "the unsubscribed reply")
            cut = next(i for i, m in enumerate(s.messages) if m["type"] == "unsubscribed")
            bars_then = len(s.of("BarClosed"))
            await s.wait(lambda c: len(c.of("BarClosed")) >= bars_then + 2, "two more bars after unsubscribing")
            assert not [m for m in s.messages[cut:] if m["channel"] == "tick:AAPL"]
            assert s.closed is None
    run(main())


def test_live_ticks_on_ws_ticks_equal_what_is_stored(stream_server, stored):
    """Issue 13: /ws/ticks/AAPL delivers the emulator's live ticks, columnar, in tick-id order;
    once the materialiser caught up they are exactly the stored ticks of the same range."""
    async def main():
        async with Stream(stream_server, "/ws/ticks/AAPL") as s:
            await s.wait(lambda c: c.tick_count("tick:AAPL") >= 1_000, "1,000 ticks")
        return tick_columns(s.of("TicksAppended"))
    got = run(main())
    assert_equal_to_stored(stored, "AAPL", got)


def test_reconnecting_with_since_gets_the_missed_ticks_then_live_ones_without_gap_or_duplicate(stream_server,
                                                                                             stored):
    """Issue 13: a client that disconnects and reconnects with ?since=<day>:<its last tick id>
    receives the ticks published meanwhile (read back from the journal and the day), a
    'replayed' marker, then live ticks: together exactly the stored ticks, none twice."""
    async def main():
        async with Stream(stream_server, "/ws/ticks/MSFT") as watcher:
            async with Stream(stream_server, "/ws/ticks/MSFT") as first:
                await first.wait(lambda c: c.tick_count("tick:MSFT") >= 300, "300 ticks")
            before = tick_columns(first.of("TicksAppended"))
            last = int(before["tick_id"][-1])
            seen = watcher.tick_count("tick:MSFT")
            await watcher.wait(lambda c: c.tick_count("tick:MSFT") >= seen + 500, "500 ticks published meanwhile")
            async with Stream(stream_server, f"/ws/ticks/MSFT?since={DAY}:{last}") as again:
                await again.wait(lambda c: c.of("replayed"), "the replay")
                replayed = again.of("replayed")[0]["data"]
                await again.wait(lambda c: c.tick_count("tick:MSFT") >= replayed["ticks"] + 300,
                                 "300 live ticks after the replay")
        return before, again, replayed
    before, again, replayed = run(main())
    assert replayed["ticks"] >= 500 and replayed["since"] == f"{DAY}:{int(before['tick_id'][-1])}"
    kinds = [m["data"]["origin"] for m in again.of("TicksAppended")]
    assert kinds[0] == "replay" and "live" in kinds
    assert kinds == sorted(kinds, key=lambda k: k != "replay"), "the replay comes before the live ticks"
    after = tick_columns(again.of("TicksAppended"))
    got = {k: np.concatenate([before[k], after[k]]) for k in before}
    assert_equal_to_stored(stored, "MSFT", got)


@pytest.mark.parametrize("stream_server", ["local"], indirect=True)  # the bound is the hub's, whatever the bus
def test_a_stalled_client_is_dropped_while_the_others_keep_receiving(stream_server):
    """Issue 13: a client that stops reading is closed with 4008 'too slow: N messages dropped'
    once its oldest waiting message is MAX_LAG_S old (after the kernel's socket buffers are full),
    and a client reading the same channel keeps receiving. Until the drop the feed runs
    STALL_SPEEDUP times faster, so the buffers fill in seconds (~30 s at the module's speed)."""
    emu = stream_server.emulator

    async def main():
        slow_sock = socket.socket()
        slow_sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
        host, port = stream_server.url.split("//")[1].split(":")
        slow_sock.connect((host, int(port)))
        async with Stream(stream_server, "/ws/ticks/AAPL") as healthy, \
                Stream(stream_server, "/ws/v1", sock=slow_sock, max_queue=1) as slow:
            await slow.send({"type": "subscribe", "channels": ["tick:AAPL", "tick:MSFT", "bar:AAPL:tick:500",
                                                                "collection"]})
            slow._task.cancel()  # stop reading: frames pile up in the socket, then in the server's queue
            emu.set_clock(speed=EMULATOR_SPEED * STALL_SPEEDUP)
            with stream_server.client("admin") as http:
                deadline = time.monotonic() + WAIT_S
                while (await asyncio.to_thread(http.get, "/api/v1/streams")).json()["dropped_clients"] < 1:
                    assert time.monotonic() < deadline, "the stalled client was not dropped"
                    await asyncio.sleep(0.2)  # polling interval of the condition above
            emu.set_clock(speed=EMULATOR_SPEED)
            seen = healthy.tick_count("tick:AAPL")
            await healthy.wait(lambda c: c.tick_count("tick:AAPL") >= seen + 200, "200 more ticks after the drop")
            assert healthy.closed is None
            with pytest.raises(websockets.ConnectionClosedError) as closed:
                while True:  # read what is in flight, then the close frame
                    await asyncio.wait_for(slow.ws.recv(), WAIT_S)
            assert closed.value.rcvd.code == 4008
            reason = closed.value.rcvd.reason
            assert reason.startswith("too slow: ") and reason.endswith(" messages dropped") and \
                int(reason.split()[2]) > 0
    try:
        run(main())
    finally:
        emu.set_clock(speed=EMULATOR_SPEED)


def test_the_python_example_follows_live_ticks_over_ws_v1(stream_server):
    """Issue 13: `docs/examples/api_client.py AAPL <stored day> --follow 5` fetches the day as Arrow,
    then prints 5 batches of AAPL's live ticks from /ws/v1, each with its resume cursor."""
    import os
    import re
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    env = {**os.environ, "TICKDECK_URL": stream_server.url, "TICKDECK_API_KEY": stream_server.keys["viewer"]}
    done = subprocess.run([sys.executable, str(root / "docs" / "examples" / "api_client.py"), "AAPL",
                           stream_server.days[-1].isoformat(), "--follow", "5"], env=env, capture_output=True,
                          text=True, timeout=300, cwd=root)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("AAPL live: ")]
    assert len(lines) == 5, done.stdout
    cursors = [int(re.search(rf"cursor {DAY}:(\d+)$", ln).group(1)) for ln in lines]
    assert cursors == sorted(cursors) and len(set(cursors)) == 5


def test_bar_closed_events_equal_get_bars_for_the_same_minutes(stream_server, stored):
    """Issue 13: BarClosed on /ws/bars/AAPL/time:1m and /ws/bars/AAPL/tick:500 equal the bars
    core.bars.get_bars builds from the finalised stored day, bar by bar (runs last: it stops the
    live service to finalise the day)."""
    from tickdeck.core.bars.service import get_bars
    from tickdeck.core.collect import finalize_day

    async def main():
        async with Stream(stream_server, "/ws/bars/AAPL/time:1m") as minute, \
                Stream(stream_server, "/ws/bars/AAPL/tick:500") as ticks500:
            await minute.wait(lambda c: len(c.of("BarClosed")) >= 4, "4 minute bars")
            await ticks500.wait(lambda c: len(c.of("BarClosed")) >= 4, "4 tick:500 bars")
        return {"time:1m": minute.of("BarClosed"), "tick:500": ticks500.of("BarClosed")}
    received = run(main())
    stream_server.cli("service", "stop", "live", "--wait", "120")
    finalize_day(stored, "AAPL", DAY)
    for spec, bars in received.items():
        built = get_bars(stored, "AAPL", DAY, spec=spec)
        starts = built.index.asi8
        for m in bars:
            b = m["data"]
            assert m["channel"] == f"bar:AAPL:{spec}" and b["spec"] == spec
            i = int(np.searchsorted(starts, b["start"]))
            assert i < len(starts) and starts[i] == b["start"], f"{spec}: bar {b['start']} is one of get_bars'"
            row = built.iloc[i]
            assert b["end"] == row["end"].value
            for f in BAR_FIELDS[2:]:
                want = row[f]
                assert np.isclose(np.nan if b[f] is None else b[f], want, rtol=1e-12, equal_nan=True), (spec, f)
