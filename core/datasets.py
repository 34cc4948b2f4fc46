"""Which datasets to list, and everything known about one dataset, read from the catalog.

* :class:`DatasetFilter` / :func:`filter_datasets`: the home page's filters (text over symbol,
  source, venue and exchange; source; venue; exchange; date coverage; minimum quality), used by the home page and
  ``GET /api/v1/datasets`` alike.
* :func:`dataset_metadata`: one dataset's row, status, instrument terms, per-day tier-1
  metadata and stored bar series (``GET /api/v1/data/{symbol}/metadata``). Catalog rows only:
  no frame is read.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable

from tickdeck.core.catalog import DatasetSummary, TickDayRow
from tickdeck.core.dataset_cards import exchange_of
from tickdeck.core.errors import SymbolNotFound
from tickdeck.core.instruments import InstrumentTerms, stored_terms
from tickdeck.core.naming import as_date, date_range, normalize_ticker
from tickdeck.core.status import DatasetStatus, dataset_status


@dataclass(frozen=True)
class DatasetFilter:
    """Filters over catalog datasets; ``None``/empty means "any".

    ``search`` matches case-insensitively inside the symbol, source, venue or exchange; ``venue``
    is the stored venue field as given (often the data vendor: ``IQFEED``, ``SIM``), ``exchange``
    the exchange the home cards and the catalog show (:func:`~tickdeck.core.dataset_cards.exchange_of`:
    ``XNYS``, ``XNAS``, ``CME``…), both case-insensitive; ``covers_from`` /
    ``covers_to`` keep datasets with stored days on/after and on/before those days (their
    coverage overlaps ``[covers_from, covers_to]``); ``min_quality`` keeps datasets whose mean
    day score (0–100) is at least that (0: any, unscored datasets included).
    """

    search: str = ""
    source: str | None = None
    venue: str | None = None
    exchange: str | None = None
    covers_from: dt.date | None = None
    covers_to: dt.date | None = None
    min_quality: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "search", (self.search or "").strip().lower())
        if self.covers_from is not None:
            object.__setattr__(self, "covers_from", as_date(self.covers_from))
        if self.covers_to is not None:
            object.__setattr__(self, "covers_to", as_date(self.covers_to))

    def matches(self, d: DatasetSummary) -> bool:
        q = self.search
        if q and q not in d.symbol.lower() and q not in (d.source or "").lower() and q not in (d.venue or "").lower() \
                and q not in exchange_of(d).lower():
            return False
        if self.source and d.source != self.source:
            return False
        if self.venue and (d.venue or "").upper() != self.venue.strip().upper():
            return False
        if self.exchange and exchange_of(d).upper() != self.exchange.strip().upper():
            return False
        lo, hi = self.covers_from, self.covers_to
        if (lo or hi) and d.first_day is None:
            return False
        if lo and d.last_day < lo or hi and d.first_day > hi:
            return False
        if self.min_quality and (d.quality_score is None or d.quality_score < self.min_quality):
            return False
        return True


def filter_datasets(items: Iterable[DatasetSummary], flt: DatasetFilter) -> list[DatasetSummary]:
    """The datasets of ``items`` passing ``flt``, in the given order."""
    return [d for d in items if flt.matches(d)]


@dataclass(frozen=True)
class BarSeriesSummary:
    """One stored bar series of a dataset over its days: how many days and bars."""

    family: str
    spec: str
    days: int
    bars: int
    first_day: dt.date
    last_day: dt.date
    source: str = "ticks"  # built from the stored ticks, or where imported series came from (``nautilus``)


@dataclass(frozen=True)
class DatasetMetadata:
    """Everything the catalog knows about one dataset (no frames read)."""

    dataset: DatasetSummary
    status: DatasetStatus
    terms: InstrumentTerms
    description: str
    days: tuple[TickDayRow, ...]  # tier-1 rows in [start, end], by day
    bar_series: tuple[BarSeriesSummary, ...]  # stored series in [start, end], by family then spec


def dataset_metadata(ctx, symbol: str, start=None, end=None) -> DatasetMetadata:
    """The dataset row, status, instrument terms, tier-1 days and stored bar series of ``symbol``.

    ``start``/``end`` (days, inclusive) narrow the per-day rows and bar series; default all.

    Raises
    ------
    SymbolNotFound
        No dataset of that symbol is catalogued.
    InvalidSymbol
        ``symbol`` cannot be a ticker.
    InvalidDateRange
        ``end`` is before ``start``.
    """
    sym = normalize_ticker(symbol)
    lo = None if start is None else as_date(start)
    hi = None if end is None else as_date(end)
    if lo is not None and hi is not None:
        date_range(lo, hi)
    summary = next((d for d in ctx.catalog.datasets() if d.symbol == sym), None)
    if summary is None:
        raise SymbolNotFound(sym, "the catalog")
    row = ctx.catalog.dataset(sym)
    days = tuple(ctx.catalog.tick_days(sym, lo, hi))
    spans: dict[tuple[str, str], list] = defaultdict(lambda: [0, 0, None, None, "ticks"])
    for r in ctx.catalog.bar_series(sym):
        if lo is not None and r.day < lo or hi is not None and r.day > hi:
            continue
        cell = spans[(r.family, r.spec)]
        cell[0] += 1
        cell[1] += int(r.bars or 0)
        cell[2] = r.day if cell[2] is None else min(cell[2], r.day)
        cell[3] = r.day if cell[3] is None else max(cell[3], r.day)
        cell[4] = (r.stats or {}).get("source") or cell[4]
    series = tuple(BarSeriesSummary(f, s, *v) for (f, s), v in sorted(spans.items()))
    return DatasetMetadata(summary, dataset_status(ctx, sym), stored_terms(ctx, sym),
                           getattr(row, "description", "") or "", days, series)
