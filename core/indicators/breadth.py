"""Market breadth computed locally over the collected universe, live and over stored days.

* :class:`BreadthState` — live: per-symbol state in numpy arrays indexed by symbol; a batch of one
  symbol's new ticks updates it with a few array reductions, :meth:`BreadthState.snapshot` gives
  every local breadth indicator for NYSE, NASDAQ and ALL at that instant.
* :func:`breadth_series` — batch: the same values on a time grid from whole stored days (one
  ``searchsorted`` per symbol; equal to feeding :class:`BreadthState` the ticks in time order and
  snapshotting at each grid instant, tested).
* :func:`mcclellan` and :func:`ad_line` — from daily net advances (one value per stored day).
* :func:`reconcile` — local minus feed, ``<NAME>.diff``, where both exist.

Definitions (the same as the bundled emulator's DTN statistics,
:meth:`core.sources.iqfeed_emulator.IQFeedEmulator.statistics`, so local and feed agree on the
same universe). A symbol counts once it has traded today, under its listing exchange and under
``ALL``:

* ``TICK``: the sign of its last trade against the trade before (uptick +1, downtick -1, same 0),
  summed over symbols;
* ``ADV`` / ``DEC`` / ``UNCH``: its last trade above / below / equal to its first trade of the
  day; ``ADV_VOL`` / ``DEC_VOL``: the day's volume of the advancing / declining symbols;
* ``TRIN`` = ``(ADV / DEC) / (ADV_VOL / DEC_VOL)``, NaN when a term is zero;
* ``NEW_HIGHS`` / ``NEW_LOWS``: its last trade at the day's running high / low;
* ``ISSUES``: symbols traded; ``VOLUME``: their volume;
* ``AD_LINE``: ``ADV - DEC`` (the intraday advance/decline line; across days :func:`ad_line`);
* ``UPDOWN_VOL_RATIO`` = ``ADV_VOL / DEC_VOL`` (NaN without declining volume);
* ``PCT_ABOVE_VWAP``: percent of traded symbols whose last trade is above their session VWAP
  (``sum(price × size) / sum(size)``) by more than one part in 10⁹, so the order prices were
  summed in cannot flip a tie.

Timestamps are UTC nanoseconds; ticks of a symbol arrive in time order (a live batch after the
previous one; a stored day is time-ordered).
"""

from __future__ import annotations

from typing import Mapping

import numba
import numpy as np

from tickdeck.core.errors import TickdeckError
from tickdeck.core.indicators.catalog import EXCHANGES, LOCAL_VARIANTS, SNAPSHOT_KINDS, STATISTIC_SYMBOLS

MCCLELLAN_FAST = 0.10  # the 19-day EMA's smoothing constant, 2 / (19 + 1)
MCCLELLAN_SLOW = 0.05  # the 39-day EMA's smoothing constant, 2 / (39 + 1)
VWAP_TIE = 1e-9  # "above VWAP" needs last × volume to exceed price × size summed by this relative margin
_COUNTS = ("TICK", "ADV", "DEC", "UNCH", "ADV_VOL", "DEC_VOL", "NEW_HIGHS", "NEW_LOWS", "ISSUES", "VOLUME",
           "ABOVE_VWAP")


class UnknownBreadthSymbol(TickdeckError, KeyError):
    """A breadth update for a symbol the state was not given an exchange for."""


def _finish(counts: Mapping[str, np.ndarray | float], variant: str, out: dict) -> None:
    """The indicators of one variant from its summed counts (scalars or arrays over a grid)."""
    c = {k: np.asarray(v, dtype=np.float64) for k, v in counts.items()}
    with np.errstate(divide="ignore", invalid="ignore"):
        defined = (c["ADV"] > 0) & (c["DEC"] > 0) & (c["ADV_VOL"] > 0) & (c["DEC_VOL"] > 0)
        trin = np.where(defined, (c["ADV"] / c["DEC"]) / (c["ADV_VOL"] / c["DEC_VOL"]), np.nan)
        ratio = np.where(c["DEC_VOL"] > 0, c["ADV_VOL"] / c["DEC_VOL"], np.nan)
        pct = np.where(c["ISSUES"] > 0, 100.0 * c["ABOVE_VWAP"] / c["ISSUES"], np.nan)
    values = {k: c[k] for k in _COUNTS if k != "ABOVE_VWAP"}
    values.update(TRIN=trin, AD_LINE=c["ADV"] - c["DEC"], UPDOWN_VOL_RATIO=ratio, PCT_ABOVE_VWAP=pct)
    for kind in SNAPSHOT_KINDS:
        v = values[kind]
        out[f"{kind}.{variant}"] = float(v) if v.ndim == 0 else v


