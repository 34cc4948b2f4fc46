"""Fan-out of bus events to stream clients: lanes (one per window size), bundles, heartbeats
(the clients themselves — queues, slow-client drops, sender loops — are :mod:`core.streams.client`).

See :mod:`core.streams` for the protocol; :class:`StreamHub` is the entry point.

Cost model: per window, a lane encodes each channel's messages once and joins them once per
*set of channels* its clients have (:class:`core.streams.client.Bundle`); a client then costs
one queue entry and one socket write per window, however many channels it has. Only a client
resuming a tick channel (until its live ticks pass the cursor) or one whose channels changed
since the window was built has its messages looked at one by one.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from tickdeck.core import metrics
from tickdeck.core.events import Message
from tickdeck.core.streams.client import StreamClient, make_bundles, Replay
from tickdeck.core.streams.protocol import (
    CONTROL_CHANNEL, MAX_BATCH_MS, Channel, Frame, InvalidChannel, InvalidCursor, StreamConfig, StreamError,
    TickCursor, encode_message, merge_ticks, parse_channel, parse_since, tick_frames,
)

log = logging.getLogger(__name__)

RECENT_FRAMES = 20_000  # frames whose latency the stats' percentiles cover (seconds of a busy server)


@dataclass(frozen=True)
class StreamStats:
    """Counters of a hub since it started, and the latency from the bus (the oldest event of a
    frame's messages) to the frame written to its socket, over the last :data:`RECENT_FRAMES`
    frames (None before the first)."""

    clients: int
    channels: int
    frames_sent: int
    messages_sent: int
    dropped_clients: int
    dropped_messages: int
    replays: int
    replayed_ticks: int
    send_latency_p50_ms: float | None = None
    send_latency_p99_ms: float | None = None


class _Lane:
    """The clients of one window size: pending events per channel, one flush timer, one
    encoding of each message and one join per channel set for all of them."""

    def __init__(self, hub: "StreamHub", batch_ms: int):
        self.hub, self.window = hub, batch_ms / 1000.0
        self.subs: dict[str, set[StreamClient]] = {}
        self.pending: dict[str, list[Message]] = {}
        self.seq: collections.Counter = collections.Counter()
        self.last_flush = -1e9
        self.timer: asyncio.Handle | None = None

    def add(self, channel: str, msg: Message) -> None:
        self.pending.setdefault(channel, []).append(msg)
        if self.timer is None:
            loop = self.hub.loop
            due = self.last_flush + self.window
            self.timer = loop.call_soon(self.flush) if due <= loop.time() else loop.call_at(due, self.flush)

    def flush(self) -> None:
        self.timer = None
        self.last_flush = self.hub.loop.time()
        pending, self.pending = self.pending, {}
        frames: dict[str, list[Frame]] = {}
        targets: set[StreamClient] = set()
        for name, msgs in pending.items():
            clients = self.subs.get(name)
            ch = self.hub.channels.get(name)
            if clients and ch is not None:
                frames[name] = self._frames(ch, msgs)
                targets |= clients
        if not frames:
            return
        names = frozenset(frames)
        groups: dict[frozenset, list[StreamClient]] = {}
        for c in targets:
            groups.setdefault(c.channel_key & names, []).append(c)
        limit = self.hub.config.frame_bytes
        for key, clients in groups.items():
            bundles = make_bundles(key, [f for name in frames if name in key for f in frames[name]], limit)
            for c in clients:
                for b in bundles:
                    c.offer(b)

    def _frames(self, ch: Channel, msgs: list[Message]) -> list[Frame]:
        if ch.kind == "tick":
            out, run, per = [], [msgs[0]], self.hub.config.ticks_per_message
            for m in msgs[1:]:  # one message per run of the same day and origin
                if m.event.day == run[0].event.day and m.event.origin == run[0].event.origin:
                    run.append(m)
                else:
                    out.extend(tick_frames(ch.name, merge_ticks([r.event for r in run]), run[0].timestamp, per))
                    run = [m]
            out.extend(tick_frames(ch.name, merge_ticks([r.event for r in run]), run[0].timestamp, per))
            return out
        frames = []
        for m in msgs:
            self.seq[ch.name] += 1
            frames.append(Frame(ch.name, encode_message(m.type, ch.name, m.event, m.timestamp, self.seq[ch.name]),
                                timestamp=m.timestamp))
        return frames


class StreamHub:
    """Fan-out of bus events to :class:`StreamClient` s of one event loop.

    The hub listens on the bus once per channel in use (from any thread: the bus callback only
    appends and wakes the loop), routes each message to the lanes whose clients have the
    channel, and sends a heartbeat to every client every ``config.heartbeat_s``.

    Parameters
    ----------
    bus
        :class:`core.bus.LocalBus` or :class:`core.bus.RedisBus`.
    store
        The :class:`core.store.Store` the tick replay reads.
    config
        :class:`StreamConfig`.

    Warnings
    --------
    Create and use it on the event loop that serves the connections.
    """

    def __init__(self, bus, store, config: StreamConfig | None = None):
        self.bus, self.store, self.config = bus, store, config or StreamConfig()
        self.loop = asyncio.get_running_loop()
        self.channels: dict[str, Channel] = {}
        self.clients: set[StreamClient] = set()
        self._lanes: dict[int, _Lane] = {}
        self._listening: dict[str, tuple[asyncio.Future, list]] = {}  # channel -> (ready, [stop])
        self._refs: collections.Counter = collections.Counter()  # channel -> clients
        self._inbound: collections.deque = collections.deque()
        self._lock = threading.Lock()
        self._pump_pending = False
        self._counts: collections.Counter = collections.Counter()
        self._recent: collections.deque = collections.deque(maxlen=RECENT_FRAMES)  # bus -> socket, seconds
        self._heartbeats = 0
        self._beat = self.loop.call_later(self.config.heartbeat_s, self._heartbeat)
        self._closed = False

    # -- counters ---------------------------------------------------------------------------
    def _count(self, what: str, n: int = 1) -> None:
        self._counts[what] += n

    def _dropped(self, client: StreamClient, messages: int) -> None:
        self._count("dropped_clients")
        self._count("dropped_messages", messages)
        metrics.ws_dropped(messages)

    @property
    def stats(self) -> StreamStats:
        c = self._counts
        p50 = p99 = None
        if self._recent:
            p50, p99 = (round(float(x) * 1000, 1) for x in np.percentile(np.fromiter(self._recent, float), [50, 99]))
        return StreamStats(len(self.clients), len(self._refs), c["frames_sent"], c["messages_sent"],
                           c["dropped_clients"], c["dropped_messages"], c["replays"], c["replayed_ticks"], p50, p99)

    # -- connections ------------------------------------------------------------------------
    def connect(self, *, batch_ms: int | None = None, label: str = "", single: bool = False) -> StreamClient:
        """A new client whose updates are batched in ``batch_ms`` windows (default the config's);
        ``label`` names it in logs; ``single``: it ends when its one channel cannot be served."""
        ms = self.config.batch_ms if batch_ms is None else int(batch_ms)
        if not 0 <= ms <= MAX_BATCH_MS:
            raise StreamError(f"batch_ms must be 0..{MAX_BATCH_MS}, got {ms}")
        lane = self._lanes.get(ms) or self._lanes.setdefault(ms, _Lane(self, ms))
        client = StreamClient(self, lane, label, single)
        self.clients.add(client)
        metrics.ws_clients(+1)
        return client

    def disconnect(self, client: StreamClient) -> None:
        """Forget ``client`` (idempotent): its channels are released."""
        if client not in self.clients:
            return
        self.clients.discard(client)
        metrics.ws_clients(-1)
        for name in list(client.channels):
            self._release(client, name)
        client.channels.clear()
        client._set_channels()
        if not client.closed:
            client.close()

    async def subscribe(self, client: StreamClient, channels: list[str],
                        since: Mapping[str, Any] | None = None) -> list[str]:
        """Subscribe ``client`` to ``channels`` (names; already subscribed ones are kept as they
        are); ``since`` maps tick channel names to a cursor to resume from. Returns the
        canonical names added, after a ``subscribed`` reply is queued.

        Raises
        ------
        InvalidChannel, InvalidCursor
            Nothing is subscribed then.
        """
        parsed = [parse_channel(n) for n in channels]
        cursors: dict[str, TickCursor] = {}
        for key, value in (since or {}).items():
            ch = parse_channel(key)
            if ch.kind != "tick":
                raise InvalidCursor(f"since applies to tick channels, not {key!r}")
            cursors[ch.name] = parse_since(value)
        names = [c.name for c in parsed]
        stray = [n for n in cursors if n not in names]
        if stray:
            raise InvalidCursor(f"since names channel(s) not subscribed here: {', '.join(stray)}")
        new = [c for c in dict((c.name, c) for c in parsed).values() if c.name not in client.channels]
        if len(client.channels) + len(new) > self.config.max_channels:
            raise InvalidChannel(f"at most {self.config.max_channels} channels per connection")
        results = await asyncio.gather(*(self._listen(c) for c in new), return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed or client.closed:
            for c, r in zip(new, results):
                if not isinstance(r, BaseException):
                    self._unref(c.name)
            if failed:
                raise failed[0]
            return []
        for c in new:  # registered before the replay reads the store: nothing falls in between
            client.channels[c.name] = c
            client.lane.subs.setdefault(c.name, set()).add(client)
        client._set_channels()
        client.reply("subscribed", {"channels": sorted(client.channels), "added": [c.name for c in new]})
        for c in new:
            if c.name in cursors:
                client.offer(Replay(c, cursors[c.name]))
        return [c.name for c in new]

    def unsubscribe(self, client: StreamClient, channels: list[str], *, reply: bool = True) -> list[str]:
        """Unsubscribe ``client`` from ``channels``; returns the names removed (after an
        ``unsubscribed`` reply is queued; nothing of them is sent after it).

        Raises
        ------
        InvalidChannel
        """
        names = [parse_channel(n).name for n in channels]
        gone = [n for n in dict.fromkeys(names) if n in client.channels]
        for n in gone:
            self._release(client, n)
            del client.channels[n]
            client.guarded.pop(n, None)
        client._set_channels()
        if reply:
            client.reply("unsubscribed", {"channels": sorted(client.channels), "removed": gone})
        return gone

    def _release(self, client: StreamClient, name: str) -> None:
        subs = client.lane.subs.get(name)
        if subs is not None:
            subs.discard(client)
            if not subs:
                del client.lane.subs[name]
        self._unref(name)

    # -- bus side ---------------------------------------------------------------------------
    async def _listen(self, ch: Channel) -> None:
        """Hold a reference to ``ch``; listen on its topic when it is the first (returns once the
        bus confirmed it, so what is published afterwards reaches the hub)."""
        self._refs[ch.name] += 1
        self.channels.setdefault(ch.name, ch)
        entry = self._listening.get(ch.name)
        try:
            if entry is not None:
                await asyncio.shield(entry[0])
                return
            ready = self.loop.create_future()
            entry = self._listening[ch.name] = (ready, [])
            try:
                stop = await asyncio.to_thread(self.bus.listen, ch.topic, self._receiver(ch))
            except Exception as e:
                self._listening.pop(ch.name, None)
                ready.set_exception(StreamError(f"cannot listen on {ch.topic}: {type(e).__name__}: {e}"))
                ready.exception()  # marked retrieved: waiters get it through the shield
                raise ready.exception() from e
            entry[1].append(stop)
            ready.set_result(None)
            if ch.name not in self._refs:  # everyone left meanwhile
                self._stop_listening(ch.name)
        except BaseException:
            self._unref(ch.name)
            raise

    def _unref(self, name: str) -> None:
        self._refs[name] -= 1
        if self._refs[name] <= 0:
            del self._refs[name]
            entry = self._listening.get(name)
            if entry is not None and entry[0].done():
                self._stop_listening(name)

    def _stop_listening(self, name: str) -> None:
        entry = self._listening.pop(name, None)
        self.channels.pop(name, None)
        if entry and entry[1]:
            self.loop.run_in_executor(None, entry[1][0])  # Redis unsubscribe is network I/O

    def _receiver(self, ch: Channel) -> Callable[[Message], None]:
        name, wanted = ch.name, ch.event_type

        def on_message(msg: Message) -> None:  # the bus's delivering thread: append and wake only
            if wanted is not None and msg.type != wanted:
                return
            self._inbound.append((name, msg))
            with self._lock:
                if self._pump_pending:
                    return
                self._pump_pending = True
            try:
                self.loop.call_soon_threadsafe(self._pump)
            except RuntimeError:  # the loop is closed
                pass

        return on_message

    def _pump(self) -> None:
        with self._lock:
            self._pump_pending = False
        inbound = self._inbound
        lanes = list(self._lanes.values())
        while inbound:
            name, msg = inbound.popleft()
            for lane in lanes:
                if name in lane.subs:
                    lane.add(name, msg)

    def _heartbeat(self) -> None:
        if self._closed:
            return
        self._heartbeats += 1
        now = time.time()
        frame = Frame("", encode_message("heartbeat", CONTROL_CHANNEL, {"server_time": now}, now, self._heartbeats),
                      control=True)
        for c in list(self.clients):
            c.offer(frame)
        self._beat = self.loop.call_later(self.config.heartbeat_s, self._heartbeat)

    def close(self) -> None:
        """Drop every client (code 1001) and stop listening."""
        self._closed = True
        self._beat.cancel()
        for c in list(self.clients):
            c.drop(1001, "server shutting down")
        for name in list(self._listening):
            self._stop_listening(name)


def hub_for(ctx, config: StreamConfig | None = None) -> StreamHub:
    """The :class:`StreamHub` of ``ctx`` on the running event loop (made on first use; the
    config is ``ctx.extras["stream_config"]`` or :meth:`StreamConfig.from_env`)."""
    loop = asyncio.get_running_loop()
    hub = ctx.extras.get("stream_hub")
    if hub is None or hub.loop is not loop or hub._closed:
        cfg = config or ctx.extras.get("stream_config") or StreamConfig.from_env()
        hub = ctx.extras["stream_hub"] = StreamHub(ctx.bus, ctx.store, cfg)
    return hub
