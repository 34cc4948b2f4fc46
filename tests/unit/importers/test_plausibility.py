"""Plausibility bounds (core/plausibility.py): one vectorised check any source can apply."""

from __future__ import annotations

import numpy as np
import pytest

from tickdeck.core.config import Settings
from tickdeck.core.errors import ConfigError
from tickdeck.core.plausibility import PRICE_HIGH, PRICE_LOW, QUOTE_BAD, SIZE_BAD, SIZE_HIGH, Bounds


def test_each_rule_has_its_code_and_words():
    """Issue 11 item 16: 1e308, inf, zero and negative prices, huge or negative sizes, broken quotes."""
    price = np.array([10.0, 1e308, np.inf, 0.0, -1.0, 10.0, 10.0, 10.0, 10.0, np.nan])
    size = np.array([1.0, 1, 1, 1, 1, 2e12, -1, 1, 1, 1])
    bid = np.array([np.nan, 1, 1, 1, 1, 1, 1, np.inf, 9.9, 1])
    b = Bounds()
    codes = b.check(price=price, size=size, bid=bid, ask=bid)
    assert codes.tolist() == [0, PRICE_HIGH, PRICE_LOW, PRICE_LOW, PRICE_LOW, SIZE_HIGH, SIZE_BAD, QUOTE_BAD, 0,
                              PRICE_LOW]
    words = b.reasons(codes, np.flatnonzero(codes), price=price, size=size, bid=bid, ask=bid)
    assert words[0] == "price 1e+308 is above the plausible maximum 1e+09 (TICKDECK_PRICE_MAX)"
    assert "TICKDECK_SIZE_MAX" in words[4] and "bid inf" in words[6]


def test_bounds_come_from_settings_and_bad_ones_name_the_variable():
    """Issue 11 item 16: TICKDECK_PRICE_MIN / _MAX / TICKDECK_SIZE_MAX are read from the environment."""
    s = Settings.from_env({"TICKDECK_PRICE_MIN": "0.5", "TICKDECK_PRICE_MAX": "1000", "TICKDECK_SIZE_MAX": "10"})
    b = Bounds.from_settings(s)
    assert (b.price_min, b.price_max, b.size_max) == (0.5, 1000.0, 10.0)
    assert b.check(price=np.array([0.5, 0.6, 1000.0, 1000.5]), size=np.array([1, 1, 11, 1])).tolist() == \
        [PRICE_LOW, 0, SIZE_HIGH, PRICE_HIGH]
    with pytest.raises(ConfigError, match="TICKDECK_PRICE_MAX"):
        Settings.from_env({"TICKDECK_PRICE_MAX": "lots"})
    with pytest.raises(ConfigError, match="TICKDECK_PRICE_MIN"):
        Bounds.from_settings(Settings(price_min=5, price_max=1))
