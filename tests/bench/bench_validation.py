"""Benchmark: ingest rules throughput and all validators on a 1,000,000-tick day.

Run: ``.venv/bin/python tests/bench/bench_validation.py [--ticks N]``. Prints a table; targets
are ingest rules ≥ 5,000,000 ticks/s and the validators < 300 ms on 1M ticks (measured on the
in-memory day; the ArcticDB read is shown separately).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tickdeck.core.config import Settings  # noqa: E402
from tickdeck.core.context import Context  # noqa: E402
from tickdeck.core.enrich import enrich  # noqa: E402
from tickdeck.core.ingest import ingest_day  # noqa: E402
from tickdeck.core.sources.synthetic import generate_day  # noqa: E402
from tickdeck.core.validation.rules import ValidationConfig, make_ingest_rules  # noqa: E402
from tickdeck.core.validation.service import VALIDATORS, load_day, run_validators  # noqa: E402


def best(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ticks", type=int, default=1_000_000, help="regular-session trades (total is ~7% more)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        ctx = Context.open(Settings(data_dir=Path(d)))
        cal = ctx.calendar()
        raw = generate_day("BENCH", "2024-07-02", calendar=cal, ticks=args.ticks, faults=["crossed_quotes"])
        df = enrich(raw, symbol="BENCH", source="synthetic", ingest_id="bench-1", calendar=cal)
        n = len(df)
        rules_plain = make_ingest_rules(ValidationConfig())
        rules_sink = make_ingest_rules(ValidationConfig(), sink={})
        t_rules = best(lambda: rules_plain(df))
        t_rules_flags = best(lambda: rules_sink(df))
        ingest_day(ctx, "BENCH", "2024-07-02", raw, source="synthetic", calendar=cal)
        t_read = best(lambda: load_day(ctx, "BENCH", "2024-07-02"), 3)
        data = load_day(ctx, "BENCH", "2024-07-02")
        rows = [("ingest rules (rejects + contract)", t_rules), ("ingest rules + flags", t_rules_flags),
                ("read day (ArcticDB, 10 columns)", t_read)]
        total = 0.0
        for v in VALIDATORS:
            t = best(lambda v=v: run_validators(ctx, data, [v]))
            total += t
            rows.append((f"validator {v}", t))
        rows.append(("all validators (sum)", total))
        rows.append(("all validators (one call)", best(lambda: run_validators(ctx, data))))
        ctx.close()
    print(f"{n:,} ticks")
    print(f"{'step':<36} {'ms':>9} {'ticks/s':>15}")
    for name, t in rows:
        print(f"{name:<36} {t * 1e3:>9.1f} {n / t:>15,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
