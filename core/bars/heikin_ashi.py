"""Heikin-Ashi bars: time bars of the spec's interval with smoothed OHLC.

``ha_close = (O + H + L + C) / 4``; ``ha_open = (previous ha_open + previous ha_close) / 2``, and
``(O + C) / 2`` for the stream's first bar; ``ha_high = max(H, ha_open, ha_close)``;
``ha_low = min(L, ha_open, ha_close)``. Volume, VWAP, counts and spreads are those of the
underlying time bar. The recursion carries across session boundaries within a stream (bars still
never span one) and restarts for each stored day.
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True)
def ha_kernel(o, h, l, c, state):  # pragma: no cover - compiled
    """Transform OHLC in place; ``state`` = [has_previous, ha_open, ha_close]."""
    has = state[0]
    po = state[1]
    pc = state[2]
    for k in range(o.shape[0]):
        hc = (o[k] + h[k] + l[k] + c[k]) / 4.0
        ho = (po + pc) / 2.0 if has > 0 else (o[k] + c[k]) / 2.0
        h[k] = max(h[k], ho, hc)
        l[k] = min(l[k], ho, hc)
        o[k] = ho
        c[k] = hc
        po = ho
        pc = hc
        has = 1.0
    state[0] = has
    state[1] = po
    state[2] = pc


def heikin_ashi(cols: dict[str, np.ndarray], state: np.ndarray) -> dict[str, np.ndarray]:
    """Heikin-Ashi OHLC for time-bar columns (modified in place and returned)."""
    if cols["open"].shape[0]:
        ha_kernel(cols["open"], cols["high"], cols["low"], cols["close"], state)
    return cols


def new_ha_state() -> np.ndarray:
    return np.zeros(3, np.float64)
