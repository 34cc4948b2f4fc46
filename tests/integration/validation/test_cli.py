"""``tickdeck validate`` end to end on a temporary data directory."""

from __future__ import annotations

import json

import pytest

from tickdeck.app.cli import main
from tickdeck.core.config import Settings
from tickdeck.core.context import Context
from tickdeck.core.sources.synthetic import generate_into_store


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    d = tmp_path / "data"
    monkeypatch.setenv("TICKDECK_DATA_DIR", str(d))
    c = Context.open(Settings(data_dir=d))
    generate_into_store(c, ["AAPL"], "2024-07-01", "2024-07-01", ticks=3_000)
    generate_into_store(c, ["AAPL"], "2024-07-02", "2024-07-02", ticks=3_000, faults=["gaps"])
    c.close()
    return d


def test_json_prints_one_object_per_day_and_exits_1_on_fail(data_dir, capsys):
    rc = main(["validate", "AAPL", "--start", "2024-07-01", "--end", "2024-07-02", "--json"])
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert rc == 1
    assert [(d["day"], d["status"]) for d in lines] == [("2024-07-01", "PASS"), ("2024-07-02", "FAIL")]
    gap = next(i for i in lines[1]["issues"] if i["code"] == "GAP")
    assert {"validator", "severity", "code", "message"} <= set(gap) and gap["validator"] == "continuity"


def test_clean_day_exits_0_with_a_readable_report(data_dir, capsys):
    rc = main(["validate", "AAPL", "2024-07-01", "--type", "session", "--type", "continuity", "--quality"])
    out = capsys.readouterr().out
    assert rc == 0
    assert out.startswith("AAPL 2024-07-01  PASS") and "quality" in out and "storage" not in out


def test_failing_day_text_names_the_problem_and_the_fix(data_dir, capsys):
    assert main(["validate", "AAPL", "2024-07-02"]) == 1
    out = capsys.readouterr().out
    assert "HIGH     continuity/GAP [10:5" in out and "Backfill" in out


def test_bad_arguments_are_one_line_errors(data_dir, capsys):
    assert main(["validate", "AAPL"]) == 1
    assert main(["validate", "AAPL", "2024-07-06"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("tickdeck: error: give a DAY") and "no ticks stored for AAPL on 2024-07-06" in err[1]
