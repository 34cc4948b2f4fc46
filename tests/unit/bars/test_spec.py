"""Spec strings: parsing, canonical printing, storage names and rejection of bad specs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tickdeck.core import naming
from tickdeck.core.bars import FAMILIES, parse_spec
from tickdeck.core.bars.spec import BarSpec
from tickdeck.core.errors import InvalidBarSpec


@pytest.mark.parametrize("text", ["time:60s", "volume:10000", "renko:0.25", "tick_imbalance:ewma20",
                                  "volume:10000:split", "time:60s:cross", "dollar_runs:ewma5:t300",
                                  "heikin_ashi:5m", "range:0.5", "tick:500", "dollar:2500000.5"])
def test_documented_specs_print_as_written_and_round_trip(text):
    spec = parse_spec(text)
    assert str(spec) == text
    assert parse_spec(str(spec)) == spec


def test_equivalent_spellings_parse_to_one_canonical_spec():
    assert parse_spec(" Volume:1e4 ") == parse_spec("volume:10000")
    assert parse_spec("volume:10000.0:SPLIT") == parse_spec("volume:10000:split")
    assert parse_spec("tick_runs:ewma20:t1000") == parse_spec("tick_runs:ewma20")  # t1000 is the default
    assert parse_spec("time:60s:cross").cross and not parse_spec("time:60s").cross


def test_storage_name_names_the_arcticdb_symbol():
    spec = parse_spec("volume:10000:split")
    assert naming.bar_symbol("AAPL", "2024-07-02", spec.storage_name) == "AAPL/2024-07-02/10000-split"
    assert naming.bar_library(spec.family) == "bars_volume"
    assert parse_spec("tick_imbalance:ewma20").storage_name == "ewma20"


_params = {
    "time": st.one_of(st.builds(lambda n, u: f"{n}{u}", st.integers(1, 999), st.sampled_from("sm")),
                      st.integers(1, 24).map(lambda n: f"{n}h"), st.just("1d")),
    "heikin_ashi": st.builds(lambda n, u: f"{n}{u}", st.integers(1, 23), st.sampled_from("mh")),
    "tick": st.integers(1, 10**7).map(str),
    "volume": st.floats(0.001, 1e12, allow_nan=False).map(repr),
    "dollar": st.floats(0.01, 1e13, allow_nan=False).map(repr),
    "range": st.floats(1e-4, 1e4, allow_nan=False).map(repr),
    "renko": st.floats(1e-4, 1e4, allow_nan=False).map(repr),
}


@st.composite
def spec_texts(draw):
    family = draw(st.sampled_from(FAMILIES))
    if family in _params:
        param = draw(_params[family])
    else:
        param = f"ewma{draw(st.integers(1, 500))}"
    opts = []
    if draw(st.booleans()):
        opts.append("cross")
    if family in ("volume", "dollar") and draw(st.booleans()):
        opts.append("split")
    if family.endswith(("_imbalance", "_runs")) and draw(st.booleans()):
        opts.append(f"t{draw(st.integers(1, 10**6))}")
    draw(st.randoms()).shuffle(opts)
    return ":".join([family, param, *opts])


@settings(max_examples=300, deadline=None)
@given(spec_texts())
def test_parse_of_str_is_identity_for_any_valid_spec(text):
    spec = parse_spec(text)
    assert parse_spec(str(spec)) == spec
    assert str(parse_spec(str(spec))) == str(spec)
    naming.bar_symbol("X", "2024-07-02", spec.storage_name)  # always a storable name


@pytest.mark.parametrize("text,why", [
    ("candles:5m", "unknown family"), ("time", "missing parameter"), ("volume:0", "> 0"),
    ("volume:-5", "> 0"), ("dollar:nan", "finite"), ("range:inf", "finite"), ("tick:2.5", "whole"),
    ("time:90x", "interval"), ("time:2d", "longer than 1d"), ("tick_runs:20", "ewma"),
    ("tick:10:split", "split applies"), ("volume:10:frobnicate", "unknown option"),
    ("volume:10:cross:cross", "twice"), ("renko:0.5:t10", "imbalance/runs"), ("", "empty"),
])
def test_invalid_specs_raise_with_families_and_grammar(text, why):
    with pytest.raises(InvalidBarSpec) as e:
        parse_spec(text)
    msg = str(e.value)
    assert why in msg
    assert "tick_imbalance" in msg and "FAMILY:PARAM" in msg


def test_invalid_bar_spec_is_a_value_error():
    with pytest.raises(ValueError):
        parse_spec("nope:1")
    assert isinstance(parse_spec("tick:5"), BarSpec)
