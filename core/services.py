"""Long-running services: the :class:`Supervisor` that runs them and :class:`ServiceControl`,
through which any process starts, stops and inspects them (the :class:`Service` protocol and
:class:`ThreadService` are in :mod:`core.service_base` and importable from here).

A **service** runs until it is stopped — live collection now (:mod:`core.live_service`), the
indicators and alert engines later. It is not a job: it takes no worker slot, has no progress
and is never "done". It has a state, a health (a one-line detail and the time of its last
sign of life) and a desired state:

=========== ================================================================================
state       meaning
=========== ================================================================================
stopped     not running (never started, or stopped on request)
starting    the supervisor has just started it
running     up; ``detail`` says what it is doing (e.g. ticks acknowledged)
stopping    asked to stop: its final flush runs, for at most ``STOP_TIMEOUT_S``
restarting  it crashed; it is started again at ``next_start`` (exponential backoff)
failed      it crashed ``MAX_FAILURES`` times in a row, or with an error a restart cannot fix
            (``ServiceConfigError``): not restarted until started again; or (``stuck``) its
            final flush did not finish within the stop timeout (see Warnings)
=========== ================================================================================

These are :data:`core.events.SERVICE_STATES`.

Control and status go through SQL, so every process sees the same: the desired state
(``system_config['service.<name>.desired']``: running or stopped, the params, who asked and a
request id) is written by :class:`ServiceControl` — the market triggers, ``tickdeck service``,
the monitor and admin pages — and the :class:`Supervisor`, in the one process per database that
runs services (the server's embedded worker, or ``tickdeck worker --scheduler``), reconciles it
every :data:`POLL_S` and writes the status (``service.<name>.status``) on every change and
every :data:`BEAT_S`. Every state change is published on the bus topic ``services`` as a
:class:`core.events.ServiceChanged`. A desired state survives restarts: a
server restarted during the session starts live collection again.

Why a thread, not a process
---------------------------
A service runs in a thread of the supervisor's process. Live collection already keeps its heavy
work (the ArcticDB writes into the symbol-days) in a materialiser child process and every
acknowledged tick in a durable journal, so what runs in the thread is socket reading, array work
and one journal append per batch; an exception there is caught, recorded and restarted. A child
process per service would add a second interpreter start (imports, ~150 MB) and IPC for status
and stop, to guard against faults that kill a whole process (a segfault, the OOM killer). Where
that isolation matters, run the supervisor in ``tickdeck worker --scheduler`` rather than in the
server: such a crash then takes the worker, not the pages.

Backoff
-------
After the n-th consecutive crash the service is restarted after
``min(BACKOFF_BASE_S * 2**(n-1), BACKOFF_MAX_S)`` seconds (1, 2, 4, 8, 16, 32, 60 s); a run that
stayed up :data:`RESET_AFTER_S` counts as healthy and resets n. After :data:`MAX_FAILURES`
consecutive crashes the service is ``failed`` and stays down until it is started again.

Warnings
--------
A thread cannot be killed. Stop sets the service's stop event and waits :data:`STOP_TIMEOUT_S`
for its final flush; when that does not finish in time the status is ``failed`` with ``stuck``
set and the reason, until the thread ends (then ``stopped``); it is not started again meanwhile
(two live collectors in one process would share a journal). Live collection loses nothing either
way: acknowledged ticks stay in the journal and are recovered at the next start. Run one
supervisor per database: a second one stays on standby while the first renews its lease
(``service.supervisor``).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from typing import Callable

from tickdeck.core.errors import TickdeckError
from tickdeck.core.events import SERVICE_STATES, ServiceChanged
from tickdeck.core.service_base import (  # noqa: F401 - the service model is importable from here too
    Service,
    ServiceConfigError,
    ServiceError,
    ServiceHealth,
    ThreadService,
    UnknownService,
)

log = logging.getLogger(__name__)

POLL_S = 1.0  # how often the supervisor reconciles desired and actual states (start/stop latency)
BEAT_S = 5.0  # status rewrite while nothing changes, so readers see the supervisor is alive
STALE_AFTER_S = 20.0  # a status not rewritten for this long has no live supervisor behind it
LEASE_S = 15.0  # another supervisor's lease younger than this keeps this one on standby
STOP_TIMEOUT_S = 30.0  # a service's final flush on stop; longer makes it "stuck"
BACKOFF_BASE_S = 1.0
BACKOFF_MAX_S = 60.0
RESET_AFTER_S = 300.0  # a run this long resets the consecutive-crash count
MAX_FAILURES = 8  # consecutive crashes before giving up ("failed")
STATES = SERVICE_STATES  # stopped, starting, running, stopping, restarting, failed
LEASE_KEY = "service.supervisor"


def backoff_delay(failures: int) -> float:
    """Seconds before restarting after ``failures`` consecutive crashes (``failures >= 1``)."""
    return min(BACKOFF_BASE_S * 2 ** max(failures - 1, 0), BACKOFF_MAX_S)


def _iso(t: float | None) -> str | None:
    return None if t is None else dt.datetime.fromtimestamp(t, dt.timezone.utc).isoformat()


def _ts(s: str | None) -> float | None:
    return None if not s else dt.datetime.fromisoformat(s).timestamp()


def default_services() -> dict[str, Callable]:
    """Service name -> factory ``factory(ctx) -> Service`` (the ones this build has)."""
    from tickdeck.core.indicators.service import IndicatorsService
    from tickdeck.core.alert_service import AlertsService
    from tickdeck.core.live_service import LiveCollectionService
    from tickdeck.core.replay_service import ReplayService

    return {LiveCollectionService.name: LiveCollectionService, IndicatorsService.name: IndicatorsService,
            AlertsService.name: AlertsService, ReplayService.name: ReplayService}


@dataclass(frozen=True)
class DesiredState:
    """What was last asked of a service: ``state`` running or stopped, with params."""

    name: str
    state: str = "stopped"
    params: dict = field(default_factory=dict)
    requested_by: str = ""
    requested_at: str | None = None
    request: str = ""  # a new id per request: a new start after "failed" starts afresh

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ServiceStatus:
    """A service's status as the supervisor last wrote it (times are ISO 8601, UTC)."""

    name: str
    state: str = "stopped"
    desired: str = "stopped"
    since: str | None = None  # when it entered ``state``
    restarts: int = 0  # restarts after crashes since it was last started on request
    failures: int = 0  # consecutive crashes
    last_error: str = ""
    detail: str = ""
    next_start: str | None = None  # backoff: when it is started again
    params: dict = field(default_factory=dict)
    requested_by: str = ""
    host: str = ""  # the supervisor: host:pid
    beat_at: str | None = None  # the supervisor's last write
    stuck: bool = False  # failed to stop in time: its final flush still runs

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, name: str, d: dict | None) -> "ServiceStatus":
        known = set(cls.__dataclass_fields__)
        return cls(**{**{k: v for k, v in (d or {}).items() if k in known}, "name": name})

    def stale(self, now: float | None = None) -> bool:
        """No supervisor has written this status for :data:`STALE_AFTER_S` (it may not run)."""
        beat = _ts(self.beat_at)
        return beat is None or (now if now is not None else time.time()) - beat > STALE_AFTER_S

    def describe(self, now: float | None = None) -> str:
        """One line for people: the state in words, with what matters for it."""
        now = now if now is not None else time.time()
        since = _ago(_ts(self.since), now)
        if self.desired == "running" and self.state == "stopped" and self.stale(now):
            return "start requested; no supervisor is running (start tickdeck serve or tickdeck worker --scheduler)"
        text = {
            "stopped": "stopped" + (f" {since}" if since else ""),
            "starting": "starting",
            "running": "running" + (f" for {since[:-4]}" if since else ""),
            "stopping": "stopping: final flush",
            "restarting": f"crashed; restart {self.restarts + 1} in "
                          f"{max((_ts(self.next_start) or now) - now, 0):.0f} s",
            "failed": "did not stop in time; its final flush is still running" if self.stuck else
                      f"failed after {self.failures} crash(es); start it again when fixed",
        }.get(self.state, self.state)
        if self.state in ("running", "starting") and self.stale(now):
            text += f" (no report from its supervisor {self.host or ''} for {_ago(_ts(self.beat_at), now) or 'long'})"
        return text


