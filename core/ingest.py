"""The one write path for tick days: raw columns → dedupe → enrich → ingest rules → store → catalog.

Every source (synthetic generator, IQFeed collector, file importers) calls :func:`ingest_day`.
The day is replaced whole (idempotent); rows the ingest rules reject go to the dead-letter
table with their reason; the catalog row mirrors the stored metadata; a ``collection`` event
announces the write.

Two extension points keep this module independent of later layers:

* ``ctx.extras["ingest_rules"]``: a callable ``rules(df) -> (kept_df, rejects)`` where
  ``rejects`` is a list of ``(raw_text, reason)``; without one, everything passes.
* ``ctx.extras["after_write"]``: a list of callables ``hook(ctx, symbol, day)`` run after a
  day is stored and catalogued (default bars, validation). A failing hook is logged and
  published on the bus; it never undoes the write.

Replacing and resuming:

* A replaced day's previous version is kept (:mod:`core.store`); :func:`restore_day` brings
  one back through the same post-write path. With ``guard_replace`` (imports without
  ``--replace``) :func:`check_replace` refuses another source family or a sharp shrink.
* The catalog row is upserted with ``post_write_pending`` set (and the writer's ``host:pid``
  in its ``extra``) and cleared when the hooks finished; :func:`complete_pending` (workers, and
  every process at its first write) finishes days whose writer died in between.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd

from core.calendar import MarketCalendar
from core.enrich import enrich
from core.errors import SchemaError
from core.events import DayWritten, PostWriteFailed
from core.instruments import terms_for_ingest
from core.naming import as_date, normalize_ticker
from core.store import DayInfo, ensure_sorted


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
    """Drop rows whose tick id was already seen (first one wins, order kept)."""
    ids = np.asarray(raw["tick_id"])
    if ids.size == 0:
        return dict(raw), 0
    if ids.size < 2 or (np.diff(ids) > 0).all():  # strictly increasing: nothing to do (fast path)
        return dict(raw), 0
    _, first = np.unique(ids, return_index=True)
    if first.size == ids.size:
        return dict(raw), 0
    keep = np.sort(first)
    return {k: np.asarray(v)[keep] for k, v in raw.items()}, int(ids.size - keep.size)


def ingest_day(ctx, symbol: str, day, raw: Mapping[str, np.ndarray] | pd.DataFrame, *, source: str,
               calendar: MarketCalendar | None = None, timestamps_ns: np.ndarray | None = None,
               dataset: dict | None = None, ingest_id: str | None = None,
               guard_replace: bool = False) -> IngestResult:
    """Enrich, check and store one whole tick day; mirror it in the catalog.

    A stored day is replaced whole; the replaced version is kept for
    :func:`restore_day` (see :mod:`core.store`). Bar series built from the replaced version are
    deleted before the post-write hooks rebuild the default ones (:func:`core.bars.service.invalidate_day_bars`).

    Parameters
    ----------
    ctx
        :class:`core.context.Context`.
    raw
        The 14 raw columns for the day (any order of rows; duplicates allowed).
    dataset
        Extra dataset attributes for the catalog (venue, asset_class, calendar, description).
    guard_replace
        Refuse (:class:`~core.errors.ReplaceRefused`, nothing written, no dead letters) to
        replace a stored day from another source family or with fewer than
        :data:`SHRINK_LIMIT` of its ticks (see :func:`check_replace`). Importers pass
        ``not replace``; collection re-fetches the same source and does not guard.

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
    if isinstance(raw, pd.DataFrame):
        raw = {c: raw[c].to_numpy() for c in raw.columns}
    if timestamps_ns is not None:
        raw = {**raw, "_ns": np.asarray(timestamps_ns, dtype=np.int64)}
    raw, dups = dedupe_tick_ids(raw)
    ts = raw.pop("_ns", None)
    ingest_id = ingest_id or new_ingest_id(source)
    terms = terms_for_ingest(ctx, symbol, dataset)  # instrument terms: sizes and money per asset class
    df = enrich(raw, symbol=symbol, source=source, ingest_id=ingest_id, calendar=calendar, timestamps_ns=ts,
                terms=terms)
    df, disorder = ensure_sorted(df)

    wrong_day = 0
    letters: list = []  # dead letters, stored only once the day is going to be written
    if len(df) and calendar.name == "XNYS":
        lo = pd.Timestamp(day).tz_localize("America/New_York").value
        hi = pd.Timestamp(day + dt.timedelta(days=1)).tz_localize("America/New_York").value
        ns = df.index.asi8
        on_day = (ns >= lo) & (ns < hi)  # the ET calendar day, without building local dates per tick
        wrong_day = int((~on_day).sum())
        if wrong_day:
            first_bad = int(np.flatnonzero(~on_day)[0])
            if wrong_day == len(df):
                raise SchemaError("timestamp", f"no tick falls on {day} (first is {df.index[0]})", row=first_bad)
            letters += [(source, symbol, f"tick_id={int(df['tick_id'].iat[i])} at {df.index[i]}",
                         f"timestamp is not on {day}") for i in np.flatnonzero(~on_day)[:1000]]
            df = df[on_day]

    rejected = 0
    rules = ctx.extras.get("ingest_rules")
    if rules is not None:
        df, rejects = rules(df)
        rejected = len(rejects)
        letters += [(source, symbol, raw_text, reason) for raw_text, reason in rejects]

    previous = _stored_info(ctx, symbol, day)
    if guard_replace and previous is not None:
        check_replace(previous, source=source, ticks=len(df))
    if letters:
        ctx.catalog.add_dead_letters(letters)
    extra = {"duplicates_dropped": dups, "out_of_order_fixed": disorder, "rejected": rejected,
             "wrong_day_dropped": wrong_day}
    if previous is not None:
        _mark_pending(ctx, symbol, day)
    info = ctx.store.write_day(symbol, day, df, extra=extra)
    ds = dict(dataset or {})
    existing = ctx.catalog.dataset(symbol)
    if existing is None or dataset:
        ctx.catalog.upsert_dataset(symbol, source=ds.pop("source", source), calendar=calendar.name, **ds)
    after_store(ctx, info, replaced=previous is not None)
    return IngestResult(info, dups, disorder, rejected, wrong_day)


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
    """Refuse replacing the stored day ``previous`` (:class:`~core.store.DayInfo`) unsafely.

    Raises
    ------
    ReplaceRefused
        ``source`` is of another family than the stored day's, or ``ticks`` is fewer than
        :data:`SHRINK_LIMIT` of the stored ticks. The message says what is stored and how to
        replace it anyway.
    """
    from core.errors import ReplaceRefused

    old_family, new_family = source_family(previous.source), source_family(source)
    why = None
    if old_family != new_family:
        why = f"a different source ({source})"
    elif previous.ticks and ticks < SHRINK_LIMIT * previous.ticks:
        why = f"{ticks:,} ticks from {source}, fewer than {SHRINK_LIMIT:.0%} of them"
    if why is None:
        return
    raise ReplaceRefused(previous.symbol, previous.day,
                         f"{previous.symbol} {previous.day} is stored from {previous.source} ({previous.ticks:,} ticks); "
                         f"refusing to replace it with {why} and {ticks:,} ticks. Nothing was written. Pass --replace "
                         f"to replace it (the stored version is kept: `tickdeck restore-day {previous.symbol} "
                         f"{previous.day}` lists and restores versions).")


