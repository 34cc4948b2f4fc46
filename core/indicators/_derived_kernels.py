"""The compiled passes of the derived metrics (:mod:`tickdeck.core.indicators.derived`): two walks over a day's ticks.

:func:`day_pass` computes every per-tick quantity the metrics sum (signed flow, spreads, tick-rule
runs, squared and lagged returns, k-trade returns, flags) and records the running sums just before
each requested tick index; a window's sum of a quantity is then the difference of two recorded
values, so all windows of all metrics cost these passes plus O(grid) work, and no per-tick array
of each quantity is materialised (a 5,000,000-tick day would need ~1 GB for them). The first walk
(:func:`_flow_pass`: volume, signs, flags, quotes, tick-rule runs) also fills VPIN's equal-volume
buckets (a trade larger than the room left in a bucket is split across buckets) and, when the caller
has no stored ``trade_sign``, classifies trades by Lee–Ready exactly as :func:`core.enrich.trade_signs`
does, keeping the signs (one byte a tick) for the second walk (:func:`_return_pass`: log returns,
lagged products, k-trade returns). Two walks with about fifteen running sums each are faster than
one with all of them: one walk's state does not fit the registers and spills to memory every tick
(the day pass measured 153 ms in one walk, 133 ms in two, same sums bit for bit). Both walks record
their sums at a mark through one helper (:func:`_record`). The first walk decides nothing by branching
on the data (tick rule, signs and flags are integer arithmetic on comparisons; counts are integer
sums): a branch on each price change's direction mispredicted about every other trade.

The walks can resume: each starts at any tick in a saved state (the running sums, the carried
tick-rule direction, the previous prices, the ring of the last k log prices, the VPIN bucket being
filled) and hands back its state where it stops, so the live engine continues the day's exact sums
from a checkpoint instead of walking the day again (:func:`day_pass`, and
:func:`core.indicators.derived.compute_derived_resumable`).

:func:`window_values` turns the recorded sums into the metrics of every window in one loop over
the grid.

Log prices come from a small direct-mapped cache keyed on the price's bits: a day's trades revisit a
few hundred price levels, so nearly every ``log`` is a cache hit (bit-identical to ``math.log``);
a scalar ``log`` per changed price made the pass about a quarter slower.

Row numbers of the output are the ``C_*`` constants. Which ticks of a window ``[a, b)`` a row is
summed over (``[a, b)``, ``[a+1, b)``, ``[a+2, b)``, ``[a+k, b)`` or ``[a, b−1)``) is documented in
:mod:`core.indicators.derived`.
"""

from __future__ import annotations

import math

import numba
import numpy as np

# per-trade sums, over the window's trades [a, b)
C_Q, C_PQ, C_S, C_SQ, C_BLK, C_ODD, C_ISO = 0, 1, 2, 3, 4, 5, 6
C_NVQ, C_EFF, C_NPIE, C_NPI = 7, 8, 9, 10  # valid-quote trades, effective spread bps, improvement counts
C_RS, C_CONT = 11, 12  # tick rule: trades starting a run, trades continuing one
# time-weighted quoted spread, over [a, b−1): each quote's duration until the next trade
C_W, C_WS = 13, 14
# per-return sums, over [a+1, b): the return of trade i is r_i = ln(p_i / p_{i−1}), x_i its signed $M
C_R2, C_AR, C_DV1, C_X, C_X2, C_XR = 15, 16, 17, 18, 19, 20
# lag-1 products, over [a+2, b): Δp_i Δp_{i−1} and r_i r_{i−1}
C_DD, C_RR = 21, 22
# k-trade returns ln(p_i / p_{i−k}), over [a+k, b)
C_RK, C_RK2 = 23, 24
# not sums but the state at the bound: ln p and p of the trade just before it (sums of returns and
# price changes telescope, so these give them)
C_LPREV, C_PPREV = 25, 26
N_ROWS = 27
# the walks' state at a checkpoint (see :func:`day_pass`): flow floats, flow ints, return floats (then
# the ring of the last k log prices and its slot)
FLOW_FLOATS = ("sq", "spq", "ssq", "sblk", "siso", "seff", "sw", "sws", "vpin_fill", "vpin_buy", "p_prev")
FLOW_INTS = ("ss", "sodd", "nvq", "npie", "npi", "rs", "cont", "tick_dir", "vpin_t0", "vpin_buckets")
RETURN_FLOATS = ("sr2", "sar", "sdv1", "sx", "sx2", "sxr", "sdd", "srr", "srk", "srk2", "lp_prev", "dp_prev",
                 "r_prev", "p_prev")
