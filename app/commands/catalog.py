"""``tickdeck catalog``: list datasets with their days, tick counts, first/last time.

Listing reads only the SQL catalog (no tick store, no calendars, no post-ingest pipeline), so a
cold ``tickdeck catalog`` starts in about a second; ``--rebuild`` opens the store as well.
"""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

TZ = "America/New_York"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def register(sub) -> None:
    p = sub.add_parser("catalog", help="list stored datasets")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--days", action="store_true", help="list every stored day")
    p.add_argument("--rebuild", action="store_true", help="rebuild catalog rows from store metadata")
    p.set_defaults(func=run)


def run(args) -> int:
    from tickdeck.app.wiring import load_settings, open_context
    from tickdeck.core.catalog import Catalog

    if args.rebuild:
        ctx = open_context(pipeline=False)
        try:
            infos = ctx.store.day_infos()
            for sym in sorted({i.symbol for i in infos}):
                if ctx.catalog.dataset(sym) is None:
                    ctx.catalog.upsert_dataset(sym, source=next(i.source for i in infos if i.symbol == sym))
            print(f"rebuilt {ctx.catalog.upsert_tick_days(infos)} tick-day rows from the store")
        finally:
            ctx.close()
    catalog = Catalog(load_settings().sql_url)
    try:
        return _show(args, catalog)
    finally:
        catalog.engine.dispose()


def _iso(ns: int | None) -> str | None:
    """ISO 8601 in New York time of a stored nanosecond time, as ``pd.Timestamp.isoformat`` writes
    it, without importing pandas for the usual whole microseconds."""
    if ns is None:
        return None
    if ns % 1000:
        import pandas as pd

        return pd.Timestamp(int(ns), tz="UTC").tz_convert(TZ).isoformat()
    return (EPOCH + dt.timedelta(microseconds=ns // 1000)).astimezone(ZoneInfo(TZ)).isoformat()


def _show(args, catalog) -> int:
    datasets = catalog.datasets()
    rows = catalog.tick_days()
    by_sym: dict[str, list] = {}
    for r in rows:
        by_sym.setdefault(r.symbol, []).append(r)
    if args.json:
        out = []
        for d in datasets:
            days = by_sym.get(d.symbol, [])
            out.append({
                "symbol": d.symbol, "source": d.source, "venue": d.venue, "calendar": d.calendar,
                "first_day": d.first_day and d.first_day.isoformat(),
                "last_day": d.last_day and d.last_day.isoformat(), "days": d.days, "ticks": d.ticks,
                "first_time": _iso(days[0].first_ns) if days else None,
                "last_time": _iso(days[-1].last_ns) if days else None,
                "day_list": [{"day": r.day.isoformat(), "ticks": r.ticks, "first": _iso(r.first_ns),
                              "last": _iso(r.last_ns)} for r in days],
            })
        print(json.dumps(out, indent=2))
        return 0
    if not datasets:
        print("no datasets stored yet (try: tickdeck generate AAPL --start 2024-07-01 --end 2024-07-05)")
        return 0
    print(f"{'symbol':<10} {'source':<12} {'days':>5} {'ticks':>14}  {'first':<26} {'last':<26}")
    for d in datasets:
        days = by_sym.get(d.symbol, [])
        first = (_iso(days[0].first_ns) if days else None) or "-"
        last = (_iso(days[-1].last_ns) if days else None) or "-"
        print(f"{d.symbol:<10} {d.source:<12} {d.days:>5} {d.ticks:>14,}  {first:<26} {last:<26}")
        if args.days:
            for r in days:
                first, last = _iso(r.first_ns), _iso(r.last_ns)
                print(f"    {r.day}  {r.ticks:>12,} ticks  {first[11:19] if first else '-'} – "
                      f"{last[11:19] if last else '-'}")
    return 0
