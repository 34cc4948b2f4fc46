"""Producer → consumer fixtures: a context whose bus is in-process or real Redis, a recorder of
what subscribers receive, and an IQFeed emulator over TCP shared by a test module.

``bus_kind`` parametrises a test over both buses; the Redis bus of a test gets its own channel
prefix, so concurrent runs on a shared Redis never see each other's events. Under ``CI=true``
a missing Redis fails the test (``redis_url`` in tests/conftest.py).
"""

from __future__ import annotations

import threading
import uuid

import pytest

EMULATED_NOW = "2024-07-03 10:00:00"  # a Wednesday morning: history days before it, Level 1 streaming
EMULATOR_SPEED = 60.0  # one emulated minute per wall second: time bars close within the test
EMULATOR_TICKS = 100_000  # regular-session trades per emulated day: a tick:500 bar about every 2 s of wall time


@pytest.fixture(scope="module")
def emulator():
    from tickdeck.core.sources.iqfeed_emulator import EmulatorThread, IQFeedEmulator

    emu = IQFeedEmulator(symbols=("AAPL", "MSFT"), now=EMULATED_NOW, speed=EMULATOR_SPEED, ticks=EMULATOR_TICKS,
                         port_history=0, port_l1=0)
    with EmulatorThread(emu) as running:
        yield running


@pytest.fixture(params=["local", pytest.param("redis", marks=pytest.mark.redis)])
def bus_kind(request):
    return request.param


@pytest.fixture
def ectx(tmp_path, bus_kind, emulator, request):
    """A context on tmp storage, pointed at the emulator, with the bus of ``bus_kind``."""
    from tickdeck.core.bus import RedisBus
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context

    c = Context.open(Settings(data_dir=tmp_path / "data", feed_port_history=emulator.port_history,
                              feed_port_l1=emulator.port_l1))
    if bus_kind == "redis":
        url = request.getfixturevalue("redis_url")
        c.bus.close()
        c.bus = RedisBus(url, prefix=f"tickdeck-test-{uuid.uuid4().hex[:10]}:")
    yield c
    c.close()


class Recorder:
    """Every message a subscriber of ``pattern`` receives, with waits on conditions."""

    def __init__(self, bus, pattern: str = "*"):
        self.bus = bus
        self.messages: list = []
        self.cleared = 0  # messages received before the last clear()
        self._cond = threading.Condition()
        self.stop = bus.listen(pattern, self._on)

    def _on(self, msg) -> None:
        with self._cond:
            self.messages.append(msg)
            self._cond.notify_all()

    def events(self, type_name: str) -> list:
        with self._cond:
            return [m.event for m in self.messages if m.type == type_name]

    def wait(self, predicate, timeout: float = 60.0, what: str = "the expected events") -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self), timeout=timeout):
                types = sorted({m.type for m in self.messages})
                raise AssertionError(f"timed out after {timeout:g}s waiting for {what}; received {types}")

    def clear(self) -> None:
        with self._cond:
            self.cleared += len(self.messages)
            self.messages.clear()

    def settle(self, timeout: float = 30.0) -> None:
        """Wait until everything published on this bus has arrived (Redis delivers asynchronously)."""
        self.wait(lambda r: r.cleared + len(r.messages) >= r.bus.stats.published, timeout, "every published message")


@pytest.fixture
def recorder(ectx):
    rec = Recorder(ectx.bus)
    yield rec
    rec.stop()


def _faulty(**faults):
    from tickdeck.core.sources.iqfeed_emulator import EmulatorFaults, EmulatorThread, IQFeedEmulator

    emu = IQFeedEmulator(symbols=("AAPL", "MSFT"), now=EMULATED_NOW, ticks=3000, port_history=0, port_l1=0,
                         faults=EmulatorFaults(**faults))
    return EmulatorThread(emu)


@pytest.fixture
def emulator_factory_reply_drop():
    """History replies cut after 100 lines, once (per test)."""
    with _faulty(drop_after_lines=100, drop_times=1) as emu:
        yield emu


@pytest.fixture
def emulator_factory_malformed():
    """Every 400th history line has a letter after its price."""
    with _faulty(malformed_every=400, malformed_kind="price") as emu:
        yield emu


@pytest.fixture
def recorder_for():
    """``recorder_for(bus)``: a :class:`Recorder` on any bus (stopped after the test)."""
    made = []

    def make(bus, pattern: str = "*") -> Recorder:
        made.append(Recorder(bus, pattern))
        return made[-1]

    yield make
    for r in made:
        r.stop()
