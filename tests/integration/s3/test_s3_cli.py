"""The command line on ArcticDB over S3 (the local S3 emulator): ``TICKDECK_ARCTIC_URI=s3://…`` and
nothing else changes. Collection from the IQFeed emulator, the health report's store sizes; nothing
of the store lands in the data directory; the secret in the URI never reaches a message. (Bars,
validation and exports on S3: the S3 variants of tests/integration/{bars,validation,core}.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.s3

ROOT = Path(__file__).resolve().parents[3]
DAYS = ("2024-07-01", "2024-07-02")


def _cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tickdeck", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def test_cli_collection_and_the_health_report_run_unchanged_on_s3(s3_server, s3_store_uri, tmp_path):
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context
    from tickdeck.core.health import check_health
    from tickdeck.core.sources.iqfeed_emulator import EmulatorThread, IQFeedEmulator

    data = tmp_path / "data"
    # bars and validation on S3: the S3 variants of tests/integration/{bars,validation}; here the CLI alone
    env = {**os.environ, "TICKDECK_DATA_DIR": str(data), "TICKDECK_ARCTIC_URI": s3_store_uri,
           "TICKDECK_PIPELINE": "off"}
    for k in ("TICKDECK_SQL_URL", "TICKDECK_REDIS_URL"):
        env.pop(k, None)
    with EmulatorThread(IQFeedEmulator(symbols=("AAPL",), now="2024-07-03 10:00:00", port_history=0, port_l1=0,
                                       ticks=3000)) as emu:
        r = _cli(env, "collect", "AAPL", "--start", DAYS[0], "--end", DAYS[1], "--port-history",
                 str(emu.port_history))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "tickdeck-test-secret" not in r.stdout + r.stderr

    assert not (data / "arctic").exists()  # the store is the bucket, not the data directory
    ctx = Context.open(Settings(data_dir=data, arctic_uri=s3_store_uri))
    try:
        rows = {d.day.isoformat(): d for d in ctx.catalog.tick_days("AAPL")}
        assert sorted(rows) == list(DAYS)
        assert all(r.ticks == len(ctx.store.read_day("AAPL", d)) > 0 for d, r in rows.items())
        health = check_health(ctx, feed_timeout=0.2)
    finally:
        ctx.close()
    assert health.check("arcticdb").status == "ok", health.check("arcticdb")
    # store sizes come from ArcticDB's own accounting of the bucket's objects, not a directory walk
    sizes = health.library_bytes
    assert sizes["ticks"] > 0
    assert sum(sizes.values()) <= s3_server.bucket_bytes(s3_store_uri)


def test_an_unopenable_store_is_a_one_line_error_without_the_secret(s3_server, tmp_path):
    env = {**os.environ, "TICKDECK_DATA_DIR": str(tmp_path / "data"),
           "TICKDECK_ARCTIC_URI": s3_server.store_uri().replace("secret=", "secret=top-secret-") + "&bogus_option=1"}
    r = _cli(env, "export", "--symbols", "AAPL", "--start", DAYS[0], "--end", DAYS[0])
    assert r.returncode == 1
    lines = [ln for ln in r.stderr.splitlines() if ln.strip() and "arcticdb" not in ln]
    assert len(lines) == 1 and "TICKDECK_ARCTIC_URI" in lines[0], r.stderr
    assert "top-secret" not in r.stderr + r.stdout and "secret=***" in lines[0]
