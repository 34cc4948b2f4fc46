"""Tickers are ASCII: non-ASCII input is rejected before upper-casing could fold it into another ticker."""

from __future__ import annotations

import pytest

from tickdeck.core import naming
from tickdeck.core.errors import InvalidSymbol


@pytest.mark.parametrize("raw,char", [
    ("ſpy", "ſ"),  # LATIN SMALL LETTER LONG S: "ſ".upper() == "S"
    ("ıbm", "ı"),  # LATIN SMALL LETTER DOTLESS I: "ı".upper() == "I"
    ("ﬀ", "ﬀ"),  # LATIN SMALL LIGATURE FF: upper-cases to "FF"
    ("AAPL\u00a0", "\u00a0"),  # a no-break space, which strip() would remove
    ("ＡＡＰＬ", "Ａ"),  # fullwidth letters
])
def test_non_ascii_ticker_is_rejected_naming_the_character(raw, char):
    """Issue 11 item 26: ``ſpy`` must not become SPY, ``ıbm`` not IBM; the error names the character."""
    with pytest.raises(InvalidSymbol) as e:
        naming.normalize_ticker(raw)
    msg = str(e.value)
    assert repr(char) in msg and "not ASCII" in msg
    assert f"U+{ord(char):04X}" in msg


def test_non_ascii_tickers_never_reach_storage_names():
    """Issue 11 item 26: the storage-name builders reject them too (they normalise through the same check)."""
    with pytest.raises(InvalidSymbol):
        naming.tick_symbol("ſpy", "2024-07-01")
    with pytest.raises(InvalidSymbol):
        naming.parse_tick_symbol("ıbm/2024-07-01")


@pytest.mark.parametrize("raw,expected", [(" spy ", "SPY"), ("brk.b", "BRK.B"), ("es=f", "ES=F"), ("jtnt.z", "JTNT.Z")])
def test_ascii_tickers_are_still_upper_cased(raw, expected):
    assert naming.normalize_ticker(raw) == expected


def test_trailing_newline_is_not_part_of_a_ticker():
    with pytest.raises(InvalidSymbol):
        naming.normalize_ticker("SPY\nX")
