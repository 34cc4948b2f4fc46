"""Live collection: Level 1 trades → a write-ahead journal → the symbol-days.

The latency path is short on purpose. A trade line is *acknowledged* when it is stored in the
journal and its batch is published on the bus:

1. :class:`core.sources.iqfeed.Level1Client` hands over a batch once its oldest line is
   ``flush_after`` old (default 0.05 s).
2. New ticks are picked with array operations over the whole batch (one symbol index per row):
   ticks whose id is not above the symbol's last acknowledged id are duplicates; ticks older
   than the symbol's last acknowledged trade are late and go to the dead letters; the ingest
   rules (``ctx.extras["ingest_rules"]``) and the store's own checks run on the rest, and what
   they refuse goes to the dead letters too, so the journal holds only ticks a day can take.
   Lines the parser refuses (any bytes) are dead letters with their reason and symbol. A tick
   that is a dead letter is stored as a ``Q`` line that ``tickdeck deadletters --replay`` merges
   into its day.
3. All symbols' new ticks are appended to the day's journal in **one** ArcticDB append (library
   ``journal``, symbol ``<YYYY-MM-DD>/<segment>``: the 14 raw columns plus ``symbol``), then
   each symbol's new ticks are published as a :class:`tickdeck.core.events.TicksAppended` on
   ``ticks.<SYM>`` (columnar slices of the batch, no copy) and a :class:`core.events.LiveBatch`
   on ``collection``.

After the acknowledgement the batch is handed to :class:`core.live_bars.LiveBars`, which builds
:data:`core.live_bars.LIVE_BAR_SPECS` per symbol on its own thread and publishes each bar that
closes as a :class:`core.events.BarClosed` on ``bars.<SYM>.<spec>``. Ticks filled in from
history (at the start and after a reconnect) are published and built the same way
(``origin="history"``), so the ``ticks.<SYM>`` events of a run are exactly the ticks it stored.

A materialiser *process* moves acknowledged ticks into each symbol's day every
``batch_seconds`` (default 1 s): it tails the day's journal segments, enriches per symbol, and
appends all symbols with one :meth:`core.store.Store.append_days_batch`, then writes the catalog
rows. (In a thread of the collecting process those ArcticDB writes would queue with the journal
appends on ArcticDB's native thread pools; measured p99 over 1 s.) A journal segment rolls
every :data:`JOURNAL_SEGMENT_S` and is deleted once read, so the journal holds minutes, not the
day. Readers of a symbol-day see live ticks about ``batch_seconds`` after they are acknowledged.

Nothing acknowledged is lost: at start every journal row above its day's last stored tick id
is moved into the day first (:func:`recover_journal`; a row no day can take, journaled by an
older version, becomes a dead letter instead of blocking the start), then history is backfilled
from the last stored tick (and again after every reconnect or feed switch, then through the
journal, so it does not wait for the materialiser). A stop (Ctrl-C, ``stop_event``)
lets the materialiser do its last round: the materialiser ignores SIGINT/SIGTERM, which a
terminal sends to the whole process group. At the end of the extended session each day is
rewritten whole through ``ingest_day`` (:func:`core.collect.finalize_day`).
"""

from __future__ import annotations

import collections
import ctypes
import datetime as dt
import logging
import multiprocessing
import os
import queue
import signal
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import psutil

from tickdeck.core import metrics, naming
from tickdeck.core.collect import DATASET, SOURCE, _dead_letters, finalize_day
from tickdeck.core.deadletters import add_line_dead_letters, add_tick_dead_letters
from tickdeck.core.enrich import enrich, utc_ns_from_date_time
from tickdeck.core.events import LiveBatch, StatisticUpdated
from tickdeck.core.indicators.catalog import is_statistic_symbol, statistic_name
from tickdeck.core.errors import DayNotFound, FeedError, SchemaError, StorageError
from tickdeck.core.ingest import dedupe_tick_ids, new_ingest_id
from tickdeck.core.live_bars import LIVE_BAR_SPECS, LiveBars, publish_ticks
from tickdeck.core.naming import normalize_ticker
from tickdeck.core.progress import Progress
from tickdeck.core.schema import INDEX, RAW_COLUMNS, TZ
from tickdeck.core.config import FeedEndpoint
from tickdeck.core.failover import FailoverPolicy, FeedLink, market_clock
from tickdeck.core.sources.iqfeed import (FLUSH_AFTER_S, CircuitOpen, FeedDisconnected, FeedTimeout, HistoryClient,
                                          InvalidFeedSymbol, NoData)
from tickdeck.core.sources.iqfeed_parse import MalformedReply

log = logging.getLogger(__name__)

JOURNAL_SEGMENT_S = 300.0  # a journal segment takes appends this long, then a new one starts
MATERIALISE_NICE = 5  # the materialiser process runs at a lower CPU priority than the collector
FINALIZE_WAIT_S = 60.0  # a removed symbol's finalisation waits this long (beyond a stop's flush) for its last ticks
STOP_FLUSH_S = 30.0  # a stop's final flush ends within this; what it has not moved stays in the journal
HANDOVER_SHARE = 0.5  # the materialiser's last round gets this share of the limit, then the collector takes over
LATENCY_BIN_MS = 1.0  # latency histogram resolution
LATENCY_MAX_MS = 60_000  # last histogram bin collects everything slower (fixed memory over any run length)
RECENT_BATCHES = 10_000  # per-batch latencies kept (a bounded window, so memory stays flat)
SOURCE_L1 = SOURCE + "-l1"  # dead letters whose text is a Level 1 ``Q`` line
LATE_REASON = "late tick: older than the last acknowledged tick of its day (replay merges it in time order)"
_NO_TIME = np.iinfo(np.int64).min
_DAY_US = 86_400_000_000


def _hist() -> np.ndarray:
    return np.zeros(int(LATENCY_MAX_MS / LATENCY_BIN_MS) + 1, dtype=np.int64)


def _add(hist: np.ndarray, ms) -> None:
    bins = np.minimum((np.asarray(ms, dtype=np.float64) / LATENCY_BIN_MS).astype(np.int64), hist.size - 1)
    hist += np.bincount(np.maximum(bins, 0), minlength=hist.size)


def _percentile(hist: np.ndarray, q: float) -> float | None:
    total = int(hist.sum())
    if not total:
        return None
    i = int(np.searchsorted(np.cumsum(hist), np.ceil(total * q / 100.0), side="left"))
    return (i + 1) * LATENCY_BIN_MS


