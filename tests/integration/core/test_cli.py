"""The CLI contract for generate / catalog (exact forms other tools rely on)."""

import json
import os
import subprocess
import sys

import pytest


def tickdeck(args, data_dir, **env):
    e = {**os.environ, "TICKDECK_DATA_DIR": str(data_dir), **env}
    e.pop("TICKDECK_SQL_URL", None) if "TICKDECK_SQL_URL" not in env else None
    return subprocess.run([sys.executable, "-m", "tickdeck", *args], env=e, capture_output=True, text=True, timeout=180)


def test_generate_then_catalog_json(tmp_path):
    r = tickdeck(["generate", "AAPL", "MSFT", "--start", "2024-07-03", "--end", "2024-07-05", "--seed", "2"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "generated 4 symbol-days" in r.stdout  # 07-04 is a holiday
    r = tickdeck(["catalog", "--json"], tmp_path)
    assert r.returncode == 0, r.stderr
    out = {d["symbol"]: d for d in json.loads(r.stdout)}
    assert set(out) == {"AAPL", "MSFT"}
    a = out["AAPL"]
    assert a["days"] == 2 and [d["day"] for d in a["day_list"]] == ["2024-07-03", "2024-07-05"]
    assert a["ticks"] == sum(d["ticks"] for d in a["day_list"]) > 0
    assert a["first_time"].startswith("2024-07-03T04:") and a["last_time"].startswith("2024-07-05T")
    text = tickdeck(["catalog"], tmp_path).stdout
    assert "AAPL" in text and "MSFT" in text


def test_generate_with_faults_and_bad_arguments(tmp_path):
    r = tickdeck(["generate", "AAPL", "--start", "2024-07-02", "--end", "2024-07-02", "--faults", "gaps,duplicates"],
                 tmp_path)
    assert r.returncode == 0, r.stderr
    r = tickdeck(["generate", "AAPL", "--start", "2024-07-02", "--end", "2024-07-02", "--faults", "meteor"], tmp_path)
    assert r.returncode == 1 and r.stderr.strip().count("\n") == 0 and "meteor" in r.stderr
    r = tickdeck(["generate", "AAPL", "--start", "2024-07-06", "--end", "2024-07-07"], tmp_path)
    assert r.returncode == 1 and "no XNYS trading days" in r.stderr
    r = tickdeck(["generate", "bad/sym", "--start", "2024-07-02", "--end", "2024-07-02"], tmp_path)
    assert r.returncode == 1 and "invalid ticker" in r.stderr


def test_data_dir_is_honoured(tmp_path):
    tickdeck(["generate", "SPY", "--start", "2024-07-02", "--end", "2024-07-02"], tmp_path / "a")
    assert (tmp_path / "a" / "tickdeck.db").exists() and (tmp_path / "a" / "arctic").exists()
    assert json.loads(tickdeck(["catalog", "--json"], tmp_path / "b").stdout) == []


@pytest.mark.postgres
def test_cli_on_postgresql(tmp_path, pg_url):
    r = tickdeck(["generate", "QQQ", "--start", "2024-07-02", "--end", "2024-07-02"], tmp_path, TICKDECK_SQL_URL=pg_url)
    assert r.returncode == 0, r.stderr
    r = tickdeck(["catalog", "--json"], tmp_path, TICKDECK_SQL_URL=pg_url)
    assert [d["symbol"] for d in json.loads(r.stdout)] == ["QQQ"]
