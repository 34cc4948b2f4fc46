"""A backup copies a large symbol in slices from its snapshot and restores it equal, and sweeps the
snapshots a killed backup left (real ArcticDB on LMDB, SQLite, the real pipeline)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from builders import store_synthetic
from tickdeck.core import backup as bk
from tickdeck.core import naming
from tickdeck.core.config import Settings
from tickdeck.core.context import Context


def test_a_large_day_is_copied_in_slices_and_a_killed_backups_snapshot_is_swept(tmp_path, monkeypatch):
    ctx = Context.open(Settings(data_dir=tmp_path / "data"))
    try:
        store_synthetic(ctx, "AAPL", "2024-07-01", "2024-07-01", seed=3, ticks=800)
        sym, ticks = naming.tick_symbol("AAPL", "2024-07-01"), naming.TICKS_LIBRARY
        day, info = ctx.store.read_day("AAPL", "2024-07-01"), ctx.store.day_info("AAPL", "2024-07-01")
        assert len(day) > 2 * 300
        whole = bk.FrameHash()
        whole.update(day)
        # a backup killed mid-run (its process no longer exists: beyond the highest pid) and one still running
        dead_pid = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1
        dead, running = f"{bk.SNAPSHOT_PREFIX}{dead_pid}-0123abcd", f"{bk.SNAPSHOT_PREFIX}{os.getpid()}-89abcdef"
        assert ctx.store.snapshot(dead, [ticks]) == [ticks] and ctx.store.snapshot(running, [ticks]) == [ticks]

        monkeypatch.setattr(bk, "COPY_ROWS", 300)  # the 800-tick day goes in three slices
        man = bk.backup(ctx, tmp_path / "bk")
        assert ctx.store.list_snapshots(ticks) == [running]  # the dead one swept, this backup's own dropped
        entry = man.libraries[ticks][sym]
        assert entry["rows"] == len(day) and entry["sha256"] == whole.hexdigest()  # slicing changes no hash

        rep = bk.restore(Settings(data_dir=tmp_path / "new"), tmp_path / "bk")  # restored in slices too
        assert rep.symbols == man.symbols and rep.tick_days == 0
    finally:
        ctx.close()
    new = Context.open(Settings(data_dir=tmp_path / "new"))
    try:
        pd.testing.assert_frame_equal(new.store.read_day("AAPL", "2024-07-01"), day, check_freq=False)
        assert new.store.day_info("AAPL", "2024-07-01") == info  # the first slice's metadata, kept by the appends
        assert len(new.store.day_versions("AAPL", "2024-07-01")) == 1  # appends pruned their previous versions
    finally:
        new.close()
