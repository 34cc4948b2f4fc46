"""Export throughput: one synthetic day of ~1,000,000 ticks to each format.

Run: ``python tests/bench/bench_export.py [--ticks N] [--repeat 3]``. Prints, per format, the
full export time (ArcticDB read as Arrow + write + sha256 + rename: what the < 0.5 s Parquet /
< 2 s CSV targets per million ticks are about), best and median of ``--repeat`` runs, and the
encoder alone on the whole day as one in-memory Arrow table (Parquet: Polars on every core;
CSV: one Polars call, single-threaded), then pyarrow's single-threaded writers for comparison.
The load average is printed because the build machine is shared: compare numbers taken at
similar load.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ticks", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--formats", default="parquet,hive,csv,jsonl")
    args = ap.parse_args()

    import pyarrow.parquet as pq

    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context
    from tickdeck.core.export import ExportRequest, _read_ticks, export
    from tickdeck.core.export_formats import csv_bytes, csv_bytes_pyarrow, parquet_options, write_parquet

    with tempfile.TemporaryDirectory() as d:
        ctx = Context.open(Settings(data_dir=Path(d) / "data"))
        # regular-session override; pre/after-hours add a few percent on top
        from tickdeck.core.sources.synthetic import generate_into_store

        generate_into_store(ctx, ["AAPL"], "2024-07-02", "2024-07-02", ticks=int(args.ticks * 0.97))
        n = ctx.catalog.tick_days("AAPL")[0].ticks
        probe = ExportRequest(("AAPL",), "2024-07-02", "2024-07-02", Path(d) / "unused")
        reads = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            table = _read_ticks(ctx, "AAPL", "2024-07-02", probe)
            reads.append(time.perf_counter() - t0)
        print(f"ticks: {n:,}  columns: {table.num_columns}  ArcticDB read as Arrow (best): {min(reads):.3f} s  "
              f"load average: {os.getloadavg()[0]:.2f}")
        print(f"{'format':<18} {'encoder s':>9} {'best s':>9} {'median s':>9} {'ticks/s (best)':>17} {'MB':>8}")
        for fmt in args.formats.split(","):
            part = fmt == "hive"
            fmt = "parquet" if part else fmt
            out = Path(d) / ("hive" if part else f"out.{fmt}")
            t0 = time.perf_counter()
            if fmt == "parquet":
                write_parquet(str(Path(d) / "w.parquet"), iter([table]))
            elif fmt == "csv":
                csv_bytes(table, header=True)
            writer_s = time.perf_counter() - t0 if fmt != "jsonl" else float("nan")
            req = ExportRequest(("AAPL",), "2024-07-02", "2024-07-02", out, format=fmt, partition=part)
            runs = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                man = export(ctx, req)
                runs.append(time.perf_counter() - t0)
            export_s, median_s = min(runs), sorted(runs)[len(runs) // 2]
            label = fmt + (" (hive)" if part else "")
            print(f"{label:<18} {writer_s:>9.3f} {export_s:>9.3f} {median_s:>9.3f} {man.rows / export_s:>17,.0f} "
                  f"{man.bytes / 1e6:>8.1f}", flush=True)
        t0 = time.perf_counter()
        pq.write_table(table, Path(d) / "w.parquet", **parquet_options(table.schema))
        pq_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        csv_bytes_pyarrow(table, header=True)
        csv_s = time.perf_counter() - t0
        print(f"single-threaded pyarrow encoders for comparison: parquet {pq_s:.3f} s, csv {csv_s:.3f} s")
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        ctx.close()


if __name__ == "__main__":
    main()
