"""Bar rows from bar boundaries: one compiled pass over each bar's ticks, plus the integrity check.

Every family kernel only decides *where* bars end; :func:`aggregate` turns those boundaries into
the bar columns (the same code for all families, so every family's OHLCV means the same thing)
and :func:`bars_frame` makes the stored frame. Sums run tick by tick from each bar's first tick,
so a streaming builder that re-aggregates a bar from its buffered ticks gets bit-identical floats.

Bar frame: index ``start`` (tz-aware ET), columns :data:`BAR_COLUMNS`. ``session`` is the
session code of the bar's first trade and ``spread_count`` the number of its trades with a valid
quote (the weight of ``avg_spread_bps`` when bars are combined).

Money and quantity: the kernels sum stored sizes and price × stored size; :func:`finish_money`
takes ``vwap`` from those sums, multiplies ``dollar_volume`` by the ticks' ``scale`` (contract
multiplier, size decimals) so it equals the sum of the ticks' enriched ``dollar_volume``, and
divides the volumes by the ticks' ``units`` so they are in the instrument's quantity (coins, not
1e-8 coins).
"""

from __future__ import annotations

import numba as nb
import numpy as np
import pandas as pd

from tickdeck.core.errors import TickdeckError

ET = "America/New_York"
BAR_COLUMNS = ["end", "open", "high", "low", "close", "volume", "dollar_volume", "vwap", "trade_count",
               "buy_volume", "sell_volume", "avg_spread_bps", "session", "spread_count"]
NO_SESSION = -128  # state sentinel: no tick seen yet in this stream

# Bar flags written by the family kernels.
OPENED_AT_SESSION = 1  # the bar's first tick starts a session (or the stream)
CLOSED_AT_SESSION = 2  # the bar was cut by a session change (or the end of the stream)


class BarIntegrityError(TickdeckError, AssertionError):
    """A produced bar violates OHLC integrity; a bug, never silently stored."""


@nb.njit(cache=True, nogil=True)
def _aggregate(ts, px, sz, sgn, bps, ses, starts, ends, o_start, o_end, o_open, o_high, o_low, o_close, o_vol,
               o_dollar, o_count, o_buy, o_sell, o_bps, o_ses, o_nq):  # pragma: no cover - compiled
    for b in range(starts.shape[0]):
        s = starts[b]
        e = ends[b]
        p0 = px[s]
        hi = p0
        lo = p0
        vol = 0.0
        dol = 0.0
        buy = 0.0
        sell = 0.0
        qsum = 0.0
        nq = 0
        for i in range(s, e):
            p = px[i]
            v = sz[i]
            if p > hi:
                hi = p
            if p < lo:
                lo = p
            vol += v
            dol += p * v
            g = sgn[i]
            if g > 0:
                buy += v
            elif g < 0:
                sell += v
            q = bps[i]
            if q == q:  # not NaN
                qsum += q
                nq += 1
        o_start[b] = ts[s]
        o_end[b] = ts[e - 1]
        o_open[b] = p0
        o_high[b] = hi
        o_low[b] = lo
        o_close[b] = px[e - 1]
        o_vol[b] = vol
        o_dollar[b] = dol
        o_count[b] = e - s
        o_buy[b] = buy
        o_sell[b] = sell
        o_bps[b] = qsum / nq if nq > 0 else np.nan
        o_ses[b] = ses[s]
        o_nq[b] = nq


def empty_columns(n: int) -> dict[str, np.ndarray]:
    f = np.float64
    return {"start": np.empty(n, np.int64), "end": np.empty(n, np.int64), "open": np.empty(n, f),
            "high": np.empty(n, f), "low": np.empty(n, f), "close": np.empty(n, f), "volume": np.empty(n, f),
            "dollar_volume": np.empty(n, f), "trade_count": np.empty(n, np.int64), "buy_volume": np.empty(n, f),
            "sell_volume": np.empty(n, f), "avg_spread_bps": np.empty(n, f), "session": np.empty(n, np.int8),
            "spread_count": np.empty(n, np.int64), "vwap": np.empty(n, f)}


