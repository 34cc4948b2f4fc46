"""The events bus: ``publish(event)``, ``listen(pattern, callback)`` and ``subscribe(pattern)``.

* :class:`LocalBus` — the default; delivers to subscribers in this process (thread-safe).
* :class:`RedisBus` — when ``TICKDECK_REDIS_URL`` is set: every process sees every message,
  the publishing one included (it receives its own messages back through Redis). Channels are
  ``tickdeck:<topic>``; messages are the wire form of :mod:`core.events`.

Patterns are shell wildcards over topics (``bars.AAPL.*``, ``ticks.*``, ``collection``).

Delivery
--------
``listen(pattern, callback)`` calls ``callback(message)`` on the delivering thread (the
publisher's for :class:`LocalBus`, the Redis reader thread for :class:`RedisBus`): it must be
quick and must not block (append to a buffer, set a flag). An exception in a callback is
counted (``stats.listener_errors``) and logged, never raised to the publisher.

``subscribe(pattern, maxsize=SUBSCRIBER_QUEUE_SIZE)`` (in a running event loop) returns a
:class:`Subscription`, an async iterator with a bounded queue. Drop policy: when the queue is
full the **oldest** waiting message is dropped for the newest (a slow consumer sees the
present, not a growing past); each drop is counted in ``Subscription.dropped`` and
``bus.stats.dropped``. ``message.sequence`` increases per publisher, so a consumer can tell
that it missed messages.

A message that cannot be decoded (not JSON, a wrong envelope, fields of the wrong type) or
names an unknown event type is counted (``stats.malformed`` / ``stats.unknown``) and logged at
most once per :data:`LOG_EVERY_S` per kind; subscribers never see it. A failed Redis publish
is counted (``stats.publish_errors``) and logged the same way; the publisher goes on.
"""

from __future__ import annotations

import asyncio
import collections
import fnmatch
import itertools
import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable

from tickdeck.core import metrics
from tickdeck.core.events import Event, EventError, MalformedMessage, Message, UnknownEventType, decode, encode

log = logging.getLogger(__name__)

SUBSCRIBER_QUEUE_SIZE = 1000  # messages waiting per subscription; ~seconds of a busy feed's ticks+bars topics
LOG_EVERY_S = 10.0  # at most one log line per kind of bus problem in this long (the counters keep the rest)
REDIS_POLL_S = 0.2  # reader thread's longest wait, so close() is prompt
REDIS_RETRY_S = 1.0  # pause after a Redis read error before trying again (reconnects and resubscribes)
SUBSCRIBE_CONFIRM_S = 5.0  # how long listen() waits for Redis to confirm a new pattern


@dataclass(frozen=True)
class BusStats:
    """Counters of one bus since it was opened."""

    published: int
    delivered: int
    dropped: int
    malformed: int
    unknown: int
    listener_errors: int
    publish_errors: int
    listeners: int


