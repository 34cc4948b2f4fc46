"""Live streams on the bus: the new ticks of each batch, and bars built from them as they close.

:func:`publish_ticks` publishes the ticks live collection just appended as
:class:`core.events.TicksAppended` on ``ticks.<SYM>`` (columnar, only the new ticks, at most
:data:`TICKS_PER_EVENT` per event). It runs on the acknowledgement path, so it only slices.

:class:`LiveBars` runs the streaming :class:`core.bars.builder.BarBuilder` per symbol for
:data:`LIVE_BAR_SPECS` on its own thread, fed through a queue (the acknowledgement path only
enqueues; the thread builds what arrived every :data:`BARS_EVERY_S`), and publishes every bar
that closes as a :class:`core.events.BarClosed` on ``bars.<SYM>.<spec>``, with the ``origin`` of the
batches it consumes (``live`` for live collection, ``scenario`` for a replay's builder). The bar inputs the
stored day would have after its whole-day enrichment are computed per batch with the state
carried across batches: spread in bps from the quote, the session from the calendar, and the
Lee–Ready trade sign with the tick rule continuing from the previous batch
(:func:`core.enrich.trade_signs` over the batch behind a two-price prefix that reproduces the
carried last price and direction). So the bars equal what
the bars service builds from the finalised day, bar for bar. When collection starts on a day
that already has stored ticks, the builders are first fed those ticks (nothing published for
them).

A time bar closes when the first tick after its interval arrives (or at the day's end); a
tick or volume bar when its threshold is reached.

Warnings
--------
The queue is unbounded: it holds what the thread has not built yet (normally a few batches). A
symbol whose ticks the builder refuses (:class:`core.bars.arrays.BarInputError`) stops getting
bars for the rest of the day; the error is logged.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

import numpy as np

from tickdeck.core.bars.arrays import TickArrays
from tickdeck.core.bars.builder import BarBuilder
from tickdeck.core.bars.spec import parse_spec
from tickdeck.core.enrich import trade_signs
from tickdeck.core.errors import TickdeckError
from tickdeck.core.events import BAR_FIELDS, TICK_ARRAYS, BarClosed, TicksAppended
from tickdeck.core.instruments import stored_terms

log = logging.getLogger(__name__)

LIVE_BAR_SPECS = ("time:1m", "tick:500")  # built live for every collected symbol: a clock bar and an activity bar
# The bars thread builds what arrived at most this often: fewer, larger builder updates, so it takes
# less of the GIL from the acknowledgement path (a bar is published within this long of closing).
BARS_EVERY_S = 0.25
YIELD_EVERY = 64  # bars published (or symbols built) between two hand-overs of the GIL to the collector
TICKS_PER_EVENT = 50_000  # a history backfill of a busy day is split: one event stays a few MB on the wire
_RAW = tuple(k for k in TICK_ARRAYS if k != "timestamp")
_STOP = object()


def publish_ticks(bus, day: str, origin: str, symbols: np.ndarray, columns: dict, timestamps: np.ndarray) -> int:
    """Publish ``columns`` (raw tick columns, rows grouped by ``symbols``) as one
    :class:`TicksAppended` per symbol (split above :data:`TICKS_PER_EVENT`); returns events sent."""
    n = timestamps.shape[0]
    if n == 0:
        return 0
    cuts = np.flatnonzero(symbols[1:] != symbols[:-1]) + 1
    starts = np.concatenate(([0], cuts))
    ends = np.concatenate((cuts, [n]))
    sent = 0
    for a, b in zip(starts.tolist(), ends.tolist()):
        for lo in range(a, b, TICKS_PER_EVENT):
            hi = min(lo + TICKS_PER_EVENT, b)
            bus.publish(TicksAppended.from_columns(str(symbols[a]), day, origin,
                                                   {k: columns[k][lo:hi] for k in _RAW}, timestamps[lo:hi]))
            sent += 1
    return sent


def _prefix(prev_last: float, prev_nz: int) -> np.ndarray:
    """Two prices whose tick rule leaves ``prev_last`` as the last price and ``prev_nz`` as the
    last non-zero change, so the sign kernel continues exactly where the previous batch ended."""
    if np.isnan(prev_last):
        return np.empty(0)
    return np.array([prev_last - prev_nz, prev_last])


class _SymbolBars:
    """One symbol's builders and the trade-sign state carried across batches."""

    def __init__(self, symbol: str, specs, calendar_name: str, scale: float, units: float = 1.0):
        self.symbol, self.scale, self.units = symbol, scale, units  # as stored bars: see core.bars.arrays
        self.builders = [(str(parse_spec(s)), BarBuilder(s, calendar=calendar_name)) for s in specs]
        self.prev_last, self.prev_nz = np.nan, 0
        self.broken = False

    def arrays(self, ts, last, size, bid, ask, session) -> TickArrays:
        """The bar inputs of a batch (in time order), advancing the carried state."""
        last = np.ascontiguousarray(last, dtype=np.float64)
        valid = (bid > 0) & (ask >= bid) & np.isfinite(ask)  # as core.enrich: 0 < bid <= ask, finite
        spread = np.where(valid, ask - bid, np.nan)
        mid = np.where(valid, (bid + ask) * 0.5, np.nan)
        bps = spread / mid * 1e4
        pre = _prefix(self.prev_last, self.prev_nz)
        k = pre.size
        out = trade_signs(np.concatenate((pre, last)), np.concatenate((np.full(k, np.nan), mid)))
        sign, tdir = out[0][k:], out[1]
        moved = tdir[tdir != 0]
        if moved.size:
            self.prev_nz = int(moved[-1])
        if last.size:
            self.prev_last = float(last[-1])
        return TickArrays(np.asarray(ts, dtype=np.int64), last, np.asarray(size, dtype=np.float64), sign, bps,
                          np.asarray(session, dtype=np.int8), self.scale, self.units)

    def update(self, x: TickArrays, flush: bool = False) -> list[tuple[str, dict]]:
        return [(spec, b.update_columns(x, flush=flush)) for spec, b in self.builders]


