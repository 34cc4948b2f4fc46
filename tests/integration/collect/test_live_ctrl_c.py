"""Ctrl-C on `tickdeck collect --live`: a clean stop with every acknowledged tick in its day."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from tickdeck.core import naming
from tickdeck.core.config import Settings
from tickdeck.core.context import Context
from tickdeck.core.live import LiveSummary, recover_journal
from waiting import wait_for

ROOT = Path(__file__).resolve().parents[3]
DAY = "2024-07-03"


def _journal_rows(ctx) -> pd.DataFrame:
    names = ctx.store.list_series(naming.JOURNAL_LIBRARY)
    frames = [ctx.store.read_series(naming.JOURNAL_LIBRARY, n)[0] for n in names]
    return pd.concat(frames) if frames else pd.DataFrame(columns=["symbol", "tick_id"])


def _count(text: str, pattern: str) -> int:
    """The number in ``text`` matched by ``pattern`` (``N`` marks it), e.g. ``"N acknowledged"``."""
    m = re.search(pattern.replace("N", r"([\d,]+)"), text)
    assert m, f"no '{pattern}' in {text!r}"
    return int(m.group(1).replace(",", ""))


def test_ctrl_c_stops_live_collection_cleanly_with_every_acknowledged_tick_in_its_day(tmp_path, emulator_factory):
    """Issue 11 item 24: SIGINT to the collector's process group (what Ctrl-C in a terminal sends,
    so the materialiser child gets it too) ends `collect --live` with exit code 0, no traceback,
    an empty journal and every acknowledged tick stored in its day once."""
    emu = emulator_factory(now=f"{DAY} 10:00:00", speed=20)
    data = tmp_path / "data"
    env = {**os.environ, "TICKDECK_DATA_DIR": str(data), "PYTHONPATH": str(ROOT)}
    # a long materialise interval: every tick acknowledged before Ctrl-C is still in the journal then
    proc = subprocess.Popen([sys.executable, "-m", "tickdeck", "collect", "AAPL", "MSFT", "--live", "--batch-seconds",
                             "60", "--host", "127.0.0.1", "--port-history", str(emu.port_history), "--port-l1",
                             str(emu.port_l1)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)  # its own process group, as a shell gives a foreground job
    ctx = Context.open(Settings(data_dir=data))
    try:
        def both_journaled() -> bool:  # acknowledged ticks of both symbols (or the collector ended)
            j = _journal_rows(ctx)
            return proc.poll() is not None or (len(j) >= 40 and j["symbol"].nunique() == 2)

        wait_for(both_journaled, "40 journaled ticks of AAPL and MSFT", timeout=120, poll=0.3)
        assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
        journal = _journal_rows(ctx)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        out, err = out.decode(), err.decode()

        assert proc.returncode == 0, err[-3000:]
        assert "Traceback" not in err, err[-3000:]
        appended = _count(out, "appended N ticks")
        left = ctx.store.list_series(naming.JOURNAL_LIBRARY)
        if "stopped: every acknowledged tick is in its day" in out:  # the bounded stop's status line
            assert left == []  # drained
        else:  # its flush limit was reached: the status counts what the journal kept; the next start moves it
            assert _count(out, "N journal rows") == sum(len(ctx.store.read_series(naming.JOURNAL_LIBRARY, n)[0])
                                                       for n in left) > 0, out
            summary = LiveSummary()
            recover_journal(ctx, ctx.calendar(), summary)
            appended += summary.recovered
        stored = 0
        for sym in ("AAPL", "MSFT"):
            ids = ctx.store.read_day(sym, DAY, columns=["tick_id"])["tick_id"].to_numpy()
            src = emu.day_raw(sym, DAY)["tick_id"]
            assert np.array_equal(ids, src[:ids.size]), "stored ticks must be the source's, in order, once"
            assert set(journal.loc[journal["symbol"] == sym, "tick_id"]) <= set(ids)
            assert ctx.catalog.tick_days(sym)[0].ticks == ids.size
            stored += ids.size
        acknowledged, backfilled = _count(out, "N acknowledged"), _count(out, "N backfilled")
        assert acknowledged >= len(journal) and _count(out, "N recovered") == 0
        # every acknowledged tick is stored
        assert stored == appended == backfilled + acknowledged
    finally:
        if proc.poll() is None:
            proc.kill()
        ctx.close()
