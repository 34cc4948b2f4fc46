"""``tickdeck collect``: fetch days (or stream live) from IQFeed / the emulator into the store."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("collect", help="collect ticks from IQFeed (or `tickdeck iqfeed-sim`)")
    p.add_argument("symbols", nargs="+", metavar="SYMBOL")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--start", help="first day YYYY-MM-DD (with --end)")
    mode.add_argument("--days", type=int, help="the last N completed trading days")
    mode.add_argument("--live", action="store_true", help="stream Level 1 into today until Ctrl-C")
    p.add_argument("--end", help="last day YYYY-MM-DD (with --start)")
    p.add_argument("--host", default=None, help="feed host (default TICKDECK_FEED_HOST)")
    p.add_argument("--port-history", type=int, default=None, help="history port (default TICKDECK_FEED_PORT_HISTORY)")
    p.add_argument("--port-l1", type=int, default=None, help="Level 1 port (default TICKDECK_FEED_PORT_L1)")
    p.add_argument("--batch-seconds", type=float, default=1.0, help="live micro-batch length")
    p.set_defaults(func=run)


def run(args) -> int:
    import signal
    import threading

    from tickdeck.app.wiring import open_context
    from tickdeck.core.collect import collect_days
    from tickdeck.core.live import collect_live
    from tickdeck.core.errors import TickdeckError
    from tickdeck.core.naming import date_range
    from tickdeck.core.progress import TqdmProgress

    if args.start and not args.end or args.end and not args.start:
        raise TickdeckError("--start and --end go together")
    if args.days is not None and args.days < 1:
        raise TickdeckError(f"--days must be >= 1, got {args.days}")
    ctx = open_context()
    try:
        if args.live:
            stop = threading.Event()
            signal.signal(signal.SIGINT, lambda *_: stop.set())
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            s = collect_live(ctx, args.symbols, batch_seconds=args.batch_seconds, stop_event=stop, host=args.host,
                             port_history=args.port_history, port_l1=args.port_l1)
            print(f"live: appended {sum(s.appended.values()):,} ticks in {s.batches} batches: "
                  f"{s.acknowledged:,} acknowledged, {s.backfilled:,} backfilled, {s.recovered:,} recovered "
                  f"({s.duplicates:,} duplicates dropped, {s.backfills} backfills; dead letters: "
                  f"{s.bad_lines:,} bad lines, {s.rejected:,} rejected, {s.late:,} late)")
            print(s.stop.message)  # what the bounded final flush stored, and what waits in the journal
            return 0
        cal = ctx.calendar()
        if args.days is not None:
            days = cal.previous_trading_days(cal.last_completed_trading_day(), args.days)
        else:
            start, end = date_range(args.start, args.end)
            days = cal.trading_days(start, end)
            if not days:
                raise TickdeckError(f"no {cal.name} trading days between {start} and {end}")
        bar = TqdmProgress()
        try:
            res = collect_days(ctx, args.symbols, days, host=args.host, port_history=args.port_history, progress=bar)
        finally:
            bar.close()
        print(f"collected {len(res)} symbol-days, {sum(r.info.ticks for r in res):,} ticks")
        return 0
    finally:
        ctx.close()
