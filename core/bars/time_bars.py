"""Time bars: fixed intervals on the session clock (09:30:00, 09:31:00 … for 1m).

The grid is anchored at 09:30 ET of each trading day: bucket ``k`` of a tick at ET wall time
``w`` starts at ``09:30 + k·interval`` with ``k = floor((w − 09:30) / interval)`` (negative in the
pre-market). A bar is labelled by its bucket: ``start`` is the bucket start and ``end`` the bucket
end, both clipped to the session boundaries when the bar opens or is cut at one (so a 1h bar in
the pre-market starts at 04:00, and the regular 15:30 bar ends at 16:00). Empty buckets produce no
bar. With ``cross`` the grid alone decides.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from tickdeck.core.bars.aggregate import CLOSED_AT_SESSION, NO_SESSION, OPENED_AT_SESSION
from tickdeck.core.bars.arrays import NS_PER_DAY
from tickdeck.core.bars.state import I_B0, I_B1, I_N, I_OPENED, I_PREV

ANCHOR_NS = (9 * 3600 + 30 * 60) * 10**9  # 09:30 ET: the regular open every grid is aligned to


@nb.njit(cache=True, nogil=True)
def time_kernel(wall, ses, resume, iv, cross, st_i, ends, flags, labels):  # pragma: no cover - compiled
    prev = st_i[I_PREV]
    cnt = st_i[I_N]
    opened = st_i[I_OPENED]
    b0 = st_i[I_B0]
    b1 = st_i[I_B1]
    nbars = 0
    for i in range(resume, wall.shape[0]):
        s = ses[i]
        w = wall[i]
        if cnt > 0:
            cut = (not cross) and s != prev
            if cut or w >= b1:
                ends[nbars] = i
                flags[nbars] = opened | (CLOSED_AT_SESSION if cut else 0)
                labels[nbars] = b0
                nbars += 1
                cnt = 0
        if cnt == 0:
            opened = OPENED_AT_SESSION if (prev == NO_SESSION or s != prev) else 0
            d0 = (w // NS_PER_DAY) * NS_PER_DAY + ANCHOR_NS
            b0 = d0 + ((w - d0) // iv) * iv
            b1 = b0 + iv
        cnt += 1
        prev = s
    st_i[I_PREV] = prev
    st_i[I_N] = cnt
    st_i[I_OPENED] = opened
    st_i[I_B0] = b0
    st_i[I_B1] = b1
    return nbars


def time_boundaries(x, resume: int, spec, st_i, st_f):
    n = len(x)
    ends = np.empty(n, np.int64)
    flags = np.empty(n, np.int8)
    labels = np.empty(n, np.int64)
    k = time_kernel(x.wall, x.ses, resume, np.int64(spec.interval_s * 10**9), spec.cross, st_i, ends, flags, labels)
    return ends[:k], flags[:k], labels[:k]


def time_labels(first_ts: np.ndarray, first_wall: np.ndarray, bucket_wall: np.ndarray, flags: np.ndarray,
                iv_ns: int, bounds: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Bar ``start``/``end`` (UTC ns) from bucket starts, clipped at session boundaries by flags."""
    start = first_ts - (first_wall - bucket_wall)
    end = start + iv_ns
    if bounds is not None and bounds.size and start.size:
        j = np.searchsorted(bounds, first_ts, side="right")
        prev_b = bounds[np.maximum(j - 1, 0)]
        clip = ((flags & OPENED_AT_SESSION) != 0) & (j > 0) & (prev_b > start)
        start = np.where(clip, prev_b, start)
        next_b = bounds[np.minimum(j, bounds.size - 1)]
        clip = ((flags & CLOSED_AT_SESSION) != 0) & (j < bounds.size) & (next_b < end)
        end = np.where(clip, next_b, end)
    return start, end
