"""The 20 derived metrics × 3 windows against an independent pandas implementation, on real recorded
ES trades (Databento mbp-1, read by the project's DBN importer and enriched) and on a generated
day; causality (values at g unchanged by later ticks); the grid, the volume profile and errors.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tickdeck.core.calendar import get_calendar
from tickdeck.core.enrich import enrich, utc_ns_from_date_time
from tickdeck.core.errors import SchemaError
from tickdeck.core.indicators.derived import (
    METRICS, SERIES, WINDOWS, DerivedMetricsError, VolumeProfile, columns_from_frame, compute_derived,
    metric_grid, vpin_bucket_size,
)
from tickdeck.core.sources.synthetic import generate_day

sys.path.insert(0, str(Path(__file__).parent))
from reference_metrics import reference  # noqa: E402

ES_MBP1 = "esu4-glbx-mbp-1_2024-07-01T23-58.dbn.zst"
ES_TRADES = "esu4-glbx-trades_2024-07-01T23-58.dbn.zst"
DAY = "2024-07-02"
HISTORY_DAYS = ("2024-06-27", "2024-06-28", "2024-07-01")
_DAY_NS = 86_400 * 10**9
_BASE = pd.Timestamp("2024-07-02 09:20:00", tz="America/New_York").value


def _assert_matches(got: dict, want: dict, rows: np.ndarray) -> None:
    for name in SERIES:
        np.testing.assert_allclose(got[name][rows], want[name], rtol=1e-7, atol=1e-9, equal_nan=True,
                                   err_msg=name)


def _dbn_frame(path, symbol="ESU4"):
    from tickdeck.core.instruments import resolve_terms
    from tickdeck.core.sources.dbn import read_dbn
    from tickdeck.core.sources.files import build_raw

    pt = read_dbn(path, symbol=symbol)
    raw = build_raw(pt.ns, pt.price, pt.size.astype(np.int64), pt.bid, pt.ask, pt.tick_id, quote_only=False)
    return enrich(raw, symbol=symbol, source="import:dbn", ingest_id="t", calendar=get_calendar("CMES"),
                  timestamps_ns=pt.ns, terms=resolve_terms(symbol, "futures"))


@pytest.fixture(scope="module")
def synthetic():
    """A generated AAPL day (20,000 regular trades, enriched) and three earlier days' (timestamp, size)."""
    cal = get_calendar()
    raw = generate_day("AAPL", DAY, calendar=cal, ticks=20_000)
    df = enrich(raw, symbol="AAPL", source="synthetic", ingest_id="t", calendar=cal)
    history = []
    for d in HISTORY_DAYS:
        h = generate_day("AAPL", d, calendar=cal, ticks=20_000)
        history.append((utc_ns_from_date_time(h["date"], h["time"]), h["last_sz"].astype(float)))
    return columns_from_frame(df), history


def test_every_metric_and_window_equals_pandas_on_real_es_trades(realdata):
    cols = columns_from_frame(_dbn_frame(realdata / ES_MBP1))
    assert cols["timestamp"].size > 50 and np.isfinite(cols["bid"]).all()
    # earlier "days": the recorded trades file moved back one and two days
    tr = _dbn_frame(realdata / ES_TRADES)
    history = [(tr.index.asi8 - k * _DAY_NS, tr["last_sz"].to_numpy(dtype=float)) for k in (1, 2)]
    grid = metric_grid(cols["timestamp"])
    bucket = 20.0  # contracts: the 4 minutes hold ~1,000, so ~10 buckets a minute
    got = compute_derived(cols, grid, volume_profile=VolumeProfile.from_days(history), vpin_bucket=bucket)
    want = reference(cols, grid, history=history, bucket=bucket)
    _assert_matches(got, want, np.arange(grid.size))
    for name in SERIES:  # every series is defined somewhere on this data (no vacuous NaN == NaN)
        assert np.isfinite(got[name]).any(), name


def test_every_metric_and_window_equals_pandas_on_a_generated_day(synthetic):
    cols, history = synthetic
    grid = metric_grid(cols["timestamp"])
    rows = np.unique(np.concatenate([np.arange(5), np.linspace(0, grid.size - 1, 120).astype(int),
                                     np.arange(grid.size - 3, grid.size)]))
    profile = VolumeProfile.from_days(history)
    bucket = vpin_bucket_size(profile, None)
    assert bucket == round(profile.daily_volume / 1000)
    got = compute_derived(cols, grid, volume_profile=profile)
    want = reference(cols, grid[rows], history=history, bucket=bucket)
    _assert_matches(got, want, rows)
    for name in SERIES:
        assert np.isfinite(got[name][rows]).any(), name


