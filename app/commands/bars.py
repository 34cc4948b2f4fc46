"""``tickdeck bars``: build stored bar series, or show one day's bars (computed on demand if not stored)."""

from __future__ import annotations

from pathlib import Path

from tickdeck.core.naming import date_range
from tickdeck.core.progress import Progress, TqdmProgress


def _span_args(p, dask_help: str) -> None:
    """The day range, specs and cluster of ``bars build`` and ``bars rebuild``."""
    p.add_argument("--start", required=True, help="first day YYYY-MM-DD")
    p.add_argument("--end", required=True, help="last day YYYY-MM-DD")
    p.add_argument("--spec", action="append", default=None, metavar="SPEC",
                   help="bar spec such as time:60s or volume:10000:split (repeatable; default: the default set)")
    p.add_argument("--dask", default=None, metavar="ADDRESS", help=dask_help)
    p.set_defaults(func=run)


def register(sub) -> None:
    p = sub.add_parser("bars", help="build or show bars (13 families)")
    verbs = p.add_subparsers(dest="bars_command", metavar="VERB")
    verbs.required = True
    b = verbs.add_parser("build", help="build and store bars for stored tick days")
    b.add_argument("symbols", nargs="+", metavar="SYMBOL")
    _span_args(b, "run the symbol-days on a Dask cluster: tcp://scheduler:8786, or local:N for N local workers")
    r = verbs.add_parser("rebuild", help="rebuild stored bars over many symbol-days, optionally on a Dask cluster")
    r.add_argument("--symbols", default="", help="comma-separated tickers (default: every stored symbol)")
    _span_args(r, "Dask scheduler (tcp://host:8786, or local:N); default: TICKDECK_DASK_ADDRESS, else here")
    s = verbs.add_parser("show", help="print or export one day's bars")
    s.add_argument("symbol", metavar="SYMBOL")
    s.add_argument("day", metavar="YYYY-MM-DD")
    s.add_argument("spec", metavar="SPEC")
    s.add_argument("--session", choices=["regular", "pre", "after", "all"], default="all")
    s.add_argument("--out", default=None, metavar="FILE", help="write .csv or .parquet instead of printing")
    s.set_defaults(func=run)


def run_bulk_command(op: str, symbols, start, end, dask: str | None, *, specs=()) -> int:
    """``op`` over the stored symbol-days through :func:`core.bulk.run_bulk` (on ``dask``, else the
    setting ``TICKDECK_DASK_ADDRESS``, else here); prints the summary; 1 when a symbol-day failed."""
    from tickdeck.app.wiring import open_context
    from tickdeck.core.bulk import run_bulk

    ctx = open_context(pipeline=False)
    bar = TqdmProgress()
    try:
        out = run_bulk(ctx, op, symbols or None, start, end, specs=specs,
                       dask=dask or ctx.settings.dask_address or None, progress=bar)
    finally:
        bar.close()
        ctx.close()
    print(out.describe())
    return 1 if out.failed else 0


def run(args) -> int:
    from tickdeck.app.wiring import open_context
    from tickdeck.core.bars import get_bars, parse_spec
    from tickdeck.core.bars.service import build_default_bars
    from tickdeck.core.errors import DayNotFound, TickdeckError

    if args.bars_command == "show":
        spec = parse_spec(args.spec)
        out = Path(args.out) if args.out else None
        if out is not None and out.suffix not in (".csv", ".parquet"):
            raise TickdeckError(f"--out {out}: use a .csv or .parquet file name")
        ctx = open_context()
        try:
            df = get_bars(ctx, args.symbol, args.day, None, spec, session=args.session)
        finally:
            ctx.close()
        if out is None:
            import pandas as pd

            with pd.option_context("display.max_rows", 60, "display.max_columns", None, "display.width", 250):
                print(df)
        elif out.suffix == ".csv":
            df.to_csv(out)
        else:
            df.to_parquet(out)
        if out is not None:
            print(f"wrote {len(df)} bars to {out}")
        return 0

    if args.bars_command == "rebuild" or args.dask:
        symbols = args.symbols if args.bars_command == "build" else args.symbols.replace(",", " ").split()
        return run_bulk_command("bars", symbols, args.start, args.end, args.dask, specs=args.spec or ())

    specs = [parse_spec(s) for s in args.spec] if args.spec else None
    start, end = date_range(args.start, args.end)
    ctx = open_context()
    bar = TqdmProgress()
    try:
        todo = [(sym, d) for sym in args.symbols for d in ctx.store.list_days(sym) if start <= d <= end]
        if not todo:
            raise DayNotFound(", ".join(args.symbols), f"{start}..{end}")
        series = 0
        for k, (sym, day) in enumerate(todo):
            series += len(build_default_bars(ctx, sym, day, specs=specs))
            bar(Progress("bars", k + 1, len(todo), f"{sym} {day}"))
    finally:
        bar.close()
        ctx.close()
    print(f"built {series} bar series over {len(todo)} symbol-days")
    return 0
