"""Collection benchmark: history replay end to end, and live ingest latency.

    python tests/bench/bench_collect.py [--ticks 2000000] [--repeat 3] [--live-seconds 60]
                                        [--symbols 50] [--rate 2000] [--flush-after 0.05] [--skip-history]

History: the emulator serves one symbol-day of ``--ticks`` regular-session trades over loopback
(its serialisation is warmed first, as it is cached per day); the collector fetches, parses,
enriches and writes it (``collect_days``); best of ``--repeat`` runs. Live: ``--symbols``
symbols streamed at about ``--rate`` trades/s combined for ``--live-seconds``; reports the
latency per Level 1 line from its receive time to stored in the journal and published
(p50/p99/max), the latency until a batch is in its symbol-days, and the
process RSS sampled over the run (first minute vs last minute, to see that memory is flat).
Prints the load average: the machine is shared, so numbers under load are pessimistic.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402
import psutil  # noqa: E402

from tickdeck.core.collect import collect_days  # noqa: E402
from tickdeck.core.live import collect_live  # noqa: E402
from tickdeck.core.config import Settings  # noqa: E402
from tickdeck.core.context import Context  # noqa: E402
from tickdeck.core.sources.iqfeed import FLUSH_AFTER_S, HistoryClient  # noqa: E402
from tickdeck.core.sources.iqfeed_emulator import EmulatorThread, IQFeedEmulator  # noqa: E402
from tickdeck.core.sources.iqfeed_parse import parse_ticks, parse_ticks_pyarrow  # noqa: E402

DAY = "2024-07-01"
REGULAR_SECONDS = 6.5 * 3600


def _serve(kwargs: dict, warm: list, q, stop) -> None:
    """Child process: run the emulator, warm its per-day cache, report ports and tick counts."""
    with EmulatorThread(IQFeedEmulator(port_history=0, port_l1=0, **kwargs)) as e:
        t = time.perf_counter()
        counts = [e.day_raw(sym, day)["tick_id"].size for sym, day in warm]
        q.put((e.port_history, e.port_l1, counts, time.perf_counter() - t))
        stop.wait()


class EmulatorProcess:
    """The emulator in its own process, as a real feed is: its CPU work does not share our GIL."""

    def __init__(self, warm: list, **kwargs):
        ctx = mp.get_context("spawn")
        self.q, self.stop = ctx.Queue(), ctx.Event()
        self.proc = ctx.Process(target=_serve, args=(kwargs, warm, self.q, self.stop), daemon=True)

    def __enter__(self) -> "EmulatorProcess":
        self.proc.start()
        self.port_history, self.port_l1, self.counts, self.warm_seconds = self.q.get(timeout=600)
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.proc.join(10)


def _rss_anon() -> int:
    """Anonymous resident memory (heap, arrays), without the store's memory-mapped LMDB file pages,
    which RSS also counts and which grow with the data written."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    return psutil.Process().memory_info().rss


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def bench_history(ticks: int, repeat: int, tmp: Path) -> list[tuple[str, float, int]]:
    ctx = Context.open(Settings(data_dir=tmp / "hist"))
    cmd = "HTT,AAPL,20240701 000000,20240701 235959,,,,1,B1,"
    rows = []
    with EmulatorProcess([("AAPL", DAY)], symbols=["AAPL"], ticks=ticks, now="2024-07-03 12:00:00") as e:
        n = e.counts[0]  # generated + serialised once (cached), in the emulator process
        rows.append(("emulator: generate + format day (once)", e.warm_seconds, n))
        with HistoryClient("127.0.0.1", e.port_history) as c:
            body = c._request_once(cmd, "B1")
            rows.append(("loopback transfer only", _best(lambda: c._request_once(cmd, "B1"), repeat), n))
            rows.append(("parse only (compiled kernel)", _best(lambda: parse_ticks(body, "B1"), repeat), n))
            rows.append(("parse only (pyarrow reference parser)", _best(lambda: parse_ticks_pyarrow(body, "B1"), 1), n))
            rows.append(("fetch: transfer + parse overlapped", _best(lambda: c.request(cmd, "B1"), repeat), n))
        body = None  # free the day's bytes before the next measurement
        rows.append(("end to end: fetch + parse + enrich + write",
                     _best(lambda: collect_days(ctx, ["AAPL"], [DAY], port_history=e.port_history), repeat), n))
    ctx.close()
    return rows


