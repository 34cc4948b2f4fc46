"""The ``indicators`` service: live indicators from the bus, published and stored as they complete.

:class:`IndicatorsService` (a :class:`core.service_base.ThreadService`, supervised by
:mod:`core.services`) listens on the bus to ``ticks.*`` (:class:`core.events.TicksAppended` of live
collection, live and history-filled), to ``indicators`` (:class:`core.events.StatisticUpdated`, the
feed's DTN statistics) and to ``collection`` (:class:`tickdeck.core.events.LiveBatch`, the end of a Level 1
batch). It keeps, per day, each symbol's ticks so far in growing numpy columns and a
:class:`core.indicators.breadth.BreadthState`.

Time is the data's, never the wall clock: after each ``LiveBatch`` the *watermark* is the latest
time of a live tick seen, and every 1 s grid instant ``g`` (:func:`core.indicators.derived.metric_grid`)
below it is complete (the Level 1 feed is in time order, so no tick at or before ``g`` is still to
come). Ticks filled in from history (``origin="history"``, symbol after symbol, each up to the time
of its request) and the stored ticks a restart loads do not move the watermark: the Level 1 batches
after them do. Each
round evaluates the new complete instants only — at most one row per second of data per series:

* ``DERIVED.<SYMBOL>`` — :func:`~core.indicators.derived.compute_derived_resumable` over the symbol's
  ticks so far at its new grid instants, resuming the day pass at the checkpoint its previous round
  left (about the last 5 min of ticks a round instead of the whole day; values at ``g`` depend only
  on ticks ``<= g`` and the resumed sums are the same additions, so they equal the batch build's bit
  for bit);
* ``BREADTH.LOCAL`` — the breadth state fed each symbol's ticks up to ``g`` and snapshotted at ``g``
  (after a long gap, e.g. the history fill at the start, the instants are computed in one
  :func:`~core.indicators.breadth.breadth_series` call instead), with ``MCCLELLAN.*`` as in the batch;
* ``BREADTH.FEED`` / ``OPTIONS.FEED`` — the latest statistic values at each second of feed time
  that brought an update (rows up to the feed time of the last ``LiveBatch``); options flow adds
  the put/call ratios ``PCR.<CLASS>`` of the feed's put and call volumes (:func:`put_call_ratios`).
  Their IndicatorUpdate is published at the end of every Level 1 batch that brought statistics,
  with the latest values, by a thread of its own (:class:`FeedLatest`: not waiting for the second
  to complete, as the stored rows do, nor for a round of the other series);
* ``BREADTH.DIFF`` — local − feed at the local instants (feed values as of ``g``).

Each round publishes one :class:`core.events.IndicatorUpdate` per series with its latest row and
keeps the new rows, appended through :func:`core.indicators.store.write_rows` every
:data:`STORE_EVERY_NS` of data time, at a stop and at a day change (group/source as in
:mod:`core.events`). On a restart it reloads the day's acknowledged ticks — the live journal's
rows, then the stored days, merged by tick id — and the stored feed rows (the first event of a day
triggers it; ``params["day"]`` does it at start) and appends only rows after the stored ones.

A scenario replay (:mod:`core.scenario`) publishes its ticks and batches with
``origin="scenario"`` (:data:`core.events.SCENARIO_ORIGIN`). They go to a second, *publish-only*
day state, apart from the live one: it never writes the indicators library and never reads its
stored rows. A replayed symbol's stored day is loaded when its first replayed tick (or the replay's
first batch naming it) arrives; the replay's batches move that state's watermark, and each round
evaluates only the latest complete instant of each series (nothing in between is kept, and values
at ``g`` depend only on ticks ``<= g``), so an update equals the batch build's row at its instant —
from a window starting mid-day and after a seek too. A batch that goes back in time (a seek back,
a new replay of the day) starts the state's evaluation afresh; a ``ReplayChanged`` ``stopped``
drops the state.

Params: ``day`` (load this day's ticks at start), ``catchup`` (instants above which breadth
is computed in bulk, default :data:`CATCHUP_INSTANTS`).

Warnings
--------
Derived metrics are recomputed over the symbol's whole day so far at each round (O(ticks of the
day) per symbol per second of data). Not thread-safe: one service thread evaluates; the bus's
delivering threads only enqueue.
"""

from __future__ import annotations

import collections
import logging
import threading
from typing import Callable

import numpy as np

