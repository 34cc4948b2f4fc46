"""The tick schema: 14 raw IQFeed fields and 29 enriched fields, one table.

Each column has a dtype, a unit and a meaning; ``docs/schema.md`` is generated from this table
(``python -m tickdeck.core.schema > docs/schema.md``; a test keeps it in sync). Stored tick frames are
indexed by ``timestamp`` (tz-aware America/New_York, ns) and hold every other column here.

Categorical columns are small integers (``session``, ``trade_sign``, ``participant_type``,
``last_type``) so that million-row frames stay numeric; ``decode`` turns them into labels for
display.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tickdeck.core.errors import SchemaError

TZ = "America/New_York"
INDEX = "timestamp"


@dataclass(frozen=True)
class Field:
    name: str
    dtype: str
    unit: str
    meaning: str
    group: str  # "raw" | "enriched"


RAW_FIELDS: tuple[Field, ...] = (
    Field("tick_id", "int64", "—", "Feed tick id; unique within a symbol-day (dedupe key)", "raw"),
    Field("date", "int32", "YYYYMMDD", "Trade date in ET", "raw"),
    Field("time", "int64", "µs", "Trade time as microseconds since midnight ET", "raw"),
    Field("last", "float64", "price", "Trade price", "raw"),
    Field("last_sz", "int64", "size units", "Trade size in the dataset's stored units: quantity × 10^size_decimals (shares and contracts as they are; fractional crypto/FX sizes in 1e-8 units)", "raw"),
    Field("last_type", "uint8", "ASCII", "BasisForLast as its ASCII code: C last-qualified, E extended hours, O other", "raw"),
    Field("mkt_ctr", "int16", "id", "Trade market center id (see docs/schema.md#market-centers)", "raw"),
    Field("tot_vlm", "int64", "size units", "Cumulative day volume after this trade, in the units of last_sz", "raw"),
    Field("bid", "float64", "price", "Best bid at the trade (NaN when absent)", "raw"),
    Field("ask", "float64", "price", "Best ask at the trade (NaN when absent)", "raw"),
    Field("cond1", "uint8", "code", "First trade-condition code (0 = none)", "raw"),
    Field("cond2", "uint8", "code", "Second trade-condition code (0 = none)", "raw"),
    Field("cond3", "uint8", "code", "Third trade-condition code (0 = none)", "raw"),
    Field("cond4", "uint8", "code", "Fourth trade-condition code (0 = none)", "raw"),
)

ENRICHED_FIELDS: tuple[Field, ...] = (
    Field("symbol", "str", "—", "Ticker as stored", "enriched"),
    Field("timestamp", "datetime64[ns, America/New_York]", "ns", "Trade time, tz-aware ET; the frame index", "enriched"),
    Field("spread", "float64", "price", "ask − bid; NaN unless 0 < bid ≤ ask", "enriched"),
    Field("midpoint", "float64", "price", "(bid + ask) / 2; NaN unless 0 < bid ≤ ask", "enriched"),
    Field("spread_bps", "float64", "bps", "spread / midpoint × 10,000", "enriched"),
    Field("spread_pct", "float64", "%", "spread / midpoint × 100", "enriched"),
    Field("trade_sign", "int8", "−1/0/+1", "Lee–Ready: +1 buy above the midpoint, −1 sell below; at the midpoint or without a quote the tick rule (last non-zero price change); 0 when undetermined", "enriched"),
    Field("tick_direction", "int8", "−1/0/+1", "Sign of the price change from the previous trade (0 = zero tick, and for the first trade)", "enriched"),
    Field("dollar_volume", "float64", "currency", "Notional: last × quantity × multiplier (quantity = last_sz / 10^size_decimals; ES: × $50 per point); in the quote currency", "enriched"),
    Field("volume_rate", "float64", "quantity/s", "Quantity (shares, contracts, coins) traded in the trailing 60 s (including this trade) / 60", "enriched"),
    Field("trade_pct_of_day", "float64", "%", "This trade's size as a percent of the day's total traded size", "enriched"),
    Field("log_return", "float64", "—", "ln(last / previous last); NaN for the first trade", "enriched"),
    Field("price_change", "float64", "price", "last − previous last; NaN for the first trade", "enriched"),
    Field("price_change_bps", "float64", "bps", "price_change / previous last × 10,000", "enriched"),
    Field("participant_type", "int8", "code", "Size heuristic: 0 retail (equity odd lot), 1 regular, 2 institutional (block trade)", "enriched"),
    Field("is_regular", "bool", "—", "Trade time is in the regular session", "enriched"),
    Field("is_extended_hours", "bool", "—", "Trade time is pre-market or after-hours, or carries FORM_T", "enriched"),
    Field("is_odd_lot", "bool", "—", "Equities: quantity below the round lot of 100 shares; any asset: the ODD_LOT condition. Futures, crypto and FX have no odd lots", "enriched"),
    Field("is_intermarket_sweep", "bool", "—", "Carries the INTERMARKET_SWEEP condition", "enriched"),
    Field("is_derivatively_priced", "bool", "—", "Carries the DERIVATIVELY_PRICED condition", "enriched"),
    Field("is_qualified", "bool", "—", "No condition excludes it from last/high/low", "enriched"),
    Field("is_block_trade", "bool", "—", "Per asset class: equity ≥ 10,000 shares or dollar_volume ≥ 200,000; futures dollar_volume ≥ 10,000,000; crypto dollar_volume ≥ 100,000; FX ≥ 10,000,000 base units", "enriched"),
    Field("effective_spread", "float64", "price", "2 × |last − midpoint|; NaN without a valid quote", "enriched"),
    Field("price_improvement", "float64", "price", "Buys: ask − last; sells: last − bid (positive = better than the quote); NaN without quote or sign", "enriched"),
    Field("session", "int8", "code", "-1 outside, 0 pre-market 04:00–09:30, 1 regular 09:30–close, 2 after-hours close–20:00 ET (calendar-aware)", "enriched"),
    Field("seconds_since_open", "float64", "s", "Seconds since the regular-session open of the trade's day (negative before)", "enriched"),
    Field("is_outside_quote", "bool", "—", "last > ask or last < bid (valid quote only)", "enriched"),
    Field("source", "str", "—", "Where the tick came from: iqfeed, synthetic, import:<name>", "enriched"),
    Field("ingest_id", "str", "—", "Id of the ingest run that wrote it", "enriched"),
)

FIELDS: tuple[Field, ...] = RAW_FIELDS + ENRICHED_FIELDS
BY_NAME = {f.name: f for f in FIELDS}
RAW_COLUMNS = [f.name for f in RAW_FIELDS]
ENRICHED_COLUMNS = [f.name for f in ENRICHED_FIELDS]
# Columns of a stored frame (the index, ``timestamp``, is not a column).
STORED_COLUMNS = [f.name for f in FIELDS if f.name != INDEX]

SESSION_CODES = {-1: "outside", 0: "pre", 1: "regular", 2: "after"}
SESSION_BY_NAME = {v: k for k, v in SESSION_CODES.items()}
PARTICIPANT_CODES = {0: "retail", 1: "regular", 2: "institutional"}

_STR = "str"


def numpy_dtype(field: Field):
    return object if field.dtype == _STR else np.dtype(field.dtype)


def validate_frame(df: pd.DataFrame, columns: list[str] | None = None) -> None:
    """Check a frame against the schema; raise :class:`SchemaError` on the first problem.

    Checks: the index is a tz-aware ``America/New_York`` DatetimeIndex named ``timestamp``,
    sorted ascending; every schema column is present with a compatible dtype; prices are
    finite and positive; sizes non-negative. The error names the column, the first offending
    row and how to fix it.
    """
    if not isinstance(df.index, pd.DatetimeIndex):
        raise SchemaError(INDEX, "index must be a DatetimeIndex of trade times")
    if df.index.tz is None:
        raise SchemaError(INDEX, "index is tz-naive; localize to America/New_York")
    if str(df.index.tz) != TZ:
        raise SchemaError(INDEX, f"index tz is {df.index.tz}; convert with .tz_convert('{TZ}')")
    if len(df):
        ns = df.index.asi8
        bad = np.flatnonzero(ns[1:] < ns[:-1])
        if bad.size:
            raise SchemaError(INDEX, "timestamps are not sorted ascending; sort before writing",
                              row=int(bad[0]) + 1)
    for name in columns or STORED_COLUMNS:
        if name not in df.columns:
            raise SchemaError(name, "required column is missing")
        f = BY_NAME[name]
        col = df[name]
        if f.dtype == _STR:
            if col.dtype != object and not pd.api.types.is_string_dtype(col.dtype):
                raise SchemaError(name, f"expected strings, got {col.dtype}")
            continue
        want = np.dtype(f.dtype)
        got = col.dtype
        if want.kind == "b" and got.kind != "b":
            raise SchemaError(name, f"expected bool, got {got}")
        if want.kind in "iu" and got.kind not in "iu":
            raise SchemaError(name, f"expected integers ({want}), got {got}")
        if want.kind == "f" and got.kind not in "fiu":
            raise SchemaError(name, f"expected numbers ({want}), got {got}")
    if "last" in df.columns and len(df):
        last = df["last"].to_numpy(dtype=np.float64)
        bad = np.flatnonzero(~(np.isfinite(last) & (last > 0)))
        if bad.size:
            raise SchemaError("last", f"price must be finite and > 0, got {last[bad[0]]}", row=int(bad[0]))
    if "last_sz" in df.columns and len(df):
        sz = df["last_sz"].to_numpy()
        bad = np.flatnonzero(sz < 0)
        if bad.size:
            raise SchemaError("last_sz", f"size must be >= 0, got {sz[bad[0]]}", row=int(bad[0]))


def empty_raw(n: int = 0) -> dict[str, np.ndarray]:
    """Zeroed raw columns of length ``n`` (bid/ask NaN) — a builder for sources."""
    out = {f.name: np.zeros(n, dtype=numpy_dtype(f)) for f in RAW_FIELDS}
    out["bid"][:] = np.nan
    out["ask"][:] = np.nan
    return out


def decode(df: pd.DataFrame) -> pd.DataFrame:
    """Return a copy with coded columns as readable labels (for display, not storage)."""
    out = df.copy()
    if "session" in out:
        out["session"] = out["session"].map(SESSION_CODES)
    if "participant_type" in out:
        out["participant_type"] = out["participant_type"].map(PARTICIPANT_CODES)
    if "last_type" in out:
        out["last_type"] = out["last_type"].map(lambda c: chr(c) if c else "")
    return out


def markdown() -> str:
    """The schema reference page (docs/schema.md)."""
    from tickdeck.core import conditions

    lines = [
        "# Tick schema reference",
        "",
        "Generated from `core/schema.py` by `python -m tickdeck.core.schema > docs/schema.md`; do not edit by hand.",
        "",
        f"A stored tick day is a frame indexed by `timestamp` ({TZ}, ns) with the columns below:",
        f"{len(RAW_FIELDS)} raw IQFeed fields and {len(ENRICHED_FIELDS)} enriched fields.",
        "",
    ]
    for title, fields in (("Raw fields", RAW_FIELDS), ("Enriched fields", ENRICHED_FIELDS)):
        lines += [f"## {title}", "", "| column | dtype | unit | meaning |", "|---|---|---|---|"]
        lines += [f"| `{f.name}` | {f.dtype} | {f.unit} | {f.meaning} |" for f in fields]
        lines.append("")
    lines += ["## Codes", "",
              "`session`: " + ", ".join(f"{k} = {v}" for k, v in SESSION_CODES.items()),
              "",
              "`participant_type`: " + ", ".join(f"{k} = {v}" for k, v in PARTICIPANT_CODES.items()),
              "", "## Trade conditions", "", conditions.markdown_table(), "",
              "## Market centers", "", "| id | code | name | lit |", "|---|---|---|---|"]
    lines += [f"| {m.id} | {m.code} | {m.name} | {'yes' if m.lit else 'no'} |" for m in conditions.MARKET_CENTERS]
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    sys.stdout.write(markdown())