_CACHE = 4096  # log cache slots (a power of two)
_HASH = np.uint64(0x9E3779B97F4A7C15)
_SHIFT = np.uint64(52)
_MASK = np.uint64(_CACHE - 1)


@numba.njit(inline="always")
def _record(out, j, first, values):  # pragma: no cover - compiled
    """``out[j, first:first + len(values)] = values``: a walk's running sums at mark ``j``."""
    for c in range(len(values)):
        out[j, first + c] = values[c]


@numba.njit(inline="always")
def _store(arr, first, values):  # pragma: no cover - compiled
    """``arr[first:first + len(values)] = values`` (a walk's state at its checkpoint)."""
    for c in range(len(values)):
        arr[first + c] = values[c]


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _flow_pass(out, idx, i0, n_all, last, to_end, t, p, q, bid, ask, s_in, has_s, s_out, blk_in, odd_in, iso_in,
               has_flags, c1, c2, c3, c4, bit_table, odd_bit, iso_bit, lot, blk_qty, blk_notional, bucket, cap,
               fin, iin, fout, iout):  # pragma: no cover - compiled
    """The per-trade rows of ``out`` (``C_Q`` … ``C_WS``) before each index of ``idx``, the Lee–Ready
    signs into ``s_out`` (unless ``has_s``) and the VPIN buckets (see :func:`day_pass`).

    Branch-free where the data decides: the tick rule, the signs and the flags are integer
    arithmetic on comparisons (a branch on the direction of each price change mispredicts about
    every other trade), and counts are integer sums (exact, as the float sums of 0/1 were).

    The arrays start at tick ``i0`` of the day's ``n_all`` (views; indexed from 0 so that numba
    needs no negative-index check per read); the walk starts there in the state ``fin``/``iin`` and
    ends before tick ``i0 + last`` (or at the last mark unless ``to_end``), writing its state there
    to ``fout``/``iout`` (layout: :data:`FLOW_FLOATS`, :data:`FLOW_INTS`)."""
    m = idx.shape[0]
    b_start = np.empty(cap, dtype=np.int64)
    b_end = np.empty(cap, dtype=np.int64)
    b_imb = np.empty(cap)
    nb = 0
    sq, spq, ssq, sblk, siso, seff, sw, sws, fill, buy, p_prev = (fin[0], fin[1], fin[2], fin[3], fin[4], fin[5],
                                                                  fin[6], fin[7], fin[8], fin[9], fin[10])
    ss, sodd, nvq, npie, npi, rs, cont, d_prev, t0 = (iin[0], iin[1], iin[2], iin[3], iin[4], iin[5], iin[6],
                                                      iin[7], iin[8])
    j = 0
    for li in range(last + 1):
        i = i0 + li  # the tick's index in the day (for comparisons; arrays are read at li)
        if j < m and idx[j] == i:  # idx is unique: at most one mark per tick
            _record(out, j, C_Q, (sq, spq, float(ss), ssq, sblk, float(sodd), siso, float(nvq), seff,
                                  float(npie), float(npi), float(rs), float(cont), sw, sws))
            j += 1
        if li == last or (j == m and not to_end):
            break
        pi = p[li]
        qi = float(q[li])
        pq = pi * qi
        dpi = pi - p_prev if i > 0 else 0.0
        d = np.int64(dpi > 0.0) - np.int64(dpi < 0.0)
        d += np.int64(d == 0) * d_prev  # a zero tick carries the last direction
        b_ = bid[li]
        a_ = ask[li]
        valid = (b_ > 0.0) & (a_ >= b_) & (a_ < np.inf)
        mid = (b_ + a_) * 0.5 if valid else 1.0
        if has_s:
            si = np.int64(s_in[li])
        else:
            up = np.int64(valid & (pi > mid))
            down = np.int64(valid & (pi < mid))
            si = up - down + (1 - (up | down)) * d
            s_out[li] = np.int8(si)
        if has_flags:
            fb, fo, fi = blk_in[li], odd_in[li], iso_in[li]
        else:
            bits = bit_table[c1[li]] | bit_table[c2[li]] | bit_table[c3[li]] | bit_table[c4[li]]
            fo = ((bits & odd_bit) != 0) | (qi < lot)
            fi = (bits & iso_bit) != 0
            fb = (qi >= blk_qty) | (pq >= blk_notional)
        sf = float(si)
        sq += qi
        spq += pq
        ss += si
        ssq += sf * qi
        sblk += qi * fb
        sodd += np.int64(fo)
        siso += qi * fi
        bps = 1e4 / mid
        vi = np.int64(valid)
        vf = float(vi)
        nvq += vi
        seff += vf * (2.0 * abs(pi - mid) * bps)  # + 0.0 without a quote (mid is then 1.0, finite)
        signed = vi & np.int64(si != 0)
        npie += signed
        npi += signed & (np.int64((si > 0) & (a_ > pi)) | np.int64((si < 0) & (pi > b_)))
        w = float(t[li + 1] - t[li]) * vf if i + 1 < n_all else 0.0
        sw += w
        sws += w * ((a_ - b_) * bps) if valid else 0.0
        nz = np.int64(d != 0)
        fresh = np.int64(d != d_prev)
        rs += nz & fresh
        cont += nz & (1 - fresh)
        d_prev = d
        p_prev = pi
        if bucket > 0.0:
            frac = 0.5 + 0.5 * sf
            if fill + qi < bucket:
                if fill == 0.0 and qi > 0.0:
                    t0 = t[li]
                buy += qi * frac
                fill += qi
            else:
                rem = qi
                while rem > 0.0:
                    if fill == 0.0:
                        t0 = t[li]
                    take = min(rem, bucket - fill)
                    buy += take * frac
                    fill += take
                    rem -= take
                    if fill >= bucket:
                        if nb < cap:
                            b_start[nb] = t0
                            b_end[nb] = t[li]
                            b_imb[nb] = abs(2.0 * buy - fill)
                            nb += 1
                        fill = buy = 0.0
    _store(fout, 0, (sq, spq, ssq, sblk, siso, seff, sw, sws, fill, buy, p_prev))
    _store(iout, 0, (ss, sodd, nvq, npie, npi, rs, cont, d_prev, t0, np.int64(nb)))
    return b_start[:nb], b_end[:nb], b_imb[:nb]


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _return_pass(out, idx, i0, last, to_end, p, pbits, q, dv, has_dv, s, k, fin, fout):  # pragma: no cover
    """The per-return rows of ``out`` (``C_R2`` … ``C_PPREV``) before each index of ``idx``, trades
    signed by ``s`` (see :func:`day_pass`); arrays, start, end and state as in :func:`_flow_pass`
    (layout: :data:`RETURN_FLOATS`, then the ring of the last ``k`` log prices and its slot)."""
    m = idx.shape[0]
    cache_p = np.full(_CACHE, -1.0)
    cache_l = np.zeros(_CACHE)
    nr = len(RETURN_FLOATS)
    ring = fin[nr:nr + max(k, 1)].copy()
    slot = np.int64(fin[nr + max(k, 1)])
    sr2, sar, sdv1, sx, sx2, sxr, sdd, srr, srk, srk2, lp_prev, dp_prev, r_prev, p_prev = (
        fin[0], fin[1], fin[2], fin[3], fin[4], fin[5], fin[6], fin[7], fin[8], fin[9], fin[10], fin[11], fin[12],
        fin[13])
    j = 0
    for li in range(last + 1):
        i = i0 + li
        if j < m and idx[j] == i:
            _record(out, j, C_R2, (sr2, sar, sdv1, sx, sx2, sxr, sdd, srr, srk, srk2, lp_prev, p_prev))
            j += 1
        if li == last or (j == m and not to_end):
            break
        pi = p[li]
        h = ((pbits[li] * _HASH) >> _SHIFT) & _MASK
        if cache_p[h] == pi:
            lp = cache_l[h]
        else:
            lp = math.log(pi)
            cache_p[h] = pi
            cache_l[h] = lp
        if i >= 1:
            dpi = pi - p_prev
            dvi = dv[li] if has_dv else pi * float(q[li])
            r = lp - lp_prev
            sr2 += r * r
            sar += abs(r)
            sdv1 += dvi
            x = float(s[li]) * dvi * 1e-6
            sx += x
            sx2 += x * x
            sxr += x * r
            if i >= 2:
                sdd += dpi * dp_prev
                srr += r * r_prev
            dp_prev = dpi
            r_prev = r
        if i >= k:
            rk = lp - ring[slot]
            srk += rk
            srk2 += rk * rk
        ring[slot] = lp
        slot = slot + 1 if slot + 1 < k else 0
        lp_prev = lp
        p_prev = pi
    _store(fout, 0, (sr2, sar, sdv1, sx, sx2, sxr, sdd, srr, srk, srk2, lp_prev, dp_prev, r_prev, p_prev))
    fout[nr:nr + max(k, 1)] = ring
    fout[nr + max(k, 1)] = float(slot)


