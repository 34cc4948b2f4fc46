"""Imbalance and runs bars (López de Prado, AFML ch. 2.3.2): sample when order flow is informative.

Each trade gets a sign ``b`` by the tick rule (+1 up-tick, −1 down-tick, the previous sign on a
zero tick, 0 before the first price change) and a flow ``v``: 1 (tick), its size (volume) or
price × size (dollar).

* imbalance: ``θ = Σ b·v`` over the bar; it closes when ``|θ| ≥ max(E[T]·|E[b·v]|, √E[T]·E[v])``.
  The second term is a guard beyond AFML: with balanced flow (E[b·v] ≈ 0) the AFML threshold
  vanishes and every trade becomes a bar; √E[T]·E[v] is the imbalance a random-sign flow
  reaches in about E[T] trades, so balanced flow gives bars of about E[T] trades.
* runs: ``θ = max(Σ_{b=+1} v, Σ_{b=−1} v)``; it closes when ``θ ≥ E[T] · max(E[v⁺], E[v⁻])``.

Expectations are EWMAs over closed bars with span N from the spec (``ewmaN``, α = 2/(N+1)) of
the bar's tick count T and its per-tick flows (θ/T, Σv/T, or buy/sell flow per tick). The
threshold of a bar is fixed when the bar opens.

Warm-up: the first bar of a stream closes after exactly T0 ticks (option ``t<T0>``, default 1000)
and seeds every EWMA with its own values. E[T] is clamped to [T0/CLAMP, T0·CLAMP] when the
threshold is formed — a guard against the known drift of the AFML recursion (runs bars shrink
bar after bar because the larger side of a bar outgrows its expectation by chance; imbalance bars
of mean-reverting flow grow without bound).
Bars cut by a session change (or the end of the data) do not update the EWMAs. The stream state
(signs, EWMAs) carries across sessions; stored bars are built per day, so each day warms up anew.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from tickdeck.core.bars.aggregate import CLOSED_AT_SESSION, NO_SESSION, OPENED_AT_SESSION
from .state import (F_A, F_B, F_EA, F_EB, F_ET, F_LASTPX, F_SUMV, F_THR, I_HASPX, I_INIT, I_LASTB, I_N,
                             I_OPENED, I_PREV)

CLAMP = 3.0  # E[T] stays within [T0/3, 3·T0]: bar counts stay predictable from T0
MODES = {"tick": 0, "volume": 1, "dollar": 2}


@nb.njit(cache=True, nogil=True)
def info_kernel(px, sz, ses, resume, mode, runs, span, t0, cross, st_i, st_f, ends, flags):  # pragma: no cover
    prev = st_i[I_PREV]
    cnt = st_i[I_N]
    opened = st_i[I_OPENED]
    warm = st_i[I_INIT]
    lastb = st_i[I_LASTB]
    haspx = st_i[I_HASPX]
    lastpx = st_f[F_LASTPX]
    a = st_f[F_A]
    bflow = st_f[F_B]
    sumv = st_f[F_SUMV]
    e_t = st_f[F_ET]
    e_a = st_f[F_EA]
    e_b = st_f[F_EB]
    thr = st_f[F_THR]
    alpha = 2.0 / (span + 1.0)
    t_lo = t0 / CLAMP
    t_hi = t0 * CLAMP
    nbars = 0
    for i in range(resume, px.shape[0]):
        p = px[i]
        if haspx:
            if p > lastpx:
                lastb = 1
            elif p < lastpx:
                lastb = -1
        haspx = 1
        lastpx = p
        if mode == 0:
            v = 1.0
        elif mode == 1:
            v = sz[i]
        else:
            v = p * sz[i]
        s = ses[i]
        if cnt > 0 and (not cross) and s != prev:
            ends[nbars] = i
            flags[nbars] = opened | CLOSED_AT_SESSION
            nbars += 1
            cnt = 0
            a = 0.0
            bflow = 0.0
            sumv = 0.0
        if cnt == 0:
            opened = OPENED_AT_SESSION if (prev == NO_SESSION or s != prev) else 0
            if warm:
                et = min(max(e_t, t_lo), t_hi)
                if runs:
                    thr = et * max(e_a, e_b)
                else:
                    thr = max(et * abs(e_a), np.sqrt(et) * e_b)
        prev = s
        cnt += 1
        sumv += v
        if runs:
            if lastb > 0:
                a += v
            elif lastb < 0:
                bflow += v
            hit = max(a, bflow) >= thr
        else:
            a += lastb * v
            hit = abs(a) >= thr
        if not warm:
            hit = cnt >= t0
        if hit:
            ends[nbars] = i + 1
            flags[nbars] = opened
            nbars += 1
            x_t = float(cnt)
            x_a = a / cnt
            x_b = (bflow if runs else sumv) / cnt
            if warm:
                e_t += alpha * (x_t - e_t)
                e_a += alpha * (x_a - e_a)
                e_b += alpha * (x_b - e_b)
            else:
                e_t = x_t
                e_a = x_a
                e_b = x_b
                warm = 1
            cnt = 0
            a = 0.0
            bflow = 0.0
            sumv = 0.0
    st_i[I_PREV] = prev
    st_i[I_N] = cnt
    st_i[I_OPENED] = opened
    st_i[I_INIT] = warm
    st_i[I_LASTB] = lastb
    st_i[I_HASPX] = haspx
    st_f[F_LASTPX] = lastpx
    st_f[F_A] = a
    st_f[F_B] = bflow
    st_f[F_SUMV] = sumv
    st_f[F_ET] = e_t
    st_f[F_EA] = e_a
    st_f[F_EB] = e_b
    st_f[F_THR] = thr
    return nbars


def info_boundaries(x, resume: int, spec, st_i, st_f):
    n = len(x)
    ends = np.empty(n, np.int64)
    flags = np.empty(n, np.int8)
    measure, kind = spec.family.split("_")
    k = info_kernel(x.px, x.sz, x.ses, resume, MODES[measure], kind == "runs", spec.value, float(spec.t0),
                    spec.cross, st_i, st_f, ends, flags)
    return ends[:k], flags[:k], None
