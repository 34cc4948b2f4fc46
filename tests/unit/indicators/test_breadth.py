"""Local market breadth: hand-checked values, live state equals the batch series, McClellan, reconcile."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tickdeck.core.indicators import breadth as br
from tickdeck.core.indicators.catalog import LOCAL_VARIANTS, SNAPSHOT_KINDS
from tests.builders import make_trades


def _cols(prices, sizes, t0_ns=0, step_ns=1_000):
    p = np.asarray(prices, dtype=np.float64)
    return {"timestamp": t0_ns + step_ns * np.arange(p.size, dtype=np.int64), "last": p,
            "last_sz": np.asarray(sizes, dtype=np.float64), "bid": p - 0.01, "ask": p + 0.01}


def test_snapshot_counts_a_hand_checked_universe():
    st = br.BreadthState({"A": "NYSE", "B": "NYSE", "C": "NASDAQ", "D": "NASDAQ"})
    st.update("A", _cols([10.0, 10.5, 11.0], [100, 100, 200]))  # advancer, uptick, at high, above VWAP
    st.update("B", _cols([20.0, 19.0, 19.5], [300, 100, 100]))  # decliner, uptick, neither high nor low
    st.update("C", _cols([5.0, 5.0], [50, 50]))                 # unchanged, zero tick, at high and low
    # D never trades
    s = st.snapshot(123)
    assert s["TICK.NYSE"] == 2 and s["TICK.NASDAQ"] == 0 and s["TICK.ALL"] == 2
    assert (s["ADV.NYSE"], s["DEC.NYSE"], s["UNCH.NYSE"]) == (1, 1, 0)
    assert (s["ADV.NASDAQ"], s["DEC.NASDAQ"], s["UNCH.NASDAQ"]) == (0, 0, 1)
    assert s["ADV_VOL.NYSE"] == 400 and s["DEC_VOL.NYSE"] == 500 and s["VOLUME.ALL"] == 1000
    assert s["TRIN.NYSE"] == pytest.approx((1 / 1) / (400 / 500)) and np.isnan(s["TRIN.NASDAQ"])
    assert s["UPDOWN_VOL_RATIO.NYSE"] == pytest.approx(0.8) and np.isnan(s["UPDOWN_VOL_RATIO.NASDAQ"])
    assert s["NEW_HIGHS.NYSE"] == 1 and s["NEW_LOWS.NYSE"] == 0 and s["NEW_HIGHS.NASDAQ"] == 1
    assert s["NEW_LOWS.NASDAQ"] == 1 and s["ISSUES.NASDAQ"] == 1 and s["ISSUES.ALL"] == 3
    assert s["AD_LINE.NYSE"] == 0 and s["AD_LINE.ALL"] == 0
    # A: VWAP 10.625 < 11 above; B: VWAP 19.6 > 19.5 below; C: last == VWAP, not above
    assert s["PCT_ABOVE_VWAP.NYSE"] == 50 and s["PCT_ABOVE_VWAP.NASDAQ"] == 0
    assert set(s) == {f"{k}.{v}" for k in SNAPSHOT_KINDS for v in LOCAL_VARIANTS}


def test_a_later_batch_of_one_tick_uses_the_previous_batch_for_the_tick_sign():
    st = br.BreadthState({"A": "NYSE"})
    st.update("A", _cols([10.0, 10.2], [1, 1]))
    st.update("A", _cols([10.1], [1], t0_ns=10_000))
    s = st.snapshot(0)
    assert s["TICK.NYSE"] == -1 and s["ADV.NYSE"] == 1 and s["NEW_HIGHS.NYSE"] == 0


def _universe(n_symbols=12, n=400):
    uni, ex = {}, {}
    for k in range(n_symbols):
        raw = make_trades(n + 37 * k, seed=k)
        ts = pd.to_datetime(raw["time"], unit="us").asi8 + k  # distinct instants across symbols
        uni[f"S{k}"] = {"timestamp": ts, "last": raw["last"], "last_sz": raw["last_sz"].astype(np.float64),
                        "bid": raw["bid"], "ask": raw["ask"]}
        ex[f"S{k}"] = ("NYSE", "NASDAQ")[k % 2]
    return uni, ex


def test_breadth_series_equals_feeding_the_state_in_time_order():
    uni, ex = _universe()
    t_all = np.concatenate([c["timestamp"] for c in uni.values()])
    grid = np.unique(np.concatenate([np.linspace(t_all.min() - 10, t_all.max() + 10, 97).astype(np.int64),
                                     np.sort(t_all)[::53]]))  # includes instants equal to a tick's time
    series = br.breadth_series(uni, grid, ex)
    st = br.BreadthState(ex)
    pos = dict.fromkeys(uni, 0)
    for g_i, g in enumerate(grid):
        for sym, c in uni.items():  # hand each symbol its ticks up to g, in batches of whatever size came
            j = int(np.searchsorted(c["timestamp"], g, side="right"))
            if j > pos[sym]:
                st.update(sym, {k: v[pos[sym]:j] for k, v in c.items()})
                pos[sym] = j
        snap = st.snapshot(int(g))
        for name, values in series.items():
            assert snap[name] == pytest.approx(values[g_i], nan_ok=True, rel=1e-12), (name, g_i)
    assert np.nanmax(np.abs(series["TICK.ALL"])) > 0 and np.nanmax(series["ADV.NYSE"]) > 0
    assert np.all(series["ISSUES.ALL"][-1] == len(uni))


def test_breadth_series_refuses_a_symbol_without_exchange():
    uni, ex = _universe(2, 10)
    with pytest.raises(br.UnknownBreadthSymbol, match="S1"):
        br.breadth_series(uni, np.array([0]), {"S0": "NYSE"})
    with pytest.raises(br.UnknownBreadthSymbol, match="ZZZ"):
        br.BreadthState(ex).update("ZZZ", uni["S0"])
    with pytest.raises(ValueError, match="AMEX"):
        br.BreadthState({"X": "AMEX"})


def test_mcclellan_is_ema19_minus_ema39_of_net_advances():
    net = np.random.default_rng(3).normal(0, 300, 120).round()
    s = pd.Series(net)
    expected = s.ewm(alpha=0.10, adjust=False).mean() - s.ewm(alpha=0.05, adjust=False).mean()
    np.testing.assert_allclose(br.mcclellan(net), expected.to_numpy(), rtol=1e-12, atol=1e-9)
    assert br.mcclellan(net)[0] == 0 and br.mcclellan(np.empty(0)).size == 0
    np.testing.assert_array_equal(br.ad_line([3, -1, 2]), [3, 2, 4])


def test_reconcile_is_local_minus_feed_for_shared_names():
    feed = br.feed_values({"JTNT.Z": 5.0, "RINT.Z": None, "UNKNOWN.Z": 1.0})
    assert feed.keys() == {"TICK.NYSE", "TRIN.NYSE"}
    d = br.reconcile({"TICK.NYSE": 7.0, "TRIN.NYSE": 1.2, "AD_LINE.ALL": 3.0}, feed)
    assert d.keys() == {"TICK.NYSE.diff", "TRIN.NYSE.diff"} and d["TICK.NYSE.diff"] == 2.0
    assert np.isnan(d["TRIN.NYSE.diff"])
