"""``tickdeck sql "SELECT …"``: DuckDB over the store (``ticks('AAPL','2024-07-01','2024-07-05')``,
``days``) and over Parquet exports (``export_<name>``)."""

from __future__ import annotations

TABLES = """tables and table functions (see tickdeck.core.sql):
  ticks('AAPL', '2024-07-01', '2024-07-05' [, 'regular'])
                     stored ticks of one symbol in a day range, optionally one session
                     (pre, regular, after); the 43 columns of docs/schema.md (timestamp, last, …)
  bars('AAPL', '2024-07-01', '2024-07-05', 'time:60s' [, 'regular'])
                     bars of one symbol in a day range for a bar spec (tick:500, volume:10000, …)
  days               the catalog, one row per stored symbol-day (no ticks loaded): symbol, day,
                     ticks, volume, vwap, open, high, low, close, source, quality_score
  export_<name>      every Parquet export under <data_dir>/exports (<name>: its stem, non-alphanumerics as _)
  any DuckDB function, e.g. read_parquet('data/exports/x.parquet')

examples:
  tickdeck sql "SELECT count(*), avg(last) FROM ticks('AAPL', '2024-07-01', '2024-07-05', 'regular')"
  tickdeck sql "SELECT symbol, day, ticks FROM days ORDER BY day DESC" --limit 20
  tickdeck sql "SELECT * FROM bars('SPY', '2024-07-01', '2024-07-01', 'time:300s')" --csv | head
"""


def register(sub) -> None:
    import argparse

    p = sub.add_parser("sql", help="run DuckDB SQL over stored ticks and exports",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Run a DuckDB query over the store and the exports. Only the days a query "
                                   "names are loaded.", epilog=TABLES)
    p.add_argument("query", help="the SQL; quote it for the shell")
    p.add_argument("--limit", type=int, default=1000, help="rows to print (default 1000)")
    p.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    p.set_defaults(func=run)


def run(args) -> int:
    import sys

    import pandas as pd

    from tickdeck.app.wiring import open_context
    from tickdeck.core.sql import run_sql

    ctx = open_context()
    res = run_sql(ctx, args.query, limit=args.limit)
    df = res.to_pandas()
    if args.csv:
        df.to_csv(sys.stdout, index=False)
    else:
        with pd.option_context("display.max_rows", args.limit, "display.max_columns", 50, "display.width", 200):
            print(df.to_string(index=False) if len(df) else "(no rows)")
    return 0
