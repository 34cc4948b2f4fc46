"""What a long-running service is: the :class:`Service` protocol, :class:`ThreadService` (a service
whose work runs in a thread), its :class:`ServiceHealth`, and the service errors.

A service implementation (e.g. :mod:`core.live_service`) imports this module only; the status
records, the control and the supervisor that run services are in :mod:`core.services`.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable, Protocol

from tickdeck.core.errors import TickdeckError

log = logging.getLogger(__name__)


class ServiceError(TickdeckError, RuntimeError):
    """A service could not be started, stopped or found."""


class UnknownService(ServiceError, KeyError):
    """No service of this name."""

    def __init__(self, name: str, known):
        self.name = name
        super().__init__(f"no service named {name!r}; services: {', '.join(sorted(known))}")

    def __str__(self) -> str:
        return self.args[0]


class ServiceConfigError(ServiceError, ValueError):
    """The service cannot run as configured (no symbols, a symbol the feed does not know):
    restarting would fail the same way, so the supervisor marks it failed at once."""

    permanent = True


@dataclass(frozen=True)
class ServiceHealth:
    """What a service says about itself: alive or not, a one-line detail, the error that ended
    its last run (empty when it ended on request) and the clock time of its last sign of life."""

    alive: bool
    detail: str = ""
    error: str = ""
    permanent: bool = False  # the error cannot be fixed by a restart
    beat_at: float | None = None


class Service(Protocol):
    """A long-running service: ``start`` returns at once, ``stop`` is bounded by ``timeout``."""

    name: str
    params: dict  # what it runs with, defaults resolved (shown in its status)

    def start(self, params: dict) -> None:
        """Begin running with ``params`` (non-blocking)."""

    def stop(self, timeout: float) -> bool:
        """Ask it to stop and wait up to ``timeout`` seconds; True when it has stopped."""

    def health(self) -> ServiceHealth:
        """Whether it runs, what it does, why its last run ended."""


class ThreadService:
    """A :class:`Service` whose work is :meth:`run` in a daemon thread; subclasses implement ``run``.

    ``run(params, stop, beat)`` blocks until ``stop`` (a :class:`threading.Event`) is set and
    calls ``beat(detail)`` as it works; it may fill in defaults in ``self.params`` (shown in the
    status). Raising ends the run as a crash; returning without a stop request is a crash too.
    """

    name = "service"
    description = ""

    def __init__(self, ctx, *, clock: Callable[[], float] = time.time):
        self.ctx = ctx
        self.clock = clock
        self.params: dict = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._detail = ""
        self._error = ""
        self._permanent = False
        self._beat_at: float | None = None

    def run(self, params: dict, stop: threading.Event, beat: Callable[[str], None]) -> None:
        raise NotImplementedError

    def beat(self, detail: str = "") -> None:
        self._detail, self._beat_at = detail, self.clock()

    def start(self, params: dict) -> None:
        if self._thread is not None and self._thread.is_alive():
            raise ServiceError(f"service {self.name!r} is already running")
        self._stop = threading.Event()
        self._error, self._permanent, self._detail, self._beat_at = "", False, "starting", self.clock()
        self.params = dict(params or {})
        self._thread = threading.Thread(target=self._main, args=(self.params, self._stop),
                                        name=f"tickdeck-service-{self.name}", daemon=True)
        self._thread.start()

    def _main(self, params: dict, stop: threading.Event) -> None:
        try:
            self.run(params, stop, self.beat)
        except BaseException as e:  # noqa: BLE001 - recorded for the supervisor, which restarts it
            self._error = f"{type(e).__name__}: {e}"
            self._permanent = bool(getattr(e, "permanent", False))
            log.warning("service %s crashed: %s", self.name, self._error, exc_info=not self._permanent)
        else:
            if not stop.is_set():
                self._error = "its run ended without a stop request"

    def stop(self, timeout: float) -> bool:
        self._stop.set()
        t = self._thread
        if t is None:
            return True
        t.join(max(timeout, 0.0))
        return not t.is_alive()

    def health(self) -> ServiceHealth:
        alive = self._thread is not None and self._thread.is_alive()
        return ServiceHealth(alive, self._detail, "" if alive else self._error, self._permanent, self._beat_at)
