"""Quality scores and gaps of a symbol over a day range (``GET /api/v1/quality``, ``/gaps``).

* :func:`quality_days` reads the stored score of every stored day with its four components
  (``data_health`` rows written by :func:`core.validation.quality_score`; a day never scored
  has no score). No frame is read.
* :func:`gaps` lists every gap of the tick stream with its severity, day by day, by the
  continuity validator's own rule (:func:`tickdeck.core.validation.continuity.find_gaps`, thresholds from
  the validation config), plus every trading day of the calendar with nothing stored
  (``missing_day``, HIGH, as :func:`core.validation.service.missing_day_report` rates it) up to
  the calendar's last completed trading day.
  Each stored day's timestamps and sessions are read (two columns of one read).
* :func:`stored_days_in` (the days a validation job over a range covers; the page's form uses
  :func:`days_to_validate`, the same from the catalog) and :func:`report_record` (a day report as
  plain data). When nothing is there to validate the error says why, distinctly: an unknown
  symbol (:class:`UnknownSymbol`), a day the market was closed with the holiday's name
  (:class:`MarketClosed`), or a trading day not stored (:class:`DayNotStored`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import select

from tickdeck.core import db
from tickdeck.core.errors import DayNotFound, NotFound, SchemaError, SymbolNotFound, TickdeckError
from tickdeck.core.naming import as_date, date_range, normalize_ticker
from tickdeck.core.quality_scale import quality_band
from tickdeck.core.validation.continuity import find_gaps
from tickdeck.core.validation.result import CRITICAL, HIGH, LOW, MEDIUM, SEVERITIES, SEVERITY_RANK, DayData
from tickdeck.core.validation.rules import load_config

GAPS_MAX_DAYS = 92  # trading or stored days one gaps answer covers (a quarter): each stored one is read
QUALITY_COMPONENTS = ("completeness", "accuracy", "timeliness", "consistency")


class RangeTooLong(TickdeckError, ValueError):
    """A range that would read more days than the answer allows."""


@dataclass(frozen=True)
class DayQuality:
    """A stored day's quality (0–100) and its components; ``score`` is ``None`` when never scored."""

    day: dt.date
    score: float | None
    band: str | None
    completeness: float | None
    accuracy: float | None
    timeliness: float | None
    consistency: float | None
    details: dict = field(default_factory=dict)
    scored_at: dt.datetime | None = None


@dataclass(frozen=True)
class QualityReport:
    symbol: str
    start: dt.date
    end: dt.date
    mean: float | None  # of the scored days
    band: str | None
    days: tuple[DayQuality, ...]


def _span(ctx, symbol: str, start, end) -> tuple[str, dt.date, dt.date, list[dt.date]]:
    sym = normalize_ticker(symbol)
    stored = ctx.catalog.stored_days(sym)
    if not stored:
        raise SymbolNotFound(sym, "the catalog")
    lo = as_date(start) if start is not None else stored[0]
    hi = as_date(end) if end is not None else stored[-1]
    lo, hi = date_range(lo, hi)
    return sym, lo, hi, [d for d in stored if lo <= d <= hi]


def _plain(x):
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x


class UnknownSymbol(SymbolNotFound):
    """Nothing at all is stored for the symbol (not the same as one day missing)."""

    def __init__(self, symbol: str, known: list[str]):
        self.symbol = symbol
        shown = ", ".join(known[:8]) + (f" and {len(known) - 8} more" if len(known) > 8 else "")
        NotFound.__init__(self, f"unknown symbol {symbol}: no data is stored for it"
                                + (f" (stored symbols: {shown})" if known else " (the store is empty)")
                                + "; generate, import or collect it first")


class MarketClosed(DayNotFound):
    """The asked day is not a trading day of the symbol's calendar (a holiday or a weekend)."""

    def __init__(self, symbol: str, day: dt.date, calendar: str, reason: str):
        self.symbol, self.day, self.calendar, self.reason = symbol, day, calendar, reason
        NotFound.__init__(self, f"the market ({calendar}) was closed on {day:%a} {day} ({reason}): no ticks "
                                f"to validate for {symbol}; pick a trading day")