def fresh_state(k):
    """The walks' state at the day's first tick: ``(flow floats, flow ints, return floats)``, zeros."""
    return (np.zeros(len(FLOW_FLOATS)), np.zeros(len(FLOW_INTS), dtype=np.int64),
            np.zeros(len(RETURN_FLOATS) + max(k, 1) + 1))


def day_pass(idx, t, p, pbits, q, bid, ask, dv, has_dv, s_in, has_s, blk_in, odd_in, iso_in, has_flags,
             c1, c2, c3, c4, bit_table, odd_bit, iso_bit, lot, blk_qty, blk_notional, k, bucket, cap,
             i0=0, state=None, ck=-1):
    """Running sums before each index of ``idx`` (sorted, unique, in [i0, n]) and VPIN buckets.

    Returns ``(sums, bucket_start, bucket_end, bucket_imbalance, state_at_ck)``: ``sums[j, c]`` is
    the sum of quantity ``c`` over ticks ``i < idx[j]`` (``C_LPREV``/``C_PPREV``: the state there);
    buckets (``bucket`` size units, ``cap`` at most) are (first tick time, last tick time,
    |buy − sell|) of each bucket completed from ``i0`` on. Trades are signed by ``s_in`` when
    ``has_s``, else by Lee–Ready (the tick rule, zero ticks carrying the last direction, at the
    midpoint or without a valid quote); flags are ``*_in`` when ``has_flags``, else from the
    condition codes and the size rules (odd lot: ODD_LOT or size < ``lot``; block: size ≥ ``blk_qty``
    or price × size ≥ ``blk_notional``).

    Resuming: the walks start at tick ``i0`` in ``state`` (:func:`fresh_state` when None; it must
    be the ``state_at_ck`` of an earlier call whose ``ck`` was ``i0``, on the same ticks up to
    there); ``state_at_ck`` is the state before tick ``ck`` (None when ``ck`` < ``i0``; ``ck`` at or
    before the last mark). The walks run in two parts, up to ``ck`` and on from it, so that neither
    tests for the checkpoint per tick. The sums of a resumed walk equal those of a walk from the
    first tick bit for bit: they are the same additions in the same order.
    """
    n = p.shape[0]
    if ck >= i0 and (idx.shape[0] == 0 or ck > idx[-1]):
        raise ValueError(f"checkpoint tick {ck} is after the last mark")  # the walks stop at the last mark
    out = np.empty((idx.shape[0], N_ROWS))
    s_out = s_in if has_s else np.empty(n, dtype=np.int8)
    parts = [(i0, n, 0, idx.shape[0], False)]  # (first tick, end tick, first mark, end mark, walk to the end)
    if ck >= i0:
        split = int(np.searchsorted(idx, ck, side="right"))
        parts = [(i0, ck, 0, split, True), (ck, n, split, idx.shape[0], False)]
    fl, il, rl = fresh_state(k) if state is None else state
    buckets = []
    at_ck = None
    for first, end, ja, jb, to_end in parts:
        fo, io, ro = fresh_state(k)
        sl = slice(first, None)
        buckets.append(_flow_pass(
            out[ja:jb], idx[ja:jb], first, n, end - first, to_end, t[sl], p[sl], q[sl], bid[sl], ask[sl], s_in[sl],
            has_s, s_out[sl], blk_in[sl], odd_in[sl], iso_in[sl], has_flags, c1[sl], c2[sl], c3[sl], c4[sl],
            bit_table, odd_bit, iso_bit, lot, blk_qty, blk_notional, bucket, cap, fl, il, fo, io))
        _return_pass(out[ja:jb], idx[ja:jb], first, end - first, to_end, p[sl], pbits[sl], q[sl], dv[sl], has_dv,
                     s_out[sl], k, rl, ro)
        fl, il, rl = fo, io, ro
        if to_end:
            at_ck = (fo, io, ro)
    bs, be, bi = (np.concatenate([b[c] for b in buckets]) for c in range(3))
    return out, bs, be, bi, at_ck


