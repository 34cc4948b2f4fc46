"""``/api/v1/alerts`` on a real uvicorn server over loopback: roles (viewer reads, researcher creates,
removes and acknowledges its own, admin all), validation as 422 naming the field, a firing from the
alerts service (fed an IndicatorUpdate on the real bus) listed in the history, streamed on /ws/alerts
and acknowledged, audit rows for every change."""

from __future__ import annotations

import json
import threading

import httpx
import numpy as np
import pandas as pd
import pytest

from services_needed import free_port
import waiting

T0 = pd.Timestamp("2024-07-02 10:00", tz="America/New_York").timestamp()
USERS = {"vera": "viewer", "rita": "researcher", "ron": "researcher", "adam": "admin"}


def wait_for(cond, what: str, timeout: float = 30.0):
    return waiting.wait_for(cond, what, timeout, poll=0.02)


@pytest.fixture
def api(tmp_path):
    import uvicorn

    from tickdeck.app.api import create_api
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context
    from tickdeck.core.users import add_user, create_api_key

    settings = Settings(data_dir=tmp_path / "data")
    ctx = Context.open(settings)
    keys = {}
    for name, role in USERS.items():
        add_user(ctx.catalog, name, role, "a-long-enough-password")
        keys[name] = create_api_key(ctx.catalog, name, "test").secret
    server = uvicorn.Server(uvicorn.Config(create_api(settings, lambda: ctx), host="127.0.0.1", port=free_port(),
                                           log_level="warning", lifespan="off"))
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    wait_for(lambda: server.started, "the server to listen")
    url = f"http://127.0.0.1:{server.config.port}"

    def client(who: str) -> httpx.Client:
        return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {keys[who]}"}, timeout=30)

    yield ctx, client, url, keys
    server.should_exit = True
    th.join(10)
    ctx.close()


RULE = {"name": "tick high", "watch": "indicator:TICK.NYSE", "condition": "above", "threshold": 1000}


def test_alert_rules_history_and_ack_over_http_by_role(api):
    from websockets.sync.client import connect

    from tickdeck.core.alert_service import AlertsService
    from tickdeck.core.events import IndicatorUpdate

    ctx, client, url, keys = api
    with client("vera") as vera, client("rita") as rita, client("ron") as ron, client("adam") as adam:
        assert vera.post("/api/v1/alerts", json=RULE).status_code == 403
        r = rita.post("/api/v1/alerts", json={**RULE, "cooldown_s": 60})
        assert r.status_code == 201, r.text
        mine = r.json()
        assert (mine["owner"], mine["watch"], mine["threshold"], mine["cooldown_s"], mine["active"]) == \
            ("rita", "indicator:TICK.NYSE", 1000.0, 60.0, True)
        for bad, words in [({"watch": "indicator:TICK.NYSEX"}, "unknown indicator 'TICK.NYSEX'"),
                           ({"webhook_url": "ftp://example.org/x"}, "must be http:// or https://"),
                           ({"name": "tick high"}, "already has an alert named 'tick high'"),
                           ({"condition": "sideways"}, "condition")]:
            r = rita.post("/api/v1/alerts", json={**RULE, "name": "other", **bad} if "name" not in bad else
                          {**RULE, **bad})
            assert r.status_code == 422 and words in r.text, (bad, r.text)
        assert rita.post("/api/v1/alerts", json={**RULE, "name": "x", "owner": "ron"}).status_code == 403
        r = adam.post("/api/v1/alerts", json={**RULE, "name": "ron tick", "owner": "ron", "active": False})
        assert r.status_code == 201 and r.json()["owner"] == "ron"
        rons = r.json()
        assert [x["name"] for x in vera.get("/api/v1/alerts").json()] == ["tick high", "ron tick"]
        assert [x["name"] for x in vera.get("/api/v1/alerts", params={"owner": "ron"}).json()] == ["ron tick"]

        svc = AlertsService(ctx, clock=lambda: T0)
        svc.start({"check_s": 0.05, "rules_poll_s": 0.1})
        try:
            wait_for(lambda: "rules" in svc.health().detail, "the alerts service to listen")
            with connect(url.replace("http", "ws") + "/ws/alerts",
                         additional_headers={"Authorization": f"Bearer {keys['vera']}"}, open_timeout=30) as ws:
                # frames are arrays of messages; "subscribed" says the stream listens to the bus from now on
                wait_for(lambda: any(m["type"] == "subscribed" for m in json.loads(ws.recv(timeout=30))),
                         "the stream to subscribe")
                ctx.bus.publish(IndicatorUpdate("breadth", "feed", "2024-07-02", int(T0 * 1e9), ("TICK.NYSE",),
                                                np.array([1250.0])))
                fired = wait_for(lambda: [m for m in json.loads(ws.recv(timeout=30)) if m["type"] == "AlertFired"],
                                 "AlertFired on /ws/alerts")  # heartbeats may come first
        finally:
            assert svc.stop(10)
        assert (fired[0]["data"]["alert_id"], fired[0]["data"]["value"]) == (mine["id"], 1250.0)

        [row] = vera.get("/api/v1/alerts/history").json()
        assert (row["rule_id"], row["value"], row["series"], row["acked_by"]) == (mine["id"], 1250.0,
                                                                                 "TICK.NYSE@feed", None)
        assert ron.post(f"/api/v1/alerts/history/{row['id']}/ack").status_code == 403
        r = rita.post(f"/api/v1/alerts/history/{row['id']}/ack")
        assert r.status_code == 200 and r.json()["acked_by"] == "rita"
        assert vera.get("/api/v1/alerts/history", params={"unacked": True}).json() == []
        assert rita.post("/api/v1/alerts/history/999999/ack").status_code == 404

        assert ron.delete(f"/api/v1/alerts/{mine['id']}").status_code == 403
        assert ron.delete(f"/api/v1/alerts/{rons['id']}").status_code == 200
        assert adam.delete(f"/api/v1/alerts/{mine['id']}").status_code == 200
        assert adam.delete(f"/api/v1/alerts/{mine['id']}").status_code == 404
        assert vera.get("/api/v1/alerts").json() == []
    actions = [(a.actor, a.action) for a in reversed(ctx.catalog.audit_log()) if "alert" in a.action]
    assert ("rita", "api_alerts_create") in actions and ("adam", "api_alerts_create") in actions
    assert ("rita", "alert_ack") in actions and ("rita", "api_alerts_ack") in actions
    assert ("ron", "api_alerts_remove") in actions and ("adam", "api_alerts_remove") in actions
