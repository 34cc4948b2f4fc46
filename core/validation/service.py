"""Validation service: load a day once, run the validators, cache and persist the results.

Public API (re-exported by :mod:`core.validation`): :func:`validate_day`,
:func:`validate_range`, :func:`history`. Results are stored in ``validation_results`` (one row
per validator per run, so history is kept); a stored result is reused while the day's
``ingest_id`` is unchanged and it is younger than ``ValidationConfig.cache_hours`` (24 h).
Bars built after a validation do not change the ``ingest_id``: pass ``use_cache=False`` to
re-check storage after a bar rebuild.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select

from tickdeck.core import db, metrics
from tickdeck.core.errors import DayNotFound, TickdeckError
from tickdeck.core.events import ValidationDone
from tickdeck.core.naming import as_date, date_range, normalize_ticker
from tickdeck.core.progress import Progress
from tickdeck.core.store import trim_heap
from tickdeck.core.validation.continuity import validate_continuity
from tickdeck.core.validation.result import HIGH, DayData, DayReport, Issue, ValidationResult
from tickdeck.core.validation.rules import ValidationConfig, load_config, validate_rules
from tickdeck.core.validation.session import validate_session
from tickdeck.core.validation.storage import validate_storage
from tickdeck.core.validation.timezone import validate_timezone

VALIDATORS = ("session", "storage", "timezone", "continuity", "rules")
COLUMNS = ["tick_id", "date", "time", "last", "last_sz", "tot_vlm", "bid", "ask", "session", "last_type"]
HISTORY_LIMIT = 200  # rows returned by history(): months of daily runs for one day is plenty


class UnknownValidator(TickdeckError, ValueError):
    """A validator type that does not exist was asked for."""


def _types(types) -> tuple[str, ...]:
    if types is None:
        return VALIDATORS
    types = (types,) if isinstance(types, str) else tuple(types)
    bad = [t for t in types if t not in VALIDATORS]
    if bad:
        raise UnknownValidator(f"unknown validator {bad[0]!r}; choose from {', '.join(VALIDATORS)}")
    return types


def load_day(ctx, symbol: str, day) -> DayData:
    """Read the columns the validators need for one stored day (one ArcticDB read).

    Raises
    ------
    DayNotFound
        Nothing is stored for ``symbol`` on ``day``.
    """
    symbol, day = normalize_ticker(symbol), as_date(day)
    if not ctx.store.has_day(symbol, day):
        raise DayNotFound(symbol, day)
    try:
        info = ctx.store.day_info(symbol, day)
    except DayNotFound:
        info = None
    df = ctx.store.read_day(symbol, day, columns=COLUMNS)
    idx = df.index
    tz = None if getattr(idx, "tz", None) is None else str(idx.tz)

    def col(name, dtype):
        return df[name].to_numpy(dtype) if name in df.columns else np.zeros(len(df), dtype)

    return DayData(symbol, day, ctx.calendar_for(symbol), info, tz, idx.asi8, col("tick_id", np.int64),
                   col("date", np.int32), col("time", np.int64), col("last", np.float64), col("last_sz", np.int64),
                   col("tot_vlm", np.int64), col("bid", np.float64), col("ask", np.float64), col("session", np.int8),
                   col("last_type", np.uint8))


def run_validators(ctx, data: DayData, types=None, config: ValidationConfig | None = None) -> list[ValidationResult]:
    """Run the chosen validators on loaded data (no caching, no persistence)."""
    cfg = config or ValidationConfig()
    version = getattr(data.info, "ingest_id", "") or ""
    out = []
    for t in _types(types):
        trim_heap()  # the previous validator's scratch arrays, before this one makes its own
        if t == "session":
            r = validate_session(data, cfg)
        elif t == "storage":
            r = validate_storage(ctx, data, cfg)
        elif t == "timezone":
            r = validate_timezone(data, cfg)
        elif t == "continuity":
            r = validate_continuity(data, cfg)
        else:
            r = validate_rules(data, cfg)
        out.append(_with_version(r, version))
    return out


def _with_version(r: ValidationResult, version: str) -> ValidationResult:
    from dataclasses import replace

    return replace(r, data_version=version)


def validate_day(ctx, symbol: str, day, *, types=None, use_cache: bool = True,
                 config: ValidationConfig | None = None) -> DayReport:
    """Validate one stored symbol-day.

    Parameters
    ----------
    types
        Validator names (``session``, ``storage``, ``timezone``, ``continuity``, ``rules``); all by default.
    use_cache
        Reuse stored results of the same data version younger than ``cache_hours``.

    Raises
    ------
    DayNotFound
        The day is not stored.
    UnknownValidator
        ``types`` names a validator that does not exist.
    """
    symbol, day = normalize_ticker(symbol), as_date(day)
    wanted = _types(types)
    cfg = config or load_config(ctx.catalog)
    if not ctx.store.has_day(symbol, day):
        raise DayNotFound(symbol, day)
    version = ctx.store.day_info(symbol, day).ingest_id
    if use_cache:
        cached = _cached(ctx, symbol, day, wanted, version, cfg.cache_hours)
        metrics.cache_lookup("validation", cached is not None)
        if cached is not None:
            report = DayReport.build(symbol, day, cached, version, cached=True)
            metrics.validation_report(report)
            return report
    data = load_day(ctx, symbol, day)
    results = run_validators(ctx, data, wanted, cfg)
    _persist(ctx, results)
    report = DayReport.build(symbol, day, results, version)
    metrics.validation_report(report)
    ctx.bus.publish(ValidationDone(symbol, day.isoformat(), report.status, len(report.issues), version or ""))
    return report


def missing_day_report(ctx, symbol: str, day: dt.date) -> DayReport:
    """A FAIL report for a trading day with no stored data."""
    cal = ctx.calendar_for(symbol)
    issue = Issue("continuity", HIGH, "MISSING_DAY", f"{day} is a {cal.name} trading day but nothing is stored for "
                  f"{symbol}; collect or backfill it.")
    r = ValidationResult.build("continuity", symbol, day, ("missing_days",), [issue], {"stored": False})
    return DayReport.build(symbol, day, [r])


def validate_range(ctx, symbol: str, start, end, *, types=None, progress=None,
                   use_cache: bool = True) -> list[DayReport]:
    """Validate every stored day in ``[start, end]`` and report missing trading days.

    Returns one :class:`DayReport` per trading day of the symbol's calendar and per stored
    non-trading day, in date order; a missing trading day gets a FAIL report with a
    ``MISSING_DAY`` issue.

    Raises
    ------
    TickdeckError
        ``end`` is before ``start``.
    """
    symbol, (start, end) = normalize_ticker(symbol), date_range(start, end)
    _types(types)
    cfg = load_config(ctx.catalog)
    stored = [d for d in ctx.store.list_days(symbol) if start <= d <= end]
    cal = ctx.calendar_for(symbol)
    missing = set(cal.missing_days(start, end, stored))
    days = sorted(set(stored) | missing)
    out = []
    for i, d in enumerate(days):
        if d in missing:
            out.append(missing_day_report(ctx, symbol, d))
        else:
            out.append(validate_day(ctx, symbol, d, types=types, use_cache=use_cache, config=cfg))
        if progress:
            progress(Progress("validate", i + 1, len(days), f"{symbol} {d}"))
    return out


# -- persistence ------------------------------------------------------------------------------
def _persist(ctx, results: list[ValidationResult]) -> None:
    rows = [dict(symbol=r.symbol, day=r.day, validator=r.validator, status=r.status,
                 issues={"checks": list(r.checks), "items": [i.to_dict() for i in r.issues]},
                 metrics=_jsonable(r.metrics), data_version=r.data_version, created_at=r.created_at)
            for r in results]
    if rows:
        with ctx.catalog.Session.begin() as s:
            s.execute(db.ValidationResult.__table__.insert(), rows)


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x


def _from_row(r) -> ValidationResult:
    issues = tuple(Issue.from_dict(i) for i in (r.issues or {}).get("items", []))
    return ValidationResult(r.validator, r.symbol, r.day if isinstance(r.day, dt.date) else as_date(r.day), r.status,
                            tuple((r.issues or {}).get("checks", [])), issues, r.metrics or {}, r.data_version,
                            r.created_at)


def _rows(ctx, symbol: str, day: dt.date, limit: int | None = None):
    v = db.ValidationResult
    stmt = select(v).where(v.symbol == symbol, v.day == day).order_by(v.id.desc())
    if limit:
        stmt = stmt.limit(limit)
    with ctx.catalog.Session() as s:
        return list(s.scalars(stmt))


def _cached(ctx, symbol, day, wanted, version, hours) -> list[ValidationResult] | None:
    cutoff = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=hours)
    latest: dict[str, object] = {}
    for r in _rows(ctx, symbol, day, limit=len(VALIDATORS) * 4):
        latest.setdefault(r.validator, r)
    picked = []
    for t in wanted:
        r = latest.get(t)
        if r is None or r.data_version != version or r.created_at is None or r.created_at < cutoff:
            return None
        picked.append(_from_row(r))
    return picked


@dataclass(frozen=True)
class HistoryEntry:
    """One past validator run of a symbol-day."""

    validator: str
    status: str
    issues: int
    data_version: str
    created_at: dt.datetime


def history(ctx, symbol: str, day, *, full: bool = False) -> list:
    """Past validation runs of a symbol-day, newest first.

    Returns :class:`HistoryEntry` rows, or whole :class:`ValidationResult` objects when ``full``.
    """
    rows = _rows(ctx, normalize_ticker(symbol), as_date(day), HISTORY_LIMIT)
    if full:
        return [_from_row(r) for r in rows]
    return [HistoryEntry(r.validator, r.status, len((r.issues or {}).get("items", [])), r.data_version, r.created_at)
            for r in rows]
