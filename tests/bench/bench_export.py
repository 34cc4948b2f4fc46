"""Export throughput: one synthetic day of ~1,000,000 ticks to each format.

Run: ``python tests/bench/bench_export.py [--ticks N]``. Prints, per format, the full export
time (ArcticDB read as Arrow + write + sha256 + rename) and the writer-only time on
an in-memory Arrow table (what the < 0.5 s Parquet / < 2 s CSV targets are about).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


REPEAT = 3  # best and median of three runs per format


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ticks", type=int, default=1_000_000)
    args = ap.parse_args()

    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from core.config import Settings
    from core.context import Context
    from core.export import (PARQUET_COMPRESSION, ExportRequest, _dictionary_columns, _read_ticks,
                             _timestamps_as_text, _write_jsonl, export)
    from core.sources.synthetic import generate_into_store

    with tempfile.TemporaryDirectory() as d:
        ctx = Context.open(Settings(data_dir=Path(d) / "data"))
        # regular-session override; pre/after-hours add a few percent on top
        generate_into_store(ctx, ["AAPL"], "2024-07-02", "2024-07-02", ticks=int(args.ticks * 0.97))
        n = ctx.catalog.tick_days("AAPL")[0].ticks
        t0 = time.perf_counter()
        probe = ExportRequest(("AAPL",), "2024-07-02", "2024-07-02", Path(d) / "unused")
        table = _read_ticks(ctx, "AAPL", "2024-07-02", probe)
        read_s = time.perf_counter() - t0
        print(f"ticks: {n:,}  columns: {table.num_columns}  ArcticDB read as Arrow: {read_s:.3f} s")
        print(f"{'format':<18} {'writer s':>9} {'best s':>9} {'median s':>9} {'ticks/s (best)':>17} {'MB':>8}")
        for fmt, part in (("parquet", False), ("parquet", True), ("csv", False), ("jsonl", False)):
            out = Path(d) / ("hive" if part else f"out.{fmt}")
            w = Path(d) / f"w.{fmt}"
            t0 = time.perf_counter()
            if fmt == "parquet":
                pq.write_table(table, w, compression=PARQUET_COMPRESSION, use_dictionary=_dictionary_columns(table.schema))
            elif fmt == "csv":
                pacsv.write_csv(_timestamps_as_text(table, iso_t=False), w)
            else:
                with open(w, "wb") as fh:
                    _write_jsonl(fh, table)
            writer_s = time.perf_counter() - t0
            req = ExportRequest(("AAPL",), "2024-07-02", "2024-07-02", out, format=fmt, partition=part)
            runs = []
            for _ in range(REPEAT):
                t0 = time.perf_counter()
                man = export(ctx, req)
                runs.append(time.perf_counter() - t0)
            export_s, median_s = min(runs), sorted(runs)[len(runs) // 2]
            label = fmt + (" (hive)" if part else "")
            print(f"{label:<18} {writer_s:>9.3f} {export_s:>9.3f} {median_s:>9.3f} {man.rows / export_s:>17,.0f} "
                  f"{man.bytes / 1e6:>8.1f}")
        ctx.close()


if __name__ == "__main__":
    main()
