"""The Alerts tab of the Market indicators page: a rules form with validation, the rules (turn on/off,
remove), the fired alerts with acknowledge, and a toast for every alert fired while the page is open.

Everything goes through :mod:`core.alerts` (``add_rule``, ``list_rules``, ``set_active``,
``remove_rule``, ``history``, ``acknowledge``); a rule's errors are the
:class:`core.alert_rules.AlertRuleError` messages (they name the field), shown under the form.
Changing rules and acknowledging needs the researcher role (as the API); a researcher acts on their
own rules, an admin on anyone's. :meth:`AlertsPanel.on_event` takes the bus's
:class:`~core.events.AlertFired` / :class:`~core.events.AlertAcknowledged` (the page batches them).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import panel as pn
import param

from tickdeck.core import alerts
from tickdeck.core.alert_rules import CONDITIONS, AlertRule
from tickdeck.core.errors import TickdeckError
from tickdeck.core.events import AlertAcknowledged, AlertFired
from tickdeck.core.users import User
from tickdeck.pages.components.actions import notify
from tickdeck.pages.components.safe import md_text
from tickdeck.pages.components.services import LOCAL_ADMIN, require
from tickdeck.pages.components.ui import error_text

CODE_CSS = "code { color: #1f2328; background: #eaeef2; }"  # Panel's default code colour is too light (contrast)
HISTORY_ROWS = 200  # fired alerts listed (newest first)
RULE_COLUMNS = ["id", "name", "owner", "fires when", "cooldown s", "active"]
HISTORY_COLUMNS = ["id", "fired at", "rule", "series", "value", "message", "acknowledged"]
WATCH_HELP = ("What to watch: `indicator:TICK.NYSE` (any source; `@feed` or `@local` for one), "
              "`indicator:AAPL:vwap_dev_bps.1min` (a symbol's metric), `quality:AAPL`, `validation:*`, "
              "`deadletters`, `feed:stale`, `feed:latency`, `feed:breaker`.")


class AlertsPanel(pn.viewable.Viewer):
    """Rules form, rules and history of alerts (see the module docstring)."""

    ctx = param.Parameter(doc="tickdeck.core.context.Context: catalog (rules and history) and bus")
    user = param.ClassSelector(class_=User, default=LOCAL_ADMIN, instantiate=False,
                               doc="who is looking: changing rules and acknowledging needs the researcher role")
    last_error = param.String(default="", doc="the last action's error as shown ('' after a success)")

    def __init__(self, **params):
        super().__init__(**params)
        self.name_input = pn.widgets.TextInput(label="Rule name", placeholder="TICK extreme", width=200)
        self.watch_input = pn.widgets.TextInput(label="Watch", placeholder="indicator:TICK.NYSE", width=240)
        self.condition_input = pn.widgets.Select(label="Condition", options=list(CONDITIONS), value="above",
                                                 width=140)
        # numbers as text: validate_rule's messages name what was wrong (no spinner buttons without names)
        self.threshold_input = pn.widgets.TextInput(label="Threshold", width=120, placeholder="e.g. 1000")
        self.cooldown_input = pn.widgets.TextInput(label="Cooldown (s)", value="60", width=120)
        self.window_input = pn.widgets.TextInput(label="Window (s, change %)", width=150,
                                                 placeholder="change_pct only")
        self.webhook_input = pn.widgets.TextInput(label="Webhook URL (optional)", placeholder="https://…", width=260)
        self.add_button = pn.widgets.Button(label="Add rule", color="primary", width=120)
        self.add_button.on_click(lambda _e: self.add_rule())
        self.form_message = pn.pane.Alert("", alert_type="danger", visible=False, sizing_mode="stretch_width")
        self.rules_table = pn.widgets.Tabulator(pd.DataFrame(columns=RULE_COLUMNS), show_index=False, disabled=True,
                                                selectable=1, sizing_mode="stretch_width", layout="fit_data_fill",
                                                height=220)
        self.toggle_button = pn.widgets.Button(label="Turn selected rule on/off", width=210)
        self.remove_button = pn.widgets.Button(label="Remove selected rule", width=190)
        self.toggle_button.on_click(lambda _e: self.toggle_selected())
        self.remove_button.on_click(lambda _e: self.remove_selected())
        self.history_table = pn.widgets.Tabulator(pd.DataFrame(columns=HISTORY_COLUMNS), show_index=False,
                                                  disabled=True, selectable=1, sizing_mode="stretch_width",
                                                  layout="fit_data_fill", height=260, pagination="local",
                                                  page_size=20)
        self.ack_button = pn.widgets.Button(label="Acknowledge selected alert", width=220)
        self.ack_button.on_click(lambda _e: self.acknowledge_selected())
        self.no_rules = pn.pane.Markdown("No rules yet: add one above.")
        self.no_history = pn.pane.Markdown("No alert has fired yet.")
        self.fired = 0  # AlertFired events seen since the page opened
        self.refresh()

    # -- reads ------------------------------------------------------------------------------------
    def _owner(self) -> str | None:
        """The owner this user acts for (None: an admin, anyone's)."""
        return None if self.user.has("admin") else self.user.name

    def refresh(self) -> None:
        """Re-read rules and history."""
        self.rules = alerts.list_rules(self.ctx.catalog)
        self.rules_table.value = pd.DataFrame(
            [{"id": r.id, "name": r.name, "owner": r.owner, "fires when": r.describe(), "cooldown s": r.cooldown_s,
              "active": "on" if r.active else "off"} for r in self.rules], columns=RULE_COLUMNS)
        self.rules_table.visible = bool(self.rules)  # an empty grid has no rows (an ARIA grid needs them)
        self.no_rules.visible = not self.rules
        self.history = alerts.history(self.ctx.catalog, limit=HISTORY_ROWS)
        self.history_table.value = pd.DataFrame(
            [{"id": h.id, "fired at": _when(h.at), "rule": h.rule_name, "series": h.series,
              "value": "—" if h.value is None else f"{h.value:,.4g}", "message": h.message,
              "acknowledged": f"by {h.acked_by} {_when(h.acked_at)}" if h.acked_at else "no"}
             for h in self.history], columns=HISTORY_COLUMNS)
        self.history_table.visible = bool(self.history)
        self.no_history.visible = not self.history

    def on_event(self, ev) -> None:
        """A fired alert: a toast; fired or acknowledged: the tables again (the caller batches events)."""
        if isinstance(ev, AlertFired):
            self.fired += 1
            if self._owner() is None or ev.owner == self.user.name:
                notify(f"Alert {ev.name!r} fired: {ev.message}", "warning")

    def on_events(self, events: list) -> None:
        for ev in events:
            self.on_event(ev)
        if any(isinstance(ev, (AlertFired, AlertAcknowledged)) for ev in events):
            self.refresh()

    # -- actions ----------------------------------------------------------------------------------
    def _fail(self, e: Exception) -> None:
        text = error_text(e)
        self.last_error = text
        self.form_message.object = md_text(text)
        self.form_message.alert_type = "danger"
        self.form_message.visible = True

    def _ok(self, text: str) -> None:
        self.last_error = ""
        self.form_message.object = md_text(text)
        self.form_message.alert_type = "success"
        self.form_message.visible = True
        notify(text, "success")

    def add_rule(self) -> AlertRule | None:
        """Validate and store the form's rule for this user; errors are shown under the form."""
        try:
            require(self.user, "researcher", "adding an alert rule")
            window = self.window_input.value.strip() if self.condition_input.value == "change_pct" else None
            rule = alerts.add_rule(self.ctx.catalog, AlertRule(
                name=self.name_input.value, owner=self.user.name, watch=self.watch_input.value,
                condition=self.condition_input.value, threshold=self.threshold_input.value.strip() or None,
                cooldown_s=self.cooldown_input.value.strip() or 0.0,
                window_s=window or None,
                webhook_url=self.webhook_input.value), actor=self.user.name)
        except Exception as e:  # noqa: BLE001 - shown under the form
            self._fail(e)
            return None
        self.refresh()
        self._ok(f"Added rule {rule.id}: {rule.name} — fires when {rule.describe()}")
        return rule

    def _selected(self, table, rows: list, what: str):
        sel = table.selection
        if not sel or sel[0] >= len(rows):
            raise TickdeckError(f"select a {what} in the table first")
        return rows[sel[0]]

    def toggle_selected(self) -> None:
        try:
            require(self.user, "researcher", "changing an alert rule")
            r = self._selected(self.rules_table, self.rules, "rule")
            got = alerts.set_active(self.ctx.catalog, r.id, not r.active, actor=self.user.name, owner=self._owner())
        except Exception as e:  # noqa: BLE001
            self._fail(e)
            return
        self.refresh()
        self._ok(f"Rule {got.id} ({got.name}) is now {'on' if got.active else 'off'}")

    def remove_selected(self) -> None:
        try:
            require(self.user, "researcher", "removing an alert rule")
            r = self._selected(self.rules_table, self.rules, "rule")
            got = alerts.remove_rule(self.ctx.catalog, r.id, actor=self.user.name, owner=self._owner())
        except Exception as e:  # noqa: BLE001
            self._fail(e)
            return
        self.rules_table.selection = []
        self.refresh()
        self._ok(f"Removed rule {got.id} ({got.name})")

    def acknowledge_selected(self) -> None:
        try:
            require(self.user, "researcher", "acknowledging an alert")
            h = self._selected(self.history_table, self.history, "fired alert")
            got = alerts.acknowledge(self.ctx, h.id, self.user.name, owner=self._owner())
        except Exception as e:  # noqa: BLE001
            self._fail(e)
            return
        self.refresh()
        self._ok(f"Acknowledged alert {got.id} ({got.rule_name})")

    def __panel__(self):
        form = pn.FlexBox(self.name_input, self.watch_input, self.condition_input, self.threshold_input,
                          self.cooldown_input, self.window_input, self.webhook_input, self.add_button,
                          align_items="flex-end", sizing_mode="stretch_width")
        return pn.Column(
            pn.pane.Markdown("### New rule"), pn.pane.Markdown(WATCH_HELP, styles={"font-size": "0.9em"},
                                                               stylesheets=[CODE_CSS]),
            form, self.form_message,
            pn.pane.Markdown("### Rules"), self.no_rules, self.rules_table,
            pn.FlexBox(self.toggle_button, self.remove_button),
            pn.pane.Markdown("### Fired alerts"), self.no_history, self.history_table, self.ack_button,
            sizing_mode="stretch_width")


def _when(t: dt.datetime | None) -> str:
    if t is None:
        return ""
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
