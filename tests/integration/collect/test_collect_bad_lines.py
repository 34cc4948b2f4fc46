"""Corrupt history lines and failing days during a collect run (real emulator over TCP, real store).

A corrupt line is a dead letter with its symbol and reason while its day (minus the line) and
every other day are stored; a day that fails is published as ``DayCollectionFailed`` and the run
goes on; the CLI ends with one line and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from tickdeck.core.collect import CollectionFailed, collect_days
from tickdeck.core.schema import RAW_COLUMNS

DAYS = ["2024-06-28", "2024-07-01", "2024-07-02"]
EVERY = 500  # the emulator corrupts every 500th line of a reply
# what the dead letter of each corruption must name first
REASON = {"price": "last:", "nonutf8": "last:", "int64-overflow": "last_sz:", "zero-price": "last: price must be > 0",
          "bad-time": "ts:", "bad-date": "ts:"}
TICK_ID_FIELD = 8  # in "RequestID,LH,ts,last,last_sz,tot_vlm,bid,ask,tick_id,..."


def _stored_raw(ctx, sym, day):
    df = ctx.store.read_day(sym, day, columns=RAW_COLUMNS)
    return {c: df[c].to_numpy() for c in RAW_COLUMNS}


def _events(ctx, type_):
    seen = []
    ctx.bus.listen("collection", lambda m: seen.append(m.event.to_dict()) if m.type == type_ else None)
    return seen


@pytest.mark.parametrize("kind", list(REASON))
def test_each_kind_of_corrupt_history_line_is_a_dead_letter_and_every_day_is_stored(ctx, emulator_factory, kind):
    """Issue 11 item 5: one corrupt line per 500 (20-digit size, Feb 30, 99:99:99, non-UTF-8, zero
    price, letter in the price) costs only that line: 6 of 6 symbol-days stored."""
    emu = emulator_factory(faults={"malformed_every": EVERY, "malformed_kind": kind})
    failed = _events(ctx, "DayCollectionFailed")
    res = collect_days(ctx, ["AAPL", "MSFT"], DAYS, port_history=emu.port_history)
    assert len(res) == 6 and failed == []
    letters = ctx.catalog.dead_letters(status=None, limit=10_000, source="iqfeed")
    for sym in ("AAPL", "MSFT"):
        mine = [r for r in letters if r.symbol == sym]
        assert all(r.reason.startswith(REASON[kind]) for r in mine), {r.reason for r in mine}
        lettered = {int(r.raw.split(",")[TICK_ID_FIELD]) for r in mine}
        expected_lettered = set()
        for day in DAYS:
            src = emu.day_raw(sym, day)
            corrupt = (np.arange(src["tick_id"].size) + 1) % EVERY == 0
            expected_lettered |= set(src["tick_id"][corrupt].tolist())
            stored = _stored_raw(ctx, sym, day)
            for k in RAW_COLUMNS:
                assert np.array_equal(stored[k], src[k][~corrupt], equal_nan=True), (sym, day, k)
        assert lettered == expected_lettered and len(mine) == len(expected_lettered) > 0


def test_a_failing_symbol_is_published_per_day_and_the_run_stores_the_others(ctx, emulator_factory):
    """Issue 11 item 5: an unknown symbol between good ones (whose replies carry 20-digit sizes)
    fails only its own days, each published as a typed ``DayCollectionFailed`` event."""
    emu = emulator_factory(faults={"malformed_every": EVERY, "malformed_kind": "int64-overflow"})
    failed = _events(ctx, "DayCollectionFailed")
    with pytest.raises(CollectionFailed) as err:
        collect_days(ctx, ["AAPL", "ZZZZ", "MSFT"], DAYS, port_history=emu.port_history)
    assert str(err.value).startswith("3 of 9 symbol-days failed, 6 stored; first: ZZZZ 2024-06-28: ")
    assert "\n" not in str(err.value)
    assert sorted((r.info.symbol, str(r.info.day)) for r in err.value.results) == \
        sorted((s, d) for s in ("AAPL", "MSFT") for d in DAYS)
    assert [(f["symbol"], f["day"], f["error"]) for f in failed] == [("ZZZZ", d, "InvalidFeedSymbol") for d in DAYS]
    assert all("does not know symbol" in f["reason"] for f in failed)
    assert {d.symbol for d in ctx.catalog.tick_days()} == {"AAPL", "MSFT"}


def test_an_unexpected_error_in_one_day_does_not_stop_the_run(ctx, emulator):
    """Issue 11 item 5: a day whose write raises something that is not a feed error (here an ingest
    rule — the real extension point — breaking on MSFT 2024-07-01) fails alone, with an event."""
    def rules(df):
        if df["symbol"].iat[0] == "MSFT" and df.index[0].date().isoformat() == "2024-07-01":
            raise ZeroDivisionError("rule broke")
        return df, []

    ctx.extras["ingest_rules"] = rules
    failed = _events(ctx, "DayCollectionFailed")
    with pytest.raises(CollectionFailed, match="1 of 6 symbol-days failed, 5 stored; first: MSFT 2024-07-01: "
                                                r"internal error \(ZeroDivisionError\): rule broke"):
        collect_days(ctx, ["MSFT", "AAPL"], DAYS, port_history=emulator.port_history)
    assert failed == [{"symbol": "MSFT", "day": "2024-07-01", "error": "ZeroDivisionError",
                       "reason": "internal error (ZeroDivisionError): rule broke"}]
    assert len(ctx.catalog.tick_days()) == 5


def test_a_reply_without_one_good_line_fails_its_day_and_keeps_its_lines(ctx, emulator_factory):
    """Issue 11 item 5: every line corrupt: the day fails (event), its lines are dead letters."""
    emu = emulator_factory(faults={"malformed_every": 1, "malformed_kind": "bad-date"}, ticks=200)
    failed = _events(ctx, "DayCollectionFailed")
    with pytest.raises(CollectionFailed, match="no usable tick line"):
        collect_days(ctx, ["AAPL"], ["2024-07-01"], port_history=emu.port_history)
    assert [(f["symbol"], f["error"]) for f in failed] == [("AAPL", "MalformedReply")]
    letters = ctx.catalog.dead_letters(status=None, limit=10_000, source="iqfeed")
    assert len(letters) == emu.day_raw("AAPL", "2024-07-01")["tick_id"].size
    assert all(r.symbol == "AAPL" and r.reason.startswith("ts:") for r in letters)


def _cli(args, tmp_path, port):
    env = {**os.environ, "TICKDECK_DATA_DIR": str(tmp_path / "cli"), "TICKDECK_FEED_PORT_HISTORY": str(port)}
    env.pop("TICKDECK_SQL_URL", None)
    env.pop("TICKDECK_ARCTIC_URI", None)
    return subprocess.run([sys.executable, "-m", "tickdeck", *args], env=env, capture_output=True, text=True,
                          timeout=240)


def test_cli_collect_survives_corrupt_lines_and_ends_failures_with_one_line(tmp_path, emulator_factory):
    """Issue 11 item 5: ``tickdeck collect`` with an unknown symbol and a 20-digit size every 500
    lines stores the good symbol's day and exits 1 with a one-line summary, no traceback."""
    emu = emulator_factory(faults={"malformed_every": EVERY, "malformed_kind": "int64-overflow"})
    env = {**os.environ, "TICKDECK_DATA_DIR": str(tmp_path / "cli"),
           "TICKDECK_FEED_PORT_HISTORY": str(emu.port_history),
           "TICKDECK_PIPELINE": "off"}  # bars and validation after the write are not what is tested here
    for k in ("TICKDECK_SQL_URL", "TICKDECK_ARCTIC_URI", "TICKDECK_FEED_HOST"):
        env.pop(k, None)
    r = subprocess.run([sys.executable, "-m", "tickdeck", "collect", "ZZZZ", "MSFT", "--start", "2024-07-01", "--end",
                        "2024-07-01"], env=env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("tickdeck: error: 1 of 2 symbol-days failed, 1 stored; first: ZZZZ 2024-07-01: IQFeed "
                           "does not know symbol 'ZZZZ'"), r.stderr