@dataclass(frozen=True)
class LiveStop:
    """How the final flush of a stop ended: who moved the journal into the days, and what is left.

    The flush is bounded (``stop_timeout`` of :func:`collect_live`): the materialiser's last round
    gets :data:`HANDOVER_SHARE` of it; when it has not reported by then (not started yet, niced
    away on a busy machine, dead) it is killed and the collecting process moves the rest itself,
    segment by segment, until the limit. Journal rows still left then are kept: the next start moves
    them into their days first (:func:`recover_journal`), so nothing acknowledged is lost.
    """

    flushed_by: str  # "materialiser" (its last round), "collector" (took over), "nothing" (no materialiser ran)
    moved: int  # ticks the collector moved itself (the materialiser's are in LiveSummary.appended)
    left_rows: int  # journal rows not moved into their days: kept in the journal for the next start
    left_segments: int
    seconds: float  # how long the flush took
    limit: float
    reason: str = ""  # why the collector took over

    @property
    def complete(self) -> bool:
        """Every acknowledged tick is in its day (the run's journal is empty)."""
        return self.left_rows == 0

    @property
    def message(self) -> str:
        """One line for a log, a job message or a service status."""
        how = {"materialiser": "the materialiser's last round",
               "nothing": "nothing was journaled"}.get(self.flushed_by) or \
            f"the materialiser {self.reason}: the collector moved {self.moved:,} ticks itself"
        if self.complete:
            return f"stopped: every acknowledged tick is in its day ({how}, {self.seconds:.1f} s)"
        return (f"stopped: final flush limit of {self.limit:g} s reached ({how}); {self.left_rows:,} journal "
                f"rows in {self.left_segments} segment(s) are not in their days yet and stay in the journal: "
                f"the next start moves them in first")


@dataclass
class LiveSummary:
    """What a live run did (updated while running; read it after :func:`collect_live` returns)."""

    appended: dict = field(default_factory=dict)  # symbol -> ticks appended to its day
    acknowledged: int = 0  # ticks stored in the journal and published
    duplicates: int = 0
    late: int = 0  # ticks older than the symbol's last acknowledged tick: sent to dead letters
    rejected: int = 0  # ticks the ingest rules or the store refuse: sent to dead letters, never journaled
    bad_lines: int = 0  # Level 1 lines that are not a valid trade: sent to dead letters
    batches: int = 0
    backfills: int = 0
    backfilled: int = 0  # ticks appended from history at the start and after reconnects
    recovered: int = 0  # journal ticks of an earlier run moved into their days at start
    finalized: list = field(default_factory=list)  # (symbol, day)
    switches: list = field(default_factory=list)  # core.events.FeedSwitched: failovers to the backup and back
    feed: str = "primary"  # the feed endpoint active at the end (primary | backup)
    stop: LiveStop | None = None  # how the last flush of the journal (at the stop) ended; None before one
    # oldest line's receive → stored in the journal and published, per non-empty batch (the last RECENT_BATCHES)
    latencies_ms: collections.deque = field(default_factory=lambda: collections.deque(maxlen=RECENT_BATCHES))
    # per Level 1 trade line: receive → stored in the journal and published, 1 ms bins (this run's exact
    # percentiles for the bench and tests; /metrics has the same lines as core.metrics.LINE_LATENCY, all runs)
    line_latency_hist: np.ndarray = field(default_factory=_hist)
    # per batch: oldest line's receive → appended to its symbol-day (what readers of the day see)
    day_latency_hist: np.ndarray = field(default_factory=_hist)

    def add_line_latencies(self, ms) -> None:
        _add(self.line_latency_hist, ms)

    def line_latency_ms(self, q: float) -> float | None:
        """The ``q``-th percentile (0–100) of per-line latency (upper bin edge), None before any line."""
        return _percentile(self.line_latency_hist, q)

    def day_latency_ms(self, q: float) -> float | None:
        """The ``q``-th percentile of receive → visible in the symbol-day, per batch."""
        return _percentile(self.day_latency_hist, q)


class LiveSymbols:
    """The symbols of a running :func:`collect_live`, changeable while it runs (thread-safe).

    :meth:`set` from any thread; the collecting thread applies the change before its next batch
    (within ``batch_seconds``): a removed symbol is unwatched (``r``) and its ticks are no longer
    journaled (what was acknowledged before lands in its day, which is then finalised whole —
    :func:`core.collect.finalize_day`, on a thread of its own); an added one is watched (``w``),
    then its day is filled in from history up to now (its stored ticks first, as at the start
    of a run), so its day has no hole before its first live tick. A symbol the feed does not
    know is dropped again and listed in :attr:`rejected` with the reason; the run goes on.
    """

    def __init__(self, symbols):
        self._lock = threading.Lock()
        self._symbols = tuple(dict.fromkeys(normalize_ticker(s) for s in symbols))
        self.version = 0
        self.rejected: dict[str, str] = {}  # symbol -> why it was dropped while running

    def set(self, symbols) -> None:
        """Collect exactly ``symbols`` from now on."""
        new = tuple(dict.fromkeys(normalize_ticker(s) for s in symbols))
        with self._lock:
            if new != self._symbols:
                self._symbols, self.version = new, self.version + 1
                for s in new:
                    self.rejected.pop(s, None)

    def get(self) -> tuple[int, tuple[str, ...]]:
        """(version, symbols): the version changes with every :meth:`set` that changed them."""
        with self._lock:
            return self.version, self._symbols

    def reject(self, symbol: str, why: str) -> None:
        """Drop ``symbol`` (the feed refused it) without a new version: the run already left it."""
        with self._lock:
            self._symbols = tuple(s for s in self._symbols if s != symbol)
            self.rejected[symbol] = why


class _LiveDay:
    """One symbol's day: the last acknowledged tick (id and ET time of day in µs)."""

    def __init__(self, ctx, symbol: str, day: dt.date):
        self.symbol, self.day = symbol, day
        self.last_id, self.last_time = -1, _NO_TIME
        self.catalogued = False  # the dataset row exists (checked once, not per batch)
        try:
            stored = ctx.store.read_day(symbol, day, columns=["tick_id", "time"])
        except DayNotFound:
            return
        if len(stored):
            self.last_id = int(stored["tick_id"].max())
            t = stored["time"].to_numpy()
            t = t[(t >= 0) & (t < _DAY_US)]  # a corrupt time stored by an older version must not make every tick late
            self.last_time = int(t.max()) if t.size else _NO_TIME


def _enriched(ctx, st: _LiveDay, raw: dict, calendar) -> pd.DataFrame:
    """``raw`` (one symbol-day, new ticks in tick-id order) enriched and in time order."""
    df = enrich(raw, symbol=st.symbol, source=SOURCE, ingest_id=new_ingest_id(SOURCE), calendar=calendar)
    if not df.index.is_monotonic_increasing:  # sorted by tick id already is the usual case: no copy
        df = df.sort_index(kind="stable")
    return df


