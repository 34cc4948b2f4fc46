"""Indicator benchmarks on one core: python tests/bench/bench_indicators.py [--ticks N] [--skip-metrics] …

Sections (each a ``bench_<section>(args)`` function printing its own table; ``--skip-<section>``
leaves one out):

* metrics — all 20 derived metrics × 3 windows (:func:`core.indicators.derived.compute_derived`) over
  one generated day of ``--ticks`` trades (default 5,000,000) on its 1 s grid, target < 200 ms:
  from the raw columns (what the live engine and the history build pass) and from the stored
  enrichment columns; best and median of ``--repeat`` runs, ms and ticks/s. The peer is the
  straightforward pandas implementation of the tests (``tests/unit/indicators/reference_metrics.py``)
  on the day's first ``--peer-ticks`` trades at ``--peer-instants`` grid instants: its time per grid
  instant beside ours.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from core.calendar import get_calendar  # noqa: E402
from core.enrich import enrich_slices, utc_ns_from_date_time  # noqa: E402
from core.indicators.derived import VolumeProfile, compute_derived, metric_grid  # noqa: E402
from core.sources.synthetic import generate_day  # noqa: E402

DAY = "2024-07-02"
TARGET_MS = 200.0
_DAY_NS = 86_400 * 10**9
_STORED = ("trade_sign", "dollar_volume", "is_block_trade", "is_odd_lot", "is_intermarket_sweep")


def _day(ticks: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(raw columns + timestamp, the same + the stored enrichment columns) of a generated SPY day.

    ``ticks`` is the day's total: the generator's regular-session count is scaled so that pre-market
    and after-hours trades bring the day to about ``ticks``, then the day is cut to exactly that many.
    """
    cal = get_calendar()
    raw = generate_day("SPY", DAY, calendar=cal, ticks=int(ticks / 1.07))
    n = min(ticks, raw["tick_id"].size)
    raw = {k: v[:n] for k, v in raw.items()}
    cols = dict(raw)
    cols["timestamp"] = utc_ns_from_date_time(raw["date"], raw["time"])
    stored = dict(cols)
    parts: dict[str, list[np.ndarray]] = {k: [] for k in _STORED}
    for _, _, df in enrich_slices(raw, symbol="SPY", source="bench", ingest_id="b", calendar=cal):
        for k in _STORED:
            parts[k].append(df[k].to_numpy())
    stored.update({k: np.concatenate(v) for k, v in parts.items()})
    return cols, stored


def _time(fn, repeat: int) -> tuple[float, float]:
    fn()  # JIT and first-touch warm-up
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times), sorted(times)[len(times) // 2]


def bench_metrics(args) -> None:
    t = time.perf_counter()
    cols, stored = _day(args.ticks)
    n = cols["timestamp"].size
    setup_s = time.perf_counter() - t
    # the volume profile: the same day's ticks as "yesterday" (its VPIN bucket is then 1/1000 of this day)
    profile = VolumeProfile.from_days([(cols["timestamp"] - _DAY_NS, cols["last_sz"])])
    grid_best, _ = _time(lambda: metric_grid(cols["timestamp"]), args.repeat)
    grid = metric_grid(cols["timestamp"])
    print(f"derived metrics: {n:,} ticks, {grid.size:,} grid instants (1 s), 60 series; "
          f"day generated and enriched in {setup_s:.1f} s")
    print(f"{'benchmark':<44} {'best ms':>9} {'median ms':>10} {'ticks/s (best)':>16} {'target ms':>10}")
    print(f"{'metric_grid (1 s)':<44} {grid_best * 1e3:>9.1f} {'':>10} {n / grid_best:>16,.0f} {'':>10}")
    for label, c in (("20 metrics x 3 windows, raw columns", cols),
                     ("20 metrics x 3 windows, stored enrichment", stored)):
        best, med = _time(lambda c=c: compute_derived(c, grid, volume_profile=profile), args.repeat)
        print(f"{label:<44} {best * 1e3:>9.1f} {med * 1e3:>10.1f} {n / best:>16,.0f} {TARGET_MS:>10.0f}")
        ours_per_instant = best / grid.size
    if args.peer_ticks <= 0:
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "indicators"))
    from reference_metrics import reference

    m = min(args.peer_ticks, n)
    part = {k: v[:m] for k, v in stored.items()}
    pgrid = metric_grid(part["timestamp"])
    at = pgrid[np.linspace(0, pgrid.size - 1, min(args.peer_instants, pgrid.size)).astype(int)]
    history = [(cols["timestamp"] - _DAY_NS, cols["last_sz"])]
    t = time.perf_counter()
    reference(part, at, history=history, bucket=max(1.0, round(profile.daily_volume / 1000)))
    peer = time.perf_counter() - t
    print(f"{'pandas reference (peer), ' + f'{m:,} ticks':<44} {peer * 1e3:>9.1f} {'':>10} {'':>16} {'':>10}")
    print(f"per grid instant: compute_derived {ours_per_instant * 1e6:.2f} µs on {n:,} ticks; "
          f"pandas reference {peer / at.size * 1e3:.1f} ms on {m:,} ticks ({at.size} instants)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=5_000_000, help="trades in the metrics day")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--peer-ticks", type=int, default=20_000, help="trades the pandas reference runs on (0: skip)")
    ap.add_argument("--peer-instants", type=int, default=200, help="grid instants the pandas reference evaluates")
    ap.add_argument("--skip-metrics", action="store_true", help="leave out the derived-metrics section")
    args = ap.parse_args()
    if not args.skip_metrics:
        bench_metrics(args)


if __name__ == "__main__":
    main()
