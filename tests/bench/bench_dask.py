"""Benchmark: bulk bar rebuilds over many small symbol-days, serial vs a Dask LocalCluster.

Run: ``.venv/bin/python tests/bench/bench_dask.py [--symbols 50 --days 20 --ticks 500 --workers 2] [--s3]``.
Generates ``symbols × days`` small tick days, then rebuilds their bars (``--spec``, default three
families) with :func:`core.bulk.run_bulk` serially and on ``distributed.LocalCluster(n_workers=W)``
(cluster start-up timed apart), and prints symbol-days/s, the per-task cost and the ratio. With
``--s3`` the store is ArcticDB on a local moto S3 server, and a small write/read round trip is timed
to give the store's latency (the docs' estimate for 32 workers on S3 uses these numbers).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from tickdeck.core.bulk import run_bulk  # noqa: E402
from tickdeck.core.config import Settings  # noqa: E402
from tickdeck.core.context import Context  # noqa: E402
from tickdeck.core.sources.synthetic import generate_into_store  # noqa: E402


def _moto_uri() -> tuple[str, subprocess.Popen]:
    """A moto S3 server in its own process (ArcticDB's S3 client must not wait on this process's GIL)."""
    import boto3

    from tests.services_needed import free_port

    port = free_port()
    server = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", aws_access_key_id="k",
                      aws_secret_access_key="s", region_name="us-east-1")
    for _ in range(100):
        try:
            s3.create_bucket(Bucket="bench")
            break
        except Exception:  # not listening yet
            time.sleep(0.1)
    return f"s3://127.0.0.1:bench?port={port}&access=k&secret=s", server


def _latency_ms(ctx) -> tuple[float, float]:
    df = pd.DataFrame({"x": np.arange(100.0)}, index=pd.date_range("2024-01-01", periods=100, freq="s"))
    w, r = [], []
    for i in range(20):
        t = time.perf_counter()
        ctx.store.write_series("bench_latency", f"s{i}", df)
        w.append(time.perf_counter() - t)
        t = time.perf_counter()
        ctx.store.read_series("bench_latency", f"s{i}")
        r.append(time.perf_counter() - t)
    return statistics.median(w) * 1e3, statistics.median(r) * 1e3


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--symbols", type=int, default=50)
    ap.add_argument("--days", type=int, default=20, help="trading days from 2024-01-02")
    ap.add_argument("--ticks", type=int, default=500, help="trades per day")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--spec", action="append", default=None)
    ap.add_argument("--s3", action="store_true", help="ArcticDB on a local moto S3 server instead of LMDB")
    args = ap.parse_args()
    specs = args.spec or ["time:60s", "tick:100", "volume:5000"]
    server = None
    with tempfile.TemporaryDirectory() as d:
        uri = ""
        if args.s3:
            uri, server = _moto_uri()
        ctx = Context.open(Settings(data_dir=Path(d), arctic_uri=uri))
        cal = ctx.calendar()
        days = cal.trading_days("2024-01-02", "2024-12-31")[: args.days]
        symbols = [f"S{i:03d}" for i in range(args.symbols)]
        t = time.perf_counter()
        generate_into_store(ctx, symbols, days[0], days[-1], seed=7, ticks=args.ticks)
        n = len(symbols) * len(days)
        print(f"store: {'S3 (moto)' if args.s3 else 'LMDB'}; generated {n} symbol-days of ~{args.ticks} trades "
              f"in {time.perf_counter() - t:.1f} s; specs {', '.join(specs)}")
        if args.s3:
            w, r = _latency_ms(ctx)
            print(f"store latency (100-row frame, median of 20): write {w:.1f} ms, read {r:.1f} ms")

        run_bulk(ctx, "bars", symbols[:1], days[0], days[0], specs=specs)  # warm (compiled kernels)
        serial = run_bulk(ctx, "bars", None, days[0], days[-1], specs=specs)
        assert not serial.failed, serial.describe()
        from distributed import Client, LocalCluster

        t = time.perf_counter()
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None)
        Client(cluster).close()
        start_s = time.perf_counter() - t
        run_bulk(ctx, "bars", symbols[:args.workers * 2], days[0], days[0], specs=specs,
                 dask=cluster.scheduler_address)  # warm the workers (imports, compiled kernels)
        dist = run_bulk(ctx, "bars", None, days[0], days[-1], specs=specs, dask=cluster.scheduler_address)
        assert not dist.failed, dist.describe()
        cluster.close()
        per_task = statistics.median(r.seconds for r in serial.results)
        print(f"{'engine':<28}{'seconds':>10}{'symbol-days/s':>16}")
        print(f"{'serial (this process)':<28}{serial.seconds:>10.2f}{n / serial.seconds:>16.1f}")
        print(f"{f'LocalCluster {args.workers} workers':<28}{dist.seconds:>10.2f}{n / dist.seconds:>16.1f}")
        print(f"ratio serial / cluster: {serial.seconds / dist.seconds:.2f}×; cluster start-up {start_s:.1f} s "
              f"(not included); median task {per_task * 1e3:.1f} ms serial, "
              f"{statistics.median(r.seconds for r in dist.results) * 1e3:.1f} ms on a worker")
        ctx.close()
    if server is not None:
        server.terminate()
        server.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
