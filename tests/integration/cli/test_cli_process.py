"""The ``tickdeck`` command as a real process: piped into a reader that stops early, and what a
cold ``tickdeck catalog`` imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _env(tmp_path) -> dict:
    env = dict(os.environ, TICKDECK_DATA_DIR=str(tmp_path / "data"), TICKDECK_PIPELINE="off",
               PYTHONPATH=str(ROOT))
    env.pop("TICKDECK_ARCTIC_URI", None)
    env.pop("TICKDECK_SQL_URL", None)
    return env


def test_output_piped_into_a_reader_that_stops_ends_without_a_traceback(tmp_path):
    # 300,000 CSV lines (~2 MB) are far more than a pipe holds: the writer meets the closed pipe
    cmd = [sys.executable, "-m", "tickdeck", "sql", "SELECT range AS n FROM range(300000)", "--csv",
           "--limit", "300000"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline() == b"n\n"
    assert proc.stdout.readline() == b"0\n"
    proc.stdout.close()  # what `| head -2` does once it has its lines
    err = proc.stderr.read().decode()
    proc.stderr.close()
    rc = proc.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert rc == 141  # as a process ended by SIGPIPE: a shell pipeline sees the usual status


def test_a_real_head_pipeline_prints_the_first_rows_and_nothing_on_stderr(tmp_path):
    cmd = (f"'{sys.executable}' -m tickdeck sql 'SELECT range AS n FROM range(300000)' --csv --limit 300000"
           " | head -n 3")
    done = subprocess.run(["bash", "-c", cmd], cwd=ROOT, env=_env(tmp_path), capture_output=True, text=True,
                          timeout=120)
    assert done.stdout == "n\n0\n1\n"
    assert done.stderr == ""


def test_cold_catalog_imports_neither_the_tick_store_nor_calendars_nor_compilers_nor_migrations(tmp_path):
    env = _env(tmp_path)
    subprocess.run([sys.executable, "-m", "tickdeck", "generate", "AAPL", "--start", "2024-07-01",
                    "--end", "2024-07-02", "--ticks", "500"], cwd=ROOT, env=env, check=True, capture_output=True)
    probe = ("import json, sys\nfrom tickdeck.app.cli import main\nrc = main(['catalog'])\n"
             "heavy = ('arcticdb', 'exchange_calendars', 'numba', 'panel', 'bokeh', 'duckdb',\n"
             "         'tickdeck.core.pipeline',\n"
             "         'alembic', 'pandas')\n"
             "print(json.dumps({'rc': rc, 'loaded': [m for m in heavy if m in sys.modules]}))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    *listing, last = done.stdout.strip().splitlines()
    assert json.loads(last) == {"rc": 0, "loaded": []}, done.stderr
    assert listing[1].split()[:3] == ["AAPL", "synthetic", "2"], listing
