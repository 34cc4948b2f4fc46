"""The indicator catalog: unique names, DTN symbols that map back, storable names."""

from __future__ import annotations

import datetime as dt

import pytest

from tickdeck.core import naming
from tickdeck.core.indicators import catalog as cat


def test_indicator_names_are_unique_and_grouped():
    names = [i.name for i in cat.INDICATORS.values()]
    assert len(names) == len(set(names))
    assert all(k == i.name for k, i in cat.INDICATORS.items())
    assert {i.group for i in cat.INDICATORS.values()} == set(cat.GROUPS)
    for kind in ("TICK", "TRIN", "ADV", "DEC", "UNCH", "ADV_VOL", "DEC_VOL", "NEW_HIGHS", "NEW_LOWS", "ISSUES",
                 "VOLUME"):
        for ex in cat.EXCHANGES:
            assert cat.INDICATORS[f"{kind}.{ex}"].source == "both"
            assert set(cat.INDICATORS[f"{kind}.{ex}"].dtn_symbols) == {ex}
        assert cat.INDICATORS[f"{kind}.ALL"].source == "local"
    for kind in ("AD_LINE", "UPDOWN_VOL_RATIO", "PCT_ABOVE_VWAP", "MCCLELLAN"):
        assert all(cat.INDICATORS[f"{kind}.{v}"].source == "local" for v in cat.LOCAL_VARIANTS)
    for cls in cat.OPTION_CLASSES:
        assert {f"PUT_VOL.{cls}", f"CALL_VOL.{cls}", f"PCR.{cls}"} <= set(cat.INDICATORS)
    derived = [i.name for i in cat.INDICATORS.values() if i.group == "derived"]
    assert len(derived) == 20 and "vpin" in derived and "kyle_lambda" in derived


def test_every_dtn_symbol_maps_back_to_its_indicator():
    seen = set()
    for ind in cat.INDICATORS.values():
        for variant, sym in ind.dtn_symbols.items():
            assert sym.endswith(".Z") and sym not in seen
            seen.add(sym)
            assert cat.STATISTIC_SYMBOLS[sym] == ind.name and cat.statistic_name(sym) == ind.name
            assert ind.variant == variant and cat.is_statistic_symbol(sym)
        assert set(ind.unconfirmed) <= set(ind.dtn_symbols.values())
    assert seen == set(cat.STATISTIC_SYMBOLS)
    assert cat.STATISTIC_SYMBOLS["JTNT.Z"] == "TICK.NYSE" and cat.STATISTIC_SYMBOLS["JTQT.Z"] == "TICK.NASDAQ"
    assert cat.STATISTIC_SYMBOLS["VPOET.Z"] == "PUT_VOL.EQUITY"


def test_unknown_dot_z_symbols_are_statistics_named_stat():
    assert cat.is_statistic_symbol("XYZQ.Z") and cat.statistic_name("xyzq.z") == "STAT.XYZQ.Z"
    assert not cat.is_statistic_symbol("AAPL") and not cat.is_statistic_symbol("BRK.B")


@pytest.mark.parametrize("name", sorted(cat.INDICATORS) + ["STAT.XYZQ.Z"])
def test_indicator_names_round_trip_through_naming(name):
    day = dt.date(2024, 7, 3)
    for stored in (name, "BREADTH." + name, "OPTIONS." + name, "DERIVED." + name):
        key = naming.parse_indicator_symbol(naming.indicator_symbol(stored, day))
        assert key == (stored.upper(), day)


def test_listing_exchanges_are_stable_and_cover_both_exchanges():
    assert cat.listing_exchange("AAPL") == "NASDAQ" and cat.listing_exchange("spy") == "NYSE"
    many = [f"S{i:03d}" for i in range(200)]
    ex = cat.exchange_map(many + ["JTNT.Z"])
    assert "JTNT.Z" not in ex and set(ex.values()) == set(cat.EXCHANGES)
    assert ex == cat.exchange_map(many)


def test_bad_group_or_source_is_refused():
    with pytest.raises(ValueError, match="group"):
        cat.Indicator("X.Y", "nope", "", "", "feed")
    with pytest.raises(ValueError, match="source"):
        cat.Indicator("X.Y", "breadth", "", "", "nope")


def test_derived_metric_names_are_the_engines():
    from tickdeck.core.indicators import derived  # the engine exists: a failed import fails the test
    names = [i.name for i in cat.INDICATORS.values() if i.group == "derived"]
    assert names == list(derived.METRICS) and set(names) == set(cat.DERIVED_METRIC_NAMES)
    assert all(cat.INDICATORS[n].meaning and cat.INDICATORS[n].unit for n in names)


def test_demo_universe_has_advancers_and_decliners_on_both_exchanges_so_trin_is_defined():
    import math
    import re
    from pathlib import Path

    import pandas as pd

    from tickdeck.core.sources.iqfeed_emulator import IQFeedEmulator

    script = (Path(__file__).resolve().parents[3] / "scripts" / "demo.sh").read_text()
    symbols = re.search(r'SYMBOLS="\$\{DEMO_SYMBOLS:-([A-Z ]+)\}"', script).group(1).split()
    listing = cat.exchange_map(symbols)
    assert sorted(listing.values()).count("NYSE") >= 6 and sorted(listing.values()).count("NASDAQ") >= 6
    emu = IQFeedEmulator(symbols=symbols, seed=7, ticks=3000)  # the demo's seed, small days
    for hhmm in ("09:45", "12:00", "15:30"):
        stats = emu.statistics(pd.Timestamp(f"2024-07-03 {hhmm}"))
        for trin, adv, dec in (("RINT.Z", "IINA.Z", "IIND.Z"), ("RIQT.Z", "IIQA.Z", "IIQD.Z")):
            assert stats[adv] > 0 and stats[dec] > 0, (hhmm, trin)
            assert stats[trin] is not None and math.isfinite(stats[trin]) and stats[trin] > 0, (hhmm, trin)
