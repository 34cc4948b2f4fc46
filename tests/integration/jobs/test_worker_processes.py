"""Worker processes: kill -9 mid-job leaves nothing partial; two workers never share a job."""

from __future__ import annotations

import collections
import datetime as dt
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pyarrow.csv as pacsv
import pytest

from builders import store_synthetic
from waiting import wait_for
from tickdeck.core.config import Settings
from tickdeck.core.bus import RedisBus
from tickdeck.core.context import Context
from tickdeck.core.db import open_engine, utcnow
from tickdeck.jobs.queue import STALE_AFTER_S, JobQueue
from tickdeck.jobs.worker import Worker

ROOT = Path(__file__).resolve().parents[3]


def _env(data_dir: Path, sql_url: str | None = None) -> dict:
    env = {**os.environ, "TICKDECK_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT),
           "TICKDECK_PIPELINE": "off"}  # bars/validation after each day are tested elsewhere
    if sql_url:
        env["TICKDECK_SQL_URL"] = sql_url
    return env


def _worker(env, *args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tickdeck", "worker", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _kill_mid_job(env, queue, jid, redis_url, timeout=120) -> subprocess.Popen:
    """Start a worker (``--once``) publishing on Redis; freeze it (SIGSTOP) the moment its job's first
    progress strictly between 0 and 100 % arrives over the bus, check the job's record says so, then
    SIGKILL it: the kill lands mid-job however fast or slow the job runs."""
    bus = RedisBus(redis_url)
    frozen = threading.Event()
    proc: list[subprocess.Popen] = []

    def on_job(m) -> None:
        e = m.event
        if frozen.is_set() or e.id != jid or e.change != "progress" or not 0 < e.progress < 100:
            return
        rec = queue.get(jid)  # our job (another process's job of the same id on this Redis is not)
        if rec.status == "running" and 0 < rec.progress < 100:
            os.kill(proc[0].pid, signal.SIGSTOP)
            frozen.set()

    bus.listen("jobs", on_job)  # returns once Redis confirmed the subscription
    try:
        proc.append(_worker({**env, "TICKDECK_REDIS_URL": redis_url}, "--once"))
        wait_for(lambda: frozen.is_set() or proc[0].poll() is not None, "the job's first progress", timeout)
    finally:
        bus.close()
    if not frozen.is_set():
        pytest.fail(f"job ended before it could be killed: {queue.get(jid).status} {proc[0].stdout.read()[-2000:]}")
    rec = queue.get(jid)
    assert rec.status == "running" and 0 < rec.progress < 100, (rec.status, rec.progress)
    os.kill(proc[0].pid, signal.SIGKILL)
    proc[0].wait(10)
    return proc[0]


def _interrupt(queue, jid):
    # the dead worker's last heartbeat, seen from a clock past the stale limit (no waiting for it to age)
    later = utcnow() + dt.timedelta(seconds=STALE_AFTER_S + 1)
    assert queue.recover_stale(auto_retry=False, now=later) == [jid]
    assert queue.get(jid).status == "interrupted"
    queue.retry(jid)


def test_killed_export_leaves_no_partial_file_and_completes_on_retry(tmp_path, redis_url):
    data = tmp_path / "data"
    settings = Settings(data_dir=data)
    ctx = Context.open(settings)
    store_synthetic(ctx, "AAPL", "2024-07-01", "2024-07-09", ticks=40_000)
    total = sum(r.ticks for r in ctx.catalog.tick_days("AAPL"))
    ctx.close()
    out = tmp_path / "exports" / "aapl.csv"
    engine = open_engine(settings.sql_url, migrate=False)
    q = JobQueue(engine)
    jid = q.submit("export", {"symbols": "AAPL", "start": "2024-07-01", "end": "2024-07-09", "format": "csv",
                              "out": str(out)})
    _kill_mid_job(_env(data), q, jid, redis_url)
    assert not out.exists(), "a partial export is visible under the final name"
    assert not out.with_name(out.name + ".manifest.json").exists()
    _interrupt(q, jid)
    ctx = Context.open(settings)
    try:
        Worker(ctx).run(once=True)
    finally:
        ctx.close()
    rec = q.get(jid)
    assert rec.status == "succeeded" and rec.retries == 1, rec.error
    assert pacsv.read_csv(out).num_rows == rec.result["rows"] == total
    assert sorted(p.name for p in out.parent.iterdir()) == ["aapl.csv", "aapl.csv.manifest.json"]  # temp swept
    engine.dispose()


def test_killed_generate_job_leaves_whole_days_and_completes_on_retry_without_duplicates(tmp_path, redis_url):
    data = tmp_path / "data"
    settings = Settings(data_dir=data)
    engine = open_engine(settings.sql_url)
    q = JobQueue(engine)
    jid = q.submit("generate", {"symbols": ["MSFT"], "start": "2024-06-03", "end": "2024-06-28", "ticks": 15_000})
    _kill_mid_job(_env(data), q, jid, redis_url)
    _interrupt(q, jid)
    ctx = Context.open(settings)
    try:
        Worker(ctx).run(once=True)
        rec = q.get(jid)
        assert rec.status == "succeeded", rec.error
        days = ctx.store.list_days("MSFT")
        assert days == ctx.calendar().trading_days("2024-06-03", "2024-06-28")
        rows = {r.day: r.ticks for r in ctx.catalog.tick_days("MSFT")}
        for d in days:
            df = ctx.store.read_day("MSFT", d, columns=["tick_id"])
            assert len(df) == rows[d] == ctx.store.day_info("MSFT", d).ticks
            assert df["tick_id"].is_unique, f"duplicated ticks on {d}"
    finally:
        ctx.close()
        engine.dispose()


def test_two_worker_processes_on_postgresql_never_run_a_job_twice(tmp_path, pg_url):
    engine = open_engine(pg_url)
    q = JobQueue(engine)
    n = 16
    ids = [q.submit("health") for _ in range(n)]
    env = _env(tmp_path / "data", pg_url)
    env["TICKDECK_FEED_PORT_HISTORY"] = "1"  # refused at once: keeps each health job short
    procs = [_worker(env, "--once") for _ in range(2)]
    outs = [p.communicate(timeout=240)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    ran = dict(re.search(r"worker (\S+) ran (\d+) job", o).groups() for o in outs)  # each process's own count
    assert len(ran) == 2, outs  # two distinct worker ids
    jobs = [q.get(i) for i in ids]
    assert all(j.status == "succeeded" for j in jobs)
    # every job is recorded under the process that says it ran it, and the counts add up to n: none ran twice
    recorded = collections.Counter(j.worker.split("/")[0] for j in jobs)  # "<worker id>/<slot>"
    assert recorded == collections.Counter({w: int(k) for w, k in ran.items() if int(k)}), (recorded, ran)
    assert sum(recorded.values()) == n
    engine.dispose()
