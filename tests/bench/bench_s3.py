"""ArcticDB on S3 (the local S3 emulator, moto's server) vs LMDB: store write and read, and collection.

    python tests/bench/bench_s3.py [--ticks 500000] [--days 3] [--repeat 3] [--collect-ticks 100000]

Store: ``--days`` enriched synthetic days of ``--ticks`` trades each are written with
``Store.write_day`` (a new version each, as a re-collection does) and read back whole with
``Store.read_day`` (the frame cache off), on LMDB in a temporary directory and on S3 in a fresh
bucket, the two backends alternating within each round so both see the same machine load; the best
of ``--repeat`` rounds. Collection: ``collect_days`` fetches one symbol-day of ``--collect-ticks``
trades from the IQFeed emulator, parses, enriches and writes it (the post-ingest pipeline off), into
each backend. Numbers are ticks per second.

The S3 emulator keeps objects in the memory of one Python process on this machine, so S3 here
measures ArcticDB's S3 client and the HTTP round trips, not a real object store's bandwidth or
latency (a real bucket adds 10-30 ms per request; see docs/operations.md "Object storage (S3)").
Prints the load average: the machine is shared, so numbers under load are pessimistic.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from s3_emulator import S3Emulator  # noqa: E402

from tickdeck.core.calendar import get_calendar  # noqa: E402
from tickdeck.core.collect import collect_days  # noqa: E402
from tickdeck.core.config import Settings  # noqa: E402
from tickdeck.core.context import Context  # noqa: E402
from tickdeck.core.sources.iqfeed_emulator import EmulatorThread, IQFeedEmulator  # noqa: E402
from tickdeck.core.sources.synthetic import generate_into_store  # noqa: E402

START = "2024-07-01"


def _days(n: int) -> list:
    cal = get_calendar("XNYS")
    return cal.trading_days(START, "2024-12-31")[:n]


def _open(base: Path, name: str, uri: str) -> Context:
    ctx = Context.open(Settings(data_dir=base / name, arctic_uri=uri))
    ctx.store.frame_cache.max_bytes = 0  # every read goes to the store
    return ctx


def store_round(ctx: Context, frames: dict) -> tuple[float, float]:
    """Seconds to write every frame as its day, then to read each back."""
    t = time.perf_counter()
    for day, df in frames.items():
        ctx.store.write_day("AAPL", day, df)
    written = time.perf_counter() - t
    t = time.perf_counter()
    for day, df in frames.items():
        assert len(ctx.store.read_day("AAPL", day)) == len(df)
    return written, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ticks", type=int, default=500_000, help="trades per synthetic day")
    ap.add_argument("--days", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--collect-ticks", type=int, default=100_000, help="trades of the collected day")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        s3 = S3Emulator(base / "s3").start()
        try:
            # the source frames: synthetic days as ingest stores them
            src = _open(base, "src", "")
            generate_into_store(src, ["AAPL"], START, _days(args.days)[-1], ticks=args.ticks)
            frames = {d: src.store.read_day("AAPL", d) for d in _days(args.days)}
            src.close()
            total = sum(len(f) for f in frames.values())
            backends = {"lmdb": _open(base, "lmdb", ""), "s3": _open(base, "s3data", s3.store_uri())}
            best = {b: [float("inf"), float("inf")] for b in backends}
            for _ in range(args.repeat):
                for name, ctx in backends.items():  # alternate: both backends in each round
                    w, r = store_round(ctx, frames)
                    best[name] = [min(best[name][0], w), min(best[name][1], r)]

            collected = {}
            day = _days(1)[0]
            with EmulatorThread(IQFeedEmulator(symbols=("AAPL",), now="2024-07-03 10:00:00", ticks=args.collect_ticks,
                                               port_history=0, port_l1=0)) as emu:
                emu.day_raw("AAPL", day)  # the emulator's own per-day cache, warmed for both
                for name in backends:
                    ctx = _open(base, f"collect-{name}", "" if name == "lmdb" else s3.store_uri())
                    t = time.perf_counter()
                    collect_days(ctx, ["AAPL"], [day], port_history=emu.port_history)
                    collected[name] = (ctx.catalog.tick_days("AAPL")[0].ticks, time.perf_counter() - t)
                    ctx.close()
            for ctx in backends.values():
                ctx.close()
        finally:
            s3.stop()

    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {args.days} days x "
          f"{args.ticks:,} trades ({total:,} ticks), best of {args.repeat}")
    print(f"{'backend':8} {'write ticks/s':>14} {'read ticks/s':>14} {'collect ticks/s':>16}")
    for name in ("lmdb", "s3"):
        w, r = best[name]
        n, s = collected[name]
        print(f"{name:8} {total / w:>14,.0f} {total / r:>14,.0f} {n / s:>16,.0f}")


if __name__ == "__main__":
    main()
