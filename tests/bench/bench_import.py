"""Import throughput and peak memory: CSV and Parquet files of generated trades.

Run::

    python tests/bench/bench_import.py [--rows N] [--days D] [--formats csv,parquet] [--code DIR ...]

Generates ``N`` trades with quotes spread over ``D`` XNYS regular sessions (default 1,000,000
over 2 days; ``--rows 10000000`` gives the 0.7 GB, 10,000,000-row CSV of issue 11 item 18),
ISO-8601 UTC timestamps in time order, and writes it as CSV and Parquet. Each import then runs
in a fresh child process against a temporary LMDB store and SQLite catalog (no post-write
pipeline; ``--pipeline`` installs it: default bars and validation after each day), after a
small warm-up import that compiles the enrichment kernels. One row per format and code tree:
rows, days, seconds, ticks/s, CPU seconds (all threads; steadier than wall time on a shared
machine), the child's RSS before the import, its peak RSS (the whole process, including the clean
pages of LMDB's file mapping that reads fault in) and its peak anonymous memory (``RssAnon``,
sampled every 2 ms: what the import allocated). ``--stages``
adds, per stage of the import, the peak RSS while the child was in it.

Per-stage peaks: a thread in the child wakes every 2 ms, reads the kernel's high-water mark of
resident memory (``VmHWM``) and resets it (``/proc/self/clear_refs``), and charges the peak to
the stage the main thread is in — the innermost frame on its stack whose function names a stage
(:data:`STAGES`). The sampler needs the GIL, so a long native call is charged to the stage it
ran in. Stages of code trees that lack a function are simply absent.

``--code DIR`` (repeatable) runs the children against other source trees, e.g. a
``git archive`` of the commit before a change, for before/after numbers with one file.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def make_table(n: int, days: int = 2, seed: int = 0):
    """``n`` trades with quotes over the first ``days`` XNYS sessions from 2024-07-01, in time order."""
    import numpy as np
    import pyarrow as pa

    from tickdeck.core.calendar import get_calendar

    cal = get_calendar("XNYS")
    sessions = cal.trading_days("2024-07-01", "2025-12-31")[:days]
    opens = np.array([cal.bounds(d).open.value for d in sessions], dtype=np.int64)
    rng = np.random.default_rng(seed)
    which = np.sort(rng.integers(0, days, n))
    ts = np.sort(opens[which] + rng.integers(0, int(6.5 * 3600 * 1e9), n))
    price = np.round(100 + np.cumsum(rng.choice([-0.01, 0.0, 0.01], n)), 2)
    return pa.table({"timestamp": pa.array(ts, pa.timestamp("ns", tz="UTC")), "price": price,
                     "size": rng.integers(1, 1000, n), "bid": price - 0.01, "ask": price + 0.01})


# function (qualified or plain name; the innermost on the main thread's stack wins) -> stage
STAGES = {
    "iter_file": "read + spool", "_stage": "read + spool",
    "_day_raw": "gather day", "DaySpool.take": "gather day",
    "enrich": "enrich", "enrich_slices": "enrich",
    "reject_rows": "ingest rules", "flag_day": "ingest rules", "rules": "ingest rules",
    "DayStage.add": "write: stage slices", "DayStage.commit": "write: publish",
    "write_day": "write", "compute_day_info": "write", "day_info_from_columns": "write",
    "build_default_bars": "bars",
    "validation_after_write": "validation",
    "ingest_day": "ingest (other)",
    "import_file": "import (other)",
}


class StageSampler:
    """Peak RSS per stage of the main thread (see the module docstring); Linux only."""

    def __init__(self, interval_s: float = 0.002):
        import threading

        self.interval = interval_s
        self.peaks: dict[str, float] = {}
        self.peak = 0.0
        self._main = threading.main_thread().ident
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "StageSampler":
        self._reset()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @staticmethod
    def _reset() -> None:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")

    def _stage(self) -> str:
        frame = sys._current_frames().get(self._main)
        while frame is not None:
            name = STAGES.get(frame.f_code.co_qualname) or STAGES.get(frame.f_code.co_name)
            if name:
                return name
            frame = frame.f_back
        return "other"

    def _sample(self) -> None:
        stage = self._stage()
        hwm = _status_mb("VmHWM:")
        self._reset()
        self.peaks[stage] = max(self.peaks.get(stage, 0.0), hwm)
        self.peak = max(self.peak, hwm)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()


class AnonSampler:
    """Peak anonymous resident memory (``RssAnon``: what the process allocated, without the
    clean file pages of LMDB's mapping that RSS also counts and the kernel reclaims at will),
    sampled every ``interval_s`` on a thread; Linux only."""

    def __init__(self, interval_s: float = 0.002):
        import threading

        self.interval = interval_s
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "AnonSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _status_mb("RssAnon:"))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, _status_mb("RssAnon:"))

class MemoryLimit:
    """A cgroup v1 memory cgroup with ``limit_mb`` (memory and memory+swap) that the import child
    joins before it execs; a no-op for 0. Needs root and ``/sys/fs/cgroup/memory``."""

    ROOT = Path("/sys/fs/cgroup/memory")

    def __init__(self, limit_mb: int):
        import os

        self.limit_mb = limit_mb
        self.path = self.ROOT / f"tickdeck-bench-{os.getpid()}"
        self.peak_mb, self.oom_kills = float("nan"), 0

    def __enter__(self) -> "MemoryLimit":
        if self.limit_mb:
            self.path.mkdir()
            limit = str(self.limit_mb * 2**20)
            (self.path / "memory.limit_in_bytes").write_text(limit)
            if (self.path / "memory.memsw.limit_in_bytes").exists():
                (self.path / "memory.memsw.limit_in_bytes").write_text(limit)  # no escape into swap
        return self

    def enter(self) -> None:
        """In the child, before exec: join the cgroup."""
        if self.limit_mb:
            import os

            (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def __exit__(self, *exc) -> None:
        if not self.limit_mb:
            return
        self.peak_mb = int((self.path / "memory.max_usage_in_bytes").read_text()) / 2**20
        for line in (self.path / "memory.oom_control").read_text().splitlines():
            if line.startswith("oom_kill "):
                self.oom_kills = int(line.split()[1])
        (self.path / "memory.force_empty").write_text("0")
        self.path.rmdir()


def _status_mb(key: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_s() -> float:
    """CPU seconds of this process (all threads): comparable across runs on a shared machine."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def child(args) -> None:
    """Import one file in this process and print one JSON line."""
    sys.path.insert(0, args.code[0])
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context
    from tickdeck.core.sources.files import import_file

    import tickdeck.core as core

    assert Path(core.__file__).resolve().is_relative_to(Path(args.code[0]).resolve()), core.__file__
    ctx = Context.open(Settings(data_dir=Path(args.data)))
    if args.pipeline:
        from tickdeck.core.pipeline import install

        install(ctx)
    sampler = StageSampler() if args.stages else None
    try:
        import_file(ctx, args.warm, symbol="WARM", calendar="XNYS")
        before = rss_mb()
        cpu0 = _cpu_s()
        t = time.perf_counter()
        anon = AnonSampler()
        with anon:
            if sampler is not None:
                with sampler:
                    rep = import_file(ctx, args.child, symbol="BENCH", calendar="XNYS")
            else:
                rep = import_file(ctx, args.child, symbol="BENCH", calendar="XNYS")
        s = time.perf_counter() - t
        cpu = _cpu_s() - cpu0
    finally:
        ctx.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if sampler is not None:  # resetting the high-water mark resets ru_maxrss too: the sampler saw the peak
        peak = max(sampler.peak, before)
    print(json.dumps({"ticks": rep.ticks, "days": len(rep.days), "seconds": s, "cpu_s": cpu, "before_mb": before,
                      "peak_mb": peak, "peak_anon_mb": anon.peak,
                      "stages": sampler.peaks if sampler is not None else {}}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=2)
    ap.add_argument("--formats", default="csv,parquet")
    ap.add_argument("--pipeline", action="store_true", help="default bars and validation after each day")
    ap.add_argument("--stages", action="store_true", help="peak RSS per import stage")
    ap.add_argument("--code", action="append", default=None, help="source tree to import with (default: this one)")
    ap.add_argument("--limit-mb", type=int, default=0,
                    help="run each import in a memory cgroup with this limit (Linux cgroup v1, root): "
                         "the import must finish without being killed")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--warm", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)
    sys.path.insert(0, str(ROOT))
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    codes = args.code or [str(ROOT)]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        table = make_table(args.rows, args.days)
        warm = make_table(1000, 1, seed=1)
        formats = args.formats.split(",")
        if "csv" in formats:
            pcsv.write_csv(table, tmp / "trades.csv")
            pcsv.write_csv(warm, tmp / "warm.csv")
        if "parquet" in formats:
            pq.write_table(table, tmp / "trades.parquet")
            pq.write_table(warm, tmp / "warm.parquet")
        del table
        print(f"{'format':<8} {'code':<24} {'file MB':>8} {'rows':>11} {'days':>5} {'seconds':>8} {'ticks/s':>10} "
              f"{'CPU s':>6} {'RSS before':>10} {'peak RSS':>9} {'peak anon':>9}")
        for fmt in formats:
            path = tmp / f"trades.{fmt}"
            for k, code in enumerate(codes):
                flags = [f for f, on in (("--pipeline", args.pipeline), ("--stages", args.stages)) if on]
                cmd = [sys.executable, __file__, "--child", str(path), "--warm", str(tmp / f"warm.{fmt}"),
                       "--data", str(tmp / f"data-{fmt}-{k}"), "--code", code, *flags]
                with MemoryLimit(args.limit_mb) as limit:
                    out = subprocess.run(cmd, capture_output=True, text=True, preexec_fn=limit.enter)
                if args.limit_mb:
                    print(f"         in a {args.limit_mb:,} MB memory cgroup: "
                          + ("killed (out of memory)" if out.returncode == -9 else f"exit {out.returncode}")
                          + f", cgroup peak (incl. page cache) {limit.peak_mb:,.0f} MB, "
                            f"out-of-memory events {limit.oom_kills}")
                if out.returncode:
                    print(out.stderr, file=sys.stderr)
                    continue
                r = json.loads(out.stdout.strip().splitlines()[-1])
                name = Path(code).name if code != str(ROOT) else "this tree"
                print(f"{fmt:<8} {name[:24]:<24} {path.stat().st_size / 1e6:>8,.0f} {r['ticks']:>11,} {r['days']:>5} "
                      f"{r['seconds']:>8.1f} {r['ticks'] / r['seconds']:>10,.0f} {r['cpu_s']:>6.1f} "
                      f"{r['before_mb']:>8,.0f}MB "
                      f"{r['peak_mb']:>7,.0f}MB {r.get('peak_anon_mb', float('nan')):>7,.0f}MB")
                if r.get("stages"):
                    print("         peak RSS by stage: " + ", ".join(f"{k} {v:,.0f}MB" for k, v in
                                                                   sorted(r["stages"].items(), key=lambda kv: -kv[1])))


if __name__ == "__main__":
    main()
