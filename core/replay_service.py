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
from typing import Callable

from tickdeck.core.errors import DayNotFound
from tickdeck.core.scenario import ReplayError, ReplayRequest, ReplayState, ScenarioPlayer
from tickdeck.core.service_base import ServiceConfigError, ThreadService

NAME = "replay"
STATE_KEY = "replay.state"
CONTROLS = ("paused", "seek", "speed")  # params a running replay takes without a restart


def replay_state(ctx) -> dict:
    """The last state the replay service reported (:meth:`core.scenario.ReplayState.to_dict`; empty when none)."""
    return dict(ctx.catalog.get_config(STATE_KEY, None) or {})


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