@numba.njit(inline="always")
def _gallop(arr, lo, v, right):  # pragma: no cover - compiled
    """The first ``i >= lo`` with ``arr[i] > v`` (``right``) or ``arr[i] >= v``, for ascending ``arr``
    whose elements before ``lo`` all pass: steps of 1, 2, 4, … forward from ``lo``, then bisection."""
    n = arr.shape[0]
    step = 1
    hi = lo
    while hi < n and (arr[hi] <= v if right else arr[hi] < v):
        lo = hi + 1
        hi = lo + step
        step *= 2
    if hi > n:
        hi = n
    while lo < hi:  # arr[lo-1] passes, arr[hi] (if < n) fails
        mid = (lo + hi) // 2
        if arr[mid] <= v if right else arr[mid] < v:
            lo = mid + 1
        else:
            hi = mid
    return lo


@numba.njit(cache=True, nogil=True, error_model="numpy")
def search_sorted(arr, queries, right):  # pragma: no cover - compiled
    """``np.searchsorted(arr, queries, side="right" if right else "left")`` for ascending ``queries``:
    a galloping search forward from the previous answer (O(len(queries) × log(gap))), not a binary
    search over the whole array per query, whose cache misses dominate on a day of ticks."""
    out = np.empty(queries.shape[0], dtype=np.int64)
    lo = 0
    for j in range(queries.shape[0]):
        lo = _gallop(arr, lo, queries[j], right)
        out[j] = lo
    return out


