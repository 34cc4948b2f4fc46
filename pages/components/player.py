"""The monitor's replay player bar: choose stored days of some symbols, then play, pause, change the
speed and seek, with the position, the ticks delivered and the state of the supervised ``replay``
service (:mod:`core.replay_service`).

Every button calls :class:`core.replay_service.ReplayControl` on the injected services facade (in
the server a :class:`core.services.ServiceControl`), the same calls the API and ``tickdeck
replay`` make; the supervisor applies them within about a second, and the bar shows the player's
reported state at its next refresh (every :data:`REFRESH_MS` while shown, and right after a
click), with the replay's bars that closed since Play (``bars_closed``: the monitor counts the
:class:`~core.events.BarClosed` events of origin ``scenario`` it sees). Controls need the researcher
role (the injected ``user``). Without a facade (a notebook) the bar says replay is not available here.
"""

from __future__ import annotations

import html

import panel as pn
import param

from tickdeck.core.errors import TickdeckError
from tickdeck.core.replay_service import ReplayControl
from tickdeck.core.scenario import ReplayRequest
from tickdeck.core.users import User
from tickdeck.pages.components.actions import ui_action
from tickdeck.pages.components.services import LOCAL_ADMIN, require
from tickdeck.pages.components.ui import STATUS_CSS, SessionRefresh, badge

REFRESH_MS = 1_000  # the player reports its position about once a second
SPEEDS = {"1×": "1", "5×": "5", "10×": "10", "25×": "25", "50×": "50", "100×": "100", "as fast as possible": "max"}
STATE_KIND = {"playing": "ok", "paused": "warn", "finished": "idle", "stopped": "idle"}


def render_state(state: dict, service_state: str = "stopped", bars: int | None = None) -> str:
    """The bar's status line as HTML (values escaped): state badge, position, progress, and the replay's
    bars closed (when counted)."""
    if not state or service_state in ("stopped", "failed") and state.get("state") != "finished":
        return (f"{badge('idle', 'no replay', testid='replay-state')}"
                "<span class='td-muted'> choose symbols and a day, then Play</span>")
    st = state.get("state", "stopped")
    total = max(int(state.get("total") or 0), 1)
    done = int(state.get("delivered") or 0)
    speed = state.get("speed")
    where = html.escape((state.get("position_et") or "")[:19].replace("T", " "))
    return (f"{badge(STATE_KIND.get(st, 'idle'), st, testid='replay-state')} "
            f"<b>{html.escape(', '.join(state.get('symbols') or []))}</b> at "
            f"<span data-testid='replay-position'>{where or '—'}</span> ET, "
            f"{'as fast as possible' if speed is None else f'{float(speed):g}×'} — "
            f"<span data-testid='replay-delivered'>{done:,}</span> of {total:,} ticks "
            f"<progress max='{total}' value='{done}' aria-label='replay progress'></progress>"
            + ("" if bars is None else
               f" <span data-testid='replay-bars'>{bars:,}</span> bar{'' if bars == 1 else 's'} closed"))


