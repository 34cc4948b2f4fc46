"""Import throughput: CSV and Parquet files of 1,000,000 generated trades (ticks/s).

Run: ``python tests/bench/bench_import.py [rows]``. Prints one table row per stage: reading
the file into arrays (``read_file``) and the whole import (read + group by session day +
enrich + ArcticDB write + catalog, ``import_file``) into a temporary LMDB store.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.csv as pcsv  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from core.config import Settings  # noqa: E402
from core.context import Context  # noqa: E402
from core.sources.files import import_file, read_file  # noqa: E402

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000


def make_table(n: int, seed: int = 0) -> pa.Table:
    """``n`` trades with quotes over two XNYS regular sessions, ISO-8601 UTC timestamps."""
    rng = np.random.default_rng(seed)
    half = n // 2
    day_open = np.array([np.datetime64("2024-07-01T13:30", "ns"), np.datetime64("2024-07-02T13:30", "ns")])
    offs = np.sort(rng.integers(0, int(6.5 * 3600 * 1e9), n))
    ts = np.where(np.arange(n) < half, day_open[0], day_open[1]) + offs.astype("timedelta64[ns]")
    ts = np.sort(ts)
    price = np.round(100 + np.cumsum(rng.choice([-0.01, 0.0, 0.01], n)), 2)
    return pa.table({"timestamp": pa.array(ts, pa.timestamp("ns", tz="UTC")), "price": price,
                     "size": rng.integers(1, 1000, n), "bid": price - 0.01, "ask": price + 0.01})


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        table = make_table(ROWS)
        pcsv.write_csv(table, tmp / "trades.csv")
        pq.write_table(table, tmp / "trades.parquet")
        ctx = Context.open(Settings(data_dir=tmp / "data"))
        pq.write_table(make_table(1000, seed=1), tmp / "warm.parquet")
        import_file(ctx, tmp / "warm.parquet", symbol="WARM", calendar="XNYS")  # JIT-compile enrichment first
        print(f"{'format':<8} {'stage':<12} {'rows':>10} {'seconds':>8} {'ticks/s':>12}")
        try:
            for fmt in ("csv", "parquet"):
                path = tmp / f"trades.{fmt}"
                parsed, s = timed(lambda: read_file(path, symbol="BENCH"))
                print(f"{fmt:<8} {'read_file':<12} {len(parsed):>10,} {s:>8.2f} {len(parsed) / s:>12,.0f}")
                rep, s = timed(lambda: import_file(ctx, path, symbol="BENCH", calendar="XNYS"))
                print(f"{fmt:<8} {'import_file':<12} {rep.ticks:>10,} {s:>8.2f} {rep.ticks / s:>12,.0f}")
        finally:
            ctx.close()


if __name__ == "__main__":
    main()
