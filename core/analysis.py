"""Microstructure views of a selection: volume profile and spread analysis, on numpy arrays.

* :func:`volume_profile` — traded volume by price level (a histogram of size weighted by
  price bucket), with the point of control (the level with most volume) and the value area
  (the smallest contiguous range of levels around it holding :data:`VALUE_AREA` of volume).
* :func:`spread_analysis` — the quoted spread (ask − bid) and the effective spread
  (2 × |last − midpoint|) over time, as medians per time bucket, plus their distributions.

Both take whole columns and use ``np.bincount`` / sorting; no per-tick Python. Rows without a
valid quote (NaN, or bid > ask) are left out of the spread figures and counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VALUE_AREA = 0.70  # share of volume in the value area (the usual market-profile convention)
PROFILE_LEVELS = 60  # default number of price levels when no tick size is given
TIME_BUCKETS = 120  # default buckets of the spread-over-time series
HIST_BINS = 40  # bins of the spread distributions


@dataclass(frozen=True, eq=False)
class VolumeProfile:
    """Volume by price level: ``levels[i]`` is the lower edge of level ``i``, ``step`` its height."""

    levels: np.ndarray
    volume: np.ndarray
    step: float
    poc: float  # lower edge of the level with the most volume
    value_low: float  # value area: lower edge of its lowest level
    value_high: float  # value area: upper edge of its highest level


def volume_profile(price: np.ndarray, size: np.ndarray, *, step: float | None = None,
                   levels: int = PROFILE_LEVELS) -> VolumeProfile:
    """Traded ``size`` summed per price level of height ``step`` (default: the range / ``levels``).

    NaN prices are ignored. Raises ``ValueError`` when no trade has a price.
    """
    price = np.asarray(price, dtype=np.float64)
    size = np.asarray(size, dtype=np.float64)
    ok = np.isfinite(price) & np.isfinite(size)
    price, size = price[ok], size[ok]
    if price.size == 0:
        raise ValueError("no priced trades in the selection")
    lo, hi = float(price.min()), float(price.max())
    if step is None:
        step = (hi - lo) / levels if hi > lo else max(abs(lo) * 1e-4, 1e-6)
    base = np.floor(lo / step) * step
    idx = np.floor((price - base) / step + 1e-9).astype(np.int64)
    vol = np.bincount(idx, weights=size)
    edges = base + step * np.arange(vol.size)
    top = int(np.argmax(vol))
    a, b = _value_area(vol, top, VALUE_AREA)
    return VolumeProfile(edges, vol, float(step), float(edges[top]), float(edges[a]), float(edges[b] + step))


def _value_area(vol: np.ndarray, top: int, share: float) -> tuple[int, int]:
    """Grow [a, b] from ``top`` one level at a time toward the larger neighbour until ``share`` is held.

    The loop runs over price levels (tens to hundreds), not ticks.
    """
    total, a, b = vol.sum(), top, top
    held = vol[top]
    while held < share * total and (a > 0 or b < vol.size - 1):
        below = vol[a - 1] if a > 0 else -1.0
        above = vol[b + 1] if b < vol.size - 1 else -1.0
        if above >= below:
            b += 1
            held += above
        else:
            a -= 1
            held += below
    return a, b


@dataclass(frozen=True, eq=False)
class SpreadAnalysis:
    """Quoted and effective spread over time (bucket medians) and their distributions."""

    times: np.ndarray  # bucket starts, int64 ns on the input's clock
    quoted: np.ndarray  # median quoted spread per bucket (NaN: no valid quote in it)
    effective: np.ndarray  # median effective spread per bucket
    quoted_hist: tuple[np.ndarray, np.ndarray]  # counts, bin edges
    effective_hist: tuple[np.ndarray, np.ndarray]
    quoted_mean: float
    effective_mean: float
    without_quote: int  # trades left out: no valid bid/ask


def _bucket_medians(bucket: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Median of ``values`` per bucket id in ``[0, n)`` (NaN for empty buckets): one lexsort."""
    out = np.full(n, np.nan)
    if values.size == 0:
        return out
    order = np.lexsort((values, bucket))
    b, v = bucket[order], values[order]
    starts = np.flatnonzero(np.r_[True, b[1:] != b[:-1]])
    counts = np.diff(np.r_[starts, b.size])
    lo = v[starts + (counts - 1) // 2]
    hi = v[starts + counts // 2]
    out[b[starts]] = (lo + hi) / 2
    return out


def spread_analysis(t: np.ndarray, last: np.ndarray, bid: np.ndarray, ask: np.ndarray, *,
                    buckets: int = TIME_BUCKETS, bins: int = HIST_BINS) -> SpreadAnalysis:
    """Quoted (ask − bid) and effective (2 × |last − (bid + ask) / 2|) spreads of sorted trades.

    ``t`` are int64 ns (any clock); the time axis is cut into ``buckets`` equal buckets.
    Raises ``ValueError`` when ``t`` is empty.
    """
    t = np.asarray(t).view("i8") if np.asarray(t).dtype.kind == "M" else np.asarray(t, dtype=np.int64)
    if t.size == 0:
        raise ValueError("no trades in the selection")
    last, bid, ask = (np.asarray(a, dtype=np.float64) for a in (last, bid, ask))
    ok = np.isfinite(bid) & np.isfinite(ask) & (bid > 0) & (bid <= ask)
    quoted = (ask - bid)[ok]
    effective = 2.0 * np.abs(last[ok] - (bid[ok] + ask[ok]) / 2.0)
    span = max(int(t[-1]) - int(t[0]), 1)
    width = -(-span // buckets) or 1
    bucket = np.minimum((t[ok] - t[0]) // width, buckets - 1)
    times = t[0] + width * np.arange(buckets, dtype=np.int64)

    def hist(v):
        return np.histogram(v, bins=bins) if v.size else (np.zeros(bins, np.int64), np.zeros(bins + 1))

    return SpreadAnalysis(times, _bucket_medians(bucket, quoted, buckets), _bucket_medians(bucket, effective, buckets),
                          hist(quoted), hist(effective), float(quoted.mean()) if quoted.size else float("nan"),
                          float(effective.mean()) if effective.size else float("nan"), int((~ok).sum()))