class PlayerBar(SessionRefresh, pn.viewable.Viewer):
    """Start and control a scenario replay (see the module docstring)."""

    refresh_ms = REFRESH_MS

    services = param.Parameter(default=None, doc="services facade (core.services.ServiceControl); None: not here")
    user = param.ClassSelector(class_=User, default=LOCAL_ADMIN, instantiate=False,
                               doc="who is looking: the controls need the researcher role")
    actor = param.String(default="page", doc="who is recorded as asking")
    symbols = param.String(default="", doc="comma-separated tickers to replay")
    day = param.String(default="", doc="the stored day to replay (YYYY-MM-DD)")
    start = param.String(default="", doc="optional start: a time of day (09:30) or date and time, ET")
    end = param.String(default="", doc="optional end (exclusive), ET")
    speed = param.Selector(default="10", objects=list(SPEEDS.values()), doc="1-100 times real time, or max")
    seek_to = param.String(default="", doc="time to continue from (ET)")
    bars_closed = param.Integer(default=None, allow_None=True,
                                doc="the replay's bars closed since Play (counted by the monitor); None: not counted")
    autostart = param.Boolean(default=True, doc="refresh every REFRESH_MS while shown in a server session")

    def __init__(self, **params):
        super().__init__(**params)
        self.replay = ReplayControl(self.services) if self.services is not None else None
        self.status_pane = pn.pane.HTML(stylesheets=[STATUS_CSS], sizing_mode="stretch_width")
        self.symbols_input = pn.widgets.TextInput.from_param(self.param.symbols, label="Replay symbols",
                                                             placeholder="NVDA, AMD", width=180)
        self.day_input = pn.widgets.TextInput.from_param(self.param.day, label="Day", placeholder="2024-07-02",
                                                         width=120)
        self.start_input = pn.widgets.TextInput.from_param(self.param.start, label="From (ET)", placeholder="09:30",
                                                           width=100)
        self.end_input = pn.widgets.TextInput.from_param(self.param.end, label="To (ET)", placeholder="16:00",
                                                         width=100)
        self.speed_input = pn.widgets.Select(label="Speed", options=SPEEDS, value=self.speed, width=170)
        self.speed_input.link(self, value="speed")
        self.seek_input = pn.widgets.TextInput.from_param(self.param.seek_to, label="Seek to (ET)",
                                                          placeholder="11:30", width=110)
        allowed = self.replay is not None and self.user.has("researcher")
        self.play_button = pn.widgets.Button(label="▶ Play", color="primary", disabled=not allowed,
                                             description="start the replay, or resume it when paused")
        self.pause_button = pn.widgets.Button(label="Pause", disabled=not allowed, description="pause the replay")
        self.stop_button = pn.widgets.Button(label="■ End replay", color="warning", disabled=not allowed,
                                             description="stop the replay")
        self.seek_button = pn.widgets.Button(label="Seek", disabled=not allowed,
                                             description="continue from the time to the left")
        self.speed_button = pn.widgets.Button(label="Set speed", disabled=not allowed,
                                              description="play on at the chosen speed")
        self.play_button.on_click(lambda _e: self.play())
        self.pause_button.on_click(lambda _e: self.pause())
        self.stop_button.on_click(lambda _e: self.stop())
        self.seek_button.on_click(lambda _e: self.seek())
        self.speed_button.on_click(lambda _e: self.set_speed())
        self._callback = None
        self.refresh()

    def _check(self) -> ReplayControl:
        if self.replay is None:
            raise TickdeckError("replay is not available here (no services facade)")
        require(self.user, "researcher", "controlling a replay")
        return self.replay

    def refresh(self) -> None:
        if self.replay is None:
            self.status_pane.object = "<span class='td-muted'>Replay is not available here.</span>"
            return
        self.status_pane.object = render_state(self.replay.state(), self.replay.status().state, self.bars_closed)

    def _running(self) -> dict:
        return self.replay.params() if self.replay is not None else {}

    @ui_action
    def play(self) -> None:
        """Resume the paused replay of the same symbols and window, else start a new one."""
        replay = self._check()
        request = ReplayRequest.make(self.symbols.replace(" ", ",").split(","), date=self.day or None,
                                     start=self.start or None, end=self.end or None, speed=self.speed)
        running = self._running()
        if running and {k: running.get(k) for k in ("symbols", "start", "end")} == \
                {k: v for k, v in request.to_params().items() if k in ("symbols", "start", "end")}:
            replay.resume(by=self.actor)
        else:
            replay.start(request, by=self.actor)
            if self.bars_closed is not None:
                self.bars_closed = 0
        self.refresh()

    @ui_action
    def pause(self) -> None:
        self._check().pause(by=self.actor)
        self.refresh()

    @ui_action
    def stop(self) -> None:
        self._check().stop(by=self.actor)
        self.refresh()

    @ui_action
    def seek(self) -> None:
        self._check().seek(self.seek_to, by=self.actor)
        self.refresh()

    @ui_action
    def set_speed(self) -> None:
        self._check().set_speed(self.speed, by=self.actor)
        self.refresh()

    def __panel__(self):
        if self.autostart:
            self.start_updates()
        return pn.Column(
            pn.Row(self.symbols_input, self.day_input, self.start_input, self.end_input, self.speed_input),
            pn.Row(self.play_button, self.pause_button, self.stop_button, self.seek_input, self.seek_button,
                   self.speed_button),
            self.status_pane, sizing_mode="stretch_width")
