"""Issue 13: the Python example of docs/api.md (docs/examples/api_client.py) runs against a real server and
fetches a stored day of ticks as Arrow into pandas and Polars; the example in the doc is that file."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "docs" / "examples" / "api_client.py"
DAY = "2024-07-02"


def test_the_example_fetches_a_day_as_arrow_into_pandas_and_polars(api_server):
    """Issue 13: `python docs/examples/api_client.py AAPL <day>` with TICKDECK_URL and a viewer's key prints the
    stored day's tick count for pandas and Polars and a VWAP equal to the catalog's for the day."""
    from tickdeck.core.catalog import Catalog
    from tickdeck.core.config import Settings

    env = {**os.environ, "TICKDECK_URL": api_server.url, "TICKDECK_API_KEY": api_server.keys["viewer"]}
    done = subprocess.run([sys.executable, str(EXAMPLE), "AAPL", DAY], env=env, capture_output=True, text=True,
                          timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    catalog = Catalog(Settings(data_dir=api_server.data_dir).sql_url)
    try:
        row = next(r for r in catalog.tick_days("AAPL") if r.day.isoformat() == DAY)
    finally:
        catalog.engine.dispose()
    out = done.stdout
    assert f"{row.ticks:,} ticks" in out
    assert f"pandas ({row.ticks}, " in out and f"polars ({row.ticks}, " in out
    vwaps = [float(v) for v in re.findall(r"(?:pandas|polars) (\d+\.\d+)", out.splitlines()[-1])]
    assert vwaps == [pytest.approx(row.vwap, abs=1e-6)] * 2  # printed with 6 decimals


def test_a_problem_is_reported_in_one_line(api_server):
    """Issue 13: an unknown day ends the example with the problem's status and detail, no traceback."""
    env = {**os.environ, "TICKDECK_URL": api_server.url, "TICKDECK_API_KEY": api_server.keys["viewer"]}
    done = subprocess.run([sys.executable, str(EXAMPLE), "AAPL", "2024-07-04"], env=env, capture_output=True,
                          text=True, timeout=300, cwd=ROOT)
    assert done.returncode != 0
    assert "404 Not found: no ticks stored for AAPL on 2024-07-04" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_doc_shows_the_example_file():
    """Issue 13: docs/api.md shows the runnable example file, line for line."""
    doc = (ROOT / "docs" / "api.md").read_text()
    block = doc.split("<!-- example: docs/examples/api_client.py -->", 1)[1].split("```python\n", 1)[1]
    block = block.split("```", 1)[0]
    code = EXAMPLE.read_text()
    assert block.strip() == code.strip()
