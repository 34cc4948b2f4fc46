"""One stream connection: its channels, bounded queue, resume cursors and sender loop.

Made by :meth:`core.streams.StreamHub.connect`; see :mod:`core.streams` for the protocol and
:mod:`core.streams.hub` for the fan-out that feeds it.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Protocol

from tickdeck.core.errors import TickdeckError
from tickdeck.core.streams.protocol import (
    CLOSE_BAD_REQUEST, CLOSE_TOO_SLOW, CONTROL_CHANNEL, Channel, Frame, TickCursor, close_reason, encode_message,
    sliced, tick_frame,
)
from tickdeck.core.streams.replay import read_ticks_since



class Hub(Protocol):
    """What a client uses of the :class:`tickdeck.core.streams.hub.StreamHub` that made it (the hub imports
    this module, so the client names the hub's side by this protocol instead of importing it)."""

    config: Any
    store: Any
    _recent: Any

    def _count(self, what: str, n: int = 1) -> None: ...

    def _dropped(self, client: "StreamClient", messages: int) -> None: ...

    def disconnect(self, client: "StreamClient") -> None: ...

    def unsubscribe(self, client: "StreamClient", channels: list[str], *, reply: bool = True) -> list[str]: ...

log = logging.getLogger("tickdeck.core.streams.hub")


@dataclass(eq=False)
class Replay:
    channel: Channel
    cursor: TickCursor


@dataclass(eq=False)
class Bundle:
    """A window's messages for the clients of a lane that have the channels ``key``: joined once."""

    key: frozenset
    frames: list[Frame]
    inner: str  # the messages' texts joined with commas (a frame is "[" + inner + "]")
    oldest: float  # the oldest bus timestamp among them (0: none)
    _text: str | None = field(default=None, repr=False)

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = "[" + self.inner + "]"
        return self._text


def make_bundles(key: frozenset, frames: list[Frame], limit: int) -> list[Bundle]:
    """``frames`` as bundles of at most ``limit`` characters (a bigger message goes alone)."""
    out, part, size = [], [], 0
    for f in frames:
        if part and size + len(f.text) > limit:
            out.append(part)
            part, size = [], 0
        part.append(f)
        size += len(f.text) + 1
    if part:
        out.append(part)
    return [Bundle(key, p, ",".join(f.text for f in p), min((f.timestamp for f in p if f.timestamp), default=0.0))
            for p in out]


class StreamClient:
    """One connection: its channels, bounded queue, resume cursors and sender loop.

    Made by :meth:`StreamHub.connect`; the adapter runs :meth:`run` with its send function and
    ends the connection when :meth:`wait_closed` returns, with :attr:`close_code` /
    :attr:`close_reason` when the hub dropped it (None after a normal end).
    """

    _ids = itertools.count(1)

    def __init__(self, hub: Hub, lane: Any, label: str = "", single: bool = False):
        self.id = next(self._ids)
        self.hub, self.lane, self.label = hub, lane, label
        self.single = single  # a one-channel route: ends when its channel cannot be served
        self.channels: dict[str, Channel] = {}
        self.channel_key: frozenset = frozenset()  # the names of self.channels, for the lane's grouping
        # tick channels resumed after a cursor: their live messages are cut at it until one passes it
        self.guarded: dict[str, TickCursor] = {}
        self.queue: collections.deque = collections.deque()
        self.queued_messages = 0
        self.queued_bytes = 0
        self.waiting_since = 0.0  # when the oldest queued message was queued (config.clock)
        self.replaying = False  # the sender is busy with a replay: queued messages wait for it, not for the client
        self.close_code: int | None = None
        self.close_reason = ""
        self.closed = False
        self._wake = asyncio.Event()
        self._done = asyncio.Event()

    def _set_channels(self) -> None:
        self.channel_key = frozenset(self.channels)

    # -- hub side (event loop) --------------------------------------------------------------
    def offer(self, item) -> None:
        """Queue a bundle, a frame or a replay; drop the client when it is too slow (see
        :mod:`core.streams`)."""
        if self.closed:
            return
        if isinstance(item, Bundle):
            n, size = len(item.frames), len(item.inner)
        elif isinstance(item, Frame):
            n, size = 1, len(item.text)
        else:
            n, size = 1, 0
        cfg = self.hub.config
        now = cfg.clock()
        if not self.queue:
            self.waiting_since = now
        elif self.queued_messages + n > cfg.queue_messages or self.queued_bytes + size > cfg.queue_bytes or \
                (not self.replaying and now - self.waiting_since > cfg.max_lag_s):
            lost = self.queued_messages + n
            self.drop(CLOSE_TOO_SLOW, f"too slow: {lost} messages dropped", lost)
            return
        self.queue.append(item)
        self.queued_messages += n
        self.queued_bytes += size
        self._wake.set()

    def reply(self, type_: str, data: Any, channel: str | None = CONTROL_CHANNEL, sequence: int = 0) -> None:
        self.offer(Frame(channel or "", encode_message(type_, channel, data, time.time(), sequence), control=True))

    def drop(self, code: int, reason: str, lost: int | None = None) -> None:
        """End the connection with ``code`` and ``reason``; what is queued is discarded (``lost``
        messages: by default those queued)."""
        if self.closed:
            return
        self.close_code, self.close_reason = code, close_reason(reason)
        lost = self.queued_messages if lost is None else lost
        self.queue.clear()
        self.queued_messages = self.queued_bytes = 0
        self.hub._dropped(self, lost)
        log.warning("stream client %s%s dropped: %s", self.id, f" ({self.label})" if self.label else "", reason)
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.hub.disconnect(self)
        self._wake.set()
        self._done.set()

    async def wait_closed(self) -> None:
        await self._done.wait()

    # -- sender -----------------------------------------------------------------------------
    async def run(self, send: Callable[[str], Awaitable[None]]) -> None:
        """Send what is queued — everything waiting as one frame (a JSON array of messages, up to
        ``frame_bytes``) per wake-up — until closed."""
        limit = self.hub.config.frame_bytes
        while not self.closed:
            if not self.queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            items, self.queue = self.queue, collections.deque()
            self.queued_messages = self.queued_bytes = 0
            if len(items) == 1 and isinstance(items[0], Bundle) and self._whole(items[0]):
                b = items[0]  # the usual case: this window's bundle, shared with the lane's other clients
                await self._send(send, b.text, len(b.frames), b.oldest)
                continue
            parts: list[str] = []
            size, count, oldest = 0, 0, 0.0
            for item in items:
                if isinstance(item, Replay):
                    if parts:
                        await self._send(send, "[" + ",".join(parts) + "]", count, oldest)
                        parts, size, count, oldest = [], 0, 0, 0.0
                    self.replaying = True
                    try:
                        await self._replay(item, send)
                    finally:
                        self.replaying = False
                        self.waiting_since = self.hub.config.clock()  # what queued meanwhile waited for the replay
                    continue
                if isinstance(item, Bundle) and self._whole(item):
                    pieces = [(item.inner, len(item.frames), item.oldest)]
                else:
                    frames = item.frames if isinstance(item, Bundle) else [item]
                    pieces = [(t, 1, f.timestamp if not f.control else 0.0)
                              for f in frames for t in [self._admit(f)] if t is not None]
                for text, n, ts in pieces:
                    if parts and size + len(text) > limit:
                        await self._send(send, "[" + ",".join(parts) + "]", count, oldest)
                        parts, size, count, oldest = [], 0, 0, 0.0
                    parts.append(text)
                    size += len(text)
                    count += n
                    if ts:
                        oldest = min(oldest, ts) if oldest else ts
            if parts:
                await self._send(send, "[" + ",".join(parts) + "]", count, oldest)

    def _whole(self, b: Bundle) -> bool:
        """True when ``b`` can be sent as it is: made for channels this client still has, none guarded."""
        return b.key <= self.channel_key and not (self.guarded and not b.key.isdisjoint(self.guarded))

    async def _send(self, send, text: str, messages: int, oldest: float = 0.0) -> None:
        await send(text)
        self.hub._count("frames_sent")
        self.hub._count("messages_sent", messages)
        if oldest:
            self.hub._recent.append(time.time() - oldest)

    def _admit(self, f: Frame) -> str | None:
        """The text to send for ``f``, None to skip it (unsubscribed, or ticks the client has)."""
        if f.control:
            return f.text
        if f.channel not in self.channels:
            return None
        cur = self.guarded.get(f.channel)
        if cur is None or f.event is None:
            return f.text
        if cur.day is None:  # nothing was stored to resume from: live ticks from here on
            del self.guarded[f.channel]
            return f.text
        if f.day < cur.day or (f.day == cur.day and f.last_tick <= cur.tick_id):
            return None
        if f.day == cur.day and f.first_tick <= cur.tick_id:  # partly sent already: the rest only
            f = tick_frame(f.channel, sliced(f.event, f.event.tick_id > cur.tick_id), f.timestamp)
        del self.guarded[f.channel]  # past the cursor: later live ticks of the channel are all newer
        return f.text

    async def _replay(self, r: Replay, send) -> None:
        ch = r.channel
        cfg = self.hub.config
        try:
            events, last = await asyncio.to_thread(read_ticks_since, self.hub.store, ch.symbol, r.cursor,
                                                   max_days=cfg.replay_max_days, chunk=cfg.ticks_per_message)
        except Exception as e:  # noqa: BLE001 - reported to the client; live ticks alone would leave a gap
            if not isinstance(e, TickdeckError):
                log.error("tick replay of %s since %s failed", ch.name, r.cursor, exc_info=True)
            detail = str(e) if isinstance(e, TickdeckError) else f"replay failed: {type(e).__name__}"
            self.hub.unsubscribe(self, [ch.name], reply=False)
            await send("[" + encode_message("error", ch.name, {"channel": ch.name, "detail": detail}, time.time(), 0)
                       + "]")
            if self.single and not self.channels:
                self.drop(CLOSE_BAD_REQUEST, detail)
            return
        if ch.name not in self.channels:
            return
        now, sent = time.time(), 0
        for ev in events:
            text = await asyncio.to_thread(encode_message, "TicksAppended", ch.name, ev, now, int(ev.tick_id[-1]))
            await send("[" + text + "]")
            sent += len(ev)
            self.hub._count("frames_sent")
            self.hub._count("messages_sent")
        self.guarded[ch.name] = last
        self.hub._count("replays")
        self.hub._count("replayed_ticks", sent)
        data = {"channel": ch.name, "since": str(r.cursor), "ticks": sent, "day": last.day, "tick_id": last.tick_id}
        await send("[" + encode_message("replayed", ch.name, data, time.time(), last.tick_id) + "]")
