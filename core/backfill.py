"""Backfill planning: which trading days to (re)collect, and how fresh each dataset is.

A symbol's backfill plan for ``[start, end]`` is the calendar's trading days minus the days
the catalog has stored, plus stored days whose latest validation result is a failure. Plans
become ``collect`` jobs at priority 2 through a ``submit(kind, params, priority)`` callable
(the job queue's, so this module does not depend on ``jobs``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable

from core.naming import date_range, format_day, normalize_ticker

BACKFILL_PRIORITY = 2
DEFAULT_LOOKBACK_DAYS = 30  # "backfill all stale" window for a symbol with nothing stored yet
MAX_DAYS_PER_JOB = 20  # keeps each collect job cancellable/retryable in small pieces


@dataclass(frozen=True)
class BackfillPlan:
    symbol: str
    start: dt.date
    end: dt.date
    missing: tuple[dt.date, ...]
    failing: tuple[dt.date, ...]

    @property
    def days(self) -> tuple[dt.date, ...]:
        return tuple(sorted(set(self.missing) | set(self.failing)))

    def to_dict(self) -> dict:
        return {"symbol": self.symbol, "start": format_day(self.start), "end": format_day(self.end),
                "missing": [format_day(d) for d in self.missing], "failing": [format_day(d) for d in self.failing]}


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
    return BackfillPlan(symbol, start, end, tuple(missing), tuple(failing_days(ctx, symbol, start, end)))


def freshness_of(symbol: str, latest_day: dt.date | None, calendar, *, now=None) -> Freshness:
    """Freshness of one dataset whose newest stored day is ``latest_day`` (pure: no catalog read).

    A dataset with nothing stored is :data:`DEFAULT_LOOKBACK_DAYS` trading days behind.
    """
    last = calendar.last_completed_trading_day(now)
    if latest_day is None:
        behind = len(calendar.previous_trading_days(last, DEFAULT_LOOKBACK_DAYS))
    else:
        behind = len(calendar.trading_days(latest_day + dt.timedelta(days=1), last)) if latest_day < last else 0
    return Freshness(normalize_ticker(symbol), latest_day, last, behind)


def freshness(ctx, symbols=None, *, now=None, datasets=None) -> list[Freshness]:
    """Latest stored day vs the last completed trading day, per symbol (default: the watchlist).

    One catalog query for all symbols (``datasets``: summaries already read by the caller);
    each dataset is measured on its own calendar.
    """
    summaries = {d.symbol: d for d in (ctx.catalog.datasets() if datasets is None else datasets)}
    out = []
    for sym in symbols or watchlist(ctx):
        d = summaries.get(normalize_ticker(sym))
        cal = ctx.calendar(d.calendar if d is not None and d.calendar else None)
        out.append(freshness_of(sym, None if d is None else d.last_day, cal, now=now))
    return out


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
    """Queue ``collect`` jobs (priority 2) for the plans' days, in chunks; returns job ids."""
    ids = []
    for p in plans:
        days = [format_day(d) for d in p.days]
        for i in range(0, len(days), MAX_DAYS_PER_JOB):
            ids.append(submit("collect", {"symbols": [p.symbol], "days": days[i:i + MAX_DAYS_PER_JOB],
                                          "reason": "backfill"}, BACKFILL_PRIORITY))
    return ids
