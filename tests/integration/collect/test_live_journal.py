"""The live write-ahead journal: acknowledged ticks survive a kill -9 and are never stored twice; a stop's
final flush is bounded and says what it left in the journal."""

from __future__ import annotations

import os
import signal
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from tickdeck.core import naming
from tickdeck.core.config import Settings
from tickdeck.core.context import Context
from tickdeck.core.live import LiveSummary, recover_journal
from tickdeck.core.schema import RAW_COLUMNS
from waiting import wait_for

ROOT = Path(__file__).resolve().parents[3]
DAY = "2024-07-03"


def _ids(ctx, sym):
    return ctx.store.read_day(sym, DAY, columns=["tick_id"])["tick_id"].to_numpy()


def _journal_rows(ctx) -> pd.DataFrame:
    names = ctx.store.list_series(naming.JOURNAL_LIBRARY)
    frames = [ctx.store.read_series(naming.JOURNAL_LIBRARY, n)[0] for n in names]
    return pd.concat(frames) if frames else pd.DataFrame(columns=["symbol", "tick_id"])


def test_a_clean_run_moves_every_journaled_tick_into_its_day_and_empties_the_journal(ctx, emulator_factory,
                                                                                      live_until):
    emu = emulator_factory(now=f"{DAY} 10:00:00", speed=20)
    seen: set[str] = set()

    def segments_rolled(p) -> bool:  # several segments were written (the materialiser deletes those it has read)
        seen.update(ctx.store.list_series(naming.JOURNAL_LIBRARY))
        return p.done > 0 and len(seen) >= 3

    s = live_until(ctx, emu, segments_rolled, batch_seconds=0.5, segment_seconds=0.7, finalize=False)
    assert s.acknowledged > 0 and s.day_latency_ms(50) is not None
    assert s.stop.complete and "every acknowledged tick is in its day" in s.stop.message
    assert s.line_latency_ms(99) <= s.day_latency_ms(100) + 1000
    assert ctx.store.list_series(naming.JOURNAL_LIBRARY) == []
    for sym in ("AAPL", "MSFT"):
        ids = _ids(ctx, sym)
        assert np.array_equal(ids, emu.day_raw(sym, DAY)["tick_id"][:ids.size])


def test_recovery_stores_journal_ticks_missing_from_the_day_once(ctx, emulator_factory, live_until):
    emu = emulator_factory(now=f"{DAY} 10:00:00", speed=20, symbols=("AAPL",))
    live_until(ctx, emu, lambda p: p.done >= 20, symbols=("AAPL",), finalize=False)
    stored = _ids(ctx, "AAPL")
    assert stored.size >= 30  # history up to 10:00 plus what was acknowledged
    src = emu.day_raw("AAPL", DAY)
    # a crashed run's journal: its last 10 ticks were already in the day, the next 5 were not
    rows = np.arange(stored.size - 10, stored.size + 5)
    frame = pd.DataFrame({"symbol": np.full(rows.size, "AAPL", dtype=object),
                          **{c: src[c][rows] for c in RAW_COLUMNS}})
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a pid that no longer runs: its segment is an earlier run's
    ctx.store.append_series(naming.JOURNAL_LIBRARY, naming.journal_symbol(DAY, f"{dead.pid}-1"), frame)
    running = naming.journal_symbol(DAY, f"{os.getppid()}-2")  # a live writer's segment is left alone
    ctx.store.append_series(naming.JOURNAL_LIBRARY, running, frame)
    summary = LiveSummary()
    touched = recover_journal(ctx, ctx.calendar(), summary)
    assert touched == [("AAPL", pd.Timestamp(DAY).date())] and summary.recovered == 5
    assert np.array_equal(_ids(ctx, "AAPL"), src["tick_id"][:stored.size + 5])
    assert ctx.store.list_series(naming.JOURNAL_LIBRARY) == [running]
    assert ctx.catalog.tick_days("AAPL")[0].ticks == stored.size + 5


