"""The Admin page's *API keys* section: list keys, create one (its secret shown once), revoke one.

Given a key control (:class:`core.users.ApiKeyControl`, injected by the server's page factory; a
notebook passes its own), it calls only that: the same verbs as ``tickdeck keys`` and
``/api/v1/keys``.
"""

from __future__ import annotations

import html

import pandas as pd
import panel as pn
import param

from tickdeck.core.users import ROLES
from tickdeck.pages.components.safe import md_text
from tickdeck.pages.components.ui import error_text

COLUMNS = ["id", "user", "name", "prefix", "role", "state", "created", "last used", "expires"]


def _when(t) -> str:
    return t.astimezone().strftime("%Y-%m-%d %H:%M") if t is not None else ""


def key_rows(keys) -> pd.DataFrame:
    """One row per key, newest first (never a secret)."""
    rows = [{"id": k.id, "user": k.user, "name": k.name, "prefix": k.prefix + "…", "role": k.role or "(user's)",
             "state": "revoked" if k.revoked_at else "expired" if k.expired else "active",
             "created": _when(k.created_at), "last used": _when(k.last_used_at), "expires": _when(k.expires_at)}
            for k in reversed(keys)]
    return pd.DataFrame(rows, columns=COLUMNS)


class ApiKeysPanel(pn.viewable.Viewer):
    """List, create and revoke API keys through an injected key control."""

    keys = param.Parameter(default=None, doc="tickdeck.core.users.ApiKeyControl (None: the section says unavailable)")
    message = param.String(default="", doc="last action's result or error")
    secret = param.String(default="", doc="the secret of the key just created (shown once)")

    def __init__(self, **params):
        super().__init__(**params)
        self.table = pn.widgets.Tabulator(pd.DataFrame(columns=COLUMNS), show_index=False, disabled=True,
                                          pagination="local", page_size=10, sizing_mode="stretch_width")
        self.user_input = pn.widgets.Select(label="User", options=[], width=160)
        self.name_input = pn.widgets.TextInput(label="Label", placeholder="e.g. notebook", width=180)
        self.role_input = pn.widgets.Select(label="Role", options=["(user's)", *ROLES], width=130)
        self.expires_input = pn.widgets.TextInput(label="Expires after", placeholder="e.g. 90d (empty: never)",
                                                  width=160)
        self.create_button = pn.widgets.Button(label="Create key", color="primary", align="end",
                                               description="create the key and show it once")
        self.create_button.on_click(lambda _e: self.create())
        self.revoke_input = pn.widgets.Select(label="Active key", options={}, width=260)
        self.revoke_button = pn.widgets.Button(label="Revoke", color="danger", align="end",
                                               description="the key stops working at once")
        self.revoke_button.on_click(lambda _e: self.revoke())
        self.message_pane = pn.pane.Alert("", alert_type="info", visible=False, sizing_mode="stretch_width")
        self.secret_pane = pn.pane.HTML("", visible=False, sizing_mode="stretch_width", css_classes=["td-key-secret"])
        self.refresh()

    def _say(self, text: str, kind: str = "info") -> None:
        self.message = text
        self.message_pane.object = md_text(text)
        self.message_pane.alert_type = kind
        self.message_pane.visible = bool(text)

    def refresh(self) -> None:
        if self.keys is None:
            self._say("No key control was given to this page.", "warning")
            return
        try:
            keys = self.keys.list()
            self.user_input.options = [u.name for u in self.keys.users()]
        except Exception as e:  # noqa: BLE001 - shown in the section
            self._say(error_text(e), "danger")
            return
        self.table.value = key_rows(keys)
        self.revoke_input.options = {f"{k.id} · {k.user} · {k.name or '(no label)'} · {k.prefix}…": k.id
                                     for k in keys if k.active}

    def create(self) -> None:
        try:
            role = None if self.role_input.value == "(user's)" else self.role_input.value
            new = self.keys.create(self.user_input.value or "", self.name_input.value, role=role,
                                   expires=self.expires_input.value)
        except Exception as e:  # noqa: BLE001 - shown in the section
            self._say(error_text(e), "danger")
            self.secret_pane.visible = False
            return
        self.secret = new.secret
        self.secret_pane.object = (f"<p>Key {new.key.id} for <b>{html.escape(new.key.user)}</b> — copy it now, it is "
                                   f"not shown again:</p><pre id='td-new-key'>{html.escape(new.secret)}</pre>")
        self.secret_pane.visible = True
        self._say(f"Created key {new.key.id} ({new.key.name or 'no label'}) for {new.key.user}.", "success")
        self.refresh()

    def revoke(self) -> None:
        key_id = self.revoke_input.value
        if key_id is None:
            self._say("Choose a key to revoke.", "warning")
            return
        try:
            key = self.keys.revoke(int(key_id))
        except Exception as e:  # noqa: BLE001 - shown in the section
            self._say(error_text(e), "danger")
            return
        self._say(f"Revoked key {key.id} ({key.name or 'no label'}) of {key.user}.", "success")
        self.refresh()

    def __panel__(self):
        return pn.Column(
            pn.pane.Markdown("Keys for the HTTP API (`Authorization: Bearer …`, docs/api.md). A key acts with "
                             "its role, never above its user's; the secret is shown once."),
            self.message_pane,
            pn.Row(self.user_input, self.name_input, self.role_input, self.expires_input, self.create_button),
            self.secret_pane, self.table, pn.Row(self.revoke_input, self.revoke_button),
            sizing_mode="stretch_width",
        )
