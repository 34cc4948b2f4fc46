"""``tickdeck bars build`` and ``tickdeck bars show`` against a real store."""

from __future__ import annotations

import pandas as pd
import pytest

from tickdeck.app.cli import main
from tickdeck.core.calendar import get_calendar

DAY = "2024-07-02"


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("TICKDECK_DATA_DIR", str(tmp_path / "data"))
    assert main(["generate", "AAPL", "--start", DAY, "--end", DAY, "--ticks", "4000"]) == 0
    return tmp_path


def test_build_then_show_exports_stored_bars(env, capsys):
    assert main(["bars", "build", "AAPL", "--start", DAY, "--end", DAY, "--spec", "time:5m", "--spec",
                 "volume:20000:split"]) == 0
    assert "built 2 bar series over 1 symbol-days" in capsys.readouterr().out
    out = env / "bars.csv"
    assert main(["bars", "show", "AAPL", DAY, "time:5m", "--session", "regular", "--out", str(out)]) == 0
    df = pd.read_csv(out)
    b = get_calendar("XNYS").bounds(DAY)
    assert len(df) == (b.close - b.open) // pd.Timedelta("5min")  # the regular session in 5-minute bars
    assert df["start"].iloc[0].startswith(f"{DAY} 09:30:00")


def test_show_computes_on_demand_and_prints(env, capsys):
    assert main(["bars", "show", "AAPL", DAY, "renko:0.2"]) == 0
    assert "close" in capsys.readouterr().out
    pq = env / "r.parquet"
    assert main(["bars", "show", "AAPL", DAY, "tick:100", "--session", "regular", "--out", str(pq)]) == 0
    assert pd.read_parquet(pq)["trade_count"].iloc[0] == 100


def test_bad_spec_and_missing_days_print_one_line_errors(env, capsys):
    assert main(["bars", "show", "AAPL", DAY, "volume:0"]) == 1
    assert "invalid bar spec" in capsys.readouterr().err
    assert main(["bars", "build", "AAPL", "--start", "2024-08-01", "--end", "2024-08-02"]) == 1
    assert "no ticks stored" in capsys.readouterr().err
