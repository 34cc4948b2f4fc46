"""Exports that other tools can read, and nothing left behind by a killed export.

Real ArcticDB in ``tmp_path``, real subprocesses killed with SIGKILL, and the four Parquet
readers a researcher uses (pandas, pyarrow, Polars, DuckDB) on hive-partitioned exports of the
real recorded samples in ``shared/realdata`` (NautilusTrader test data).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow.dataset as pads

from builders import store_synthetic
from tickdeck.core.export import TEMP_NAME, ExportRequest, export, sweep_export_temps
from tickdeck.core.schema import STORED_COLUMNS

ROOT = Path(__file__).resolve().parents[3]
ALL_COLUMNS = ["timestamp"] + STORED_COLUMNS  # the 43 columns of a stored tick day
KILL_WAIT_S = 120  # generous bound for the exporting child to reach its second slice


def _temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if TEMP_NAME.match(p.name))


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


# -- item 22: temporaries of killed exports ---------------------------------------------------
EXPORT_CHILD = """
import sys
from tickdeck.core.config import Settings
from tickdeck.core.context import Context
from tickdeck.core.export import ExportRequest, export
import tickdeck.core.export as ex
ex.READ_ROWS = 2_000  # many slices: many DuckDB COPYs, so the kill lands mid-export
ctx = Context.open(Settings(data_dir=sys.argv[1]))
out = ctx.settings.exports_dir / "killed.jsonl"
export(ctx, ExportRequest(("AAPL",), "2024-07-01", "2024-07-03", out, format="jsonl"))
"""


def test_a_killed_jsonl_export_leaves_no_temporaries_after_the_next_export(ctx, tmp_path):
    """Issue 11 item 22: kill -9 of a JSON-lines export mid-write; the next export (to another
    name) sweeps what it left in the exports directory, and nothing else there is touched."""
    store_synthetic(ctx, "AAPL", "2024-07-01", "2024-07-03", ticks=60_000)
    exports = ctx.settings.exports_dir
    exports.mkdir(parents=True, exist_ok=True)
    keep = [exports / "notes.txt", exports / "tmp_mine.jsonl", exports / ".hidden.tmp"]
    for p in keep:
        p.write_text("user file")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", EXPORT_CHILD, str(ctx.settings.data_dir)], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + KILL_WAIT_S
        while not any(n.endswith(".part") for n in _temps(exports)):  # wait on the condition: a slice in flight
            assert child.poll() is None, "the export finished before it could be killed"
            assert time.monotonic() < deadline, "the export never started writing"
            time.sleep(0.002)
        child.send_signal(signal.SIGKILL)
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    left = _temps(exports)
    assert left and all(".killed.jsonl.tmp-" in n for n in left), left
    assert not (exports / "killed.jsonl").exists()

    export(ctx, ExportRequest(("AAPL",), "2024-07-01", "2024-07-01", exports / "next.parquet"))

    assert _temps(exports) == []
    assert sorted(p.name for p in exports.iterdir()) == sorted(
        [p.name for p in keep] + ["next.parquet", "next.parquet.manifest.json"])


def test_sweep_removes_duckdbs_leftover_names_of_dead_exports_only(tmp_path):
    """Issue 11 item 22: the exact names a killed JSON-lines export leaves (found by killing one:
    DuckDB overwrites a slice through ``tmp_<part name>``) are swept; live exports' temporaries,
    look-alikes and anything outside the exports directory are not."""
    exports = tmp_path / "exports"
    exports.mkdir()
    dead, alive = _dead_pid(), os.getppid()
    stale = [f"tmp_.x.jsonl.tmp-{dead}-0a1b2c3d.part", f".x.jsonl.tmp-{dead}-0a1b2c3d.part",
             f".x.jsonl.tmp-{dead}-0a1b2c3d", f".x.jsonl.manifest.json.tmp-{dead}", f".d.old-{dead}-abcdef"]
    kept = [f"tmp_.y.jsonl.tmp-{alive}-0a1b2c3d.part", f".y.jsonl.tmp-{alive}-0a1b2c3d", "x.jsonl",
            f"tmp_x.jsonl.tmp-{dead}-0a1b2c3d", f".x.jsonl.tmp-{dead}-zz", "tmp_.notes.part"]
    for name in stale + kept:
        (exports / name).write_text("x")
    part_dir = exports / f".p.tmp-{dead}-0a1b2c3e"  # a partitioned export's directory
    (part_dir / "day=2024-07-01").mkdir(parents=True)
    outside = tmp_path / f"tmp_.x.jsonl.tmp-{dead}-0a1b2c3d.part"
    outside.write_text("not in the exports directory")

    assert sorted(p.name for p in sweep_export_temps(exports, dry_run=True)) == sorted(stale + [part_dir.name])
    removed = sweep_export_temps(exports)

    assert sorted(p.name for p in removed) == sorted(stale + [part_dir.name])
    assert sorted(p.name for p in exports.iterdir()) == sorted(kept)
    assert outside.exists()


def test_retention_sweeps_temporaries_of_killed_exports(ctx):
    """Issue 11 item 22: retention removes a dead export's temporaries from the exports directory."""
    from tickdeck.core.retention import RetentionPolicy, apply_retention

    exports = ctx.settings.exports_dir
    exports.mkdir(parents=True, exist_ok=True)
    name = f"tmp_.x.jsonl.tmp-{_dead_pid()}-0a1b2c3d.part"
    (exports / name).write_text("x")
    (exports / "report.csv").write_text("x")

    assert apply_retention(ctx, RetentionPolicy(), dry_run=True).export_temps == (name,)
    assert (exports / name).exists()
    rep = apply_retention(ctx, RetentionPolicy())

    assert rep.export_temps == (name,) and rep.to_dict()["export_temps"] == [name]
    assert sorted(p.name for p in exports.iterdir()) == ["report.csv"]


