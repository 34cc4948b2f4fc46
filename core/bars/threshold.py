"""Tick, volume and dollar bars: close on the trade at which the running total reaches N.

Convention (AFML ch. 2): the trade that makes the running count / shares / notional reach the
threshold belongs to the closing bar and its excess is *not* carried — the next bar starts from
zero at the following trade. With the ``split`` option (volume and dollar only) the closing trade
is cut: exactly the part that fills the bar stays in it and the remainder opens the next bar (a
block larger than several thresholds fills several bars at the same timestamp). A split trade is
counted in ``trade_count`` of every bar that received part of it.

Units: volume thresholds are in the instrument's quantity (shares, contracts, coins) and dollar
thresholds in currency; the kernels compare them in stored size units (``× x.units``) and price ×
stored size (``÷ x.scale``). A split spec whose threshold would cut a stream into more than
:data:`MAX_SPLIT_BARS` bars raises :class:`BarSpecTooFine` before anything is allocated (checked
on the running total of the stream, so the batch and the streaming forms fail alike).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from tickdeck.core.bars.aggregate import CLOSED_AT_SESSION, NO_SESSION, OPENED_AT_SESSION, empty_columns, finish_money
from tickdeck.core.bars.state import I_N, I_OPENED, I_PREV, F_RUN
from tickdeck.core.errors import InvalidBarSpec

MODE_TICK, MODE_VOLUME, MODE_DOLLAR = 0, 1, 2
MODES = {"tick": MODE_TICK, "volume": MODE_VOLUME, "dollar": MODE_DOLLAR}
# Split bars are the only bars that can outnumber the trades (one block fills many bars); each
# bar slot takes ~120 bytes, so a million bars (~120 MB) is far beyond any chartable series and a
# sure sign of a threshold given in the wrong unit (volume:1:split on 1e-8 coins asked for 64.9 GiB).
MAX_SPLIT_BARS = 1_000_000


class BarSpecTooFine(InvalidBarSpec):
    """A split spec's threshold is so small against the stream's volume that its bars cannot be held."""


def kernel_threshold(spec, x) -> float:
    """``spec``'s threshold in the kernels' measure: trades, stored size units, or price × stored units."""
    if spec.family == "dollar":
        return spec.value / x.scale
    if spec.family == "volume":
        return spec.value * x.units
    return spec.value


@nb.njit(cache=True, nogil=True)
def threshold_kernel(px, sz, ses, resume, mode, thr, cross, st_i, st_f, ends, flags):  # pragma: no cover
    prev = st_i[I_PREV]
    cnt = st_i[I_N]
    opened = st_i[I_OPENED]
    run = st_f[F_RUN]
    nbars = 0
    for i in range(resume, px.shape[0]):
        s = ses[i]
        if cnt > 0 and (not cross) and s != prev:
            ends[nbars] = i
            flags[nbars] = opened | CLOSED_AT_SESSION
            nbars += 1
            cnt = 0
            run = 0.0
        if cnt == 0:
            opened = OPENED_AT_SESSION if (prev == NO_SESSION or s != prev) else 0
        prev = s
        cnt += 1
        if mode == 0:
            run += 1.0
        elif mode == 1:
            run += sz[i]
        else:
            run += px[i] * sz[i]
        if run >= thr:
            ends[nbars] = i + 1
            flags[nbars] = opened
            nbars += 1
            cnt = 0
            run = 0.0
    st_i[I_PREV] = prev
    st_i[I_N] = cnt
    st_i[I_OPENED] = opened
    st_f[F_RUN] = run
    return nbars


def threshold_boundaries(x, resume: int, spec, st_i, st_f):
    n = len(x)
    ends = np.empty(n, np.int64)
    flags = np.empty(n, np.int8)
    thr = kernel_threshold(spec, x)
    k = threshold_kernel(x.px, x.sz, x.ses, resume, MODES[spec.family], thr, spec.cross, st_i, st_f, ends, flags)
    return ends[:k], flags[:k], None


# --- split: a fused kernel, the open bar's accumulators live in the state -----------------------
# float slots of the split state (the kernels reset the first 10 at each bar; S_TOTAL is the
# stream's running measure, kept by :func:`split_run` for the MAX_SPLIT_BARS check)
S_RUN, S_O, S_H, S_L, S_C, S_V, S_D, S_BUY, S_SELL, S_Q, S_TOTAL = range(11)
# int slots
SI_PREV, SI_N, SI_START, SI_END, SI_COUNT, SI_NQ, SI_SES = range(7)


@nb.njit(cache=True, nogil=True)
def _emit(k, fs, ist, o_start, o_end, o_open, o_high, o_low, o_close, o_vol, o_dollar, o_count, o_buy, o_sell,
          o_bps, o_ses, o_nq):  # pragma: no cover - compiled
    o_start[k] = ist[SI_START]
    o_end[k] = ist[SI_END]
    o_open[k] = fs[S_O]
    o_high[k] = fs[S_H]
    o_low[k] = fs[S_L]
    o_close[k] = fs[S_C]
    o_vol[k] = fs[S_V]
    o_dollar[k] = fs[S_D]
    o_count[k] = ist[SI_COUNT]
    o_buy[k] = fs[S_BUY]
    o_sell[k] = fs[S_SELL]
    o_bps[k] = fs[S_Q] / ist[SI_NQ] if ist[SI_NQ] > 0 else np.nan
    o_ses[k] = ist[SI_SES]
    o_nq[k] = ist[SI_NQ]
    for j in range(10):
        fs[j] = 0.0
    ist[SI_N] = 0
    ist[SI_COUNT] = 0
    ist[SI_NQ] = 0


@nb.njit(cache=True, nogil=True)
def _add(fs, ist, t, p, v, g, q, s):  # pragma: no cover - compiled
    if ist[SI_N] == 0:
        ist[SI_START] = t
        ist[SI_SES] = s
        fs[S_O] = p
        fs[S_H] = p
        fs[S_L] = p
    ist[SI_N] += 1
    ist[SI_END] = t
    ist[SI_COUNT] += 1
    if p > fs[S_H]:
        fs[S_H] = p
    if p < fs[S_L]:
        fs[S_L] = p
    fs[S_C] = p
    fs[S_V] += v
    fs[S_D] += p * v
    if g > 0:
        fs[S_BUY] += v
    elif g < 0:
        fs[S_SELL] += v
    if q == q:
        fs[S_Q] += q
        ist[SI_NQ] += 1


@nb.njit(cache=True, nogil=True)
def split_kernel(ts, px, sz, sgn, bps, ses, dollar, thr, cross, fs, ist, flush, o_start, o_end, o_open, o_high,
                 o_low, o_close, o_vol, o_dollar, o_count, o_buy, o_sell, o_bps, o_ses, o_nq):  # pragma: no cover
    k = 0
    for i in range(ts.shape[0]):
        s = ses[i]
        if ist[SI_N] > 0 and (not cross) and s != ist[SI_PREV]:
            _emit(k, fs, ist, o_start, o_end, o_open, o_high, o_low, o_close, o_vol, o_dollar, o_count, o_buy,
                  o_sell, o_bps, o_ses, o_nq)
            k += 1
        ist[SI_PREV] = s
        p = px[i]
        v = sz[i]  # shares still to place
        while True:
            need = thr - fs[S_RUN]  # measure (shares or notional) the open bar still needs
            m = p * v if dollar else v
            if m < need:
                _add(fs, ist, ts[i], p, v, sgn[i], bps[i], s)
                fs[S_RUN] += m
                break
            part = need / p if dollar else need
            if part > v:
                part = v
            _add(fs, ist, ts[i], p, part, sgn[i], bps[i], s)
            _emit(k, fs, ist, o_start, o_end, o_open, o_high, o_low, o_close, o_vol, o_dollar, o_count, o_buy,
                  o_sell, o_bps, o_ses, o_nq)
            k += 1
            v -= part
            if v <= 0.0:
                break
    if flush and ist[SI_N] > 0:
        _emit(k, fs, ist, o_start, o_end, o_open, o_high, o_low, o_close, o_vol, o_dollar, o_count, o_buy,
              o_sell, o_bps, o_ses, o_nq)
        k += 1
    return k


SPLIT_ORDER = ["start", "end", "open", "high", "low", "close", "volume", "dollar_volume", "trade_count",
               "buy_volume", "sell_volume", "avg_spread_bps", "session", "spread_count"]


def new_split_state() -> tuple[np.ndarray, np.ndarray]:
    ist = np.zeros(8, np.int64)
    ist[SI_PREV] = NO_SESSION
    return np.zeros(11, np.float64), ist


def split_run(x, spec, fs, ist, flush: bool) -> dict[str, np.ndarray]:
    """Run the split kernel over a batch; returns bar columns (start/end in UTC ns)."""
    dollar = spec.family == "dollar"
    thr = kernel_threshold(spec, x)
    total = float((x.px * x.sz).sum() if dollar else x.sz.sum())
    if (fs[S_TOTAL] + total) / thr > MAX_SPLIT_BARS:
        what = "notional (currency)" if dollar else "quantity (shares, contracts, coins)"
        raise BarSpecTooFine(
            f"bar spec {spec}: a threshold of {spec.value:g} in {what} would cut this stream into more than "
            f"{MAX_SPLIT_BARS:,} split bars ({(fs[S_TOTAL] + total) / thr:.3g}); use a larger threshold")
    fs[S_TOTAL] += total
    cap = len(x) + int(total / thr) + 2  # every trade opens at most one bar plus one per full threshold
    cols = empty_columns(cap)
    k = split_kernel(*x.arrays(), dollar, thr, spec.cross, fs, ist, flush, *(cols[c] for c in SPLIT_ORDER))
    return finish_money({c: a[:k] for c, a in cols.items()}, x.scale, x.units)
