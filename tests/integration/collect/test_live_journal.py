"""The live write-ahead journal: acknowledged ticks survive a kill -9 and are never stored twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

from tickdeck.core import naming
from tickdeck.core.config import Settings
from tickdeck.core.context import Context
from tickdeck.core.live import LiveSummary, collect_live, recover_journal
from tickdeck.core.schema import RAW_COLUMNS

ROOT = Path(__file__).resolve().parents[3]
DAY = "2024-07-03"


def _ids(ctx, sym):
    return ctx.store.read_day(sym, DAY, columns=["tick_id"])["tick_id"].to_numpy()


def _run_live(ctx, emu, seconds, symbols=("AAPL", "MSFT"), **kw):
    stop = threading.Event()
    timer = threading.Timer(seconds, stop.set)
    timer.start()
    try:
        return collect_live(ctx, list(symbols), stop_event=stop, port_history=emu.port_history,
                            port_l1=emu.port_l1, finalize=False, **kw)
    finally:
        timer.cancel()


def _journal_rows(ctx) -> pd.DataFrame:
    names = ctx.store.list_series(naming.JOURNAL_LIBRARY)
    frames = [ctx.store.read_series(naming.JOURNAL_LIBRARY, n)[0] for n in names]
    return pd.concat(frames) if frames else pd.DataFrame(columns=["symbol", "tick_id"])


def test_a_clean_run_moves_every_journaled_tick_into_its_day_and_empties_the_journal(ctx, emulator_factory):
    emu = emulator_factory(now=f"{DAY} 10:00:00", speed=20)
    s = _run_live(ctx, emu, 2.5, batch_seconds=0.5, segment_seconds=0.7)  # several segments roll and go
    assert s.acknowledged > 0 and s.day_latency_ms(50) is not None
    assert s.line_latency_ms(99) <= s.day_latency_ms(100) + 1000
    assert ctx.store.list_series(naming.JOURNAL_LIBRARY) == []
    for sym in ("AAPL", "MSFT"):
        ids = _ids(ctx, sym)
        assert np.array_equal(ids, emu.day_raw(sym, DAY)["tick_id"][:ids.size])


def test_recovery_stores_journal_ticks_missing_from_the_day_once(ctx, emulator_factory):
    emu = emulator_factory(now=f"{DAY} 10:00:00", speed=20, symbols=("AAPL",))
    _run_live(ctx, emu, 1.5, symbols=("AAPL",))
    stored = _ids(ctx, "AAPL")
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


def test_killed_live_collector_loses_and_duplicates_nothing(tmp_path, emulator_factory):
    emu = emulator_factory(now=f"{DAY} 10:00:00", speed=20)
    data = tmp_path / "data"
    env = {**os.environ, "TICKDECK_DATA_DIR": str(data), "PYTHONPATH": str(ROOT), "TICKDECK_PIPELINE": "off"}
    # a long materialise interval: what is acknowledged before the kill sits in the journal only
    proc = subprocess.Popen([sys.executable, "-m", "tickdeck", "collect", "AAPL", "MSFT", "--live", "--batch-seconds",
                             "60", "--host", "127.0.0.1", "--port-history", str(emu.port_history), "--port-l1",
                             str(emu.port_l1)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    ctx = Context.open(Settings(data_dir=data))
    try:
        deadline = time.monotonic() + 90
        journal = _journal_rows(ctx)
        while len(journal) < 40:
            assert proc.poll() is None, proc.stdout.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the collector journaled nothing within 90 s"
            time.sleep(0.3)
            journal = _journal_rows(ctx)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        journal = _journal_rows(ctx)  # everything acknowledged before the kill
        s = _run_live(ctx, emu, 2.0)
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
