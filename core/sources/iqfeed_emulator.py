"""A protocol-faithful IQFeed (IQConnect) emulator over real TCP sockets, backed by the synthetic market.

Lookup/history port (default 9100): ``S,SET PROTOCOL,6.2``, ``HTX``, ``HTD`` and ``HTT`` with
filter times, max datapoints, direction, request ids and datapoints-per-send; replies end with
``[RequestID,]!ENDMSG!,``; errors are ``E,!NO_DATA!,`` (no ticks: weekends, holidays, future)
and ``E,Invalid symbol.,`` (outside ``symbols`` when a universe is given). Ticks come from
:func:`core.sources.synthetic.generate_day` (same seed, same ticks); each symbol-day is
serialised once, vectorised, and cached as bytes with a line-offset index, so a reply is
byte slicing plus one ``bytes.replace`` for the request id.

Level 1 port (default 5009): ``w``/``r`` watch, ``S,SELECT UPDATE FIELDS``, ``P`` summary on
watch, ``Q`` per trade paced in emulated time (``now`` + wall time × ``speed``), ``T`` once per
emulated second, ``n,SYM`` for unknown symbols, and every DTN statistic symbol of the indicator catalog
(:data:`STAT_SYMBOLS`: NYSE and NASDAQ breadth, equity/index/total option volumes), computed per
listing exchange from the emulator's own universe (:meth:`IQFeedEmulator.statistics`; the option
volumes are proxies derived from the equity tape). Statistic updates go out once per emulated second.

The emulated clock also bounds history: ticks after ``now`` do not exist yet.
Fault switches (:class:`EmulatorFaults`) drop connections, stall, corrupt lines and repeat or
swap ticks so the client's error handling is tested over the wire.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tickdeck.core.calendar import MarketCalendar, get_calendar
from tickdeck.core.errors import InvalidSymbol, TickdeckError
from ..indicators.catalog import (EXCHANGES, INDEX_PRODUCTS, INDICATORS, STATISTIC_SYMBOLS, is_statistic_symbol,
                                    listing_exchange)
from tickdeck.core.naming import normalize_ticker
from tickdeck.core.sources import iqfeed_l1 as l1p
from tickdeck.core.sources import iqfeed_parse as ip
from tickdeck.core.sources.synthetic import KNOWN_PRICES, generate_day

log = logging.getLogger(__name__)

PROTOCOL = "6.2"
# Serialised symbol-days kept in memory, by size: a 2,000,000-tick day is ~300 MB with its
# columns, a 60,000-tick day ~8 MB, so a 50-symbol live universe stays cached instead of being
# regenerated on every Level 1 pacing step.
CACHE_BYTES = 1 << 30
SEND_CHUNK_LINES = 50_000  # lines per write when the request gives no DatapointsPerSend
LOOKBACK_TRADING_DAYS = 30  # HTX walks back at most this far; HTT without a begin date too
L1_LOOP_S = 0.05  # Level 1 pacing period: trades go out within 50 ms of their emulated time
DEFAULT_UNIVERSE = tuple(KNOWN_PRICES)  # statistics universe when ``symbols`` is not restricted
# Every DTN statistic of the catalog, served computed from the universe (see IQFeedEmulator.statistics).
STAT_SYMBOLS = {sym: INDICATORS[name].meaning for sym, name in STATISTIC_SYMBOLS.items()}
_STAT_OF = {name: sym for sym, name in STATISTIC_SYMBOLS.items()}  # indicator name -> DTN symbol
_UNDEFINED_WHEN_CLOSED = tuple(_STAT_OF[f"TRIN.{ex}"] for ex in EXCHANGES)


# How ``malformed_every`` corrupts a line: the field it touches and what it writes there.
MALFORMED_KINDS = {
    "price": "a letter after the price (``190.25x``)",
    "nonutf8": "a byte that is not UTF-8 after the price (``190.25\\xff``)",
    "int64-overflow": "a 20-digit trade size (above int64)",
    "zero-price": "a trade price of 0",
    "bad-time": "an impossible time of day (``99:99:99.999999``)",
    "bad-date": "an impossible date (the 30th of February)",
}


@dataclass(frozen=True)
class EmulatorFaults:
    """Fault switches; zero disables each one."""

    drop_every: float = 0.0  # abort every connection this many seconds after it opens
    drop_after_lines: int = 0  # abort a history reply once this many tick lines were sent
    drop_times: int = 1  # how many replies ``drop_after_lines`` hits (0 = every one)
    stall_after_lines: int = 0  # stop sending a history reply after this many lines ...
    stall_seconds: float = 3600.0  # ... for this long
    stall_times: int = 1  # how many replies stall (0 = every one)
    malformed_every: int = 0  # corrupt every Nth tick line, the way ``malformed_kind`` says
    malformed_kind: str = "price"  # one of MALFORMED_KINDS
    duplicate_every: int = 0  # send every Nth tick line twice
    out_of_order_every: int = 0  # swap every Nth tick line with the next one
    l1_silent: bool = False  # Level 1 connections stay open but send nothing (a hung feed: no trades, no heartbeat)

    def __post_init__(self) -> None:
        if self.malformed_kind not in MALFORMED_KINDS:
            raise ValueError(f"unknown malformed kind {self.malformed_kind!r}; choose one of "
                             f"{', '.join(MALFORMED_KINDS)}")


@dataclass
class _Day:
    body: bytes  # "LH,..." lines
    offsets: np.ndarray
    times: np.ndarray  # µs since midnight, ascending
    raw: dict
    extra: dict  # running open/high/low and buy/sell volume for Level 1 and statistics

    @property
    def nbytes(self) -> int:
        return len(self.body) + self.offsets.nbytes + sum(np.asarray(v).nbytes for d in (self.raw, self.extra)
                                                          for v in d.values())


def _parse_now(now) -> pd.Timestamp | None:
    if now is None:
        return None
    ts = pd.Timestamp(now)
    return ts.tz_convert("America/New_York").tz_localize(None) if ts.tzinfo else ts


class IQFeedEmulator:
    """The emulator service. ``await start()`` binds both ports (0 = any free port).

    Parameters
    ----------
    symbols
        The universe; other symbols get ``Invalid symbol.`` / ``n,SYM``. ``None`` = any ticker.
    seed, ticks
        Passed to :func:`generate_day` (``ticks`` overrides regular-session trades per day).
    speed, now
        Emulated clock: starts at ``now`` (naive ET; default the real ET time) and runs ``speed``×.
        :meth:`set_clock` moves it on (a test skips the hours in which it asserts nothing).
    """

    def __init__(self, *, symbols=None, seed: int = 0, speed: float = 1.0, now=None, host: str = "127.0.0.1",
                 port_history: int = 9100, port_l1: int = 5009, faults: EmulatorFaults | None = None,
                 calendar: MarketCalendar | None = None, ticks: int | None = None):
        self.symbols = None if symbols is None else tuple(normalize_ticker(s) for s in symbols)
        self.seed, self.ticks, self.speed = seed, ticks, float(speed)
        self.host, self.port_history, self.port_l1 = host, port_history, port_l1
        self.faults = faults or EmulatorFaults()
        self.calendar = calendar or get_calendar("XNYS")
        # the clock: (emulated time at the anchor or None = the real ET time, monotonic time of the anchor,
        # speed), replaced as one tuple, so a reader on another thread never mixes an old and a new part
        self._anchor = (_parse_now(now), time.monotonic(), self.speed)
        self._cache: collections.OrderedDict = collections.OrderedDict()
        self._cache_lock = threading.Lock()
        self._cache_bytes = 0
        self._servers: list[asyncio.base_events.Server] = []
        self._drops = self._stalls = 0
        self._tasks: set = set()
        self._writers: set = set()  # open client connections: a stop aborts them, as a dying server's OS would
        self.connections = 0

    # -- clock and data -----------------------------------------------------------------------
    def sim_now(self) -> pd.Timestamp:
        """Emulated wall-clock time (naive ET)."""
        now0, mono0, speed = self._anchor
        base = now0 if now0 is not None else pd.Timestamp.now(tz="America/New_York").tz_localize(None)
        return base + pd.Timedelta(seconds=(time.monotonic() - mono0) * speed)

    def set_clock(self, now=None, *, speed: float | None = None) -> pd.Timestamp:
        """Move the emulated clock on to ``now`` (naive ET, or tz-aware; default where it is) and run it
        ``speed``× from there (default unchanged); returns the new emulated time.

        The clock never goes back (a feed would resend trades): a ``now`` it has passed leaves it
        where it is. The Level 1 stream then sends every trade up to the new time at once (as a
        feed catching up) and one ``T`` heartbeat for the new second; history serves up to it.
        """
        at = self.sim_now()
        target = at if now is None else max(_parse_now(now), at)
        self.speed = self.speed if speed is None else float(speed)
        self._anchor = (target, time.monotonic(), self.speed)
        return target

    def known(self, symbol: str) -> bool:
        try:
            sym = normalize_ticker(symbol)
        except InvalidSymbol:
            return False
        if is_statistic_symbol(sym):  # a statistic exists only if the catalog has it (unknown: n,SYM)
            return sym in STAT_SYMBOLS
        return self.symbols is None or sym in self.symbols

    def _day(self, symbol: str, day: dt.date) -> _Day:
        key = (symbol, day)
        with self._cache_lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        raw = generate_day(symbol, day, calendar=self.calendar, seed=self.seed, ticks=self.ticks)
        body = ip.format_ticks(raw)
        last, size = raw["last"], raw["last_sz"]
        extra = {"_open": np.full(last.size, last[0] if last.size else np.nan),
                 "_high": np.maximum.accumulate(last), "_low": np.minimum.accumulate(last),
                 "_buy": np.cumsum(np.where(last >= raw["ask"], size, 0)),
                 "_sell": np.cumsum(np.where(last <= raw["bid"], size, 0))}
        entry = _Day(body, ip.line_offsets(body), raw["time"], raw, extra)
        with self._cache_lock:
            if key in self._cache:  # built meanwhile by another connection
                return self._cache[key]
            self._cache[key] = entry
            self._cache_bytes += entry.nbytes
            while self._cache_bytes > CACHE_BYTES and len(self._cache) > 1:  # least recently used first
                self._cache_bytes -= self._cache.popitem(last=False)[1].nbytes
        return entry

    def day_raw(self, symbol: str, day) -> dict:
        """The source ticks of a whole day (what a full history reply contains)."""
        return self._day(normalize_ticker(symbol), pd.Timestamp(day).date()).raw

    def _available(self, day: dt.date, now: pd.Timestamp, times: np.ndarray) -> int:
        """How many ticks of ``day`` exist at emulated time ``now``."""
        if day < now.date():
            return times.size
        if day > now.date():
            return 0
        now_us = (now - now.normalize()).value // 1000
        return int(np.searchsorted(times, now_us, side="right"))

    def statistics(self, at: pd.Timestamp | None = None) -> dict[str, float | None]:
        """The DTN statistic values at emulated time ``at`` (naive ET; default now), from the universe.

        A plain loop over the universe's symbols, kept simple on purpose: it is the independent
        reference :mod:`core.indicators.breadth` is tested against. Each symbol counts under its
        listing exchange (:func:`core.indicators.catalog.listing_exchange`), using its ticks up to
        ``at`` (inclusive): TICK adds the sign of its last trade against the trade before; it
        advances / declines / is unchanged when its last trade is above / below / equal to the
        day's first trade, with its day's volume going to advancing / declining volume; TRIN is
        ``(adv / dec) / (adv volume / dec volume)`` (None when a term is zero); it is at a new
        high / low when its last trade is at the day's running high / low. Option volumes are
        *proxies from the equity tape*: calls = shares traded at or above the ask / 100, puts =
        at or below the bid / 100, per symbol; index products (:data:`INDEX_PRODUCTS`) count as
        index options, the others as equity options, total = both.
        """
        at = at if at is not None else self.sim_now()
        day = at.date()
        out: dict[str, float | None] = {k: 0.0 for k in STAT_SYMBOLS}
        if not self.calendar.is_trading_day(day):
            for k in _UNDEFINED_WHEN_CLOSED:
                out[k] = None
            return out
        per = {ex: collections.Counter() for ex in EXCHANGES}
        calls = {"EQUITY": 0.0, "INDEX": 0.0}
        puts = {"EQUITY": 0.0, "INDEX": 0.0}
        for sym in (s for s in (self.symbols or DEFAULT_UNIVERSE) if s not in STAT_SYMBOLS):
            e = self._day(sym, day)
            j = self._available(day, at, e.times)
            if j == 0:
                continue
            c = per[listing_exchange(sym)]
            last = e.raw["last"]
            vol = float(e.raw["tot_vlm"][j - 1])
            c["ISSUES"] += 1
            c["VOLUME"] += vol
            if j > 1:
                c["TICK"] += float(np.sign(last[j - 1] - last[j - 2]))
            if last[j - 1] > last[0]:
                c["ADV"] += 1
                c["ADV_VOL"] += vol
            elif last[j - 1] < last[0]:
                c["DEC"] += 1
                c["DEC_VOL"] += vol
            else:
                c["UNCH"] += 1
            c["NEW_HIGHS"] += float(last[j - 1] >= e.extra["_high"][j - 1])
            c["NEW_LOWS"] += float(last[j - 1] <= e.extra["_low"][j - 1])
            cls = "INDEX" if sym in INDEX_PRODUCTS else "EQUITY"
            calls[cls] += float(e.extra["_buy"][j - 1] // 100)
            puts[cls] += float(e.extra["_sell"][j - 1] // 100)
        for ex, c in per.items():
            for kind in ("TICK", "ADV", "DEC", "UNCH", "ADV_VOL", "DEC_VOL", "NEW_HIGHS", "NEW_LOWS", "ISSUES",
                         "VOLUME"):
                out[_STAT_OF[f"{kind}.{ex}"]] = float(c[kind])
            adv, dec, adv_v, dec_v = c["ADV"], c["DEC"], c["ADV_VOL"], c["DEC_VOL"]
            out[_STAT_OF[f"TRIN.{ex}"]] = (adv / dec) / (adv_v / dec_v) if adv and dec and adv_v and dec_v else None
        for cls in ("EQUITY", "INDEX"):
            out[_STAT_OF[f"CALL_VOL.{cls}"]] = calls[cls]
            out[_STAT_OF[f"PUT_VOL.{cls}"]] = puts[cls]
        out[_STAT_OF["CALL_VOL.TOTAL"]] = calls["EQUITY"] + calls["INDEX"]
        out[_STAT_OF["PUT_VOL.TOTAL"]] = puts["EQUITY"] + puts["INDEX"]
        return out

    # -- server lifecycle -----------------------------------------------------------------------
    async def start(self) -> "IQFeedEmulator":
        h = await asyncio.start_server(self._history_conn, self.host, self.port_history, limit=1 << 20)
        l1 = await asyncio.start_server(self._l1_conn, self.host, self.port_l1, limit=1 << 20)
        self._servers = [h, l1]
        self.port_history = h.sockets[0].getsockname()[1]
        self.port_l1 = l1.sockets[0].getsockname()[1]
        self._anchor = (self._anchor[0], time.monotonic(), self._anchor[2])
        return self

    async def stop(self) -> None:
        for s in self._servers:
            s.close()
        for w in list(self._writers):  # every client sees its connection end now, whatever its handler is doing
            w.transport.abort()
        tasks = [t for t in self._tasks if not t.done()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for s in self._servers:
            try:
                await asyncio.wait_for(s.wait_closed(), 1.0)
            except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - closing anyway
                pass
        self._servers = []

    async def serve_forever(self) -> None:
        """Serve until cancelled (starts the servers when not started yet)."""
        if not self._servers:
            await self.start()
        await asyncio.gather(*(s.serve_forever() for s in self._servers))

    def _arm_drop(self, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        self._tasks.add(task)
        self._writers.add(writer)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda _t: self._writers.discard(writer))
        if self.faults.drop_every > 0:
            asyncio.get_running_loop().call_later(self.faults.drop_every, writer.transport.abort)

    # -- history port -------------------------------------------------------------------------
    async def _history_conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._arm_drop(writer)
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                text = line.decode("ascii", "replace").strip()
                if not text:
                    continue
                if text.startswith("S,SET PROTOCOL"):
                    writer.write(f"S,CURRENT PROTOCOL,{PROTOCOL}\r\n".encode())
                elif text.split(",", 1)[0] in ("HTX", "HTD", "HTT"):
                    if await self._history_request(text, writer) == "dropped":
                        return
                else:
                    writer.write(b"E,!SYNTAX_ERROR!,\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # client went away, or the server is stopping: end this connection quietly
        finally:
            writer.close()

    def _segments(self, cmd: str, f: list[str], now: pd.Timestamp):
        """(day entry, lo, hi) index ranges a request selects, oldest first; raises ValueError."""
        sym = normalize_ticker(f[1])
        if cmd == "HTX":
            days = self.calendar.previous_trading_days(now.date(), LOOKBACK_TRADING_DAYS)
            bf = ef = None
        elif cmd == "HTD":
            n = int(f[2]) if f[2] else 1
            days = self.calendar.previous_trading_days(now.date(), max(1, n))
            bf, ef = f[4], f[5]
        else:
            begin = pd.Timestamp(dt.datetime.strptime(f[2], "%Y%m%d %H%M%S")) if f[2] else None
            end = pd.Timestamp(dt.datetime.strptime(f[3], "%Y%m%d %H%M%S")) if f[3] else now
            start_day = begin.date() if begin is not None else \
                self.calendar.previous_trading_days(end.date(), LOOKBACK_TRADING_DAYS)[0]
            days = self.calendar.trading_days(start_day, min(end, now).date())
            bf, ef = f[5], f[6]
        segs = []
        for day in days:
            e = self._day(sym, day)
            lo, hi = 0, self._available(day, now, e.times)
            if cmd == "HTT":
                if begin is not None and day == begin.date():
                    lo = max(lo, int(np.searchsorted(e.times, _us(begin), "left")))
                if day == end.date():
                    hi = min(hi, int(np.searchsorted(e.times, _us(end) + 999_999, "right")))
            if bf:
                lo = max(lo, int(np.searchsorted(e.times, _hhmmss_us(bf), "left")))
            if ef:
                hi = min(hi, int(np.searchsorted(e.times, _hhmmss_us(ef) + 999_999, "right")))
            if hi > lo:
                segs.append([e, lo, hi])
        return segs

    async def _history_request(self, text: str, writer: asyncio.StreamWriter) -> str:
        f = text.split(",")
        cmd = f[0]
        want = {"HTX": 6, "HTD": 9, "HTT": 10}[cmd]
        f += [""] * (want - len(f))
        i_max, i_dir, i_rid, i_dps = {"HTX": (2, 3, 4, 5), "HTD": (3, 6, 7, 8), "HTT": (4, 7, 8, 9)}[cmd]
        rid = f[i_rid]
        pre = f"{rid}," if rid else ""
        if not self.known(f[1]):
            writer.write(f"{pre}E,Invalid symbol.,\r\n".encode())
            return "error"
        try:
            segs = [] if normalize_ticker(f[1]) in STAT_SYMBOLS else self._segments(cmd, f, self.sim_now())
            max_n = int(f[i_max]) if f[i_max] else 0
            direction = int(f[i_dir]) if f[i_dir] else 0
            dps = int(f[i_dps]) if f[i_dps] else 0
        except (ValueError, TickdeckError) as e:
            writer.write(f"{pre}E,!SYNTAX_ERROR! {e},\r\n".encode())
            return "error"
        if max_n:  # keep the newest ``max_n`` datapoints
            excess = sum(hi - lo for _, lo, hi in segs) - max_n
            while excess > 0 and segs:
                e, lo, hi = segs[0]
                take = min(excess, hi - lo)
                segs[0][1] += take
                excess -= take
                if segs[0][1] >= hi:
                    segs.pop(0)
        if not segs:
            writer.write(f"{pre}E,!NO_DATA!,\r\n".encode())
            return "error"
        result = await self._send_ticks(writer, segs, rid, newest_first=direction == 0,
                                        chunk=dps or SEND_CHUNK_LINES)
        if result == "ok":
            writer.write(f"{pre}!ENDMSG!,\r\n".encode())
        return result

    async def _send_ticks(self, writer, segs, rid: str, *, newest_first: bool, chunk: int) -> str:
        flt = self.faults
        prefix = f"{rid},LH,".encode() if rid else b""
        sent = 0
        stalled = False
        for e, lo, hi in (reversed(segs) if newest_first else segs):
            starts = range(hi, lo, -chunk) if newest_first else range(lo, hi, chunk)
            for a in starts:
                idx = np.arange(max(lo, a - chunk), a)[::-1] if newest_first else np.arange(a, min(hi, a + chunk))
                data = self._render(e, idx, sent)
                if prefix:
                    data = data.replace(b"LH,", prefix)
                writer.write(data)
                await writer.drain()
                sent += idx.size
                if flt.drop_after_lines and sent >= flt.drop_after_lines and \
                        (flt.drop_times == 0 or self._drops < flt.drop_times):
                    self._drops += 1
                    writer.transport.abort()
                    return "dropped"
                if flt.stall_after_lines and not stalled and sent >= flt.stall_after_lines and \
                        (flt.stall_times == 0 or self._stalls < flt.stall_times):
                    self._stalls += 1
                    stalled = True
                    await asyncio.sleep(flt.stall_seconds)
        return "ok"

    def _render(self, e: _Day, idx: np.ndarray, g0: int, layout: dict | None = None) -> bytes:
        """Lines ``idx`` of a cached day with the line-level faults applied."""
        flt = self.faults
        g = g0 + np.arange(idx.size)
        plain = not (flt.duplicate_every or flt.out_of_order_every or flt.malformed_every)
        if plain and (idx.size < 2 or idx[1] > idx[0]):
            return e.body[e.offsets[idx[0]]:e.offsets[idx[-1] + 1]]
        if flt.out_of_order_every:
            n = flt.out_of_order_every
            at = np.flatnonzero((g % n == n - 2)[:-1])
            idx = idx.copy()
            idx[at], idx[at + 1] = idx[at + 1], idx[at].copy()
        if flt.duplicate_every:
            idx = np.repeat(idx, np.where((g + 1) % flt.duplicate_every == 0, 2, 1))
        data = ip.gather_lines(e.body, e.offsets, idx)
        if flt.malformed_every:
            bad = np.flatnonzero((g + 1) % flt.malformed_every == 0)
            if bad.size:
                data = _corrupt(data, bad, flt.malformed_kind, layout or HISTORY_LAYOUT)
        return data

    # -- Level 1 port ---------------------------------------------------------------------------
    async def _l1_conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._arm_drop(writer)
        state = {"fields": l1p.L1_DEFAULT_FIELDS, "watch": {}, "stats": set()}
        writer.write(b"S,SERVER CONNECTED\r\n")
        pacer = asyncio.create_task(self._l1_pace(writer, state))
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                text = line.decode("ascii", "replace").strip()
                if text.startswith("S,SET PROTOCOL"):
                    writer.write(f"S,CURRENT PROTOCOL,{PROTOCOL}\r\n".encode())
                elif text.startswith("S,SELECT UPDATE FIELDS"):
                    names = tuple(x for x in text.split(",")[2:] if x)
                    unknown = [x for x in names if x not in l1p.L1_KNOWN_FIELDS]
                    if unknown:
                        writer.write(f"E,Invalid field name: {unknown[0]}\r\n".encode())
                    else:
                        state["fields"] = names
                        writer.write(("S,CURRENT UPDATE FIELDNAMES,Symbol," + ",".join(names) + "\r\n").encode())
                elif text[:1] in ("w", "r") and len(text) > 1:
                    self._l1_watch(writer, state, text[0], text[1:].strip())
                elif text:
                    writer.write(f"E,!SYNTAX_ERROR!,{text}\r\n".encode())
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:  # closed first: a second cancel (the server stopping) must not leave the client's socket open
            writer.close()
            pacer.cancel()
            await asyncio.gather(pacer, return_exceptions=True)

    def _l1_watch(self, writer, state: dict, op: str, symbol: str) -> None:
        if not self.known(symbol):
            writer.write(f"n,{symbol}\r\n".encode())
            return
        sym = normalize_ticker(symbol)
        if op == "r":
            state["watch"].pop(sym, None)
            state["stats"].discard(sym)
            return
        if sym in STAT_SYMBOLS:
            state["stats"].add(sym)
            writer.write(self._stat_lines(state, [sym], b"P"))
            return
        now = self.sim_now()
        day = now.date()
        if self.calendar.is_trading_day(day):
            e = self._day(sym, day)
            j = self._available(day, now, e.times)
        else:
            e, j = None, 0
        state["watch"][sym] = [day, j]
        if e is not None and j:
            writer.write(self._l1_lines(b"P", sym, e, j - 1, j, state["fields"], 0))
        else:
            writer.write(f"P,{sym}".encode() + b"," * len(state["fields"]) + b"\r\n")

    def _l1_lines(self, kind: bytes, sym: str, e: _Day, a: int, b: int, fields, g0: int) -> bytes:
        part = {k: v[a:b] for k, v in e.raw.items()}
        part.update({k: v[a:b] for k, v in e.extra.items()})
        data = l1p.format_level1(kind, sym, part, fields)
        flt = self.faults
        if kind == b"Q" and (flt.duplicate_every or flt.malformed_every or flt.out_of_order_every):
            off = ip.line_offsets(data)
            tmp = _Day(data, off, e.times[a:b], {}, {})
            data = self._render(tmp, np.arange(b - a), g0, layout=_l1_layout(fields))
        return data

    def _stat_lines(self, state: dict, syms, kind: bytes = b"Q") -> bytes:
        now = self.sim_now()
        vals = self.statistics(now)
        fields = state["fields"]
        out = []
        for sym in syms:
            v = vals[sym]
            cells = {"Most Recent Trade": "" if v is None else f"{v:.4f}".rstrip("0").rstrip("."),
                     "Most Recent Trade Time": now.strftime("%H:%M:%S.%f"),
                     "Most Recent Trade Date": now.strftime("%m/%d/%Y")}
            out.append(f"{kind.decode()},{sym}," + ",".join(cells.get(f, "") for f in fields) + "\r\n")
        return "".join(out).encode()

    async def _l1_pace(self, writer: asyncio.StreamWriter, state: dict) -> None:
        last_second = None
        sent = 0
        try:
            while not writer.is_closing():
                if self.faults.l1_silent:  # hung: what trades meanwhile goes out when it speaks again
                    await asyncio.sleep(L1_LOOP_S)
                    continue
                now = self.sim_now()
                day = now.date()
                chunks = []
                second = now.floor("s")
                if second != last_second:
                    last_second = second
                    chunks.append(f"T,{second:%Y%m%d %H:%M:%S}\r\n".encode())
                    if state["stats"]:
                        chunks.append(self._stat_lines(state, sorted(state["stats"])))
                for sym, pos in list(state["watch"].items()):
                    if pos[0] != day:
                        pos[0], pos[1] = day, 0
                    if not self.calendar.is_trading_day(day):
                        continue
                    e = self._day(sym, day)
                    j = self._available(day, now, e.times)
                    if j > pos[1]:
                        chunks.append(self._l1_lines(b"Q", sym, e, pos[1], j, state["fields"], sent))
                        sent += j - pos[1]
                        pos[1] = j
                if chunks:
                    writer.write(b"".join(chunks))
                    await writer.drain()
                await asyncio.sleep(L1_LOOP_S)
        except (ConnectionError, asyncio.CancelledError):
            pass
        except Exception:  # noqa: BLE001 - a broken pacer must not kill the server
            log.exception("level 1 pacer failed")
            writer.transport.abort()


def _us(ts: pd.Timestamp) -> int:
    return (ts - ts.normalize()).value // 1000


def _hhmmss_us(s: str) -> int:
    if len(s) != 6 or not s.isdigit():
        raise ValueError(f"filter time {s!r} is not HHmmSS")
    return ((int(s[:2]) * 60 + int(s[2:4])) * 60 + int(s[4:])) * 1_000_000


# Field positions (0-based, after any request id) of an ``LH`` history line.
HISTORY_LAYOUT = {"price": 2, "size": 3, "stamp": 1}


def _l1_layout(fields) -> dict:
    """Field positions of a ``Q`` line with the selected update ``fields`` (after ``Q,SYM``)."""
    pos = {name: i + 2 for i, name in enumerate(fields)}
    return {"price": pos.get("Most Recent Trade"), "size": pos.get("Most Recent Trade Size"),
            "time": pos.get("Most Recent Trade Time"), "date": pos.get("Most Recent Trade Date")}


def _corrupt_cells(cells: list[bytes], kind: str, layout: dict, shift: int) -> None:
    """Corrupt one line's cells in place; field ``k`` of ``layout`` is ``cells[k + shift]``."""
    def at(name):
        k = layout.get(name)
        return None if k is None else k + shift

    if kind in ("price", "nonutf8", "zero-price") and at("price") is not None:
        k = at("price")
        cells[k] = {"price": cells[k] + b"x", "nonutf8": cells[k] + b"\xff", "zero-price": b"0.00"}[kind]
    elif kind == "int64-overflow" and at("size") is not None:
        cells[at("size")] = b"99999999999999999999"
    elif kind in ("bad-time", "bad-date") and at("stamp") is not None:  # history: "YYYY-MM-DD HH:MM:SS.ffffff"
        k = at("stamp")
        date, _, time_ = cells[k].partition(b" ")
        cells[k] = date + b" 99:99:99.999999" if kind == "bad-time" else date[:4] + b"-02-30 " + time_
    elif kind == "bad-time" and at("time") is not None:
        cells[at("time")] = b"99:99:99.999999"
    elif kind == "bad-date" and at("date") is not None:
        k = at("date")
        cells[k] = b"02/30/" + cells[k][-4:]