def _late_to_dead_letters(ctx, source: str, symbols, raw: dict) -> None:
    add_tick_dead_letters(ctx, source, symbols, raw, [LATE_REASON] * int(raw["tick_id"].size))


class _RowChecks:
    """What the ingest rules and the store would refuse, applied to raw ticks before they are
    journaled (or appended from history or an earlier run's journal), so a stored day never
    holds a tick its finalisation would reject and the journal never holds one a day refuses.

    The rules are ``ctx.extras["ingest_rules"]`` (:func:`tickdeck.core.validation.rules.make_ingest_rules`
    with the same configuration, without its flag sink: flags are computed when the whole day
    is written); the store's own checks (finite positive price, size >= 0) and a time of day
    inside the day apply with or without them. A call costs one small frame per batch.
    """

    def __init__(self, ctx, calendar):
        installed = ctx.extras.get("ingest_rules")
        config = getattr(installed, "config", None)
        if config is not None:
            from tickdeck.core.validation.rules import make_ingest_rules

            installed = make_ingest_rules(config)
        self.rules, self.calendar = installed, calendar

    def __call__(self, symbols: np.ndarray, raw: dict) -> tuple[np.ndarray, list[str]]:
        """(rows to keep, the reason of every other row in order) for ticks of one day."""
        n = raw["tick_id"].size
        keep = np.ones(n, dtype=bool)
        reasons = np.empty(n, dtype=object)
        if self.rules is not None and n:
            ns = utc_ns_from_date_time(raw["date"], raw["time"])
            cols = {c: raw[c] for c in RAW_COLUMNS}
            cols.update(session=self.calendar.label_sessions(ns), symbol=symbols, _row=np.arange(n))
            index = pd.DatetimeIndex(ns.view("datetime64[ns]"), name=INDEX).tz_localize("UTC").tz_convert(TZ)
            kept, rejects = self.rules(pd.DataFrame(cols, index=index, copy=False))
            if len(kept) < n:
                keep[:] = False
                keep[kept["_row"].to_numpy()] = True
                gone = np.flatnonzero(~keep)
                reasons[gone] = [r for _, r in rejects] if len(rejects) == gone.size else "refused by the ingest rules"
        last, t = raw["last"], raw["time"]
        for bad, why in ((~((t >= 0) & (t < _DAY_US)), "time is outside the day (00:00:00-23:59:59.999999)"),
                         (~(np.isfinite(last) & (last > 0)), "price must be finite and > 0"),
                         (raw["last_sz"] < 0, "size must be >= 0")):
            bad &= keep
            reasons[bad] = why
            keep &= ~bad
        return keep, list(reasons[~keep])


def _checked(ctx, checks: _RowChecks, st: "_LiveDay", raw: dict, summary: LiveSummary, source: str) -> dict:
    """``raw`` (one symbol-day) without the not yet stored ticks that ``checks`` refuse (dead letters)."""
    fresh = np.flatnonzero(raw["tick_id"] > st.last_id)
    part = {k: v[fresh] for k, v in raw.items()}
    keep, reasons = checks(np.full(fresh.size, st.symbol, dtype=object), part)
    if keep.all():
        return raw
    summary.rejected += len(reasons)
    add_tick_dead_letters(ctx, source, np.full(len(reasons), st.symbol, dtype=object),
                      {k: v[~keep] for k, v in part.items()}, reasons)
    drop = np.zeros(raw["tick_id"].size, dtype=bool)
    drop[fresh[~keep]] = True
    return {k: v[~drop] for k, v in raw.items()}


def _new_ticks(ctx, st: _LiveDay, raw: dict, summary: LiveSummary, source: str = SOURCE_L1) -> dict | None:
    """The ticks of ``raw`` (one symbol-day) not yet acknowledged, in tick-id order, or None;
    advances the resume point."""
    raw, dups = dedupe_tick_ids(raw)
    new = raw["tick_id"] > st.last_id
    summary.duplicates += dups + int((~new).sum())
    order = np.flatnonzero(new)[np.argsort(raw["tick_id"][new], kind="stable")]
    raw = {k: v[order] for k, v in raw.items()}
    late = raw["time"] < st.last_time
    if late.any():  # arrived after a later tick was stored: keep it for replay, never reorder stored data
        summary.late += int(late.sum())
        _late_to_dead_letters(ctx, source, np.full(int(late.sum()), st.symbol, dtype=object),
                              {k: v[late] for k, v in raw.items()})
        raw = {k: v[~late] for k, v in raw.items()}
    if raw["tick_id"].size == 0:
        return None
    st.last_id = max(st.last_id, int(raw["tick_id"].max()))
    st.last_time = max(st.last_time, int(raw["time"].max()))
    return raw


def _commit(ctx, st: _LiveDay, df: pd.DataFrame, info, summary: LiveSummary, calendar, infos: list) -> int:
    """Book a frame appended to its day: catalog row (into ``infos`` for one upsert), counters."""
    infos.append(info)
    if not st.catalogued:
        if ctx.catalog.dataset(st.symbol) is None:
            ctx.catalog.upsert_dataset(st.symbol, source=SOURCE, calendar=calendar.name, **DATASET)
        st.catalogued = True
    summary.appended[st.symbol] = summary.appended.get(st.symbol, 0) + len(df)
    metrics.ticks("stored", len(df))
    return len(df)


def _append_to_days(ctx, items: list[tuple[_LiveDay, dict]], summary: LiveSummary, calendar) -> list:
    """Enrich and append new ticks to their days in one batched append; book them.

    Returns ``(state, raw, error)`` for every item that was not stored (the others are stored
    and booked).
    """
    frames, failed = [], []
    for st, raw in items:
        if raw["tick_id"].size:
            try:
                frames.append((st, raw, _enriched(ctx, st, raw, calendar)))
            except SchemaError as e:
                failed.append((st, raw, e))
    infos: list = []
    results = ctx.store.append_days_batch([(st.symbol, st.day, df) for st, _, df in frames])
    for (st, raw, df), res in zip(frames, results):
        if isinstance(res, Exception):
            failed.append((st, raw, res))
        else:
            _commit(ctx, st, df, res, summary, calendar, infos)
    ctx.catalog.upsert_tick_days(infos)
    return failed


def _store(ctx, items: list[tuple[_LiveDay, dict]], summary: LiveSummary, calendar, source: str) -> list:
    """:func:`_append_to_days`; ticks their day refuses (``SchemaError``) become dead letters.
    Returns the items that were stored.

    Raises
    ------
    TickdeckError
        Any other failure (storage): what is in the journal stays there for the next start.
    """
    failed = _append_to_days(ctx, items, summary, calendar)
    for _, _, e in failed:
        if not isinstance(e, SchemaError):
            raise e
    for st, raw, e in failed:
        n = raw["tick_id"].size
        summary.rejected += n
        add_tick_dead_letters(ctx, source, np.full(n, st.symbol, dtype=object), raw,
                          [f"not stored in {st.symbol} {st.day}: {e}"] * n)
    refused = {id(raw) for _, raw, _ in failed}
    return [(st, raw) for st, raw in items if id(raw) not in refused and raw["tick_id"].size]