def test_raw_columns_give_the_values_of_the_stored_enrichment(synthetic):
    cols, history = synthetic
    raw = {k: v for k, v in cols.items()
           if k not in ("trade_sign", "dollar_volume", "is_block_trade", "is_odd_lot", "is_intermarket_sweep")}
    grid = metric_grid(cols["timestamp"])
    profile = VolumeProfile.from_days(history)
    a = compute_derived(cols, grid, volume_profile=profile)
    b = compute_derived(raw, grid, volume_profile=profile)
    for name in SERIES:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_values_at_g_do_not_change_when_later_ticks_are_appended(synthetic):
    cols, history = synthetic
    grid = metric_grid(cols["timestamp"])
    profile = VolumeProfile.from_days(history)
    full = compute_derived(cols, grid, volume_profile=profile)
    for cut in (grid[grid.size // 7], grid[grid.size // 2], grid[-2]):
        keep = cols["timestamp"] <= cut
        part = {k: v[keep] for k, v in cols.items()}
        g = metric_grid(part["timestamp"])
        assert g[-1] == cut and np.array_equal(g, grid[: g.size])
        got = compute_derived(part, g, volume_profile=profile)
        for name in SERIES:
            np.testing.assert_array_equal(got[name], full[name][: g.size], err_msg=f"{name} at cut {cut}")


def test_result_has_the_sixty_series_in_metric_then_window_order(synthetic):
    cols, _ = synthetic
    grid = metric_grid(cols["timestamp"])[:50]
    got = compute_derived(cols, grid)
    assert len(METRICS) == 20 and list(WINDOWS) == ["1min", "5min", "session"]
    assert list(got) == [f"{m}.{w}" for m in METRICS for w in WINDOWS]
    assert all(v.dtype == np.float64 and v.shape == grid.shape for v in got.values())
    assert np.isnan(got["relative_volume.1min"]).all() and np.isnan(got["vpin.session"]).all()  # no profile


def test_metric_grid_is_the_end_of_every_second_holding_a_tick():
    t = np.array([0, 1, 999_999_999, 1_000_000_000, 1_000_000_001, 5_500_000_000], dtype=np.int64) + 10**18
    assert metric_grid(t).tolist() == [10**18, 10**18 + 10**9, 10**18 + 2 * 10**9, 10**18 + 6 * 10**9]
    assert metric_grid(np.empty(0, dtype=np.int64)).size == 0
    with pytest.raises(DerivedMetricsError, match="positive"):
        metric_grid(t, 0)


def _cols(prices, times_s, sizes=None, bid=None, ask=None):
    n = len(prices)
    ns = (np.asarray(times_s, dtype=float) * 1e9).astype(np.int64) + _BASE
    z = np.zeros(n, dtype=np.uint8)
    return {"timestamp": ns, "last": np.asarray(prices, dtype=float),
            "last_sz": np.full(n, 100, dtype=np.int64) if sizes is None else np.asarray(sizes, dtype=np.int64),
            "bid": np.full(n, np.nan) if bid is None else np.asarray(bid, dtype=float),
            "ask": np.full(n, np.nan) if ask is None else np.asarray(ask, dtype=float),
            "cond1": z, "cond2": z, "cond3": z, "cond4": z}


def test_tick_run_length_counts_runs_with_zero_ticks_carrying_the_direction():
    # directions: 0, +, +(zero tick), +, −, −(zero), −, +  → runs +++ / −−− / + → 7 signed trades / 3 runs
    cols = _cols([10, 11, 11, 12, 11, 11, 10, 11], np.arange(8) * 0.1)
    g = metric_grid(cols["timestamp"])
    got = compute_derived(cols, g[-1:])
    assert got["tick_run_length.session"][0] == pytest.approx(7 / 3)


def test_quoted_spread_weights_each_quote_by_how_long_it_prevailed():
    # 2 bps quote held 0.9 s, then a 10 bps quote held from 0.9 s to the grid instant at 1 s
    cols = _cols([100.0, 100.0], [0.0, 0.9], bid=[99.99, 99.95], ask=[100.01, 100.05])
    got = compute_derived(cols, np.array([cols["timestamp"][0] + 10**9]))
    assert got["quoted_spread_bps.1min"][0] == pytest.approx((0.9 * 2.0 + 0.1 * 10.0) / 1.0, rel=1e-9)


def test_roll_spread_recovers_a_pure_bid_ask_bounce():
    # trades alternate between bid 99.99 and ask 100.01: Roll's estimate is the 0.02 spread
    rng = np.random.default_rng(3)
    prices = np.where(rng.random(400) < 0.5, 99.99, 100.01)
    cols = _cols(prices, np.arange(400) * 0.1)
    got = compute_derived(cols, metric_grid(cols["timestamp"])[-1:])
    assert got["roll_spread.session"][0] == pytest.approx(0.02, rel=0.1)


def test_volume_profile_averages_volume_by_time_of_day_to_the_second():
    base = _BASE
    tod0 = 9 * 3600 + 20 * 60
    d1 = (np.array([base + 500_000_000, base + 10**9, base + 61 * 10**9]), np.array([100.0, 50.0, 30.0]))
    d2 = (np.array([base - _DAY_NS + 2 * 10**9]), np.array([200.0]))
    p = VolumeProfile.from_days([d1, d2])
    assert p.days == 2 and p.daily_volume == pytest.approx(190.0)
    assert p.between(np.array([tod0]), np.array([tod0 + 1]))[0] == pytest.approx(75.0)
    assert p.between(np.array([tod0]), np.array([tod0 + 60]))[0] == pytest.approx(175.0)
    assert p.between(np.array([tod0 + 2]), np.array([tod0 + 1]))[0] == 0.0
    with pytest.raises(DerivedMetricsError, match="at least one"):
        VolumeProfile.from_days([])


def test_missing_column_unsorted_ticks_and_bad_vpin_bucket_are_refused():
    cols = _cols([10, 11], [0.0, 1.0])
    g = metric_grid(cols["timestamp"])
    with pytest.raises(SchemaError, match="bid"):
        compute_derived({k: v for k, v in cols.items() if k != "bid"}, g)
    rev = dict(cols, timestamp=cols["timestamp"][::-1].copy())
    with pytest.raises(SchemaError, match="time order"):
        compute_derived(rev, g)
    with pytest.raises(DerivedMetricsError, match="positive"):
        compute_derived(cols, g, vpin_bucket=0)
    with pytest.raises(DerivedMetricsError, match="larger bucket"):
        compute_derived(dict(cols, last_sz=np.array([10**12, 10**12])), g, vpin_bucket=1)


def test_kyle_lambda_recovers_a_linear_price_impact():
    # each trade moves the log price by exactly lambda × its signed dollar volume (no noise)
    rng = np.random.default_rng(5)
    n, lam_bps_per_million = 500, 3.0
    sign = rng.choice([-1, 1], n).astype(np.int8)
    dollars = rng.uniform(1e4, 5e5, n)
    lnp = np.log(100.0) + np.cumsum(lam_bps_per_million * 1e-4 * sign * dollars / 1e6)
    cols = _cols(np.exp(lnp), np.arange(n) * 0.5)
    cols.update(trade_sign=sign, dollar_volume=dollars)
    got = compute_derived(cols, metric_grid(cols["timestamp"])[-1:])
    assert got["kyle_lambda.session"][0] == pytest.approx(lam_bps_per_million, rel=1e-9)


def test_vpin_counts_the_equal_volume_buckets_that_start_and_end_inside_the_window():
    # buckets of 100: [buy 60 + sell 40] → 20, [buy 100 of the 150] → 100, [buy 50 + buy 50] → 100
    cols = _cols([10.0, 10.0, 10.0, 10.0], [0.0, 1.0, 2.0, 70.0], sizes=[60, 40, 150, 50])
    cols["trade_sign"] = np.array([1, -1, 1, 1], dtype=np.int8)
    g = metric_grid(cols["timestamp"])
    got = compute_derived(cols, g, vpin_bucket=100)
    assert got["vpin.session"][-1] == pytest.approx((20 + 100 + 100) / 3 / 100)
    assert got["vpin.1min"][2] == pytest.approx((20 + 100) / 2 / 100)  # at 2 s: the first two
    assert np.isnan(got["vpin.1min"][-1])  # the third bucket began at 2 s, before 70 s − 1 min


def test_forward_search_of_window_bounds_equals_numpy_searchsorted():
    from tickdeck.core.indicators._derived_kernels import search_sorted

    rng = np.random.default_rng(11)
    for _ in range(200):
        arr = np.sort(rng.integers(0, 50, rng.integers(0, 40)))
        q = np.sort(rng.integers(-5, 60, rng.integers(0, 30)))
        for right in (True, False):
            want = np.searchsorted(arr, q, side="right" if right else "left")
            np.testing.assert_array_equal(search_sorted(arr, q, right), want)


def test_metric_grid_equals_the_unique_ceilings_of_the_tick_times():
    rng = np.random.default_rng(2)
    t = np.sort(10**18 + np.concatenate([rng.integers(0, 5 * 10**9, 300), rng.integers(9 * 10**11, 10**12, 50)]))
    for step in (1, 10**6, 10**9, 7 * 10**8):
        np.testing.assert_array_equal(metric_grid(t, step), np.unique(-((-t) // step) * step))
    shuffled = rng.permutation(t)  # out of order: still the unique ceilings
    np.testing.assert_array_equal(metric_grid(shuffled), np.unique(-((-t) // 10**9) * 10**9))


def test_window_bounds_equal_numpy_searchsorted_per_window():
    from tickdeck.core.indicators._derived_kernels import window_bounds

    rng = np.random.default_rng(13)
    for _ in range(100):
        t = np.sort(rng.integers(0, 1_000, rng.integers(0, 60)))
        g = np.sort(rng.integers(-50, 1_100, rng.integers(0, 30)))
        spans = np.array([60, 300, 0], dtype=np.int64)
        b, a = window_bounds(t, g, spans)
        want_b = np.searchsorted(t, g, side="right")
        np.testing.assert_array_equal(b, want_b)
        for w, span in enumerate(spans):
            want_a = np.zeros(g.size, dtype=np.int64) if span == 0 else np.minimum(
                np.searchsorted(t, g - span, side="right"), want_b)
            np.testing.assert_array_equal(a[w], want_a)


@pytest.mark.parametrize("stored", [True, False], ids=["stored-enrichment", "raw-columns"])
def test_rounds_resumed_from_checkpoints_equal_one_evaluation_of_the_day_bit_for_bit(synthetic, stored):
    from tickdeck.core.indicators.derived import compute_derived_resumable

    cols, history = synthetic
    if not stored:
        cols = {k: v for k, v in cols.items()
                if k not in ("trade_sign", "dollar_volume", "is_block_trade", "is_odd_lot", "is_intermarket_sweep")}
    grid = metric_grid(cols["timestamp"])
    profile = VolumeProfile.from_days(history)
    bucket = 500.0  # small: buckets complete on both sides of every checkpoint
    full = compute_derived(cols, grid, volume_profile=profile, vpin_bucket=bucket)
    # live rounds: the day so far at its new instants, irregular round lengths, each resuming the last
    cuts = np.unique(np.concatenate([[3, 4, 40], np.linspace(41, grid.size - 1, 25).astype(int), [grid.size - 1]]))
    checkpoint, done, resumed = None, 0, 0
    for cut in cuts:
        keep = cols["timestamp"] <= grid[cut]
        part = {k: v[keep] for k, v in cols.items()}
        new = grid[done:cut + 1]
        resumed += checkpoint is not None
        got, checkpoint = compute_derived_resumable(part, new, volume_profile=profile, vpin_bucket=bucket,
                                                    resume=checkpoint)
        for name in SERIES:
            np.testing.assert_array_equal(got[name], full[name][done:cut + 1], err_msg=f"{name} round to {cut}")
        assert checkpoint is None or checkpoint.tick <= keep.sum()
        done = cut + 1
    assert done == grid.size and resumed >= 20
    assert np.isfinite(full["vpin.session"]).any() and np.isfinite(full["vpin.1min"]).any()


def test_a_checkpoint_that_does_not_fit_is_ignored(synthetic):
    from tickdeck.core.indicators.derived import compute_derived_resumable

    cols, _ = synthetic
    grid = metric_grid(cols["timestamp"])
    half = grid.size // 2
    _, cp = compute_derived_resumable(cols, grid[:half], vpin_bucket=500.0)
    assert cp is not None and cp.tick > 5
    want = compute_derived(cols, grid[:10], vpin_bucket=500.0)  # instants before the checkpoint
    got, _ = compute_derived_resumable(cols, grid[:10], vpin_bucket=500.0, resume=cp)
    other, _ = compute_derived_resumable(cols, grid[half:], vpin_bucket=700.0, resume=cp)  # another bucket
    for name in SERIES:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
    np.testing.assert_array_equal(other["vpin.session"],
                                  compute_derived(cols, grid[half:], vpin_bucket=700.0)["vpin.session"])
