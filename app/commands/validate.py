"""``tickdeck validate``: run the validators on a symbol-day or a date range and report.

Exit status 0 when no day is FAIL, 1 otherwise. ``--json`` prints one JSON object per line
per symbol-day (``symbol``, ``day``, ``status``, ``issues`` with ``validator``, ``severity``,
``code``, ``message`` …).
"""

from __future__ import annotations

import json

from tickdeck.core.naming import as_date
from tickdeck.core.progress import TqdmProgress


def register(sub) -> None:
    p = sub.add_parser("validate", help="validate stored tick days (session, storage, timezone, continuity, rules)")
    p.add_argument("symbol", metavar="SYMBOL")
    p.add_argument("day", nargs="?", metavar="YYYY-MM-DD", help="one day (or use --start/--end)")
    p.add_argument("--start", help="first day of a range YYYY-MM-DD")
    p.add_argument("--end", help="last day of a range YYYY-MM-DD")
    p.add_argument("--type", dest="types", action="append",
                   choices=["session", "storage", "timezone", "continuity", "rules"],
                   help="run only this validator (repeatable; default all)")
    p.add_argument("--json", action="store_true", help="one JSON object per symbol-day")
    p.add_argument("--no-cache", action="store_true", help="re-run even if a fresh cached result exists")
    p.add_argument("--quality", action="store_true", help="also compute and store the quality score")
    p.add_argument("--dask", default=None, metavar="ADDRESS",
                   help="re-validate the range on a Dask cluster (tcp://host:8786, or local:N); SYMBOL may be ALL")
    p.set_defaults(func=run)


def format_report(report, quality=None) -> str:
    """The human-readable report of one symbol-day."""
    head = f"{report.symbol} {report.day}  {report.status}"
    if report.cached:
        head += "  (cached)"
    if quality is not None:
        head += (f"  quality {quality.score:.1f} (completeness {quality.completeness:.0f}, accuracy "
                 f"{quality.accuracy:.0f}, timeliness {quality.timeliness:.0f}, consistency {quality.consistency:.0f})")
    lines = [head]
    for r in report.results:
        lines.append(f"  {r.validator:<11} {r.status}")
    issues = report.issues
    if not issues:
        lines.append("  no issues")
    for i in issues:
        where = ""
        if i.start:
            where = f" [{i.start[11:19]}" + (f"–{i.end[11:19]}" if i.end and i.end != i.start else "") + "]"
        rows = f" rows={i.rows:,}" if i.rows else ""
        lines.append(f"  {i.severity:<8} {i.validator}/{i.code}{where}{rows}: {i.message}")
    return "\n".join(lines)


def run(args) -> int:
    from tickdeck.app.wiring import open_context
    from tickdeck.core.errors import TickdeckError
    from tickdeck.core.validation import quality_score, validate_day, validate_range

    if args.day and (args.start or args.end):
        raise TickdeckError("give either a DAY or --start/--end, not both")
    if not args.day and not (args.start and args.end):
        raise TickdeckError("give a DAY (YYYY-MM-DD) or both --start and --end")
    if args.dask:
        from tickdeck.app.commands.bars import run_bulk_command

        start, end = (args.day, args.day) if args.day else (args.start, args.end)
        return run_bulk_command("validate", None if args.symbol.upper() == "ALL" else [args.symbol], start, end,
                                args.dask)
    ctx = open_context()
    try:
        if args.day:
            reports = [validate_day(ctx, args.symbol, as_date(args.day), types=args.types, use_cache=not args.no_cache)]
        else:
            bar = TqdmProgress(disable=args.json)
            try:
                reports = validate_range(ctx, args.symbol, as_date(args.start), as_date(args.end), types=args.types,
                                         progress=bar, use_cache=not args.no_cache)
            finally:
                bar.close()
        failed = 0
        for rep in reports:
            q = None
            if args.quality and ctx.store.has_day(rep.symbol, rep.day):
                q = quality_score(ctx, rep.symbol, rep.day, report=rep)
            if args.json:
                d = rep.to_dict()
                if q is not None:
                    d["quality"] = {"score": q.score, **q.components()}
                print(json.dumps(d, default=str))
            else:
                print(format_report(rep, q))
            failed += rep.status == "FAIL"
        if not args.json and len(reports) > 1:
            print(f"{len(reports)} symbol-days: {failed} FAIL, "
                  f"{sum(r.status == 'WARN' for r in reports)} WARN, {sum(r.status == 'PASS' for r in reports)} PASS")
        return 1 if failed else 0
    finally:
        ctx.close()
