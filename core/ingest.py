"""The one write path for tick days: raw columns → dedupe → enrich → ingest rules → store → catalog.

Every source (synthetic generator, IQFeed collector, file importers) calls :func:`ingest_day`.
The day is replaced whole (idempotent); rows the ingest rules reject go to the dead-letter
table with their reason; the catalog row mirrors the stored metadata; a ``collection`` event
announces the write.

Two extension points keep this module independent of later layers:

* ``ctx.extras["ingest_rules"]``: a callable ``rules(df) -> (kept_df, rejects)`` where
  ``rejects`` is a list of ``(raw_text, reason)``; without one, everything passes. Rules that
  also offer their row-local part ``rules.reject_rows(df)`` and their whole-day part
  ``rules.flag_day(...)`` (:func:`core.validation.rules.make_ingest_rules` does) let a day be
  enriched, checked and written in slices (see :func:`ingest_day`); other rules see the day whole.
* ``ctx.extras["after_write"]``: a list of callables ``hook(ctx, symbol, day)`` run after a
  day is stored and catalogued (default bars, validation). A failing hook is logged and
  published on the bus; it never undoes the write.

Replacing and resuming:

* A replaced day's previous version is kept (:mod:`tickdeck.core.store`); :func:`restore_day` brings
  one back through the same post-write path. With ``guard_replace`` (imports without
  ``--replace``) :func:`check_replace` refuses another source family or a sharp shrink.
* The catalog row is upserted with ``post_write_pending`` set (and the writer's ``host:pid``
  in its ``extra``) and cleared when the hooks finished; :func:`complete_pending` (workers, and
  every process at its first write) finishes days whose writer died in between.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd

from tickdeck.core import metrics
from tickdeck.core.calendar import MarketCalendar
from tickdeck.core.enrich import SLICE_ROWS as SLICE_ROWS_ENRICH
from tickdeck.core.enrich import enrich, enrich_slices, utc_ns_from_date_time
from tickdeck.core.errors import SchemaError
from tickdeck.core.events import DayWritten, PostWriteFailed
from tickdeck.core.instruments import terms_for_ingest
from tickdeck.core.naming import as_date, normalize_ticker
from tickdeck.core.schema import TZ
from tickdeck.core.store import DayInfo, day_info_from_columns, ensure_sorted, trim_heap


@dataclass(frozen=True)
class IngestResult:
    info: DayInfo
    duplicates_dropped: int
    out_of_order_fixed: int
    rejected: int
    wrong_day_dropped: int


def new_ingest_id(source: str) -> str:
    return f"{source.split(':')[0][:12]}-{uuid.uuid4().hex[:12]}"


def dedupe_tick_ids(raw: Mapping[str, np.ndarray]) -> tuple[dict, int]:
    """Drop rows whose tick id was already seen (first one wins, order kept).

    Scalar columns (one value for every row) stay as they are; a left-out ``tot_vlm`` is filled
    in first (the running sum of ``last_sz`` over every row, duplicates included, as a source
    that wrote it would have).
    """
    ids = np.asarray(raw["tick_id"])
    if ids.size < 2 or (ids[1:] > ids[:-1]).all():  # strictly increasing: nothing to do (fast path)
        return dict(raw), 0
    _, first = np.unique(ids, return_index=True)
    if first.size == ids.size:
        return dict(raw), 0
    keep = np.sort(first)
    raw = dict(raw)
    if "tot_vlm" not in raw and "last_sz" in raw and np.ndim(raw["last_sz"]):
        raw["tot_vlm"] = np.cumsum(np.asarray(raw["last_sz"], dtype=np.int64))
    return {k: np.asarray(v)[keep] if np.ndim(v) else v for k, v in raw.items()}, int(ids.size - keep.size)


def ingest_day(ctx, symbol: str, day, raw: Mapping[str, np.ndarray] | pd.DataFrame, *, source: str,
               calendar: MarketCalendar | None = None, timestamps_ns: np.ndarray | None = None,
               dataset: dict | None = None, ingest_id: str | None = None,
               guard_replace: bool = False, defer_post_write: bool = False,
               release_raw: bool = False) -> IngestResult:
    """Enrich, check and store one whole tick day; mirror it in the catalog.

    A stored day is replaced whole; the replaced version is kept for
    :func:`restore_day` (see :mod:`core.store`). Bar series built from the replaced version are
    deleted before the post-write hooks rebuild the default ones
    (:func:`core.bars.service.invalidate_day_bars`).

    A day whose rows are in time order is enriched and checked :data:`SLICE_ROWS` rows at a
    time (:func:`core.enrich.enrich_slices`) and written through a staged write
    (:meth:`core.store.Store.stage_day`) published at once, so memory holds the raw columns and
    one slice, not the day's 43 columns; the stored day, its metadata, dead letters and flags
    are exactly those of enriching and writing it whole. Rows out of time order, or ingest
    rules without the ``reject_rows``/``flag_day`` parts, take the whole-day path.

    Parameters
    ----------
    ctx
        :class:`core.context.Context`.
    raw
        The 14 raw columns for the day (any order of rows; duplicates allowed). A column may be
        one scalar for every row (e.g. ``last_type``); with ``timestamps_ns``, ``date`` and
        ``time`` may be left out (derived from it), and ``tot_vlm`` may be (the running sum of
        ``last_sz`` in the given row order).
    timestamps_ns
        UTC epoch ns per row when the caller already has them (importers).
    dataset
        Extra dataset attributes for the catalog (venue, asset_class, calendar, description).
    guard_replace
        Refuse (:class:`~core.errors.ReplaceRefused`, nothing written, no dead letters) to
        replace a stored day from another source family or with fewer than
        :data:`SHRINK_LIMIT` of its ticks (see :func:`check_replace`). Importers pass
        ``not replace``; collection re-fetches the same source and does not guard.
    defer_post_write
        Return once the day is stored and catalogued (its post-write marker set) and leave the
        post-write hooks to :func:`finish_post_write`, so the caller can free its raw columns
        before the hooks read the day back (importers). A process that dies in between leaves
        the marker for :func:`complete_pending`.
    release_raw
        The caller hands ``raw`` (a dict) over: it is emptied once the day no longer needs it
        (before a day written in slices is published), so its arrays are freed while ArcticDB
        reads the slices back, provided the caller holds no other reference to them.

    Raises
    ------
    SchemaError
        The raw columns cannot form a valid day; nothing is stored.
    ReplaceRefused
        ``guard_replace`` and the write would replace the stored day unsafely; nothing is stored.
    """
    symbol = normalize_ticker(symbol)
    day = as_date(day)
    _complete_pending_once(ctx)
    calendar = calendar or ctx.calendar_for(symbol)
    release = raw.clear if release_raw and isinstance(raw, dict) else None
    if isinstance(raw, pd.DataFrame):
        raw = {c: raw[c].to_numpy() for c in raw.columns}
    if timestamps_ns is not None:
        raw = {**raw, "_ns": np.asarray(timestamps_ns, dtype=np.int64)}
    raw, dups = dedupe_tick_ids(raw)
    ts = raw.pop("_ns", None)
    ingest_id = ingest_id or new_ingest_id(source)
    terms = terms_for_ingest(ctx, symbol, dataset)  # instrument terms: sizes and money per asset class
    rules = ctx.extras.get("ingest_rules")
    kw = dict(symbol=symbol, source=source, ingest_id=ingest_id, calendar=calendar, timestamps_ns=ts, terms=terms)
    ordered, day_ns = _in_time_order(raw, ts)
    if ordered and (rules is None or _sliceable(rules)):
        day_ = _SlicedDay(ctx, symbol, day, raw, {**kw, "timestamps_ns": day_ns}, rules)
        del day_ns
        del raw, ts, kw
        return _publish(ctx, day_, dups=dups, dataset=dataset, guard_replace=guard_replace,
                        defer_post_write=defer_post_write, release=release)
    del day_ns
    df = enrich(raw, **kw)
    del raw, ts, kw
    df, disorder = ensure_sorted(df)

    wrong_day = 0
    letters: list = []  # dead letters, stored only once the day is going to be written
    if len(df) and calendar.name == "XNYS":
        on_day = _on_day(df.index.asi8, day)
        wrong_day = int((~on_day).sum())
        if wrong_day:
            letters += _wrong_day_letters(source, symbol, day, on_day, df["tick_id"].to_numpy(), df.index.asi8)
            df = df[on_day]

    rejected = 0
    if rules is not None:
        df, rejects = rules(df)
        rejected = len(rejects)
        letters += [(source, symbol, raw_text, reason) for raw_text, reason in rejects]
    return _publish(ctx, _WholeDay(symbol, day, source, calendar.name, df, letters, rejected, wrong_day, disorder),
                    dups=dups, dataset=dataset, guard_replace=guard_replace, defer_post_write=defer_post_write,
                    release=release)


# Rows per slice of a day ingested in slices (:func:`core.enrich.enrich_slices`).
SLICE_ROWS = SLICE_ROWS_ENRICH
WRONG_DAY_LETTERS = 1000  # dead letters written for ticks outside the day (all are counted)


def _in_time_order(raw, ts) -> tuple[bool, np.ndarray | None]:
    """Whether the day's rows are in time order, and their UTC ns (from ``date``/``time`` when
    the caller gave none)."""
    n = len(raw["tick_id"])
    if n == 0:
        return False, ts
    if ts is None:
        if "date" not in raw or "time" not in raw or not np.ndim(raw["date"]) or not np.ndim(raw["time"]):
            return False, ts  # the whole-day path names the missing column
        try:
            ts = utc_ns_from_date_time(np.asarray(raw["date"]), np.asarray(raw["time"]))
        except (SchemaError, ValueError, TypeError, OverflowError, IndexError):
            return False, None  # the whole-day path raises the same error as always
    return bool(len(ts) == n and (ts[1:] >= ts[:-1]).all()), ts


def _sliceable(rules) -> bool:
    return callable(getattr(rules, "reject_rows", None)) and callable(getattr(rules, "flag_day", None))


def _on_day(ns: np.ndarray, day: dt.date) -> np.ndarray:
    """Rows in the ET calendar day ``day``, without building local dates per tick."""
    lo = pd.Timestamp(day).tz_localize(TZ).value
    hi = pd.Timestamp(day + dt.timedelta(days=1)).tz_localize(TZ).value
    return (ns >= lo) & (ns < hi)


def _et(ns) -> pd.Timestamp:
    return pd.Timestamp(int(ns), tz="UTC").tz_convert(TZ)


def _wrong_day_letters(source: str, symbol: str, day, on_day: np.ndarray, tick_id: np.ndarray,
                       ns: np.ndarray) -> list[tuple]:
    """Dead letters of ticks outside ``day``; refuses the day when no tick is on it."""
    bad = np.flatnonzero(~on_day)
    if bad.size == on_day.size:
        raise SchemaError("timestamp", f"no tick falls on {day} (first is {_et(ns[0])})", row=int(bad[0]))
    return [(source, symbol, f"tick_id={int(tick_id[i])} at {_et(ns[i])}", f"timestamp is not on {day}")
            for i in bad[:WRONG_DAY_LETTERS]]


@dataclass
class _WholeDay:
    """A day enriched and checked whole, ready to be written (internal)."""

    symbol: str
    day: dt.date
    source: str
    calendar: str
    df: pd.DataFrame
    letters: list
    rejected: int
    wrong_day: int
    disorder: int

    @property
    def ticks(self) -> int:
        return len(self.df)

    def write(self, ctx, extra: dict, release=None) -> DayInfo:
        info = ctx.store.write_day(self.symbol, self.day, self.df, extra=extra)
        self.df = None
        if release is not None:
            release()
        return info

    def abort(self) -> None:
        pass


class _SlicedDay:
    """A day in time order enriched, checked and staged slice by slice (internal).

    Construction runs the slices: each is enriched (:func:`core.enrich.enrich_slices`), loses
    its rows outside the day and those the rules' ``reject_rows`` refuse, and is staged; the
    columns the day's metadata needs are gathered for the kept rows, then the rules' ``flag_day``
    sees the whole day's kept rows. :meth:`write` publishes the staged slices (or writes a day
    of one slice directly); :meth:`abort` drops them.
    """

    disorder = 0

    def __init__(self, ctx, symbol: str, day: dt.date, raw: dict, kw: dict, rules):
        self.symbol, self.day, self.letters, self.rejected = symbol, day, [], 0
        source, ingest_id = kw["source"], kw["ingest_id"]
        self.source, self.calendar = source, kw["calendar"].name
        ts = kw["timestamps_ns"]
        n = len(raw["tick_id"])
        ids = np.asarray(raw["tick_id"], dtype=np.int64)
        rows = max(1, int(SLICE_ROWS))
        keep = None  # rows kept of the day (None: all of them)
        self.wrong_day = 0
        if kw["calendar"].name == "XNYS":
            on_day = _on_day(ts, day)
            self.wrong_day = int(n - np.count_nonzero(on_day))
            if self.wrong_day:
                self.letters += _wrong_day_letters(source, symbol, day, on_day, ids, ts)
                keep = on_day
        session = np.empty(n, dtype=np.int8)
        dollar, bps = np.empty(n), np.empty(n)  # of the kept rows, in order
        m = 0
        self.stage = ctx.store.stage_day(symbol, day) if n > rows else None
        self.df = None  # the day's only slice, or (staged) an empty frame for a day whose every row is dropped
        try:
            for lo, hi, df in enrich_slices(raw, rows=rows, **kw):
                session[lo:hi] = df["session"].to_numpy()
                if keep is not None and not keep[lo:hi].all():
                    df = df[keep[lo:hi]]
                if rules is not None and len(df):
                    k = len(df)
                    df, rejects = rules.reject_rows(df)
                    self.rejected += len(rejects)
                    self.letters += [(source, symbol, raw_text, reason) for raw_text, reason in rejects]
                    if len(df) < k:
                        if keep is None:
                            keep = np.ones(n, dtype=bool)
                        keep[lo:hi] &= np.isin(ids[lo:hi], df["tick_id"].to_numpy())
                dollar[m:m + len(df)] = df["dollar_volume"].to_numpy()
                bps[m:m + len(df)] = df["spread_bps"].to_numpy()
                m += len(df)
                if self.stage is None:
                    self.df = df
                    continue
                if self.df is None:
                    self.df = df.iloc[:0].copy()  # a copy: a view would keep the slice's arrays alive
                self.stage.add(df)
                del df
        except BaseException:
            self.abort()
            raise
        self.ticks = m

        def kept(a, dtype):
            a = np.asarray(a, dtype=dtype)
            if a.ndim == 0:
                a = np.full(n, a, dtype=dtype)
            return a if keep is None else a[keep]

        ns = kept(ts, np.int64)
        last, size, session = kept(raw["last"], np.float64), kept(raw["last_sz"], np.int64), kept(session, np.int8)
        self.info = None
        if self.stage is not None and m:  # the day's metadata now, so its two columns can go before the flags
            self.info = day_info_from_columns(
                symbol, day, {"last": last, "last_sz": size, "dollar_volume": dollar[:m], "session": session,
                              "spread_bps": bps[:m], "source": [source], "ingest_id": [ingest_id]},
                first=_et(ns[0]), last=_et(ns[-1]))
        del dollar, bps
        if rules is not None and m:
            rules.flag_day(symbol, ingest_id, ns, kept(ids, np.int64), last, size, kept(raw["bid"], np.float64),
                           kept(raw["ask"], np.float64), session)

    def write(self, ctx, extra: dict, release=None) -> DayInfo:
        if self.info is None:  # one slice, or every row dropped: an ordinary write
            if self.stage is not None:
                self.stage.abort()
            info = ctx.store.write_day(self.symbol, self.day, self.df, extra=extra)
        else:
            if release is not None:
                release()  # the raw columns go before ArcticDB reads the staged slices back
                release = None
            info = self.stage.commit(dataclasses.replace(self.info, extra=extra))
        self.df = self.info = None
        if release is not None:
            release()
        return info

    def abort(self) -> None:
        if self.stage is not None:
            self.stage.abort()


def _publish(ctx, d, *, dups: int, dataset: dict | None, guard_replace: bool, defer_post_write: bool,
             release=None) -> IngestResult:
    """Guard, dead letters, pending marker, write, dataset row and the post-write step of a
    prepared day (:class:`_WholeDay` or :class:`_SlicedDay`)."""
    previous = _stored_info(ctx, d.symbol, d.day)
    try:
        if guard_replace and previous is not None:
            check_replace(previous, source=d.source, ticks=d.ticks)
    except BaseException:
        d.abort()
        raise
    if d.letters:
        ctx.catalog.add_dead_letters(d.letters)
    extra = {"duplicates_dropped": dups, "out_of_order_fixed": d.disorder, "rejected": d.rejected,
             "wrong_day_dropped": d.wrong_day}
    if previous is not None:
        _mark_pending(ctx, d.symbol, d.day)
    info = d.write(ctx, extra, release)
    ds = dict(dataset or {})
    existing = ctx.catalog.dataset(d.symbol)
    if existing is None or dataset:
        ctx.catalog.upsert_dataset(d.symbol, source=ds.pop("source", d.source), calendar=d.calendar, **ds)
    after_store(ctx, info, replaced=previous is not None, run_hooks=not defer_post_write)
    metrics.ticks("written", info.ticks)
    return IngestResult(info, dups, d.disorder, d.rejected, d.wrong_day)


# -- replacing a stored day -------------------------------------------------------------------
# An import refuses to replace a stored day with fewer than half its ticks: a re-collect or a
# corrected file of the same day never loses half the day, a partial file (3 rows of a
# 21,415-tick day) does.
SHRINK_LIMIT = 0.5


def source_family(source: str) -> str:
    """What kind of source wrote a day: ``iqfeed``, ``synthetic``, ``import:<name>[:quotes]``.

    Imports keep their whole name (a CSV import and a DBN import are different families, and a
    quote-only file differs from a trade file); other sources are named by their first part.
    """
    parts = str(source).split(":")
    return str(source) if parts[0] == "import" else parts[0]


def check_replace(previous, *, source: str, ticks: int) -> None:
    """Refuse replacing the stored day ``previous`` (:class:`~tickdeck.core.store.DayInfo`) unsafely.

    Raises
    ------
    ReplaceRefused
        ``source`` is of another family than the stored day's, or ``ticks`` is fewer than
        :data:`SHRINK_LIMIT` of the stored ticks. The message says what is stored and how to
        replace it anyway.
    """
    from tickdeck.core.errors import ReplaceRefused

    old_family, new_family = source_family(previous.source), source_family(source)
    why = None
    if old_family != new_family:
        why = f"a different source ({source})"
    elif previous.ticks and ticks < SHRINK_LIMIT * previous.ticks:
        why = f"{ticks:,} ticks from {source}, fewer than {SHRINK_LIMIT:.0%} of them"
    if why is None:
        return
    raise ReplaceRefused(previous.symbol, previous.day,
                         f"{previous.symbol} {previous.day} is stored from {previous.source} "
                         f"({previous.ticks:,} ticks); "
                         f"refusing to replace it with {why} and {ticks:,} ticks. Nothing was written. Pass --replace "
                         f"to replace it (the stored version is kept: `tickdeck restore-day {previous.symbol} "
                         f"{previous.day}` lists and restores versions).")


def _stored_info(ctx, symbol: str, day):
    from tickdeck.core.errors import DayNotFound

    if not ctx.store.has_day(symbol, day):
        return None
    try:
        return ctx.store.day_info(symbol, day)
    except DayNotFound:
        return None


def restore_day(ctx, symbol: str, day, version: int):
    """Make a kept version of a stored day current again, through the normal post-write path.

    The catalog row is rewritten from the restored version, bar series of the replaced version
    are deleted and the post-write hooks (default bars, validation) run, exactly as after an
    ingest. Returns the restored :class:`~core.store.DayInfo`.

    Raises
    ------
    DayNotFound
        Nothing is stored for ``symbol`` on ``day``.
    VersionNotFound
        ``version`` is not a kept version (the message lists those that are).
    """
    symbol, day = normalize_ticker(symbol), as_date(day)
    _mark_pending(ctx, symbol, day)
    info = ctx.store.restore_day(symbol, day, version)
    ctx.catalog.audit("system", "restore-day", f"{symbol}/{day}", {"version": int(version), "ticks": info.ticks,
                                                                   "source": info.source})
    after_store(ctx, info, replaced=True)
    return info


# -- the post-write step, resumable -----------------------------------------------------------
# A pending day whose writer is on another host (or whose process id was reused) is completed
# once its row is this old: longer than the post-write step of any day takes (39 bar specs and
# validation of a 1M-tick day take well under a minute here).
PENDING_GRACE_S = 600.0
OWNER_KEY = "post_write_by"  # tick_days.extra: "<host>:<pid>" of the process running the post-write step


def _owner() -> str:
    import os
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"


def _upsert_day_row(ctx, info, *, pending: bool) -> None:
    """The day's catalog row and its post-write marker in one upsert (one transaction)."""
    from tickdeck.core import db
    from tickdeck.core.catalog import _tick_day_values

    values = _tick_day_values(info)
    values["post_write_pending"] = pending
    if pending:
        values["extra"] = {**(values.get("extra") or {}), OWNER_KEY: _owner()}
    with ctx.catalog.Session.begin() as s:
        ctx.catalog._upsert(s, db.TickDay, [values], ["symbol", "day"])


