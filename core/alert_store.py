"""Alert rules and alert history in SQL (``alert_configs``, ``alert_history``): add, list, change and
remove rules, record firings and webhook deliveries, list history, acknowledge.

Every mutation on behalf of a person (add, remove, activate, acknowledge) is written to the audit
log with its actor. Rules are validated by :func:`core.alert_rules.validate_rule` before they are
stored. :func:`rules_version` is what the alerts service polls to reload rules when they change
(any process may change them: the CLI, the API, a page).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from sqlalchemy import func, select, update

from tickdeck.core import db
from tickdeck.core.alert_rules import AlertNotFound, AlertRule, AlertRuleError, parse_watch, validate_rule
from tickdeck.core.errors import PermissionDenied

DELIVERY_STATES = ("none", "pending", "delivered", "failed")
HISTORY_LIMIT = 200  # rows a history listing returns by default (newest first)


@dataclass(frozen=True)
class AlertHistoryRow:
    """One firing as stored: ``at`` is the observation's time; ``delivery`` one of DELIVERY_STATES."""

    id: int
    rule_id: int
    rule_name: str
    owner: str
    watch: str
    series: str
    value: float | None
    threshold: float | None
    message: str
    at: dt.datetime
    acked_by: str | None
    acked_at: dt.datetime | None
    delivery: str
    delivery_attempts: int
    delivery_error: str

    def to_dict(self) -> dict:
        return {"id": self.id, "rule_id": self.rule_id, "rule_name": self.rule_name, "owner": self.owner,
                "watch": self.watch, "series": self.series, "value": self.value, "threshold": self.threshold,
                "message": self.message, "at": self.at.isoformat(),
                "acked_by": self.acked_by, "acked_at": self.acked_at.isoformat() if self.acked_at else None,
                "delivery": self.delivery, "delivery_attempts": self.delivery_attempts,
                "delivery_error": self.delivery_error}


def _rule(row: db.AlertConfig) -> AlertRule:
    return AlertRule(name=row.name, owner=row.owner, watch=row.watch, condition=row.op,
                     threshold=row.threshold if row.threshold is not None else 0.0, cooldown_s=row.cooldown_s,
                     window_s=row.window_s, active=row.enabled, webhook_url=row.webhook_url, id=row.id)


def _history(h: db.AlertHistory, c: db.AlertConfig) -> AlertHistoryRow:
    return AlertHistoryRow(h.id, c.id, c.name, c.owner, c.watch, h.series, h.value, h.threshold, h.message,
                           h.triggered_at, h.acked_by, h.acked_at, h.delivery, h.delivery_attempts,
                           h.delivery_error)


def _check_owner(rule_owner: str, owner: str | None, what: str) -> None:
    if owner is not None and rule_owner != owner:
        raise PermissionDenied(f"{what} belongs to {rule_owner!r}, not {owner!r}")


# -- rules ------------------------------------------------------------------------------------
def add_rule(catalog, rule: AlertRule, *, actor: str = "cli", indicator_names: set[str] | None = None) -> AlertRule:
    """Validate and store ``rule``; the stored rule (with its id).

    Raises
    ------
    AlertRuleError
        The rule is invalid, or its owner already has a rule of this name.
    """
    rule = validate_rule(rule, indicator_names=indicator_names)
    w = parse_watch(rule.watch)
    now = db.utcnow()
    with catalog.Session.begin() as s:
        dup = s.scalar(select(db.AlertConfig.id).where(db.AlertConfig.owner == rule.owner,
                                                       db.AlertConfig.name == rule.name))
        if dup is not None:
            raise AlertRuleError(f"{rule.owner} already has an alert named {rule.name!r} (id {dup}); "
                                 "remove it or choose another name")
        row = db.AlertConfig(name=rule.name, kind=w.kind, symbol=w.symbol[:32],
                             condition={"op": rule.condition, "threshold": rule.threshold, "window_s": rule.window_s},
                             enabled=rule.active, owner=rule.owner, watch=rule.watch, op=rule.condition,
                             threshold=rule.threshold, window_s=rule.window_s, cooldown_s=rule.cooldown_s,
                             webhook_url=rule.webhook_url, created_at=now, updated_at=now)
        s.add(row)
        s.flush()
        rule = replace(rule, id=row.id)
    catalog.audit(actor, "alert_add", f"alert:{rule.id}", {k: v for k, v in rule.to_dict().items() if k != "id"})
    return rule


