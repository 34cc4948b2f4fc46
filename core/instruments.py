"""Instrument terms: what one stored size unit and one price point are worth, per asset class.

Enrichment turns stored integer sizes into money and size classes (``dollar_volume``,
``is_odd_lot``, ``is_block_trade``, ``participant_type``). Those need the instrument's terms:

* ``asset_class``: ``equity``, ``futures``, ``crypto`` or ``fx`` (anything else gets the
  equity rules, as every dataset had before terms existed);
* ``multiplier``: currency value of one price point for one unit of size (ES: $50 per index
  point per contract; 1 for equities, crypto and FX);
* ``size_decimals``: stored ``last_sz`` counts units of ``10**-size_decimals`` (fractional
  crypto / FX sizes are stored in 1e-8 units, see :data:`core.sources.files.SIZE_DECIMALS`);
* ``lot_size``: the round lot in real quantity (100 shares; 1 contract; ``None`` where there
  are no odd lots);
* ``tick_size``: the minimum price increment, when known (informational).

Terms come from the file's own instrument data when it has any (a NautilusTrader catalog's
instrument records), else from :data:`FUTURES` for futures roots parsed from symbols such as
``ESU4`` / ``ESZ24`` / ``@ES#`` / ``ES.c.0``, else the asset-class defaults. They are stored
on the dataset row (``multiplier``, ``size_decimals``, ``lot_size``, ``tick_size``).

Size rules per asset class (:data:`BLOCK_RULES`, documented with their sources in
``docs/importing.md`` "Instruments"): equity odd lot below 100 shares, block at 10,000
shares or $200,000; futures no odd lots, block at $10,000,000 notional; crypto no odd lots,
block at $100,000 notional; FX no odd lots, block at 10,000,000 units of the base currency.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

import numpy as np

ASSET_CLASSES = ("equity", "futures", "crypto", "fx")


@dataclass(frozen=True)
class BlockRule:
    """A trade is a block when its real quantity or its notional reaches a threshold (None: unused)."""

    quantity: float | None
    notional: float | None


# Equity: NYSE's traditional 10,000-share block and SEC Rule 10b-18's $200,000 block value.
# Futures: exchange block minimums (CME Rule 526) are per product, in contracts, and apply to
# privately negotiated trades; as a size class for order-book prints tickdeck uses a notional.
# Crypto: no exchange-defined block on spot order books; a notional well above retail sizes.
# FX: a "ten" (10 million of the base currency), the large interbank ticket; FX notional is in
# the quote currency (JPY for USDJPY), so the rule counts base units instead.
BLOCK_RULES: dict[str, BlockRule] = {
    "equity": BlockRule(quantity=10_000, notional=200_000.0),
    "futures": BlockRule(quantity=None, notional=10_000_000.0),
    "crypto": BlockRule(quantity=None, notional=100_000.0),
    "fx": BlockRule(quantity=10_000_000, notional=None),
}
ODD_LOT_CLASSES = frozenset({"equity"})  # only equity markets have round lots smaller trades fall short of
EQUITY_LOT = 100.0  # shares in a round lot (Reg NMS; what the feed's ODD_LOT condition means)


@dataclass(frozen=True)
class FuturesSpec:
    """Contract terms of one futures root (CME Group contract specifications)."""

    multiplier: float  # currency per price point per contract
    tick_size: float  # minimum price fluctuation, in price points
    name: str


# Outright contracts; prices as Globex publishes them (index points, USD per unit, FX rates).
FUTURES: dict[str, FuturesSpec] = {
    "ES": FuturesSpec(50.0, 0.25, "E-mini S&P 500"),
    "MES": FuturesSpec(5.0, 0.25, "Micro E-mini S&P 500"),
    "NQ": FuturesSpec(20.0, 0.25, "E-mini Nasdaq-100"),
    "MNQ": FuturesSpec(2.0, 0.25, "Micro E-mini Nasdaq-100"),
    "YM": FuturesSpec(5.0, 1.0, "E-mini Dow ($5)"),
    "MYM": FuturesSpec(0.5, 1.0, "Micro E-mini Dow"),
    "RTY": FuturesSpec(50.0, 0.1, "E-mini Russell 2000"),
    "M2K": FuturesSpec(5.0, 0.1, "Micro E-mini Russell 2000"),
    "CL": FuturesSpec(1000.0, 0.01, "Crude Oil (1,000 barrels)"),
    "MCL": FuturesSpec(100.0, 0.01, "Micro WTI Crude Oil (100 barrels)"),
    "NG": FuturesSpec(10_000.0, 0.001, "Henry Hub Natural Gas (10,000 MMBtu)"),
    "GC": FuturesSpec(100.0, 0.1, "Gold (100 troy oz)"),
    "MGC": FuturesSpec(10.0, 0.1, "Micro Gold (10 troy oz)"),
    "SI": FuturesSpec(5000.0, 0.005, "Silver (5,000 troy oz)"),
    "HG": FuturesSpec(25_000.0, 0.0005, "Copper (25,000 lb)"),
    "ZT": FuturesSpec(2000.0, 1 / 256, "2-Year T-Note ($200,000 face)"),
    "ZF": FuturesSpec(1000.0, 1 / 128, "5-Year T-Note ($100,000 face)"),
    "ZN": FuturesSpec(1000.0, 1 / 64, "10-Year T-Note ($100,000 face)"),
    "ZB": FuturesSpec(1000.0, 1 / 32, "U.S. Treasury Bond ($100,000 face)"),
    "6E": FuturesSpec(125_000.0, 0.00005, "Euro FX (125,000 EUR)"),
    "6J": FuturesSpec(12_500_000.0, 0.0000005, "Japanese Yen (12,500,000 JPY)"),
}

# root + month code + 1-2 year digits (ESU4, ESZ24, 6EH5), optionally IQFeed's leading "@".
_CONTRACT = re.compile(r"^@?([A-Z0-9]{1,3}?)[FGHJKMNQUVXZ]\d{1,2}$")
_CONTINUOUS = re.compile(r"^@?([A-Z0-9]{1,3})(#|#C|\.[A-Z]\.\d+|\.FUT)?$")  # @ES#, ES.c.0 (upper-cased), ES.FUT


@dataclass(frozen=True)
class InstrumentTerms:
    """The terms enrichment needs to turn stored sizes into quantities and money."""

    asset_class: str = "equity"
    multiplier: float = 1.0
    size_decimals: int = 0
    lot_size: float | None = EQUITY_LOT
    tick_size: float | None = None

    @property
    def rule_class(self) -> str:
        """The asset class whose size rules apply (unknown classes use the equity rules)."""
        return self.asset_class if self.asset_class in BLOCK_RULES else "equity"

    @property
    def block(self) -> BlockRule:
        return BLOCK_RULES[self.rule_class]

    @property
    def notional_scale(self) -> float:
        """Currency value of price × one stored size unit: ``multiplier / 10**size_decimals``."""
        return self.multiplier / 10.0 ** self.size_decimals

    @property
    def size_units(self) -> float:
        """Stored size units per unit of quantity: ``10**size_decimals`` (1e8 for BTC in 1e-8 coins)."""
        return 10.0 ** self.size_decimals

    @property
    def has_odd_lots(self) -> bool:
        return self.rule_class in ODD_LOT_CLASSES and self.lot_size is not None

    def dataset_values(self) -> dict:
        """The dataset-row columns these terms are stored in (see :meth:`Catalog.upsert_dataset`)."""
        return {"asset_class": self.asset_class, "multiplier": float(self.multiplier),
                "size_decimals": int(self.size_decimals), "lot_size": self.lot_size, "tick_size": self.tick_size}


EQUITY = InstrumentTerms()


def class_defaults(asset_class: str | None) -> InstrumentTerms:
    """Default terms of an asset class (equity rules and lots for unknown classes)."""
    ac = (asset_class or "equity").lower()
    if ac == "futures":
        return InstrumentTerms("futures", 1.0, 0, 1.0, None)
    if ac in ("crypto", "fx"):
        return InstrumentTerms(ac, 1.0, 0, None, None)
    return InstrumentTerms(ac, 1.0, 0, EQUITY_LOT, None)


def future_root(symbol: str) -> str | None:
    """The futures root of a contract or continuous symbol (``ESU4`` → ``ES``), or None.

    A bare root (``ES``) is returned only when it is in :data:`FUTURES`.
    """
    s = symbol.strip().upper()
    m = _CONTRACT.match(s)
    if m:
        return m.group(1)
    m = _CONTINUOUS.match(s)
    if m and (m.group(2) or m.group(1) in FUTURES):
        return m.group(1)
    return None


def resolve_terms(symbol: str, asset_class: str | None, *, size_decimals: int = 0,
                  file_terms: Mapping | None = None, existing=None) -> InstrumentTerms:
    """Terms of ``symbol`` for a dataset of ``asset_class``.

    Precedence per field: the file's instrument data (``file_terms``: any of ``multiplier``,
    ``lot_size``, ``tick_size``), then :data:`FUTURES` for a futures root, then the terms already
    stored on the dataset row (``existing``, when its asset class is the same), then
    :func:`class_defaults`. ``size_decimals`` is the unit the caller stores sizes in.
    """
    ac = (asset_class or "equity").lower()
    base = class_defaults(ac)
    values = {"multiplier": base.multiplier, "lot_size": base.lot_size, "tick_size": base.tick_size}
    if existing is not None and (getattr(existing, "asset_class", None) or "").lower() == ac:
        for k in values:
            v = getattr(existing, k, None)
            if v is not None:
                values[k] = float(v)
    if ac == "futures":
        root = future_root(symbol)
        spec = FUTURES.get(root) if root else None
        if spec is not None:
            values["multiplier"], values["tick_size"] = spec.multiplier, spec.tick_size
    for k, v in (file_terms or {}).items():
        if k in values and v is not None:
            values[k] = float(v)
    return InstrumentTerms(ac, values["multiplier"], int(size_decimals), values["lot_size"], values["tick_size"])


def terms_from_dataset(row) -> InstrumentTerms:
    """Terms stored on a dataset row (a :class:`tickdeck.core.db.Dataset` or a mapping); missing → class defaults."""
    get = row.get if isinstance(row, Mapping) else (lambda k, d=None: getattr(row, k, d))
    base = class_defaults(get("asset_class"))
    lot = get("lot_size")
    return InstrumentTerms(
        base.asset_class,
        float(get("multiplier") if get("multiplier") is not None else base.multiplier),
        int(get("size_decimals") or 0),
        float(lot) if lot is not None else base.lot_size,
        float(get("tick_size")) if get("tick_size") is not None else base.tick_size,
    )


def stored_terms(ctx, symbol: str) -> InstrumentTerms:
    """Terms on the catalogued dataset row of ``symbol``, or :data:`EQUITY` when it has none."""
    row = ctx.catalog.dataset(symbol)
    return EQUITY if row is None else terms_from_dataset(row)


def terms_for_ingest(ctx, symbol: str, dataset: Mapping | None) -> InstrumentTerms:
    """Terms for a day being ingested: the caller's dataset attributes when they carry terms,
    else the catalogued dataset row, else :data:`EQUITY` (collectors of equities, synthetic days)."""
    if dataset and "multiplier" in dataset:
        return terms_from_dataset(dataset)
    if dataset and dataset.get("asset_class") and ctx.catalog.dataset(symbol) is None:
        return class_defaults(dataset["asset_class"])
    return stored_terms(ctx, symbol)


def fewest_decimals(values, most: int) -> int:
    """The fewest decimals (at most ``most``) that hold every finite value of ``values`` exactly (to 1e-9
    relative); ``most`` when none does. An empty array needs 0."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    for d in range(most + 1):
        x = v * 10.0 ** d
        if np.all(np.abs(x - np.rint(x)) <= 1e-9 * np.maximum(1.0, np.abs(x))):
            return d
    return most
