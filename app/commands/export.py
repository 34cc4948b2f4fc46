"""``tickdeck export``: ticks or bars to CSV / Parquet / JSON lines or a NautilusTrader catalog, with a manifest.

Example::

    tickdeck export --symbols AAPL,MSFT --start 2024-07-01 --end 2024-07-05 \\
        --format parquet --partition --session regular --out data/exports/week27
    tickdeck export --symbols ESU4 --start 2024-07-02 --end 2024-07-02 --format nautilus --catalog cat/
"""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("export", help="export ticks or bars to csv, parquet or jsonl")
    p.add_argument("--symbols", required=True, help="comma-separated tickers")
    p.add_argument("--start", required=True, help="first day YYYY-MM-DD")
    p.add_argument("--end", required=True, help="last day YYYY-MM-DD")
    p.add_argument("--spec", default="ticks", help="'ticks' (default) or a bar spec such as time:60s")
    p.add_argument("--session", default="all", choices=["all", "pre", "regular", "after"])
    p.add_argument("--columns", default="", help="comma-separated columns (default: all)")
    p.add_argument("--format", default="parquet", choices=["csv", "parquet", "jsonl", "nautilus"])
    p.add_argument("--catalog", default="", help="NautilusTrader catalog directory (implies --format nautilus)")
    p.add_argument("--partition", action="store_true", help="hive-partitioned parquet: day=…/symbol=…")
    p.add_argument("--out", default="", help="target file or directory (default: <data_dir>/exports/<name>)")
    p.add_argument("--queue", action="store_true", help="queue it as a job instead of running it here")
    p.set_defaults(func=run)


def run(args) -> int:
    from tickdeck.app.wiring import open_context
    from tickdeck.core.export import ExportError, ExportRequest, check_target, export
    from tickdeck.core.progress import TqdmProgress

    if args.catalog:
        if args.out or args.format not in ("parquet", "nautilus"):
            raise ExportError("--catalog is the target of a nautilus export: give it without --out or another --format")
        args.format, args.out = "nautilus", args.catalog
    ctx = open_context()
    params = {"symbols": args.symbols, "start": args.start, "end": args.end, "spec": args.spec,
              "session": args.session, "columns": args.columns or None, "format": args.format,
              "partition": args.partition, "out": args.out or None}
    req = ExportRequest.from_params(params, ctx.settings)
    check_target(req)  # a wrong --out fails now, not after the days are read (or when the job runs)
    if args.queue:
        from tickdeck.jobs.queue import JobQueue

        jid = JobQueue(ctx.catalog.engine, ctx.bus).submit("export", {**params, "out": str(req.out)},
                                                            requested_by="cli")
        print(f"queued export job {jid} -> {req.out}")
        return 0
    bar = TqdmProgress()
    try:
        man = export(ctx, req, progress=bar)
    finally:
        bar.close()
    print(f"exported {man.rows:,} rows from {man.days} symbol-days to {man.out} "
          f"({man.bytes:,} bytes, sha256 {man.sha256[:16]}…, {man.elapsed_s:.2f} s)")
    if man.skipped:
        print(f"no stored days in range for: {', '.join(man.skipped)}")
    return 0
