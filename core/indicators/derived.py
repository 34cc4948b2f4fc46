"""The 20 derived per-symbol metrics over rolling windows (1 min, 5 min, session), as numpy arrays.

:func:`compute_derived` takes one symbol-day's ticks (in time order) and evaluation instants
(:func:`metric_grid`: the end of every 1 s step holding a tick) and returns the 60 series
``<metric>.<window>``. Formulas, units and references are in ``docs/indicators.md`` ("Derived
metrics") and in :data:`METRIC_INFO`.

How it is computed: every metric is a function of sums, over the ticks of the window, of per-tick
quantities (volume, signed volume, squared returns, lagged products, …). One compiled pass over the
day (:func:`core.indicators._derived_kernels.day_pass`) records the running sums of all quantities at
the window bounds the grid needs (the ticks at or before ``g`` and ``g − window``) and fills VPIN's
equal-volume buckets; a window's sum is then the difference of two recorded rows, and a compiled
loop over the grid (:func:`~core.indicators._derived_kernels.window_values`) turns them into the
metrics: O(ticks + grid) for all 60 series, no per-tick temporaries.

Window semantics. The window of ``g`` holds the ticks with ``g − window < timestamp <= g``
(``session``: every tick passed, from the day's first). A quantity built from consecutive trades
counts only when every trade it uses is in the window: returns (``ln p_i/p_{i−1}``) need both
trades in it, lag-1 products of returns three trades, k-trade returns k + 1. Classifications of a
trade are attributes of that trade computed from it and the trades before it, as the stored
``trade_sign`` is: the Lee–Ready sign (the tick rule carried over zero ticks when the trade is at
the midpoint or has no quote) and the tick-rule direction may look back before the window start.
Nothing depends on ticks after ``g``, so a live engine calling this on the day so far gets the
values a batch run over the whole day gets, bit for bit.

Inputs. ``timestamp`` (UTC ns), ``last``, ``last_sz``, ``bid``, ``ask``, ``cond1..cond4`` are
required. When the stored enrichment columns are present they are used instead of recomputing
(they carry the instrument's terms): ``trade_sign``, ``dollar_volume``, ``is_block_trade``,
``is_odd_lot``, ``is_intermarket_sweep``. Without them, the pass computes them as enrichment does:
Lee–Ready signs as :func:`core.enrich.trade_signs`, dollar volume ``last × last_sz`` and the equity rules of
:mod:`core.instruments` (block ≥ 10,000 shares or ≥ $200,000; odd lot < 100 shares or the ODD_LOT
condition). Sizes are in the stored units of ``last_sz``. Every tick passed is used: the caller
chooses the session (pass regular-session ticks for a regular-session ``session`` window).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from tickdeck.core import conditions
from tickdeck.core.errors import SchemaError, TickdeckError
from tickdeck.core.indicators import _derived_kernels as kx
from tickdeck.core.instruments import BLOCK_RULES, EQUITY_LOT
from tickdeck.core.schema import TZ

WINDOWS: dict[str, int | None] = {"1min": 60_000_000_000, "5min": 300_000_000_000, "session": None}
STEP_NS = 1_000_000_000  # the evaluation grid's step: live evaluation emits each completed second
VR_LAG = 5  # variance ratio VR(k): k-trade returns against 1-trade returns
# VPIN bucket: 1/1000 of the average day's volume (the volume profile's), ~23 s of an average
# 6.5 h day, so a 1 min window holds ~2–3 whole buckets and 5 min ~13. Easley, López de Prado and
# O'Hara (2012) use 1/50 of daily volume for a day-long VPIN; these windows are much shorter.
VPIN_BUCKETS_PER_DAY = 1000
MAX_VPIN_BUCKETS = 20_000_000  # a bucket so small that a day fills more is a units mistake
_DAY_NS = 86_400 * 10**9
_REL_EPS = 1e-12  # a variance below this fraction of its sum of squares is rounding: no variation


@dataclass(frozen=True)
class Metric:
    """One derived metric: its name, what it measures and its unit."""

    name: str
    meaning: str
    unit: str
    reference: str


METRIC_INFO: dict[str, Metric] = {m.name: m for m in (
    Metric("realized_vol", "realized volatility: sqrt of the sum of squared trade-to-trade log returns",
           "log return", "Andersen, Bollerslev, Diebold, Labys (2003)"),
    Metric("vwap_dev_bps", "last trade price against the window's VWAP", "bps", "Berkowitz, Logue, Noser (1988)"),
    Metric("ofi", "order-flow imbalance: (buy − sell volume) / volume, Lee–Ready signs", "fraction (−1..1)",
           "Chordia, Roll, Subrahmanyam (2002); Lee, Ready (1991)"),
    Metric("trade_count_imbalance", "(buy − sell trades) / trades, Lee–Ready signs", "fraction (−1..1)",
           "Chordia, Roll, Subrahmanyam (2002)"),
    Metric("kyle_lambda", "Kyle's lambda: OLS slope of returns on signed dollar volume", "bps per $1M",
           "Kyle (1985); Hasbrouck (2009)"),
    Metric("amihud", "Amihud illiquidity: sum |return| / dollar volume", "bps per $1M", "Amihud (2002)"),
    Metric("roll_spread", "Roll's implied spread: 2 sqrt(−cov(Δp_t, Δp_t−1)), 0 when the covariance is ≥ 0",
           "price", "Roll (1984)"),
    Metric("effective_spread_bps", "mean of 2 |price − midpoint| / midpoint over trades with a quote", "bps",
           "Bessembinder (2003)"),
    Metric("quoted_spread_bps", "time-weighted (ask − bid) / midpoint of the quotes prevailing at trades", "bps",
           "SEC Rule 605; Hasbrouck (2007)"),
    Metric("price_improvement_rate", "share of signed trades with a quote executed better than it", "fraction",
           "SEC Rule 605"),
    Metric("vpin", "volume-synchronised probability of informed trading: mean |buy − sell| / bucket volume "
           "over the equal-volume buckets inside the window", "fraction",
           "Easley, López de Prado, O'Hara (2012)"),
    Metric("trade_intensity", "trades per second", "trades/s", "Engle, Russell (1998)"),
    Metric("avg_trade_size", "volume / trades", "size units", "—"),
    Metric("block_share", "block-trade volume / volume", "fraction", "NYSE block definition; SEC Rule 10b-18"),
    Metric("odd_lot_share", "odd-lot trades / trades", "fraction", "O'Hara, Yao, Ye (2014)"),
    Metric("iso_share", "intermarket-sweep volume / volume", "fraction", "Chakravarty, Jain, Upson, Wood (2012)"),
    Metric("variance_ratio", f"Lo–MacKinlay VR({VR_LAG}): variance of overlapping {VR_LAG}-trade returns / "
           f"({VR_LAG} × variance of trade returns), bias-corrected", "ratio", "Lo, MacKinlay (1988)"),
    Metric("return_autocorr", "first-order autocorrelation of trade-to-trade log returns", "correlation",
           "Roll (1984); Campbell, Lo, MacKinlay (1997)"),
    Metric("tick_run_length", "mean length of runs of equal tick-rule direction (zero ticks carry it)", "trades",
           "Lee, Ready (1991)"),
    Metric("relative_volume", "volume / the average volume of the same time-of-day window over the last "
           "stored days", "ratio", "—"),
)}
METRICS: tuple[str, ...] = tuple(METRIC_INFO)
SERIES: tuple[str, ...] = tuple(f"{m}.{w}" for m in METRICS for w in WINDOWS)
_VPIN, _RELVOL = METRICS.index("vpin"), METRICS.index("relative_volume")  # filled outside the kernel
REQUIRED = ("timestamp", "last", "last_sz", "bid", "ask", "cond1", "cond2", "cond3", "cond4")


class DerivedMetricsError(TickdeckError, ValueError):
    """An argument of the derived-metric computation is unusable (the message says which and why)."""


# -- grid and profile --------------------------------------------------------------------------------
def metric_grid(timestamp_ns: np.ndarray, step_ns: int = STEP_NS) -> np.ndarray:
    """The evaluation instants of a day: ``unique(ceil(t / step) * step)``, the end of every step
    holding a tick (int64 UTC ns, ascending; ``timestamp_ns`` in time order).

    Raises
    ------
    DerivedMetricsError
        ``step_ns`` is not a positive number of nanoseconds.
    """
    step = int(step_ns)
    if step <= 0:
        raise DerivedMetricsError(f"grid step must be a positive number of ns, got {step_ns}")
    t = _ns(timestamp_ns)
    grid, ordered = kx.grid_steps(t, step)
    return grid.copy() if ordered else np.unique(-((-t) // step) * step)


@dataclass(frozen=True, eq=False)
class VolumeProfile:
    """Average cumulative volume by time of day over some earlier days (for ``relative_volume``).

    ``cumulative[s]`` is the mean, over the days, of the volume traded at local times of day
    ``<= s`` seconds (``s`` = 0..86,400). Resolution is one second: a window's profile volume is
    ``cumulative[end] − cumulative[start]`` with both ends in whole seconds of local time.
    """

    cumulative: np.ndarray
    days: int
    tz: str = TZ

    @classmethod
    def from_days(cls, days: Iterable[tuple[np.ndarray, np.ndarray]], tz: str = TZ) -> VolumeProfile:
        """Build from ``[(timestamp_ns, size), ...]``, one pair of arrays per earlier day.

        Raises
        ------
        DerivedMetricsError
            No days, or a day's arrays differ in length.
        """
        total = np.zeros(86_401)
        n = 0
        for ts, size in days:
            ts, size = _ns(ts), np.asarray(size, dtype=np.float64)
            if ts.shape != size.shape:
                raise DerivedMetricsError(f"volume profile day {n}: {ts.size} timestamps but {size.size} sizes")
            sec = -((-_time_of_day_ns(ts, tz)) // 10**9)  # tick at time of day in (s−1, s] → bin s
            total += np.bincount(sec, weights=size, minlength=86_401)[:86_401]
            n += 1
        if n == 0:
            raise DerivedMetricsError("a volume profile needs at least one earlier day")
        return cls(np.cumsum(total) / n, n, tz)

    @property
    def daily_volume(self) -> float:
        """The average day's volume."""
        return float(self.cumulative[-1])

    def between(self, lo_s: np.ndarray, hi_s: np.ndarray) -> np.ndarray:
        """Average volume at times of day in ``(lo_s, hi_s]`` (whole seconds, clipped to the day)."""
        lo = np.clip(np.asarray(lo_s, dtype=np.int64), 0, 86_400)
        hi = np.clip(np.asarray(hi_s, dtype=np.int64), 0, 86_400)
        return np.where(hi > lo, self.cumulative[hi] - self.cumulative[lo], 0.0)


