"""Backfill planning: which trading days to (re)collect, and how fresh each dataset is.

A symbol's backfill plan for ``[start, end]`` is the calendar's trading days minus the days
the catalog has stored, plus stored days whose latest validation result is a failure. Plans
become jobs at priority 2 through a ``submit(kind, params, priority)`` callable (the job
queue's, so this module does not depend on ``jobs``).

Each dataset goes to its own source (:func:`collect_route`): a dataset collected from IQFeed
(or one not in the catalog yet) to IQFeed (``collect`` jobs), a synthetic dataset to the
synthetic generator (``generate`` jobs), and an imported one nowhere — its plan says it is
"not collectable from a feed" and no job is queued for it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable

import numpy as np

from tickdeck.core.demo_clock import market_now
from tickdeck.core.naming import date_range, format_day, normalize_ticker

BACKFILL_PRIORITY = 2
DEFAULT_LOOKBACK_DAYS = 30  # "backfill all stale" window for a symbol with nothing stored yet
MAX_DAYS_PER_JOB = 20  # keeps each collect job cancellable/retryable in small pieces
FEED = "iqfeed"  # collected from the IQFeed protocol (the real feed or the bundled emulator)
GENERATOR = "synthetic"  # made by tickdeck.core.sources.synthetic
NOT_COLLECTABLE = "not collectable from a feed"


@dataclass(frozen=True)
class CollectRoute:
    """Where a dataset's missing days come from: ``via`` is :data:`FEED`, :data:`GENERATOR` or
    ``None`` (then ``reason`` says why, starting with :data:`NOT_COLLECTABLE`)."""

    symbol: str
    source: str  # the dataset's recorded source ("" when the symbol has no dataset yet)
    via: str | None
    reason: str = ""

    @property
    def collectable(self) -> bool:
        return self.via is not None


@dataclass(frozen=True)
class BackfillPlan:
    symbol: str
    start: dt.date
    end: dt.date
    missing: tuple[dt.date, ...]
    failing: tuple[dt.date, ...]
    via: str | None = FEED  # see CollectRoute
    reason: str = ""  # why nothing is queued for it (via None)
    ticks: int | None = None  # synthetic datasets: regular-session trades per generated day, as stored

    @property
    def days(self) -> tuple[dt.date, ...]:
        return tuple(sorted(set(self.missing) | set(self.failing)))

    def to_dict(self) -> dict:
        return {"symbol": self.symbol, "start": format_day(self.start), "end": format_day(self.end),
                "missing": [format_day(d) for d in self.missing], "failing": [format_day(d) for d in self.failing],
                "via": self.via, "reason": self.reason}


@dataclass(frozen=True)
class Freshness:
    symbol: str
    latest_day: dt.date | None
    last_completed: dt.date
    days_behind: int  # trading days after latest_day up to last_completed (all of them if none)

    @property
    def stale(self) -> bool:
        return self.days_behind > 0


def watchlist(ctx) -> list[str]:
    """Configured watchlist (``system_config['watchlist']``), default: every dataset."""
    wl = ctx.catalog.get_config("watchlist", None)
    if wl:
        return [normalize_ticker(s) for s in wl]
    return [d.symbol for d in ctx.catalog.datasets()]


def collect_route(ctx, symbol: str, dataset=None) -> CollectRoute:
    """Which source collects ``symbol``'s days, from its dataset's ``source`` (``dataset``: its
    catalog row when the caller has it already)."""
    symbol = normalize_ticker(symbol)
    ds = dataset if dataset is not None else ctx.catalog.dataset(symbol)
    source = (getattr(ds, "source", "") or "") if ds is not None else ""
    if source in ("", FEED) or source.startswith(FEED + "-"):
        return CollectRoute(symbol, source, FEED)
    if source == GENERATOR:
        return CollectRoute(symbol, source, GENERATOR)
    if source.startswith("import:"):
        why = f"{NOT_COLLECTABLE}: {symbol} was imported from a file ({source}); import the missing days instead"
    else:
        why = f"{NOT_COLLECTABLE}: {symbol} comes from {source!r}, which no feed collects"
    return CollectRoute(symbol, source, None, why)


def feed_symbols(ctx, symbols=None) -> list[str]:
    """The symbols (default: the watchlist) whose datasets IQFeed collects: what live collection
    streams and the close finalises."""
    return [s for s in (symbols or watchlist(ctx)) if collect_route(ctx, s).via == FEED]


def failing_days(ctx, symbol: str, start, end) -> list[dt.date]:
    """Stored days whose latest result of any validator is a failure."""
    return sorted(ctx.catalog.failing_days(symbol, start, end))


def plan_backfill(ctx, symbol: str, start, end) -> BackfillPlan:
    """Missing and failing trading days of ``symbol`` in ``[start, end]``.

    Raises
    ------
    TickdeckError
        ``end`` is before ``start``.
    """
    symbol, (start, end) = normalize_ticker(symbol), date_range(start, end)
    cal = ctx.calendar_for(symbol)
    stored = ctx.catalog.stored_days(symbol)
    missing = cal.missing_days(start, end, stored)
    route = collect_route(ctx, symbol)
    ticks = None
    if route.via == GENERATOR:
        rows = ctx.catalog.tick_days(symbol)
        ticks = int(rows[-1].regular_ticks) if rows and rows[-1].regular_ticks else None
    return BackfillPlan(symbol, start, end, tuple(missing), tuple(failing_days(ctx, symbol, start, end)),
                        via=route.via, reason=route.reason, ticks=ticks)


class TradingDayCounter:
    """Counts one calendar's trading days in any ``[a, b]`` by binary search (no list per call).

    Built once for a span (``start`` … ``end``); counting thousands of datasets' ranges then
    costs microseconds each instead of building a list of dates per dataset.
    """

    def __init__(self, calendar, start, end):
        self.days = np.array(calendar.trading_days(start, end), dtype="datetime64[D]")

    def count(self, a: dt.date, b: dt.date) -> int:
        """Trading days in ``[a, b]`` (within the span this counter was built for)."""
        lo = np.searchsorted(self.days, np.datetime64(a, "D"), side="left")
        hi = np.searchsorted(self.days, np.datetime64(b, "D"), side="right")
        return max(int(hi - lo), 0)


def freshness_of(symbol: str, latest_day: dt.date | None, calendar, *, now=None,
                 counter: TradingDayCounter | None = None) -> Freshness:
    """Freshness of one dataset whose newest stored day is ``latest_day`` (pure: no catalog read).

    A dataset with nothing stored is :data:`DEFAULT_LOOKBACK_DAYS` trading days behind.
    ``counter`` (covering ``latest_day`` … the last completed day) saves building a list of days.
    """
    last = calendar.last_completed_trading_day(now)
    if latest_day is None:
        behind = len(calendar.previous_trading_days(last, DEFAULT_LOOKBACK_DAYS))
    elif latest_day >= last:
        behind = 0
    elif counter is not None:
        behind = counter.count(latest_day + dt.timedelta(days=1), last)
    else:
        behind = len(calendar.trading_days(latest_day + dt.timedelta(days=1), last))
    return Freshness(normalize_ticker(symbol), latest_day, last, behind)


def freshness(ctx, symbols=None, *, now=None, datasets=None) -> list[Freshness]:
    """Latest stored day vs the last completed trading day, per symbol (default: the watchlist).

    One catalog query for all symbols (``datasets``: summaries already read by the caller);
    each dataset is measured on its own calendar, with one :class:`TradingDayCounter` per
    calendar (2,000 datasets: a few milliseconds). ``now`` defaults to the demo feed's clock when one
    is configured (``TICKDECK_DEMO_NOW``, :func:`core.demo_clock.market_now`), else the wall clock.
    """
    if now is None:
        now = market_now(getattr(ctx, "settings", None))
    summaries = {d.symbol: d for d in (ctx.catalog.datasets() if datasets is None else datasets)}
    syms = [normalize_ticker(s) for s in (symbols or watchlist(ctx))]
    by_cal: dict[str | None, list] = {}
    for sym in syms:
        d = summaries.get(sym)
        by_cal.setdefault(d.calendar if d is not None and d.calendar else None, []).append(sym)
    out: dict[str, Freshness] = {}
    for name, group in by_cal.items():
        cal = ctx.calendar(name)
        firsts = [summaries[s].last_day for s in group if s in summaries and summaries[s].last_day is not None]
        counter = TradingDayCounter(cal, min(firsts), cal.last_completed_trading_day(now)) if firsts else None
        for sym in group:
            d = summaries.get(sym)
            out[sym] = freshness_of(sym, None if d is None else d.last_day, cal, now=now, counter=counter)
    return [out[s] for s in syms]


def plan_stale(ctx, symbols=None, *, now=None, lookback_days: int = DEFAULT_LOOKBACK_DAYS) -> list[BackfillPlan]:
    """"Backfill all stale": for each watchlist symbol, the gap up to the last completed day.

    A symbol with stored days is planned from its first stored day (so holes are filled
    too); one with none from ``lookback_days`` trading days back.
    """
    plans = []
    for f in freshness(ctx, symbols, now=now):
        cal = ctx.calendar_for(f.symbol)
        days = ctx.catalog.stored_days(f.symbol)
        start = days[0] if days else cal.previous_trading_days(f.last_completed, lookback_days)[0]
        plan = plan_backfill(ctx, f.symbol, start, f.last_completed)
        if plan.days:
            plans.append(plan)
    return plans


def submit_plans(plans, submit: Callable[[str, dict, int], int]) -> list[int]:
    """Queue jobs (priority 2) for the plans' days, in chunks, each to its dataset's source:
    ``collect`` (IQFeed) or ``generate`` (synthetic); plans that are not collectable queue
    nothing. Returns the job ids."""
    ids = []
    for p in plans:
        if p.via is None:
            continue
        kind = "collect" if p.via == FEED else "generate"
        days = [format_day(d) for d in p.days]
        for i in range(0, len(days), MAX_DAYS_PER_JOB):
            params = {"symbols": [p.symbol], "days": days[i:i + MAX_DAYS_PER_JOB], "reason": "backfill"}
            if p.via == GENERATOR and p.ticks:
                params["ticks"] = p.ticks
            ids.append(submit(kind, params, BACKFILL_PRIORITY))
    return ids


def run_plan(ctx, plan: BackfillPlan, *, progress=None) -> list:
    """Collect a plan's days here and now from its source; returns the ingest results
    (nothing for a plan that is not collectable)."""
    if plan.via == FEED:
        from tickdeck.core.collect import collect_days

        return collect_days(ctx, [plan.symbol], list(plan.days), progress=progress)
    if plan.via == GENERATOR:
        from tickdeck.core.sources.synthetic import generate_into_store

        return [r for d in plan.days for r in generate_into_store(ctx, [plan.symbol], d, d, ticks=plan.ticks,
                                                                  progress=progress)]
    return []
