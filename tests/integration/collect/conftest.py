"""An in-process IQFeed emulator on free ports, with small synthetic days; live runs that stop on a
condition (never after a fixed time window). The store of every test taking
`settings` runs on LMDB and on S3 (the local S3 emulator, tests/s3_emulator.py)."""

from __future__ import annotations

import threading
import time

import pytest
from s3_emulator import both_backends

SMALL_DAY_TICKS = 3000  # regular-session trades per emulated day: fast, still multi-chunk
WAIT_S = 120  # a live run whose condition is not met by then fails (a safety net, not a window)
pytest_generate_tests, settings = both_backends()  # every test taking `settings`: on LMDB and on S3


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


@pytest.fixture
def live_until():
    """``live_until(ctx, emu, done, symbols=..., **collect_live_kw)``: run :func:`collect_live` against
    ``emu`` until ``done(progress)`` holds after a batch (``progress.done`` is the acknowledged ticks),
    then stop it and return its summary; fails when the condition is not met within WAIT_S."""
    from tickdeck.core.live import collect_live

    def run(ctx, emu, done, *, symbols=("AAPL", "MSFT"), history=None, **kw):
        stop = threading.Event()
        deadline = time.monotonic() + WAIT_S
        met = []

        def progress(p):
            if done(p):
                met.append(p)
                stop.set()
            elif time.monotonic() > deadline:
                stop.set()

        s = collect_live(ctx, list(symbols), stop_event=stop, port_history=(history or emu).port_history,
                         port_l1=emu.port_l1, progress=progress, **kw)
        assert met, f"condition not met within {WAIT_S} s: {s.acknowledged} acknowledged in {s.batches} batches"
        return s

    return run
