"""``tickdeck alerts`` end to end on a temporary data dir: add (and a refused rule), list, history of a
firing the engine produced, ack, disable, remove."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tickdeck.app.cli import main


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("TICKDECK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TICKDECK_PIPELINE", "off")
    return tmp_path / "data"


def fire_through_the_engine(env, rule_id: int, value: float) -> int:
    """What the alerts service does with an IndicatorUpdate: evaluate, then store the firing."""
    from tickdeck.core.alert_store import get_rule, record_firing
    from tickdeck.core.alerts import AlertEngine
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context
    from tickdeck.core.events import IndicatorUpdate

    ctx = Context.open(Settings(data_dir=env))
    try:
        engine = AlertEngine([get_rule(ctx.catalog, rule_id)], lambda: 1_719_928_800.0)
        [f] = engine.feed(IndicatorUpdate("breadth", "local", "2024-07-02", 1_719_928_800 * 10**9, ("TICK.NYSE",),
                                          np.array([value])))
        return record_firing(ctx.catalog, f)
    finally:
        ctx.close()


def test_alerts_cli_round_trip(env, capsys):
    assert main(["alerts", "add", "tick high", "indicator:TICK.NYSE", "above", "1000", "--cooldown", "60",
                 "--owner", "ana", "--json"]) == 0
    rule = json.loads(capsys.readouterr().out)
    assert (rule["name"], rule["watch"], rule["threshold"], rule["cooldown_s"], rule["owner"]) == \
        ("tick high", "indicator:TICK.NYSE", 1000.0, 60.0, "ana")
    assert main(["alerts", "add", "bad", "indicator:TICK.NYSE", "sideways", "1"]) == 1
    assert capsys.readouterr().err.strip().startswith("tickdeck: error: unknown condition 'sideways'; conditions: ")
    assert main(["alerts", "add", "bad hook", "feed:latency", "above", "250", "--webhook", "file:///etc/passwd"]) == 1
    assert "must be http:// or https://" in capsys.readouterr().err

    assert main(["alerts", "list"]) == 0
    out = capsys.readouterr().out
    assert "tick high" in out and "indicator:TICK.NYSE above 1000" in out and "cooldown 60 s" in out

    hid = fire_through_the_engine(env, rule["id"], 1234.0)
    assert main(["alerts", "history", "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert (row["id"], row["rule_id"], row["value"], row["series"], row["acked_by"]) == \
        (hid, rule["id"], 1234.0, "TICK.NYSE@local", None)
    assert main(["alerts", "ack", str(hid), "--by", "ana"]) == 0
    assert f"alert {hid} (tick high) acknowledged by ana" in capsys.readouterr().out
    assert main(["alerts", "history", "--unacked"]) == 0
    assert capsys.readouterr().out.strip() == "no fired alerts"
    assert main(["alerts", "history"]) == 0
    assert "ana" in capsys.readouterr().out

    assert main(["alerts", "disable", str(rule["id"])]) == 0
    assert main(["alerts", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])[0]["active"] is False
    assert main(["alerts", "remove", str(rule["id"])]) == 0
    assert main(["alerts", "remove", str(rule["id"])]) == 1
    assert f"no alert rule with id {rule['id']}" in capsys.readouterr().err
    assert main(["alerts", "list"]) == 0
    assert capsys.readouterr().out.strip().endswith("no alert rules")