def _ago(t: float | None, now: float) -> str:
    if t is None:
        return ""
    s = max(now - t, 0.0)
    if s < 90:
        return f"{s:.0f} s ago"
    if s < 5400:
        return f"{s / 60:.0f} min ago"
    return f"{s / 3600:.1f} h ago"


def _desired_key(name: str) -> str:
    return f"service.{name}.desired"


def _status_key(name: str) -> str:
    return f"service.{name}.status"


class ServiceControl:
    """Start, stop and inspect services from any process (the requests and statuses are in SQL).

    Parameters
    ----------
    ctx
        :class:`core.context.Context` (its catalog holds the records).
    names
        The service names this control accepts (default: :func:`default_services`).
    authorize
        Called before every start/stop (a page injects its role check here); raises to refuse.
    """

    def __init__(self, ctx, *, names=None, authorize: Callable[[], None] | None = None,
                 clock: Callable[[], float] = time.time):
        self.ctx = ctx
        self._names = tuple(names) if names is not None else None
        self.authorize = authorize
        self.clock = clock

    def names(self) -> list[str]:
        return sorted(self._names if self._names is not None else default_services())

    def _check(self, name: str) -> str:
        if name not in self.names():
            raise UnknownService(name, self.names())
        return name

    def _request(self, name: str, state: str, by: str, params: dict | None) -> DesiredState:
        if self.authorize is not None:
            self.authorize()
        want = DesiredState(self._check(name), state, dict(params or {}), by, _iso(self.clock()), uuid.uuid4().hex)
        self.ctx.catalog.set_config(_desired_key(name), want.to_dict())
        return want

    def allowed(self) -> bool:
        """Whether start/stop would pass the injected authorization (pages grey out their buttons)."""
        if self.authorize is None:
            return True
        try:
            self.authorize()
        except TickdeckError:
            return False
        return True

    def start(self, name: str, *, by: str = "system", params: dict | None = None) -> DesiredState:
        """Ask for ``name`` to run (with ``params``); the supervisor starts it within ~1 s.

        A new start resets a ``failed`` service's crash count.

        Raises
        ------
        UnknownService
            No such service.
        """
        return self._request(name, "running", by, params)

    def stop(self, name: str, *, by: str = "system") -> DesiredState:
        """Ask for ``name`` to stop; the supervisor stops it (bounded final flush)."""
        return self._request(name, "stopped", by, self.desired(name).params)

    def subscribe(self, symbols, *, name: str = "live", by: str = "system") -> DesiredState:
        """Add ``symbols`` to the running ``name`` service's symbols; the supervisor hands the
        new set to it without a restart (within ~1 s, :data:`POLL_S`; see
        :mod:`core.live_service`). Returns the new request.

        Raises
        ------
        ServiceError
            The service is not asked to run (start it with the symbols instead).
        """
        return self._change_symbols(name, by, add=symbols)

    def unsubscribe(self, symbols, *, name: str = "live", by: str = "system") -> DesiredState:
        """Remove ``symbols`` from the running ``name`` service (see :meth:`subscribe`).

        Raises
        ------
        ServiceError
            The service is not asked to run, or no symbol would be left (stop it instead).
        """
        return self._change_symbols(name, by, remove=symbols)

    def _change_symbols(self, name: str, by: str, *, add=(), remove=()) -> DesiredState:
        from tickdeck.core.naming import normalize_ticker

        want = self.desired(name)
        if want.state != "running":
            raise ServiceError(f"the {name} service is not running; start it with the symbols instead")
        st = self.status(name)
        current = list(want.params.get("symbols") or st.params.get("symbols") or [])
        refused = set((st.params.get("rejected") or {}) if st.params.get("symbols") else ())
        add = [normalize_ticker(s) for s in add]
        gone = {normalize_ticker(s) for s in remove}
        symbols = list(dict.fromkeys([s for s in current if s not in gone and s not in refused] + add))
        if not symbols:
            raise ServiceError(f"removing {', '.join(sorted(gone))} would leave the {name} service without "
                               "symbols; stop it instead")
        return self._request(name, "running", by, {**want.params, "symbols": symbols})

    def desired(self, name: str) -> DesiredState:
        d = self.ctx.catalog.get_config(_desired_key(self._check(name)), None) or {}
        known = set(DesiredState.__dataclass_fields__)
        return DesiredState(**{**{k: v for k, v in d.items() if k in known}, "name": name})

    def status(self, name: str) -> ServiceStatus:
        st = ServiceStatus.from_dict(name, self.ctx.catalog.get_config(_status_key(self._check(name)), None))
        want = self.desired(name)
        return replace(st, desired=want.state, params=st.params or want.params,
                       requested_by=st.requested_by or want.requested_by)

    def statuses(self) -> list[ServiceStatus]:
        return [self.status(n) for n in self.names()]

    def supervisor(self) -> dict:
        """The supervisor's lease: ``{"host", "beat_at"}`` (empty when none ever ran)."""
        return dict(self.ctx.catalog.get_config(LEASE_KEY, None) or {})

    def supervisor_alive(self) -> bool:
        """Whether a supervisor renewed its lease within :data:`STALE_AFTER_S`."""
        beat = _ts(self.supervisor().get("beat_at"))
        return beat is not None and self.clock() - beat <= STALE_AFTER_S

    def collecting_live(self, day=None) -> list[str]:
        """Symbols the ``live`` service is collecting now (empty unless it runs) — into ``day``
        when given: the day its start request names (the open trigger's), else today (ET)."""
        if "live" not in self.names():
            return []
        st = self.status("live")
        if (st.state not in ("starting", "running", "stopping") and not st.stuck) or st.stale(self.clock()):
            return []
        if day is not None:
            from zoneinfo import ZoneInfo

            live_day = st.params.get("day") or dt.datetime.fromtimestamp(self.clock(), ZoneInfo("America/New_York"))\
                .date().isoformat()
            if str(day)[:10] != str(live_day):
                return []
        return list(st.params.get("symbols") or [])