from tickdeck.core import naming
from tickdeck.core.events import SCENARIO_ORIGIN, TICK_ARRAYS, IndicatorUpdate
from tickdeck.core.indicators import build as ib
from tickdeck.core.indicators import store as istore
from tickdeck.core.service_base import ThreadService

log = logging.getLogger(__name__)

CATCHUP_INSTANTS = 30  # more pending breadth instants than this: one breadth_series call, not per-instant snapshots
WAIT_S = 0.2  # the service thread's longest wait for events (so a stop is prompt)
STEP_NS = 1_000_000_000
# Rows are appended to the store at most this often (data time): one append per series per flush
# instead of one per second, so the store's appends (tens of ms each) keep up with many symbols.
# Rows not flushed when the service crashes are recomputed from the ticks at its restart.
STORE_EVERY_NS = 5 * STEP_NS
OPTIONS_PREFIXES = ("PCR.", "PUT_VOL.", "CALL_VOL.")


class TickBuffer:
    """One symbol-day's ticks so far: columns that grow by doubling (no per-tick objects)."""

    def __init__(self):
        self.n = 0
        self.cols = {k: np.empty(1024, dtype=dt) for k, dt in TICK_ARRAYS.items()}
        self.fed = 0  # ticks handed to the breadth state so far

    @property
    def last_id(self) -> int:
        return int(self.cols["tick_id"][self.n - 1]) if self.n else -1

    def append(self, cols: dict[str, np.ndarray]) -> int:
        """Append the ticks with ids above the last one held; returns how many."""
        ids = np.asarray(cols["tick_id"])
        keep = ids > self.last_id
        m = int(keep.sum())
        if m == 0:
            return 0
        need = self.n + m
        cap = self.cols["tick_id"].size
        if need > cap:
            cap = max(need, 2 * cap)
            for k in self.cols:
                grown = np.empty(cap, dtype=self.cols[k].dtype)
                grown[: self.n] = self.cols[k][: self.n]
                self.cols[k] = grown
        for k in self.cols:
            src = np.asarray(cols[k])
            self.cols[k][self.n:need] = src[keep] if m != src.size else src
        self.n = need
        return m

    def view(self, upto: int | None = None) -> dict[str, np.ndarray]:
        n = self.n if upto is None else upto
        return {k: v[:n] for k, v in self.cols.items()}