def _symbol_counts(first, last, prev, high, low, vol, pv, traded) -> dict[str, np.ndarray]:
    """Each symbol's contribution to every count (arrays of any shape, elementwise)."""
    f = traded.astype(np.float64)
    with np.errstate(invalid="ignore"):
        tick = np.where(np.isfinite(prev) & traded, np.sign(last - prev), 0.0)
        adv, dec = traded & (last > first), traded & (last < first)
        above = traded & (last * vol - pv > VWAP_TIE * np.abs(pv))
    return {"TICK": tick, "ADV": adv * 1.0, "DEC": dec * 1.0, "UNCH": (traded & (last == first)) * 1.0,
            "ADV_VOL": np.where(adv, vol, 0.0), "DEC_VOL": np.where(dec, vol, 0.0),
            "NEW_HIGHS": (traded & (last >= high)) * 1.0, "NEW_LOWS": (traded & (last <= low)) * 1.0,
            "ISSUES": f, "VOLUME": np.where(traded, vol, 0.0), "ABOVE_VWAP": above * 1.0}


class BreadthState:
    """Live local breadth over a universe: per-symbol state in arrays indexed by symbol.

    Parameters
    ----------
    exchange_of
        ``{symbol: "NYSE" | "NASDAQ"}`` (:func:`tickdeck.core.indicators.catalog.exchange_map`).

    Warnings
    --------
    Not thread-safe: one thread updates and snapshots (the indicators service's).
    """

    def __init__(self, exchange_of: Mapping[str, str]):
        self.symbols: list[str] = []
        self._index: dict[str, int] = {}
        self._exchange = np.empty(0, dtype=object)
        n = 0
        self.first, self.last, self.prev = (np.full(n, np.nan) for _ in range(3))
        self.high, self.low = np.full(n, -np.inf), np.full(n, np.inf)
        self.volume, self.pv = np.zeros(n), np.zeros(n)
        self.count = np.zeros(n, dtype=np.int64)
        self.at_ns = 0
        self.add(exchange_of)

    def add(self, exchange_of: Mapping[str, str]) -> None:
        """Add symbols (a symbol already known keeps its state)."""
        new = [(s, e) for s, e in exchange_of.items() if s not in self._index]
        if not new:
            return
        bad = [f"{s}: {e!r}" for s, e in new if e not in EXCHANGES]
        if bad:
            raise ValueError(f"unknown listing exchange for {', '.join(bad)}; use one of {', '.join(EXCHANGES)}")
        k = len(new)
        for s, _ in new:
            self._index[s] = len(self.symbols)
            self.symbols.append(s)
        self._exchange = np.concatenate([self._exchange, np.array([e for _, e in new], dtype=object)])
        self.first, self.last, self.prev = (np.concatenate([a, np.full(k, np.nan)])
                                            for a in (self.first, self.last, self.prev))
        self.high = np.concatenate([self.high, np.full(k, -np.inf)])
        self.low = np.concatenate([self.low, np.full(k, np.inf)])
        self.volume, self.pv = (np.concatenate([a, np.zeros(k)]) for a in (self.volume, self.pv))
        self.count = np.concatenate([self.count, np.zeros(k, dtype=np.int64)])
        self._masks = {ex: self._exchange == ex for ex in EXCHANGES}
        self._masks["ALL"] = np.ones(len(self.symbols), dtype=bool)

    def reset(self) -> None:
        """Start a new day: every symbol untraded."""
        self.first[:], self.last[:], self.prev[:] = np.nan, np.nan, np.nan
        self.high[:], self.low[:] = -np.inf, np.inf
        self.volume[:], self.pv[:], self.count[:] = 0.0, 0.0, 0
        self.at_ns = 0

    def update(self, symbol: str, cols: Mapping[str, np.ndarray]) -> None:
        """Fold a batch of ``symbol``'s new ticks (``timestamp``, ``last``, ``last_sz``, ``bid``,
        ``ask``; time-ordered, after the previous batch) into its state: array reductions only.

        Raises
        ------
        UnknownBreadthSymbol
            ``symbol`` was not given an exchange (:meth:`add` it first).
        """
        i = self._index.get(symbol)
        if i is None:
            raise UnknownBreadthSymbol(f"breadth has no listing exchange for {symbol!r}: add it first "
                                       f"(BreadthState.add({{{symbol!r}: 'NYSE' or 'NASDAQ'}}))")
        price = np.asarray(cols["last"], dtype=np.float64)
        n = price.size
        if n == 0:
            return
        size = np.asarray(cols["last_sz"], dtype=np.float64)
        if self.count[i] == 0:
            self.first[i] = price[0]
        self.prev[i] = price[-2] if n > 1 else self.last[i]
        self.last[i] = price[-1]
        self.high[i] = max(self.high[i], price.max())
        self.low[i] = min(self.low[i], price.min())
        self.volume[i] += size.sum()
        self.pv[i] += price @ size
        self.count[i] += n
        ts = cols.get("timestamp")
        if ts is not None and len(ts):
            self.at_ns = max(self.at_ns, int(ts[-1]))

    def snapshot(self, at_ns: int) -> dict[str, float]:
        """Every local breadth indicator (``<KIND>.<NYSE|NASDAQ|ALL>``, catalog names) now.

        ``at_ns`` is the instant the values stand for (the caller's clock: the newest tick or
        statistic time); the state holds whatever was fed so far. NaN = not defined yet.
        """
        per = _symbol_counts(self.first, self.last, self.prev, self.high, self.low, self.volume, self.pv,
                             self.count > 0)
        out: dict[str, float] = {}
        for variant in LOCAL_VARIANTS:
            m = self._masks[variant]
            _finish({k: v[m].sum() for k, v in per.items()}, variant, out)
        return out


