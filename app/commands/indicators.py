"""``tickdeck indicators``: build the indicator history from stored tick days, or show a stored series.

``build --start … --end … [--symbols A,B]`` (or ``--days N``: the last N days with stored ticks)
runs :func:`core.indicators.build.build_indicators` in the foreground (the ``indicators_build`` job
does the same in a worker). ``show DAY`` prints one day's series: ``breadth`` (``--source
local|feed|diff``), ``options``, or ``derived SYMBOL`` (``--metric``, ``--window``); ``--tail N``
rows (default 10).
"""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("indicators", help="build or show market indicators (breadth, options flow, derived metrics)")
    verbs = p.add_subparsers(dest="indicators_command", metavar="VERB")
    verbs.required = True
    b = verbs.add_parser("build", help="compute and store the indicators of stored tick days")
    span = b.add_mutually_exclusive_group(required=True)
    span.add_argument("--start", help="first day YYYY-MM-DD (with --end)")
    span.add_argument("--days", type=int, metavar="N", help="the last N days with stored ticks")
    b.add_argument("--end", help="last day YYYY-MM-DD")
    b.add_argument("--symbols", default="", help="comma-separated tickers for the derived metrics "
                                                 "(default: every symbol stored; breadth always uses all)")
    b.add_argument("--dask", default=None, metavar="ADDRESS",
                   help="run the symbol-days on a Dask cluster (tcp://host:8786, or local:N for N local workers)")
    b.set_defaults(func=run)
    s = verbs.add_parser("show", help="print a stored indicator series of one day")
    s.add_argument("what", choices=["breadth", "options", "derived"])
    s.add_argument("day", metavar="YYYY-MM-DD")
    s.add_argument("symbol", nargs="?", default=None, help="the symbol (derived)")
    s.add_argument("--source", choices=["local", "feed", "diff"], default="local", help="breadth source")
    s.add_argument("--metric", action="append", default=None, help="derived metric (repeatable)")
    s.add_argument("--window", choices=["1min", "5min", "session"], default=None)
    s.add_argument("--tail", type=int, default=10, help="rows to print (0: all)")
    s.set_defaults(func=run)


def run(args) -> int:
    from tickdeck.app.wiring import open_context
    from tickdeck.core.errors import TickdeckError

    if args.indicators_command == "show":
        import pandas as pd

        from tickdeck.core.indicators import store as istore

        if args.what == "derived" and not args.symbol:
            raise TickdeckError("tickdeck indicators show derived DAY SYMBOL: give the symbol")
        ctx = open_context(pipeline=False)
        try:
            if args.what == "breadth":
                df = istore.read_breadth(ctx, args.day, args.source)
            elif args.what == "options":
                df = istore.read_options(ctx, args.day)
            else:
                df = istore.read_derived(ctx, args.symbol, args.day, metrics=args.metric, window=args.window)
        finally:
            ctx.close()
        with pd.option_context("display.max_rows", 200, "display.max_columns", 12, "display.width", 250):
            print(df.tail(args.tail) if args.tail else df)
        print(f"{len(df):,} rows, {len(df.columns)} columns")
        return 0

    from tickdeck.core.indicators.build import build_indicators
    from tickdeck.core.naming import normalize_ticker
    from tickdeck.core.progress import TqdmProgress

    from tickdeck.core.indicators.build import all_days

    symbols = [normalize_ticker(x) for x in args.symbols.replace(",", " ").split()] or None
    if args.start and not args.end:
        raise TickdeckError("tickdeck indicators build --start DAY needs --end DAY (or use --days N)")
    if args.dask:
        from tickdeck.app.commands.bars import run_bulk_command

        if args.days is not None:
            ctx = open_context(pipeline=False)
            try:
                stored = all_days(ctx)[-args.days:] if args.days > 0 else []
            finally:
                ctx.close()
            if not stored:
                raise TickdeckError("no stored tick days: collect or import them first")
            args.start, args.end = stored[0].isoformat(), stored[-1].isoformat()
        return run_bulk_command("indicators", symbols, args.start, args.end, args.dask)
    ctx = open_context(pipeline=False)
    bar = TqdmProgress()
    try:
        if args.days is not None:
            stored = all_days(ctx)[-args.days:] if args.days > 0 else []
            if not stored:
                raise TickdeckError("no stored tick days: collect or import them first")
            args.start, args.end = stored[0].isoformat(), stored[-1].isoformat()
        out = build_indicators(ctx, args.start, args.end, symbols, progress=bar)
    finally:
        bar.close()
        ctx.close()
    if not out.days:
        raise TickdeckError(f"no stored tick days between {args.start} and {args.end}: collect or import them first")
    print(f"built indicators for {len(out.days)} day(s): {out.derived} symbol-days of derived metrics, "
          f"{out.breadth_rows:,} breadth rows" + (f"; no ticks on {', '.join(out.skipped)}" if out.skipped else ""))
    return 0