class DayState:
    """What the service holds for one day; ``publish_only`` (a scenario replay's day): nothing is
    written to the indicators library and its stored rows and feed series are not read."""

    def __init__(self, ctx, day: str, *, publish_only: bool = False):
        from tickdeck.core.indicators.breadth import BreadthState

        self.ctx, self.day, self.publish_only = ctx, day, publish_only
        self.ticks: dict[str, TickBuffer] = {}
        self.exchange_of: dict[str, str] = {}
        self.breadth = None
        self._breadth_cls = BreadthState
        self.derived_until: dict[str, int] = {}
        self.derived_resume: dict[str, object] = {}  # symbol -> where its next evaluation resumes the day pass
        self.breadth_until = -1
        self.profiles: dict[str, object] = {}
        self.history = ib.net_advance_history(ctx, day)
        self.feed: dict[str, list] = {"breadth": [], "options": []}  # pending (at, name, value)
        self.feed_latest: dict[str, dict[str, float]] = {"breadth": {}, "options": {}}
        self.feed_until = -1
        self.feed_times: list[int] = []  # instants of the stored feed rows, for the diff's as-of
        self.feed_rows: dict[str, list[float]] = collections.defaultdict(list)
        self.local_t: list[int] = []  # local breadth instants waiting for the feed (the diff)
        self.local_rows: dict[str, list[float]] = collections.defaultdict(list)
        self.stored: dict[str, int | None] = {}  # series -> last stored instant
        self.seen = -1  # the latest tick time received
        self.mark = -1  # the latest tick time of a whole batch (ticks up to it are all in)
        self.feed_seen = self.feed_mark = -1  # the same for the feed's statistics
        self.evaluated_at = (-1, -1)  # the seconds (ticks, feed) of the last round
        self.pending: dict[str, list] = {}  # series -> rows computed, not stored yet (see flush)
        self.flushed: dict[str, int | None] = {}  # series -> last instant stored
        self.flushed_at = -1  # the data time of the last flush
        if not publish_only:
            self._load_feed()

    def _load_feed(self) -> None:
        """A restart continues the feed series: their stored rows (the diff's as-of) and latest values."""
        for group, name in (("breadth", istore.breadth_name("feed")), ("options", istore.OPTIONS_NAME)):
            if not self.ctx.store.has_series(istore.LIB, istore.series_symbol(name, self.day)):
                continue
            df = istore._read(self.ctx, name, self.day)
            self.stored[name + ":columns"] = list(df.columns)
            if not len(df):
                continue
            self.feed_latest[group] = {k: float(v) for k, v in df.iloc[-1].items() if not k.startswith("PCR.")}
            if group == "breadth":
                self.feed_times = df.index.asi8.tolist()
                for k in df.columns:
                    self.feed_rows[k] = df[k].to_numpy(dtype=np.float64).tolist()

    def buffer(self, symbol: str) -> TickBuffer:
        b = self.ticks.get(symbol)
        if b is None:
            b = self.ticks[symbol] = TickBuffer()
            ex = ib.exchange_map(self.ctx, [symbol])
            self.exchange_of.update(ex)
            if self.breadth is not None:
                self.breadth.add(ex)  # untraded until its ticks are fed
        return b

    def rewind(self) -> None:
        """Evaluate afresh from the day's start (a scenario replay went back in time)."""
        self.derived_until.clear()
        self.derived_resume.clear()  # checkpoints of later instants (they would be ignored anyway)
        self.breadth_until, self.breadth = -1, None
        for b in self.ticks.values():
            b.fed = 0
        self.seen = self.mark = -1
        self.evaluated_at = (-1, -1)

    def last_stored(self, name: str) -> int:
        if self.publish_only:
            return -1
        if name not in self.stored:
            self.stored[name] = istore.last_instant(self.ctx, name, self.day)
        v = self.stored[name]
        return -1 if v is None else v

    def write(self, name: str, at_ns: np.ndarray, cols: dict[str, np.ndarray]) -> None:
        """Rows of series ``name`` for the store: kept until :meth:`flush` (``name`` counts as
        handled up to the last of them from now on); publish-only: nothing."""
        if self.publish_only:
            return
        self.pending.setdefault(name, []).append((np.asarray(at_ns, dtype=np.int64), cols))
        self.stored[name] = int(at_ns[-1])

    def flush(self, now_ns: int = 0, force: bool = False) -> int:
        """Append the kept rows, one append per series, when :data:`STORE_EVERY_NS` of data time has
        passed since the last flush (or ``force``); returns the rows written."""
        if not self.pending or (not force and now_ns - self.flushed_at < STORE_EVERY_NS):
            return 0
        rows = 0
        for name, chunks in self.pending.items():
            at = np.concatenate([a for a, _ in chunks])
            names = list(dict.fromkeys(k for _, c in chunks for k in c))
            cols = {k: np.concatenate([np.asarray(c[k], dtype=np.float64) if k in c else np.full(a.size, np.nan)
                                       for a, c in chunks]) for k in names}
            if name not in self.flushed:
                self.flushed[name] = istore.last_instant(self.ctx, name, self.day)
            rows += istore.write_rows(self.ctx, name, self.day, at, cols, after_ns=self.flushed[name])
            self.flushed[name] = int(at[-1])
        self.pending.clear()
        self.flushed_at = now_ns
        return rows

    def profile(self, symbol: str):
        if symbol not in self.profiles:
            self.profiles[symbol] = ib.volume_profile(self.ctx, symbol, self.day)
        return self.profiles[symbol]


class FeedLatest:
    """The feed's latest statistic values per group, published as IndicatorUpdate on a thread of
    their own at the end of each Level 1 batch that brought statistics, so a long round of the
    service (a catch-up, the store's appends) never delays them."""

    def __init__(self):
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._values: dict[str, dict[str, float]] = {"breadth": {}, "options": {}}
        self._at: dict[str, int] = {}
        self._day = ""
        self._fresh: set[str] = set()

    def add(self, ev) -> None:  # the bus's delivering thread: a dict update
        group = _statistic_group(ev.indicator)
        with self._lock:
            if ev.day != self._day:
                self._day, self._values, self._at = ev.day, {"breadth": {}, "options": {}}, {}
            self._values[group][ev.indicator] = np.nan if ev.value is None else float(ev.value)
            self._at[group] = max(self._at.get(group, 0), int(ev.at))
            self._fresh.add(group)

    def batch_done(self) -> None:
        if self._fresh:
            self._wake.set()

    def run(self, service: "IndicatorsService", stop: threading.Event) -> None:
        while not stop.is_set():
            if not self._wake.wait(WAIT_S):
                continue
            self._wake.clear()
            with self._lock:
                out = [(g, self._day, self._at[g], dict(self._values[g])) for g in sorted(self._fresh)]
                self._fresh.clear()
            for group, day, at, values in out:
                cols = {k: np.asarray([v], dtype=np.float64) for k, v in values.items()}
                if group == "options":
                    cols = put_call_ratios(cols)
                service._publish(group, "feed", day, at, {k: cols[k] for k in sorted(cols)})


