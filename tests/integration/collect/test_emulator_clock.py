"""The emulator's injectable clock: frozen (speed 0) or moved on by ``set_clock``, never back; the
Level 1 stream catches up with exactly the trades of the skipped time, over TCP."""

from __future__ import annotations

import socket

import numpy as np
import pandas as pd

DAY = "2024-07-03"


def _us(hhmm: str) -> int:
    t = pd.Timestamp(f"{DAY} {hhmm}")
    return (t - t.normalize()).value // 1000


def test_the_emulator_clock_moves_on_never_back_and_level1_sends_the_skipped_trades(emulator_factory):
    emu = emulator_factory(now=f"{DAY} 10:00:00", speed=0, symbols=("AAPL",))  # speed 0: the clock stands still
    assert emu.sim_now() == pd.Timestamp(f"{DAY} 10:00:00")
    times = emu.day_raw("AAPL", DAY)["time"]
    skipped = int(np.searchsorted(times, _us("11:00"), "right") - np.searchsorted(times, _us("10:00"), "right"))
    assert skipped > 0
    with socket.create_connection(("127.0.0.1", emu.port_l1), timeout=30) as s:
        f = s.makefile("rb")
        s.sendall(b"S,SET PROTOCOL,6.2\r\nwAAPL\r\n")
        while not f.readline().startswith(b"P,AAPL,"):  # watched: its summary, then trades as the clock moves
            pass
        assert emu.set_clock(f"{DAY} 11:00:00") == pd.Timestamp(f"{DAY} 11:00:00")
        lines = []
        while not lines or not lines[-1].startswith(b"T,20240703 11:00:00"):
            lines.append(f.readline())
        trades = [x for x in lines if x.startswith(b"Q,AAPL,")]
        while len(trades) < skipped:  # the trades follow the heartbeat of the new second
            line = f.readline()
            assert not line.startswith(b"T,"), f"{len(trades)} of the {skipped} skipped trades before the next second"
            trades.append(line)
    assert len(trades) == skipped and emu.sim_now() == pd.Timestamp(f"{DAY} 11:00:00")
    assert emu.set_clock(f"{DAY} 10:30:00") == pd.Timestamp(f"{DAY} 11:00:00")  # never back: trades would repeat
    emu.set_clock(speed=3600)
    assert emu.sim_now() > pd.Timestamp(f"{DAY} 11:00:00")  # runs again from where it stood
