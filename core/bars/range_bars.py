"""Range bars: a bar closes on the trade at which its high − low reaches the range R.

The closing trade belongs to the bar (so a gap can make high − low exceed R); the next bar opens
at the following trade. Prices are compared with a relative tolerance of :data:`REL_TOL` so that
a range of 0.10 reached by decimal prices such as 100.30 − 100.20 counts despite binary rounding.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from tickdeck.core.bars.aggregate import CLOSED_AT_SESSION, NO_SESSION, OPENED_AT_SESSION
from tickdeck.core.bars.state import F_HI, F_LO, I_N, I_OPENED, I_PREV

REL_TOL = 1e-9  # decimal prices are not exact in binary; 1e-9 of R is far below any tick size


@nb.njit(cache=True, nogil=True)
def range_kernel(px, ses, resume, rng, cross, st_i, st_f, ends, flags):  # pragma: no cover - compiled
    prev = st_i[I_PREV]
    cnt = st_i[I_N]
    opened = st_i[I_OPENED]
    hi = st_f[F_HI]
    lo = st_f[F_LO]
    need = rng * (1.0 - REL_TOL)
    nbars = 0
    for i in range(resume, px.shape[0]):
        s = ses[i]
        p = px[i]
        if cnt > 0 and (not cross) and s != prev:
            ends[nbars] = i
            flags[nbars] = opened | CLOSED_AT_SESSION
            nbars += 1
            cnt = 0
        if cnt == 0:
            opened = OPENED_AT_SESSION if (prev == NO_SESSION or s != prev) else 0
            hi = p
            lo = p
        prev = s
        cnt += 1
        if p > hi:
            hi = p
        if p < lo:
            lo = p
        if hi - lo >= need:
            ends[nbars] = i + 1
            flags[nbars] = opened
            nbars += 1
            cnt = 0
    st_i[I_PREV] = prev
    st_i[I_N] = cnt
    st_i[I_OPENED] = opened
    st_f[F_HI] = hi
    st_f[F_LO] = lo
    return nbars


def range_boundaries(x, resume: int, spec, st_i, st_f):
    n = len(x)
    ends = np.empty(n, np.int64)
    flags = np.empty(n, np.int8)
    k = range_kernel(x.px, x.ses, resume, spec.value, spec.cross, st_i, st_f, ends, flags)
    return ends[:k], flags[:k], None
