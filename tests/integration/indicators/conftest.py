"""The IQFeed emulator on free ports and a context wired to it, for the indicators service tests."""

from __future__ import annotations

import pytest

DAY = "2024-07-03"
EMULATED_NOW = f"{DAY} 10:00:00"  # a Wednesday morning: two history days before it, Level 1 streaming
SPEED = 30.0  # emulated seconds per wall second: many 1 s grid instants complete within the test
TICKS = 20_000  # regular-session trades per emulated day and symbol


@pytest.fixture
def emulator():
    from tickdeck.core.sources.iqfeed_emulator import EmulatorThread, IQFeedEmulator

    emu = IQFeedEmulator(symbols=("AAPL", "MSFT", "SPY"), now=EMULATED_NOW, speed=SPEED, ticks=TICKS,
                         port_history=0, port_l1=0, seed=7)
    with EmulatorThread(emu) as running:
        yield running


@pytest.fixture
def ictx(tmp_path, emulator):
    """A context on tmp storage (LMDB, SQLite) whose feed is the emulator."""
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context

    c = Context.open(Settings(data_dir=tmp_path / "data", feed_port_history=emulator.port_history,
                              feed_port_l1=emulator.port_l1))
    yield c
    c.close()
