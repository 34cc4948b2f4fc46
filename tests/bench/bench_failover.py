"""Failover gap of live collection: primary death -> first tick from the backup, in wall ms and on the
emulator clock, with two emulators serving the same market at real speed (1x).

    python tests/bench/bench_failover.py [--rounds 3] [--ticks 400000] [--speed 1]

Each round kills the primary mid-session, waits for collection on the backup, brings the primary back on
the same ports and waits for collection to return to it. Printed per round: kill -> FeedSwitched (the
failure noticed and the backup connected), kill -> first tick published after the switch (the gap filled
from the backup's history), kill -> first live tick from the backup; then the medians.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

from tickdeck.core.config import Settings
from tickdeck.core.context import Context
from tickdeck.core.events import FeedSwitched
from tickdeck.core.live import collect_live
from tickdeck.core.sources.iqfeed_emulator import EmulatorThread, IQFeedEmulator

DAY = "2024-07-02"
SYMBOLS = ("AAPL", "MSFT")


def wait_for(cond, what: str, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while not (v := cond()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.005)
    return v


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--ticks", type=int, default=400_000, help="regular-session trades per symbol-day")
    ap.add_argument("--speed", type=float, default=1.0)
    args = ap.parse_args()

    def emulator(now, ph=0, pl=0):
        th = EmulatorThread(IQFeedEmulator(symbols=SYMBOLS, seed=3, now=now, speed=args.speed, ticks=args.ticks,
                                           port_history=ph, port_l1=pl))
        th.__enter__()
        return th

    backup_th = emulator(f"{DAY} 10:00:00")
    backup = backup_th.emulator
    primary_th = emulator(backup.sim_now())
    for sym in SYMBOLS:
        backup.day_raw(sym, DAY)
        primary_th.emulator.day_raw(sym, DAY)
    ports = (primary_th.emulator.port_history, primary_th.emulator.port_l1)

    def clock() -> float:
        return backup.sim_now().tz_localize("America/New_York").timestamp()

    lock = threading.Lock()
    ticks: list[tuple[float, float, str]] = []  # (perf_counter, emulator clock, origin)
    switches: list[tuple[float, FeedSwitched]] = []
    with tempfile.TemporaryDirectory() as tmp:
        ctx = Context.open(Settings(data_dir=Path(tmp) / "data", feed_port_history=ports[0], feed_port_l1=ports[1],
                                    feed_backup=f"127.0.0.1:{backup.port_history}:{backup.port_l1}",
                                    feed_probe_s=0.5))

        def on_tick(m):
            with lock:
                ticks.append((time.perf_counter(), clock(), m.event.origin))

        def on_switch(m):
            if isinstance(m.event, FeedSwitched):
                with lock:
                    switches.append((time.perf_counter(), m.event))

        ctx.bus.listen("ticks.*", on_tick)
        ctx.bus.listen("collection", on_switch)
        stop = threading.Event()
        th = threading.Thread(target=collect_live, args=(ctx, list(SYMBOLS)),
                              kwargs={"stop_event": stop, "clock": clock}, daemon=True)
        th.start()
        rows = []

        def kill_and_measure(n_sw: int) -> tuple[float, float, float, float]:
            t_kill, c_kill = time.perf_counter(), clock()
            primary_th.__exit__(None, None, None)
            t_sw = wait_for(lambda: len(switches) > n_sw and switches[n_sw][0], "the switch to the backup")
            first = wait_for(lambda: next(((t, c) for t, c, _ in list(ticks) if t > t_sw), None), "a tick")
            live = wait_for(lambda: next((t for t, _, o in list(ticks) if t > t_sw and o == "live"), None),
                            "a live tick from the backup")
            return (t_sw - t_kill) * 1000, (first[0] - t_kill) * 1000, first[1] - c_kill, (live - t_kill) * 1000

        def back_to_primary(n_sw: int) -> None:
            wait_for(lambda: len(switches) > n_sw, "the switch back to the primary")

        try:
            wait_for(lambda: len(ticks) > 50, "live ticks from the primary")
            time.sleep(3)  # the materialiser is up and running: a switch waits for its last round
            for r in range(args.rounds):
                rows.append(kill_and_measure(len(switches)))
                print(f"round {r + 1}: switch {rows[-1][0]:.0f} ms, first tick {rows[-1][1]:.0f} ms wall / "
                      f"{rows[-1][2]:.2f} s emulator clock, first live tick from the backup {rows[-1][3]:.0f} ms")
                n_sw = len(switches)
                primary_th = emulator(backup.sim_now(), *ports)
                for sym in SYMBOLS:  # its days generated now, as a long-running feed has them: not during a request
                    primary_th.emulator.day_raw(sym, DAY)
                back_to_primary(n_sw)
                time.sleep(3)
        finally:
            stop.set()
            th.join(120)
            ctx.close()
            primary_th.__exit__(None, None, None)
            backup_th.__exit__(None, None, None)
    med = [statistics.median(c) for c in zip(*rows)]
    print(f"median over {len(rows)} rounds at {args.speed:g}x: switch {med[0]:.0f} ms; primary death -> first "
          f"tick from the backup {med[1]:.0f} ms wall, {med[2]:.2f} s on the emulator clock; first live tick "
          f"{med[3]:.0f} ms")


if __name__ == "__main__":
    main()