def _stored_info(ctx, symbol: str, day):
    from core.errors import DayNotFound

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
    from core import db
    from core.catalog import _tick_day_values

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

    from core import db

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

    from core import db

    t = db.TickDay
    with ctx.catalog.Session.begin() as s:  # a newer write of the day keeps its own marker
        row = s.execute(select(t.id, t.extra).where(t.symbol == symbol, t.day == day, t.ingest_id == ingest_id,
                                                    t.post_write_pending.is_(True))).first()
        if row is not None:
            extra = {k: v for k, v in (row[1] or {}).items() if k != OWNER_KEY}
            s.execute(update(t).where(t.id == row[0], t.ingest_id == ingest_id, t.post_write_pending.is_(True))
                      .values(post_write_pending=False, extra=extra))


def after_store(ctx, info, *, replaced: bool) -> None:
    """Everything after a day's ticks are stored: catalog row (marked pending), a
    :class:`core.events.DayWritten` event, invalidation of bar series of older versions, the
    post-write hooks, then the marker is cleared. A process killed in between leaves the
    marker; :func:`complete_pending` finishes.
    """
    hooks = bool(ctx.extras.get("after_write"))
    _upsert_day_row(ctx, info, pending=hooks)
    ctx.bus.publish(DayWritten(info.symbol, info.day.isoformat(), int(info.ticks), info.source, info.ingest_id))
    if replaced:
        from core.bars.service import invalidate_day_bars

        invalidate_day_bars(ctx, info.symbol, info.day)
    if hooks:
        run_after_write(ctx, info.symbol, info.day)
        _clear_pending(ctx, info.symbol, info.day, info.ingest_id)


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

    from core import db

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
        at = updated_at.replace(tzinfo=dt.timezone.utc) if updated_at is not None and updated_at.tzinfo is None else updated_at
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
        from core.bars.service import invalidate_day_bars

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
        try:
            hook(ctx, symbol, day)
        except Exception as e:  # noqa: BLE001 - a hook must not undo a completed write
            logging.getLogger(__name__).exception("after-write hook %r failed for %s %s", hook, symbol, day)
            ctx.bus.publish(PostWriteFailed(symbol, str(day), getattr(hook, "__name__", str(hook)), str(e)))
