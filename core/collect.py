"""Collection from IQFeed (or the bundled emulator) into the store: whole days and live.

* :func:`collect_days` — for each symbol and trading day: one ``HTT`` request for the day, bulk
  parse, bad lines to the dead-letter table, then :func:`core.ingest.ingest_day` with
  ``source="iqfeed"`` (enrich, ingest rules, atomic whole-day write, catalog row,
  ``after_write`` hooks). A reply is used only once complete, so a cut or stalled reply writes
  nothing; re-collecting a day replaces it (idempotent).
* :func:`collect_live` — watches Level 1 and appends micro-batches (flushed when the oldest
  line is ``flush_after`` old) to the current day, all symbols in one ``Store.append_days_batch``. Before streaming (and after every reconnect) it backfills from history
  starting at the last stored tick, so a crash or disconnect loses nothing; ticks whose id is
  not above the last stored one are dropped, so nothing is stored twice (IQFeed tick ids rise
  within a symbol-day). At the end of the extended session the day is rewritten whole through
  ``ingest_day`` (:func:`finalize_day`) so derived columns span the whole day and hooks run.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import collections
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.enrich import enrich
from core.errors import DayNotFound, FeedError
from core.ingest import IngestResult, dedupe_tick_ids, ingest_day, new_ingest_id
from core.naming import as_date, normalize_ticker
from core.progress import Progress
from core.schema import RAW_COLUMNS
from core.sources.iqfeed import FLUSH_AFTER_S, HistoryClient, InvalidFeedSymbol, Level1Client, NoData

SOURCE = "iqfeed"
DATASET = {"venue": "IQFEED", "asset_class": "equity", "description": "collected from IQFeed"}
DEAD_LETTER_CHECK_LIMIT = 100_000  # existing dead letters compared when re-collecting (keeps it idempotent)
LATENCY_BIN_MS = 1.0  # live latency histogram resolution
LATENCY_MAX_MS = 60_000  # last histogram bin collects everything slower (fixed memory over any run length)
RECENT_BATCHES = 10_000  # per-batch latencies kept (a bounded window, so memory stays flat)


class CollectionFailed(FeedError):
    """Some symbol-days could not be collected; the others were stored.

    ``failures`` lists ``(symbol, day, reason)``; ``results`` the days that were written.
    """

    def __init__(self, failures: list, results: list):
        self.failures, self.results = failures, results
        sym, day, why = failures[0]
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        super().__init__(f"collecting {sym} {day} failed: {why}{more}")


def _dead_letters(ctx, symbol: str, bad, source: str = SOURCE) -> int:
    """Store bad lines once (a line already waiting in the table is not added again)."""
    if not bad:
        return 0
    seen = {r.raw for r in ctx.catalog.dead_letters(status=None, limit=DEAD_LETTER_CHECK_LIMIT, source=source)
            if r.symbol == symbol}
    return ctx.catalog.add_dead_letters((source, symbol, text, reason) for text, reason in bad if text not in seen)


def _emit(ctx, progress, p: Progress) -> None:
    ctx.bus.publish("collection", p.to_dict(), type_="progress")
    if progress:
        progress(p)


def collect_days(ctx, symbols, days, *, host: str | None = None, port_history: int | None = None,
                 progress=None, client: HistoryClient | None = None) -> list[IngestResult]:
    """Fetch whole trading days from the history port and ingest them.

    Days the server has no data for (``!NO_DATA!``) are skipped and reported in progress.

    Raises
    ------
    CollectionFailed
        After every other symbol-day was processed, when some failed (unknown symbol,
        stalled or dropped server after all retries, open circuit).
    """
    syms = [normalize_ticker(s) for s in symbols]
    days = [as_date(d) for d in days]
    own = client is None
    client = client or HistoryClient(host or ctx.settings.feed_host, port_history or ctx.settings.feed_port_history,
                                     bus=ctx.bus)
    cal = ctx.calendar()
    total, done = len(syms) * len(days), 0
    results: list[IngestResult] = []
    failures: list[tuple[str, dt.date, str]] = []
    try:
        for sym in syms:
            for i, day in enumerate(days):
                msg = f"{sym} {day}"
                try:
                    parsed = client.fetch_day(sym, day)
                    _dead_letters(ctx, sym, parsed.bad)
                    res = ingest_day(ctx, sym, day, parsed.raw, source=SOURCE, calendar=cal, dataset=DATASET)
                    results.append(res)
                    msg += f": {res.info.ticks:,} ticks" + (f", {len(parsed.bad)} bad lines" if parsed.bad else "")
                except NoData:
                    msg += ": no data"
                except InvalidFeedSymbol as e:
                    failures.append((sym, day, str(e)))
                    done += len(days) - i - 1  # the other days of an unknown symbol are skipped
                    _emit(ctx, progress, Progress("collect", done + 1, total, msg + ": unknown symbol"))
                    done += 1
                    break
                except FeedError as e:
                    failures.append((sym, day, str(e)))
                    msg += f": failed ({e})"
                done += 1
                _emit(ctx, progress, Progress("collect", done, total, msg))
    finally:
        if own:
            client.close()
    if failures:
        raise CollectionFailed(failures, results)
    return results


def finalize_day(ctx, symbol: str, day) -> IngestResult:
    """Rewrite a live-collected day whole through ``ingest_day`` (enrichment over the full day,
    catalog row, ``after_write`` hooks)."""
    raw = ctx.store.read_day(symbol, day, columns=RAW_COLUMNS)
    return ingest_day(ctx, symbol, day, raw.reset_index(drop=True), source=SOURCE, dataset=DATASET)


@dataclass
class LiveSummary:
    """What a live run did (mutable while running; read it after ``collect_live`` returns)."""

    appended: dict = field(default_factory=dict)  # symbol -> ticks appended
    duplicates: int = 0
    late: int = 0  # ticks older than the stored last tick: sent to dead letters
    batches: int = 0
    backfills: int = 0
    finalized: list = field(default_factory=list)  # (symbol, day)
    # oldest line's receive → stored and published, per non-empty batch (the last RECENT_BATCHES)
    latencies_ms: collections.deque = field(default_factory=lambda: collections.deque(maxlen=RECENT_BATCHES))
    # per Level 1 trade line: receive → stored and published, 1 ms bins
    line_latency_hist: np.ndarray = field(
        default_factory=lambda: np.zeros(int(LATENCY_MAX_MS / LATENCY_BIN_MS) + 1, dtype=np.int64))

    def add_line_latencies(self, ms: np.ndarray) -> None:
        bins = np.minimum((np.asarray(ms) / LATENCY_BIN_MS).astype(np.int64), self.line_latency_hist.size - 1)
        self.line_latency_hist += np.bincount(np.maximum(bins, 0), minlength=self.line_latency_hist.size)

    def line_latency_ms(self, q: float) -> float | None:
        """The ``q``-th percentile (0–100) of per-line latency (upper bin edge), None before any line."""
        total = int(self.line_latency_hist.sum())
        if not total:
            return None
        i = int(np.searchsorted(np.cumsum(self.line_latency_hist), np.ceil(total * q / 100.0), side="left"))
        return (i + 1) * LATENCY_BIN_MS


class _LiveDay:
    """Per-symbol resume point: the stored day, its last tick id and timestamp."""

    def __init__(self, ctx, symbol: str, day: dt.date):
        self.symbol, self.day = symbol, day
        self.last_id, self.last_ns = -1, np.iinfo(np.int64).min
        self.catalogued = False  # the dataset row exists (checked once, not per batch)
        try:
            ids = ctx.store.read_day(symbol, day, columns=["tick_id"])
        except DayNotFound:
            return
        if len(ids):
            self.last_id = int(ids["tick_id"].max())
            self.last_ns = int(ids.index.asi8.max())


def _prepare(ctx, state: _LiveDay, raw: dict, summary: LiveSummary, calendar) -> pd.DataFrame | None:
    """The enriched frame of the new ticks of ``raw`` (one symbol, one day), or None."""
    if raw["tick_id"].size == 0:
        return None
    raw, dups = dedupe_tick_ids(raw)
    new = raw["tick_id"] > state.last_id
    summary.duplicates += dups + int((~new).sum())
    raw = {k: v[new] for k, v in raw.items()}
    if raw["tick_id"].size == 0:
        return None
    order = np.argsort(raw["tick_id"], kind="stable")
    raw = {k: v[order] for k, v in raw.items()}
    df = enrich(raw, symbol=state.symbol, source=SOURCE, ingest_id=new_ingest_id(SOURCE), calendar=calendar)
    ts = df.index.asi8
    late = ts < state.last_ns
    if late.any():  # arrived after a later tick was stored: keep it for replay, never reorder stored data
        summary.late += int(late.sum())
        ctx.catalog.add_dead_letters(
            (SOURCE, state.symbol, f"tick_id={int(t)} at {df.index[i]}", "late tick: older than the stored last tick")
            for i, t in zip(np.flatnonzero(late)[:1000], df["tick_id"].to_numpy()[late][:1000]))
        df = df[~late]
    if not df.index.is_monotonic_increasing:  # sorted by tick id already is the usual case: no copy
        df = df.sort_index(kind="stable")
    return df if len(df) else None


def _append(ctx, state: _LiveDay, raw: dict, summary: LiveSummary, calendar) -> int:
    """Append the new ticks of ``raw`` (one symbol, one day) after the stored ones."""
    df = _prepare(ctx, state, raw, summary, calendar)
    if df is None:
        return 0
    return _commit(ctx, state, df, ctx.store.append_day(state.symbol, state.day, df), summary, calendar)


def _commit(ctx, state: _LiveDay, df: pd.DataFrame, info, summary: LiveSummary, calendar,
            infos: list | None = None) -> int:
    """Book an appended frame: catalog row (now, or into ``infos`` for one upsert per batch),
    resume point, counters."""
    if infos is None:
        ctx.catalog.upsert_tick_day(info)
    else:
        infos.append(info)
    if not state.catalogued:
        if ctx.catalog.dataset(state.symbol) is None:
            ctx.catalog.upsert_dataset(state.symbol, source=SOURCE, calendar=calendar.name, **DATASET)
        state.catalogued = True
    state.last_id = max(state.last_id, int(df["tick_id"].max()))
    state.last_ns = max(state.last_ns, int(df.index.asi8[-1]))
    summary.appended[state.symbol] = summary.appended.get(state.symbol, 0) + len(df)
    return len(df)


def _backfill(ctx, hist: HistoryClient, states: dict, summary: LiveSummary, calendar) -> None:
    """Fetch from the last stored tick (or the day's start) to now and append what is new."""
    summary.backfills += 1
    for sym, st in states.items():
        if st.last_ns > np.iinfo(np.int64).min:
            start = pd.Timestamp(st.last_ns, tz="UTC").tz_convert("America/New_York").tz_localize(None).floor("s")
        else:
            start = pd.Timestamp(st.day)
        try:
            parsed = hist.ticks_between(sym, start.to_pydatetime(), None)
        except NoData:
            continue
        _dead_letters(ctx, sym, parsed.bad)
        raw = parsed.raw
        on_day = raw["date"] == st.day.year * 10000 + st.day.month * 100 + st.day.day
        _append(ctx, st, {k: v[on_day] for k, v in raw.items()}, summary, calendar)


def collect_live(ctx, symbols, *, batch_seconds: float = 1.0, flush_after: float = FLUSH_AFTER_S,
                 stop_event: threading.Event,
                 host: str | None = None, port_history: int | None = None, port_l1: int | None = None,
                 progress=None, finalize: bool = True, first_heartbeat_timeout: float = 10.0) -> LiveSummary:
    """Stream trades into the current day until ``stop_event`` is set.

    The current day is the server's (its ``T`` heartbeat); at the end of that day's extended
    session every symbol's day is finalised (:func:`finalize_day`) and collection moves on.
    Received lines are stored once the oldest of them is ``flush_after`` seconds old (so a
    trade is stored and published within about that long plus the append), and at least every
    ``batch_seconds``.

    Raises
    ------
    FeedError
        The Level 1 port sent no heartbeat within ``first_heartbeat_timeout`` seconds.
    """
    syms = [normalize_ticker(s) for s in symbols]
    host = host or ctx.settings.feed_host
    cal = ctx.calendar()
    l1 = Level1Client(host, port_l1 or ctx.settings.feed_port_l1, bus=ctx.bus)
    hist = HistoryClient(host, port_history or ctx.settings.feed_port_history, bus=ctx.bus)
    summary = LiveSummary()
    states: dict[str, _LiveDay] = {}
    t_start = time.monotonic()
    try:
        l1.connect(syms)
        for batch in l1.batches(batch_seconds=batch_seconds, stop_event=stop_event, flush_after=flush_after):
            if batch.unknown:
                raise InvalidFeedSymbol(f"IQFeed does not know symbol(s) {', '.join(batch.unknown)}")
            if batch.server_time is None:
                if time.monotonic() - t_start > first_heartbeat_timeout:
                    raise FeedError(f"no Level 1 heartbeat from {host} within {first_heartbeat_timeout:g}s")
                continue
            day = batch.server_time.date()
            if not states or next(iter(states.values())).day != day:
                states = {s: _LiveDay(ctx, s, day) for s in syms}
                if cal.is_trading_day(day):
                    _backfill(ctx, hist, states, summary, cal)
            elif batch.reconnected:
                _backfill(ctx, hist, states, summary, cal)
            summary.batches += 1
            _dead_letters(ctx, "", batch.parsed.bad, source=SOURCE + "-l1")
            day_int = day.year * 10000 + day.month * 100 + day.day
            n = 0
            infos: list = []
            frames = []
            for sym, st in states.items():
                raw = batch.parsed.for_symbol(sym)
                on_day = raw["date"] == day_int
                df = _prepare(ctx, st, {k: v[on_day] for k, v in raw.items()}, summary, cal)
                if df is not None:
                    frames.append((st, df))
            failed = None
            for (st, df), res in zip(frames, ctx.store.append_days_batch([(st.symbol, st.day, df) for st, df in frames])):
                if isinstance(res, Exception):
                    failed = failed or res
                else:
                    n += _commit(ctx, st, df, res, summary, cal, infos)
            ctx.bus.publish("collection", {"symbols": syms, "appended": n, "batch": summary.batches,
                                           "server_time": str(batch.server_time)}, type_="live_batch")
            if n:  # stored and published; the catalog mirror below is not on the latency path
                done = time.perf_counter()
                summary.latencies_ms.append((done - batch.received_at) * 1000)
                summary.add_line_latencies((done - batch.line_received) * 1000)
            ctx.catalog.upsert_tick_days(infos)
            if failed is not None:  # the other symbols' ticks are stored and booked; stop on the failure
                raise failed
            if progress:
                progress(Progress("live", sum(summary.appended.values()), 0, f"{summary.batches} batches"))
            if finalize and cal.is_trading_day(day) and \
                    pd.Timestamp(batch.server_time).tz_localize("America/New_York") >= cal.bounds(day).after_close:
                for sym, st in states.items():
                    if (sym, day) not in summary.finalized and ctx.store.has_day(sym, day):
                        finalize_day(ctx, sym, day)
                        summary.finalized.append((sym, day))
    finally:
        l1.close()
        hist.close()
    return summary