class DayNotStored(DayNotFound):
    """A known symbol has no stored day in the asked trading day(s)."""

    def __init__(self, symbol: str, lo: dt.date, hi: dt.date, stored: list[dt.date]):
        self.symbol, self.day = symbol, lo if lo == hi else f"{lo}..{hi}"
        when = f"on {lo}" if lo == hi else f"between {lo} and {hi}"
        NotFound.__init__(self, f"no tick days stored for {symbol} {when} (stored: {stored[0]} … {stored[-1]}, "
                                f"{len(stored):,} days); collect, import or generate them first")


def _nothing_to_validate(ctx, sym: str, stored: list[dt.date], lo: dt.date, hi: dt.date) -> NotFound:
    """Why ``[lo, hi]`` has no stored day of ``sym``: unknown symbol, market closed or day not stored."""
    if not stored:
        return UnknownSymbol(sym, sorted(d.symbol for d in ctx.catalog.datasets()))
    cal = ctx.calendar_for(sym)
    if lo == hi and not cal.is_trading_day(lo):
        reason = cal.holiday_name(lo) or ("weekend" if lo.weekday() >= 5 else "no session")
        return MarketClosed(sym, lo, cal.name, reason)
    if not cal.trading_days(lo, hi):
        return MarketClosed(sym, lo, cal.name, f"no trading day from {lo} to {hi}")
    return DayNotStored(sym, lo, hi, stored)


def days_to_validate(ctx, symbol: str, start, end=None) -> list[dt.date]:
    """The catalogued tick days of ``symbol`` in ``[start, end]`` (``end`` defaults to ``start``).

    Raises
    ------
    UnknownSymbol
        Nothing is catalogued for ``symbol``.
    MarketClosed
        ``start`` (a single day) is a holiday or weekend, or the range has no trading day.
    DayNotFound
        The symbol is known but no stored day falls in the range.
    InvalidDateRange
        ``end`` is before ``start``.
    """
    sym = normalize_ticker(symbol)
    lo, hi = date_range(start, start if end is None else end)
    stored = ctx.catalog.stored_days(sym)
    days = [d for d in stored if lo <= d <= hi]
    if not days:
        raise _nothing_to_validate(ctx, sym, stored, lo, hi)
    return days


def stored_days_in(ctx, symbol: str, start, end=None) -> list[dt.date]:
    """The stored tick days of ``symbol`` in ``[start, end]`` (``end`` defaults to ``start``).

    Raises
    ------
    SymbolNotFound
        Nothing is stored for ``symbol``.
    DayNotFound
        No stored day falls in the range.
    InvalidDateRange
        ``end`` is before ``start``.
    """
    sym = normalize_ticker(symbol)
    lo, hi = date_range(start, start if end is None else end)
    stored = sorted(ctx.store.list_days(sym))
    days = [d for d in stored if lo <= d <= hi]
    if not days:
        raise _nothing_to_validate(ctx, sym, stored, lo, hi)
    return days


def report_record(report) -> dict:
    """A :class:`~tickdeck.core.validation.DayReport` as plain data: the report's fields and each validator's
    result with its issues (numpy numbers in metrics as Python numbers)."""
    return {"symbol": report.symbol, "day": report.day, "status": report.status,
            "data_version": report.data_version, "cached": report.cached,
            "results": [{"validator": r.validator, "status": r.status, "checks": list(r.checks),
                         "issues": [_plain(i.to_dict()) for i in r.issues], "metrics": _plain(r.metrics),
                         "data_version": r.data_version, "created_at": r.created_at} for r in report.results]}


def quality_days(ctx, symbol: str, start=None, end=None) -> QualityReport:
    """Every stored day of ``symbol`` in ``[start, end]`` (default: all) with its stored score.

    Raises
    ------
    SymbolNotFound
        No tick day of ``symbol`` is catalogued.
    InvalidDateRange
        ``end`` is before ``start``.
    """
    sym, lo, hi, days = _span(ctx, symbol, start, end)
    h = db.DataHealth
    stmt = (select(h.day, h.score, h.components, h.updated_at)
            .where(h.symbol == sym, h.day >= lo, h.day <= hi))
    with ctx.catalog.engine.connect() as c:
        rows = {as_date(r[0]): r for r in c.execute(stmt)}
    out = []
    for d in days:
        r = rows.get(d)
        if r is None:
            out.append(DayQuality(d, None, None, None, None, None, None))
            continue
        comp = dict(r[2] or {})
        parts = [None if comp.get(k) is None else float(comp[k]) for k in QUALITY_COMPONENTS]
        details = _plain({k: v for k, v in comp.items() if k not in QUALITY_COMPONENTS})
        at = r[3]
        if isinstance(at, dt.datetime) and at.tzinfo is None:
            at = at.replace(tzinfo=dt.timezone.utc)
        score = float(r[1])
        out.append(DayQuality(d, score, quality_band(score), *parts, details=details, scored_at=at))
    scored = [q.score for q in out if q.score is not None]
    mean = round(float(np.mean(scored)), 2) if scored else None
    return QualityReport(sym, lo, hi, mean, quality_band(mean), tuple(out))


