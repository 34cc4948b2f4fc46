"""Validators on the real recorded samples in /work/shared/realdata (NautilusTrader test data).

The files are loaded by building raw columns directly (see ``realdata_loader.py``); what each
report finds is documented in docs/validation.md.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path

import pytest

from tickdeck.core.validation import FAIL, HIGH, validate_day

_spec = importlib.util.spec_from_file_location("realdata_loader", Path(__file__).with_name("realdata_loader.py"))
loader = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(loader)


@pytest.fixture
def loaded(ctx, realdata):
    return loader.load_all(ctx, realdata)


def test_real_samples_report_what_a_data_engineer_needs(ctx, loaded):
    reports = {k: validate_day(ctx, s, d) for k, (s, d) in loaded.items()}

    # ESH4 on 25 Dec 2023: CME closed for Christmas; the trades stored under it belong to the
    # session of 26 Dec that opened at 18:00 ET on the 25th.
    esh4 = reports["esh4_mbo"]
    issue = next(i for i in esh4.issues if i.code == "NON_TRADING_DAY")
    assert issue.severity == HIGH and "Christmas" in issue.message and esh4.status == FAIL
    assert issue.start >= "2023-12-25T18:00:00"

    # ESU4: four minutes of the 2 Jul 2024 Globex session (opened 18:00 ET on 1 Jul), so the
    # session report says the start and end of the session are missing; nothing else is wrong.
    for key in ("esu4_trades", "esu4_mbp"):
        rep = reports[key]
        assert loaded[key][1] == dt.date(2024, 7, 2)
        assert {i.code for i in rep.issues if i.severity != "LOW"} == {"LATE_FIRST_TRADE", "EARLY_LAST_TRADE"}
        assert rep.result("timezone").status == "PASS" and rep.result("continuity").status == "PASS"
    assert reports["esu4_mbp"].result("rules").metrics["crossed"] == 0

    # BTCUSDT (24/7): 46 s of trades; real price moves of a few bps are not bad prints.
    btc = reports["btcusdt"]
    assert btc.result("rules").metrics["price_jump"] == 0 and btc.status != FAIL

    # USD/JPY quote ticks: a 2.6-minute quiet spell at the start and one locked quote.
    fx = reports["usdjpy"]
    assert fx.result("rules").metrics["locked"] == 1
    assert fx.result("continuity").metrics["longest_gap_s"] > 120

    for rep in reports.values():
        assert rep.result("storage").status == "PASS"
        assert rep.result("timezone").metrics["raw_time_mismatches"] == 0
