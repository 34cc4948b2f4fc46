"""``tickdeck restore-day``: list the kept versions of a stored day, or bring one back.

Example::

    tickdeck restore-day AAPL 2026-11-25              # list versions (current first)
    tickdeck restore-day AAPL 2026-11-25 --version 4  # restore version 4

Restoring writes the kept version as the day's new current version (the replaced one is kept in
turn), rewrites the catalog row and rebuilds default bars and validation like any write.
"""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("restore-day", help="list the kept versions of a stored day, or restore one (--version)",
                       description="Replacing a stored day keeps the replaced version (the last "
                                   "3 per day). Without --version, list them; with it, restore one.")
    p.add_argument("symbol", metavar="SYMBOL")
    p.add_argument("day", metavar="DAY", help="YYYY-MM-DD")
    p.add_argument("--version", type=int, default=None, help="version number to restore (see the listing)")
    p.set_defaults(func=run)


def _fmt(ts) -> str:
    return "-" if ts is None else ts.strftime("%Y-%m-%d %H:%M:%S %Z")


def run(args) -> int:
    from tickdeck.app.wiring import open_context
    from tickdeck.core.ingest import restore_day

    ctx = open_context()
    try:
        if args.version is None:
            versions = ctx.store.day_versions(args.symbol, args.day)
            print(f"{'version':>7}  {'':7}  {'written':25}  {'ticks':>10}  {'source':24}  first .. last")
            for v in versions:
                print(f"{v.version:>7}  {'current' if v.current else 'kept':7}  {_fmt(v.written_at):25}  "
                      f"{v.ticks:>10,}  {v.source:24}  {_fmt(v.first)} .. {_fmt(v.last)}")
            if len(versions) > 1:
                print(f"restore one with: tickdeck restore-day {args.symbol} {args.day} --version N")
            return 0
        info = restore_day(ctx, args.symbol, args.day, args.version)
        print(f"restored {info.symbol} {info.day} version {args.version}: {info.ticks:,} ticks from {info.source}; "
              f"default bars and validation rebuilt")
        return 0
    finally:
        ctx.close()
