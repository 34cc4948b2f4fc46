"""The trade-condition table and the market-center table: one documented source.

IQFeed reports up to four 2-hex-digit trade-condition codes per tick (``TradeConditions``,
e.g. ``3D17``); tickdeck keeps them as ``cond1..cond4`` (uint8, 0 = none). Each code maps to a
name and to the flags enrichment derives. The emulator emits codes from this same table; a
real IQConnect's codes are passed through unchanged, and a code not in the table sets no flag
(it is still kept in ``condN``).

Flags are computed with 256-entry lookup tables (``FLAG_TABLES``), so deriving them for a
million ticks is four vectorised gathers and ORs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Condition:
    code: int
    name: str
    meaning: str
    intermarket_sweep: bool = False
    derivatively_priced: bool = False
    odd_lot: bool = False
    extended_hours: bool = False
    disqualifying: bool = False  # excluded from last/high/low (is_qualified = False)


CONDITIONS: tuple[Condition, ...] = (
    Condition(0x01, "REGULAR", "Regular sale"),
    Condition(0x02, "ACQUISITION", "Acquisition"),
    Condition(0x04, "BUNCHED", "Bunched trade"),
    Condition(0x05, "AVERAGE_PRICE", "Average-price trade", disqualifying=True),
    Condition(0x06, "CASH", "Cash (same-day settlement) trade", disqualifying=True),
    Condition(0x08, "NEXT_DAY", "Next-day settlement", disqualifying=True),
    Condition(0x0B, "OPENING_PRINT", "Market-center opening print"),
    Condition(0x0C, "CLOSING_PRINT", "Market-center closing print"),
    Condition(0x10, "PRIOR_REFERENCE_PRICE", "Prior reference price", disqualifying=True),
    Condition(0x11, "SOLD_OUT_OF_SEQUENCE", "Reported out of sequence", disqualifying=True),
    Condition(0x17, "ODD_LOT", "Odd-lot trade (fewer than 100 shares)", odd_lot=True),
    Condition(0x1C, "FORM_T", "Extended-hours trade (Form T)", extended_hours=True),
    Condition(0x3D, "INTERMARKET_SWEEP", "Intermarket sweep order (ISO)", intermarket_sweep=True),
    Condition(0x3E, "DERIVATIVELY_PRICED", "Derivatively priced", derivatively_priced=True,
              disqualifying=True),
    Condition(0x41, "QUALIFIED_CONTINGENT", "Qualified contingent trade", disqualifying=True),
)

BY_CODE = {c.code: c for c in CONDITIONS}
BY_NAME = {c.name: c for c in CONDITIONS}


def _table(attr: str) -> np.ndarray:
    t = np.zeros(256, dtype=np.bool_)
    for c in CONDITIONS:
        t[c.code] = getattr(c, attr)
    return t


FLAG_TABLES = {
    attr: _table(attr)
    for attr in ("intermarket_sweep", "derivatively_priced", "odd_lot", "extended_hours", "disqualifying")
}


FLAG_BITS = {attr: np.uint8(1 << i) for i, attr in enumerate(FLAG_TABLES)}
_BITMASK = np.zeros(256, dtype=np.uint8)
for _attr, _table in FLAG_TABLES.items():
    _BITMASK[_table] |= FLAG_BITS[_attr]


def flag_bits(cond1, cond2, cond3, cond4) -> np.ndarray:
    """OR of the flag bitmasks of the four condition codes (test with ``FLAG_BITS``)."""
    return _BITMASK[cond1] | _BITMASK[cond2] | _BITMASK[cond3] | _BITMASK[cond4]


def any_flag(attr: str, cond1, cond2, cond3, cond4) -> np.ndarray:
    """True where any of the four condition codes carries ``attr``."""
    t = FLAG_TABLES[attr]
    return t[cond1] | t[cond2] | t[cond3] | t[cond4]


@dataclass(frozen=True)
class MarketCenter:
    id: int
    code: str
    name: str
    lit: bool = True


# Market-center ids used by the emulator and the synthetic market. Real feeds pass their own ids.
MARKET_CENTERS: tuple[MarketCenter, ...] = (
    MarketCenter(5, "Q", "Nasdaq"),
    MarketCenter(7, "N", "NYSE"),
    MarketCenter(11, "P", "NYSE Arca"),
    MarketCenter(19, "Z", "Cboe BZX"),
    MarketCenter(23, "V", "IEX"),
    MarketCenter(25, "D", "FINRA TRF (off-exchange)", lit=False),
)

BASIS_FOR_LAST = {
    ord("C"): "last qualified trade",
    ord("E"): "extended-hours trade",
    ord("O"): "other trade (not last-qualified)",
    ord("S"): "settlement / summary",
}


def parse_condition_string(text: str) -> list[int]:
    """``"3D17"`` → ``[0x3D, 0x17]``; raises ValueError on odd length or non-hex."""
    if len(text) % 2:
        raise ValueError(f"trade conditions {text!r} are not pairs of hex digits")
    return [int(text[i:i + 2], 16) for i in range(0, len(text), 2)]


def markdown_table() -> str:
    rows = ["| code | name | meaning | flags |", "|---|---|---|---|"]
    for c in CONDITIONS:
        flags = [a for a in ("intermarket_sweep", "derivatively_priced", "odd_lot", "extended_hours")
                 if getattr(c, a)]
        if c.disqualifying:
            flags.append("not qualified")
        rows.append(f"| `{c.code:02X}` | {c.name} | {c.meaning} | {', '.join(flags) or '—'} |")
    return "\n".join(rows)
