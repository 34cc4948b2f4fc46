"""``tickdeck generate``: synthetic trading days into the store."""

from __future__ import annotations

from tickdeck.core.naming import date_range
from tickdeck.core.progress import TqdmProgress


def register(sub) -> None:
    p = sub.add_parser("generate", help="generate synthetic trading days into the store")
    p.add_argument("symbols", nargs="+", metavar="SYMBOL")
    p.add_argument("--start", required=True, help="first day YYYY-MM-DD")
    p.add_argument("--end", required=True, help="last day YYYY-MM-DD")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--faults", default="", help="comma-separated fault kinds to inject")
    p.add_argument("--ticks", type=int, default=None, help="regular-session trades per day (default: per symbol)")
    p.set_defaults(func=run)


def run(args) -> int:
    from tickdeck.app.wiring import open_context
    from tickdeck.core.errors import TickdeckError
    from tickdeck.core.sources.synthetic import FAULT_KINDS, generate_into_store

    faults = [f.strip() for f in args.faults.split(",") if f.strip()]
    bad = [f for f in faults if f not in FAULT_KINDS]
    if bad:
        raise TickdeckError(f"unknown fault kind {bad[0]!r}; choose from {', '.join(FAULT_KINDS)}")
    start, end = date_range(args.start, args.end)
    ctx = open_context()
    bar = TqdmProgress()
    try:
        results = generate_into_store(ctx, args.symbols, start, end, seed=args.seed, faults=faults,
                                      ticks=args.ticks, progress=bar)
    finally:
        bar.close()
    total = sum(r.info.ticks for r in results)
    print(f"generated {len(results)} symbol-days, {total:,} ticks")
    return 0


