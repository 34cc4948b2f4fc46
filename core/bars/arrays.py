"""Tick columns as plain numpy arrays for the bar kernels, checked once per batch.

:func:`tick_arrays` pulls the six columns the bars engine needs out of a tick frame (the
stored schema, or any frame with a DatetimeIndex and ``last``/``last_sz``) and rejects
non-finite prices or sizes and unsorted timestamps with :class:`BarInputError`, naming the
first offending row. Optional columns default when absent: ``trade_sign`` 0 (neither buy nor
sell), ``spread_bps`` NaN (no quote), ``session`` 1 (regular).

Units. Stored sizes are integers of ``10**-size_decimals`` of the instrument's quantity (BTC
is stored in 1e-8 coins, see :class:`core.instruments.InstrumentTerms`). The arrays keep the
stored sizes and carry two factors: ``scale``, the currency value of price × one stored size unit
(``multiplier / 10**size_decimals``, :attr:`~core.instruments.InstrumentTerms.notional_scale`), and
``units``, stored size units per unit of quantity (``10**size_decimals``,
:attr:`~core.instruments.InstrumentTerms.size_units`). Bar ``volume``/``buy_volume``/``sell_volume``
and volume thresholds are in quantity (shares, contracts, coins); ``dollar_volume`` and dollar
thresholds are in currency, equal to the sum of the ticks' enriched ``dollar_volume``. Pass the
instrument's terms (``tick_arrays(df, terms=...)``) for both.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tickdeck.core.errors import SchemaError

ET = "America/New_York"
NS_PER_DAY = 86_400 * 10**9
COLUMNS = ["last", "last_sz", "trade_sign", "spread_bps", "session"]


class BarInputError(SchemaError):
    """Ticks handed to the bars engine cannot form bars (non-finite price/size, unsorted)."""


@dataclass(frozen=True)
class TickArrays:
    """The columns the kernels read, one row per trade, time-ordered.

    ``ts`` is UTC epoch ns; ``sz`` is float64 (exact for integer share counts below 2**53,
    and fractional sizes such as crypto quantities work too).
    """

    ts: np.ndarray   # int64 UTC ns
    px: np.ndarray   # float64 trade price
    sz: np.ndarray   # float64 trade size
    sgn: np.ndarray  # int8 stored trade_sign (+1 buy, -1 sell, 0 unknown)
    bps: np.ndarray  # float64 spread in bps (NaN without a quote)
    ses: np.ndarray  # int8 session code
    scale: float = 1.0  # currency per price × stored size unit (ES: 50; BTC in 1e-8 units: 1e-8)
    units: float = 1.0  # stored size units per unit of quantity (BTC in 1e-8 units: 1e8)

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    def take(self, start: int, stop: int | None = None) -> "TickArrays":
        s = slice(start, stop)
        return TickArrays(self.ts[s], self.px[s], self.sz[s], self.sgn[s], self.bps[s], self.ses[s], self.scale,
                          self.units)

    @staticmethod
    def concat(a: "TickArrays", b: "TickArrays") -> "TickArrays":
        if len(a) == 0:
            return b
        if len(b) == 0:
            return a
        return TickArrays(*(np.concatenate((x, y)) for x, y in zip(a.arrays(), b.arrays())), a.scale, a.units)

    def arrays(self) -> tuple[np.ndarray, ...]:
        return self.ts, self.px, self.sz, self.sgn, self.bps, self.ses

    @functools.cached_property
    def wall(self) -> np.ndarray:
        """Eastern wall-clock ns (UTC ns + the ET offset), computed once and cached."""
        return self.ts + wall_offsets(self.ts)


def empty_arrays(scale: float = 1.0, units: float = 1.0) -> TickArrays:
    return TickArrays(np.empty(0, np.int64), np.empty(0), np.empty(0), np.empty(0, np.int8), np.empty(0),
                      np.empty(0, np.int8), float(scale), float(units))


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def tick_arrays(df: pd.DataFrame, *, scale: float = 1.0, units: float = 1.0, terms=None) -> TickArrays:
    """Extract and check the kernel inputs from a tick frame.

    ``terms`` (an :class:`~core.instruments.InstrumentTerms`) sets ``scale`` and ``units`` from the
    instrument (see the module docstring); without it they default to 1 (equity shares, USD).

    Raises
    ------
    BarInputError
        Missing ``last``/``last_sz``, a non-DatetimeIndex, a non-finite or non-positive price, a
        non-finite or negative size, or timestamps out of order; names the first bad row.
    """
    if not isinstance(df.index, pd.DatetimeIndex):
        raise BarInputError("timestamp", "tick frame must be indexed by trade time (DatetimeIndex)")
    for c in ("last", "last_sz"):
        if c not in df.columns:
            raise BarInputError(c, "required column is missing")
    idx = df.index if df.index.tz is not None else df.index.tz_localize(ET)
    ts = idx.asi8.astype(np.int64, copy=False)
    px = df["last"].to_numpy(np.float64)
    sz = df["last_sz"].to_numpy(np.float64)
    n = ts.shape[0]
    if n:
        bad = ~(np.isfinite(px) & (px > 0))
        if bad.any():
            i = _first_bad(bad)
            raise BarInputError("last", f"price must be finite and > 0, got {px[i]} at {df.index[i]}", row=i)
        bad = ~(np.isfinite(sz) & (sz >= 0))
        if bad.any():
            i = _first_bad(bad)
            raise BarInputError("last_sz", f"size must be finite and >= 0, got {sz[i]} at {df.index[i]}", row=i)
        back = ts[1:] < ts[:-1]
        if back.any():
            i = _first_bad(back) + 1
            raise BarInputError("timestamp", f"timestamps go backwards at {df.index[i]}; sort the ticks first", row=i)
    sgn = df["trade_sign"].to_numpy(np.int8) if "trade_sign" in df.columns else np.zeros(n, np.int8)
    bps = df["spread_bps"].to_numpy(np.float64) if "spread_bps" in df.columns else np.full(n, np.nan)
    ses = df["session"].to_numpy(np.int8) if "session" in df.columns else np.ones(n, np.int8)
    if terms is not None:
        scale, units = terms.notional_scale, terms.size_units
    if not (np.isfinite(scale) and scale > 0 and np.isfinite(units) and units > 0):
        raise BarInputError("terms", f"scale and units must be finite and > 0, got {scale} and {units}")
    return TickArrays(ts, px, sz, sgn, bps, ses, float(scale), float(units))


def wall_offsets(ts: np.ndarray) -> np.ndarray | int:
    """ET offset (ns) to add to UTC ns; a scalar when constant over the batch (the usual case)."""
    if ts.shape[0] == 0:
        return 0
    first, last = _offset(int(ts[0])), _offset(int(ts[-1]))
    if first == last:
        return first
    idx = pd.DatetimeIndex(ts.view("datetime64[ns]")).tz_localize("UTC").tz_convert(ET)
    return idx.tz_localize(None).asi8 - ts


def _offset(ns: int) -> int:
    t = pd.Timestamp(ns, tz="UTC").tz_convert(ET)
    return int(t.utcoffset().total_seconds()) * 10**9


@functools.lru_cache(maxsize=256)
def _bounds_for(calendar_name: str, first: dt.date, last: dt.date) -> np.ndarray:
    from tickdeck.core.calendar import get_calendar

    cal = get_calendar(calendar_name)
    days = cal.trading_days(first - dt.timedelta(days=4), last + dt.timedelta(days=4))
    out = np.empty(len(days) * 4, dtype=np.int64)
    for k, d in enumerate(days):
        b = cal.bounds(d)
        out[4 * k:4 * k + 4] = (b.pre_open.value, b.open.value, b.close.value, b.after_close.value)
    return out


def session_boundaries(calendar_name: str, ts_first: int, ts_last: int) -> np.ndarray:
    """Sorted UTC-ns session boundaries (pre-open, open, close, after-close per trading day)."""
    first = pd.Timestamp(ts_first, tz="UTC").tz_convert(ET).date()
    last = pd.Timestamp(ts_last, tz="UTC").tz_convert(ET).date()
    return _bounds_for(calendar_name, first, last)
