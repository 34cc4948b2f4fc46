"""The events bus: ``publish(topic, data)`` and ``subscribe(pattern)``, in-process or Redis.

Messages are dicts ``{"topic", "type", "data", "timestamp", "sequence"}`` — ``sequence``
increases per publisher so a consumer can detect gaps. Topics: ``ticks.<SYM>``,
``bars.<SYM>.<family>.<spec>``, ``collection``, ``jobs``, ``validation``, ``alerts``,
``health``; patterns use shell wildcards (``bars.AAPL.*``).

* :class:`LocalBus` — default; delivers to subscribers in this process (thread-safe).
* :class:`RedisBus` — when ``TICKDECK_REDIS_URL`` is set; every process sees every message.

Both offer ``subscribe(pattern)`` (an async iterator) and ``listen(pattern, callback)`` for
threaded consumers; the callback runs on a bus thread and must not block.
"""

from __future__ import annotations

import asyncio
import fnmatch
import itertools
import json
import threading
import time
from typing import AsyncIterator, Callable

TOPICS = ("collection", "jobs", "validation", "alerts", "health")


def make_message(topic: str, type_: str, data, seq: int) -> dict:
    return {"topic": topic, "type": type_, "data": data, "timestamp": time.time(), "sequence": seq}


class LocalBus:
    """In-process bus with the same interface as :class:`RedisBus`."""

    def __init__(self):
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self._listeners: list[tuple[str, Callable[[dict], None]]] = []

    def publish(self, topic: str, data=None, type_: str = "event") -> dict:
        msg = make_message(topic, type_, data, next(self._seq))
        self._deliver(msg)
        return msg

    def _deliver(self, msg: dict) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for pattern, cb in listeners:
            if fnmatch.fnmatchcase(msg["topic"], pattern):
                try:
                    cb(msg)
                except Exception:  # a broken consumer must not break publishers
                    import logging

                    logging.getLogger(__name__).exception("bus listener failed")

    def listen(self, pattern: str, callback: Callable[[dict], None]) -> Callable[[], None]:
        """Call ``callback(msg)`` for matching messages; returns an unsubscribe function."""
        entry = (pattern, callback)
        with self._lock:
            self._listeners.append(entry)

        def stop() -> None:
            with self._lock:
                if entry in self._listeners:
                    self._listeners.remove(entry)

        return stop

    async def subscribe(self, pattern: str) -> AsyncIterator[dict]:
        loop = asyncio.get_running_loop()
        q: asyncio.Queue = asyncio.Queue()
        stop = self.listen(pattern, lambda m: loop.call_soon_threadsafe(q.put_nowait, m))
        try:
            while True:
                yield await q.get()
        finally:
            stop()

    def close(self) -> None:
        with self._lock:
            self._listeners.clear()


class RedisBus(LocalBus):
    """Redis pub/sub bus: messages cross processes. Channel names are ``tickdeck:<topic>``."""

    PREFIX = "tickdeck:"

    def __init__(self, url: str):
        super().__init__()
        import redis

        self._redis = redis.Redis.from_url(url, socket_connect_timeout=3)
        self._redis.ping()
        self._pubsub = None
        self._thread = None
        self._patterns: set[str] = set()

    def publish(self, topic: str, data=None, type_: str = "event") -> dict:
        msg = make_message(topic, type_, data, next(self._seq))
        self._redis.publish(self.PREFIX + topic, json.dumps(msg, default=str))
        return msg

    def listen(self, pattern: str, callback):
        stop = super().listen(pattern, callback)
        self._ensure_thread(pattern)
        return stop

    def _ensure_thread(self, pattern: str) -> None:
        with self._lock:
            if self._pubsub is None:
                self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            if pattern not in self._patterns:
                self._patterns.add(pattern)
                self._pubsub.psubscribe(**{self.PREFIX + pattern: self._on_redis})
            if self._thread is None:
                self._thread = self._pubsub.run_in_thread(sleep_time=0.05, daemon=True)

    def _on_redis(self, raw) -> None:
        try:
            msg = json.loads(raw["data"])
        except (ValueError, TypeError):
            return
        self._deliver(msg)

    def wait_ready(self, timeout: float = 2.0) -> None:
        """Block until the subscription is registered with Redis (tests and start-up)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            n = self._redis.execute_command("PUBSUB", "NUMPAT")
            if n:
                return
            time.sleep(0.01)

    def close(self) -> None:
        super().close()
        if self._thread is not None:
            self._thread.stop()
            self._thread = None
        if self._pubsub is not None:
            self._pubsub.close()
            self._pubsub = None
        self._redis.close()


def make_bus(redis_url: str = ""):
    """The configured bus: Redis when a URL is given, in-process otherwise."""
    return RedisBus(redis_url) if redis_url else LocalBus()
