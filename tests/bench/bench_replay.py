"""Scenario replay at "as fast as possible": ticks per second through the live path.

python tests/bench/bench_replay.py [--symbols 4] [--ticks 250000] [--repeat 3] [--redis redis://127.0.0.1:6379/0]

Stores one synthetic day per symbol (``tickdeck generate``'s path: enrich, validate, store) in a
temporary data directory, then replays the day of all symbols at speed ``max`` on the in-process
bus with one counting listener on ``ticks.*`` (as a stream hub or page would have):

* load: reading the symbol-days and merging them by time (:func:`core.scenario.load_tape`);
* replay with the live bars (``time:1m``, ``tick:500``, built and published on the bars thread):
  start → every tick published and every bar built (the player's end includes the bars thread's
  drain);
* replay without bars: the publish path alone (batches, ``TicksAppended`` per symbol, ``LiveBatch``).

With ``--redis`` the bus is Redis (every event encoded, sent and decoded by the listener, as another
process would receive it); the time runs until the listener received the last tick.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
import uuid
from pathlib import Path

from tickdeck.core.bus import RedisBus
from tickdeck.core.config import Settings
from tickdeck.core.context import Context
from tickdeck.core.scenario import ReplayRequest, ScenarioPlayer, load_tape
from tickdeck.core.sources.synthetic import generate_into_store

DAY = "2024-07-02"


def replay_once(ctx, request, tape) -> tuple[float, int, int]:
    """(seconds, ticks received by the listener, bars published) of one replay to its end."""
    got = [0, 0]

    def on_ticks(m) -> None:
        got[0] += len(m.event)

    def on_bar(_m) -> None:
        got[1] += 1

    stops = [ctx.bus.listen("ticks.*", on_ticks), ctx.bus.listen("bars.*", on_bar)]
    stop = threading.Event()
    player = ScenarioPlayer(ctx, request, tape=tape,
                            on_state=lambda st: stop.set() if st.state == "finished" else None)
    t = time.perf_counter()
    player.run(stop)  # returns after the bars thread built what was queued
    deadline = time.monotonic() + 600
    while got[0] < len(tape.ts[tape.lo:tape.hi]) and time.monotonic() < deadline:  # Redis: still arriving
        time.sleep(0.005)
    took = time.perf_counter() - t
    for s in stops:
        s()
    return took, got[0], got[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--symbols", type=int, default=4)
    ap.add_argument("--ticks", type=int, default=250_000, help="regular-session ticks per symbol-day")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--redis", default="", help="a Redis URL: replay over the Redis bus")
    args = ap.parse_args()
    symbols = [f"SYM{i}" for i in range(args.symbols)]
    with tempfile.TemporaryDirectory() as tmp:
        ctx = Context.open(Settings(data_dir=Path(tmp) / "data"))
        if args.redis:
            ctx.bus.close()
            ctx.bus = RedisBus(args.redis, prefix=f"tickdeck-bench-{uuid.uuid4().hex[:8]}:")
        try:
            generate_into_store(ctx, symbols, DAY, DAY, seed=1, ticks=args.ticks)
            for with_bars in (True, False):
                request = ReplayRequest.make(symbols, date=DAY, speed="max",
                                             bar_specs=("time:1m", "tick:500") if with_bars else ())
                t = time.perf_counter()
                tape = load_tape(ctx, request)
                load_s = time.perf_counter() - t
                n = tape.hi - tape.lo
                print(f"{'with live bars' if with_bars else 'ticks only    '}: {n:,} ticks of {len(symbols)} "
                      f"symbols, load+merge {load_s:.2f} s ({n / load_s:,.0f} ticks/s)")
                for i in range(args.repeat):
                    took, received, bars = replay_once(ctx, request, tape)
                    assert received == n, (received, n)
                    print(f"  run {i + 1}: {took:.2f} s = {n / took:,.0f} ticks/s ({bars:,} bars published)")
        finally:
            ctx.close()


if __name__ == "__main__":
    main()