class IndicatorsService(ThreadService):
    """Live indicators from the bus (see the module docstring)."""

    name = "indicators"
    description = "market breadth, options flow and derived metrics from live ticks and feed statistics"

    def __init__(self, ctx, **kw):
        super().__init__(ctx, **kw)
        self._events: collections.deque = collections.deque()
        self._wake = threading.Event()
        self.state: DayState | None = None
        self.scenario: DayState | None = None  # a scenario replay's day (publish-only)
        self.rounds = 0
        self.published = 0
        self._latest = FeedLatest()

    # -- bus side (the delivering thread: only enqueue) ------------------------------------------
    def _on(self, msg) -> None:
        if msg.type == "ReplayChanged":
            if msg.event.state == "stopped":
                self._events.append(msg.event)
        elif msg.type in ("TicksAppended", "StatisticUpdated", "LiveBatch"):
            self._events.append(msg.event)
            if msg.type == "StatisticUpdated":
                self._latest.add(msg.event)
            elif msg.type == "LiveBatch":
                self._latest.batch_done()
                self._wake.set()

    def run(self, params: dict, stop: threading.Event, beat: Callable[[str], None]) -> None:
        catchup = int(params.get("catchup", CATCHUP_INSTANTS))
        unlisten = [self.ctx.bus.listen(p, self._on) for p in ("ticks.*", "indicators", "collection", "replay")]
        feed = threading.Thread(target=self._latest.run, args=(self, stop), name="tickdeck-indicators-feed",
                                daemon=True)
        feed.start()
        try:
            beat("compiling the metric kernels")
            warm_up()
            if params.get("day"):
                self._day(naming.format_day(params["day"]))
            beat("waiting for ticks")
            while not stop.is_set():
                self._wake.wait(WAIT_S)
                self._wake.clear()
                if self._drain(catchup, stop):
                    beat("; ".join(f"{what}{st.day}: {len(st.ticks)} symbols, "
                                   f"{sum(b.n for b in st.ticks.values()):,} ticks"
                                   for what, st in (("", self.state), ("replay of ", self.scenario)) if st)
                         + f", {self.rounds:,} rounds, {self.published:,} updates published")
        finally:
            for u in unlisten:
                u()
            if self.state is not None:
                self.state.flush(force=True)
            feed.join(timeout=5)

    # -- work ------------------------------------------------------------------------------------
    def _day(self, day: str) -> DayState:
        """The state of ``day``; a new day starts from the ticks already acknowledged (a restart
        continues): the live journal's rows, read first, then the stored days, merged by tick id.
        The service listens before it reads, so a tick is in the journal, in its day or in an event
        still queued."""
        if self.state is None or self.state.day != day:
            if self.state is not None:
                self.state.flush(force=True)
            st = DayState(self.ctx, day)
            journal = ib.journal_columns(self.ctx, day)
            for sym in sorted(set(ib.stored_symbols(self.ctx, day)) | set(journal)):
                parts = [ib.day_columns(self.ctx, sym, day)] if self.ctx.store.has_day(sym, day) else []
                if sym in journal:
                    parts.append(journal[sym])
                st.buffer(sym).append(ib.merge_by_tick_id(parts))
            self.state = st
        return self.state

    def _drain(self, catchup: int, stop: threading.Event | None = None) -> bool:
        """Handle the queued events, then evaluate up to the watermark of the last ``LiveBatch``
        among them. True when something was evaluated."""
        batch = scenario = stopped = False
        for _ in range(len(self._events)):  # what is queued now; later events wait for the next round
            if stop is not None and stop.is_set():
                return False
            ev = self._events.popleft()
            kind = type(ev).__name__
            if kind == "TicksAppended":
                if ib.is_statistic(ev.symbol):
                    continue
                if ev.origin == SCENARIO_ORIGIN:
                    self._scenario_ticks(ev)
                    continue
                st = self._day(ev.day)
                b = st.buffer(ev.symbol)
                if b.append(ev.columns()) and ev.origin == "live":  # history fills do not move the watermark
                    st.seen = max(st.seen, int(b.cols["timestamp"][b.n - 1]))
            elif kind == "StatisticUpdated":
                st = self._day(ev.day)
                group = _statistic_group(ev.indicator)
                st.feed[group].append((int(ev.at), ev.indicator, np.nan if ev.value is None else float(ev.value)))
                st.feed_seen = max(st.feed_seen, int(ev.at))
            elif kind == "LiveBatch" and ev.origin == SCENARIO_ORIGIN:
                if self.scenario is not None:
                    for sym in ev.symbols:  # the replay's whole universe, also symbols yet to trade
                        self._scenario_buffer(self.scenario, sym)
                    self.scenario.mark = self.scenario.seen
                    scenario = True
            elif kind == "LiveBatch" and self.state is not None:
                self.state.mark = self.state.seen  # every tick up to here is in: the batch is whole
                self.state.feed_mark = self.state.feed_seen
                batch = True
            elif kind == "ReplayChanged":  # the replay stopped: its last batches first, then drop its day's ticks
                stopped = scenario and self.scenario is not None and self.evaluate(catchup, self.scenario)
                self.scenario, scenario = None, False
        done = (batch and self.evaluate(catchup)) or stopped
        sc = self.scenario
        return (scenario and sc is not None and self.evaluate(catchup, sc)) or done

    def _scenario_ticks(self, ev) -> None:
        """A replayed batch's ticks of one symbol: the watermark of the scenario state (a new one at a
        new day; evaluation afresh when the replay went back before the last whole batch)."""
        if self.scenario is None or self.scenario.day != ev.day:
            self.scenario = DayState(self.ctx, ev.day, publish_only=True)
        st = self.scenario
        if not len(ev):
            return
        if int(ev.timestamp[0]) < st.mark:
            st.rewind()
        b = self._scenario_buffer(st, ev.symbol)
        b.append(ev.columns())  # only what the store did not hold (ids above its last)
        st.seen = max(st.seen, int(ev.timestamp[-1]))

    def _scenario_buffer(self, st: DayState, symbol: str) -> TickBuffer:
        """``symbol``'s buffer in the scenario state, its stored day loaded when first seen."""
        b = st.ticks.get(symbol)
        if b is None:
            b = st.buffer(symbol)
            if self.ctx.store.has_day(symbol, st.day):
                b.append(ib.day_columns(self.ctx, symbol, st.day))
        return b

    def evaluate(self, catchup: int = CATCHUP_INSTANTS, st: DayState | None = None) -> bool:
        """One round of ``st`` (default: the live day) over the complete instants not evaluated yet
        (see the module docstring); False when no new second of data has completed since the last
        round."""
        st = self.state if st is None else st
        if st is None:
            return False
        if (st.mark // STEP_NS, st.feed_mark // STEP_NS) == st.evaluated_at:
            return False  # at most once per second of the data's time
        st.evaluated_at = (st.mark // STEP_NS, st.feed_mark // STEP_NS)
        self.rounds += 1
        self._feed(st, st.feed_mark)
        if st.mark >= 0:
            self._derived(st, st.mark)
            self._breadth(st, st.mark, catchup)
        st.flush(max(st.mark, st.feed_mark))
        return True

    def _publish(self, group: str, source: str, day: str, at: int, values: dict, symbol: str = "") -> None:
        names = tuple(values)
        self.ctx.bus.publish(IndicatorUpdate(group, source, day, int(at), names,
                                             np.asarray([float(values[k][-1]) for k in names], dtype=np.float64),
                                             symbol=symbol))
        self.published += 1

    def _derived(self, st: DayState, watermark: int) -> None:
        from tickdeck.core.indicators.derived import compute_derived_resumable, metric_grid

        for sym, b in st.ticks.items():
            if not b.n:
                continue
            cols = b.view()
            name = istore.derived_name(sym)
            after = max(st.derived_until.get(sym, -1), st.last_stored(name))
            new = _new_instants(metric_grid, cols["timestamp"], after, watermark)
            if new.size == 0:
                continue
            if st.publish_only:  # only the latest instant is published: compute it over the ticks up to it
                new = new[-1:]
                cols = b.view(int(np.searchsorted(cols["timestamp"], new[-1], side="right")))
            values, st.derived_resume[sym] = compute_derived_resumable(
                cols, new, volume_profile=st.profile(sym), resume=st.derived_resume.get(sym))
            st.write(name, new, values)
            st.derived_until[sym] = int(new[-1])
            self._publish("derived", "derived", st.day, new[-1], values, symbol=sym)

    def _breadth(self, st: DayState, watermark: int, catchup: int) -> None:
        from tickdeck.core.indicators.breadth import breadth_series
        from tickdeck.core.indicators.derived import metric_grid

        after = max(st.breadth_until, st.last_stored(istore.breadth_name("local")))
        new = np.unique(np.concatenate([_new_instants(metric_grid, b.view()["timestamp"], after, watermark)
                                        for b in st.ticks.values() if b.n]))
        if new.size == 0:
            return
        if st.publish_only:
            new = new[-1:]
        if st.breadth is None or new.size > catchup:
            universe = {s: b.view() for s, b in st.ticks.items() if b.n}
            local = breadth_series(universe, new, st.exchange_of)
            st.breadth = st._breadth_cls(st.exchange_of)
            for s, b in st.ticks.items():  # the state as of the last instant, for the next rounds
                b.fed = int(np.searchsorted(b.view()["timestamp"], new[-1], side="right"))
                if b.fed:
                    st.breadth.update(s, _slice(b.view(), 0, b.fed))
        else:
            rows = []
            for g in new.tolist():
                for s, b in st.ticks.items():
                    ts = b.view()["timestamp"]
                    upto = int(np.searchsorted(ts, g, side="right"))
                    if upto > b.fed:
                        st.breadth.update(s, _slice(b.view(), b.fed, upto))
                        b.fed = upto
                rows.append(st.breadth.snapshot(g))
            local = {k: np.asarray([r[k] for r in rows], dtype=np.float64) for k in rows[0]}
        local = ib.with_mcclellan(local, st.history)
        name = istore.breadth_name("local")
        st.write(name, new, local)
        st.breadth_until = int(new[-1])
        self._publish("breadth", "local", st.day, new[-1], local)
        if st.feed_seen >= 0 or st.feed_times:  # the diff waits until the feed has passed the instants
            st.local_t.extend(new.tolist())
            for k, v in local.items():
                st.local_rows[k].extend(v.tolist())
        self._diff(st)

    def _diff(self, st: DayState) -> None:
        """``BREADTH.DIFF`` at the local instants below the feed's mark (no feed row at or before
        them is still to come): local − the feed's latest row at or before each."""
        if not st.local_t or not st.feed_times:
            return
        k = int(np.searchsorted(np.asarray(st.local_t, dtype=np.int64), st.feed_mark, side="left"))
        if k == 0:
            return
        at_ns = np.asarray(st.local_t[:k], dtype=np.int64)
        local = {n: np.asarray(v[:k], dtype=np.float64) for n, v in st.local_rows.items()}
        del st.local_t[:k]
        for v in st.local_rows.values():
            del v[:k]
        feed = ib.asof(at_ns, np.asarray(st.feed_times, dtype=np.int64),
                       {n: np.asarray(v, dtype=np.float64) for n, v in st.feed_rows.items()})
        diff = ib.diff_columns(local, feed)
        if diff:
            name = istore.breadth_name("diff")
            st.write(name, at_ns, diff)
            self._publish("breadth", "reconciled", st.day, at_ns[-1], diff)

    def _feed(self, st: DayState, mark: int) -> None:
        """Rows of the feed series at each second of feed time with an update, up to the latest
        complete one below ``mark`` (updates are applied in feed-time order)."""
        for group in ("breadth", "options"):
            pending = st.feed[group]
            if not pending:
                continue
            pending.sort(key=lambda x: x[0])
            done = [p for p in pending if -(-p[0] // STEP_NS) * STEP_NS < mark]
            if not done:
                continue
            st.feed[group] = pending[len(done):]
            latest = st.feed_latest[group]
            at, rows = [], []
            i = 0
            while i < len(done):
                g = -(-done[i][0] // STEP_NS) * STEP_NS
                while i < len(done) and -(-done[i][0] // STEP_NS) * STEP_NS == g:
                    latest[done[i][1]] = done[i][2]
                    i += 1
                at.append(g)
                rows.append(dict(latest))
            names = sorted({k for r in rows for k in r})
            cols = {k: np.asarray([r.get(k, np.nan) for r in rows], dtype=np.float64) for k in names}
            if group == "options":
                cols = put_call_ratios(cols)
                names = sorted(cols)
            at_ns = np.asarray(at, dtype=np.int64)
            name = istore.breadth_name("feed") if group == "breadth" else istore.OPTIONS_NAME
            stored_cols = st.stored.get(name + ":columns")
            if stored_cols is None or list(stored_cols) != names:
                cols, names = _stable_columns(self.ctx, name, st.day, cols, names)
                st.stored[name + ":columns"] = names
            st.write(name, at_ns, cols)
            if group == "breadth":
                st.feed_times.extend(at)
                for k in names:
                    st.feed_rows[k].extend(cols[k].tolist())
                for k in st.feed_rows:  # a name that appeared later: NaN before it
                    if len(st.feed_rows[k]) < len(st.feed_times):
                        st.feed_rows[k][:0] = [np.nan] * (len(st.feed_times) - len(st.feed_rows[k]))


def warm_up() -> None:
    """Compile the derived-metric kernels on a few ticks before the first round needs them (a
    first compile takes seconds; numba's cache makes later starts quick)."""
    from tickdeck.core.indicators.derived import compute_derived, metric_grid

    n = 4
    cols = {k: np.zeros(n, dtype=dt) for k, dt in TICK_ARRAYS.items()}
    cols["timestamp"] = np.arange(n, dtype=np.int64) * STEP_NS + 14 * 3600 * STEP_NS
    cols["last"] = np.array([100.0, 100.01, 100.0, 100.02])
    cols["last_sz"] = np.array([100, 200, 100, 300], dtype=np.int64)
    cols["bid"], cols["ask"] = cols["last"] - 0.01, cols["last"] + 0.01
    compute_derived(cols, metric_grid(cols["timestamp"]))


def put_call_ratios(cols: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Add ``PCR.<CLASS>`` = ``PUT_VOL.<CLASS> / CALL_VOL.<CLASS>`` (NaN without call volume) for
    every class with both volumes (unless the feed sent the ratio itself)."""
    out = dict(cols)
    for k in cols:
        if k.startswith("PUT_VOL."):
            cls = k[len("PUT_VOL."):]
            call = cols.get(f"CALL_VOL.{cls}")
            if call is not None and f"PCR.{cls}" not in cols:
                with np.errstate(divide="ignore", invalid="ignore"):
                    out[f"PCR.{cls}"] = np.where(call > 0, cols[k] / call, np.nan)
    return out


def _new_instants(metric_grid, ts: np.ndarray, after: int, watermark: int) -> np.ndarray:
    """The grid instants in (``after``, ``watermark``) of the ticks ``ts``: only the ticks after
    ``after`` are gridded (a grid instant is the end of its tick's second, so a tick after a grid
    instant lies on a later one)."""
    tail = ts[int(np.searchsorted(ts, after, side="right")):] if after >= 0 else ts
    if tail.size == 0:
        return np.empty(0, dtype=np.int64)
    grid = np.asarray(metric_grid(tail), dtype=np.int64)
    return grid[(grid > after) & (grid < watermark)]


def _slice(cols: dict, a: int, b: int) -> dict:
    return {k: v[a:b] for k, v in cols.items()}


def _statistic_group(indicator: str) -> str:
    try:
        from tickdeck.core.indicators.catalog import INDICATORS

        ind = INDICATORS.get(indicator)
        if ind is not None and getattr(ind, "group", None) == "options":
            return "options"
    except ImportError:  # pragma: no cover - the catalog is part of the package
        pass
    return "options" if indicator.startswith(OPTIONS_PREFIXES) else "breadth"


def _stable_columns(ctx, name: str, day: str, cols: dict, names: list[str]) -> tuple[dict, list[str]]:
    """Appends need the stored columns: a stored series keeps its columns (new names are dropped
    with a warning; names it has but the rows lack are NaN)."""
    sym = istore.series_symbol(name, day)
    if not ctx.store.has_series(istore.LIB, sym):
        return cols, names
    stored = list(istore._read(ctx, name, day).columns)
    extra = [k for k in names if k not in stored]
    if extra:
        log.warning("%s/%s: statistics %s arrived after the series was created; not stored", name, day, extra)
    n = next(iter(cols.values())).size
    return {k: cols.get(k, np.full(n, np.nan)) for k in stored}, stored
