"""What is stored, as a tree venue → instrument → data type, from catalog rows only.

Per instrument: its tick days, ticks and date coverage, then each bar family with its specs,
how many days each spec is stored for and how many bars. Tier-1 (tick days) and tier-2 (bar
series) rows only — no frame is read. The Catalog page draws this tree and
``GET /api/v1/catalog`` returns it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from tickdeck.core.catalog import DatasetSummary
from tickdeck.core.dataset_cards import exchange_of

UNKNOWN_VENUE = "unknown venue"


@dataclass(frozen=True)
class SpecNode:
    """One stored bar spec of an instrument: on how many days, how many bars in all."""

    spec: str
    days: int
    bars: int


@dataclass(frozen=True)
class FamilyNode:
    family: str
    specs: tuple[SpecNode, ...]


@dataclass(frozen=True)
class InstrumentNode:
    """One instrument: its ticks (days, count, coverage) and stored bar families."""

    symbol: str
    asset_class: str
    source: str
    days: int
    ticks: int
    first_day: dt.date | None
    last_day: dt.date | None
    bars: tuple[FamilyNode, ...]


@dataclass(frozen=True)
class VenueNode:
    venue: str
    instruments: tuple[InstrumentNode, ...]


def catalog_tree(ctx, datasets: list[DatasetSummary] | None = None) -> tuple[VenueNode, ...]:
    """Venues (sorted) → instruments (by symbol) → bar families and specs (sorted).

    ``datasets`` are catalog summaries already read (default: every dataset). An instrument's
    venue is the exchange it trades on (:func:`tickdeck.core.dataset_cards.exchange_of`: a MIC
    such as ``XNAS``, or ``CME``; never the data vendor), else :data:`UNKNOWN_VENUE`.
    """
    items = ctx.catalog.datasets() if datasets is None else datasets
    bars: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(lambda: [0, 0])))
    for r in ctx.catalog.bar_series():
        cell = bars[r.symbol][r.family][r.spec]
        cell[0] += 1
        cell[1] += int(r.bars or 0)
    venues: dict[str, list[InstrumentNode]] = defaultdict(list)
    for d in sorted(items, key=lambda d: d.symbol):
        fams = tuple(FamilyNode(f, tuple(SpecNode(s, k, n) for s, (k, n) in sorted(specs.items())))
                     for f, specs in sorted(bars.get(d.symbol, {}).items()))
        venues[exchange_of(d) or UNKNOWN_VENUE].append(
            InstrumentNode(d.symbol, d.asset_class, d.source, d.days, d.ticks, d.first_day, d.last_day, fams))
    return tuple(VenueNode(v, tuple(ins)) for v, ins in sorted(venues.items()))
