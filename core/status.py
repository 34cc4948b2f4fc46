"""One status per dataset: freshness, quality and the last collection failure, as a typed record.

Every page that shows whether a dataset is healthy (home cards, the admin freshness rows, the
validation page) and later the API read :func:`dataset_statuses` / :func:`dataset_status`;
none of them classifies on its own. A :class:`DatasetStatus` combines

* **freshness** from :func:`core.backfill.freshness` (latest stored day against the calendar's
  last completed trading day);
* **quality** from the catalog: the mean of the dataset's per-day ``quality_score`` on the one
  0–100 scale of :mod:`core.quality_scale` (band good / fair / poor);
* **validation**: how many stored days fail their latest validation;
* **collection**: when the newest finished job that collects the dataset (``collect``,
  ``backfill``, ``generate``) failed, its message — e.g. a backfill whose collect job was
  refused by the feed. A later successful job clears it.

One call reads everything for any number of datasets in a fixed number of queries (datasets,
failing days, recent jobs), so a page with thousands of datasets costs the same handful of
queries as one with a few.

Classification (first match wins; ``level`` is the badge colour, ``label`` its text)::

    collection failed        -> failing   bad   "Collection failed"
    nothing stored           -> empty     bad   "Empty"
    quality below fair (70)  -> (state)   bad   "Poor quality"
    > STALE_MAX_LAG behind   -> outdated  bad   "Outdated"
    1..STALE_MAX_LAG behind  -> stale     warn  "Stale"
    quality below good (90)  -> fresh     warn  "Check quality"
    otherwise                -> fresh     ok    "Fresh"
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable

from sqlalchemy import func, select

from tickdeck.core import db
from tickdeck.core.backfill import Freshness, TradingDayCounter, freshness
from tickdeck.core.catalog import FAILING_STATUSES, DatasetSummary
from tickdeck.core.naming import normalize_ticker
from tickdeck.core.quality_scale import QUALITY_FAIR, QUALITY_GOOD, QUALITY_MAX, format_quality, quality_band

STALE_MAX_LAG = 3  # trading days behind that are still "stale" (amber); more is "outdated" (red)
COLLECTING_KINDS = ("collect", "backfill", "generate")  # jobs whose failure means the dataset did not update
RECENT_JOBS = 2_000  # finished collecting jobs scanned for the newest outcome per dataset
ERROR_CHARS = 300  # a failure message is shown up to this many characters
SYMBOLS_PER_QUERY = 500  # beyond this many symbols the failing-days query reads all symbols at once

STATES = ("fresh", "stale", "outdated", "empty", "failing")
LEVELS = ("ok", "warn", "bad")


@dataclass(frozen=True)
class CollectionFailure:
    """The newest finished job collecting a dataset failed: which job, when and why (one line)."""

    job_id: int
    kind: str
    message: str
    finished_at: dt.datetime | None


@dataclass(frozen=True)
class DatasetStatus:
    """What the pages and the API say about one dataset.

    ``quality`` is the mean day score on the 0–100 scale (``None``: never scored);
    ``quality_band`` is ``good`` | ``fair`` | ``poor`` | ``None``. ``state`` is one of
    :data:`STATES`; ``level`` (``ok`` | ``warn`` | ``bad``) and ``label`` are what a badge
    shows (always with the text), ``detail`` says why in one sentence.
    """

    symbol: str
    state: str
    level: str
    label: str
    detail: str
    quality: float | None
    quality_band: str | None
    first_day: dt.date | None
    last_day: dt.date | None
    expected_day: dt.date  # the calendar's last completed trading day
    days_behind: int  # trading days after last_day up to expected_day
    missing_days: int  # trading days between first_day and last_day with nothing stored
    failing_days: int  # stored days whose latest validation result is a failure
    last_error: str | None  # message of the failed collection, if the newest one failed
    last_error_job: int | None
    last_error_at: dt.datetime | None

    @property
    def stale(self) -> bool:
        return self.days_behind > 0

    @property
    def quality_text(self) -> str:
        """``"1.0 / 100 (poor)"``, or ``"not validated"``."""
        if self.quality is None:
            return "not validated"
        return f"{format_quality(self.quality)} / {QUALITY_MAX:.0f} ({self.quality_band})"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def classify(symbol: str, fresh: Freshness, summary: DatasetSummary | None, *, missing_days: int = 0,
             failing_days: int = 0, failure: CollectionFailure | None = None) -> DatasetStatus:
    """Combine freshness, quality, validation and the last collection outcome into one status (pure)."""
    quality = None if summary is None else summary.quality_score
    band = quality_band(quality)
    first = None if summary is None else summary.first_day
    behind, done = fresh.days_behind, fresh.last_completed
    q_text = "" if quality is None else f"; quality {format_quality(quality)}/{QUALITY_MAX:.0f} ({band})"
    fail_text = f"; {_plural(failing_days, 'day')} failing validation" if failing_days else ""
    if fresh.latest_day is None:
        state = "empty"
        lag = "no trading days stored"
    elif behind == 0:
        state = "fresh"
        lag = f"up to date with {done}"
    else:
        state = "stale" if behind <= STALE_MAX_LAG else "outdated"
        lag = f"{_plural(behind, 'trading day')} behind {done}"
    if failure is not None:
        level, label, state = "bad", "Collection failed", "failing"
        detail = f"job {failure.job_id} ({failure.kind}) failed: {failure.message}; {lag}{q_text}"
    elif state == "empty":
        level, label, detail = "bad", "Empty", lag
    elif band == "poor":
        level, label = "bad", "Poor quality"
        detail = f"quality {format_quality(quality)}/{QUALITY_MAX:.0f} is below {QUALITY_FAIR:.0f}; {lag}{fail_text}"
    elif state == "outdated":
        level, label, detail = "bad", "Outdated", f"{lag}{q_text}{fail_text}"
    elif state == "stale":
        level, label, detail = "warn", "Stale", f"{lag}{q_text}{fail_text}"
    elif band == "fair":
        level, label = "warn", "Check quality"
        detail = f"{lag}; quality {format_quality(quality)}/{QUALITY_MAX:.0f} is below {QUALITY_GOOD:.0f}{fail_text}"
    else:
        level, label, detail = "ok", "Fresh", f"{lag}{q_text}{fail_text}"
    return DatasetStatus(
        symbol=symbol, state=state, level=level, label=label, detail=detail, quality=quality, quality_band=band,
        first_day=first, last_day=fresh.latest_day, expected_day=done, days_behind=behind,
        missing_days=missing_days, failing_days=failing_days,
        last_error=None if failure is None else failure.message,
        last_error_job=None if failure is None else failure.job_id,
        last_error_at=None if failure is None else failure.finished_at)


def failing_day_counts(catalog, symbols: Iterable[str] | None = None) -> dict[str, int]:
    """Stored days per symbol whose latest result of some validator is a failure (one query)."""
    v = db.ValidationResult
    syms = None if symbols is None else sorted(set(symbols))
    where = []
    if syms is not None:
        if not syms:
            return {}
        if len(syms) <= SYMBOLS_PER_QUERY:
            where.append(v.symbol.in_(syms))
    latest = select(func.max(v.id)).where(*where).group_by(v.symbol, v.day, v.validator).scalar_subquery()
    failing = (select(v.symbol, v.day).where(v.id.in_(latest), func.upper(v.status).in_(FAILING_STATUSES))
               .distinct().subquery())
    stmt = select(failing.c.symbol, func.count()).group_by(failing.c.symbol)
    with catalog.engine.connect() as c:
        counts = {r[0]: int(r[1]) for r in c.execute(stmt)}
    return counts if syms is None else {s: counts[s] for s in syms if s in counts}


def _job_symbols(params: dict) -> list[str]:
    syms = params.get("symbols") or ([params["symbol"]] if params.get("symbol") else [])
    if isinstance(syms, str):
        syms = syms.replace(",", " ").split()
    out = []
    for s in syms:
        try:
            out.append(normalize_ticker(str(s)))
        except ValueError:  # a job row with a bad symbol says nothing about a stored dataset
            continue
    return out


def _one_line(message: str, error: str) -> str:
    text = (message or "").strip() or next((ln for ln in reversed((error or "").strip().splitlines()) if ln.strip()),
                                           "failed (no message)")
    text = " ".join(text.split())
    return text if len(text) <= ERROR_CHARS else text[:ERROR_CHARS - 1] + "…"


def collection_failures(catalog, symbols: Iterable[str] | None = None) -> dict[str, CollectionFailure]:
    """Datasets whose newest finished collecting job (:data:`COLLECTING_KINDS`) failed.

    Reads the jobs table (newest :data:`RECENT_JOBS` finished ``succeeded``/``failed`` rows of
    those kinds) in one query. A job names its datasets in ``params["symbols"]`` (or
    ``"symbol"``); a backfill over every stale dataset names none, but the collect jobs it
    queues do, so their failures are found. A later successful job for the dataset clears it.
    """
    wanted = None if symbols is None else {normalize_ticker(s) for s in symbols}
    j = db.Job
    stmt = (select(j.id, j.kind, j.params, j.status, j.message, j.error, j.finished_at)
            .where(j.kind.in_(COLLECTING_KINDS), j.status.in_(("succeeded", "failed")))
            .order_by(j.id.desc()).limit(RECENT_JOBS))
    seen: set[str] = set()
    out: dict[str, CollectionFailure] = {}
    with catalog.engine.connect() as c:
        rows = c.execute(stmt).all()
    for job_id, kind, params, status, message, error, finished in rows:
        for sym in _job_symbols(params or {}):
            if sym in seen or (wanted is not None and sym not in wanted):
                continue
            seen.add(sym)
            if status == "failed":
                if isinstance(finished, dt.datetime) and finished.tzinfo is None:
                    finished = finished.replace(tzinfo=dt.timezone.utc)
                out[sym] = CollectionFailure(int(job_id), kind, _one_line(message, error), finished)
    return out


def dataset_statuses(ctx, symbols: Iterable[str] | None = None, *, datasets: list[DatasetSummary] | None = None,
                     now=None) -> list[DatasetStatus]:
    """The status of each dataset, in the order given (default: every dataset, by symbol).

    Parameters
    ----------
    symbols
        Datasets to report (default: those of ``datasets``, else every dataset in the catalog).
    datasets
        Catalog summaries already read (``ctx.catalog.datasets()`` or a filtered part of it),
        so a page does not read them twice.
    now
        The clock for "last completed trading day" (default: the wall clock).
    """
    summaries = list(ctx.catalog.datasets() if datasets is None else datasets)
    by_symbol = {d.symbol: d for d in summaries}
    syms = [normalize_ticker(s) for s in symbols] if symbols is not None else [d.symbol for d in summaries]
    if not syms:
        return []
    missing = [s for s in syms if s not in by_symbol]
    if missing and datasets is not None:  # asked for symbols outside the given summaries
        by_symbol.update({d.symbol: d for d in ctx.catalog.datasets() if d.symbol in set(missing)})
    fresh = {f.symbol: f for f in freshness(ctx, syms, now=now, datasets=list(by_symbol.values()))}
    failing = failing_day_counts(ctx.catalog, syms)
    failures = collection_failures(ctx.catalog, syms)
    spans: dict[str, tuple[dt.date, dt.date]] = {}  # per calendar: covering every stored range
    for sym in syms:
        d = by_symbol.get(sym)
        if d is not None and d.first_day is not None:
            lo, hi = spans.get(d.calendar or "", (d.first_day, d.last_day))
            spans[d.calendar or ""] = (min(lo, d.first_day), max(hi, d.last_day))
    counters = {name: TradingDayCounter(ctx.calendar(name or None), lo, hi) for name, (lo, hi) in spans.items()}
    out = []
    for sym in syms:
        summary = by_symbol.get(sym)
        holes = 0
        if summary is not None and summary.first_day is not None:
            stored_span = counters[summary.calendar or ""].count(summary.first_day, summary.last_day)
            holes = max(stored_span - summary.days, 0)
        out.append(classify(sym, fresh[sym], summary, missing_days=holes, failing_days=failing.get(sym, 0),
                            failure=failures.get(sym)))
    return out


def dataset_status(ctx, symbol: str, *, now=None) -> DatasetStatus:
    """The status of one dataset (see :func:`dataset_statuses`)."""
    return dataset_statuses(ctx, [symbol], now=now)[0]
