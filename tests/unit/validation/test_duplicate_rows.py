"""The exact-duplicate finder behind the DUPLICATE_ROWS issue (issue 11 item 31)."""

from __future__ import annotations

import numpy as np

from tickdeck.core.validation.rules import duplicate_rows

NAN = np.nan


def test_repeats_are_found_after_their_first_occurrence_in_any_order():
    """Issue 11 item 31: same time, price, size, bid and ask is a duplicate, wherever it sits."""
    ns = np.array([5, 5, 5, 7, 5, 9], dtype=np.int64)
    last = np.array([1.0, 2.0, 1.0, 1.0, 1.0, 1.0])
    size = np.array([10, 10, 10, 10, 10, 10])
    bid = np.array([0.9, 0.9, 0.9, 0.9, 0.9, 0.9])
    ask = np.array([1.1, 1.1, 1.1, 1.1, 1.1, 1.1])
    assert duplicate_rows(ns, last, size, bid, ask).tolist() == [2, 4]


def test_nan_quotes_compare_equal_and_any_differing_field_is_not_a_duplicate():
    """Issue 11 item 31: NaN quotes (trade-only files) still match; size or quote changes do not."""
    ns = np.array([1, 1, 1, 1, 1], dtype=np.int64)
    last = np.array([1.0, 1.0, 1.0, 1.0, -0.0 + 1.0])
    size = np.array([3, 3, 4, 3, 3])
    bid = np.array([NAN, NAN, NAN, 0.5, NAN])
    ask = np.array([NAN, NAN, NAN, NAN, NAN])
    assert duplicate_rows(ns, last, size, bid, ask).tolist() == [1, 4]


def test_strictly_increasing_times_have_no_duplicates():
    ns = np.arange(1_000, dtype=np.int64)
    ones = np.ones(1_000)
    assert duplicate_rows(ns, ones, ones.astype(np.int64), ones, ones).size == 0
    assert duplicate_rows(ns[:1], ones[:1], ones[:1].astype(np.int64), ones[:1], ones[:1]).size == 0