@numba.njit(cache=True, nogil=True, error_model="numpy")
def window_bounds(t, g, spans):  # pragma: no cover - compiled
    """``(b, a)`` for ascending ``t`` and ``g``: ``b[j]`` the ticks at or before ``g[j]``
    (``searchsorted(t, g, "right")``), ``a[w, j]`` the first tick of window ``w`` at ``g[j]``, after
    ``g[j] − spans[w]`` and at most ``b[j]`` (0 for a span of 0: the session); each a galloping
    search forward from the previous instant's answer, all bounds in one loop over the grid."""
    G = g.shape[0]
    W = spans.shape[0]
    b = np.empty(G, dtype=np.int64)
    a = np.zeros((W, G), dtype=np.int64)
    lo = np.zeros(W, dtype=np.int64)
    hb = 0
    for j in range(G):
        hb = _gallop(t, hb, g[j], True)
        b[j] = hb
        for w in range(W):
            if spans[w] > 0:
                lo[w] = _gallop(t, lo[w], g[j] - spans[w], True)
                a[w, j] = min(lo[w], hb)
    return b, a


# rows of window_values' output: the metrics in the order of derived.METRICS (vpin and
# relative_volume, rows 10 and 19, are filled by the caller)
N_METRICS = 20


@numba.njit(cache=True, nogil=True, error_model="numpy")
def window_values(P, pb, pbm1, pos, a, b, g, t, bid, ask, spans, k, eps):  # pragma: no cover - compiled
    """The metrics of every window at every grid instant from the running sums ``P``: ``out[w, m, j]``
    is metric ``m`` (the order of derived.METRICS) of window ``w`` at ``g[j]``. Rows of ``P``: ``pb``,
    ``pbm1`` the positions of the bounds b and b−1, ``pos[w, 0..3]`` those of a, a+1, a+2, a+k of window
    ``w`` (``a[w]`` its first tick, ``spans[w]`` its length in ns, 0 for the session). One loop over the
    grid for all windows, so the rows at b and b−1 and the last trade's quote are read once per instant;
    rows are indexed in place (a row view would cost reference counting per instant).
    Formulas: docs/indicators.md "Derived metrics"."""
    G = g.shape[0]
    W = spans.shape[0]
    out = np.full((W, N_METRICS, G), np.nan)
    fk = float(k)
    for j in range(G):
        B = pb[j]
        BM1 = pbm1[j]
        for w in range(W):
            span_w = spans[w]
            A = pos[w, 0, j]
            A1 = pos[w, 1, j]
            A2 = pos[w, 2, j]
            AK = pos[w, 3, j]
            cnt = float(b[j] - a[w, j])
            m1 = max(cnt - 1.0, 0.0)
            m2 = max(cnt - 2.0, 0.0)
            mk = max(cnt - fk, 0.0)
            vol = P[B, C_Q] - P[A, C_Q]
            r2 = P[B, C_R2] - P[A1, C_R2]
            r_sum = P[B, C_LPREV] - P[A1, C_LPREV] if m1 >= 1.0 else 0.0  # ln p_{b−1} − ln p_a
            if m1 >= 1.0:
                out[w, 0, j] = math.sqrt(max(r2, 0.0))
            if cnt > 0.0 and vol > 0.0:
                vwap = (P[B, C_PQ] - P[A, C_PQ]) / vol
                out[w, 1, j] = (P[B, C_PPREV] - vwap) / vwap * 1e4
                out[w, 2, j] = (P[B, C_SQ] - P[A, C_SQ]) / vol
                out[w, 13, j] = (P[B, C_BLK] - P[A, C_BLK]) / vol
                out[w, 15, j] = (P[B, C_ISO] - P[A, C_ISO]) / vol
            if cnt > 0.0:
                out[w, 3, j] = (P[B, C_S] - P[A, C_S]) / cnt
                out[w, 12, j] = vol / cnt
                out[w, 14, j] = (P[B, C_ODD] - P[A, C_ODD]) / cnt
            sx = P[B, C_X] - P[A1, C_X]
            sx2 = P[B, C_X2] - P[A1, C_X2]
            if m1 >= 2.0:
                var_x = sx2 - sx * sx / m1
                if var_x > eps * sx2:
                    out[w, 4, j] = ((P[B, C_XR] - P[A1, C_XR]) - sx * r_sum / m1) / var_x * 1e4
            dv1 = P[B, C_DV1] - P[A1, C_DV1]
            if m1 >= 1.0 and dv1 > 0.0:
                out[w, 5, j] = (P[B, C_AR] - P[A1, C_AR]) * 1e4 / (dv1 * 1e-6)
            if m2 >= 2.0:
                d0 = P[B, C_PPREV] - P[A2, C_PPREV]  # Σ Δp_i = p_{b−1} − p_{a+1}
                d1 = P[BM1, C_PPREV] - P[A1, C_PPREV]  # Σ Δp_{i−1} = p_{b−2} − p_a
                cov_d = ((P[B, C_DD] - P[A2, C_DD]) - d0 * d1 / m2) / (m2 - 1.0)
                out[w, 6, j] = 2.0 * math.sqrt(-cov_d) if cov_d < 0.0 else 0.0
            nvq = P[B, C_NVQ] - P[A, C_NVQ]
            if nvq > 0.0:
                out[w, 7, j] = (P[B, C_EFF] - P[A, C_EFF]) / nvq
            if cnt > 0.0:
                last = b[j] - 1
                lb = bid[last]
                la = ask[last]
                wsum = P[BM1, C_W] - P[A, C_W]
                wss = P[BM1, C_WS] - P[A, C_WS]
                if lb > 0.0 and la >= lb and la < np.inf:  # the last trade's quote, held until g
                    held = float(g[j] - t[last])
                    wsum += held
                    wss += held * ((la - lb) / ((la + lb) * 0.5) * 1e4)
                if wsum > 0.0:
                    out[w, 8, j] = wss / wsum
            npie = P[B, C_NPIE] - P[A, C_NPIE]
            if npie > 0.0:
                out[w, 9, j] = (P[B, C_NPI] - P[A, C_NPI]) / npie
            if span_w > 0:
                out[w, 11, j] = cnt / (span_w / 1e9)
            elif b[j] > 0 and g[j] > t[0]:
                out[w, 11, j] = cnt / (float(g[j] - t[0]) / 1e9)
            if m1 > fk:
                mu = r_sum / m1
                ss1 = r2 - m1 * mu * mu
                if ss1 > eps * r2:
                    rk = P[B, C_RK] - P[AK, C_RK]
                    rk2 = P[B, C_RK2] - P[AK, C_RK2]
                    vark = (rk2 - 2.0 * fk * mu * rk + mk * fk * fk * mu * mu) / (fk * mk * (1.0 - fk / m1))
                    out[w, 16, j] = vark / (ss1 / (m1 - 1.0))
            if m2 >= 3.0:
                r0 = P[B, C_LPREV] - P[A2, C_LPREV]  # Σ r_i over [a+2, b)
                r1 = P[BM1, C_LPREV] - P[A1, C_LPREV]  # Σ r_{i−1}
                r0s = P[B, C_R2] - P[A2, C_R2]
                r1s = P[BM1, C_R2] - P[A1, C_R2]
                vx = r0s - r0 * r0 / m2
                vy = r1s - r1 * r1 / m2
                if vx > eps * r0s and vy > eps * r1s:
                    out[w, 17, j] = ((P[B, C_RR] - P[A2, C_RR]) - r0 * r1 / m2) / math.sqrt(vx * vy)
            if cnt > 0.0:
                starts = P[B, C_RS] - P[A, C_RS]
                conts = P[B, C_CONT] - P[A, C_CONT]
                runs = starts + (P[A1, C_CONT] - P[A, C_CONT])  # the window's first trade starts a run
                if runs > 0.0:
                    out[w, 18, j] = (starts + conts) / runs
    return out