def _mark_pending(ctx, symbol: str, day) -> None:
    """Before a stored day is replaced: mark its row, so a process killed between the write
    and the catalog upsert still leaves the day to :func:`complete_pending`."""
    from sqlalchemy import select, update

    from tickdeck.core import db

    if not ctx.extras.get("after_write"):
        return
    t = db.TickDay
    with ctx.catalog.Session.begin() as s:
        row = s.execute(select(t.id, t.extra).where(t.symbol == symbol, t.day == day)).first()
        if row is not None:
            s.execute(update(t).where(t.id == row[0]).values(post_write_pending=True,
                                                              extra={**(row[1] or {}), OWNER_KEY: _owner()}))


def _clear_pending(ctx, symbol: str, day, ingest_id: str) -> None:
    from sqlalchemy import select, update

    from tickdeck.core import db

    t = db.TickDay
    with ctx.catalog.Session.begin() as s:  # a newer write of the day keeps its own marker
        row = s.execute(select(t.id, t.extra).where(t.symbol == symbol, t.day == day, t.ingest_id == ingest_id,
                                                    t.post_write_pending.is_(True))).first()
        if row is not None:
            extra = {k: v for k, v in (row[1] or {}).items() if k != OWNER_KEY}
            s.execute(update(t).where(t.id == row[0], t.ingest_id == ingest_id, t.post_write_pending.is_(True))
                      .values(post_write_pending=False, extra=extra))


