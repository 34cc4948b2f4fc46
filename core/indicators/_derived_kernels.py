"""Compiled kernels of the derived metrics (:mod:`core.indicators.derived`): the two sequential passes.

* :func:`prefix_at` walks a symbol-day's ticks once, computes every per-tick quantity the metrics
  sum (returns, signed flow, spreads, tick-rule runs, lagged products, k-tick returns) and records
  the running sums just before each requested tick index. A window's sum of a quantity is then the
  difference of two recorded rows, so all windows of all metrics cost one pass plus O(grid) work,
  and no per-tick array of each quantity is ever materialised (a 5,000,000-tick day would need
  ~1.3 GB for them).
* :func:`vpin_buckets` fills equal-volume buckets in time order (a trade larger than the room left
  in a bucket is split across buckets) and records each bucket's first and last tick time and its
  buy/sell imbalance.

Column numbers of :func:`prefix_at`'s output are the ``C_*`` constants; which ticks of a window a
column is summed over (``[a, b)``, ``[a+1, b)``, ``[a+2, b)``, ``[a+k, b)`` or ``[a, b-1)``) is
the caller's business and is documented in :mod:`core.indicators.derived`.
"""

from __future__ import annotations

import math

import numba
import numpy as np

# per-trade sums, over the window's trades [a, b)
C_Q, C_PQ, C_S, C_SQ, C_BLK, C_ODD, C_ISO = 0, 1, 2, 3, 4, 5, 6
C_NVQ, C_EFF, C_NPIE, C_NPI = 7, 8, 9, 10  # valid-quote trades, effective spread bps, improvement counts
C_NZ, C_RS, C_CONT = 11, 12, 13  # tick-rule: signed trades, run starts, run continuations
# time-weighted quoted spread, over [a, b-1): each quote's duration until the next trade
C_W, C_WS = 14, 15
# per-return sums, over [a+1, b): the return of trade i is ln(p_i / p_{i-1})
C_R, C_R2, C_AR, C_DV1, C_X, C_X2, C_XR = 16, 17, 18, 19, 20, 21, 22
# lagged products, over [a+2, b)
C_DD, C_D0, C_D1, C_RR, C_R0, C_R1, C_R0S, C_R1S = 23, 24, 25, 26, 27, 28, 29, 30
# k-trade returns ln(p_i / p_{i-k}), over [a+k, b)
C_RK, C_RK2 = 31, 32
N_COLUMNS = 33


