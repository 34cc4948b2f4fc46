"""An in-process IQFeed emulator on free ports (small synthetic days) and a context wired to it."""

from __future__ import annotations

import pytest

SMALL_DAY_TICKS = 3000  # regular-session trades per emulated day


@pytest.fixture
def emulator_factory():
    from tickdeck.core.sources.iqfeed_emulator import EmulatorThread, IQFeedEmulator

    running = []

    def make(*, symbols=("AAPL", "MSFT"), now="2024-07-02 10:00:00", speed=1.0, ticks=SMALL_DAY_TICKS):
        th = EmulatorThread(IQFeedEmulator(symbols=symbols, now=now, speed=speed, ticks=ticks, port_history=0,
                                           port_l1=0))
        running.append(th)
        return th.__enter__()

    yield make
    for th in running:
        th.__exit__(None, None, None)


@pytest.fixture
def feed_ctx(tmp_path):
    """``feed_ctx(emu)``: a context (SQLite, LMDB in tmp_path) whose feed is ``emu``."""
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context

    opened = []

    def make(emu, **settings):
        c = Context.open(Settings(data_dir=tmp_path / "data", feed_port_history=emu.port_history,
                                  feed_port_l1=emu.port_l1, **settings))
        opened.append(c)
        return c

    yield make
    for c in opened:
        c.close()
