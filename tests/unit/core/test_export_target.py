"""`tickdeck export` checks its target before reading any day (core.export.check_target)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tickdeck.core.export import ExportError, ExportRequest, check_target

ROOT = Path(__file__).resolve().parents[3]
DAY = dt.date(2024, 7, 2)


def _req(out: Path, **kw) -> ExportRequest:
    return ExportRequest(("AAPL",), DAY, DAY, out, **kw)


def test_an_existing_directory_is_refused_for_a_single_file_and_accepted_for_partitions(tmp_path):
    with pytest.raises(ExportError, match=r"is a directory; a csv export writes one file: give a file path"):
        check_target(_req(tmp_path, format="csv"))
    with pytest.raises(ExportError, match="--partition"):
        check_target(_req(tmp_path, format="parquet"))
    check_target(_req(tmp_path, format="parquet", partition=True))
    check_target(_req(tmp_path / "new" / "deeper" / "x.csv", format="csv"))  # folders are created later


def test_a_file_is_refused_for_partitions_and_a_file_in_the_way_of_the_folder(tmp_path):
    f = tmp_path / "f"
    f.write_text("")
    with pytest.raises(ExportError, match="is a file"):
        check_target(_req(f, format="parquet", partition=True))
    with pytest.raises(ExportError, match="is not a directory"):
        check_target(_req(f / "x.csv", format="csv"))


def test_cli_refuses_a_directory_before_reading_any_day(tmp_path):
    """The data dir is empty: had the export read first it would say no day is stored."""
    target = tmp_path / "exports"
    target.mkdir()
    r = subprocess.run([sys.executable, "-m", "tickdeck", "export", "--symbols", "AAPL", "--start", "2024-07-02",
                        "--end", "2024-07-02", "--format", "csv", "--out", str(target)], cwd=ROOT,
                       env={**os.environ, "TICKDECK_DATA_DIR": str(tmp_path / "data")}, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 1
    assert "is a directory" in r.stderr and "give a file path" in r.stderr
    assert list(target.iterdir()) == []
