"""The alerts service on the real bus and SQL (SQLite and PostgreSQL): one firing per crossing under
the cooldown, none from an inactive rule, rules reloaded when they change, history persisted,
AlertFired published, and the webhook received by a real HTTP server on loopback, retried after a
500, a failed delivery recorded."""

from __future__ import annotations

import http.server
import json
import threading
import time

import numpy as np
import pandas as pd
import pytest

from tickdeck.core.alert_rules import AlertRule
from tickdeck.core.alert_service import AlertsService
from tickdeck.core.alert_store import add_rule, history, set_active
from tickdeck.core.events import IndicatorUpdate
import waiting

T0 = pd.Timestamp("2024-07-02 10:00", tz="America/New_York").timestamp()
FAST = {"check_s": 0.05, "rules_poll_s": 0.1, "backoff_s": 0.05, "attempts": 3}


def wait_for(cond, what: str, timeout: float = 30.0):
    return waiting.wait_for(cond, what, timeout, poll=0.02)


class Hook(http.server.BaseHTTPRequestHandler):
    """Answers each POST with the next status of ``server.statuses`` (then 200) and keeps the bodies."""

    def do_POST(self):  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        srv = self.server
        with srv.lock:
            status = srv.statuses.pop(0) if srv.statuses else 200
            srv.received.append((status, body))
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def hook():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    srv.statuses, srv.received, srv.lock = [], [], threading.Lock()
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def sql_ctx(sql_url, tmp_path):
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context

    # the test webhooks listen on loopback, which a default server refuses to call
    c = Context.open(Settings(data_dir=tmp_path / "data", sql_url=sql_url, alert_webhook_allow_private=True))
    yield c
    c.close()


@pytest.fixture
def service(sql_ctx):
    started = []

    def start(**params):
        svc = AlertsService(sql_ctx, clock=lambda: T0)
        svc.start({**FAST, **params})
        started.append(svc)
        wait_for(lambda: "rules" in svc.health().detail, "the service to listen")
        return svc

    yield start
    for svc in started:
        assert svc.stop(10)


def publish_tick(ctx, value: float, t: float) -> None:
    ctx.bus.publish(IndicatorUpdate("breadth", "feed", "2024-07-02", int(t * 1e9), ("TICK.NYSE", "TRIN.NYSE"),
                                    np.array([value, 1.0])))


def rule(**kw) -> AlertRule:
    return AlertRule(**{**dict(name="tick high", owner="ana", watch="indicator:TICK.NYSE", condition="above",
                               threshold=1000.0), **kw})


def test_one_firing_per_crossing_under_the_cooldown_and_none_when_inactive(sql_ctx, service, hook):
    cat = sql_ctx.catalog
    url = f"http://127.0.0.1:{hook.server_port}/hook"
    r = add_rule(cat, rule(cooldown_s=45, webhook_url=url))
    off = add_rule(cat, rule(name="inactive", active=False))
    fired = []
    sql_ctx.bus.listen("alerts", lambda m: fired.append(m.event))
    hook.statuses = [500]  # the first POST fails: retried with backoff
    svc = service()
    # crossings at 10 s, 40 s (within the 45 s cooldown: suppressed) and 60 s
    for i, v in enumerate([900, 1100, 1200, 900, 1100, 900, 1100]):
        publish_tick(sql_ctx, v, T0 + 10 * i)
    rows = wait_for(lambda: len(h := history(cat)) >= 2 and h, "two firings")
    wait_for(lambda: all(x.delivery != "pending" for x in history(cat)), "the webhook deliveries")
    assert svc.health().alive
    rows = history(cat)
    assert [(x.rule_id, x.value, x.at.timestamp() - T0) for x in reversed(rows)] == \
        [(r.id, 1100.0, 10.0), (r.id, 1100.0, 60.0)]
    assert all(x.rule_id != off.id for x in rows)
    assert [(e.history_id, e.alert_id, e.value, e.at) for e in fired] == \
        [(x.id, r.id, 1100.0, x.at.timestamp()) for x in reversed(rows)]
    # the two deliveries run side by side: one of them met the 500 and was retried
    assert sorted((x.delivery, x.delivery_attempts) for x in rows) == [("delivered", 1), ("delivered", 2)]
    assert sorted(s for s, _ in hook.received) == [200, 200, 500]
    delivered = {b["history_id"]: b for s, b in hook.received if s == 200}
    assert sorted(delivered) == sorted(x.id for x in rows)
    body = delivered[rows[-1].id]
    assert (body["alert_id"], body["name"], body["owner"], body["watch"], body["value"], body["threshold"],
            body["series"], body["at"]) == (r.id, "tick high", "ana", "indicator:TICK.NYSE", 1100.0, 1000.0,
                                            "TICK.NYSE@feed", T0 + 10)


def test_rules_reload_when_they_change(sql_ctx, service):
    cat = sql_ctx.catalog
    svc = service()
    r = add_rule(cat, rule())
    wait_for(lambda: [x.id for x in svc.engine.rules] == [r.id], "the new rule to load")
    publish_tick(sql_ctx, 1100, T0)
    wait_for(lambda: len(history(cat)) == 1, "the firing")
    set_active(cat, r.id, False)
    wait_for(lambda: not svc.engine.rules[0].active, "the deactivation to load")
    publish_tick(sql_ctx, 900, T0 + 1)
    publish_tick(sql_ctx, 1100, T0 + 2)
    sentinel = add_rule(cat, rule(name="sentinel", watch="indicator:TRIN.NYSE", threshold=0.5))
    wait_for(lambda: len(svc.engine.rules) == 2, "the sentinel rule to load")
    publish_tick(sql_ctx, 1200, T0 + 3)  # TRIN 1.0 > 0.5: the sentinel fires; messages are handled in order
    rows = wait_for(lambda: len(h := history(cat)) == 2 and h, "the sentinel's firing")
    assert [x.rule_id for x in rows] == [sentinel.id, r.id]