# -- item 28: hive-partitioned exports every reader can read -----------------------------------
def _store_frame(ctx, symbol: str, day) -> pd.DataFrame:
    df = ctx.store.read_day(symbol, day).reset_index()
    return df.assign(day=str(day))


def _normalise(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True).astype("datetime64[ns, UTC]")
    df["day"] = df["day"].astype(str).str[:10]
    df["symbol"] = df["symbol"].astype(str)
    for c in ("source", "ingest_id"):
        df[c] = df[c].astype(str)
    df = df[ALL_COLUMNS + ["day"]]
    return df.sort_values(["symbol", "timestamp", "tick_id"], kind="stable").reset_index(drop=True)


def _read_all_four(out: Path) -> dict[str, pd.DataFrame]:
    return {
        "pandas": pd.read_parquet(out),
        "pyarrow": pads.dataset(out, format="parquet", partitioning="hive").to_table().to_pandas(),
        "polars": pl.scan_parquet(str(out / "**" / "*.parquet"), hive_partitioning=True).collect().to_pandas(),
        "duckdb": duckdb.sql(f"SELECT * FROM read_parquet('{out}/**/*.parquet', hive_partitioning=true)").df(),
    }


def _check_all_readers(ctx, out: Path, units) -> None:
    expected = _normalise(pd.concat([_store_frame(ctx, s, d) for s, d in units], ignore_index=True))
    for reader, got in _read_all_four(out).items():
        assert set(got.columns) == set(ALL_COLUMNS) | {"day"}, reader  # 43 columns plus the partition key
        got = _normalise(got)
        assert len(got) == len(expected), reader
        for c in ALL_COLUMNS + ["day"]:
            a, b = got[c].to_numpy(), expected[c].to_numpy()
            if a.dtype.kind == "f" or b.dtype.kind == "f":
                np.testing.assert_array_equal(a.astype(np.float64), b.astype(np.float64), err_msg=f"{reader} {c}")
            else:
                assert (a.astype(b.dtype) == b).all(), f"{reader}: column {c} differs from the store"


def test_hive_export_of_all_columns_reads_back_equal_in_pandas_pyarrow_polars_and_duckdb(ctx, tmp_path):
    """Issue 11 item 28: a full-column hive export reads back in all four readers, ``date``
    (the raw trade date) intact beside the ``day`` partition key."""
    store_synthetic(ctx, "AAPL", "2024-07-01", "2024-07-02", ticks=500)
    store_synthetic(ctx, "MSFT", "2024-07-01", "2024-07-01", ticks=300)
    out = tmp_path / "hive"
    export(ctx, ExportRequest(("AAPL", "MSFT"), "2024-07-01", "2024-07-02", out, partition=True))

    assert sorted(p.name for p in out.iterdir()) == ["day=2024-07-01", "day=2024-07-02"]
    _check_all_readers(ctx, out, [("AAPL", "2024-07-01"), ("AAPL", "2024-07-02"), ("MSFT", "2024-07-01")])


def test_hive_export_keeps_raw_dates_that_differ_from_the_session_day(ctx, tmp_path, realdata):
    """Issue 11 item 28: ESH4 (CME session day 2023-12-26 holding trades dated 2023-12-25 in
    the evening) and BTCUSDT (24/7) export with the trade's own ``date`` and the session ``day``;
    every reader returns the stored values."""
    from tickdeck.core.sources.files import import_file

    esh4 = import_file(ctx, realdata / "esh4-glbx-mdp3-20231225.mbo.dbn.zst", symbol="ESH4")
    btc = import_file(ctx, realdata / "btcusdt-trades.parquet", symbol="BTCUSDT")
    units = [("ESH4", d.day) for d in esh4.days] + [("BTCUSDT", d.day) for d in btc.days]
    stored_dates = set(ctx.store.read_day("ESH4", units[0][1], columns=["date"])["date"].unique())
    assert str(units[0][1]) == "2023-12-26" and 20231225 in stored_dates  # the case that used to clash

    for sym, day in units:
        out = tmp_path / f"hive_{sym}"
        export(ctx, ExportRequest((sym,), day, day, out, partition=True))
        _check_all_readers(ctx, out, [(sym, day)])
