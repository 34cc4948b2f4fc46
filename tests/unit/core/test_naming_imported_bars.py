"""Names of imported bar series: ``parse(format(x)) == x``, and they never look like a ``bars_`` library's."""

from __future__ import annotations

import datetime as dt

import pytest

from tickdeck.core import naming
from tickdeck.core.errors import InvalidSymbol


@pytest.mark.parametrize("family,spec", [("time", "1m"), ("tick", "100"), ("renko", "0.25"), ("volume", "10000-split")])
def test_imported_bar_symbol_round_trips(family, spec):
    name = naming.imported_bar_symbol("btc-usd", dt.date(2024, 7, 1), family, spec)
    assert naming.parse_imported_bar_symbol(name) == ("BTC-USD", dt.date(2024, 7, 1), family, spec)
    assert not naming.IMPORTED_BARS_LIBRARY.startswith(naming.BARS_PREFIX)  # the bars service never walks it


def test_a_built_bar_symbol_is_not_an_imported_one():
    with pytest.raises(InvalidSymbol, match="not an imported bar symbol"):
        naming.parse_imported_bar_symbol(naming.bar_symbol("SPY", "2024-07-01", "60s"))