def test_failed_webhook_delivery_is_recorded_and_does_not_block_evaluation(sql_ctx, service, hook):
    cat = sql_ctx.catalog
    add_rule(cat, rule(webhook_url=f"http://127.0.0.1:{hook.server_port}/down"))
    hook.statuses = [503, 503, 503]
    service()
    publish_tick(sql_ctx, 1100, T0)
    [row] = wait_for(lambda: (h := history(cat)) and h[0].delivery == "failed" and h, "the delivery to fail")
    assert row.delivery_attempts == 3
    assert "HTTP 503" in row.delivery_error
    assert [s for s, _ in hook.received] == [503, 503, 503]


def test_stopping_during_webhook_backoff_is_prompt_and_records_the_delivery_failed(sql_ctx, hook):
    cat = sql_ctx.catalog
    add_rule(cat, rule(webhook_url=f"http://127.0.0.1:{hook.server_port}/down"))
    hook.statuses = [503] * 10
    svc = AlertsService(sql_ctx, clock=lambda: T0)
    svc.start({**FAST, "backoff_s": 30.0, "attempts": 5})  # the first retry would wait 30 s
    wait_for(lambda: "rules" in svc.health().detail, "the service to listen")
    publish_tick(sql_ctx, 1100, T0)
    wait_for(lambda: hook.received, "the first POST")
    t = time.monotonic()
    assert svc.stop(10)
    assert time.monotonic() - t < 5
    [row] = history(cat)
    assert (row.delivery, row.delivery_attempts) == ("failed", 1)
    assert row.delivery_error.endswith("HTTP 503 Service Unavailable; not retried: the alerts service stopped")


def test_a_4xx_answer_is_not_retried(sql_ctx, service, hook):
    cat = sql_ctx.catalog
    add_rule(cat, rule(webhook_url=f"http://127.0.0.1:{hook.server_port}/gone"))
    hook.statuses = [404, 200]
    service()
    publish_tick(sql_ctx, 1100, T0)
    [row] = wait_for(lambda: (h := history(cat)) and h[0].delivery != "pending" and h, "the delivery")
    assert (row.delivery, row.delivery_attempts) == ("failed", 1) and "HTTP 404" in row.delivery_error
    assert [s for s, _ in hook.received] == [404]


def test_supervised_alerts_service_started_by_name(sql_ctx):
    from tickdeck.core.services import ServiceControl, Supervisor

    cat = sql_ctx.catalog
    r = add_rule(cat, rule())
    sup = Supervisor(sql_ctx, poll_s=0.1, stop_timeout=10)
    sup.start()
    control = ServiceControl(sql_ctx)
    try:
        control.start("alerts", by="test")
        wait_for(lambda: "1 rules" in control.status("alerts").detail, "the supervised service to load its rules",
                 timeout=60)
        publish_tick(sql_ctx, 1100, T0)
        [row] = wait_for(lambda: history(cat), "the firing")
        assert row.rule_id == r.id
        control.stop("alerts", by="test")
        wait_for(lambda: control.status("alerts").state == "stopped", "the stop")
    finally:
        sup.shutdown(timeout=10)


def test_a_webhook_to_an_internal_address_is_refused_unless_allowed(sql_url, tmp_path, hook):
    """A rule's webhook cannot make the server call its own network: by default a URL that resolves
    to a loopback, private or link-local address is refused at delivery (recorded, not retried, the
    server never contacted); redirects are not followed."""
    from tickdeck.core.alert_service import WebhookError, check_webhook_target, post_json
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context

    for url in ("http://127.0.0.1:9/x", "http://169.254.169.254/latest/meta-data", "http://10.1.2.3/x",
                "http://[::1]:8080/x", "http://localhost/x", "http://0.0.0.0/x"):
        with pytest.raises(WebhookError, match="internal address") as e:
            check_webhook_target(url)
        assert not e.value.retry
    check_webhook_target("https://93.184.216.34/hook")  # a public address passes the check
    ctx = Context.open(Settings(data_dir=tmp_path / "data", sql_url=sql_url))
    try:
        add_rule(ctx.catalog, rule(webhook_url=f"http://127.0.0.1:{hook.server_port}/hook"))
        svc = AlertsService(ctx, clock=lambda: T0)
        svc.start(FAST)
        try:
            wait_for(lambda: "rules" in svc.health().detail, "the service to listen")
            publish_tick(ctx, 1100, T0)
            [row] = wait_for(lambda: (h := history(ctx.catalog)) and h[0].delivery == "failed" and h,
                             "the delivery to be refused")
        finally:
            assert svc.stop(10)
        assert row.delivery_attempts == 1 and "internal address" in row.delivery_error
        assert hook.received == []
    finally:
        ctx.close()
    hook.statuses = [302]  # allowed explicitly, a redirect answer is an error, not followed
    with pytest.raises(WebhookError, match="302"):
        post_json(f"http://127.0.0.1:{hook.server_port}/hook", {"x": 1}, allow_private=True)
