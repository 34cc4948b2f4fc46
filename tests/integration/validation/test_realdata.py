"""Validators on the real recorded samples in /work/shared/realdata (NautilusTrader test data), each file
stored by the real importer (``tickdeck.core.sources.files.import_file``, what ``tickdeck import`` runs): its
session-day grouping, size units and quote handling are what the validators see. What each report finds is
documented in docs/validation.md."""

from __future__ import annotations

import datetime as dt

import pytest

from tickdeck.core.sources.files import import_file
from tickdeck.core.validation import FAIL, VALIDATORS, validate_day

FILES = {  # name -> (file, symbol)
    "esu4_trades": ("esu4-glbx-trades_2024-07-01T23-58.dbn.zst", "ESU4"),
    "esu4_mbp": ("esu4-glbx-mbp-1_2024-07-01T23-58.dbn.zst", "ESU4.MBP"),
    "esh4_mbo": ("esh4-glbx-mdp3-20231225.mbo.dbn.zst", "ESH4"),
    "btcusdt": ("btcusdt-trades.parquet", "BTCUSDT"),
    "usdjpy": ("usdjpy-ticks.csv", "USDJPY"),
}


@pytest.fixture(scope="module")
def reports(tmp_path_factory, realdata):
    """Every sample imported into one store, then each stored day validated: {name: (day, report)}."""
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context

    ctx = Context.open(Settings(data_dir=tmp_path_factory.mktemp("realdata") / "data"))
    try:
        out = {}
        for name, (file, symbol) in FILES.items():
            rep = import_file(ctx, realdata / file, symbol=symbol)
            assert rep.rejected == 0 and len(rep.days) == 1, (name, rep.rejected, rep.days)
            day = rep.days[0].day
            out[name] = (day, validate_day(ctx, symbol, day))
        yield out
    finally:
        ctx.close()


def _codes(report, *, low: bool = False) -> set[str]:
    return {i.code for i in report.issues if low or i.severity != "LOW"}


def test_esh4_trades_of_christmas_evening_are_a_26_december_session_without_a_late_start(reports):
    # 25 Dec 2023 has no CME session: the importer stores the trades (from 18:00 ET that evening) under the
    # 26 Dec session, which opened then, so nothing is on a non-trading day and the session did not start late.
    day, rep = reports["esh4_mbo"]
    assert day == dt.date(2023, 12, 26)
    assert "NON_TRADING_DAY" not in _codes(rep, low=True) and "LATE_FIRST_TRADE" not in _codes(rep, low=True)
    assert "EARLY_LAST_TRADE" in _codes(rep)  # the file holds the first hour of the session only
    assert rep.result("rules").metrics["crossed"] == 1  # quotes rebuilt from the order book


def test_esu4_slice_of_a_globex_session_is_late_and_early_and_otherwise_clean(reports):
    for name in ("esu4_trades", "esu4_mbp"):
        day, rep = reports[name]
        assert day == dt.date(2024, 7, 2)  # 19:58 ET on 1 Jul is in the 2 Jul session (opened 18:00 ET)
        assert _codes(rep) == {"LATE_FIRST_TRADE", "EARLY_LAST_TRADE"}, name
        assert rep.result("timezone").status == "PASS" and rep.result("continuity").status == "PASS"
    assert reports["esu4_mbp"][1].result("rules").metrics["crossed"] == 0


def test_btcusdt_real_moves_are_not_bad_prints_and_usdjpy_quotes_show_the_gap_and_locked_quote(reports):
    day, btc = reports["btcusdt"]
    assert day == dt.date(2021, 1, 8) and btc.result("rules").metrics["price_jump"] == 0 and btc.status != FAIL
    day, fx = reports["usdjpy"]
    assert day == dt.date(2013, 1, 1)
    assert fx.result("rules").metrics["locked"] == 1 and {"GAP", "LOCKED_QUOTES"} <= _codes(fx, low=True)
    assert fx.result("continuity").metrics["longest_gap_s"] > 120  # a 2.6-minute quiet spell at the start


def test_every_sample_is_stored_cleanly_and_runs_every_validator(reports):
    for name, (_, rep) in reports.items():
        assert [r.validator for r in rep.results] == list(VALIDATORS), name
        assert rep.result("storage").status == "PASS", name
        assert rep.result("timezone").metrics["raw_time_mismatches"] == 0, name
