"""Alert rules and history in SQL (SQLite and PostgreSQL): add/list/remove with validation and audit,
history persisted, acknowledge (once, audited, published on the real bus)."""

from __future__ import annotations

import pytest

from tickdeck.core.alert_rules import AlertNotFound, AlertRule, AlertRuleError
from tickdeck.core.alert_store import (
    acknowledge, add_rule, get_rule, history, list_rules, record_delivery, record_firing, remove_rule, rules_version,
    set_active,
)
from tickdeck.core.alerts import Firing
from tickdeck.core.errors import PermissionDenied


@pytest.fixture
def sql_ctx(sql_url, tmp_path):
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context

    c = Context.open(Settings(data_dir=tmp_path / "data", sql_url=sql_url))
    yield c
    c.close()


def tick_rule(**kw) -> AlertRule:
    return AlertRule(**{**dict(name="tick high", owner="ana", watch="indicator:TICK.NYSE", condition="above",
                               threshold=1000.0, cooldown_s=30, webhook_url="http://127.0.0.1:9/hook"), **kw})


def test_rules_are_stored_listed_and_removed_with_audit(sql_ctx):
    cat = sql_ctx.catalog
    v0 = rules_version(cat)
    r = add_rule(cat, tick_rule(), actor="ana")
    assert r.id > 0 and get_rule(cat, r.id) == r
    assert rules_version(cat) != v0
    other = add_rule(cat, tick_rule(name="trin", owner="bob", watch="indicator:TRIN.NYSE", threshold=2), actor="bob")
    assert [x.name for x in list_rules(cat)] == ["tick high", "trin"]
    assert [x.name for x in list_rules(cat, owner="bob")] == ["trin"]
    with pytest.raises(AlertRuleError, match="already has an alert named 'tick high'"):
        add_rule(cat, tick_rule(), actor="ana")
    with pytest.raises(AlertRuleError, match="unknown condition"):
        add_rule(cat, tick_rule(name="x", condition="sideways"), actor="ana")
    v1 = rules_version(cat)
    assert set_active(cat, r.id, False, actor="ana").active is False
    assert rules_version(cat) != v1
    with pytest.raises(PermissionDenied, match="belongs to 'bob'"):
        remove_rule(cat, other.id, actor="ana", owner="ana")
    remove_rule(cat, other.id, actor="admin")
    with pytest.raises(AlertNotFound, match=f"no alert rule with id {other.id}"):
        get_rule(cat, other.id)
    actions = [(a.actor, a.action, a.target) for a in reversed(cat.audit_log())]
    assert actions == [("ana", "alert_add", f"alert:{r.id}"), ("bob", "alert_add", f"alert:{other.id}"),
                       ("ana", "alert_deactivate", f"alert:{r.id}"), ("admin", "alert_remove", f"alert:{other.id}")]


def test_history_persists_firings_and_acknowledge_publishes_once(sql_ctx):
    cat = sql_ctx.catalog
    r = add_rule(cat, tick_rule(), actor="ana")
    acks = []
    sql_ctx.bus.listen("alerts", lambda m: acks.append(m.event))
    f = Firing(r, "TICK.NYSE@feed", 1100.0, 1_719_928_800.0, "tick high: indicator:TICK.NYSE = 1100")
    hid = record_firing(cat, f, delivery="pending")
    record_delivery(cat, hid, ok=False, attempts=5, error="webhook http://127.0.0.1:9/hook: HTTP 500")
    [row] = history(cat)
    assert (row.id, row.rule_id, row.value, row.series, row.threshold, row.at.timestamp()) == \
        (hid, r.id, 1100.0, "TICK.NYSE@feed", 1000.0, 1_719_928_800.0)
    assert (row.delivery, row.delivery_attempts, row.delivery_error) == \
        ("failed", 5, "webhook http://127.0.0.1:9/hook: HTTP 500")
    assert history(cat, unacked=True) == [row]
    with pytest.raises(PermissionDenied):
        acknowledge(sql_ctx, hid, "bob", owner="bob")
    acked = acknowledge(sql_ctx, hid, "ana")
    again = acknowledge(sql_ctx, hid, "carol")
    assert acked.acked_by == again.acked_by == "ana" and again.acked_at == acked.acked_at
    assert history(cat, unacked=True) == []
    assert [(a.history_id, a.alert_id, a.by) for a in acks] == [(hid, r.id, "ana")]
    assert [a.action for a in cat.audit_log()].count("alert_ack") == 1
    with pytest.raises(AlertNotFound):
        acknowledge(sql_ctx, hid + 100, "ana")
    remove_rule(cat, r.id)
    assert history(cat) == []  # history goes with its rule
