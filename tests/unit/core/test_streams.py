"""Issue 13: the stream hub without a server — channels, cursors and requests parse with clear
errors; events are merged per window into one columnar message; a slow client is dropped with
4008 while others keep receiving; heartbeats; unsubscribe; a resumed tick stream is cut at the
cursor (no duplicate). The bus is the real in-process bus; a client's "socket" is a coroutine
that records what it is sent (and can be made to block, as a peer that stops reading does)."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

from tickdeck.core.bus import LocalBus
from tickdeck.core.events import TICK_ARRAYS, BarClosed, LiveBatch, TicksAppended
from tickdeck.core.streams import (
    CLOSE_TOO_SLOW, InvalidChannel, InvalidCursor, InvalidRequest, StreamConfig, StreamHub, TickCursor,
    parse_channel, parse_request, parse_since,
)

DAY = "2024-07-03"
WAIT_S = 10.0


def ticks(symbol: str, ids, day: str = DAY, origin: str = "live") -> TicksAppended:
    n = len(ids)
    cols = {k: np.zeros(n, dtype=d) for k, d in TICK_ARRAYS.items()}
    cols["tick_id"] = np.asarray(ids, dtype=np.int64)
    cols["last"] = 100.0 + cols["tick_id"] / 100
    cols["date"][:] = int(day.replace("-", ""))
    return TicksAppended.from_columns(symbol, day, origin, cols, cols["tick_id"] * 1000)


def bar(symbol: str = "AAPL", start: int = 0) -> BarClosed:
    return BarClosed(symbol, "time:1m", start, start + 60_000_000_000, 1.0, 2.0, 0.5, 1.5, 100.0, 150.0, 1.5, 3,
                     50.0, 50.0, None, 1, 0)


class Peer:
    """The far end of one connection: every frame it is sent, decoded; ``block()`` stops it
    reading (its send never returns) until ``unblock()``."""

    def __init__(self):
        self.frames: list[list[dict]] = []
        self.changed = asyncio.Event()
        self._open = asyncio.Event()
        self._open.set()

    async def send(self, text: str) -> None:
        await self._open.wait()
        self.frames.append(json.loads(text))
        self.changed.set()

    def block(self) -> None:
        self._open.clear()

    def messages(self, type_: str | None = None) -> list[dict]:
        return [m for f in self.frames for m in f if type_ is None or m["type"] == type_]

    async def wait(self, predicate, what: str) -> None:
        async def until():
            while not predicate(self):
                self.changed.clear()
                await self.changed.wait()
        try:
            await asyncio.wait_for(until(), WAIT_S)
        except asyncio.TimeoutError:
            raise AssertionError(f"timed out waiting for {what}; got {self.messages()}") from None


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


async def _connected(hub: StreamHub, channels, *, since=None, batch_ms=None):
    peer = Peer()
    client = hub.connect(batch_ms=batch_ms)
    task = asyncio.create_task(client.run(peer.send))
    await hub.subscribe(client, channels, since)
    await peer.wait(lambda p: p.messages("subscribed"), "the subscribed reply")
    return client, peer, task


# -- parsing --------------------------------------------------------------------------------------
def test_channels_parse_to_their_topics_and_bad_ones_name_the_grammar():
    """Issue 13: tick/bar/topic channels map to bus topics; a bad one says why and lists the grammar."""
    assert parse_channel("tick:aapl").topic == "ticks.AAPL"
    b = parse_channel("bar:AAPL:TIME:5m")
    assert (b.name, b.topic, b.event_type) == ("bar:AAPL:time:5m", "bars.AAPL.time:5m", "BarClosed")
    assert parse_channel("collection").topic == "collection"
    for bad, words in (("quotes:AAPL", "unknown channel 'quotes:AAPL'; channels: tick:<SYMBOL>"),
                       ("bar:AAPL:time:7x", "invalid bar spec 'time:7x'.*Grammar"),
                       ("tick:", "channel 'tick:': invalid ticker ''"), ("tick:AAPL:x", "is tick:<SYMBOL>"),
                       ("", "empty channel name; channels: tick:<SYMBOL>")):
        with pytest.raises(InvalidChannel, match=words):
            parse_channel(bad)


def test_since_is_a_tick_id_with_an_optional_day():
    """Issue 13: since is <tick_id> or <YYYY-MM-DD>:<tick_id>; anything else is refused clearly."""
    assert parse_since("2024-07-03:12") == TickCursor("2024-07-03", 12)
    assert parse_since(7) == parse_since("7") == TickCursor(None, 7)
    assert str(TickCursor("2024-07-03", 12)) == "2024-07-03:12"
    for bad in ("x", "2024-13-01:5", "2024-07-03:", True, 1.5):
        with pytest.raises(InvalidCursor, match="since"):
            parse_since(bad)


def test_client_requests_are_checked_and_errors_show_the_expected_form():
    """Issue 13: /ws/v1 requests are subscribe/unsubscribe with channels; the error shows an example."""
    req = parse_request('{"type":"subscribe","channels":["tick:AAPL"],"since":{"tick:AAPL":"2024-07-03:5"}}')
    assert (req.type, req.channels, req.since) == ("subscribe", ["tick:AAPL"], {"tick:AAPL": "2024-07-03:5"})
    for bad in ("nope", '{"type":"subscribe"}', '{"type":"sub","channels":["collection"]}',
                '{"type":"subscribe","channels":["collection"],"extra":1}', "x" * 70_000):
        with pytest.raises(InvalidRequest) as e:
            parse_request(bad)
        assert "subscribe" in str(e.value) or "bytes" in str(e.value)


# -- fan-out --------------------------------------------------------------------------------------
def test_a_window_of_tick_events_goes_out_as_one_columnar_message_per_symbol_day():
    """Issue 13: events published within one window reach the client as one TicksAppended with
    the arrays concatenated (sequence = the last tick id); bars and topic events as they are."""
    async def main():
        bus = LocalBus()
        hub = StreamHub(bus, None, StreamConfig(batch_ms=200))
        _, peer, task = await _connected(hub, ["tick:AAPL", "bar:AAPL:time:1m", "collection"])
        bus.publish(ticks("AAPL", [1, 2]))  # leading edge: sent at once
        await peer.wait(lambda p: p.messages("TicksAppended"), "the first ticks")
        for ids in ([3, 4], [5], [6, 7, 8]):  # within the window: held, then merged
            bus.publish(ticks("AAPL", ids))
        bus.publish(ticks("MSFT", [1]))  # not subscribed
        bus.publish(bar(start=60))
        bus.publish(LiveBatch(("AAPL",), 6, 2, "2024-07-03T10:00:01"))
        await peer.wait(lambda p: len(p.messages("TicksAppended")) == 2 and p.messages("LiveBatch"), "the window")
        first, merged = peer.messages("TicksAppended")
        assert first["data"]["tick_id"] == [1, 2] and first["sequence"] == 2
        assert merged["data"]["tick_id"] == [3, 4, 5, 6, 7, 8] and merged["sequence"] == 8
        assert merged["data"]["last"] == pytest.approx([100.03, 100.04, 100.05, 100.06, 100.07, 100.08])
        assert set(merged["data"]) >= set(TICK_ARRAYS) | {"symbol", "day", "origin"}
        assert merged["channel"] == "tick:AAPL" and merged["timestamp"] > 0
        frame_of = {m["type"]: i for i, f in enumerate(peer.frames) for m in f}
        assert frame_of["TicksAppended"] == frame_of["BarClosed"] == frame_of["LiveBatch"], "one frame per window"
        (b,) = peer.messages("BarClosed")
        assert b["data"]["start"] == 60 and b["data"]["avg_spread_bps"] is None and b["sequence"] == 1
        hub.close()
        await task
    run(main())


def test_a_client_that_stops_reading_is_dropped_and_the_others_keep_receiving():
    """Issue 13: a client whose socket stops taking frames is closed with 4008 'too slow: N
    messages dropped' once its queue is full; a reading client gets every tick meanwhile."""
    async def main():
        bus = LocalBus()
        hub = StreamHub(bus, None, StreamConfig(batch_ms=0, queue_messages=5))
        slow, slow_peer, slow_task = await _connected(hub, ["tick:AAPL"])
        _, peer, task = await _connected(hub, ["tick:AAPL"])
        slow_peer.block()
        for i in range(1, 41):
            bus.publish(ticks("AAPL", [i]))
            await asyncio.sleep(0)  # one loop turn: the hub flushes a window per event (batch_ms=0)
        await asyncio.wait_for(slow.wait_closed(), WAIT_S)
        assert slow.close_code == CLOSE_TOO_SLOW
        assert slow.close_reason.startswith("too slow: ") and slow.close_reason.endswith(" messages dropped")
        assert int(slow.close_reason.split()[2]) >= 5
        await peer.wait(lambda p: sum(len(m["data"]["tick_id"]) for m in p.messages("TicksAppended")) == 40,
                        "all 40 ticks on the reading client")
        got = [t for m in peer.messages("TicksAppended") for t in m["data"]["tick_id"]]
        assert got == list(range(1, 41))
        assert hub.stats.dropped_clients == 1 and hub.stats.clients == 1
        slow_task.cancel()
        hub.close()
        await task
    run(main())