def test_killed_live_collector_loses_and_duplicates_nothing(tmp_path, emulator_factory, live_until):
    emu = emulator_factory(now=f"{DAY} 10:00:00", speed=20)
    data = tmp_path / "data"
    env = {**os.environ, "TICKDECK_DATA_DIR": str(data), "PYTHONPATH": str(ROOT), "TICKDECK_PIPELINE": "off"}
    # a long materialise interval: what is acknowledged before the kill sits in the journal only
    proc = subprocess.Popen([sys.executable, "-m", "tickdeck", "collect", "AAPL", "MSFT", "--live", "--batch-seconds",
                             "60", "--host", "127.0.0.1", "--port-history", str(emu.port_history), "--port-l1",
                             str(emu.port_l1)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    ctx = Context.open(Settings(data_dir=data))
    try:
        wait_for(lambda: len(_journal_rows(ctx)) >= 40 or proc.poll() is not None, "40 journaled ticks",
                 timeout=120, poll=0.3)
        assert proc.poll() is None, proc.stdout.read().decode()[-2000:]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        journal = _journal_rows(ctx)  # everything acknowledged before the kill
        s = live_until(ctx, emu, lambda p: True, finalize=False)  # recovery runs at the start, before a batch
        assert s.recovered > 0
        assert ctx.store.list_series(naming.JOURNAL_LIBRARY) == []
        for sym in ("AAPL", "MSFT"):
            ids = _ids(ctx, sym)
            src = emu.day_raw(sym, DAY)["tick_id"]
            assert np.array_equal(ids, src[:ids.size]), "stored ticks must be the source's, in order, once"
            assert set(journal.loc[journal["symbol"] == sym, "tick_id"]) <= set(ids)
            assert ctx.catalog.tick_days(sym)[0].ticks == ids.size
    finally:
        if proc.poll() is None:
            proc.kill()
        ctx.close()


def _assert_days_are_the_source_prefix(ctx, emu, total: int) -> None:
    stored = 0
    for sym in ("AAPL", "MSFT"):
        ids = _ids(ctx, sym)
        assert np.array_equal(ids, emu.day_raw(sym, DAY)["tick_id"][:ids.size]), "the source's ticks, in order, once"
        assert ctx.catalog.tick_days(sym)[0].ticks == ids.size
        stored += ids.size
    assert stored == total


def test_a_stop_past_its_flush_limit_keeps_the_rest_in_the_journal_and_says_what(ctx, emulator_factory, live_until):
    """Issue 19: a stop is bounded. With no time left for the final flush (limit 0 s, the materialiser's
    first round 60 s away) nothing acknowledged is moved; the status counts the journal rows kept,
    and the next start moves exactly those into their days."""
    emu = emulator_factory(now=f"{DAY} 10:00:00", speed=20)
    s = live_until(ctx, emu, lambda p: p.done >= 30, batch_seconds=60, finalize=False, stop_timeout=0)
    journal = _journal_rows(ctx)
    assert s.stop.flushed_by == "collector" and not s.stop.complete and s.stop.moved == 0
    assert s.stop.left_rows == len(journal) == s.acknowledged >= 30
    assert s.stop.left_segments == len(ctx.store.list_series(naming.JOURNAL_LIBRARY)) >= 1
    assert "final flush limit of 0 s reached" in s.stop.message
    assert re.search(rf"\b{s.acknowledged:,} journal rows in {s.stop.left_segments} segment", s.stop.message)
    _assert_days_are_the_source_prefix(ctx, emu, s.backfilled)  # the days hold only what history filled in
    summary = LiveSummary()
    recover_journal(ctx, ctx.calendar(), summary)  # what the next start does first
    assert summary.recovered == s.acknowledged and ctx.store.list_series(naming.JOURNAL_LIBRARY) == []
    _assert_days_are_the_source_prefix(ctx, emu, s.backfilled + s.acknowledged)


def test_the_collector_flushes_the_journal_itself_when_the_materialiser_has_not_finished(ctx, emulator_factory,
                                                                                      live_until, monkeypatch):
    """Issue 19: when the materialiser's last round has not reported within its share of the limit
    (here none: it is killed at once, as one niced away on a busy machine would be) the collecting
    process moves every journaled tick into its day itself, and the status says who did."""
    monkeypatch.setattr("tickdeck.core.live.HANDOVER_SHARE", 0.0)
    emu = emulator_factory(now=f"{DAY} 10:00:00", speed=20)
    s = live_until(ctx, emu, lambda p: p.done >= 30, batch_seconds=60, finalize=False)
    assert s.stop.flushed_by == "collector" and s.stop.complete, s.stop.message
    assert s.stop.moved == s.acknowledged >= 30  # the materialiser's first round was 60 s away: all were left
    assert f"the collector moved {s.acknowledged:,} ticks itself" in s.stop.message
    assert ctx.store.list_series(naming.JOURNAL_LIBRARY) == []
    assert sum(s.appended.values()) == s.backfilled + s.acknowledged
    _assert_days_are_the_source_prefix(ctx, emu, s.backfilled + s.acknowledged)