def bench_live(symbols: int, rate: float, seconds: float, flush_after: float, tmp: Path) -> dict:
    ctx = Context.open(Settings(data_dir=tmp / "live"))
    names = [f"S{i:03d}" for i in range(symbols)]
    per_day = 60_000  # regular-session trades per symbol-day in the emulator
    speed = rate / symbols / (per_day / REGULAR_SECONDS)
    proc = psutil.Process()
    rss: list[tuple[float, int]] = []
    # the emulator's cache is warmed so its start-up is not measured
    with EmulatorProcess([(s, "2024-07-03") for s in names], symbols=names, ticks=per_day, speed=speed,
                         now="2024-07-03 10:00:00") as e:
        stop = threading.Event()
        timer = threading.Timer(seconds, stop.set)
        timer.start()
        t = time.perf_counter()
        summary = collect_live(ctx, names, stop_event=stop, flush_after=flush_after, port_history=e.port_history,
                               port_l1=e.port_l1,
                               progress=lambda p: rss.append((time.perf_counter() - t, proc.memory_info().rss,
                                                              _rss_anon())))
        wall = time.perf_counter() - t
        timer.cancel()
    ctx.close()
    lat = np.array(summary.latencies_ms or [np.nan])
    total = sum(summary.appended.values())
    r = np.array(rss or [(0.0, proc.memory_info().rss, _rss_anon())], dtype=np.float64)
    minute = min(60.0, wall / 3)
    first, last = r[r[:, 0] <= minute], r[r[:, 0] >= wall - minute]
    return {"symbols": symbols, "target rate/s": rate, "flush after s": flush_after, "seconds": round(wall, 1),
            "ticks stored": total, "stored/s": round(total / wall), "batches": summary.batches,
            "acknowledged (journal)": summary.acknowledged,
            "line latency p50 ms": summary.line_latency_ms(50), "line latency p99 ms": summary.line_latency_ms(99),
            "line latency max ms": summary.line_latency_ms(100),
            "batch (oldest line) p99 ms": round(float(np.nanpercentile(lat, 99)), 1),
            "in symbol-day p50/p99 ms": f"{summary.day_latency_ms(50)} / {summary.day_latency_ms(99)}",
            "rss MB first/last window": f"{first[:, 1].max() / 2**20:.0f} / {last[:, 1].max() / 2**20:.0f}"
            if first.size and last.size else "n/a",
            "anon rss MB first/last window": f"{first[:, 2].max() / 2**20:.0f} / {last[:, 2].max() / 2**20:.0f}"
            if first.size and last.size else "n/a",
            "rss max MB": round(r[:, 1].max() / 2**20)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ticks", type=int, default=2_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--symbols", type=int, default=50)
    ap.add_argument("--rate", type=float, default=2000.0)
    ap.add_argument("--live-seconds", type=float, default=60.0, help="600 for the 10-minute memory check")
    ap.add_argument("--flush-after", type=float, default=FLUSH_AFTER_S)
    ap.add_argument("--skip-history", action="store_true")
    ap.add_argument("--skip-live", action="store_true")
    args = ap.parse_args()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if not args.skip_history:
            print(f"history replay, 1 symbol-day, {args.ticks:,} regular trades requested, best of {args.repeat}")
            print(f"{'stage':45} {'seconds':>8} {'ticks':>10} {'ticks/s':>12}")
            for name, sec, n in bench_history(args.ticks, args.repeat, tmp):
                print(f"{name:45} {sec:8.2f} {n:10,} {n / sec:12,.0f}")
            print()
        if not args.skip_live:
            print("live")
            for k, v in bench_live(args.symbols, args.rate, args.live_seconds, args.flush_after, tmp).items():
                print(f"  {k:28} {v}")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
