"""The ``replay`` service: a scenario replay (:mod:`core.scenario`) supervised like live collection.

:class:`ReplayService` runs a :class:`core.scenario.ScenarioPlayer` in a
:class:`core.service_base.ThreadService`, so a replay started from the API, the monitor's player
bar or ``tickdeck replay --server`` runs in the process of the service supervisor and is
started, stopped and inspected through :class:`core.services.ServiceControl` from any process.

Params (JSON, see :meth:`core.scenario.ReplayRequest.to_params`): ``symbols``, ``start``,
``end``, ``speed`` (a number or ``"max"``), ``bar_specs``; the controls ``paused`` (bool) and
``seek`` (``{"to": <ET time>, "id": <request id>}``). A change of only the controls is applied
to the running player (:meth:`ReplayService.update`, called by the supervisor within its poll
interval); any other change restarts it with the new request. The player's state is kept in
``system_config['replay.state']`` on every change and every :data:`core.scenario.STATE_EVERY_S`
(:func:`replay_state` reads it) and published on the bus topic ``replay``.
"""

from __future__ import annotations

import threading
import uuid
from typing import Callable

from tickdeck.core.errors import DayNotFound
from tickdeck.core.scenario import ReplayError, ReplayRequest, ReplayState, ScenarioPlayer, parse_speed, seek_time, \
    stored_days
from tickdeck.core.service_base import ServiceConfigError, ServiceError, ThreadService

NAME = "replay"
STATE_KEY = "replay.state"
CONTROLS = ("paused", "seek", "speed")  # params a running replay takes without a restart


def replay_state(ctx) -> dict:
    """The last state the replay service reported (:meth:`core.scenario.ReplayState.to_dict`; empty when none)."""
    return dict(ctx.catalog.get_config(STATE_KEY, None) or {})


class NoReplay(ServiceError):
    """A control of the replay service while no replay is asked to run."""


class ReplayControl:
    """Start and control the ``replay`` service's replay from any process: what the API, the CLI and
    the monitor's player bar call. Each call records a request through ``services`` (a
    :class:`core.services.ServiceControl`); the supervisor applies it within its poll interval.
    """

    def __init__(self, services):
        self.services = services

    @property
    def ctx(self):
        return self.services.ctx

    def start(self, request: ReplayRequest, *, by: str, paused: bool = False) -> dict:
        """Replace any running replay with ``request``; returns the params asked.

        Raises
        ------
        DayNotFound
            No symbol of the request has a stored day in its window.
        """
        stored_days(self.ctx, request)
        params = {**request.to_params(), "paused": bool(paused), "run": uuid.uuid4().hex}
        self.services.start(NAME, by=by, params=params)
        return params

    def params(self) -> dict:
        """What the running replay was last asked (empty when none is asked to run)."""
        want = self.services.desired(NAME)
        return dict(want.params) if want.state == "running" and want.params.get("symbols") else {}

    def _change(self, by: str, change: dict) -> dict:
        params = self.params()
        if not params:
            raise NoReplay("no replay is running: start one first (player bar, tickdeck replay --server, "
                           "POST /api/v1/replay)")
        self.services.start(NAME, by=by, params={**params, **change})
        return change

    def pause(self, *, by: str) -> dict:
        return self._change(by, {"paused": True})

    def resume(self, *, by: str) -> dict:
        return self._change(by, {"paused": False})

    def seek(self, to: str, *, by: str) -> dict:
        """Continue from ``to`` (ET; a time of day is on the window's first day).

        Raises
        ------
        ReplayError
            ``to`` is unreadable or outside the running replay's window.
        NoReplay
            No replay is asked to run.
        """
        params = self.params()
        if params:
            seek_time(ReplayRequest.from_params(params), to)
        return self._change(by, {"seek": {"to": str(to), "id": uuid.uuid4().hex}})

    def set_speed(self, speed, *, by: str) -> dict:
        s = parse_speed(speed)
        return self._change(by, {"speed": "max" if s is None else s})

    def stop(self, *, by: str) -> None:
        self.services.stop(NAME, by=by)

    def status(self):
        """The ``replay`` service's :class:`core.services.ServiceStatus`."""
        return self.services.status(NAME)

    def state(self) -> dict:
        """The player's last reported state (:func:`replay_state`)."""
        return replay_state(self.ctx)


class ReplayService(ThreadService):
    """Play one replay request until stopped (see the module docstring)."""

    name = NAME
    description = "scenario replay of stored days through the live path"

    def __init__(self, ctx, **kw):
        super().__init__(ctx, **kw)
        self._lock = threading.Lock()
        self._player: ScenarioPlayer | None = None
        self._seek_id = ""

    def update(self, params: dict) -> bool:
        """Apply a change of only :data:`CONTROLS` to the running player; False (restart) otherwise."""
        params = dict(params or {})
        if not self.health().alive:
            return False
        if {k: v for k, v in params.items() if k not in CONTROLS} != \
                {k: v for k, v in self.params.items() if k not in CONTROLS}:
            return False
        with self._lock:
            player = self._player
            if player is None:
                return False
            try:
                self._controls(player, params)
            except ReplayError:
                return False
            self.params.update({k: params[k] for k in CONTROLS if k in params})
        return True

    def _controls(self, player: ScenarioPlayer, params: dict) -> None:
        if "speed" in params:
            player.set_speed(params["speed"])
        seek = params.get("seek") or {}
        if seek.get("to") and seek.get("id", "") != self._seek_id:
            player.seek(seek["to"])
            self._seek_id = seek.get("id", "")
        (player.pause if params.get("paused") else player.resume)()

    def _report(self, st: ReplayState) -> None:
        self.ctx.catalog.set_config(STATE_KEY, st.to_dict())
        self.beat(f"{st.state}: {st.delivered:,} of {st.total:,} ticks, at {st.position_et[11:19] or '—'}, "
                  f"speed {'max' if st.speed is None else f'{st.speed:g}x'}")

    def run(self, params: dict, stop: threading.Event, beat: Callable[[str], None]) -> None:
        if not params.get("symbols"):
            raise ServiceConfigError("no replay chosen: start one from the monitor's player bar, "
                                     "`tickdeck replay SYMS --date D --server` or POST /api/v1/replay")
        try:
            request = ReplayRequest.from_params(params)
            player = ScenarioPlayer(self.ctx, request, on_state=self._report, paused=bool(params.get("paused")))
        except (ReplayError, DayNotFound) as e:
            raise ServiceConfigError(str(e)) from e
        with self._lock:
            self._player = player
            seek = params.get("seek") or {}
            if seek.get("to"):
                self._controls(player, params)
        try:
            player.run(stop)
        finally:
            with self._lock:
                self._player = None