def test_a_burst_passes_but_a_client_whose_oldest_message_waits_too_long_is_dropped():
    """Issue 13: messages are shared by the clients of a window, so a burst (hundreds of messages
    at once) is no reason to drop anyone; a client whose oldest waiting message is older than
    max_lag_s is too slow and is dropped. The lag is measured on a simulated clock."""
    now = [1000.0]

    async def main():
        bus = LocalBus()
        hub = StreamHub(bus, None, StreamConfig(batch_ms=0, max_lag_s=0.3, clock=lambda: now[0]))
        first, peer, task = await _connected(hub, ["tick:AAPL"])
        for i in range(1, 501):  # one loop turn: a burst
            bus.publish(ticks("AAPL", [i]))
        await peer.wait(lambda p: sum(len(m["data"]["tick_id"]) for m in p.messages("TicksAppended")) == 500,
                        "the whole burst")
        assert hub.stats.dropped_clients == 0 and hub.stats.send_latency_p99_ms is not None
        slow, slow_peer, slow_task = await _connected(hub, ["tick:AAPL"])
        slow_peer.block()
        i = 500
        while not slow.closed:  # a producer publishing every 10 ms (simulated) until the stalled client is dropped
            i += 1
            bus.publish(ticks("AAPL", [i]))
            await asyncio.sleep(0)  # let the hub hand the message to the clients
            now[0] += 0.01
            assert i < 2_000, "the stalled client was not dropped on lag"
        # dropped once its oldest waiting message had waited more than 0.3 s: ~30 messages later
        assert slow.close_code == CLOSE_TOO_SLOW and 28 <= i - 500 <= 40, i - 500
        assert hub.stats.dropped_clients == 1 and not first.closed  # the reading client stays
        slow_task.cancel()
        hub.close()
        await task
    run(main())


