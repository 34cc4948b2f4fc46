"""``tickdeck sql "SELECT …"``: DuckDB over the store (``ticks('AAPL','2024-07-01','2024-07-05')``,
``days``) and over Parquet exports (``export_<name>``)."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("sql", help="run DuckDB SQL over stored ticks and exports")
    p.add_argument("query")
    p.add_argument("--limit", type=int, default=1000, help="rows to print (default 1000)")
    p.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    p.set_defaults(func=run)


def run(args) -> int:
    import sys

    import pandas as pd

    from app.wiring import open_context
    from core.sql import run_sql

    ctx = open_context()
    res = run_sql(ctx, args.query, limit=args.limit)
    df = res.to_pandas()
    if args.csv:
        df.to_csv(sys.stdout, index=False)
    else:
        with pd.option_context("display.max_rows", args.limit, "display.max_columns", 50, "display.width", 200):
            print(df.to_string(index=False) if len(df) else "(no rows)")
    return 0
