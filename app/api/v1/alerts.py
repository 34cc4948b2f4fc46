"""``/api/v1/alerts``: alert rules, their history and acknowledgement, through :mod:`tickdeck.core.alert_store`.

* ``GET /alerts`` (viewer) — rules, all or ``?owner=``.
* ``POST /alerts`` (researcher) — create a rule owned by the caller (an admin may name another
  owner); validated by :func:`core.alert_rules.validate_rule` (422 naming the field).
* ``DELETE /alerts/{alert_id}`` (researcher) — remove a rule of the caller's (an admin: any).
* ``GET /alerts/history`` (viewer) — firings, newest first.
* ``POST /alerts/history/{history_id}/ack`` (researcher) — acknowledge a firing of the caller's
  rules (an admin: any); publishes ``AlertAcknowledged``.

The same verbs as ``tickdeck alerts``; the firings themselves stream on ``/ws/alerts``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from tickdeck.app.api.deps import CtxDep, Principal, audit, require_role
from tickdeck.app.api.schemas import Record
from tickdeck.core import alert_store as store
from tickdeck.core.alert_rules import CONDITIONS, MAX_NAME, MAX_URL, MAX_WATCH, AlertRule

router = APIRouter(tags=["alerts"])
Viewer = Annotated[Principal, Depends(require_role("viewer"))]
Researcher = Annotated[Principal, Depends(require_role("researcher"))]
Condition = Literal[CONDITIONS]  # type: ignore[valid-type]
AlertId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the rule's id")]  # 32-bit SQL ids
HistoryId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the firing's id (alert history)")]
NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"  # user names and URLs never hold control characters
OwnerQ = Annotated[str | None, Query(max_length=64, pattern=NO_CONTROL, description="only this user's rules")]


class AlertRuleOut(Record):
    """A stored alert rule (``watch`` grammar and conditions: docs/indicators.md, "Alerts")."""

    id: int
    name: str
    owner: str
    watch: str
    condition: str
    threshold: float
    cooldown_s: float
    window_s: float | None
    active: bool
    webhook_url: str


class AlertRuleIn(BaseModel):
    """A new rule; ``owner`` only for admins (default: the caller)."""

    name: str = Field(min_length=1, max_length=MAX_NAME, examples=["tick high"])
    watch: str = Field(min_length=1, max_length=MAX_WATCH, examples=["indicator:TICK.NYSE"])
    condition: Condition = Field(examples=["above"])
    threshold: float = Field(examples=[1000.0])
    cooldown_s: float = Field(0.0, ge=0, description="suppress repeats of one series for this long")
    window_s: float | None = Field(None, gt=0, description="change_pct's window in seconds")
    active: bool = True
    webhook_url: str = Field("", max_length=MAX_URL, pattern=NO_CONTROL,
                             description="POST each firing here (http or https)")
    owner: str | None = Field(None, max_length=64, pattern=NO_CONTROL, description="admins only: the owning user")


class AlertHistoryOut(Record):
    """One firing; ``at`` is the observation's time; ``delivery`` the webhook's outcome."""

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
    delivery: Literal["none", "pending", "delivered", "failed"]
    delivery_attempts: int
    delivery_error: str


def _own(principal: Principal) -> str | None:
    """The owner a caller is limited to (None: an admin, any owner)."""
    return None if principal.user.role == "admin" else principal.user.name


@router.get("/alerts", response_model=list[AlertRuleOut], summary="alert rules")
def list_alerts(ctx: CtxDep, principal: Viewer, owner: OwnerQ = None) -> list[AlertRuleOut]:
    return [AlertRuleOut.model_validate(r) for r in store.list_rules(ctx.catalog, owner=owner)]


@router.post("/alerts", response_model=AlertRuleOut, status_code=201, summary="create an alert rule")
def create_alert(ctx: CtxDep, principal: Researcher, body: AlertRuleIn) -> AlertRuleOut:
    owner = principal.user.name
    if body.owner and body.owner != owner:
        if principal.user.role != "admin":
            from tickdeck.core.errors import PermissionDenied

            raise PermissionDenied(f"only an admin may create a rule for {body.owner!r}")
        owner = body.owner
    rule = store.add_rule(ctx.catalog, AlertRule(body.name, owner, body.watch, body.condition, body.threshold,
                                                 body.cooldown_s, body.window_s, body.active, body.webhook_url),
                          actor=principal.user.name)
    audit(principal, ctx, "api_alerts_create", f"alert:{rule.id}", {"name": rule.name, "owner": owner})
    return AlertRuleOut.model_validate(rule)


@router.delete("/alerts/{alert_id}", response_model=AlertRuleOut, summary="remove an alert rule and its history")
def delete_alert(ctx: CtxDep, principal: Researcher, alert_id: AlertId) -> AlertRuleOut:
    rule = store.remove_rule(ctx.catalog, alert_id, actor=principal.user.name, owner=_own(principal))
    audit(principal, ctx, "api_alerts_remove", f"alert:{rule.id}", {"name": rule.name})
    return AlertRuleOut.model_validate(rule)


@router.get("/alerts/history", response_model=list[AlertHistoryOut], summary="fired alerts, newest first")
def alert_history(ctx: CtxDep, principal: Viewer,
                  rule: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="only this rule's")] = None,
                  owner: OwnerQ = None,
                  unacked: Annotated[bool, Query(description="only those not acknowledged")] = False,
                  limit: Annotated[int, Query(ge=1, le=1000)] = store.HISTORY_LIMIT) -> list[AlertHistoryOut]:
    rows = store.history(ctx.catalog, rule_id=rule, owner=owner, unacked=unacked, limit=limit)
    return [AlertHistoryOut.model_validate(x) for x in rows]


@router.post("/alerts/history/{history_id}/ack", response_model=AlertHistoryOut, summary="acknowledge a fired alert")
def ack_alert(ctx: CtxDep, principal: Researcher, history_id: HistoryId) -> AlertHistoryOut:
    row = store.acknowledge(ctx, history_id, principal.user.name, owner=_own(principal))
    audit(principal, ctx, "api_alerts_ack", f"alert_history:{history_id}", {"rule": row.rule_id})
    return AlertHistoryOut.model_validate(row)
