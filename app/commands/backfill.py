"""``tickdeck backfill``: find missing/failing trading days and queue (or run) their collection,
each dataset from its own source (IQFeed, the synthetic generator; imports are not collectable)."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("backfill", help="collect missing or failing trading days")
    p.add_argument("symbols", nargs="*", metavar="SYMBOL", help="default with --stale: the watchlist")
    p.add_argument("--start", help="first day YYYY-MM-DD")
    p.add_argument("--end", help="last day YYYY-MM-DD")
    p.add_argument("--stale", action="store_true",
                   help="backfill every stale watchlist symbol up to the last completed day")
    p.add_argument("--run", action="store_true", help="collect now in this process instead of queueing jobs")
    p.add_argument("--freshness", action="store_true", help="only print the data-freshness table")
    p.set_defaults(func=run)


def run(args) -> int:
    from tickdeck.app.wiring import open_context
    from tickdeck.core.backfill import freshness, plan_backfill, plan_stale, run_plan, submit_plans
    from tickdeck.core.errors import TickdeckError

    ctx = open_context()
    if args.freshness:
        print(f"{'symbol':<10} {'latest':<12} {'last completed':<15} {'days behind':>11}")
        for f in freshness(ctx, args.symbols or None):
            print(f"{f.symbol:<10} {str(f.latest_day or '-'):<12} {str(f.last_completed):<15} {f.days_behind:>11}")
        return 0
    if args.stale:
        plans = plan_stale(ctx, args.symbols or None)
    else:
        if not args.symbols or not (args.start and args.end):
            raise TickdeckError("give SYMBOL… with --start and --end, or use --stale")
        plans = [plan_backfill(ctx, s, args.start, args.end) for s in args.symbols]
    for p in plans:
        print(f"{p.symbol}: {len(p.missing)} missing, {len(p.failing)} failing day(s)"
              + (f" ({', '.join(str(d) for d in p.days[:8])}{' …' if len(p.days) > 8 else ''})" if p.days else "")
              + (f" from {p.via}" if p.days and p.via else "")
              + (f"; skipped: {p.reason}" if p.days and not p.via else ""))
    plans = [p for p in plans if p.days and p.via]
    if not plans:
        print("nothing to backfill")
        return 0
    if args.run:
        from tickdeck.core.progress import TqdmProgress

        bar = TqdmProgress()
        try:
            for p in plans:
                run_plan(ctx, p, progress=bar)
        finally:
            bar.close()
        print(f"collected {sum(len(p.days) for p in plans)} symbol-day(s)")
        return 0
    from tickdeck.jobs.queue import JobQueue

    q = JobQueue(ctx.catalog.engine, ctx.bus)
    kinds: dict[str, list[int]] = {}
    submit_plans(plans, lambda kind, params, prio: kinds.setdefault(kind, []).append(
        q.submit(kind, params, priority=prio, requested_by="cli")) or kinds[kind][-1])
    print("queued " + "; ".join(f"{len(ids)} {kind} job(s): {', '.join(map(str, ids))}" for kind, ids in kinds.items())
          + " (run them with: tickdeck worker --once)")
    return 0