class _Journal:
    """The day's write-ahead journal: acknowledged raw ticks of all symbols, one append per batch.

    Segments (``<day>/<pid>-<ns>``: the writing process and creation time) roll every
    ``segment_seconds`` and whenever the materialiser stops; a segment that is not the newest
    one of its writer's day receives no more rows, so the materialiser may delete it once read.
    """

    def __init__(self, ctx, day: dt.date, segment_seconds: float = JOURNAL_SEGMENT_S):
        self.ctx, self.day, self.segment_seconds = ctx, day, segment_seconds
        self.segment: str | None = None
        self.opened, self.rows = 0.0, 0

    def append(self, frame: dict) -> None:
        now = time.monotonic()
        if self.segment is None or now - self.opened >= self.segment_seconds:
            self.segment, self.opened, self.rows = f"{os.getpid()}-{time.time_ns()}", now, 0
        n = frame["tick_id"].size
        df = pd.DataFrame(frame, index=pd.RangeIndex(self.rows, self.rows + n), copy=False)
        self.ctx.store.append_series(naming.JOURNAL_LIBRARY, naming.journal_symbol(self.day, self.segment), df)
        self.rows += n

    def roll(self) -> None:
        """Close the current segment: the next append starts a new one."""
        self.segment = None


class _Materialiser:
    """A child process moving journaled ticks into their symbol-days every ``interval`` seconds.

    It runs in its own process because ArcticDB writes from another thread of the collecting
    process queue on the same native thread pools and would delay the journal appends.
    :meth:`close` makes it do a last round (every segment of the day is then in its days and
    deleted) within a time limit, and takes over when it does not (see :class:`LiveStop`).
    """

    def __init__(self, settings, day: dt.date, interval: float):
        mpc = multiprocessing.get_context("spawn")
        self.day = day
        self._stop, self._ready, self._report = mpc.Event(), mpc.Event(), mpc.Queue()
        self.proc = mpc.Process(target=_materialise_main, name="tickdeck-live-materialise", daemon=True,
                                args=(settings, day.isoformat(), interval, os.getpid(), self._stop, self._report,
                                      self._ready))
        # Ctrl-C reaches the whole foreground process group: the child must not die of it half-way
        # (the collector's stop drives its last round). Blocked here, the signals stay blocked in the
        # child from its first instruction (a spawned interpreter inherits the mask); it then ignores them.
        mask = getattr(signal, "pthread_sigmask", None)  # POSIX only
        held = mask(signal.SIG_BLOCK, _PARENT_SIGNALS) if mask else None
        try:
            self.proc.start()
        finally:
            if mask:
                mask(signal.SIG_SETMASK, held)

    def check(self) -> None:
        """Raise when the process has died."""
        if not self.proc.is_alive():
            raise self._failure(self._collect(0.5))

    def _collect(self, timeout: float) -> dict | None:
        try:
            return self._report.get(timeout=max(timeout, 0.0))
        except queue.Empty:
            return None

    def _failure(self, report: dict | None) -> Exception:
        why = (report or {}).get("error") or f"exited with code {self.proc.exitcode}"
        return StorageError("journal", "materialise", f"{why}; the journal keeps the ticks for the next start")

    def _last_round(self, until: float) -> tuple[dict | None, str]:
        """The child's report of its last round, or None and why there is none by ``until``."""
        if not self._ready.is_set():  # still starting (a spawned interpreter, niced): it has written nothing
            return None, "had not started yet"
        while True:
            report = self._collect(min(0.5, until - time.monotonic()))
            if report is not None:
                return report, ""
            if not self.proc.is_alive() and self._report.empty():
                return None, f"exited with code {self.proc.exitcode}"
            if time.monotonic() >= until:
                return None, f"did not finish its last round within {until - self._t0:.1f} s"

    def close(self, summary: "LiveSummary", ctx, calendar, limit: float = STOP_FLUSH_S) -> LiveStop:
        """Last round within ``limit`` seconds, then merge its counts into ``summary``; returns how
        the flush ended (also set as ``summary.stop``). Raises when the child reported a failure.

        Warnings
        --------
        When the child has not reported after :data:`HANDOVER_SHARE` of ``limit`` it is killed
        (a kill half-way through a round is safe: the collector's flush skips ticks already in
        their days and rewrites the catalog rows of the days it touches) and the collecting
        process moves the rest of the journal itself until ``limit``.
        """
        self._t0 = time.monotonic()
        deadline = self._t0 + max(limit, 0.0)
        self._stop.set()
        report, why = self._last_round(self._t0 + max(limit, 0.0) * HANDOVER_SHARE)
        if report is not None and report.get("error"):
            self.proc.join(timeout=5)
            raise self._failure(report)
        if report is not None:
            self.proc.join(timeout=max(deadline - time.monotonic(), 1.0))
            for sym, n in report["appended"].items():
                summary.appended[sym] = summary.appended.get(sym, 0) + n
            summary.duplicates += report["duplicates"]
            summary.day_latency_hist += report["day_latency_hist"]
            left, segs = _journal_left(ctx, self.day, os.getpid())
            summary.stop = LiveStop("materialiser", 0, left, segs, time.monotonic() - self._t0, limit)
            return summary.stop
        self.proc.kill()
        self.proc.join(timeout=5)
        moved, left, segs = _flush_journal(ctx, self.day, os.getpid(), calendar, summary, deadline)
        summary.stop = LiveStop("collector", moved, left, segs, time.monotonic() - self._t0, limit, why)
        return summary.stop


def _journal_left(ctx, day: dt.date, writer: int) -> tuple[int, int]:
    """(rows, segments) of ``writer``'s journal of ``day`` that are still stored."""
    names = _segments(ctx, day, writer)
    rows = 0
    for name in names:
        rows += len(ctx.store.read_series(naming.JOURNAL_LIBRARY, name, columns=["tick_id"])[0])
    return rows, len(names)


def _segments(ctx, day: dt.date, writer: int) -> list[str]:
    """``writer``'s journal segments of ``day``, oldest first."""
    keys = [(naming.parse_journal_symbol(n), n)
            for n in ctx.store.list_series(naming.JOURNAL_LIBRARY, prefix=f"{naming.format_day(day)}/")]
    return [n for k, n in sorted(keys, key=lambda kn: kn[0].created_ns) if k.pid == writer]