def after_store(ctx, info, *, replaced: bool, run_hooks: bool = True) -> None:
    """Everything after a day's ticks are stored: catalog row (marked pending), a
    :class:`core.events.DayWritten` event, invalidation of bar series of older versions, the
    post-write hooks, then the marker is cleared. A process killed in between leaves the
    marker; :func:`complete_pending` finishes. With ``run_hooks=False`` the hooks and the
    clearing are left to :func:`finish_post_write`.
    """
    hooks = bool(ctx.extras.get("after_write"))
    _upsert_day_row(ctx, info, pending=hooks)
    ctx.bus.publish(DayWritten(info.symbol, info.day.isoformat(), int(info.ticks), info.source, info.ingest_id))
    if replaced:
        from tickdeck.core.bars.service import invalidate_day_bars

        invalidate_day_bars(ctx, info.symbol, info.day)
    if hooks and run_hooks:
        finish_post_write(ctx, info)


def finish_post_write(ctx, info) -> None:
    """Run the post-write hooks of a day just stored and clear its pending marker (the second
    half of :func:`after_store`; called by it, or by a caller of ``ingest_day(...,
    defer_post_write=True)`` once it has freed its own copy of the day)."""
    if not ctx.extras.get("after_write"):
        return
    run_after_write(ctx, info.symbol, info.day)
    _clear_pending(ctx, info.symbol, info.day, info.ingest_id)
    trim_heap()


