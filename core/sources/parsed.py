"""What a file reader hands to the importer: :class:`ParsedTicks` and the limits every reader applies.

The readers (:mod:`core.sources.tabular` for CSV and Parquet, :mod:`core.sources.dbn`,
:mod:`core.sources.nautilus`) produce these; :mod:`core.sources.files` dispatches to the readers and
imports what they produce. Keeping these here lets the readers and the importer import them
without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

# Column names recognised without a mapping (compared case-insensitively, first match wins).
ALIASES: dict[str, tuple[str, ...]] = {
    "timestamp": ("timestamp", "ts", "time", "datetime", "date_time", "ts_event", "timestamp_utc", "date"),
    "price": ("price", "last", "last_price", "trade_price", "px"),
    "size": ("size", "qty", "quantity", "volume", "last_sz", "last_size", "trade_size", "amount"),
    "bid": ("bid", "bid_price", "bid_px", "best_bid", "bidprice"),
    "ask": ("ask", "ask_price", "ask_px", "best_ask", "offer", "askprice"),
    "tick_id": ("tick_id", "trade_id", "id", "seq", "sequence"),
}
MAX_DEAD_LETTERS = 10_000  # a wholly bad file must not flood the SQL table; counts stay exact
MAX_BAD_TIMESTAMP_FRACTION = 0.5  # more unparseable than this means a wrong format, not bad rows


@dataclass(frozen=True)
class ParsedTicks:
    """Rows read from a file, before grouping into days (all arrays have one length)."""

    name: str  # default source name, e.g. "csv", "dbn-mbp-1", "nautilus"
    ns: np.ndarray  # int64 UTC epoch ns
    price: np.ndarray  # float64
    size: np.ndarray  # float64 (may be fractional)
    bid: np.ndarray  # float64, NaN when absent
    ask: np.ndarray  # float64, NaN when absent
    tick_id: np.ndarray | None = None  # int64 ids from the file, else synthesised
    quote_only: bool = False
    rejects: tuple = ()  # (raw_text, reason[, line]) of rows dropped while parsing (at most MAX_DEAD_LETTERS)
    rejected: int = 0  # exact count of rows dropped while parsing
    calendar: str | None = None  # what the file says (DBN dataset, Nautilus venue)
    asset_class: str | None = None
    venue: str = ""
    description: str = ""
    terms: dict | None = None  # instrument data the file carries: multiplier, lot_size, tick_size
    line: np.ndarray | None = None  # int64 1-based line (CSV) / row / record number of each row in its file
    row: np.ndarray | None = None  # int64 1-based data-row number: the tick id when the file has none
    text: Callable[[np.ndarray], list[str]] | None = field(default=None, repr=False, compare=False)
    # ``text(k)``: the file's own text of rows ``k`` (CSV: the line as written)

    def __len__(self) -> int:
        return int(self.ns.shape[0])
