"""Streaming builders emit exactly the bars of one batch pass, whatever the batch split."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from tickdeck.core.bars import BarBuilder, compute_bars
from bar_ticks import random_ticks

SPECS = ["time:1m", "time:7m:cross", "heikin_ashi:5m", "tick:37", "volume:3000", "dollar:300000",
         "volume:3000:split", "dollar:250000:split", "range:0.05", "renko:0.03", "tick_imbalance:ewma5:t20",
         "volume_imbalance:ewma5:t20", "dollar_imbalance:ewma5:t20", "tick_runs:ewma5:t20",
         "volume_runs:ewma5:t20", "dollar_runs:ewma5:t20:cross"]
STREAMS = {seed: random_ticks(1500, seed) for seed in range(4)}


@settings(max_examples=25, deadline=None)
@given(spec=st.sampled_from(SPECS), seed=st.sampled_from(sorted(STREAMS)),
       cuts=st.lists(st.integers(0, 1500), max_size=12))
def test_streaming_equals_batch_for_any_split(spec, seed, cuts):
    ticks = STREAMS[seed]
    whole = compute_bars(ticks, spec)
    builder = BarBuilder(spec)
    edges = [0, *sorted(cuts), len(ticks)]
    parts = [builder.update(ticks.iloc[a:b]) for a, b in zip(edges[:-1], edges[1:])]
    parts.append(builder.flush())
    streamed = pd.concat(parts)
    pd.testing.assert_frame_equal(streamed, whole, check_exact=True)


def test_every_family_is_covered_by_the_property():
    from tickdeck.core.bars import FAMILIES

    assert {s.split(":")[0] for s in SPECS} == set(FAMILIES)


def test_tick_by_tick_streaming_matches_batch():
    ticks = STREAMS[0].iloc[:400]
    for spec in ("renko:0.03", "tick_runs:ewma5:t20", "volume:3000:split", "time:1m"):
        b = BarBuilder(spec)
        parts = [b.update(ticks.iloc[i:i + 1]) for i in range(len(ticks))] + [b.flush()]
        pd.testing.assert_frame_equal(pd.concat(parts), compute_bars(ticks, spec), check_exact=True)


def test_update_returns_only_closed_bars():
    b = BarBuilder("tick:3")
    ticks = STREAMS[1].iloc[:5]
    ticks = ticks.assign(session=np.ones(5, np.int8))
    assert len(b.update(ticks.iloc[:2])) == 0
    assert b.update(ticks.iloc[2:5])["trade_count"].tolist() == [3]
    assert b.flush()["trade_count"].tolist() == [2]
    assert len(b.flush()) == 0
