"""Collection benchmark: history replay end to end, and live ingest latency.

    python tests/bench/bench_collect.py [--ticks 2000000] [--live-seconds 10] [--symbols 5] [--rate 5000]

History: the emulator serves one symbol-day of ``--ticks`` regular-session trades over loopback;
the collector fetches, parses, enriches and writes it (``collect_days``). Live: ``--symbols``
symbols streamed at about ``--rate`` trades/s combined for ``--live-seconds``; reports the
receive→stored latency per micro-batch (p50/p99) and the process RSS.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402
import psutil  # noqa: E402

from core.collect import collect_days, collect_live  # noqa: E402
from core.config import Settings  # noqa: E402
from core.context import Context  # noqa: E402
from core.sources.iqfeed import HistoryClient  # noqa: E402
from core.sources.iqfeed_emulator import EmulatorThread, IQFeedEmulator  # noqa: E402
from core.sources.iqfeed_parse import parse_ticks  # noqa: E402

DAY = "2024-07-01"
REGULAR_SECONDS = 6.5 * 3600


def bench_history(ticks: int, tmp: Path) -> list[tuple[str, float, int]]:
    ctx = Context.open(Settings(data_dir=tmp / "hist"))
    emu = IQFeedEmulator(symbols=["AAPL"], ticks=ticks, port_history=0, port_l1=0, now="2024-07-03 12:00:00")
    rows = []
    with EmulatorThread(emu) as e:
        t = time.perf_counter()
        n = e.day_raw("AAPL", DAY)["tick_id"].size  # generate + serialise once (cached)
        rows.append(("emulator: generate + format day (once)", time.perf_counter() - t, n))
        with HistoryClient("127.0.0.1", e.port_history) as c:
            t = time.perf_counter()
            body = c._request_once(f"HTT,AAPL,20240701 000000,20240701 235959,,,,1,B1,", "B1")
            rows.append(("loopback transfer only", time.perf_counter() - t, n))
            t = time.perf_counter()
            parse_ticks(body, "B1")
            rows.append(("bulk parse only", time.perf_counter() - t, n))
        t = time.perf_counter()
        collect_days(ctx, ["AAPL"], [DAY], port_history=e.port_history)
        rows.append(("end to end: fetch + parse + enrich + write", time.perf_counter() - t, n))
    ctx.close()
    return rows


def bench_live(symbols: int, rate: float, seconds: float, tmp: Path) -> dict:
    ctx = Context.open(Settings(data_dir=tmp / "live"))
    names = [f"S{i:03d}" for i in range(symbols)]
    per_day = 60_000  # regular-session trades per symbol-day in the emulator
    speed = rate / symbols / (per_day / REGULAR_SECONDS)
    emu = IQFeedEmulator(symbols=names, ticks=per_day, speed=speed, port_history=0, port_l1=0,
                         now="2024-07-03 10:00:00")
    proc = psutil.Process()
    rss = []
    with EmulatorThread(emu) as e:
        for s in names:  # warm the emulator cache so start-up is not measured
            e.day_raw(s, "2024-07-03")
        stop = threading.Event()
        threading.Timer(seconds, stop.set).start()
        t = time.perf_counter()
        summary = collect_live(ctx, names, batch_seconds=0.25, stop_event=stop, port_history=e.port_history,
                               port_l1=e.port_l1, progress=lambda p: rss.append(proc.memory_info().rss))
        wall = time.perf_counter() - t
    ctx.close()
    lat = np.array(summary.latencies_ms or [np.nan])
    total = sum(summary.appended.values())
    return {"symbols": symbols, "target rate/s": rate, "emulator speed": round(speed, 2), "seconds": round(wall, 1),
            "ticks stored": total, "stored/s": round(total / wall), "batches": summary.batches,
            "latency p50 ms": round(float(np.nanpercentile(lat, 50)), 1),
            "latency p99 ms": round(float(np.nanpercentile(lat, 99)), 1),
            "rss max MB": round(max(rss or [proc.memory_info().rss]) / 2**20)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ticks", type=int, default=2_000_000)
    ap.add_argument("--symbols", type=int, default=5)
    ap.add_argument("--rate", type=float, default=5000.0)
    ap.add_argument("--live-seconds", type=float, default=10.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        print(f"history replay, 1 symbol-day, {args.ticks:,} regular trades requested")
        print(f"{'stage':45} {'seconds':>8} {'ticks':>10} {'ticks/s':>12}")
        for name, sec, n in bench_history(args.ticks, tmp):
            print(f"{name:45} {sec:8.2f} {n:10,} {n / sec:12,.0f}")
        print()
        print("live")
        for k, v in bench_live(args.symbols, args.rate, args.live_seconds, tmp).items():
            print(f"  {k:16} {v}")


if __name__ == "__main__":
    main()