@dataclass
class _Run:
    """The supervisor's book-keeping for one service."""

    service: object | None = None
    state: str = "stopped"
    since: float | None = None
    restarts: int = 0
    failures: int = 0
    last_error: str = ""
    detail: str = ""
    next_start: float | None = None
    started_at: float | None = None
    request: str | None = None
    params: dict = field(default_factory=dict)
    requested_by: str = ""
    written_at: float | None = None
    stuck: bool = False  # its stop timed out and its thread still runs


class Supervisor:
    """Runs services to match their desired states, restarts crashed ones with backoff.

    Parameters
    ----------
    ctx
        :class:`core.context.Context`.
    services
        ``name -> factory(ctx) -> Service`` (default :func:`default_services`).
    clock
        Seconds since the epoch (default :func:`time.time`); tests pass a fake one and call
        :meth:`tick` themselves.
    poll_s, stop_timeout
        Reconcile interval of :meth:`start`'s thread; bound of a service's final flush.
    """

    def __init__(self, ctx, services: dict[str, Callable] | None = None, *, clock: Callable[[], float] = time.time,
                 poll_s: float = POLL_S, stop_timeout: float = STOP_TIMEOUT_S):
        self.ctx = ctx
        self.factories = dict(services) if services is not None else default_services()
        self.control = ServiceControl(ctx, names=self.factories, clock=clock)
        self.clock = clock
        self.poll_s = poll_s
        self.stop_timeout = stop_timeout
        self.host = f"{socket.gethostname()}:{os.getpid()}"
        self.standby = False
        self.runs: dict[str, _Run] = {n: _Run() for n in self.factories}
        self._lock = threading.RLock()
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the loop -------------------------------------------------------------------------
    def start(self) -> None:
        """Reconcile every ``poll_s`` in a daemon thread until :meth:`shutdown`."""
        if self._thread is not None and self._thread.is_alive():
            return
        from tickdeck.core.feed_status import install as keep_feed_status

        keep_feed_status(self.ctx)  # the services' feed clients' last status, for readers in any process
        self._halt.clear()
        self._thread = threading.Thread(target=self._loop, name="tickdeck-supervisor", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._halt.is_set():
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - e.g. SQL briefly down: the next round tries again
                log.exception("service supervisor round failed")
            self._halt.wait(self.poll_s)

    def shutdown(self, timeout: float | None = None) -> None:
        """Stop the loop and every running service (each bounded by the stop timeout); the
        desired states stay, so the next supervisor starts them again."""
        self._halt.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(self.poll_s + 5)
        with self._lock:
            for name, run in self.runs.items():
                if run.service is not None and run.service.health().alive:
                    self._stop(name, run, timeout if timeout is not None else self.stop_timeout)
            if not self.standby:
                self.ctx.catalog.set_config(LEASE_KEY, {})

    # -- one round ------------------------------------------------------------------------
    def tick(self) -> None:
        """One reconcile round over every service."""
        with self._lock:
            if not self._lease():
                return
            for name in self.factories:
                self._reconcile(name, self.runs[name])

    def _lease(self) -> bool:
        now = self.clock()
        lease = self.control.supervisor()
        holder, beat = lease.get("host"), _ts(lease.get("beat_at"))
        if holder and holder != self.host and beat is not None and now - beat < LEASE_S:
            if not self.standby:
                log.warning("another service supervisor (%s) is active; this one (%s) stays on standby",
                            holder, self.host)
            self.standby = True
            return False
        self.standby = False
        if holder != self.host or beat is None or now - beat >= BEAT_S:
            self.ctx.catalog.set_config(LEASE_KEY, {"host": self.host, "beat_at": _iso(now)})
        return True

    def _reconcile(self, name: str, run: _Run) -> None:
        now = self.clock()
        want = self.control.desired(name)
        health = run.service.health() if run.service is not None else ServiceHealth(False)
        fresh = want.request != run.request
        if fresh:
            run.request, run.requested_by = want.request, want.requested_by
            if want.state == "running":
                run.failures, run.restarts = 0, 0
                if run.state in ("failed", "restarting") and not run.stuck:  # started again on request: afresh
                    self._set(name, run, "stopped")
        if run.stuck:
            if health.alive:
                return self._beat(name, run, health)
            run.stuck = False
            run.last_error = f"{run.last_error}; it stopped {self._for(run, now)} later"
            self._set(name, run, "stopped")
        if health.alive:
            run.detail = health.detail or run.detail
            if want.state != "running":
                return self._stop(name, run, self.stop_timeout)
            if fresh and want.params != run.params:  # e.g. another watchlist: restart with it
                update = getattr(run.service, "update", None)  # ... unless it takes them while running
                if update is not None and update(dict(want.params)):
                    run.params = dict(want.params)
                    run.detail = f"symbols changed by {want.requested_by or 'a request'}"
                    self._write(name, run)
                    return None
                if not self._stop(name, run, self.stop_timeout):
                    return
                return self._start(name, run, want)
            if run.state == "starting":
                self._set(name, run, "running")
            if run.failures and run.started_at is not None and now - run.started_at >= RESET_AFTER_S:
                run.failures = 0
            return self._beat(name, run, health)
        if run.state in ("starting", "running"):  # it died without being asked to
            self._crashed(name, run, health, now)
        if want.state == "running":
            if run.state == "stopped" or (run.state == "restarting" and now >= (run.next_start or now)):
                self._start(name, run, want)
            else:
                self._beat(name, run, health)
        elif run.state in ("restarting", "failed"):
            self._set(name, run, "stopped")
        else:
            self._beat(name, run, health)

    def _crashed(self, name: str, run: _Run, health: ServiceHealth, now: float) -> None:
        if run.started_at is not None and now - run.started_at >= RESET_AFTER_S:
            run.failures = 0  # it had been healthy: this is a first crash again
        run.failures += 1
        run.last_error = health.error or "it stopped without a stop request"
        run.detail = health.detail
        if health.permanent or run.failures >= MAX_FAILURES:
            self._set(name, run, "failed")
            return
        run.next_start = now + backoff_delay(run.failures)
        self._set(name, run, "restarting")

    def _start(self, name: str, run: _Run, want: DesiredState) -> None:
        if run.state == "restarting":
            run.restarts += 1
        run.service = self.factories[name](self.ctx)
        run.params = dict(want.params)
        run.started_at, run.next_start = self.clock(), None
        try:
            run.service.start(run.params)
        except Exception as e:  # noqa: BLE001 - a start that raises is a crash like any other
            self._set(name, run, "starting")
            return self._crashed(name, run, ServiceHealth(False, error=f"{type(e).__name__}: {e}",
                                                          permanent=bool(getattr(e, "permanent", False))), self.clock())
        self._set(name, run, "starting")

    def _stop(self, name: str, run: _Run, timeout: float) -> bool:
        self._set(name, run, "stopping")
        done = run.service.stop(timeout)
        if done:
            run.detail = run.service.health().detail
            health = run.service.health()
            if health.error:
                run.last_error = health.error
            self._set(name, run, "stopped")
            return True
        run.last_error = (f"did not stop within {timeout:g} s: its final flush is still running "
                          "(nothing acknowledged is lost: the journal is recovered at the next start)")
        run.stuck = True
        self._set(name, run, "failed")
        return False

    @staticmethod
    def _for(run: _Run, now: float) -> str:
        return f"{max(now - (run.since or now), 0):.0f} s"

    # -- status ---------------------------------------------------------------------------
    def status(self, name: str) -> ServiceStatus:
        run = self.runs[name]
        params = dict(run.service.params) if run.service is not None else run.params
        return ServiceStatus(name, run.state, self.control.desired(name).state, _iso(run.since), run.restarts,
                             run.failures, run.last_error, run.detail, _iso(run.next_start), params,
                             run.requested_by, self.host, _iso(self.clock()), run.stuck)

    def _write(self, name: str, run: _Run) -> ServiceStatus:
        st = self.status(name)
        self.ctx.catalog.set_config(_status_key(name), st.to_dict())
        run.written_at = self.clock()
        return st

    def _set(self, name: str, run: _Run, state: str) -> None:
        if state != run.state:
            run.state, run.since = state, self.clock()
        st = self._write(name, run)
        log.info("service %s: %s%s", name, state, f" ({run.last_error})" if state in ("restarting", "failed") else "")
        self.ctx.bus.publish(ServiceChanged(name=name, state=state, restarts=run.restarts, last_error=run.last_error,
                                            since=float(run.since or 0.0), message=st.describe(self.clock())))

    def _beat(self, name: str, run: _Run, health: ServiceHealth) -> None:
        if health.detail:
            run.detail = health.detail
        if run.written_at is None or self.clock() - run.written_at >= BEAT_S:
            self._write(name, run)