def _time_of_day_ns(ts: np.ndarray, tz: str) -> np.ndarray:
    if ts.size == 0:
        return ts
    local = pd.DatetimeIndex(ts.view("datetime64[ns]")).tz_localize("UTC").tz_convert(tz).tz_localize(None).asi8
    return local % _DAY_NS


def _ns(a) -> np.ndarray:
    """int64 ns from an int64 array, a datetime64 array or a DatetimeIndex."""
    if isinstance(a, pd.DatetimeIndex):
        return np.ascontiguousarray(a.asi8)
    a = np.asarray(a)
    if a.dtype.kind == "M":
        return np.ascontiguousarray(a.astype("datetime64[ns]").view(np.int64))
    return np.ascontiguousarray(a, dtype=np.int64)


def columns_from_frame(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """A stored tick frame (indexed by ``timestamp``) as the columns :func:`compute_derived` reads."""
    out = {"timestamp": np.ascontiguousarray(df.index.asi8, dtype=np.int64)}
    for name in (*REQUIRED[1:], *_ENRICHED):
        if name in df.columns:
            out[name] = np.ascontiguousarray(df[name].to_numpy())
    return out


_ENRICHED = ("trade_sign", "dollar_volume", "is_block_trade", "is_odd_lot", "is_intermarket_sweep")


# -- inputs -------------------------------------------------------------------------------------------
_FLAGS = ("is_block_trade", "is_odd_lot", "is_intermarket_sweep")
_BIT_ODD, _BIT_ISO = np.uint8(1), np.uint8(2)
_BIT_TABLE = (conditions.FLAG_TABLES["odd_lot"] * _BIT_ODD
              | conditions.FLAG_TABLES["intermarket_sweep"] * _BIT_ISO).astype(np.uint8)
_NO_I8, _NO_BOOL, _NO_F8 = np.empty(0, dtype=np.int8), np.empty(0, dtype=bool), np.empty(0)


@dataclass(frozen=True)
class _Ticks:
    t: np.ndarray
    p: np.ndarray
    q: np.ndarray
    bid: np.ndarray
    ask: np.ndarray
    conds: tuple[np.ndarray, ...]
    dv: np.ndarray  # empty: price × size
    s: np.ndarray  # empty: Lee–Ready in the pass
    flags: tuple[np.ndarray, ...]  # empty: from conditions and sizes


def _inputs(cols: Mapping[str, np.ndarray], check_from: int = 0) -> _Ticks:
    """The columns as the kernels read them; time order and prices checked from row ``check_from``
    (a resumed evaluation checked the rows before in an earlier call)."""
    for name in REQUIRED:
        if name not in cols:
            raise SchemaError(name, "required column is missing for the derived metrics")
    t = _ns(cols["timestamp"])
    n = t.size
    arr = {}
    for name in REQUIRED[1:] + tuple(k for k in _ENRICHED if k in cols):
        a = np.asarray(cols[name])
        if a.shape != (n,):
            raise SchemaError(name, f"length {a.shape} differs from timestamp length {n}")
        arr[name] = a
    p = np.ascontiguousarray(arr["last"], dtype=np.float64)
    c0 = max(min(int(check_from), n) - 1, 0)
    unordered, bad_price = kx.check_ticks(t[c0:], p[c0:])
    if unordered >= 0:
        raise SchemaError("timestamp", "ticks must be in time order for the derived metrics; sort them",
                          row=int(unordered) + c0)
    if bad_price >= 0:
        raise SchemaError("last", f"price must be > 0, got {p[bad_price + c0]}", row=int(bad_price) + c0)
    q = np.ascontiguousarray(arr["last_sz"])
    if q.dtype.kind not in "iuf":
        q = q.astype(np.float64)
    dv = np.ascontiguousarray(arr["dollar_volume"], dtype=np.float64) if "dollar_volume" in arr else _NO_F8
    sign = np.ascontiguousarray(arr["trade_sign"], dtype=np.int8) if "trade_sign" in arr else _NO_I8
    flags = (_NO_BOOL,) * 3
    if all(k in arr for k in _FLAGS):  # all three stored flags, else all three from conditions and sizes
        flags = tuple(np.ascontiguousarray(arr[k], dtype=bool) for k in _FLAGS)
    return _Ticks(t, p, q, np.ascontiguousarray(arr["bid"], dtype=np.float64),
                  np.ascontiguousarray(arr["ask"], dtype=np.float64),
                  tuple(np.ascontiguousarray(arr[f"cond{i}"], dtype=np.uint8) for i in range(1, 5)), dv, sign, flags)


def vpin_bucket_size(volume_profile: VolumeProfile | None, vpin_bucket: float | None) -> float | None:
    """The VPIN bucket in size units: ``vpin_bucket`` if given, else the profile's average day
    volume / :data:`VPIN_BUCKETS_PER_DAY` (rounded, at least 1), else None (VPIN is NaN).

    Raises
    ------
    DerivedMetricsError
        ``vpin_bucket`` is not positive.
    """
    if vpin_bucket is not None:
        v = float(vpin_bucket)
        if not v > 0:
            raise DerivedMetricsError(f"VPIN bucket must be a positive volume, got {vpin_bucket}")
        return v
    if volume_profile is None or not volume_profile.daily_volume > 0:
        return None
    return float(max(1.0, round(volume_profile.daily_volume / VPIN_BUCKETS_PER_DAY)))


# -- the metrics ----------------------------------------------------------------------------------------
def compute_derived(cols: Mapping[str, np.ndarray], grid_ns: np.ndarray, *,
                    volume_profile: VolumeProfile | None = None,
                    vpin_bucket: float | None = None) -> dict[str, np.ndarray]:
    """The 20 metrics × 3 windows at each instant of ``grid_ns``.

    Parameters
    ----------
    cols
        One symbol-day's ticks in time order (see the module docstring for the columns).
    grid_ns
        Evaluation instants, int64 UTC ns ascending (usually :func:`metric_grid`).
    volume_profile
        Earlier days' volume by time of day: ``relative_volume`` and the default VPIN bucket.
        Without it both are NaN (unless ``vpin_bucket`` is given).
    vpin_bucket
        VPIN bucket volume in size units, overriding the profile's.

    Returns
    -------
    ``{"<metric>.<window>": float64 array aligned to grid_ns}`` for the 60 names of :data:`SERIES`;
    NaN where a metric is undefined (too few trades, no quote, no variation).

    Raises
    ------
    SchemaError
        A required column is missing or has the wrong length, the ticks are not in time order or
        a price is not positive.
    DerivedMetricsError
        The grid is not ascending, or the VPIN bucket is not positive or absurdly small.

    Warnings
    --------
    Memory: besides the inputs, a bool per tick and 216 bytes per distinct window bound (the running
    sums there: about 10 bounds per grid instant, at most one per tick), ~125 MB for a 16 h grid
    of 57,600 instants over a day of more than 576,000 ticks.
    """
    return compute_derived_resumable(cols, grid_ns, volume_profile=volume_profile, vpin_bucket=vpin_bucket)[0]


_EARLY = np.array([0, 1, 2, VR_LAG], dtype=np.int64)  # the session window's bounds a, a+1, a+2, a+k


@dataclass(frozen=True, eq=False)
class DerivedCheckpoint:
    """Where a later :func:`compute_derived_resumable` call on the same symbol-day resumes the day
    pass: the walks' state before tick ``tick`` (whose time is ``t_at``), the running sums at the
    session window's fixed bounds (ticks 0, 1, 2 and k) and the VPIN buckets completed before it."""

    tick: int
    t_at: int
    bucket: float | None
    state: tuple[np.ndarray, np.ndarray, np.ndarray]
    early_rows: np.ndarray
    buckets: tuple[np.ndarray, np.ndarray, np.ndarray]


def compute_derived_resumable(cols: Mapping[str, np.ndarray], grid_ns: np.ndarray, *,
                              volume_profile: VolumeProfile | None = None, vpin_bucket: float | None = None,
                              resume: DerivedCheckpoint | None = None
                              ) -> tuple[dict[str, np.ndarray], DerivedCheckpoint | None]:
    """:func:`compute_derived`, resuming the day pass at ``resume`` and returning the checkpoint a
    later call resumes at (``(values, checkpoint)``).

    For the live engine, which evaluates a symbol's day so far at its new instants every second:
    with the checkpoint of the previous call, the walk covers the ticks from about 5 minutes before
    the first new instant instead of the whole day, and the values are those of a call without it,
    bit for bit (the running sums continue from the saved state with the same additions). The
    checkpoint returned lies at the first tick of the last instant's 5 min window. ``resume`` is
    ignored (the day is walked from its first tick) when it does not fit: another VPIN bucket, its
    tick beyond the ticks or at another time, or an instant whose window starts before it. Pass the
    same day's ticks, grown at the end only; rows before the checkpoint are not checked again.

    Raises
    ------
    SchemaError, DerivedMetricsError
        As :func:`compute_derived`.
    """
    g = _ns(grid_ns)
    if g.size > 1 and (g[1:] < g[:-1]).any():
        raise DerivedMetricsError("grid instants must be ascending")
    bucket = vpin_bucket_size(volume_profile, vpin_bucket)
    t_all = _ns(cols["timestamp"]) if "timestamp" in cols else np.empty(0, dtype=np.int64)
    if resume is not None and not (resume.bucket == bucket and _EARLY[-1] < resume.tick < t_all.size
                                   and t_all[resume.tick] == resume.t_at):
        resume = None
    x = _inputs(cols, check_from=resume.tick if resume is not None else 0)
    n, G = x.t.size, g.size
    if n == 0 or G == 0:
        return _empty(G), None
    spans = np.array([span or 0 for span in WINDOWS.values()], dtype=np.int64)
    b, a_all = kx.window_bounds(x.t, g, spans)
    bm1 = np.maximum(b - 1, 0)
    bounds = {w: (a, np.minimum(a + 1, b), np.minimum(a + 2, b), np.minimum(a + VR_LAG, b))
              for w, a in zip(WINDOWS, a_all)}
    moving = [bm1] + [bounds[w][0] for w, span in WINDOWS.items() if span is not None]  # the lowest bounds
    if resume is not None and min(int(ix.min()) for ix in moving) < resume.tick:
        resume = None
    c = resume.tick if resume is not None else 0
    mark = np.zeros(n + 1 - c, dtype=bool)
    mark[b - c] = True
    mark[bm1 - c] = True
    for w, span in WINDOWS.items():
        if span is None and c > 0:
            continue  # the session's bounds are 0, 1, 2 and k: rows of the checkpoint
        for ix in bounds[w]:
            mark[ix - c] = True
    if c == 0:
        mark[_EARLY[_EARLY <= n]] = True  # kept for the checkpoint
    uidx = np.flatnonzero(mark) + c
    cap = 0
    if bucket is not None:
        total = kx.total_volume(x.q[c:])
        if total / bucket > MAX_VPIN_BUCKETS:
            raise DerivedMetricsError(f"VPIN bucket of {bucket:g} size units would cut this day's volume "
                                      f"({total:g}) into more than {MAX_VPIN_BUCKETS:,} buckets; use a larger bucket")
        cap = int(total // bucket) + 1
    ck = int(min(ix[-1] for ix in moving))
    rule = BLOCK_RULES["equity"]
    P, bs, be, bi, state = kx.day_pass(
        uidx, x.t, x.p, x.p.view(np.uint64), x.q, x.bid, x.ask, x.dv, x.dv.size > 0, x.s, x.s.size > 0, *x.flags,
        x.flags[0].size > 0, *x.conds, _BIT_TABLE, _BIT_ODD, _BIT_ISO, EQUITY_LOT, float(rule.quantity),
        float(rule.notional), VR_LAG, bucket or 0.0, cap, i0=c, state=resume.state if resume is not None else None,
        ck=ck)
    if resume is not None:
        uidx = np.concatenate((_EARLY, uidx))
        P = np.concatenate((resume.early_rows, P))
        bs, be, bi = (np.concatenate((old, new)) for old, new in zip(resume.buckets, (bs, be, bi)))
    checkpoint = None
    if state is not None and ck > _EARLY[-1]:
        kept = (len(resume.buckets[0]) if resume is not None else 0) + int(state[1][-1])
        checkpoint = DerivedCheckpoint(ck, int(x.t[ck]), bucket, state,
                                       P[kx.search_sorted(uidx, _EARLY, False)].copy(),
                                       (bs[:kept].copy(), be[:kept].copy(), bi[:kept].copy()))
    buckets = (bs, be, np.concatenate(([0.0], np.cumsum(bi))), bucket) if bucket is not None else None
    pb, pbm1 = kx.search_sorted(uidx, b, False), kx.search_sorted(uidx, bm1, False)
    tod = _time_of_day_ns(g, volume_profile.tz) // 10**9 if volume_profile is not None else None
    pos = np.empty((len(WINDOWS), 4, G), dtype=np.int64)  # rows of P at a, a+1, a+2, a+k per window
    for wi, w in enumerate(WINDOWS):
        for ci, ix in enumerate(bounds[w]):
            pos[wi, ci] = kx.search_sorted(uidx, ix, False)
    every = kx.window_values(P, pb, pbm1, pos, a_all, b, g, x.t, x.bid, x.ask, spans, VR_LAG, _REL_EPS)
    out: dict[str, np.ndarray] = {}
    for wi, (w, span) in enumerate(WINDOWS.items()):
        pa = pos[wi, 0]
        vals = every[wi]
        vals[_VPIN] = _vpin(buckets, g, span)
        if tod is not None:
            vol = P[pb, kx.C_Q] - P[pa, kx.C_Q]
            if span is None:  # from the second holding the day's first trade
                lo = np.full(G, -(-_time_of_day_ns(x.t[:1], volume_profile.tz)[0] // 10**9) - 1)
            else:
                lo = tod - span // 10**9
            ref = volume_profile.between(lo, tod)
            with np.errstate(divide="ignore", invalid="ignore"):
                vals[_RELVOL] = np.where((ref > 0) & (b > 0), vol / ref, np.nan)
        for row, m in enumerate(METRICS):
            out[f"{m}.{w}"] = vals[row]
    return {k: out[k] for k in SERIES}, checkpoint


def _empty(G: int) -> dict[str, np.ndarray]:
    out = {k: np.full(G, np.nan) for k in SERIES}
    for w, span in WINDOWS.items():
        if span is not None:
            out[f"trade_intensity.{w}"] = np.zeros(G)
    return out


def _vpin(buckets, g: np.ndarray, span: int | None) -> np.ndarray:
    """Mean bucket imbalance / bucket size over the buckets that start after ``g − span`` and end at
    or before ``g``."""
    if buckets is None:
        return np.full(g.size, np.nan)
    starts, ends, cum, size = buckets
    j1 = np.searchsorted(ends, g, side="right")
    j0 = np.zeros(g.size, dtype=np.int64) if span is None else np.minimum(np.searchsorted(starts, g - span,
                                                                                         side="right"), j1)
    nb = (j1 - j0).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(nb > 0, (cum[j1] - cum[j0]) / (nb * size), np.nan)