@numba.njit(cache=True, nogil=True)
def prefix_at(idx, t, p, q, dv, has_dv, s, blk, odd, iso, bid, ask, k):  # pragma: no cover - compiled
    """Running sums of the per-tick quantities before each index of ``idx`` (sorted, in [0, n]).

    Row ``j`` of the result holds, for every ``C_*`` column, the sum over ticks ``i < idx[j]``.
    """
    n = p.shape[0]
    m = idx.shape[0]
    out = np.zeros((m, N_COLUMNS))
    ring = np.zeros(max(k, 1))
    sq = spq = ss = ssq = sblk = sodd = siso = 0.0
    nvq = seff = npie = npi = nz = rs = cont = sw = sws = 0.0
    sr = sr2 = sar = sdv1 = sx = sx2 = sxr = 0.0
    sdd = sd0 = sd1 = srr = sr0 = sr1 = sr0s = sr1s = 0.0
    srk = srk2 = 0.0
    lp_prev = 0.0
    dp_prev = 0.0
    r_prev = 0.0
    d_prev = 0
    j = 0
    for i in range(n + 1):
        while j < m and idx[j] == i:
            o = out[j]
            o[C_Q] = sq
            o[C_PQ] = spq
            o[C_S] = ss
            o[C_SQ] = ssq
            o[C_BLK] = sblk
            o[C_ODD] = sodd
            o[C_ISO] = siso
            o[C_NVQ] = nvq
            o[C_EFF] = seff
            o[C_NPIE] = npie
            o[C_NPI] = npi
            o[C_NZ] = nz
            o[C_RS] = rs
            o[C_CONT] = cont
            o[C_W] = sw
            o[C_WS] = sws
            o[C_R] = sr
            o[C_R2] = sr2
            o[C_AR] = sar
            o[C_DV1] = sdv1
            o[C_X] = sx
            o[C_X2] = sx2
            o[C_XR] = sxr
            o[C_DD] = sdd
            o[C_D0] = sd0
            o[C_D1] = sd1
            o[C_RR] = srr
            o[C_R0] = sr0
            o[C_R1] = sr1
            o[C_R0S] = sr0s
            o[C_R1S] = sr1s
            o[C_RK] = srk
            o[C_RK2] = srk2
            j += 1
        if i == n or j == m:
            break
        pi = p[i]
        qi = float(q[i])
        si = float(s[i])
        pq = pi * qi
        dvi = dv[i] if has_dv else pq
        sq += qi
        spq += pq
        ss += si
        ssq += si * qi
        if blk[i]:
            sblk += qi
        if odd[i]:
            sodd += 1.0
        if iso[i]:
            siso += qi
        b_ = bid[i]
        a_ = ask[i]
        if b_ > 0.0 and a_ >= b_ and a_ < np.inf:
            mid = (b_ + a_) * 0.5
            nvq += 1.0
            seff += 2.0 * abs(pi - mid) / mid * 1e4
            if si != 0.0:
                npie += 1.0
                if (si > 0.0 and a_ - pi > 0.0) or (si < 0.0 and pi - b_ > 0.0):
                    npi += 1.0
            if i + 1 < n:
                w = float(t[i + 1] - t[i])
                sw += w
                sws += w * ((a_ - b_) / mid * 1e4)
        # tick rule with zero ticks carrying the previous direction (0 until the first change)
        d = 0
        if i > 0:
            diff = pi - p[i - 1]
            if diff > 0.0:
                d = 1
            elif diff < 0.0:
                d = -1
            else:
                d = d_prev
        if d != 0:
            nz += 1.0
            if d != d_prev:
                rs += 1.0
            else:
                cont += 1.0
        d_prev = d
        lp = lp_prev if (i > 0 and pi == p[i - 1]) else math.log(pi)
        if i >= 1:
            r = lp - lp_prev
            dpi = pi - p[i - 1]
            sr += r
            sr2 += r * r
            sar += abs(r)
            sdv1 += dvi
            x = si * dvi * 1e-6
            sx += x
            sx2 += x * x
            sxr += x * r
            if i >= 2:
                sdd += dpi * dp_prev
                sd0 += dpi
                sd1 += dp_prev
                srr += r * r_prev
                sr0 += r
                sr1 += r_prev
                sr0s += r * r
                sr1s += r_prev * r_prev
            dp_prev = dpi
            r_prev = r
        if k > 0:
            slot = i % k
            if i >= k:
                rk = lp - ring[slot]
                srk += rk
                srk2 += rk * rk
            ring[slot] = lp
        lp_prev = lp
    return out


@numba.njit(cache=True, nogil=True)
def vpin_buckets(t, q, s, bucket):  # pragma: no cover - compiled
    """Equal-volume buckets of ``bucket`` size units, filled from the first tick.

    Buy volume: trades with sign +1; sell: −1; unsigned trades count half to each side. Returns
    (first tick time, last tick time, |buy − sell|) of every completed bucket, in order.
    """
    n = t.shape[0]
    total = 0.0
    for i in range(n):
        total += float(q[i])
    cap = int(total // bucket) + 1
    start = np.empty(cap, dtype=np.int64)
    end = np.empty(cap, dtype=np.int64)
    imb = np.empty(cap)
    nb = 0
    fill = 0.0
    buy = 0.0
    sell = 0.0
    t0 = 0
    for i in range(n):
        rem = float(q[i])
        if rem <= 0.0:
            continue
        frac = 1.0 if s[i] > 0 else (0.0 if s[i] < 0 else 0.5)
        while rem > 0.0:
            if fill == 0.0:
                t0 = t[i]
            take = min(rem, bucket - fill)
            buy += take * frac
            sell += take * (1.0 - frac)
            fill += take
            rem -= take
            if fill >= bucket:
                start[nb] = t0
                end[nb] = t[i]
                imb[nb] = abs(buy - sell)
                nb += 1
                fill = 0.0
                buy = 0.0
                sell = 0.0
    return start[:nb], end[:nb], imb[:nb]
