"""Layout of the per-stream kernel state: two small arrays a streaming builder carries between batches.

Every family kernel reads its state at the start of a batch and writes it back at the end, so a
stream cut into any batches walks through exactly the same states as one pass over the whole
stream (the property tests check this).
"""

from __future__ import annotations

import numpy as np

from tickdeck.core.bars.aggregate import NO_SESSION

# int64 slots
I_PREV = 0      # session code of the previous tick (NO_SESSION before the first tick)
I_N = 1         # ticks in the open bar
I_OPENED = 2    # flags of the open bar (OPENED_AT_SESSION)
I_B0 = 3        # time: open bucket start (ET wall ns)
I_B1 = 4        # time: open bucket end (ET wall ns)
I_DIR = 5       # renko: direction of the last brick (+1/-1, 0 none yet)
I_INIT = 6      # renko: reference price set; imbalance/runs: warm-up done
I_LASTB = 7     # imbalance/runs: last tick-rule sign
I_HASPX = 8     # imbalance/runs: a previous price exists
N_INT = 12

# float64 slots
F_RUN = 0       # running volume/dollar/ticks of the open bar
F_HI = 1        # range: open bar high
F_LO = 2        # range: open bar low
F_REF = 3       # renko: reference (last brick close)
F_LASTPX = 4    # imbalance/runs: previous price (tick rule)
F_A = 5         # imbalance: signed flow theta; runs: buy flow
F_B = 6         # runs: sell flow
F_SUMV = 7      # imbalance/runs: unsigned flow of the open bar
F_ET = 8        # EWMA of ticks per bar
F_EA = 9        # EWMA of signed flow per tick (imbalance) / buy flow per tick (runs)
F_EB = 10       # EWMA of unsigned flow per tick (imbalance) / sell flow per tick (runs)
F_THR = 11      # threshold of the open bar
N_FLOAT = 16


def new_state() -> tuple[np.ndarray, np.ndarray]:
    st_i = np.zeros(N_INT, np.int64)
    st_i[I_PREV] = NO_SESSION
    return st_i, np.zeros(N_FLOAT, np.float64)