def _store_journal_rows(ctx, rows: pd.DataFrame, day: dt.date, states: dict, calendar,
                        summary: LiveSummary, book_always: bool = False) -> None:
    """Append journal ``rows`` (any symbols) to their days, skipping ticks already there, and book their
    receive → in-the-day latency (only when they added ticks, unless ``book_always``)."""
    items = []
    for sym, part in rows.groupby("symbol", sort=True):
        st = states.get(sym) or states.setdefault(sym, _LiveDay(ctx, sym, day))
        raw = _new_ticks(ctx, st, {c: part[c].to_numpy() for c in RAW_COLUMNS}, summary)
        if raw is not None:
            items.append((st, raw))
    _store(ctx, items, summary, calendar, SOURCE_L1)
    if items or book_always:
        _add(summary.day_latency_hist, (time.time() - np.unique(rows["received"].to_numpy())) * 1000)


def _flush_journal(ctx, day: dt.date, writer: int, calendar, summary: LiveSummary,
                   deadline: float) -> tuple[int, int, int]:
    """The collector's own final flush: move ``writer``'s journal of ``day`` into the days, one
    segment at a time (oldest first) while ``deadline`` (monotonic) has not passed, deleting each
    segment once its rows are in their days. Ticks already in their days (a round the killed
    materialiser finished) are skipped, and the catalog rows of every day touched are rewritten
    from the store (the materialiser may have died between a day append and its catalog row).

    Returns (ticks moved, journal rows left, segments left).
    """
    before = sum(summary.appended.values())
    states: dict[str, _LiveDay] = {}
    names = _segments(ctx, day, writer)
    done = 0
    for name in names:
        if time.monotonic() >= deadline:
            break
        rows = ctx.store.read_series(naming.JOURNAL_LIBRARY, name)[0]
        _store_journal_rows(ctx, rows, day, states, calendar, summary)
        ctx.store.delete_series(naming.JOURNAL_LIBRARY, name)
        done += 1
    infos = []
    for sym in states:
        try:
            infos.append(ctx.store.day_info(sym, day))
        except DayNotFound:
            continue
    ctx.catalog.upsert_tick_days(infos)
    left = 0
    for name in names[done:]:
        left += len(ctx.store.read_series(naming.JOURNAL_LIBRARY, name, columns=["tick_id"])[0])
    return sum(summary.appended.values()) - before, left, len(names) - done


_PARENT_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # handled by the collecting process only


def _die_with_parent() -> None:
    try:  # Linux: SIGKILL this process when the collecting process dies (kill -9 included)
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _materialise_main(settings, day_iso: str, interval: float, parent: int, stop, report, ready) -> None:
    """The materialiser process: tail the day's journal segments, append new rows to the days.

    It ignores SIGINT and SIGTERM (a Ctrl-C reaches the whole process group): the collecting
    process stops it through ``stop`` after a last round, and its death kills this process.
    """
    for sig in _PARENT_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    _die_with_parent()
    os.nice(MATERIALISE_NICE)  # the acknowledging process comes first when the CPU is short
    from tickdeck.core.context import Context

    ctx = Context.open(settings)
    day = dt.date.fromisoformat(day_iso)
    summary, states, cursors = LiveSummary(), {}, {}
    try:
        cal = ctx.calendar()
        ready.set()  # from here on a stop waits for this process's last round (before, it takes over)
        while True:
            deadline = time.monotonic() + interval
            while not stop.is_set() and time.monotonic() < deadline:
                stop.wait(min(0.5, max(deadline - time.monotonic(), 0.0)))
                if os.getppid() != parent:  # orphaned: the next collector recovers the journal
                    return
            final = stop.is_set()
            _materialise_round(ctx, day, parent, cal, states, cursors, summary, final)
            if final:
                break
        report.put({"appended": summary.appended, "duplicates": summary.duplicates,
                    "day_latency_hist": summary.day_latency_hist})
    except Exception as e:  # noqa: BLE001 - reported to the collecting process
        report.put({"error": f"{type(e).__name__}: {e}"})
    finally:
        ctx.close()


def _materialise_round(ctx, day: dt.date, writer: int, calendar, states: dict, cursors: dict,
                       summary: LiveSummary, final: bool) -> None:
    """Read every journal segment of ``day`` written by process ``writer`` past its cursor; append
    the new rows to their days; delete segments no longer written (all of them when ``final``)."""
    t0 = time.perf_counter()
    segments = _segments(ctx, day, writer)
    frames = []
    for name in segments:
        df = ctx.store.read_series(naming.JOURNAL_LIBRARY, name, row_range=(cursors.get(name, 0), None))[0]
        cursors[name] = cursors.get(name, 0) + len(df)
        frames.append(df)
    rows = pd.concat(frames) if frames else None
    if rows is not None and len(rows):
        _store_journal_rows(ctx, rows, day, states, calendar, summary, book_always=True)
    for name in segments if final else segments[:-1]:
        ctx.store.delete_series(naming.JOURNAL_LIBRARY, name)
        cursors.pop(name, None)
    metrics.materialiser_round(time.perf_counter() - t0, None if rows is None else rows["received"].to_numpy())


def recover_journal(ctx, calendar, summary: LiveSummary, checks: _RowChecks | None = None) -> list[tuple[str, dt.date]]:
    """Move journal rows of earlier runs that are not in their days yet into them, then delete
    those segments. Segments of a collector still running (its pid is alive) are left to it.
    Returns the (symbol, day) pairs touched.

    A row its day cannot take (one the ingest rules or the store refuse, or a time outside the
    day, journaled by an older version) becomes a dead letter instead of blocking the start.

    Raises
    ------
    StorageError
        Storage failed: the segment stays for the next start.
    """
    checks = checks or _RowChecks(ctx, calendar)
    touched = []
    for name in ctx.store.list_series(naming.JOURNAL_LIBRARY):
        key = naming.parse_journal_symbol(name)
        if key.pid != os.getpid() and psutil.pid_exists(key.pid):
            continue
        day = key.day
        df, _ = ctx.store.read_series(naming.JOURNAL_LIBRARY, name)
        items = []
        for sym, rows in df.groupby("symbol", sort=True):
            st = _LiveDay(ctx, sym, day)
            raw = _checked(ctx, checks, st, {c: rows[c].to_numpy() for c in RAW_COLUMNS}, summary, SOURCE_L1)
            raw = _new_ticks(ctx, st, raw, summary)
            if raw is not None:
                items.append((st, raw))
                touched.append((sym, day))
                summary.recovered += raw["tick_id"].size
        _store(ctx, items, summary, calendar, SOURCE_L1)
        ctx.store.delete_series(naming.JOURNAL_LIBRARY, name)
    return sorted(set(touched))


