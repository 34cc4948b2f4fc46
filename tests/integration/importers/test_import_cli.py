"""``tickdeck import`` end to end: exit status and one-line messages for files it refuses, dead-letter
counts for rows it drops, and ``--replace``. Real ArcticDB and SQLite under ``tmp_path``."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tickdeck.app.cli import main

ROOT = Path(__file__).resolve().parents[3]
HEADER = "timestamp,price,size\n"


def _rows(n: int, start_s: int = 0) -> str:
    return "".join(f"2024-07-02T14:{30 + (start_s + i) // 60:02d}:{(start_s + i) % 60:02d}Z,{100 + i % 7},{i + 1}\n"
                   for i in range(n))


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    """``tickdeck ARGS`` in this process: (exit status, stdout, stderr)."""
    monkeypatch.setenv("TICKDECK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TICKDECK_PIPELINE", "off")

    def run(*args: str):
        rc = main(["import", *map(str, args), "--no-progress"])
        out = capsys.readouterr()
        return rc, out.out, out.err

    return run


def _one_error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("tickdeck: error: "), err
    return lines[0]


def test_a_non_utf8_csv_exits_1_with_one_line_and_no_traceback(tmp_path):
    """Issue 11 item 19: the real console entry point, in its own process."""
    p = tmp_path / "latin1.csv"
    p.write_bytes((HEADER + _rows(2)).encode() + b"2024-07-02T14:31:00Z,99,\xe9\n")
    env = {**os.environ, "TICKDECK_DATA_DIR": str(tmp_path / "data"), "TICKDECK_PIPELINE": "off"}
    proc = subprocess.run([sys.executable, "-m", "tickdeck", "import", str(p), "--symbol", "AAPL", "--no-progress"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    line = _one_error_line(proc.stderr)
    assert str(p) in line and "line 4" in line and "'size'" in line and "UTF-8" in line


@pytest.mark.parametrize("kind", ["list", "struct"])
def test_a_parquet_list_or_struct_column_exits_1_with_one_line(cli, tmp_path, kind):
    """Issue 11 item 19: nested Parquet columns are named in one line."""
    price = pa.array([[1.0], [2.0]]) if kind == "list" else pa.array([{"v": 1.0}, {"v": 2.0}])
    pq.write_table(pa.table({"timestamp": pa.array([1719930600 * 10**9] * 2, pa.timestamp("ns", tz="UTC")),
                             "price": price, "size": [1, 2]}), tmp_path / "n.parquet")
    rc, out, err = cli(tmp_path / "n.parquet", "--symbol", "AAPL")
    assert rc == 1 and "imported" not in out
    assert "column 'price' has type" in _one_error_line(err) and kind in err


def test_a_header_only_csv_exits_1(cli, tmp_path):
    """Issue 11 item 20: not "imported 0 ticks" with exit 0."""
    (tmp_path / "h.csv").write_text(HEADER)
    rc, out, err = cli(tmp_path / "h.csv", "--symbol", "AAPL")
    assert rc == 1 and "imported" not in out and "no data rows" in _one_error_line(err)


def test_a_duration_timestamp_column_exits_1(cli, tmp_path):
    """Issue 11 item 20: not read as 1970 dates and dead-lettered."""
    pq.write_table(pa.table({"timestamp": pa.array([1, 2], pa.duration("s")), "price": [1.0, 2.0], "size": [1, 2]}),
                   tmp_path / "d.parquet")
    rc, out, err = cli(tmp_path / "d.parquet", "--symbol", "AAPL")
    assert rc == 1 and "durations" in _one_error_line(err)
    assert not (tmp_path / "data" / "tmp").exists() or not any((tmp_path / "data" / "tmp").iterdir())


def test_ragged_rows_and_an_int64_size_are_counted_as_dead_letters_and_the_rest_imports(cli, tmp_path):
    """Issue 11 items 6 and 13: the file imports; the summary counts the dropped rows."""
    rows = _rows(10).splitlines()
    rows[3] += ",x"
    rows[6] = rows[6].rsplit(",", 1)[0] + ",18446744073709551616"  # 2**64
    (tmp_path / "r.csv").write_text(HEADER + "\n".join(rows) + "\n")
    rc, out, err = cli(tmp_path / "r.csv", "--symbol", "AAPL")
    assert rc == 0, err
    assert "imported 8 ticks into 1 XNYS session day(s)" in out and "2 row(s) to dead letters" in out


def test_replace_is_needed_to_replace_a_day_stored_from_another_source(cli, tmp_path):
    """Issue 11 item 12: a 3-row import over a day stored from another source is refused (exit 1,
    the day is left as it was) unless --replace is given."""
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context

    (tmp_path / "full.csv").write_text(HEADER + _rows(200))
    (tmp_path / "three.csv").write_text(HEADER + _rows(3, start_s=500))
    assert cli(tmp_path / "full.csv", "--symbol", "AAPL", "--source", "vendor")[0] == 0

    rc, out, err = cli(tmp_path / "three.csv", "--symbol", "AAPL")
    assert rc == 1
    assert "AAPL 2024-07-02  not replaced:" in err and "--replace" in err
    assert "tickdeck: error: 1 stored day(s) left as they were" in err

    def stored():
        ctx = Context.open(Settings(data_dir=tmp_path / "data"))
        try:
            return ctx.store.day_info("AAPL", dt.date(2024, 7, 2)).ticks
        finally:
            ctx.close()

    assert stored() == 200
    rc, out, err = cli(tmp_path / "three.csv", "--symbol", "AAPL", "--replace")
    assert rc == 0, err
    assert "imported 3 ticks" in out and stored() == 3