def test_heartbeats_arrive_on_their_period_and_unsubscribe_stops_a_channel():
    """Issue 13: every client gets a heartbeat each heartbeat_s; after 'unsubscribed' nothing of
    that channel arrives."""
    async def main():
        bus = LocalBus()
        hub = StreamHub(bus, None, StreamConfig(batch_ms=0, heartbeat_s=0.05))
        client, peer, task = await _connected(hub, ["tick:AAPL", "tick:MSFT"])
        await peer.wait(lambda p: len(p.messages("heartbeat")) >= 3, "three heartbeats")
        seqs = [m["sequence"] for m in peer.messages("heartbeat")]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        hub.unsubscribe(client, ["tick:AAPL"])
        bus.publish(ticks("AAPL", [1]))
        bus.publish(ticks("MSFT", [1]))
        await peer.wait(lambda p: p.messages("TicksAppended"), "MSFT ticks")
        assert [m["channel"] for m in peer.messages("TicksAppended")] == ["tick:MSFT"]
        (u,) = peer.messages("unsubscribed")
        assert u["data"] == {"channels": ["tick:MSFT"], "removed": ["tick:AAPL"]}
        assert hub.stats.channels == 1
        hub.close()
        await task
    run(main())


def test_live_ticks_after_a_cursor_are_cut_at_it_so_nothing_arrives_twice(ctx):
    """Issue 13: a client resuming at (day, tick id) receives only later ticks: a live message
    that straddles the cursor is cut, one before it is skipped, a later day passes whole."""
    async def main():
        bus = LocalBus()
        hub = StreamHub(bus, ctx.store, StreamConfig(batch_ms=0))  # nothing stored: the replay is empty
        _, peer, task = await _connected(hub, ["tick:AAPL"], since={"tick:AAPL": f"{DAY}:5"})
        await peer.wait(lambda p: p.messages("replayed"), "the (empty) replay")
        for ids, day in (([1, 2, 3], DAY), ([4, 5, 6, 7], DAY), ([8], DAY), ([1, 2], "2024-07-05")):
            bus.publish(ticks("AAPL", ids, day))
            await asyncio.sleep(0)
        await peer.wait(lambda p: len(p.messages("TicksAppended")) == 3, "three tick messages")
        got = [(m["data"]["day"], m["data"]["tick_id"], m["sequence"]) for m in peer.messages("TicksAppended")]
        assert got == [(DAY, [6, 7], 7), (DAY, [8], 8), ("2024-07-05", [1, 2], 2)]
        hub.close()
        await task
    run(main())


def test_a_since_on_a_channel_not_subscribed_or_not_a_tick_channel_is_refused():
    """Issue 13: since applies only to tick channels being subscribed; nothing is subscribed then."""
    async def main():
        hub = StreamHub(LocalBus(), None)
        client = hub.connect()
        with pytest.raises(InvalidCursor, match="tick channels"):
            await hub.subscribe(client, ["collection"], {"collection": 5})
        with pytest.raises(InvalidCursor, match="not subscribed"):
            await hub.subscribe(client, ["tick:AAPL"], {"tick:MSFT": 5})
        assert client.channels == {} and hub.stats.channels == 0
        hub.close()
    run(main())

