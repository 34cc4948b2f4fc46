"""The services panel of the monitor and admin pages: each long-running service (live collection)
with its state in words, restarts, last error and since when, and Start/Stop buttons.

It is given a services facade — in the server a :class:`core.services.ServiceControl` that the
page factories (``app/routes.py``) inject with the session's permission check; anything with
``statuses()``, ``start(name, by=…)``, ``stop(name, by=…)`` and ``allowed()`` does. A button
only records the request: the service supervisor acts on it within about a second, and the
panel shows the result at its next refresh (every :data:`REFRESH_MS` while shown, and right
after a click). Without a facade the panel says services are not available here (a notebook).
"""

from __future__ import annotations

import html
import time

import panel as pn
import param

from tickdeck.pages.components.actions import ui_action
from tickdeck.pages.components.feed import ago
from tickdeck.pages.components.ui import STATUS_CSS, SessionRefresh, badge

REFRESH_MS = 2_000  # service states change within seconds; "since" texts advance with it
STATE_KIND = {"running": "ok", "starting": "warn", "stopping": "warn", "restarting": "warn", "failed": "bad",
              "stopped": "idle"}

_CSS = """
.td-services { border-collapse:collapse; width:100%; font-family:system-ui,sans-serif; font-size:.92em; }
.td-services th, .td-services td { text-align:left; padding:4px 10px; border-bottom:1px solid #d0d7de;
                                   vertical-align:top; }
.td-services th { color:#57606a; font-weight:600; }
.td-services .td-err { color:#a40e26; max-width:420px; overflow-wrap:anywhere; }
@media (max-width: 760px) {  /* phones: one block per service, its cells one after another */
  .td-services thead { display:none; }
  .td-services tr { display:block; border-bottom:1px solid #d0d7de; padding:4px 0; }
  .td-services td { display:inline-block; border:0; padding:2px 8px 2px 0; }
  .td-services td[data-label]::before { content: attr(data-label) ": "; color:#57606a; }
}
"""


def render_statuses(statuses, now: float | None = None) -> str:
    """The panel's table as HTML (every value escaped; state as a badge with its text)."""
    if not statuses:
        return '<p class="td-muted">No services are available here.</p>'
    now = time.time() if now is None else now
    rows = []
    for s in statuses:
        since = _epoch(s.since)
        want = "" if s.desired == s.state or (s.desired == "stopped" and s.state == "failed") else \
            f'<div class="td-muted">requested: {html.escape(s.desired)}</div>'
        error = (f'<td class="td-err" data-label="Last error">{html.escape(s.last_error)}</td>' if s.last_error
                 else '<td data-label="Last error">—</td>')
        rows.append(
            f'<tr data-service="{html.escape(s.name)}" data-state="{html.escape(s.state)}" '
            f'data-desired="{html.escape(s.desired)}">'
            f"<td><b>{html.escape(s.name)}</b></td>"
            f"<td>{badge(STATE_KIND.get(s.state, 'idle'), s.describe(now), testid=f'service-{s.name}')}{want}</td>"
            f'<td data-label="Restarts">{s.restarts}</td>{error}'
            f"<td data-label=\"Since\">{ago(now - since) if since is not None else '—'}</td>"
            f'<td class="td-muted" data-label="Detail">{html.escape(s.detail) or "—"}</td></tr>')
    return ('<table class="td-services"><thead><tr><th>Service</th><th>State</th><th>Restarts</th>'
            '<th>Last error</th><th>Since</th><th>Detail</th></tr></thead><tbody>' + "".join(rows) + "</tbody></table>")


def _epoch(iso: str | None) -> float | None:
    import datetime as dt

    return None if not iso else dt.datetime.fromisoformat(iso).timestamp()


class ServicesPanel(SessionRefresh, pn.viewable.Viewer):
    """Each service's state with Start/Stop buttons (see the module docstring)."""

    refresh_ms = REFRESH_MS

    services = param.Parameter(default=None, doc="services facade (core.services.ServiceControl); None: not here")
    actor = param.String(default="page", doc="who is recorded as asking for a start or stop")
    autostart = param.Boolean(default=True, doc="refresh every REFRESH_MS while shown in a server session")
    clock = param.Callable(default=time.time, doc="seconds since the epoch, for 'since' and restart countdowns")

    def __init__(self, **params):
        super().__init__(**params)
        self.last_error = ""
        self.table = pn.pane.HTML(stylesheets=[STATUS_CSS, _CSS], sizing_mode="stretch_width")
        self.buttons = pn.Row()
        self._callback = None
        self.names = [s.name for s in self.statuses()]
        allowed = self.services is not None and self.services.allowed()
        for name in self.names:
            start = pn.widgets.Button(label=f"Start {name}", color="primary", disabled=not allowed,
                                      description=f"ask the supervisor to run the {name} service")
            stop = pn.widgets.Button(label=f"Stop {name}", color="warning", disabled=not allowed,
                                     description=f"ask the supervisor to stop the {name} service (final flush)")
            start.on_click(lambda _e, n=name: self.start(n))
            stop.on_click(lambda _e, n=name: self.stop(n))
            self.buttons.extend([start, stop])
        if self.services is not None and not allowed:
            self.buttons.append(pn.pane.HTML('<span class="td-muted">Starting and stopping services needs the '
                                             'admin role.</span>'))
        self.refresh()

    def statuses(self) -> list:
        return self.services.statuses() if self.services is not None else []

    def refresh(self) -> None:
        self.table.object = render_statuses(self.statuses(), now=self.clock())

    @ui_action
    def start(self, name: str) -> None:
        self.services.start(name, by=self.actor)
        self.refresh()

    @ui_action
    def stop(self, name: str) -> None:
        self.services.stop(name, by=self.actor)
        self.refresh()

    def __panel__(self):
        if self.autostart:
            self.start_updates()
        return pn.Column(self.table, self.buttons, sizing_mode="stretch_width")
