"""Replay fixtures: days stored by the real history collector from the IQFeed emulator over TCP
(enrich, validate, store, default bars: what ``tickdeck collect`` runs), once per module."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

SYMBOLS = ("AAPL", "MSFT")
DAYS = (dt.date(2024, 7, 1), dt.date(2024, 7, 2))
EMULATED_NOW = "2024-07-03 10:00:00"  # the days above are complete
DAY_TICKS = 3_000  # regular-session trades per emulated day: enough for several tick:500 bars, cheap to collect


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """A context whose store holds :data:`DAYS` of :data:`SYMBOLS`, collected from the emulator."""
    from tickdeck.app.wiring import open_context
    from tickdeck.core.collect import collect_days
    from tickdeck.core.config import Settings
    from tickdeck.core.sources.iqfeed_emulator import EmulatorThread, IQFeedEmulator

    emu = IQFeedEmulator(symbols=SYMBOLS, now=EMULATED_NOW, ticks=DAY_TICKS, port_history=0, port_l1=0, seed=5)
    with EmulatorThread(emu) as running:
        ctx = open_context(Settings(data_dir=tmp_path_factory.mktemp("replay") / "data", feed_host="127.0.0.1",
                                    feed_port_history=running.port_history, feed_port_l1=running.port_l1),
                           pipeline=True)
        collect_days(ctx, list(SYMBOLS), list(DAYS))
    yield ctx
    ctx.close()


class Recorder:
    """Every message of ``pattern`` on a bus, in delivery order."""

    def __init__(self, bus, pattern: str = "*"):
        self.messages: list = []
        self._lock = threading.Lock()
        self.stop = bus.listen(pattern, self._on)

    def _on(self, msg) -> None:
        with self._lock:
            self.messages.append(msg)

    def events(self, type_name: str) -> list:
        with self._lock:
            return [m.event for m in self.messages if m.type == type_name]


@pytest.fixture
def recorder(stored):
    rec = Recorder(stored.bus)
    yield rec
    rec.stop()
