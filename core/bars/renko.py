"""Renko bars: a bar closes when the price moves one brick B from the reference in the trend's
direction, or 2B against it (a reversal needs 2B).

The reference starts at the stream's first price. When trade ``p`` closes a bar the reference
moves by whole bricks, ``ref ± B·floor(|p − ref| / B)`` (a reversal therefore lands 2B or more
away, like the classic brick chart where the reversal brick starts one brick behind the last
close). Before the first brick either direction needs one brick. One bar per closing trade,
however many bricks a gap spans; the bar holds the real trades (OHLC of prices traded). A session
change cuts the open bar but keeps the reference and direction.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from tickdeck.core.bars.aggregate import CLOSED_AT_SESSION, NO_SESSION, OPENED_AT_SESSION
from tickdeck.core.bars.range_bars import REL_TOL
from tickdeck.core.bars.state import F_REF, I_DIR, I_INIT, I_N, I_OPENED, I_PREV


@nb.njit(cache=True, nogil=True)
def renko_kernel(px, ses, resume, brick, cross, st_i, st_f, ends, flags):  # pragma: no cover - compiled
    prev = st_i[I_PREV]
    cnt = st_i[I_N]
    opened = st_i[I_OPENED]
    direction = st_i[I_DIR]
    init = st_i[I_INIT]
    ref = st_f[F_REF]
    one = brick * (1.0 - REL_TOL)
    two = 2.0 * brick * (1.0 - REL_TOL)
    nbars = 0
    for i in range(resume, px.shape[0]):
        s = ses[i]
        p = px[i]
        if init == 0:
            ref = p
            init = 1
        if cnt > 0 and (not cross) and s != prev:
            ends[nbars] = i
            flags[nbars] = opened | CLOSED_AT_SESSION
            nbars += 1
            cnt = 0
        if cnt == 0:
            opened = OPENED_AT_SESSION if (prev == NO_SESSION or s != prev) else 0
        prev = s
        cnt += 1
        d = p - ref
        up_need = two if direction < 0 else one
        down_need = two if direction > 0 else one
        moved = 0
        if d >= up_need:
            moved = 1
        elif -d >= down_need:
            moved = -1
        if moved != 0:
            k = math.floor(abs(d) / brick + REL_TOL)
            ref = ref + moved * k * brick
            direction = moved
            ends[nbars] = i + 1
            flags[nbars] = opened
            nbars += 1
            cnt = 0
    st_i[I_PREV] = prev
    st_i[I_N] = cnt
    st_i[I_OPENED] = opened
    st_i[I_DIR] = direction
    st_i[I_INIT] = init
    st_f[F_REF] = ref
    return nbars


def renko_boundaries(x, resume: int, spec, st_i, st_f):
    n = len(x)
    ends = np.empty(n, np.int64)
    flags = np.empty(n, np.int8)
    k = renko_kernel(x.px, x.ses, resume, spec.value, spec.cross, st_i, st_f, ends, flags)
    return ends[:k], flags[:k], None
