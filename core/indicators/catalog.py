"""Every indicator tickdeck knows: its meaning, unit, where it comes from and, for DTN's calculated
statistics, the feed symbol.

An indicator name is ``<KIND>.<VARIANT>`` (``TICK.NYSE``, ``PCR.EQUITY``, ``AD_LINE.ALL``) or, for the
per-symbol derived metrics, the metric's name (``realized_vol``). ``source`` says where values come
from: ``feed`` (a DTN calculated statistic, or a ratio of two), ``local`` (computed by tickdeck over
the collected universe, :mod:`core.indicators.breadth`) or ``both`` (read from the feed *and*
computed locally; the two are reconciled, ``<NAME>.diff``).

DTN symbols (``.Z`` suffix). Confirmed names come from DTN's calculated-indicators guide as quoted
by public IQFeed client code: ``JTNT.Z``/``JTQT.Z`` (net tick), ``RINT.Z``/``RIQT.Z`` (TRIN),
``TINT.Z``/``TIQT.Z`` (total issues), ``VINT.Z``/``VIQT.Z`` (volume), ``H1NH.Z``/``H1NL.Z`` (1-day
new highs/lows; quoted without an exchange, the ``N`` read as NYSE as in the others),
``VCOET.Z``/``VPOET.Z`` (equity call/put volume), and the S&P 500 issue/volume symbols
``II6A.Z``/``II6D.Z``/``VI6A.Z``/``VI6D.Z``; and from DTN's own symbol guide ("DTN - Indexes and
indicators definitions", iqfeed.net/symbolguide): NYSE advances/declines/unchanged ``IINA.Z``/
``IIND.Z``/``IINU.Z`` and NYSE up/down volume ``VINA.Z``/``VIND.Z``. The NASDAQ advancing/declining/
unchanged issue and volume symbols follow the same pattern (``Q`` in place of ``N``; a DTN answer on
its forum spells out the pattern for NASDAQ's sub-markets, ``IISA.Z``/``IISD.Z``/``IISU.Z``, and the
combined ``IIQT.Z``) but were not seen spelled out: they are listed in :attr:`Indicator.unconfirmed`, as
are the NASDAQ new highs/lows and the index/total option volumes (``docs/indicators.md``, "Catalog",
says the same and where each name was seen). An unconfirmed symbol is still served by the bundled
emulator and routed like any other; check it against DTN's symbol guide before relying on a real feed.

Any ``.Z`` symbol is a statistic (:func:`is_statistic_symbol`): one the catalog does not know is
named ``STAT.<symbol>`` (:func:`statistic_name`) and never becomes a tick day.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

GROUPS = ("breadth", "options", "derived")
SOURCES = ("feed", "local", "both")
EXCHANGES = ("NYSE", "NASDAQ")  # listing exchanges with DTN breadth statistics
LOCAL_VARIANTS = EXCHANGES + ("ALL",)  # local breadth is also computed over the whole universe
OPTION_CLASSES = ("EQUITY", "INDEX", "TOTAL")
UNKNOWN_PREFIX = "STAT."  # name of a statistic symbol the catalog does not know: STAT.<symbol>

# Derived per-symbol metrics (the derived-metrics engine's names, used when it is not importable).
DERIVED_METRIC_NAMES = (
    "realized_vol", "vwap_dev_bps", "ofi", "trade_count_imbalance", "kyle_lambda", "amihud", "roll_spread",
    "effective_spread_bps", "quoted_spread_bps", "price_improvement_rate", "vpin", "trade_intensity",
    "avg_trade_size", "block_share", "odd_lot_share", "iso_share", "variance_ratio", "return_autocorr",
    "tick_run_length", "relative_volume")


@dataclass(frozen=True)
class Indicator:
    """One indicator series.

    ``dtn_symbols`` maps the variant to its DTN statistic symbol (empty for local-only and derived
    indicators); ``unconfirmed`` lists those of its symbols whose spelling could not be confirmed
    against DTN's documentation (see the module docstring).
    """

    name: str
    group: str
    meaning: str
    unit: str
    source: str
    dtn_symbols: Mapping[str, str] = field(default_factory=dict)
    unconfirmed: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.group not in GROUPS:
            raise ValueError(f"indicator {self.name}: group {self.group!r} is not one of {', '.join(GROUPS)}")
        if self.source not in SOURCES:
            raise ValueError(f"indicator {self.name}: source {self.source!r} is not one of {', '.join(SOURCES)}")
        object.__setattr__(self, "dtn_symbols", MappingProxyType(dict(self.dtn_symbols)))

    @property
    def kind(self) -> str:
        """The name without its variant (``TICK`` for ``TICK.NYSE``)."""
        return self.name.split(".", 1)[0]

    @property
    def variant(self) -> str:
        """The variant (``NYSE``, ``EQUITY``, ``ALL``), empty for derived metrics."""
        return self.name.split(".", 1)[1] if "." in self.name else ""


# kind -> (meaning, unit, {exchange: DTN symbol}, unconfirmed symbols); NYSE/NASDAQ, feed and local.
_BREADTH_BOTH = {
    "TICK": ("net tick: issues whose last trade was an uptick minus those whose last trade was a downtick",
             "issues", {"NYSE": "JTNT.Z", "NASDAQ": "JTQT.Z"}, ()),
    "TRIN": ("Arms index: (advancers / decliners) / (advancing volume / declining volume)", "ratio",
             {"NYSE": "RINT.Z", "NASDAQ": "RIQT.Z"}, ()),
    "ADV": ("advancing issues: last trade above the session's first trade", "issues",
            {"NYSE": "IINA.Z", "NASDAQ": "IIQA.Z"}, ("IIQA.Z",)),
    "DEC": ("declining issues: last trade below the session's first trade", "issues",
            {"NYSE": "IIND.Z", "NASDAQ": "IIQD.Z"}, ("IIQD.Z",)),
    "UNCH": ("unchanged issues: last trade equal to the session's first trade", "issues",
             {"NYSE": "IINU.Z", "NASDAQ": "IIQU.Z"}, ("IIQU.Z",)),
    "ADV_VOL": ("advancing volume: today's volume of the advancing issues", "shares",
                {"NYSE": "VINA.Z", "NASDAQ": "VIQA.Z"}, ("VIQA.Z",)),
    "DEC_VOL": ("declining volume: today's volume of the declining issues", "shares",
                {"NYSE": "VIND.Z", "NASDAQ": "VIQD.Z"}, ("VIQD.Z",)),
    "NEW_HIGHS": ("issues whose last trade is at the session's high", "issues",
                  {"NYSE": "H1NH.Z", "NASDAQ": "H1QH.Z"}, ("H1QH.Z",)),
    "NEW_LOWS": ("issues whose last trade is at the session's low", "issues",
                 {"NYSE": "H1NL.Z", "NASDAQ": "H1QL.Z"}, ("H1QL.Z",)),
    "ISSUES": ("issues traded so far today", "issues", {"NYSE": "TINT.Z", "NASDAQ": "TIQT.Z"}, ()),
    "VOLUME": ("total volume traded today", "shares", {"NYSE": "VINT.Z", "NASDAQ": "VIQT.Z"}, ()),
}
# Local-only breadth, per NYSE / NASDAQ / ALL.
_BREADTH_LOCAL = {
    "AD_LINE": ("intraday advance/decline line: advancers minus decliners since the session's first trades "
                "(across days, the A/D line is the running sum of each day's closing value)", "issues"),
    "UPDOWN_VOL_RATIO": ("advancing volume / declining volume", "ratio"),
    "PCT_ABOVE_VWAP": ("share of traded issues whose last trade is above their session VWAP", "percent"),
    "MCCLELLAN": ("McClellan oscillator: EMA19 - EMA39 of daily net advances (smoothing 0.10 and 0.05)",
                  "issues"),
}
# Option volumes: DTN's equity call/put volume, index and total by the same pattern (unconfirmed).
_OPTION_VOLUMES = {
    "EQUITY": ("VCOET.Z", "VPOET.Z", ()),
    "INDEX": ("VCOIT.Z", "VPOIT.Z", ("VCOIT.Z", "VPOIT.Z")),
    "TOTAL": ("VCOAT.Z", "VPOAT.Z", ("VCOAT.Z", "VPOAT.Z")),
}


def _derived_metrics() -> dict[str, tuple[str, str]]:
    """``{metric: (meaning, unit)}`` from :mod:`tickdeck.core.indicators.derived` (its ``METRICS`` names and
    ``METRIC_INFO``), or the names alone when it cannot be imported."""
    try:
        from tickdeck.core.indicators.derived import METRICS
    except ImportError:
        METRICS = DERIVED_METRIC_NAMES
    try:
        from tickdeck.core.indicators.derived import METRIC_INFO
    except ImportError:
        METRIC_INFO = {}
    out = {}
    for name in METRICS:
        info = METRIC_INFO.get(name)
        out[name] = (getattr(info, "meaning", "") or f"derived metric {name} per symbol (docs/indicators.md)",
                     getattr(info, "unit", "") or "")
    return out


def _build() -> dict[str, Indicator]:
    out: dict[str, Indicator] = {}

    def add(ind: Indicator) -> None:
        if ind.name in out:
            raise ValueError(f"indicator {ind.name} is defined twice")
        out[ind.name] = ind

    for kind, (meaning, unit, syms, unconfirmed) in _BREADTH_BOTH.items():
        for ex in EXCHANGES:
            add(Indicator(f"{kind}.{ex}", "breadth", f"{meaning} ({ex}-listed issues)", unit, "both",
                          {ex: syms[ex]}, tuple(s for s in unconfirmed if s == syms[ex])))
        add(Indicator(f"{kind}.ALL", "breadth", f"{meaning} (every collected issue)", unit, "local"))
    for kind, (meaning, unit) in _BREADTH_LOCAL.items():
        for v in LOCAL_VARIANTS:
            who = "every collected issue" if v == "ALL" else f"{v}-listed issues"
            add(Indicator(f"{kind}.{v}", "breadth", f"{meaning} ({who})", unit, "local"))
    for cls, (call, put, unconfirmed) in _OPTION_VOLUMES.items():
        what = cls.lower()
        add(Indicator(f"CALL_VOL.{cls}", "options", f"{what} call option volume today", "contracts", "feed",
                      {cls: call}, tuple(s for s in unconfirmed if s == call)))
        add(Indicator(f"PUT_VOL.{cls}", "options", f"{what} put option volume today", "contracts", "feed",
                      {cls: put}, tuple(s for s in unconfirmed if s == put)))
        add(Indicator(f"PCR.{cls}", "options", f"{what} put/call volume ratio: PUT_VOL.{cls} / CALL_VOL.{cls}",
                      "ratio", "feed"))
    for name, (meaning, unit) in _derived_metrics().items():
        add(Indicator(name, "derived", meaning, unit, "local"))
    return out


INDICATORS: dict[str, Indicator] = _build()
STATISTIC_SYMBOLS: dict[str, str] = {sym: ind.name for ind in INDICATORS.values()
                                     for sym in ind.dtn_symbols.values()}
# Local breadth kinds computed by core.indicators.breadth at every instant (MCCLELLAN needs daily history).
SNAPSHOT_KINDS = tuple(_BREADTH_BOTH) + ("AD_LINE", "UPDOWN_VOL_RATIO", "PCT_ABOVE_VWAP")
# Index ETFs whose tape stands in for index options in the emulator's option-volume proxies.
INDEX_PRODUCTS = frozenset({"SPY", "QQQ", "IWM", "DIA"})
# Primary listings of the synthetic market's named symbols (SPY and IWM list on NYSE Arca, counted as NYSE).
KNOWN_LISTINGS = {"AAPL": "NASDAQ", "MSFT": "NASDAQ", "NVDA": "NASDAQ", "TSLA": "NASDAQ", "AMZN": "NASDAQ",
                  "GOOG": "NASDAQ", "META": "NASDAQ", "QQQ": "NASDAQ", "SPY": "NYSE", "IWM": "NYSE", "DIA": "NYSE",
                  "JPM": "NYSE", "XOM": "NYSE", "KO": "NYSE"}


def is_statistic_symbol(symbol: str) -> bool:
    """True for a DTN calculated statistic: any symbol ending in ``.Z`` (known to the catalog or not)."""
    return isinstance(symbol, str) and symbol.strip().upper().endswith(".Z")


def statistic_name(symbol: str) -> str:
    """The indicator name of a statistic symbol (``JTNT.Z`` → ``TICK.NYSE``; unknown → ``STAT.<symbol>``)."""
    sym = symbol.strip().upper()
    return STATISTIC_SYMBOLS.get(sym) or UNKNOWN_PREFIX + sym


def listing_exchange(symbol: str) -> str:
    """The listing exchange tickdeck counts ``symbol``'s breadth under (``NYSE`` or ``NASDAQ``).

    Named symbols use :data:`KNOWN_LISTINGS`; any other symbol (the synthetic market's) is placed
    by a stable hash of its ticker, so the emulator and the local breadth agree on every universe.
    """
    sym = symbol.strip().upper()
    return KNOWN_LISTINGS.get(sym) or EXCHANGES[zlib.crc32(sym.encode()) % 2]


def exchange_map(symbols) -> dict[str, str]:
    """``{symbol: listing exchange}`` for ``symbols`` (statistic symbols left out)."""
    return {s: listing_exchange(s) for s in symbols if not is_statistic_symbol(s)}


def feed_statistics() -> dict[str, str]:
    """``{DTN symbol: indicator name}`` of every statistic the catalog knows (a copy)."""
    return dict(STATISTIC_SYMBOLS)
