"""IQFeed protocol client: history requests, Level 1 watcher, reconnects, circuit breaker, status.

* :class:`HistoryClient` — ``HTT`` (a day or a time range), ``HTD`` (last N days) and ``HTX``
  (last N ticks) on the lookup port. A reply is received into fresh 4 MB blocks; each block of
  complete lines goes to a parser thread (:class:`core.sources.iqfeed_fast.LHStreamParser`)
  while the next one arrives, and the result exists only once ``!ENDMSG!`` arrived, so a dropped
  or stalled reply is retried, never half-used. Failures are retried with exponential backoff
  behind a :class:`CircuitBreaker`.
* :class:`Level1Client` — watches symbols on the Level 1 port and yields an :class:`L1Batch` once
  the oldest buffered line is ``flush_after`` (default 0.05 s) old, and at least every
  ``batch_seconds``; ``Q``/``P`` lines are picked out of the byte stream and parsed in bulk, each
  with its receive time. On a disconnect it reconnects with backoff, re-watches, and flags the
  next batch ``reconnected`` so the collector can backfill the gap from history.
* Status — each client keeps counters (lines, ticks, bad lines, errors, reconnects), its
  state (connected / reconnecting / disconnected / breaker open) and its last latency, and
  publishes them as a :class:`core.events.FeedStatusChanged` on the bus topic ``collection``
  after every request or Level 1 batch, every failure and reconnect, and when it closes;
  ``status()`` returns the same snapshot.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from tickdeck.core.errors import FeedError
from tickdeck.core.events import FeedStatusChanged
from tickdeck.core.naming import as_date, normalize_ticker
from tickdeck.core.sources import iqfeed_l1 as l1p
from tickdeck.core.sources import iqfeed_parse as ip
from tickdeck.core.sources.iqfeed_fast import LHStreamParser
from tickdeck.core.sources.iqfeed_l1 import ParsedLevel1
from tickdeck.core.sources.iqfeed_parse import ParsedTicks

PROTOCOL = "6.2"
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 30.0  # a server silent this long mid-reply (or L1 without its 1 s heartbeat) is stalled
# history reply blocks handed to the parser: ~50 per 2M-tick day, each parsed while the next arrives
BLOCK_BYTES = 4 << 20
L1_RECV_BYTES = 1 << 18  # one Level 1 recv (updates are small; no multi-MB allocation per read)
L1_POLL_S = 0.2  # longest single Level 1 wait, so stop requests and stall checks are seen promptly
FLUSH_AFTER_S = 0.05  # a buffered Level 1 line is handed on within this long (latency target p99 < 250 ms)
ERROR_REPLY_MAX = 4096  # an error reply is one short line; longer replies are data
MAX_ATTEMPTS = 4  # tries per history request before giving up
BACKOFF_BASE_S = 0.5  # first retry delay; doubles per attempt
BACKOFF_MAX_S = 30.0  # cap so a long outage is polled at least twice a minute
BREAKER_FAILURES = 5  # consecutive failures that open the circuit
BREAKER_RESET_S = 30.0  # open circuit waits this long before one half-open trial


class FeedTimeout(FeedError, TimeoutError):
    """The server sent nothing for the read timeout (stalled)."""


class FeedDisconnected(FeedError, ConnectionError):
    """The connection closed before the reply was complete."""


class NoData(FeedError):
    """The server answered ``E,!NO_DATA!`` (weekend, holiday, no ticks in range)."""


class InvalidFeedSymbol(FeedError, ValueError):
    """The server does not know the symbol (``E,Invalid symbol.`` / ``n,SYM``)."""


class CircuitOpen(FeedError):
    """Too many consecutive failures; requests are refused until the reset timeout passes."""


def backoff_delay(attempt: int, base: float = BACKOFF_BASE_S, cap: float = BACKOFF_MAX_S) -> float:
    """Delay before retry ``attempt`` (1-based): ``base × 2^(attempt-1)``, capped."""
    return min(cap, base * 2 ** max(0, attempt - 1))


class CircuitBreaker:
    """closed → (``failure_threshold`` consecutive failures) → open → (``reset_timeout``) →
    half-open → one trial: success closes, failure re-opens."""

    CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"

    def __init__(self, failure_threshold: int = BREAKER_FAILURES, reset_timeout: float = BREAKER_RESET_S,
                 clock: Callable[[], float] = time.monotonic):
        self.failure_threshold, self.reset_timeout, self.clock = failure_threshold, reset_timeout, clock
        self._state, self._failures, self._opened_at = self.CLOSED, 0, 0.0
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        with self._lock:
            if self._state == self.OPEN and self.clock() - self._opened_at >= self.reset_timeout:
                self._state = self.HALF_OPEN
            return self._state

    def before_call(self) -> None:
        """Raise :class:`CircuitOpen` while the circuit is open."""
        if self.state == self.OPEN:
            wait = self.reset_timeout - (self.clock() - self._opened_at)
            raise CircuitOpen(f"feed circuit is open after {self._failures} failures; retry in {wait:.1f}s")

    def record_success(self) -> None:
        with self._lock:
            self._state, self._failures = self.CLOSED, 0

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._state == self.HALF_OPEN or self._failures >= self.failure_threshold:
                self._state, self._opened_at = self.OPEN, self.clock()


class _Status:
    """Mutable counters and state behind :class:`~tickdeck.core.events.FeedStatusChanged` (one per client)."""

    def __init__(self, host: str, port: int, kind: str, breaker: CircuitBreaker, bus=None):
        self.host, self.port, self.kind, self.breaker, self.bus = host, port, kind, breaker, bus
        self.connected = False
        self.reconnecting = False  # a failure happened and the client is retrying
        self.lines = self.ticks = self.bad_lines = self.errors = self.reconnects = 0
        self.latency_ms: float | None = None
        self.last_error = ""

    def state(self) -> str:
        if self.breaker.state == CircuitBreaker.OPEN:
            return "breaker_open"
        if self.connected:
            return "connected"
        return "reconnecting" if self.reconnecting else "disconnected"

    def snapshot(self) -> FeedStatusChanged:
        return FeedStatusChanged(self.host, self.port, self.kind, self.state(), self.breaker.state, self.lines,
                                 self.ticks, self.bad_lines, self.errors, self.reconnects, self.latency_ms,
                                 self.last_error, time.time())

    def publish(self) -> FeedStatusChanged:
        s = self.snapshot()
        if self.bus is not None:
            self.bus.publish(s)
        return s


def _connect(host: str, port: int, timeout: float) -> socket.socket:
    try:
        sock = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S)
    except OSError as e:
        raise FeedDisconnected(f"cannot connect to IQFeed at {host}:{port}: {e}") from None
    sock.settimeout(timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _readline(sock: socket.socket, where: str) -> bytes:
    buf = bytearray()
    while not buf.endswith(b"\n"):
        try:
            b = sock.recv(1)
        except socket.timeout:
            raise FeedTimeout(f"{where}: no answer") from None
        if not b:
            raise FeedDisconnected(f"{where}: connection closed")
        buf += b
    return bytes(buf)


class HistoryClient:
    """Requests on the lookup/history port (one socket, one request at a time).

    Raises (from the fetch methods)
    ------
    NoData, InvalidFeedSymbol
        The server answered with that error (not retried).
    MalformedReply
        The reply is complete but not one line of it is a usable tick (not retried; its
        ``bad`` lists the lines). Single bad lines are not errors: they come back in
        :attr:`ParsedTicks.bad`.
    FeedTimeout, FeedDisconnected
        Every attempt stalled or was cut off.
    CircuitOpen
        The breaker is open.
    """

    def __init__(self, host: str, port: int, *, timeout: float = READ_TIMEOUT_S, max_attempts: int = MAX_ATTEMPTS,
                 backoff: float = BACKOFF_BASE_S, breaker: CircuitBreaker | None = None, bus=None,
                 sleep: Callable[[float], None] = time.sleep):
        self.host, self.port, self.timeout = host, port, timeout
        self.max_attempts, self.backoff, self.sleep = max_attempts, backoff, sleep
        self.breaker = breaker or CircuitBreaker()
        self._status = _Status(host, port, "history", self.breaker, bus)
        self._sock: socket.socket | None = None
        self._ids = itertools.count(1)

    def __enter__(self) -> "HistoryClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def status(self) -> FeedStatusChanged:
        return self._status.snapshot()

    def close(self) -> None:
        """Close the connection; a client that was connected publishes its ``disconnected`` state."""
        was = self._status.connected
        self._drop()
        if was:
            self._status.reconnecting = False
            self._status.publish()

    def _drop(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None
                self._status.connected = False

    def _ensure(self) -> socket.socket:
        if self._sock is None:
            sock = _connect(self.host, self.port, self.timeout)
            try:
                sock.sendall(f"S,SET PROTOCOL,{PROTOCOL}\r\n".encode())
                reply = _readline(sock, f"{self.host}:{self.port} protocol handshake")
            except BaseException:
                sock.close()
                raise
            if not reply.startswith(f"S,CURRENT PROTOCOL,{PROTOCOL}".encode()):
                sock.close()
                raise FeedError(f"{self.host}:{self.port} refused protocol {PROTOCOL}: {reply.strip()!r}")
            self._sock = sock
            self._status.connected, self._status.reconnecting = True, False
        return self._sock

    # -- one request ----------------------------------------------------------------------------
    def _receive(self, command: str, rid: str, sink: Callable[[memoryview], None]) -> None:
        """Send ``command`` and hand the reply to ``sink`` in blocks of complete lines.

        Blocks are fresh buffers (never reused), so ``sink`` may keep them or use them from
        another thread. Returns once ``!ENDMSG!`` arrived (not passed to ``sink``).
        """
        sock = self._ensure()
        where = f"{command.split(',', 2)[0]} {command.split(',', 2)[1]} from {self.host}:{self.port}"
        term, err = f"{rid},!ENDMSG!,\r\n".encode(), f"{rid},E,".encode()
        t0 = time.perf_counter()
        sock.sendall(command.encode() + b"\r\n")
        blk = bytearray(BLOCK_BYTES)
        view = memoryview(blk)
        filled = received = 0
        first = True
        while True:
            if filled == len(blk):  # full: hand over its complete lines, keep the partial last one
                cut = blk.rfind(b"\n", 0, filled) + 1
                if cut == 0:  # one line longer than a block: grow
                    view.release()
                    blk.extend(bytes(len(blk)))
                else:
                    nxt = bytearray(max(BLOCK_BYTES, 2 * (filled - cut)))
                    nxt[:filled - cut] = view[cut:filled]
                    sink(view[:cut])
                    blk, filled = nxt, filled - cut
                view = memoryview(blk)
            try:
                n = sock.recv_into(view[filled:])
            except socket.timeout:
                raise FeedTimeout(f"{where}: server stalled (nothing for {self.timeout:g}s, "
                                  f"{received + filled:,} bytes received; reply discarded)") from None
            except OSError as e:
                raise FeedDisconnected(f"{where}: {e}") from None
            if n == 0:
                raise FeedDisconnected(f"{where}: connection closed after {received + filled:,} bytes "
                                       "(reply discarded)")
            if first:
                self._status.latency_ms = (time.perf_counter() - t0) * 1000
                first = False
            filled += n
            received += n
            if filled >= len(term) and view[filled - len(term):filled] == term:
                sink(view[:filled - len(term)])
                return
            if received == filled and filled < ERROR_REPLY_MAX and blk.startswith(err) \
                    and blk[:filled].endswith(b"\r\n") and blk.count(b"\n", 0, filled) == 1:
                text = bytes(blk[len(err):filled]).decode("ascii", "replace").strip().rstrip(",")
                sym = command.split(",")[1]
                if "NO_DATA" in text:
                    raise NoData(f"no ticks for {sym} ({command.split(',')[0]}): {text}")
                if "Invalid symbol" in text:
                    raise InvalidFeedSymbol(f"IQFeed does not know symbol {sym!r}: {text}")
                raise FeedError(f"{where}: server error {text!r}")

    def _request_once(self, command: str, rid: str) -> bytes:
        """The raw reply body of one request (without ``!ENDMSG!``), no parsing."""
        parts: list = []
        self._receive(command, rid, parts.append)
        return b"".join(parts)

    def _request_parsed(self, command: str, rid: str) -> ParsedTicks:
        """One request, parsed while it arrives: each block goes to a parser thread as soon as it
        is complete, so receiving and parsing overlap; the result exists only after ``!ENDMSG!``."""
        parser = LHStreamParser(rid)
        with ThreadPoolExecutor(1, thread_name_prefix="iqfeed-parse") as pool:
            futures = []
            try:
                self._receive(command, rid, lambda block: futures.append(pool.submit(parser.feed, block)))
            finally:
                for f in futures:
                    f.result() if not f.cancel() else None
        return ip.finish_stream(parser)

    def request(self, command: str, rid: str) -> ParsedTicks:
        """Send one history command (its RequestID field must be ``rid``) with retries; parse it."""
        last: Exception | None = None
        for attempt in range(1, self.max_attempts + 1):
            self.breaker.before_call()
            try:
                parsed = self._request_parsed(command, rid)
            except (NoData, InvalidFeedSymbol):
                self.breaker.record_success()  # the server answered properly
                self._status.publish()
                raise
            except ip.MalformedReply as e:  # a complete reply without one usable line: not retried
                self.breaker.record_success()
                self._status.lines += len(e.bad)
                self._status.bad_lines += len(e.bad)
                self._status.publish()
                raise
            except (FeedTimeout, FeedDisconnected) as e:
                last = e
                self._drop()
                self.breaker.record_failure()
                self._status.errors += 1
                self._status.last_error = str(e)
                self._status.reconnecting = attempt < self.max_attempts
                self._status.publish()
                if attempt < self.max_attempts:
                    self._status.reconnects += 1
                    self.sleep(backoff_delay(attempt, self.backoff))
                continue
            self.breaker.record_success()
            st = self._status
            st.lines += parsed.lines
            st.ticks += parsed.ticks
            st.bad_lines += len(parsed.bad)
            st.publish()
            return parsed
        raise last  # type: ignore[misc]

    def _rid(self) -> str:
        return f"T{next(self._ids):06d}"

    # -- commands -------------------------------------------------------------------------------
    def ticks_between(self, symbol: str, start: dt.datetime | None, end: dt.datetime | None, *,
                      max_points: int | None = None, begin_filter: str = "", end_filter: str = "",
                      newest_first: bool = False, per_send: int | None = None) -> ParsedTicks:
        """``HTT``: ticks with ``start <= time <= end`` (ET wall clock; None = open)."""
        rid = self._rid()

        def fmt(t) -> str:
            return "" if t is None else t.strftime("%Y%m%d %H%M%S")

        cmd = (f"HTT,{normalize_ticker(symbol)},{fmt(start)},{fmt(end)},{max_points or ''},{begin_filter},"
               f"{end_filter},{0 if newest_first else 1},{rid},{per_send or ''}")
        return self.request(cmd, rid)

    def fetch_day(self, symbol: str, day) -> ParsedTicks:
        """Every tick of one trading day, oldest first."""
        d = as_date(day)
        start = dt.datetime.combine(d, dt.time(0, 0, 0))
        return self.ticks_between(symbol, start, start.replace(hour=23, minute=59, second=59))

    def ticks_days(self, symbol: str, days: int, *, max_points: int | None = None, begin_filter: str = "",
                   end_filter: str = "", newest_first: bool = False) -> ParsedTicks:
        """``HTD``: the last ``days`` trading days."""
        rid = self._rid()
        cmd = (f"HTD,{normalize_ticker(symbol)},{days},{max_points or ''},{begin_filter},{end_filter},"
               f"{0 if newest_first else 1},{rid},")
        return self.request(cmd, rid)

    def last_ticks(self, symbol: str, n: int, *, newest_first: bool = False) -> ParsedTicks:
        """``HTX``: the newest ``n`` ticks."""
        rid = self._rid()
        return self.request(f"HTX,{normalize_ticker(symbol)},{n},{0 if newest_first else 1},{rid},", rid)


@dataclass(frozen=True)
class L1Batch:
    """What the Level 1 watcher received in one batch window."""

    parsed: ParsedLevel1
    server_time: dt.datetime | None  # latest ``T`` heartbeat (ET wall clock)
    unknown: tuple  # symbols answered with ``n,SYM``
    reconnected: bool  # a reconnect happened since the previous batch (backfill the gap)
    received_at: float  # time.perf_counter() when the batch's first bytes arrived
    line_received: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0))  # per Q/P line, perf_counter


class Level1Client:
    """Watch symbols on the Level 1 port and yield parsed trade batches."""

    def __init__(self, host: str, port: int, *, timeout: float = READ_TIMEOUT_S, backoff: float = BACKOFF_BASE_S,
                 breaker: CircuitBreaker | None = None, bus=None, sleep: Callable[[float], None] = time.sleep,
                 max_reconnects: int | None = None):
        self.host, self.port, self.timeout, self.backoff, self.sleep = host, port, timeout, backoff, sleep
        # None: reconnect until stopped; N: after N failed attempts :meth:`batches` raises FeedDisconnected
        # (a failover link then switches to the other endpoint)
        self.max_reconnects = max_reconnects
        self.breaker = breaker or CircuitBreaker()
        self._status = _Status(host, port, "level1", self.breaker, bus)
        self._sock: socket.socket | None = None
        self.symbols: tuple[str, ...] = ()

    def status(self) -> FeedStatusChanged:
        return self._status.snapshot()

    def close(self) -> None:
        """Close the connection; a client that was connected publishes its ``disconnected`` state."""
        was = self._status.connected
        self._drop()
        if was:
            self._status.reconnecting = False
            self._status.publish()

    def _drop(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
            self._status.connected = False

    def connect(self, symbols) -> None:
        """Connect, set the protocol and update fields, and watch ``symbols``."""
        self.symbols = tuple(normalize_ticker(s) for s in symbols)
        self.breaker.before_call()
        sock = _connect(self.host, self.port, 0.2)
        msg = [f"S,SET PROTOCOL,{PROTOCOL}", "S,SELECT UPDATE FIELDS," + ",".join(l1p.L1_COLLECT_FIELDS)]
        msg += [f"w{s}" for s in self.symbols]
        sock.sendall(("\r\n".join(msg) + "\r\n").encode())
        self._sock = sock
        self._status.connected, self._status.reconnecting = True, False

    def watch(self, symbols) -> list[str]:
        """Also watch ``symbols`` on the open connection (and after every reconnect); returns
        the ones that were not watched yet. Call it from the thread reading :meth:`batches`."""
        new = [s for s in dict.fromkeys(normalize_ticker(x) for x in symbols) if s not in self.symbols]
        self.symbols += tuple(new)
        self._send([f"w{s}" for s in new])
        return new

    def unwatch(self, symbols) -> list[str]:
        """Stop watching ``symbols`` (``r`` commands); returns the ones that were watched."""
        gone = [s for s in dict.fromkeys(normalize_ticker(x) for x in symbols) if s in self.symbols]
        self.symbols = tuple(s for s in self.symbols if s not in gone)
        self._send([f"r{s}" for s in gone])
        return gone

    def _send(self, lines: list[str]) -> None:
        if not lines or self._sock is None:
            return  # not connected: the next connect watches self.symbols
        try:
            self._sock.sendall(("\r\n".join(lines) + "\r\n").encode())
        except OSError as e:  # the next read sees the broken connection and reconnects with self.symbols
            self._status.last_error = f"level 1 {self.host}:{self.port}: {e}"

    def _reconnect(self, stop: threading.Event) -> None:
        self._drop()
        self._status.reconnecting = True
        self._status.publish()
        attempt = 0
        while not stop.is_set():
            attempt += 1
            self._status.reconnects += 1
            try:
                self.connect(self.symbols)
                self.breaker.record_success()
                self._status.publish()
                return
            except (FeedDisconnected, CircuitOpen) as e:
                self.breaker.record_failure() if isinstance(e, FeedDisconnected) else None
                self._status.errors += 1
                self._status.last_error = str(e)
                self._status.publish()
                if self.max_reconnects is not None and attempt >= self.max_reconnects:
                    raise FeedDisconnected(f"level 1 {self.host}:{self.port}: gave up after {attempt} "
                                           f"reconnect attempt(s): {e}") from None
                stop.wait(backoff_delay(attempt, self.backoff))

    def batches(self, *, batch_seconds: float, stop_event: threading.Event,
                flush_after: float = FLUSH_AFTER_S) -> Iterator[L1Batch]:
        """Yield an :class:`L1Batch` once the oldest buffered bytes are ``flush_after`` seconds
        old (so a trade waits at most that long), and at least every ``batch_seconds`` even when
        nothing arrived, until ``stop_event`` is set.

        A server silent for the read timeout (no ``T`` heartbeat) counts as stalled: the
        client reconnects and the next batch is flagged ``reconnected``.

        Raises
        ------
        FeedDisconnected
            Only with ``max_reconnects``: that many reconnect attempts failed in a row.
        """
        pending = b""
        server_time: dt.datetime | None = None
        reconnected = False
        last_rx = time.monotonic()
        wait = min(flush_after, batch_seconds)
        while not stop_event.is_set():
            t_batch = time.perf_counter()
            deadline = t_batch + batch_seconds
            data, times, t_first, unknown = [], [], None, []
            while not stop_event.is_set():
                now = time.perf_counter()
                due = deadline if t_first is None else min(deadline, t_first + wait)
                if now >= due:
                    break
                try:
                    self._sock.settimeout(min(L1_POLL_S, max(due - now, 0.001)))
                    b = self._sock.recv(L1_RECV_BYTES)
                except socket.timeout:
                    if time.monotonic() - last_rx > self.timeout:
                        self._fail(f"no data for {self.timeout:g}s (stalled)", stop_event)
                        reconnected, pending, data, times = True, b"", [], []
                    continue
                except OSError as e:
                    b = b""
                    self._status.last_error = str(e)
                if not b:
                    self._fail("connection closed", stop_event)
                    reconnected, pending, data, times = True, b"", [], []
                    continue
                last_rx = time.monotonic()
                t_rx = time.perf_counter()
                t_first = t_first or t_rx
                data.append(b)
                times.append(t_rx)
            buf = pending + b"".join(data)
            cut = buf.rfind(b"\n") + 1
            # receive time of each byte's chunk: a line counts as received when its last byte came
            ends = len(pending) + np.cumsum([len(b) for b in data], dtype=np.int64)
            buf, pending = buf[:cut], buf[cut:]
            parsed, server_time, unknown, line_ends = self._digest(buf, server_time)
            received = np.asarray(times, dtype=np.float64)[np.minimum(
                np.searchsorted(ends, line_ends, side="right"), max(len(times) - 1, 0))] if times else \
                np.full(line_ends.size, t_batch)
            st = self._status
            st.ticks += parsed.raw["tick_id"].size
            st.bad_lines += len(parsed.bad)
            if t_first is not None:
                st.latency_ms = (time.perf_counter() - t_first) * 1000
            yield L1Batch(parsed, server_time, tuple(unknown), reconnected, t_first or time.perf_counter(), received)
            reconnected = False
            st.publish()

    def _fail(self, why: str, stop: threading.Event) -> None:
        self._status.errors += 1
        self._status.last_error = f"level 1 {self.host}:{self.port}: {why}"
        self.breaker.record_failure()
        self._reconnect(stop)

    def _digest(self, buf: bytes, server_time):
        """Pick ``Q``/``P`` lines out of ``buf`` (vectorised) and parse them; read T/n lines."""
        if not buf:
            return l1p.parse_level1(b""), server_time, [], np.empty(0, dtype=np.int64)
        off = ip.line_offsets(buf)
        if off[-1] != len(buf):
            off = np.append(off, len(buf))
        starts = off[:-1]
        self._status.lines += starts.size
        arr = np.frombuffer(buf, dtype=np.uint8)
        kind = arr[starts]
        trades = np.flatnonzero((kind == ord("Q")) | (kind == ord("P")))
        parsed = l1p.parse_level1(ip.gather_lines(buf, off, trades))
        unknown = []
        for i in np.flatnonzero(kind == ord("n")):  # rare: one per unknown watched symbol
            unknown.append(buf[off[i] + 2:off[i + 1]].decode("ascii", "replace").strip())
        t_lines = np.flatnonzero(kind == ord("T"))
        if t_lines.size:
            i = t_lines[-1]
            text = buf[off[i] + 2:off[i + 1]].decode("ascii", "replace").strip()
            try:
                server_time = dt.datetime.strptime(text, "%Y%m%d %H:%M:%S")
            except ValueError:
                self._status.bad_lines += 1
        return parsed, server_time, unknown, off[trades + 1] - 1


@dataclass(frozen=True)
class ProbeResult:
    """What :func:`probe` saw of an endpoint: ``healthy`` and, when not, ``why``."""

    healthy: bool
    why: str = ""
    heartbeat: bool = False  # a Level 1 ``T`` line arrived
    trades: int = 0  # Level 1 ``Q`` lines that arrived


def probe(host: str, port_history: int, port_l1: int, symbols=(), *, timeout: float = 2.0,
          need_trade: bool = False) -> ProbeResult:
    """Is an endpoint serving? Both ports answer the protocol handshake and, within ``timeout``
    seconds, the Level 1 port sends a ``T`` heartbeat (and, with ``need_trade``, a ``Q`` trade
    line of one of the ``symbols`` it is asked to watch). Short-lived sockets, closed again; never raises."""
    deadline = time.monotonic() + timeout
    try:
        with _connect(host, port_history, timeout) as sock:
            sock.sendall(f"S,SET PROTOCOL,{PROTOCOL}\r\n".encode())
            if not _readline(sock, f"{host}:{port_history} probe").startswith(b"S,CURRENT PROTOCOL"):
                return ProbeResult(False, f"{host}:{port_history} did not answer the protocol handshake")
        with _connect(host, port_l1, timeout) as sock:
            lines = [f"S,SET PROTOCOL,{PROTOCOL}"] + [f"w{normalize_ticker(s)}" for s in list(symbols)[:5]]
            sock.sendall(("\r\n".join(lines) + "\r\n").encode())
            buf, heartbeat, trades = b"", False, 0
            while time.monotonic() < deadline and not (heartbeat and (trades or not need_trade)):
                sock.settimeout(max(deadline - time.monotonic(), 0.01))
                try:
                    chunk = sock.recv(L1_RECV_BYTES)
                except socket.timeout:
                    break
                if not chunk:
                    return ProbeResult(False, f"{host}:{port_l1} closed the probe connection", heartbeat, trades)
                buf += chunk
                for line in buf.split(b"\n")[:-1]:
                    heartbeat |= line.startswith(b"T,")
                    trades += line.startswith(b"Q,")
                buf = buf[buf.rfind(b"\n") + 1:]
    except (FeedError, OSError) as e:
        return ProbeResult(False, str(e))
    if not heartbeat:
        return ProbeResult(False, f"{host}:{port_l1} sent no heartbeat within {timeout:g} s", heartbeat, trades)
    if need_trade and not trades:
        return ProbeResult(False, f"{host}:{port_l1} sent no trade within {timeout:g} s", heartbeat, trades)
    return ProbeResult(True, "", heartbeat, trades)