def list_rules(catalog, *, owner: str | None = None, active_only: bool = False) -> list[AlertRule]:
    """Rules (all, or ``owner``'s), by id."""
    stmt = select(db.AlertConfig).order_by(db.AlertConfig.id)
    if owner is not None:
        stmt = stmt.where(db.AlertConfig.owner == owner)
    if active_only:
        stmt = stmt.where(db.AlertConfig.enabled.is_(True))
    with catalog.Session() as s:
        return [_rule(r) for r in s.scalars(stmt)]


def get_rule(catalog, rule_id: int) -> AlertRule:
    """Raises :class:`AlertNotFound`."""
    with catalog.Session() as s:
        row = s.get(db.AlertConfig, int(rule_id))
        if row is None:
            raise AlertNotFound(f"no alert rule with id {rule_id}")
        return _rule(row)


def remove_rule(catalog, rule_id: int, *, actor: str = "cli", owner: str | None = None) -> AlertRule:
    """Delete a rule and its history; ``owner`` set: only if it is theirs.

    Raises
    ------
    AlertNotFound, PermissionDenied
    """
    with catalog.Session.begin() as s:
        row = s.get(db.AlertConfig, int(rule_id))
        if row is None:
            raise AlertNotFound(f"no alert rule with id {rule_id}")
        _check_owner(row.owner, owner, f"alert rule {rule_id}")
        rule = _rule(row)
        s.delete(row)
    catalog.audit(actor, "alert_remove", f"alert:{rule.id}", {"name": rule.name, "owner": rule.owner})
    return rule


def set_active(catalog, rule_id: int, active: bool, *, actor: str = "cli", owner: str | None = None) -> AlertRule:
    """Switch a rule on or off. Raises :class:`AlertNotFound`, :class:`PermissionDenied`."""
    with catalog.Session.begin() as s:
        row = s.get(db.AlertConfig, int(rule_id))
        if row is None:
            raise AlertNotFound(f"no alert rule with id {rule_id}")
        _check_owner(row.owner, owner, f"alert rule {rule_id}")
        row.enabled, row.updated_at = bool(active), db.utcnow()
        rule = _rule(row)
    catalog.audit(actor, "alert_activate" if active else "alert_deactivate", f"alert:{rule_id}", {"name": rule.name})
    return rule


def rules_version(catalog) -> tuple:
    """Changes whenever a rule is added, changed or removed (count, last id, last update)."""
    with catalog.engine.connect() as c:
        row = c.execute(select(func.count(db.AlertConfig.id), func.max(db.AlertConfig.id),
                               func.max(db.AlertConfig.updated_at))).one()
    return tuple(row)


# -- history ----------------------------------------------------------------------------------
def record_firing(catalog, firing, *, delivery: str = "none") -> int:
    """Store a :class:`tickdeck.core.alerts.Firing` in ``alert_history``; its id. ``delivery`` pending when a
    webhook will be called. A rule removed meanwhile: :class:`AlertNotFound`."""
    at = dt.datetime.fromtimestamp(firing.at, dt.timezone.utc)
    with catalog.Session.begin() as s:
        if s.get(db.AlertConfig, firing.rule.id) is None:
            raise AlertNotFound(f"alert rule {firing.rule.id} was removed before it fired")
        row = db.AlertHistory(config_id=firing.rule.id, triggered_at=at, value=firing.value,
                              message=firing.message, series=firing.series, threshold=firing.rule.threshold,
                              delivery=delivery)
        s.add(row)
        s.flush()
        return row.id