@numba.njit(cache=True, nogil=True, error_model="numpy")
def grid_steps(t, step):  # pragma: no cover - compiled
    """``unique(ceil(t / step) * step)`` for ascending ``t`` in one walk: a division only where a
    tick skips whole steps. Returns (grid, True), or (empty, False) when ``t`` is not ascending."""
    n = t.shape[0]
    out = np.empty(n, dtype=np.int64)
    if n == 0:
        return out, True
    bound = -((-t[0]) // step) * step
    out[0] = bound
    m = 1
    for i in range(1, n):
        v = t[i]
        if v < t[i - 1]:
            return out[:0], False
        if v > bound:
            bound = bound + step if v <= bound + step else -((-v) // step) * step
            out[m] = bound
            m += 1
    return out[:m], True


@numba.njit(cache=True, nogil=True)
def check_ticks(t, p):  # pragma: no cover - compiled
    """(first row whose time is before the previous row's, first row whose price is not > 0), each
    −1 when there is none: the input checks of the derived metrics in one walk, without the
    temporaries of ``t[1:] < t[:-1]`` and ``p > 0`` over a day of ticks."""
    unordered = -1
    bad_price = -1
    for i in range(t.shape[0]):
        if unordered < 0 and i > 0 and t[i] < t[i - 1]:
            unordered = i
        if bad_price < 0 and not p[i] > 0.0:
            bad_price = i
        if unordered >= 0 and bad_price >= 0:
            break
    return unordered, bad_price


@numba.njit(cache=True, nogil=True, fastmath=True)
def total_volume(q):  # pragma: no cover - compiled
    """The sum of the sizes ``q`` as a float, in any order (``fastmath``: vectorised; it sizes the
    VPIN bucket array and is no metric's value). ``q.sum(dtype=float64)`` on integer sizes first
    copies them as floats, three times slower."""
    total = 0.0
    for i in range(q.shape[0]):
        total += q[i]
    return total
