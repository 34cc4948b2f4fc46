"""Equivalence with an independent straightforward pandas implementation (time/tick/volume/dollar)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tickdeck.core.bars import compute_bars


def _ohlcv(ticks: pd.DataFrame, key: np.ndarray) -> pd.DataFrame:
    g = ticks.assign(_k=key, _d=ticks["last"] * ticks["last_sz"]).groupby("_k", sort=True)
    return pd.DataFrame({
        "open": g["last"].first(), "high": g["last"].max(), "low": g["last"].min(), "close": g["last"].last(),
        "volume": g["last_sz"].sum().astype(float), "dollar_volume": g["_d"].sum(),
        "trade_count": g["last"].size(),
    }).reset_index(drop=True)


def _session_runs(ticks):
    s = ticks["session"].to_numpy()
    return np.concatenate([[0], np.cumsum(s[1:] != s[:-1])])


def _threshold_keys(ticks, measure, thr):
    """Straightforward loop: bar id per trade, closing on the trade that reaches thr, no carry."""
    runs = _session_runs(ticks)
    key = np.empty(len(ticks), np.int64)
    bar, total, prev_run = 0, 0.0, runs[0] if len(runs) else 0
    for i, m in enumerate(measure):
        if runs[i] != prev_run and total > 0 or (runs[i] != prev_run and i and key[i - 1] == bar):
            bar += 1
            total = 0.0
        prev_run = runs[i]
        key[i] = bar
        total += m
        if total >= thr:
            bar += 1
            total = 0.0
    return key


COMPARE = ["open", "high", "low", "close", "volume", "dollar_volume", "trade_count"]


@pytest.mark.parametrize("seed", [1, 2])
def test_time_bars_equal_pandas_groupby_on_the_0930_grid(make_random_ticks, seed):
    t = make_random_ticks(5000, seed)
    wall = t.index.tz_localize(None)
    anchor = wall.normalize() + pd.Timedelta("9h30min")
    bucket = ((wall - anchor) // pd.Timedelta("5min")).to_numpy()
    key = _session_runs(t).astype(np.int64) * 10**6 + (bucket - bucket.min())  # (session run, bucket)
    ref = _ohlcv(t, np.asarray(key))
    got = compute_bars(t, "time:5m").reset_index(drop=True)
    pd.testing.assert_frame_equal(got[COMPARE], ref[COMPARE], check_dtype=False, rtol=1e-12)
    starts = (anchor + (wall - anchor) // pd.Timedelta("5min") * pd.Timedelta("5min"))
    first_start = pd.Series(starts).groupby(key).first().dt.tz_localize("America/New_York")
    regular = compute_bars(t, "time:5m")["session"].to_numpy() == 1  # pre/after first bars are clipped
    assert (compute_bars(t, "time:5m").index[regular] == pd.DatetimeIndex(first_start.to_numpy()[regular])).all()


@pytest.mark.parametrize("spec,measure", [("tick:113", "tick"), ("volume:25000", "volume"),
                                          ("dollar:2000000", "dollar")])
def test_threshold_bars_equal_a_straightforward_loop(make_random_ticks, spec, measure):
    t = make_random_ticks(5000, seed=7)
    m = {"tick": np.ones(len(t)), "volume": t["last_sz"].to_numpy(float),
         "dollar": (t["last"] * t["last_sz"]).to_numpy()}[measure]
    key = _threshold_keys(t, m, float(spec.split(":")[1]))
    ref = _ohlcv(t, key)
    got = compute_bars(t, spec).reset_index(drop=True)
    pd.testing.assert_frame_equal(got[COMPARE], ref[COMPARE], check_dtype=False, rtol=1e-12)