_ORDER = ["start", "end", "open", "high", "low", "close", "volume", "dollar_volume", "trade_count", "buy_volume",
          "sell_volume", "avg_spread_bps", "session", "spread_count"]


def finish_money(cols: dict[str, np.ndarray], scale: float, units: float = 1.0) -> dict[str, np.ndarray]:
    """``vwap`` from the kernels' price × size sums, then ``dollar_volume`` in currency (× ``scale``)
    and the volumes in quantity (÷ ``units``, stored size units per unit of quantity)."""
    vol = cols["volume"]
    with np.errstate(invalid="ignore", divide="ignore"):
        cols["vwap"] = np.where(vol > 0, cols["dollar_volume"] / np.where(vol > 0, vol, 1.0), np.nan)
    if scale != 1.0:
        cols["dollar_volume"] = cols["dollar_volume"] * scale
    if units != 1.0:
        for c in ("volume", "buy_volume", "sell_volume"):
            cols[c] = cols[c] / units
    return cols


def aggregate(x, starts: np.ndarray, ends: np.ndarray) -> dict[str, np.ndarray]:
    """Bar columns for bars ``[starts[k], ends[k])`` over the tick arrays ``x`` (start/end in UTC ns)."""
    cols = empty_columns(starts.shape[0])
    if starts.shape[0]:
        _aggregate(x.ts, x.px, x.sz, x.sgn, x.bps, x.ses, starts, ends, *(cols[k] for k in _ORDER))
    return finish_money(cols, x.scale, x.units)


def check_integrity(cols: dict[str, np.ndarray], what: str) -> None:
    """Raise :class:`BarIntegrityError` on the first bar breaking OHLC integrity.

    Checks high ≥ max(open, close), low ≤ min(open, close), high ≥ low, volume ≥ 0, start ≤ end.
    """
    o, h, l, c = cols["open"], cols["high"], cols["low"], cols["close"]
    bad = (h < np.maximum(o, c)) | (l > np.minimum(o, c)) | (h < l) | ~(cols["volume"] >= 0) \
        | (cols["start"] > cols["end"]) | ~np.isfinite(o + h + l + c)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        t = pd.Timestamp(int(cols["start"][i]), tz="UTC").tz_convert(ET)
        raise BarIntegrityError(
            f"{what}: bar {i} starting {t} breaks OHLC integrity (open={o[i]}, high={h[i]}, low={l[i]}, "
            f"close={c[i]}, volume={cols['volume'][i]}, start={cols['start'][i]}, end={cols['end'][i]})")


def bars_frame(cols: dict[str, np.ndarray], what: str = "bars") -> pd.DataFrame:
    """The bar frame (index ``start`` tz-aware ET) after the integrity check."""
    check_integrity(cols, what)
    vwap = cols["vwap"] if "vwap" in cols else finish_money(dict(cols), 1.0)["vwap"]
    index = pd.DatetimeIndex(cols["start"].view("datetime64[ns]"), name="start").tz_localize("UTC").tz_convert(ET)
    end = pd.DatetimeIndex(cols["end"].view("datetime64[ns]")).tz_localize("UTC").tz_convert(ET)
    data = {"end": end, **{k: cols[k] for k in ("open", "high", "low", "close", "volume", "dollar_volume")},
            "vwap": vwap, **{k: cols[k] for k in ("trade_count", "buy_volume", "sell_volume", "avg_spread_bps",
                                                  "session", "spread_count")}}
    return pd.DataFrame(data, index=index, copy=False)[BAR_COLUMNS]


def empty_frame() -> pd.DataFrame:
    return bars_frame(empty_columns(0))


def concat_columns(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    parts = [p for p in parts if p["start"].shape[0]]
    if not parts:
        return empty_columns(0)
    if len(parts) == 1:
        return parts[0]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def frame_columns(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """Inverse of :func:`bars_frame` (start/end back to UTC ns)."""
    cols = {"start": df.index.asi8.astype(np.int64), "end": pd.DatetimeIndex(df["end"]).asi8.astype(np.int64)}
    for k in _ORDER[2:] + ["vwap"]:
        cols[k] = df[k].to_numpy()
    return cols
