"""Volume profile and spread analysis (core/analysis.py) against independent computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tickdeck.core.analysis import spread_analysis, volume_profile


def test_volume_profile_sums_size_per_price_level():
    rng = np.random.default_rng(0)
    price = np.round(100 + rng.normal(0, 0.5, 5_000), 2)
    size = rng.integers(1, 500, 5_000).astype(float)
    p = volume_profile(price, size, step=0.10)
    assert np.isclose(p.volume.sum(), size.sum())
    expected = pd.Series(size).groupby(np.floor(price / 0.10 + 1e-9).astype(int)).sum()  # independent: pandas
    got = pd.Series(p.volume, index=np.round(p.levels / 0.10).astype(int))
    assert np.allclose(got[got > 0].sort_index().to_numpy(), expected.sort_index().to_numpy())
    assert p.poc == p.levels[np.argmax(p.volume)]
    inside = (price >= p.value_low - 1e-9) & (price < p.value_high - 1e-9)
    assert size[inside].sum() >= 0.70 * size.sum()
    assert p.value_low <= p.poc < p.value_high


def test_volume_profile_ignores_nan_and_refuses_nothing():
    p = volume_profile(np.array([10.0, np.nan, 10.0]), np.array([1.0, 5.0, 2.0]))
    assert p.volume.sum() == 3.0
    with pytest.raises(ValueError):
        volume_profile(np.array([np.nan]), np.array([1.0]))


def test_spread_analysis_medians_per_bucket_and_skips_missing_quotes():
    n = 1_000
    t = np.arange(n, dtype=np.int64) * 1_000_000_000  # one trade a second
    bid = np.full(n, 100.0)
    ask = bid + np.where(np.arange(n) < 500, 0.01, 0.05)
    last = np.where(np.arange(n) % 2 == 0, ask, bid)  # at the quote: effective spread = quoted
    bid[10] = np.nan
    a = spread_analysis(t, last, bid, ask, buckets=10, bins=5)
    assert a.without_quote == 1
    assert np.allclose(a.quoted[:5], 0.01) and np.allclose(a.quoted[5:], 0.05)
    assert np.allclose(a.effective, a.quoted)
    ok = np.isfinite(bid)
    assert np.isclose(a.quoted_mean, (ask - bid)[ok].mean())
    assert a.quoted_hist[0].sum() == ok.sum()
    frame = pd.DataFrame({"b": np.minimum((t[ok] - t[0]) // a.times[1], 9), "q": (ask - bid)[ok]})
    assert np.allclose(frame.groupby("b")["q"].median().to_numpy(), a.quoted)  # independent: pandas median
