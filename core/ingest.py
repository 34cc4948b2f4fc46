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
               dataset: dict | None = None, ingest_id: str | None = None) -> IngestResult:
    """Enrich, check and store one whole tick day; mirror it in the catalog.

    Parameters
    ----------
    ctx
        :class:`core.context.Context`.
    raw
        The 14 raw columns for the day (any order of rows; duplicates allowed).
    dataset
        Extra dataset attributes for the catalog (venue, asset_class, calendar, description).

    Raises
    ------
    SchemaError
        The raw columns cannot form a valid day; nothing is stored.
    """
    symbol = normalize_ticker(symbol)
    day = as_date(day)
    calendar = calendar or ctx.calendar_for(symbol)
    if isinstance(raw, pd.DataFrame):
        raw = {c: raw[c].to_numpy() for c in raw.columns}
    if timestamps_ns is not None:
        raw = {**raw, "_ns": np.asarray(timestamps_ns, dtype=np.int64)}
    raw, dups = dedupe_tick_ids(raw)
    ts = raw.pop("_ns", None)
    ingest_id = ingest_id or new_ingest_id(source)
    df = enrich(raw, symbol=symbol, source=source, ingest_id=ingest_id, calendar=calendar, timestamps_ns=ts)
    df, disorder = ensure_sorted(df)

    wrong_day = 0
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
            ctx.catalog.add_dead_letters(
                (source, symbol, f"tick_id={int(df['tick_id'].iat[i])} at {df.index[i]}", f"timestamp is not on {day}")
                for i in np.flatnonzero(~on_day)[:1000])
            df = df[on_day]

    rejected = 0
    rules = ctx.extras.get("ingest_rules")
    if rules is not None:
        df, rejects = rules(df)
        rejected = len(rejects)
        if rejects:
            ctx.catalog.add_dead_letters((source, symbol, raw_text, reason) for raw_text, reason in rejects)

    extra = {"duplicates_dropped": dups, "out_of_order_fixed": disorder, "rejected": rejected,
             "wrong_day_dropped": wrong_day}
    info = ctx.store.write_day(symbol, day, df, extra=extra)
    ds = dict(dataset or {})
    existing = ctx.catalog.dataset(symbol)
    if existing is None or dataset:
        ctx.catalog.upsert_dataset(symbol, source=ds.pop("source", source), calendar=calendar.name, **ds)
    ctx.catalog.upsert_tick_day(info)
    ctx.bus.publish("collection", {"symbol": symbol, "day": day.isoformat(), "ticks": info.ticks,
                                   "source": source}, type_="day_written")
    run_after_write(ctx, symbol, day)
    return IngestResult(info, dups, disorder, rejected, wrong_day)


def run_after_write(ctx, symbol: str, day) -> None:
    """Run the registered post-write hooks; failures are logged and published, not raised."""
    import logging

    for hook in ctx.extras.get("after_write", ()):
        try:
            hook(ctx, symbol, day)
        except Exception as e:  # noqa: BLE001 - a hook must not undo a completed write
            logging.getLogger(__name__).exception("after-write hook %r failed for %s %s", hook, symbol, day)
            ctx.bus.publish("collection", {"symbol": symbol, "day": str(day), "hook": getattr(hook, "__name__", str(hook)),
                                           "error": str(e)}, type_="hook_failed")