def record_delivery(catalog, history_id: int, *, ok: bool, attempts: int, error: str = "") -> None:
    """The outcome of a firing's webhook delivery."""
    with catalog.Session.begin() as s:
        s.execute(update(db.AlertHistory).where(db.AlertHistory.id == history_id).values(
            delivery="delivered" if ok else "failed", delivery_attempts=attempts, delivery_error=error[:2000],
            delivered_at=db.utcnow() if ok else None))


def abandon_pending(catalog, ids=None, *, error: str = "the alerts service stopped before delivering it") -> int:
    """Record webhook deliveries still ``pending`` (all, or of history ``ids``) as failed; how many."""
    stmt = update(db.AlertHistory).where(db.AlertHistory.delivery == "pending")
    if ids is not None:
        ids = list(ids)
        if not ids:
            return 0
        stmt = stmt.where(db.AlertHistory.id.in_(ids))
    with catalog.Session.begin() as s:
        return s.execute(stmt.values(delivery="failed", delivery_error=error)).rowcount


def history(catalog, *, rule_id: int | None = None, owner: str | None = None, unacked: bool = False,
            limit: int = HISTORY_LIMIT) -> list[AlertHistoryRow]:
    """Firings, newest first (of one rule, of one owner's rules, only unacknowledged ones)."""
    stmt = (select(db.AlertHistory, db.AlertConfig).join(db.AlertConfig, db.AlertHistory.config_id == db.AlertConfig.id)
            .order_by(db.AlertHistory.id.desc()).limit(int(limit)))
    if rule_id is not None:
        stmt = stmt.where(db.AlertHistory.config_id == int(rule_id))
    if owner is not None:
        stmt = stmt.where(db.AlertConfig.owner == owner)
    if unacked:
        stmt = stmt.where(db.AlertHistory.acked_at.is_(None))
    with catalog.Session() as s:
        return [_history(h, c) for h, c in s.execute(stmt)]


def history_row(catalog, history_id: int) -> AlertHistoryRow:
    """Raises :class:`AlertNotFound`."""
    with catalog.Session() as s:
        got = s.execute(select(db.AlertHistory, db.AlertConfig).join(
            db.AlertConfig, db.AlertHistory.config_id == db.AlertConfig.id).where(
            db.AlertHistory.id == int(history_id))).first()
        if got is None:
            raise AlertNotFound(f"no fired alert with history id {history_id}")
        return _history(*got)


def acknowledge(ctx, history_id: int, by: str, *, owner: str | None = None) -> AlertHistoryRow:
    """Mark a fired alert acknowledged by ``by``, audit it and publish ``AlertAcknowledged``.

    Acknowledging twice keeps the first acknowledgement (and publishes nothing new).
    ``owner`` set: only a firing of that owner's rule.

    Raises
    ------
    AlertNotFound, PermissionDenied
    """
    from tickdeck.core.events import AlertAcknowledged

    now = db.utcnow()
    with ctx.catalog.Session.begin() as s:
        h = s.get(db.AlertHistory, int(history_id))
        if h is None:
            raise AlertNotFound(f"no fired alert with history id {history_id}")
        c = s.get(db.AlertConfig, h.config_id)
        _check_owner(c.owner, owner, f"fired alert {history_id}")
        first = h.acked_at is None
        if first:
            h.acked_by, h.acked_at = by, now
    row = history_row(ctx.catalog, history_id)
    if first:
        ctx.catalog.audit(by, "alert_ack", f"alert_history:{history_id}", {"rule": row.rule_id, "name": row.rule_name})
        ctx.bus.publish(AlertAcknowledged(row.rule_id, row.id, by, now.timestamp()))
    return row


def dead_letters_since(catalog, since: float) -> int:
    """Dead letters written at or after ``since`` (epoch seconds): the ``deadletters`` signal."""
    at = dt.datetime.fromtimestamp(since, dt.timezone.utc)
    with catalog.engine.connect() as c:
        return int(c.execute(select(func.count(db.DeadLetter.id)).where(db.DeadLetter.created_at >= at)).scalar_one())
