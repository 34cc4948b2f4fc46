"""Quality score per symbol-day (0–100) and its persistence in ``data_health`` and the catalog.

Formula (components 0–100 each; weights are :data:`WEIGHTS`)::

    score = 0.30·completeness + 0.30·accuracy + 0.10·timeliness + 0.30·consistency

* completeness = 100 · covered / L, where L is the regular session's length per the calendar
  (09:30–16:00, 09:30–13:00 on an early close) and covered = L − regular-session gap time (the
  continuity validator's gaps, LOW threshold and up) − the hole before the first regular trade
  − the hole after the last one; a hole at the open or close within the session validator's
  tolerance (``open_tolerance_s``/``close_tolerance_s``) counts as covered. 0 on a non-trading
  day or without a regular trade. The tick count is not part of it: a half day or a quiet day
  with no gaps scores 100 (the count of earlier days is shown as ``median_ticks`` only).
* accuracy = 100 · max(0, 1 − 20 · bad / (ticks + rejected)), ``bad`` = rows rejected at ingest
  + ticks flagged crossed, outside the quote or as a price jump (a 5% bad share scores 0).
* timeliness = max(0, 100 − 10 · trading days between the symbol's latest stored day and the
  calendar's last completed trading day) — how fresh the dataset this day belongs to is.
* consistency = max(0, 100 − Σ penalty) over the session/storage/timezone/continuity issues,
  penalty CRITICAL 40, HIGH 20, MEDIUM 5, LOW 0.

The scale is 0–100 everywhere (:mod:`core.quality_scale`): the score, its components, the
catalog's ``quality_score``, the ``data_health`` rows and every page; :func:`quality_band` names
the band (good ≥ :data:`QUALITY_GOOD`, fair ≥ :data:`QUALITY_FAIR`, else poor). A stored 1
means 1 out of 100.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import delete

from tickdeck.core import db
from tickdeck.core.events import QualityScored
from tickdeck.core.naming import as_date, normalize_ticker
from tickdeck.core.quality_scale import (  # noqa: F401 - the scale, re-exported with the score
    QUALITY_BANDS,
    QUALITY_FAIR,
    QUALITY_GOOD,
    QUALITY_MAX,
    InvalidQualityScore,
    check_quality_score,
    quality_band,
)
from tickdeck.core.validation.result import CRITICAL, HIGH, LOW, MEDIUM, DayReport
from tickdeck.core.validation.rules import load_config

WEIGHTS = {"completeness": 0.30, "accuracy": 0.30, "timeliness": 0.10, "consistency": 0.30}
PENALTY = {CRITICAL: 40.0, HIGH: 20.0, MEDIUM: 5.0, LOW: 0.0}
HISTORY_DAYS = 20  # previous days whose median tick count is reported beside the score (~a month)
ACCURACY_PENALTY = 20.0  # bad-row share multiplier: 5% bad rows → accuracy 0
TIMELINESS_STEP = 10.0  # points lost per trading day the dataset lags behind
BAD_FLAGS = ("crossed", "outside_quote", "price_jump")


@dataclass(frozen=True)
class QualityScore:
    """The score of one symbol-day and its four components (0–100 each)."""

    symbol: str
    day: dt.date
    score: float
    completeness: float
    accuracy: float
    timeliness: float
    consistency: float
    details: dict = field(default_factory=dict)

    def components(self) -> dict:
        return {"completeness": self.completeness, "accuracy": self.accuracy, "timeliness": self.timeliness,
                "consistency": self.consistency, **self.details}


def _completeness(ctx, symbol, day, report: DayReport, details: dict) -> float:
    sess = report.result("session").metrics if report.result("session") else {}
    cont = report.result("continuity").metrics if report.result("continuity") else {}
    rows = ctx.catalog.tick_days(symbol, end=day - dt.timedelta(days=1))[-HISTORY_DAYS:]
    details["ticks"] = int(sess.get("ticks", 0))
    details["median_ticks"] = float(np.median([r.ticks for r in rows])) if rows else None  # context, not scored
    cal = ctx.calendar_for(symbol)
    if not cal.is_trading_day(day) or "first_regular" not in sess:
        details.update(coverage=0.0, session_seconds=0.0)
        return 0.0
    b = cal.bounds(day)
    config = load_config(ctx.catalog)
    length = (b.close - b.open).total_seconds()
    late = float(sess.get("first_regular_delay_s", 0.0))
    early = float(sess.get("last_regular_lead_s", 0.0))
    hole_open = max(0.0, late) if late > config.open_tolerance_s else 0.0
    hole_close = max(0.0, early) if early > config.close_tolerance_s else 0.0
    gaps = float(cont.get("gap_seconds_regular", 0.0))
    coverage = max(0.0, min(1.0, (length - gaps - hole_open - hole_close) / length)) if length > 0 else 0.0
    details.update(coverage=round(coverage, 4), session_seconds=length, early_close=b.early_close,
                   gap_seconds=gaps, missing_open_s=hole_open, missing_close_s=hole_close)
    return 100.0 * coverage


def _accuracy(report: DayReport, details: dict) -> float:
    r = report.result("rules")
    ticks = report.result("session").metrics.get("ticks", 0) if report.result("session") else 0
    if r is None:
        return 100.0
    bad = int(r.metrics.get("rejected", 0)) + sum(int(r.metrics.get(k, 0)) for k in BAD_FLAGS)
    details["bad_rows"] = bad
    total = ticks + int(r.metrics.get("rejected", 0))
    return 100.0 * max(0.0, 1.0 - ACCURACY_PENALTY * bad / total) if total else 0.0


def _timeliness(ctx, symbol, details: dict) -> float:
    cal = ctx.calendar_for(symbol)
    days = ctx.catalog.stored_days(symbol)
    if not days:
        return 0.0
    latest, target = days[-1], cal.last_completed_trading_day()
    behind = len([d for d in cal.trading_days(latest, target) if d > latest]) if latest < target else 0
    details["days_behind"] = behind
    return max(0.0, 100.0 - TIMELINESS_STEP * behind)


def _consistency(report: DayReport) -> float:
    pen = sum(PENALTY[i.severity] for i in report.issues if i.validator != "rules")
    return max(0.0, 100.0 - pen)


def quality_score(ctx, symbol: str, day, *, report: DayReport | None = None, persist: bool = True) -> QualityScore:
    """Score a stored symbol-day from its validation report (validated now unless given/cached).

    Persists the score in ``data_health`` (components as JSON) and the catalog's tier-1 row
    (``quality_score``, averaged by the home cards) unless ``persist`` is False.

    Raises
    ------
    DayNotFound
        The day is not stored.
    """
    from tickdeck.core.validation.service import validate_day

    symbol, day = normalize_ticker(symbol), as_date(day)
    report = report or validate_day(ctx, symbol, day)
    details: dict = {}
    comp = {"completeness": _completeness(ctx, symbol, day, report, details), "accuracy": _accuracy(report, details),
            "timeliness": _timeliness(ctx, symbol, details), "consistency": _consistency(report)}
    score = round(sum(WEIGHTS[k] * v for k, v in comp.items()), 2)
    q = QualityScore(symbol, day, score, *(round(comp[k], 2) for k in WEIGHTS), details=details)
    if persist:
        with ctx.catalog.Session.begin() as s:
            s.execute(delete(db.DataHealth).where(db.DataHealth.symbol == symbol, db.DataHealth.day == day))
            s.add(db.DataHealth(symbol=symbol, day=day, score=score, components=q.components(), updated_at=db.utcnow()))
        ctx.catalog.set_quality(symbol, day, score)
        ctx.bus.publish(QualityScored(symbol, day.isoformat(), float(score)))
    return q