def breadth_series(universe: Mapping[str, Mapping[str, np.ndarray]], grid_ns: np.ndarray,
                   exchange_of: Mapping[str, str]) -> dict[str, np.ndarray]:
    """Every local breadth indicator at each instant of ``grid_ns`` (UTC ns, ascending) from whole
    days of ticks: ``universe`` maps each symbol to its time-ordered columns (``timestamp``,
    ``last``, ``last_sz``). A tick at exactly a grid instant counts at that instant.

    Vectorised per symbol over the grid (memory: a few arrays of the grid's length, not
    symbols × grid).

    Raises
    ------
    UnknownBreadthSymbol
        A symbol of ``universe`` has no exchange in ``exchange_of``.
    """
    grid = np.asarray(grid_ns, dtype=np.int64)
    acc = {v: {k: np.zeros(grid.size) for k in _COUNTS} for v in LOCAL_VARIANTS}
    for sym, cols in universe.items():
        ex = exchange_of.get(sym)
        if ex not in EXCHANGES:
            raise UnknownBreadthSymbol(f"breadth has no listing exchange for {sym!r} (got {ex!r})")
        ts = np.asarray(cols["timestamp"], dtype=np.int64)
        if ts.size == 0:
            continue
        price = np.asarray(cols["last"], dtype=np.float64)
        size = np.asarray(cols["last_sz"], dtype=np.float64)
        j = np.searchsorted(ts, grid, side="right")  # ticks at or before each instant
        traded = j > 0
        last_i = np.maximum(j - 1, 0)
        last = price[last_i]
        prev = np.where(j > 1, price[np.maximum(j - 2, 0)], np.nan)
        per = _symbol_counts(price[0], last, prev, np.maximum.accumulate(price)[last_i],
                             np.minimum.accumulate(price)[last_i], np.cumsum(size)[last_i],
                             np.cumsum(price * size)[last_i], traded)
        for variant in (ex, "ALL"):
            for k, v in per.items():
                acc[variant][k] += v
    out: dict[str, np.ndarray] = {}
    for variant, counts in acc.items():
        _finish(counts, variant, out)
    return out


@numba.njit(cache=True, nogil=True)
def _ema(x: np.ndarray, alpha: float) -> np.ndarray:
    out = np.empty(x.size)
    if x.size == 0:
        return out
    out[0] = x[0]
    for t in range(1, x.size):
        out[t] = out[t - 1] + alpha * (x[t] - out[t - 1])
    return out


def mcclellan(net_advances: np.ndarray) -> np.ndarray:
    """The McClellan oscillator of daily net advances (advancers − decliners, one per day, oldest
    first): ``EMA(0.10) − EMA(0.05)``, the 19- and 39-day exponential averages with McClellan's
    smoothing constants. Both averages start at the first day's value, so the first value is 0
    and the early values are only indicative until about 39 days of history exist."""
    x = np.asarray(net_advances, dtype=np.float64)
    return _ema(x, MCCLELLAN_FAST) - _ema(x, MCCLELLAN_SLOW)


def ad_line(net_advances: np.ndarray) -> np.ndarray:
    """The advance/decline line across days: the running sum of daily net advances."""
    return np.cumsum(np.asarray(net_advances, dtype=np.float64))


def feed_values(by_symbol: Mapping[str, float | None]) -> dict[str, float]:
    """DTN statistic values by symbol (``{"JTNT.Z": 12.0}``) as catalog names (``TICK.NYSE``),
    None → NaN; symbols the catalog does not know are left out."""
    return {STATISTIC_SYMBOLS[s]: (np.nan if v is None else float(v)) for s, v in by_symbol.items()
            if s in STATISTIC_SYMBOLS}


def reconcile(local: Mapping[str, float], feed: Mapping[str, float]) -> dict[str, float]:
    """``{"<NAME>.diff": local − feed}`` for every name present in both (NaN when either is)."""
    out = {}
    for name, v in local.items():
        if name in feed:
            f = feed[name]
            out[f"{name}.diff"] = float(v) - (np.nan if f is None else float(f))
    return out