class LiveBars:
    """Bars of the live symbols on a thread of their own (see the module docstring).

    Parameters
    ----------
    ctx
        The collecting context (bus, catalog for the symbols' terms and calendars).
    calendar
        Labels the sessions of live ticks (the calendar live collection enriches with).
    specs
        Bar specs built per symbol (default :data:`LIVE_BAR_SPECS`).
    origin
        The origin of the batches fed (``live``, or :data:`core.events.SCENARIO_ORIGIN` for a
        replay); every :class:`BarClosed` published carries it.
    """

    def __init__(self, ctx, calendar, specs=LIVE_BAR_SPECS, origin: str = "live"):
        self.ctx, self.calendar, self.specs = ctx, calendar, tuple(str(parse_spec(s)) for s in specs)
        self.origin = origin
        self.published = 0  # BarClosed events sent
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._closing = threading.Event()
        self._symbols: dict[str, _SymbolBars] = {}
        self._thread = threading.Thread(target=self._run, name="tickdeck-live-bars", daemon=True)
        self._thread.start()

    # -- called by live collection (only enqueues) --------------------------------------------
    def start_day(self, stored: dict) -> None:
        """A new day: fresh builders for every symbol in ``stored``, fed the ticks already stored
        (``{symbol: (timestamps, last, last_sz, bid, ask)}``, empty arrays when none)."""
        self._q.put(("day", stored))

    def feed(self, symbols: np.ndarray, columns: dict, timestamps: np.ndarray) -> None:
        """New ticks (rows grouped by ``symbols``, each symbol's in tick-id order)."""
        if timestamps.shape[0]:
            self._q.put(("ticks", symbols, columns, timestamps))

    def end_day(self) -> None:
        """The day is over: close every open bar (published) and drop the builders."""
        self._q.put(("end",))

    def add_symbols(self, stored: dict) -> None:
        """Symbols added to a running day: fresh builders fed their ticks already stored (as
        :meth:`start_day`, without ending the other symbols' bars)."""
        self._q.put(("add", stored))

    def drop_symbols(self, symbols) -> None:
        """Symbols no longer collected: their builders are dropped (open bars stay open)."""
        self._q.put(("drop", tuple(symbols)))

    def close(self) -> None:
        """Build what is queued, then stop the thread (open bars stay open: they did not close)."""
        self._q.put(_STOP)
        self._closing.set()
        self._thread.join()

    # -- the thread ------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            items = [self._q.get()]
            while True:  # everything that arrived since the last round, in order
                try:
                    items.append(self._q.get_nowait())
                except queue.Empty:
                    break
            ticks: list = []
            for item in items:
                if item is not _STOP and item[0] == "ticks":
                    ticks.append(item[1:])
                    continue
                self._step("ticks", self._ticks, ticks)
                ticks = []
                if item is _STOP:
                    return
                if item[0] == "day":
                    self._step("day", self._day, item[1])
                elif item[0] == "add":
                    self._step("add", self._add, item[1])
                elif item[0] == "drop":
                    for symbol in item[1]:
                        self._symbols.pop(symbol, None)
                else:
                    self._step("end", self._end)
            self._step("ticks", self._ticks, ticks)
            self._closing.wait(BARS_EVERY_S)

    def _step(self, what: str, fn, *args) -> None:
        try:
            fn(*args)
        except Exception:  # noqa: BLE001 - bars are a by-product: collection must go on
            log.exception("live bars: %s failed", what)

    def _new(self, symbol: str) -> _SymbolBars:
        terms = stored_terms(self.ctx, symbol)
        return _SymbolBars(symbol, self.specs, self.ctx.calendar_for(symbol).name, terms.notional_scale,
                           terms.size_units)

    def _day(self, stored: dict) -> None:
        if self._symbols:
            self._end()
        self._add(stored)

    def _add(self, stored: dict) -> None:
        for symbol, (ts, last, size, bid, ask) in stored.items():
            sb = self._symbols[symbol] = self._new(symbol)
            if ts.size:
                x = sb.arrays(ts, last, size, bid, ask, self.calendar.label_sessions(ts))
                self._guarded(sb, sb.update, x)  # the bars before this run: not published
                time.sleep(0)

    def _ticks(self, batches: list) -> None:
        """Build the bars of queued batches: per symbol, its new ticks of all of them at once."""
        parts: dict[str, list] = {}
        for symbols, columns, timestamps in batches:
            ses = self.calendar.label_sessions(timestamps)
            cuts = np.flatnonzero(symbols[1:] != symbols[:-1]) + 1
            for a, b in zip(np.concatenate(([0], cuts)).tolist(),
                            np.concatenate((cuts, [timestamps.shape[0]])).tolist()):
                parts.setdefault(str(symbols[a]), []).append(
                    (timestamps[a:b], columns["last"][a:b], columns["last_sz"][a:b], columns["bid"][a:b],
                     columns["ask"][a:b], ses[a:b]))
        for symbol, chunks in parts.items():
            sb = self._symbols.get(symbol) or self._symbols.setdefault(symbol, self._new(symbol))
            if sb.broken:
                continue
            ts, last, size, bid, ask, ses = (np.concatenate(c) for c in zip(*chunks)) if len(chunks) > 1 \
                else chunks[0]
            order = slice(None) if np.all(ts[1:] >= ts[:-1]) else np.argsort(ts, kind="stable")
            x = sb.arrays(ts[order], last[order], size[order], bid[order], ask[order], ses[order])
            self._publish(symbol, self._guarded(sb, sb.update, x) or [])
            time.sleep(0)  # hand the GIL to the acknowledgement path now, not at the next forced switch

    def _end(self) -> None:
        for symbol, sb in self._symbols.items():
            if not sb.broken:
                empty = TickArrays(np.empty(0, np.int64), np.empty(0), np.empty(0), np.empty(0, np.int8), np.empty(0),
                                   np.empty(0, np.int8), sb.scale, sb.units)
                self._publish(symbol, self._guarded(sb, sb.update, empty, True) or [])
        self._symbols.clear()

    def _guarded(self, sb: _SymbolBars, fn, *args):
        try:
            return fn(*args)
        except TickdeckError as e:
            sb.broken = True
            log.error("live bars of %s stop for today: %s", sb.symbol, e)
            return None

    def _publish(self, symbol: str, closed: list[tuple[str, dict]]) -> None:
        bus = self.ctx.bus
        for spec, cols in closed:
            values = [cols[f].tolist() for f in BAR_FIELDS]
            for row in zip(*values):
                bus.publish(BarClosed(symbol, spec, *row, origin=self.origin))
                self.published += 1
                if self.published % YIELD_EVERY == 0:  # a catch-up burst (thousands of bars) stays interruptible
                    time.sleep(0)
