"""An in-process IQFeed emulator on free ports, with small synthetic days."""

from __future__ import annotations

import pytest

SMALL_DAY_TICKS = 3000  # regular-session trades per emulated day: fast, still multi-chunk


@pytest.fixture
def emulator_factory():
    from tickdeck.core.sources.iqfeed_emulator import EmulatorFaults, EmulatorThread, IQFeedEmulator

    running = []

    def make(*, faults=None, symbols=("AAPL", "MSFT"), now="2024-07-03 10:00:00", speed=1.0, ticks=SMALL_DAY_TICKS,
             **kw):
        emu = IQFeedEmulator(symbols=symbols, now=now, speed=speed, ticks=ticks, port_history=0, port_l1=0,
                             faults=EmulatorFaults(**(faults or {})), **kw)
        th = EmulatorThread(emu)
        running.append(th)
        return th.__enter__()

    yield make
    for th in running:
        th.__exit__(None, None, None)


@pytest.fixture
def emulator(emulator_factory):
    return emulator_factory()