def _corrupt(data: bytes, lines: np.ndarray, kind: str, layout: dict) -> bytes:
    """Corrupt the given lines of ``data`` the way ``kind`` (:data:`MALFORMED_KINDS`) says;
    ``layout`` maps field roles to 0-based positions after any request id."""
    off = ip.line_offsets(data)
    parts, pos = [], 0
    for i in lines[lines < off.size - 1]:  # only the few corrupted lines are touched
        a, b = int(off[i]), int(off[i + 1])
        line = data[a:b]
        body = line.rstrip(b"\r\n")
        cells = body.split(b",")
        _corrupt_cells(cells, kind, layout, 0 if cells[0] in (b"LH", b"Q", b"P") else 1)
        parts += [data[pos:a], b",".join(cells) + line[len(body):]]
        pos = b
    parts.append(data[pos:])
    return b"".join(parts)


class EmulatorThread:
    """Run an :class:`IQFeedEmulator` on its own event loop in a daemon thread (tests, demos).

    ``with EmulatorThread(IQFeedEmulator(port_history=0, port_l1=0)) as emu: emu.port_history``
    """

    def __init__(self, emulator: IQFeedEmulator):
        self.emulator = emulator
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="iqfeed-emulator", daemon=True)

    def __enter__(self) -> IQFeedEmulator:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.emulator.start(), self.loop).result(30)
        return self.emulator

    def __exit__(self, *exc) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self.emulator.stop(), self.loop).result(5)
        finally:
            for task in asyncio.all_tasks(self.loop):
                self.loop.call_soon_threadsafe(task.cancel)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)
