"""``tickdeck import``: a CSV, Parquet, Databento DBN or NautilusTrader file into the tick store.

Exit status: 0 when every day was imported; 1 (one ``tickdeck: error:`` line) when the file is
refused (unreadable, not UTF-8, no data rows, unusable columns or timestamps) and nothing was
stored, when a stored day was left as it was because the import may not replace it
(another source, or far fewer ticks) and ``--replace`` was not given, or when a bar type of a
Nautilus catalog could not be imported (each is named with the reason; the rest is stored).
"""

from __future__ import annotations

import sys

from tickdeck.core.progress import TqdmProgress

# core.calendar.CALENDAR_NAMES, written out so that building the parser does not import
# exchange_calendars (tests/unit/jobs/test_cli.py keeps the two equal)
CALENDAR_CHOICES = ("XNYS", "CMES", "24/7")


def register(sub) -> None:
    from tickdeck.core.sources.files import FORMATS, TARGETS

    p = sub.add_parser("import", help="import trades (or quotes) from a file, one session day at a time",
                       description="Import a CSV, Parquet, Databento DBN (.dbn/.dbn.zst) file or a "
                                   "NautilusTrader catalog (trade and quote ticks, bars). See docs/importing.md.")
    p.add_argument("file", metavar="FILE", help="file (or Nautilus catalog directory) to import")
    p.add_argument("--symbol", required=True,
                   help="ticker to store under (also picks the instrument in multi-instrument files)")
    p.add_argument("--source", default=None, help="name recorded as import:NAME (default: the format)")
    p.add_argument("--calendar", choices=CALENDAR_CHOICES, default=None,
                   help="session calendar (default: what the file says, else guessed from the symbol)")
    p.add_argument("--map", dest="mapping", action="extend", nargs="+", default=[], metavar="TARGET=COLUMN",
                   help=f"column mapping for CSV/Parquet; targets: {', '.join(TARGETS)}")
    p.add_argument("--format", dest="fmt", choices=FORMATS, default=None, help="file format (default: from the name)")
    p.add_argument("--replace", action="store_true",
                   help="replace stored days even when they come from another source or would shrink sharply "
                        "(the previous version is kept and can be restored with restore-day)")
    p.add_argument("--no-progress", action="store_true", help="do not show a progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    from tickdeck.app.wiring import open_context
    from tickdeck.core.sources.files import import_file

    ctx = open_context()
    bar = TqdmProgress(disable=args.no_progress)
    try:
        report = import_file(ctx, args.file, symbol=args.symbol, source=args.source, calendar=args.calendar,
                             mapping=args.mapping, fmt=args.fmt, replace=args.replace, progress=bar)
    finally:
        bar.close()
        ctx.close()
    for d in report.days:
        print(f"{report.symbol} {d.day}  {d.ticks:>10,} ticks  {d.first} .. {d.last}"
              + (f"  ({d.duplicates_dropped} duplicates dropped)" if d.duplicates_dropped else ""))
    unit = "" if report.size_unit == 1 else f", sizes in units of {report.size_unit:g}"
    print(f"imported {report.ticks:,} ticks into {report.days_written} {report.calendar} session day(s) as "
          f"{report.source} ({report.asset_class}{unit}); {report.rejected:,} row(s) to dead letters")
    for b in report.bars:
        print(f"{report.symbol} bars {b.bar_type} as {b.spec}: {b.bars:,} bars on {b.days} day(s)")
    for day, why in report.refused:
        print(f"{report.symbol} {day}  not replaced: {why}", file=sys.stderr)
    for bar_type, why in report.bars_refused:
        print(f"{report.symbol} bars {bar_type}  not imported: {why}", file=sys.stderr)
    if report.refused:
        print(f"tickdeck: error: {len(report.refused)} stored day(s) left as they were; check the file, or pass "
              "--replace to replace them", file=sys.stderr)
    if report.bars_refused:
        print(f"tickdeck: error: {len(report.bars_refused)} bar type(s) of the catalog not imported (see above)",
              file=sys.stderr)
    return 1 if report.refused or report.bars_refused else 0
