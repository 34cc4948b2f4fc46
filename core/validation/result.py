"""Result types shared by every validator: issues, per-validator results and day reports.

A validator returns a :class:`ValidationResult` (its type, PASS/WARN/FAIL status, the checks it
ran, the :class:`Issue` list and metrics). :func:`core.validation.service.validate_day` bundles
them into a :class:`DayReport`. All are frozen and round-trip through plain dicts
(``to_dict``/``from_dict``) so they can be stored as JSON in ``validation_results``.

Status rule: any CRITICAL or HIGH issue → FAIL; otherwise any MEDIUM issue → WARN; otherwise
PASS (LOW issues are informational).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

PASS, WARN, FAIL = "PASS", "WARN", "FAIL"
CRITICAL, HIGH, MEDIUM, LOW = "CRITICAL", "HIGH", "MEDIUM", "LOW"
SEVERITIES = (CRITICAL, HIGH, MEDIUM, LOW)
SEVERITY_RANK = {CRITICAL: 0, HIGH: 1, MEDIUM: 2, LOW: 3}
STATUS_RANK = {PASS: 0, WARN: 1, FAIL: 2}
MAX_EXAMPLES = 5  # example rows kept per issue: enough to locate the problem, small enough for JSON


@dataclass(frozen=True)
class Issue:
    """One finding: what is wrong, how bad, where, and what to do.

    ``start``/``end`` are ISO timestamps (ET) of the affected range; ``rows`` how many ticks
    are affected; ``examples`` a few rows (dicts of plain values) to look at.
    """

    validator: str
    severity: str
    code: str
    message: str
    start: str | None = None
    end: str | None = None
    rows: int = 0
    examples: tuple = ()

    def to_dict(self) -> dict:
        return {"validator": self.validator, "severity": self.severity, "code": self.code,
                "message": self.message, "start": self.start, "end": self.end, "rows": self.rows,
                "examples": list(self.examples)}

    @classmethod
    def from_dict(cls, d: dict) -> "Issue":
        return cls(d["validator"], d["severity"], d["code"], d["message"], d.get("start"), d.get("end"),
                   int(d.get("rows", 0)), tuple(d.get("examples", ())))


def status_of(issues) -> str:
    """FAIL on CRITICAL/HIGH, WARN on MEDIUM, else PASS."""
    sev = {i.severity for i in issues}
    if sev & {CRITICAL, HIGH}:
        return FAIL
    if MEDIUM in sev:
        return WARN
    return PASS


@dataclass(frozen=True)
class ValidationResult:
    """What one validator found on one symbol-day."""

    validator: str
    symbol: str
    day: dt.date
    status: str
    checks: tuple[str, ...]
    issues: tuple[Issue, ...]
    metrics: dict = field(default_factory=dict)
    data_version: str = ""
    created_at: dt.datetime | None = None

    @classmethod
    def build(cls, validator: str, symbol: str, day: dt.date, checks, issues, metrics=None,
              data_version: str = "") -> "ValidationResult":
        issues = tuple(sorted(issues, key=lambda i: SEVERITY_RANK[i.severity]))
        return cls(validator, symbol, day, status_of(issues), tuple(checks), issues, dict(metrics or {}),
                   data_version, dt.datetime.now(dt.timezone.utc))

    def to_dict(self) -> dict:
        return {"validator": self.validator, "symbol": self.symbol, "day": self.day.isoformat(),
                "status": self.status, "checks": list(self.checks), "issues": [i.to_dict() for i in self.issues],
                "metrics": self.metrics, "data_version": self.data_version,
                "created_at": self.created_at.isoformat() if self.created_at else None}


@dataclass(frozen=True)
class DayReport:
    """Every validator's result for one symbol-day, plus the overall status."""

    symbol: str
    day: dt.date
    status: str
    results: tuple[ValidationResult, ...]
    data_version: str = ""
    cached: bool = False

    @classmethod
    def build(cls, symbol: str, day: dt.date, results, data_version: str = "", cached: bool = False) -> "DayReport":
        results = tuple(results)
        status = max((r.status for r in results), key=STATUS_RANK.__getitem__, default=PASS)
        return cls(symbol, day, status, results, data_version, cached)

    @property
    def issues(self) -> list[Issue]:
        out = [i for r in self.results for i in r.issues]
        return sorted(out, key=lambda i: SEVERITY_RANK[i.severity])

    def result(self, validator: str) -> ValidationResult | None:
        return next((r for r in self.results if r.validator == validator), None)

    def codes(self) -> set[str]:
        return {i.code for i in self.issues}

    def to_dict(self) -> dict:
        return {"symbol": self.symbol, "day": self.day.isoformat(), "status": self.status,
                "data_version": self.data_version, "cached": self.cached,
                "issues": [i.to_dict() for i in self.issues],
                "validators": {r.validator: {"status": r.status, "checks": list(r.checks), "metrics": r.metrics}
                               for r in self.results}}


def ts_iso(ns: int | None, tz: str = "America/New_York") -> str | None:
    """ISO text of a UTC-ns timestamp in ET (None passes through)."""
    if ns is None:
        return None
    import pandas as pd

    return pd.Timestamp(int(ns), tz="UTC").tz_convert(tz).isoformat()


@dataclass(frozen=True, eq=False)
class DayData:
    """The columns of one stored tick day the validators need, as numpy arrays (UTC ns index).

    Built once per validation run by :func:`core.validation.service.load_day` so the
    validators share one read.
    """

    symbol: str
    day: dt.date
    calendar: object  # core.calendar.MarketCalendar
    info: object  # core.store.DayInfo
    tz: str | None
    ns: object
    tick_id: object
    date: object
    time: object
    last: object
    size: object
    tot_vlm: object
    bid: object
    ask: object
    session: object
    last_type: object

    @property
    def n(self) -> int:
        return int(self.ns.shape[0])

    def example_rows(self, idx, limit: int = MAX_EXAMPLES) -> tuple:
        """A few rows (time, tick_id, price, size, bid, ask) at positions ``idx``."""
        import numpy as np

        out = []
        for i in np.asarray(idx)[:limit]:
            i = int(i)
            out.append({"time": ts_iso(int(self.ns[i])), "tick_id": int(self.tick_id[i]),
                        "last": float(self.last[i]), "size": int(self.size[i]),
                        "bid": _num(self.bid[i]), "ask": _num(self.ask[i]), "tot_vlm": int(self.tot_vlm[i])})
        return tuple(out)


def _num(x) -> float | None:
    x = float(x)
    return x if x == x else None
