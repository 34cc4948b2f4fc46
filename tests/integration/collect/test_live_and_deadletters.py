"""Live collection, Level 1 statistics, dead-letter fix/replay, and the CLI verbs."""

from __future__ import annotations

import json
import socket

import numpy as np
import pandas as pd

from tickdeck.app.cli import main
from tickdeck.core.collect import collect_days
from tickdeck.core.deadletters import fix, replay
from tickdeck.core.events import DayWritten, FeedStatusChanged
from tickdeck.core.schema import RAW_COLUMNS
from waiting import wait_for

DAY = "2024-07-01"


def _ids(ctx, sym, day):
    return ctx.store.read_day(sym, day, columns=["tick_id"])["tick_id"].to_numpy()


def _emulated_ticks(emu, sym, day) -> int:
    """How many of ``sym``'s ticks of ``day`` exist at the emulator's clock now."""
    now = emu.sim_now()
    return int(np.searchsorted(emu.day_raw(sym, day)["time"], (now - now.normalize()).value // 1000, side="right"))


def _assert_prefix_of_source(ctx, emu, sym, day):
    ids = _ids(ctx, sym, day)
    src = emu.day_raw(sym, day)["tick_id"]
    assert ids.size > 0 and np.array_equal(ids, src[:ids.size]), "stored ticks must be the source's, in order, once"


def test_live_appends_dedupes_and_resumes_without_gaps(ctx, emulator_factory, live_until):
    emu = emulator_factory(now="2024-07-03 10:00:00", speed=20, faults={"duplicate_every": 5})
    s1 = live_until(ctx, emu, lambda p: p.done >= 20, batch_seconds=0.3)  # every 5th line repeats: duplicates
    assert s1.appended["AAPL"] > 0 and s1.duplicates > 0 and s1.batches >= 1
    _assert_prefix_of_source(ctx, emu, "AAPL", "2024-07-03")
    n1 = _ids(ctx, "AAPL", "2024-07-03").size
    # ticks happen while nothing collects: the resume backfills them from history
    wait_for(lambda: _emulated_ticks(emu, "AAPL", "2024-07-03") >= n1 + 3, "3 AAPL ticks while nothing collects")
    s2 = live_until(ctx, emu, lambda p: True, batch_seconds=0.3)
    assert s2.backfills >= 1 and s2.backfilled >= 3
    for sym in ("AAPL", "MSFT"):
        _assert_prefix_of_source(ctx, emu, sym, "2024-07-03")
    assert _ids(ctx, "AAPL", "2024-07-03").size > n1
    assert ctx.catalog.tick_days("AAPL")[0].ticks == _ids(ctx, "AAPL", "2024-07-03").size


def test_live_survives_dropped_connections_without_loss(ctx, emulator_factory, live_until):
    emu = emulator_factory(now="2024-07-03 11:00:00", speed=20, faults={"drop_every": 1.0})
    states = [""]  # the Level 1 client's state changes, from its own status events (one per batch too)
    ctx.bus.listen("collection", lambda m: states.append(m.event.state) if isinstance(m.event, FeedStatusChanged) and
                   m.event.kind == "level1" and m.event.state != states[-1] else None)
    # a batch after the client was connected again: the batch with its reconnect was backfilled before
    s = live_until(ctx, emu, lambda p: states.count("connected") >= 2, symbols=("AAPL",), batch_seconds=0.3)
    assert s.backfills >= 2  # the start plus at least one reconnect
    _assert_prefix_of_source(ctx, emu, "AAPL", "2024-07-03")


def test_live_finalises_the_day_at_session_end(ctx, emulator_factory, live_until):
    emu = emulator_factory(now="2024-07-03 16:59:58", speed=2)  # early close: after-hours end 17:00
    written = []  # whole-day writes: the finalisation's
    ctx.bus.listen("collection", lambda m: written.append(m.event) if isinstance(m.event, DayWritten) else None)
    s = live_until(ctx, emu, lambda p: any(w.symbol == "AAPL" for w in written), symbols=("AAPL",),
                   batch_seconds=0.3)
    assert ("AAPL", pd.Timestamp("2024-07-03").date()) in s.finalized
    src = emu.day_raw("AAPL", "2024-07-03")
    assert np.array_equal(_ids(ctx, "AAPL", "2024-07-03"), src["tick_id"])


def test_level1_conversation_unknown_symbol_and_statistics(emulator):
    with socket.create_connection(("127.0.0.1", emulator.port_l1), timeout=10) as s:
        f = s.makefile("rb")
        s.sendall(b"S,SET PROTOCOL,6.2\r\nS,SELECT UPDATE FIELDS,Most Recent Trade,TickID\r\n"
                  b"wZZZZ\r\nwJTNT.Z\r\nwTINT.Z\r\n")
        seen = []
        while not (any(x.startswith("T,") for x in seen) and sum(x.startswith("Q,TINT.Z") for x in seen) >= 1):
            seen.append(f.readline().decode().strip())
    assert seen[0] == "S,SERVER CONNECTED"
    assert "S,CURRENT PROTOCOL,6.2" in seen and "S,CURRENT UPDATE FIELDNAMES,Symbol,Most Recent Trade,TickID" in seen
    assert "n,ZZZZ" in seen
    stats = emulator.statistics(pd.Timestamp("2024-07-03 10:00:00"))
    # recompute breadth from the universe's own ticks
    adv = dec = ticks = 0
    for sym in ("AAPL", "MSFT"):
        raw = emulator.day_raw(sym, "2024-07-03")
        j = np.searchsorted(raw["time"], 10 * 3600e6, "right")
        ticks += int(np.sign(raw["last"][j - 1] - raw["last"][j - 2]))
        adv += raw["last"][j - 1] > raw["last"][0]
        dec += raw["last"][j - 1] < raw["last"][0]
    # AAPL and MSFT are NASDAQ-listed: they count in the NASDAQ statistics only
    assert stats["TIQT.Z"] == 2 and stats["JTQT.Z"] == ticks and stats["TINT.Z"] == 0
    assert stats["VIQT.Z"] == sum(emulator.day_raw(s, "2024-07-03")["tot_vlm"][
        np.searchsorted(emulator.day_raw(s, "2024-07-03")["time"], 10 * 3600e6, "right") - 1] for s in ("AAPL", "MSFT"))
    assert stats["VCOET.Z"] > 0 and stats["VPOET.Z"] > 0
    assert (stats["RIQT.Z"] is None) == (adv == 0 or dec == 0)


def test_malformed_lines_become_dead_letters_and_fix_then_replay_restores_the_day(ctx, emulator_factory):
    emu = emulator_factory(faults={"malformed_every": 400})
    res = collect_days(ctx, ["AAPL"], [DAY], port_history=emu.port_history)
    src = emu.day_raw("AAPL", DAY)
    rows = ctx.catalog.dead_letters(status="new")
    assert len(rows) == src["tick_id"].size // 400 == src["tick_id"].size - res[0].info.ticks
    assert all(r.reason.startswith("last") and r.symbol == "AAPL" for r in rows)
    collect_days(ctx, ["AAPL"], [DAY], port_history=emu.port_history)  # again: no new dead letters
    assert len(ctx.catalog.dead_letters(status=None)) == len(rows)
    first = rows[-1]
    unfixed = replay(ctx, [first.id])
    assert unfixed.failed and unfixed.failed[0][0] == first.id
    for r in rows:
        cells = r.raw.split(",")
        cells[3] = cells[3].rstrip("x")
        fix(ctx, r.id, ",".join(cells))
    out = replay(ctx)
    assert not out.failed, out.failed[:2]
    assert sorted(out.replayed) == sorted(r.id for r in rows)
    stored = ctx.store.read_day("AAPL", DAY, columns=RAW_COLUMNS)
    for k in RAW_COLUMNS:
        assert np.array_equal(stored[k].to_numpy(), src[k], equal_nan=True), k
    assert {r.status for r in ctx.catalog.dead_letters(status=None)} == {"replayed"}
    assert replay(ctx).replayed == ()  # nothing left to replay, nothing duplicated


def test_cli_collect_and_deadletters(settings, emulator_factory, monkeypatch, capsys):
    emu = emulator_factory(faults={"malformed_every": 1000})
    monkeypatch.setenv("TICKDECK_DATA_DIR", str(settings.data_dir))
    assert main(["collect", "AAPL", "--start", DAY, "--end", "2024-07-02", "--port-history",
                 str(emu.port_history)]) == 0
    assert "collected 2 symbol-days" in capsys.readouterr().out
    assert main(["deadletters", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and rows[0]["status"] == "new" and rows[0]["raw"].split(",")[3].endswith("x")
    line = rows[0]["raw"].split(",")
    line[3] = line[3].rstrip("x")
    assert main(["deadletters", "--fix", str(rows[0]["id"]), ",".join(line)]) == 0
    assert main(["deadletters", "--replay", str(rows[0]["id"])]) == 0
    assert "replayed 1 line(s)" in capsys.readouterr().out
    assert main(["collect", "ZZZZ", "--days", "1", "--port-history", str(emu.port_history)]) == 1
    assert "does not know symbol" in capsys.readouterr().err
