"""Small tick frames for bar tests (imported by the bar tests and their conftest)."""

from __future__ import annotations

import numpy as np
import pandas as pd

ET = "America/New_York"


def ticks_frame(prices, sizes=None, *, times=None, day="2024-07-02", start="10:00:00", step_s=1.0, sessions=None,
                signs=None, spreads=None):
    """A tick frame with the columns the bars engine reads; ``times`` are ET wall-clock strings."""
    n = len(prices)
    if times is None:
        t0 = pd.Timestamp(f"{day} {start}", tz=ET)
        idx = t0 + pd.to_timedelta(np.arange(n) * step_s, unit="s")
    else:
        idx = pd.DatetimeIndex([pd.Timestamp(f"{day} {t}", tz=ET) for t in times])
    idx = pd.DatetimeIndex(idx, name="timestamp").as_unit("ns")
    return pd.DataFrame({
        "last": np.asarray(prices, np.float64),
        "last_sz": np.asarray(sizes if sizes is not None else [100] * n, np.int64),
        "trade_sign": np.asarray(signs if signs is not None else [0] * n, np.int8),
        "spread_bps": np.asarray(spreads if spreads is not None else [np.nan] * n, np.float64),
        "session": np.asarray(sessions if sessions is not None else [1] * n, np.int8),
    }, index=idx)


def random_ticks(n: int, seed: int, *, sessions: bool = True, day="2024-07-02") -> pd.DataFrame:
    """``n`` random trades across pre/regular/after with cent prices, lots and blocks, some quotes."""
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp(f"{day} 04:00", tz=ET).value
    span = 16 * 3600 * 10**9
    ts = np.sort(t0 + rng.integers(0, span, n))
    prices = np.round(100 + np.cumsum(rng.choice([-0.02, -0.01, 0.0, 0.01, 0.02], n)), 2)
    sizes = np.where(rng.random(n) < 0.05, rng.integers(1000, 5000, n), rng.integers(1, 400, n))
    wall = (ts - t0) / 1e9 + 4 * 3600
    ses = np.where(wall < 9.5 * 3600, 0, np.where(wall < 16 * 3600, 1, 2)) if sessions else np.ones(n)
    spreads = np.where(rng.random(n) < 0.8, rng.uniform(0.5, 5, n), np.nan)
    idx = pd.DatetimeIndex(ts.view("datetime64[ns]"), name="timestamp").tz_localize("UTC").tz_convert(ET)
    return pd.DataFrame({"last": prices, "last_sz": sizes.astype(np.int64),
                         "trade_sign": rng.choice([-1, 0, 1], n).astype(np.int8), "spread_bps": spreads,
                         "session": ses.astype(np.int8)}, index=idx)