def _backfill(ctx, hist: HistoryClient, states: dict, summary: LiveSummary, calendar, checks: _RowChecks,
              bars: LiveBars | None = None, journal: "_Journal | None" = None) -> int:
    """Fetch from the last acknowledged tick (or the day's start) to now; append what is new,
    publish it (``ticks.<SYM>``, ``origin="history"``) and hand it to ``bars``; returns how many.

    With ``journal`` the new ticks are acknowledged like live ones (one journal append, moved into
    the days by the materialiser after what was journaled before them) instead of appended to the
    days here: a gap fill after a reconnect or a feed switch then does not wait for the
    materialiser's last round."""
    summary.backfills += 1
    items = []
    for sym, st in states.items():
        start = pd.Timestamp(st.day)
        if st.last_time != _NO_TIME:
            start += pd.Timedelta(microseconds=st.last_time)
        try:
            parsed = hist.ticks_between(sym, start.floor("s").to_pydatetime(), None)
        except NoData:
            continue
        except MalformedReply as e:  # not one usable line: its lines are dead letters, the stream goes on
            _dead_letters(ctx, sym, e.bad)
            continue
        _dead_letters(ctx, sym, parsed.bad)
        raw = parsed.raw
        on_day = raw["date"] == st.day.year * 10000 + st.day.month * 100 + st.day.day
        raw = _checked(ctx, checks, st, {k: v[on_day] for k, v in raw.items()}, summary, SOURCE)
        raw = _new_ticks(ctx, st, raw, summary, SOURCE)
        if raw is not None:
            items.append((st, raw))
            summary.backfilled += raw["tick_id"].size
    if journal is not None and items:
        frame = {"symbol": np.concatenate([np.full(raw["tick_id"].size, st.symbol, dtype=object) for st, raw in items])}
        frame.update({c: np.concatenate([raw[c] for _, raw in items]) for c in RAW_COLUMNS})
        frame["received"] = np.full(frame["symbol"].size, time.time())
        journal.append(frame)
        stored = items
    else:
        stored = _store(ctx, items, summary, calendar, SOURCE)
    for st, raw in stored:
        symbols = np.full(raw["tick_id"].size, st.symbol, dtype=object)
        ts = utc_ns_from_date_time(raw["date"], raw["time"])
        publish_ticks(ctx.bus, st.day.isoformat(), "history", symbols, raw, ts)
        if bars is not None:
            bars.feed(symbols, raw, ts)
    return sum(raw["tick_id"].size for _, raw in stored)


def _stored_bar_inputs(ctx, symbols, day: dt.date) -> dict:
    """What the live bars of ``day`` start from: each symbol's stored ticks (time, price, size, quote)."""
    out = {}
    for sym in symbols:
        try:
            df = ctx.store.read_day(sym, day, columns=["last", "last_sz", "bid", "ask"])
        except DayNotFound:
            out[sym] = tuple(np.empty(0) for _ in range(5))
            continue
        out[sym] = (df.index.asi8.astype(np.int64), df["last"].to_numpy(np.float64),
                    df["last_sz"].to_numpy(np.float64), df["bid"].to_numpy(np.float64), df["ask"].to_numpy(np.float64))
    return out


def _journal_batch(states: list[_LiveDay], index: dict[str, int], parsed, day_int: int, ctx,
                   summary: LiveSummary, checks: _RowChecks) -> dict | None:
    """The batch's new ticks of all symbols as one journal frame (``symbol`` + raw columns),
    ordered by symbol then tick id; advances every symbol's resume point.

    Vectorised over the batch: a row is new when its (symbol, tick id) pair is not repeated and
    the id is above the symbol's last acknowledged one; a new row older than the symbol's last
    acknowledged trade is late, and one the ingest rules or the store refuse is rejected (both
    dead letters, as replayable ``Q`` lines)."""
    raw = parsed.raw
    if raw["tick_id"].size == 0:
        return None
    lookup = np.array([index.get(s, -1) for s in parsed.symbol_names], dtype=np.int64)
    sid = lookup[parsed.symbol_index] if lookup.size else np.full(raw["tick_id"].size, -1)
    keep = np.flatnonzero((sid >= 0) & (raw["date"] == day_int))
    order = keep[np.lexsort((raw["tick_id"][keep], sid[keep]))]  # by symbol, then tick id
    sid, tid, tod = sid[order], raw["tick_id"][order], raw["time"][order]
    last_id = np.array([st.last_id for st in states], dtype=np.int64)
    last_time = np.array([st.last_time for st in states], dtype=np.int64)
    repeated = np.zeros(sid.size, dtype=bool)
    repeated[1:] = (sid[1:] == sid[:-1]) & (tid[1:] == tid[:-1])
    new = ~repeated & (tid > last_id[sid])
    late = new & (tod < last_time[sid])
    ok = new & ~late
    summary.duplicates += int(sid.size - new.sum())
    names = np.array([st.symbol for st in states], dtype=object)
    if late.any():  # arrived after a later tick was acknowledged: keep it for replay, never reorder
        summary.late += int(late.sum())
        _late_to_dead_letters(ctx, SOURCE_L1, names[sid[late]], {k: raw[k][order[late]] for k in RAW_COLUMNS})
    if not ok.any():
        return None
    sid = sid[ok]
    rows = {k: raw[k][order[ok]] for k in RAW_COLUMNS}
    fine, reasons = checks(names[sid], rows)
    if not fine.all():  # the rules run before the journal: nothing journaled is refused later
        summary.rejected += len(reasons)
        add_tick_dead_letters(ctx, SOURCE_L1, names[sid[~fine]], {k: v[~fine] for k, v in rows.items()}, reasons)
        sid, rows = sid[fine], {k: v[fine] for k, v in rows.items()}
        if sid.size == 0:
            return None
    np.maximum.at(last_id, sid, rows["tick_id"])
    np.maximum.at(last_time, sid, rows["time"])
    for s in np.unique(sid):
        states[s].last_id, states[s].last_time = int(last_id[s]), int(last_time[s])
    frame = {"symbol": names[sid]}
    frame.update(rows)
    return frame


def publish_statistics(bus, stats) -> int:
    """Publish each statistic update of a Level 1 batch (:class:`tickdeck.core.sources.iqfeed_l1.ParsedStatistics`)
    as a :class:`core.events.StatisticUpdated` on ``indicators``; returns how many.

    A handful per second (one per watched statistic symbol), so one event per update."""
    if not len(stats):
        return 0
    at = utc_ns_from_date_time(stats.date, stats.time)
    for sym, value, day, ns in zip(stats.symbol, stats.value.tolist(), stats.date.tolist(), at.tolist()):
        iso = f"{day // 10000:04d}-{day // 100 % 100:02d}-{day % 100:02d}"
        bus.publish(StatisticUpdated(sym, statistic_name(sym), iso, int(ns), value))
    return len(stats)


