"""Bar units: volumes and volume thresholds in the instrument's quantity, dollar volume in currency,
the same in the batch and the streaming forms; absurd split specs fail before allocating."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from tickdeck.core.bars import BarBuilder, compute_bars, default_specs, tick_arrays
from tickdeck.core.bars.arrays import BarInputError
from tickdeck.core.bars.threshold import MAX_SPLIT_BARS, BarSpecTooFine
from tickdeck.core.instruments import InstrumentTerms
from bar_ticks import random_ticks

TICKS = random_ticks(1500, 7)
# the same trades as a crypto pair stored in 1e-8 units, and as a $50-a-point future
COIN = InstrumentTerms("crypto", 1.0, 8, None, None)
FUTURE = InstrumentTerms("futures", 50.0, 0, 1.0, 0.25)
IN_UNITS = TICKS.assign(last_sz=TICKS["last_sz"] * 1e8)


def _stream(spec, df, terms, step=97):
    b = BarBuilder(spec)
    parts = [b.update(tick_arrays(df.iloc[i:i + step], terms=terms)) for i in range(0, len(df), step)]
    return pd.concat([*parts, b.flush()])


@pytest.mark.parametrize("spec", ["volume:3000", "volume:3000:split", "dollar:300000:split", "tick:37",
                                  "volume_imbalance:ewma5:t20", "volume_runs:ewma5:t20", "time:1m"])
def test_sizes_stored_in_units_give_the_bars_of_the_quantities(spec):
    plain = compute_bars(tick_arrays(TICKS), spec)
    coins = compute_bars(tick_arrays(IN_UNITS, terms=COIN), spec)
    assert len(coins) == len(plain) and (coins.index == plain.index).all()
    for c in ("volume", "buy_volume", "sell_volume", "dollar_volume", "vwap", "close"):
        np.testing.assert_allclose(coins[c], plain[c], rtol=1e-12, err_msg=c)
    pd.testing.assert_frame_equal(_stream(spec, IN_UNITS, COIN), coins, check_exact=True)


@pytest.mark.parametrize("spec", ["volume:3000:split", "dollar:15000000:split", "volume:3000", "tick:37"])
def test_the_flushed_bar_carries_the_contract_multiplier_as_the_batch_form(spec):
    whole = compute_bars(tick_arrays(TICKS, terms=FUTURE), spec)
    streamed = _stream(spec, TICKS, FUTURE)
    pd.testing.assert_frame_equal(streamed, whole, check_exact=True)
    np.testing.assert_allclose(whole["dollar_volume"], whole["vwap"] * whole["volume"] * 50, rtol=1e-12)


def test_a_builder_refuses_a_batch_in_other_terms():
    b = BarBuilder("volume:3000")
    b.update(tick_arrays(TICKS.iloc[:10], terms=FUTURE))
    with pytest.raises(BarInputError, match="scale/units"):
        b.update(tick_arrays(TICKS.iloc[10:20]))


def test_a_split_spec_finer_than_the_limit_fails_before_allocating():
    x = tick_arrays(IN_UNITS, terms=COIN)
    fine = float(TICKS["last_sz"].sum()) / (MAX_SPLIT_BARS * 2)  # twice the limit's bar count
    with pytest.raises(BarSpecTooFine, match=f"{MAX_SPLIT_BARS:,}"):
        compute_bars(x, f"volume:{fine:g}:split")
    assert len(compute_bars(x, f"volume:{fine * 4:g}:split")) <= MAX_SPLIT_BARS  # half the limit: built


def test_default_volume_specs_are_in_quantity():
    info = dataclasses.make_dataclass("Info", ["ticks", "volume", "dollar_volume", "vwap"])(
        2000, 87.07e8, 7.6e6 * 1e8, 60_000.0)
    specs = [str(s) for s in default_specs(info, scale=1e-8, units=1e8) if s.family in ("volume", "dollar")]
    # 87.07 coins ÷ (400, 120, 40) and $5.2M ÷ (400, 120, 40), rounded to 1-2-5
    assert specs == ["volume:0.2", "volume:1", "volume:2", "dollar:10000", "dollar:50000", "dollar:100000"]