@dataclass(frozen=True)
class Gap:
    """A hole in a day's tick stream (``kind="gap"``: between two trades of one session) or a
    trading day with nothing stored (``kind="missing_day"``; ``start``/``end`` are ``None``)."""

    day: dt.date
    kind: str
    severity: str
    session: str | None
    start: str | None  # ISO 8601, ET
    end: str | None
    seconds: float | None


@dataclass(frozen=True)
class GapReport:
    symbol: str
    start: dt.date
    end: dt.date
    min_severity: str
    counts: dict  # severity -> how many gaps (at or above min_severity)
    gaps: tuple[Gap, ...]


def _day_data(ctx, sym: str, day: dt.date, cal) -> DayData:
    df = ctx.store.read_day(sym, day, columns=["session"])
    n = len(df)
    zeros = np.zeros(n, np.int64)
    return DayData(sym, day, cal, None, None, df.index.asi8, zeros, zeros.astype(np.int32), zeros,
                   np.zeros(n), zeros, zeros, np.zeros(n), np.zeros(n), df["session"].to_numpy(np.int8),
                   zeros.astype(np.uint8))


def gaps(ctx, symbol: str, start=None, end=None, *, min_severity: str = LOW) -> GapReport:
    """Gaps of ``symbol`` on the days of ``[start, end]`` (default: all stored days), in time order.

    Only gaps of ``min_severity`` or worse are listed (``LOW``: all).

    Raises
    ------
    SymbolNotFound
        No tick day of ``symbol`` is catalogued.
    InvalidDateRange
        ``end`` is before ``start``.
    SchemaError
        ``min_severity`` is not CRITICAL, HIGH, MEDIUM or LOW.
    RangeTooLong
        The range spans more than :data:`GAPS_MAX_DAYS` trading or stored days.
    """
    if min_severity not in SEVERITIES:
        raise SchemaError("min_severity", f"unknown severity {min_severity!r}; use one of {', '.join(SEVERITIES)}")
    sym, lo, hi, days = _span(ctx, symbol, start, end)
    cal = ctx.calendar_for(sym)
    done = min(hi, cal.last_completed_trading_day())  # later trading days are not missing yet
    trading = cal.trading_days(lo, done) if lo <= done else []
    span = len(set(trading) | set(days))
    if span > GAPS_MAX_DAYS:
        raise RangeTooLong(f"{lo}..{hi} spans {span:,} trading or stored days of {sym}; a gaps answer covers at "
                           f"most {GAPS_MAX_DAYS}: ask for a shorter range")
    cfg = load_config(ctx.catalog)
    worst = SEVERITY_RANK[min_severity]
    found: list[Gap] = []
    have = set(days)
    for d in (t for t in trading if t not in have):
        if SEVERITY_RANK[HIGH] <= worst:
            found.append(Gap(d, "missing_day", HIGH, None, None, None, None))
    for d in days:
        for g in find_gaps(_day_data(ctx, sym, d, cal), cfg):
            if SEVERITY_RANK[g["severity"]] <= worst:
                found.append(Gap(d, "gap", g["severity"], g["session"], g["start"], g["end"], g["seconds"]))
    found.sort(key=lambda g: (g.day, g.start or ""))
    counts = {s: sum(1 for g in found if g.severity == s) for s in (CRITICAL, HIGH, MEDIUM, LOW)
              if SEVERITY_RANK[s] <= worst}
    return GapReport(sym, lo, hi, min_severity, counts, tuple(found))