def collect_live(ctx, symbols, *, batch_seconds: float = 1.0, flush_after: float = FLUSH_AFTER_S,
                 stop_event: threading.Event,
                 host: str | None = None, port_history: int | None = None, port_l1: int | None = None,
                 progress=None, finalize: bool = True, first_heartbeat_timeout: float = 10.0,
                 segment_seconds: float = JOURNAL_SEGMENT_S, bar_specs=LIVE_BAR_SPECS,
                 stop_timeout: float = STOP_FLUSH_S, backup: FeedEndpoint | None = None,
                 failover: FailoverPolicy | None = None, clock=None) -> LiveSummary:
    """Stream trades into the current day until ``stop_event`` is set.

    ``symbols`` is a list, or a :class:`LiveSymbols` whose symbols may change while the run
    goes on (see there). The current day is the server's (its ``T`` heartbeat). Lines are acknowledged (journaled
    and published) once the oldest of them is ``flush_after`` seconds old, and appended to
    their symbol-days every ``batch_seconds`` by the materialiser process. At the end of the
    day's extended session every symbol's day is finalised (:func:`tickdeck.core.collect.finalize_day`)
    and collection moves on. Each symbol's new ticks are published on ``ticks.<SYM>`` and the
    bars of ``bar_specs`` on ``bars.<SYM>.<spec>`` as they close (:mod:`core.live_bars`).

    A stop (``stop_event``) is bounded: the final flush of the journal into the days ends within
    ``stop_timeout`` seconds, and ``summary.stop`` (:class:`LiveStop`) says what it moved and what
    stays in the journal for the next start.

    With a backup endpoint (``backup``, default ``ctx.settings.backup_feed``) collection fails over
    to it when the primary fails and comes back when the primary is healthy again
    (:mod:`core.failover`; ``failover`` the policy, default from the settings; ``clock`` epoch
    seconds of the market clock for the "no trade for N seconds" rule, default
    :func:`core.failover.market_clock`). After each switch the gap is filled from the new feed's
    history; ``summary.switches`` lists the switches.

    Raises
    ------
    FeedError
        The Level 1 port sent no heartbeat within ``first_heartbeat_timeout`` seconds.
    StorageError
        Appending to the journal or a day failed (what was acknowledged stays in the journal
        and is recovered at the next start).
    """
    live_symbols = symbols if isinstance(symbols, LiveSymbols) else LiveSymbols(symbols)
    applied, initial = live_symbols.get()
    syms = [s for s in initial if not is_statistic_symbol(s)]  # tick symbols: days, journal, bars
    stat_syms = [s for s in initial if is_statistic_symbol(s)]  # DTN statistics: StatisticUpdated only
    finalizing: dict[str, threading.Thread] = {}  # removed symbols whose day is being finalised
    added_while_running: set[str] = set()  # a feed's "unknown symbol" for these drops them instead of failing the run
    host = host or ctx.settings.feed_host
    cal = ctx.calendar()
    summary = LiveSummary()
    checks = _RowChecks(ctx, cal)
    recovered = recover_journal(ctx, cal, summary, checks)
    link = FeedLink(FeedEndpoint(host, port_history or ctx.settings.feed_port_history,
                                 port_l1 or ctx.settings.feed_port_l1),
                    backup if backup is not None else ctx.settings.backup_feed, bus=ctx.bus, calendar=cal,
                    clock=clock or market_clock(ctx.settings),
                    policy=failover or FailoverPolicy.from_settings(ctx.settings))
    bars = LiveBars(ctx, cal, bar_specs)
    index = {s: i for i, s in enumerate(syms)}
    states: list[_LiveDay] = []
    cur_day: dt.date | None = None  # the day being collected (set by the first heartbeat)
    journal: _Journal | None = None
    mat: _Materialiser | None = None
    t_start = time.monotonic()

    def settle() -> None:
        """Everything journaled is in its day: stop the materialiser after its last round (bounded by
        ``stop_timeout``; ``summary.stop`` says what is left in the journal when the limit was hit)."""
        nonlocal mat
        if journal is not None:
            journal.roll()
        if mat is not None:
            m, mat = mat, None
            m.close(summary, ctx, cal, stop_timeout)

    def change_symbols(wanted: tuple[str, ...], day: dt.date | None) -> None:
        """Apply a new symbol set between two batches (see :class:`LiveSymbols`)."""
        nonlocal states, index
        stats_now = [s for s in wanted if is_statistic_symbol(s)]
        link.unwatch([s for s in stat_syms if s not in stats_now])
        link.watch([s for s in stats_now if s not in stat_syms])
        stat_syms[:] = stats_now
        wanted = tuple(s for s in wanted if not is_statistic_symbol(s))
        added = [s for s in wanted if s not in index]
        removed = [s for s in syms if s not in set(wanted)]
        link.unwatch(removed)
        link.watch(added)  # first: what trades from now on arrives live; history fills in what came before
        added_while_running.update(added)
        before = dict(zip(syms, states))
        syms[:] = list(wanted)
        index = {s: i for i, s in enumerate(syms)}
        if day is None:  # no day yet: the first day starts with the new set
            return
        if added:  # what is journaled goes to the days first (a re-added symbol resumes after it)
            settle()
        for s in added:  # removed earlier today: its finalisation ends first; the day's end finalises it again
            if s in finalizing:
                finalizing.pop(s).join()
            if (s, day) in summary.finalized:
                summary.finalized.remove((s, day))
        states = [before.get(s) or _LiveDay(ctx, s, day) for s in syms]
        if removed:
            bars.drop_symbols(removed)
            for s in removed if finalize else ():
                if (s, day) not in summary.finalized and before[s].last_id >= 0:
                    finalizing[s] = threading.Thread(target=finalize_removed, args=(s, day, before[s].last_id),
                                                     daemon=True, name=f"tickdeck-finalize-{s}")
                    finalizing[s].start()
        if added:
            bars.add_symbols(_stored_bar_inputs(ctx, added, day))
            if cal.is_trading_day(day):
                for s in added:  # one by one: a symbol history does not know is dropped alone
                    try:
                        backfill({s: states[index[s]]})
                    except InvalidFeedSymbol as e:
                        drop_unknown(s, str(e))

    def finalize_removed(symbol: str, day: dt.date, last_id: int) -> None:
        """A removed symbol's day rewritten whole (:func:`core.collect.finalize_day`) once the materialiser
        has moved its last acknowledged tick (``last_id``) into it; on a thread of its own, so the other
        symbols' acknowledgements do not wait for it (nothing more is journaled for it)."""
        deadline = time.monotonic() + stop_timeout + FINALIZE_WAIT_S
        try:
            while True:
                try:
                    ids = ctx.store.read_day(symbol, day, columns=["tick_id"])["tick_id"].to_numpy()
                except DayNotFound:
                    ids = np.empty(0, dtype=np.int64)
                if (ids.size and int(ids.max()) >= last_id) or time.monotonic() >= deadline:
                    break
                time.sleep(min(batch_seconds, 0.5))
            if ids.size:
                finalize_day(ctx, symbol, day)
                summary.finalized.append((symbol, day))
        except Exception:  # noqa: BLE001 - the day stays as collected; the close's finalisation retries it
            log.exception("finalising %s %s after its removal from live collection failed", symbol, day)

    def backfill(which: dict, *, journaled: bool = False) -> None:
        """Fill ``which`` (symbol -> day state) in from the active feed's history (``journaled``: through
        the journal, see :func:`_backfill`); when that feed's history fails and a backup is configured,
        the link switches and the next batch (flagged ``reconnected``) fills the gap from the other
        feed instead."""
        nonlocal mat
        try:
            n = _backfill(ctx, link.hist, which, summary, cal, checks, bars, journal if journaled else None)
        except (FeedTimeout, FeedDisconnected, CircuitOpen) as e:
            if not link.request_switch("history_failed", str(e)):
                raise
            return
        if journaled and n and mat is None:
            mat = _Materialiser(ctx.settings, journal.day, batch_seconds)

    def drop_unknown(symbol: str, why: str) -> None:
        nonlocal states, index
        live_symbols.reject(symbol, why or f"IQFeed does not know symbol {symbol}")
        link.unwatch([symbol])
        if states:
            states = [st for s, st in zip(syms, states) if s != symbol]
            bars.drop_symbols([symbol])
        syms.remove(symbol)
        index = {s: i for i, s in enumerate(syms)}

    try:
        link.connect(syms + stat_syms)
        for batch in link.batches(batch_seconds=batch_seconds, stop_event=stop_event, flush_after=flush_after):
            for u in (normalize_ticker(x) for x in batch.unknown):
                if u in stat_syms:  # a statistic the feed does not serve: dropped, the run goes on
                    stat_syms.remove(u)
                    live_symbols.reject(u, f"IQFeed does not serve statistic {u}")
                    link.unwatch([u])
            if len(batch.parsed.stats):
                publish_statistics(ctx.bus, batch.parsed.stats)
            unknown = [u for u in (normalize_ticker(x) for x in batch.unknown) if u in index]
            for u in [u for u in unknown if u in added_while_running]:
                drop_unknown(u, f"IQFeed does not know symbol {u}")
            if [u for u in unknown if u not in added_while_running]:
                raise InvalidFeedSymbol(f"IQFeed does not know symbol(s) {', '.join(batch.unknown)}")
            version, wanted = live_symbols.get()
            if version != applied:
                applied = version
                change_symbols(wanted, cur_day)
            if batch.server_time is None:
                if time.monotonic() - t_start > first_heartbeat_timeout:
                    raise FeedError(f"no Level 1 heartbeat from {host} within {first_heartbeat_timeout:g}s")
                continue
            if mat is not None:
                mat.check()
            day = batch.server_time.date()
            if cur_day != day:  # (a watch list of statistics only has no tick states, but a day)
                cur_day = day
                settle()
                for sym, d in recovered:  # an earlier run's unfinished day: finalise it now
                    if finalize and d < day and cal.is_trading_day(d) and (sym, d) not in summary.finalized:
                        finalize_day(ctx, sym, d)
                        summary.finalized.append((sym, d))
                states, journal = [_LiveDay(ctx, s, day) for s in syms], _Journal(ctx, day, segment_seconds)
                bars.start_day(_stored_bar_inputs(ctx, syms, day))
                if cal.is_trading_day(day):
                    backfill(dict(zip(syms, states)))
            elif batch.reconnected:  # history fills the gap through the journal, after what was journaled
                backfill(dict(zip(syms, states)), journaled=True)
            summary.switches[:] = link.switches
            summary.feed = link.role
            if link.switch_pending:  # the next batch comes from the other feed, whose history fills in from
                continue             # the last acknowledged tick: journaling this one would skip a gap
            summary.batches += 1
            if batch.parsed.bad:  # the line is kept with its reason and symbol; the stream goes on
                summary.bad_lines += len(batch.parsed.bad)
                add_line_dead_letters(ctx, SOURCE_L1, batch.parsed.bad)
            frame = _journal_batch(states, index, batch.parsed, day.year * 10000 + day.month * 100 + day.day,
                                   ctx, summary, checks)
            n = 0 if frame is None else frame["tick_id"].size
            if n:
                frame["received"] = np.full(n, time.time() - (time.perf_counter() - batch.received_at))
                journal.append(frame)
                ts = utc_ns_from_date_time(frame["date"], frame["time"])
                publish_ticks(ctx.bus, day.isoformat(), "live", frame["symbol"], frame, ts)
            ctx.bus.publish(LiveBatch(tuple(syms), int(n), summary.batches, batch.server_time.isoformat()))
            if n:  # stored and published
                done = time.perf_counter()
                summary.acknowledged += n
                summary.latencies_ms.append((done - batch.received_at) * 1000)
                summary.add_line_latencies((done - batch.line_received) * 1000)
                metrics.live_acknowledged(n, done - batch.line_received)  # Prometheus: counter and histogram
                bars.feed(frame["symbol"], frame, ts)
                if mat is None:
                    mat = _Materialiser(ctx.settings, day, batch_seconds)
            if progress:
                progress(Progress("live", summary.acknowledged, 0, f"{summary.batches} batches" + (
                    f" (on the backup feed {link.active})" if link.role == "backup" else "")))
            if finalize and cal.is_trading_day(day) and \
                    pd.Timestamp(batch.server_time).tz_localize("America/New_York") >= cal.bounds(day).after_close:
                pending = [st for st in states if (st.symbol, day) not in summary.finalized]
                if pending:
                    bars.end_day()
                    settle()
                    for st in pending:
                        if ctx.store.has_day(st.symbol, day):
                            finalize_day(ctx, st.symbol, day)
                            summary.finalized.append((st.symbol, day))
    finally:
        link.close()
        bars.close()
        settle()
        for t in finalizing.values():  # removed symbols' days: their last ticks are in them now
            t.join()
        if summary.stop is None:  # no tick was journaled: nothing to flush
            summary.stop = LiveStop("nothing", 0, 0, 0, 0.0, stop_timeout)
    return summary