class _RateLimitedLog:
    """Log a kind of problem at most once per ``every`` seconds, saying how many were skipped."""

    def __init__(self, every: float = LOG_EVERY_S):
        self.every = every
        self._last: dict[str, float] = {}
        self._skipped: collections.Counter = collections.Counter()
        self._lock = threading.Lock()

    def warning(self, kind: str, text: str, *, exc_info: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(kind, -self.every) < self.every:
                self._skipped[kind] += 1
                return
            self._last[kind] = now
            skipped = self._skipped.pop(kind, 0)
        more = f" ({skipped} more like it since the last report)" if skipped else ""
        log.warning("%s%s", text, more, exc_info=exc_info)


class Subscription:
    """Async iterator of :class:`Message` for one pattern, with a bounded drop-oldest queue.

    Use ``async for message in bus.subscribe("ticks.*")`` or ``async with``; :meth:`close`
    (or leaving the ``async with``) unsubscribes. ``dropped`` counts messages dropped because
    the queue was full.
    """

    def __init__(self, bus: "LocalBus", pattern: str, maxsize: int):
        if maxsize < 1:
            raise ValueError(f"subscriber queue size must be >= 1, got {maxsize}")
        self.pattern, self.maxsize = pattern, maxsize
        self.dropped = 0
        self._bus = bus
        self._loop = asyncio.get_running_loop()
        self._buf: collections.deque = collections.deque()
        self._lock = threading.Lock()
        self._ready = asyncio.Event()
        self._wake_pending = False
        self._closed = False
        self._stop = bus.listen(pattern, self._offer)

    def _offer(self, msg: Message) -> None:  # any thread
        with self._lock:
            if self._closed:
                return
            if len(self._buf) >= self.maxsize:
                self._buf.popleft()
                self.dropped += 1
                self._bus._count("dropped")
            self._buf.append(msg)
            wake = not self._wake_pending
            self._wake_pending = True
        if wake:
            try:
                self._loop.call_soon_threadsafe(self._ready.set)
            except RuntimeError:  # the loop is closed: nobody will read this subscription again
                self.close()

    def __aiter__(self) -> "Subscription":
        return self

    async def __anext__(self) -> Message:
        while True:
            with self._lock:
                if self._buf:
                    return self._buf.popleft()
                if self._closed:
                    raise StopAsyncIteration
                self._wake_pending = False
                self._ready.clear()
            await self._ready.wait()

    def pending(self) -> int:
        """Messages waiting in the queue."""
        with self._lock:
            return len(self._buf)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stop()
        try:
            self._loop.call_soon_threadsafe(self._ready.set)
        except RuntimeError:
            pass

    async def __aenter__(self) -> "Subscription":
        return self

    async def __aexit__(self, *exc) -> None:
        self.close()


class LocalBus:
    """In-process bus with the same interface as :class:`RedisBus`."""

    def __init__(self):
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self._listeners: list[tuple[str, Callable[[Message], None]]] = []
        self._counts: collections.Counter = collections.Counter()
        self._count_lock = threading.Lock()
        self._problems = _RateLimitedLog()

    # -- counters -----------------------------------------------------------------------------
    def _count(self, what: str, n: int = 1) -> None:
        with self._count_lock:
            self._counts[what] += n
        metrics.bus_count(what, n)  # drops and problems only

    @property
    def stats(self) -> BusStats:
        with self._count_lock:
            c = dict(self._counts)
        with self._lock:
            n = len(self._listeners)
        return BusStats(c.get("published", 0), c.get("delivered", 0), c.get("dropped", 0), c.get("malformed", 0),
                        c.get("unknown", 0), c.get("listener_errors", 0), c.get("publish_errors", 0), n)

    # -- publishing ---------------------------------------------------------------------------
    def _message(self, event: Event) -> Message:
        if not isinstance(event, Event):
            raise EventError(f"publish() takes an event from tickdeck.core.events, got {type(event).__name__}")
        return Message(event.topic, type(event).__name__, event, time.time(), next(self._seq))

    def publish(self, event: Event) -> Message:
        """Deliver ``event`` to every matching listener and subscription; returns its message."""
        msg = self._message(event)
        self._count("published")
        self._deliver(msg)
        return msg

    def _deliver(self, msg: Message, pattern: str | None = None) -> None:
        """To listeners whose pattern matches ``msg.topic`` (only those of ``pattern`` when given)."""
        with self._lock:
            targets = [cb for p, cb in self._listeners
                       if (p == pattern if pattern is not None else fnmatch.fnmatchcase(msg.topic, p))]
        for cb in targets:
            try:
                cb(msg)
            except Exception as e:  # noqa: BLE001 - a broken consumer must not break publishers
                self._count("listener_errors")
                self._problems.warning(f"listener:{msg.type}", f"bus listener for {msg.type} on {msg.topic} "
                                       f"failed: {type(e).__name__}: {e}", exc_info=True)
            else:
                self._count("delivered")

    def _received(self, raw: bytes, pattern: str | None = None) -> None:
        """Decode a wire message and deliver it; bad ones are counted and logged, never delivered."""
        try:
            msg = decode(raw)
        except UnknownEventType as e:
            self._count("unknown")
            self._problems.warning("unknown", f"bus message ignored: {e}")
            return
        except MalformedMessage as e:
            self._count("malformed")
            self._problems.warning("malformed", f"bus message ignored: {e}")
            return
        self._deliver(msg, pattern)

    # -- subscribing --------------------------------------------------------------------------
    def listen(self, pattern: str, callback: Callable[[Message], None]) -> Callable[[], None]:
        """Call ``callback(message)`` for every message whose topic matches ``pattern``.

        Returns a function that stops the listening (idempotent).
        """
        entry = (pattern, callback)
        with self._lock:
            self._listeners.append(entry)
        done = threading.Event()

        def stop() -> None:
            if done.is_set():
                return
            done.set()
            with self._lock:
                if entry in self._listeners:
                    self._listeners.remove(entry)
            self._unlisten(pattern)

        return stop

    def _unlisten(self, pattern: str) -> None:
        """Hook: the listener of ``pattern`` was removed."""

    def subscribe(self, pattern: str, maxsize: int = SUBSCRIBER_QUEUE_SIZE) -> Subscription:
        """An async iterator of matching messages (call it in a running event loop); see the
        module docstring for the queue bound and drop policy."""
        return Subscription(self, pattern, maxsize)

    def close(self) -> None:
        with self._lock:
            self._listeners.clear()


class RedisBus(LocalBus):
    """Redis pub/sub bus: messages cross processes. Channel names are ``<prefix><topic>``."""

    PREFIX = "tickdeck:"

    def __init__(self, url: str, *, prefix: str = PREFIX):
        super().__init__()
        import redis

        self._redis_errors = (redis.RedisError, OSError)
        self.prefix = prefix
        self._redis = redis.Redis.from_url(url, socket_connect_timeout=3)
        self._redis.ping()
        self._pubsub = None
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()
        self._patterns: collections.Counter = collections.Counter()  # pattern -> listeners
        self._confirmed: set[str] = set()
        self._cond = threading.Condition(self._lock)

    def publish(self, event: Event) -> Message:
        """Send ``event`` to Redis (every subscribed process, this one included, gets it).

        Raises
        ------
        EventError
            The event has a field with no wire form (a programming error).
        """
        msg = self._message(event)
        data = encode(msg)
        try:
            self._redis.publish(self.prefix + msg.topic, data)
        except self._redis_errors as e:
            self._count("publish_errors")
            self._problems.warning("publish", f"publishing {msg.type} on {msg.topic} to Redis failed: {e}")
            return msg
        self._count("published")
        return msg

    def listen(self, pattern: str, callback: Callable[[Message], None]) -> Callable[[], None]:
        """As :meth:`LocalBus.listen`; returns once Redis confirmed the subscription (up to
        :data:`SUBSCRIBE_CONFIRM_S`), so a message published afterwards is received."""
        stop = super().listen(pattern, callback)
        with self._lock:
            self._patterns[pattern] += 1
            new = self._patterns[pattern] == 1
            if self._pubsub is None:
                self._pubsub = self._redis.pubsub()
        if new:
            self._pubsub.psubscribe(self.prefix + pattern)
        self._ensure_thread()
        if threading.current_thread() is not self._thread:
            with self._cond:
                if not self._cond.wait_for(lambda: pattern in self._confirmed or self._closing.is_set(),
                                           timeout=SUBSCRIBE_CONFIRM_S):
                    self._problems.warning("confirm", f"Redis did not confirm the subscription to {pattern!r} "
                                           f"within {SUBSCRIBE_CONFIRM_S:g}s")
        return stop

    def _unlisten(self, pattern: str) -> None:
        with self._lock:
            self._patterns[pattern] -= 1
            last = self._patterns[pattern] <= 0
            if last:
                del self._patterns[pattern]
                self._confirmed.discard(pattern)
            pubsub = self._pubsub
        if last and pubsub is not None and not self._closing.is_set():
            try:
                pubsub.punsubscribe(self.prefix + pattern)
            except self._redis_errors as e:
                self._problems.warning("unsubscribe", f"Redis unsubscribe from {pattern!r} failed: {e}")

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._read_loop, name="tickdeck-bus-redis", daemon=True)
                self._thread.start()

    def _read_loop(self) -> None:
        n = len(self.prefix)
        while not self._closing.is_set():
            try:
                m = self._pubsub.get_message(timeout=REDIS_POLL_S)
            except self._redis_errors as e:
                if self._closing.is_set():
                    return
                self._problems.warning("read", f"reading from Redis failed (retrying): {e}")
                self._closing.wait(REDIS_RETRY_S)
                continue
            except Exception as e:  # noqa: BLE001 - the reader must survive anything
                if self._closing.is_set():
                    return
                self._problems.warning("read", f"Redis reader error (retrying): {type(e).__name__}: {e}",
                                       exc_info=True)
                self._closing.wait(REDIS_RETRY_S)
                continue
            if m is None:
                continue
            kind = m.get("type")
            pattern = m.get("pattern")
            if isinstance(pattern, bytes):
                pattern = pattern.decode("utf-8", "replace")
            if kind == "pmessage":
                self._received(m["data"], pattern[n:] if pattern else None)
            elif kind == "psubscribe":
                channel = m.get("channel")
                channel = channel.decode("utf-8", "replace") if isinstance(channel, bytes) else str(channel)
                with self._cond:
                    self._confirmed.add(channel[n:])
                    self._cond.notify_all()

    def close(self) -> None:
        self._closing.set()
        with self._cond:
            self._cond.notify_all()
        super().close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=REDIS_POLL_S * 10)
        self._thread = None
        if self._pubsub is not None:
            try:
                self._pubsub.close()
            except self._redis_errors:
                pass
            self._pubsub = None
        self._redis.close()


def make_bus(redis_url: str = "") -> LocalBus:
    """The configured bus: Redis when a URL is given, in-process otherwise."""
    return RedisBus(redis_url) if redis_url else LocalBus()