@dataclass(frozen=True)
class PendingDay:
    """A stored day whose post-write step was completed by :func:`complete_pending`."""

    symbol: str
    day: dt.date
    ingest_id: str


def _owner_gone(owner: str | None) -> bool:
    """True when the process named ``<host>:<pid>`` ran on this host and is no longer running."""
    import os
    import socket

    import psutil

    if not owner or ":" not in owner:
        return False
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    return int(pid) != os.getpid() and not psutil.pid_exists(int(pid))


def complete_pending(ctx, *, grace_s: float = PENDING_GRACE_S, limit: int | None = None) -> list[PendingDay]:
    """Finish the post-write step of days whose writer died before it completed.

    A day is taken when its catalog row is marked ``post_write_pending`` and the process that
    marked it ran on this host and is gone, or the row is older than ``grace_s``. Each taken
    day is claimed in SQL (so two workers never both complete it), its bar series of older
    versions are deleted, the post-write hooks run and the marker is cleared. Without hooks
    installed (pipeline off) nothing is done. Cheap when nothing is pending: one indexed-less
    query over ``tick_days``.

    Returns the days completed.
    """
    from sqlalchemy import select, update

    from tickdeck.core import db

    if not ctx.extras.get("after_write"):
        return []
    t = db.TickDay
    cutoff = db.utcnow() - dt.timedelta(seconds=grace_s)
    with ctx.catalog.engine.connect() as c:
        rows = c.execute(select(t.id, t.symbol, t.day, t.ingest_id, t.extra, t.updated_at)
                         .where(t.post_write_pending.is_(True)).order_by(t.day)).all()
    done = []
    for row_id, symbol, day, ingest_id, extra, updated_at in rows:
        if limit is not None and len(done) >= limit:
            break
        owner = (extra or {}).get(OWNER_KEY)
        naive = updated_at is not None and updated_at.tzinfo is None
        at = updated_at.replace(tzinfo=dt.timezone.utc) if naive else updated_at
        if not (_owner_gone(owner) or at is None or at <= cutoff):
            continue
        claimed = {**(extra or {}), OWNER_KEY: _owner()}
        with ctx.catalog.Session.begin() as s:  # claim: the row must be exactly as read
            n = s.execute(update(t).where(t.id == row_id, t.ingest_id == ingest_id, t.post_write_pending.is_(True),
                                          t.updated_at == updated_at)
                          .values(extra=claimed, updated_at=db.utcnow())).rowcount
        if n != 1:
            continue
        day = as_date(day)
        info = _stored_info(ctx, symbol, day)
        if info is None:  # deleted meanwhile: nothing to build
            _clear_pending(ctx, symbol, day, ingest_id)
            continue
        _upsert_day_row(ctx, info, pending=True)  # the row as stored (the writer may have died before its upsert)
        from tickdeck.core.bars.service import invalidate_day_bars

        invalidate_day_bars(ctx, symbol, day)
        run_after_write(ctx, symbol, day)
        _clear_pending(ctx, symbol, day, info.ingest_id)
        done.append(PendingDay(symbol, day, info.ingest_id))
    return done


def _complete_pending_once(ctx) -> None:
    """At a process's first write: finish days a killed writer left pending (never raises)."""
    if ctx.extras.get("_pending_checked") or not ctx.extras.get("after_write"):
        return
    ctx.extras["_pending_checked"] = True
    try:
        complete_pending(ctx)
    except Exception:  # noqa: BLE001 - completing old work must never block new writes
        import logging

        logging.getLogger(__name__).exception("completing pending post-write steps failed")


def run_after_write(ctx, symbol: str, day) -> None:
    """Run the registered post-write hooks; failures are logged and published, not raised."""
    import logging

    for hook in ctx.extras.get("after_write", ()):
        trim_heap()  # what the write or the previous hook freed, before this one reads the day back
        try:
            hook(ctx, symbol, day)
        except Exception as e:  # noqa: BLE001 - a hook must not undo a completed write
            logging.getLogger(__name__).exception("after-write hook %r failed for %s %s", hook, symbol, day)
            ctx.bus.publish(PostWriteFailed(symbol, str(day), getattr(hook, "__name__", str(hook)), str(e)))
