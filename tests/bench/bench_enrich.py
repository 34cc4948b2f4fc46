"""Enrichment throughput on one core: python tests/bench/bench_enrich.py [--ticks N]."""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

from tickdeck.core.calendar import get_calendar  # noqa: E402
from tickdeck.core.enrich import enrich  # noqa: E402
from tickdeck.core.sources.synthetic import generate_day  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ticks", type=int, default=2_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    cal = get_calendar()
    raw = generate_day("SPY", "2024-07-02", calendar=cal, ticks=a.ticks)
    n = len(raw["tick_id"])
    enrich(raw, symbol="SPY", source="bench", ingest_id="b", calendar=cal)  # JIT warm-up
    times = []
    for _ in range(a.repeat):
        t = time.perf_counter()
        enrich(raw, symbol="SPY", source="bench", ingest_id="b", calendar=cal)
        times.append(time.perf_counter() - t)
    best, med = min(times), sorted(times)[len(times) // 2]
    print(f"{'benchmark':<28} {'ticks':>12} {'best s':>8} {'median s':>9} {'ticks/s (best)':>16} {'target':>12}")
    print(f"{'enrich (43 columns)':<28} {n:>12,} {best:>8.3f} {med:>9.3f} {n / best:>16,.0f} {'2,000,000':>12}")


if __name__ == "__main__":
    main()
