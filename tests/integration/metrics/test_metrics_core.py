"""Metrics and logs without a server: the batch histogram update equals Prometheus' own, two
processes' counters add up in one scrape (multiprocess mode, real child processes), dead
processes' live gauges go, JSON log records carry the request and job ids (the real job runner on
SQLite), and the API answers with an ``X-Request-ID``."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.parser import text_string_to_metric_families

from tickdeck.core import metrics
from tickdeck.core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]


def samples(text: str) -> dict:
    """{(sample name, sorted labels): value} of a scrape's text."""
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_batch_observe_equals_one_observe_per_value():
    values = np.concatenate([np.random.default_rng(3).exponential(0.05, 500), [0.001, 0.5, 60.0, 61.0, 0.0]])
    reg_a, reg_b = CollectorRegistry(), CollectorRegistry()
    a = Histogram("lat_seconds", "a", buckets=metrics.LATENCY_BUCKETS_S, registry=reg_a)
    b = Histogram("lat_seconds", "b", buckets=metrics.LATENCY_BUCKETS_S, registry=reg_b)
    for v in values:
        a.observe(float(v))
    metrics.observe_many(b, values)

    def of(reg):
        return {(s.name, s.labels.get("le")): s.value for fam in reg.collect() for s in fam.samples
                if not s.name.endswith("_created")}
    got, want = of(reg_b), of(reg_a)
    assert got.keys() == want.keys()
    for k in want:
        assert got[k] == pytest.approx(want[k]), k
    assert want[("lat_seconds_count", None)] == values.size


CHILD = """
import sys
from tickdeck.core.metrics_setup import enable_multiprocess
enable_multiprocess(sys.argv[1])
from tickdeck.core import metrics
metrics.live_acknowledged(int(sys.argv[2]), [0.002] * int(sys.argv[2]))
metrics.ws_clients(+1)
print("counted", flush=True)
if sys.argv[3] == "hold":
    sys.stdin.readline()  # stays alive (a running server) until the test lets it go
"""
SCRAPE = """
import os, sys
os.environ["PROMETHEUS_MULTIPROC_DIR"] = sys.argv[1]
from tickdeck.core import metrics
sys.stdout.write(metrics.render()[0].decode())
"""


def _env() -> dict:
    return {k: v for k, v in os.environ.items() if k != metrics.MULTIPROC_ENV}


def _child(data_dir: Path, n: int, hold: bool = False) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(data_dir), str(n), "hold" if hold else "exit"],
                            cwd=ROOT, env=_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "counted"
    return proc


def _scrape(path: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", SCRAPE, str(path)], cwd=ROOT, env=_env(), check=True,
                          capture_output=True, text=True, timeout=120)
    return samples(done.stdout)


def test_two_processes_counters_sum_in_one_scrape_and_dead_live_gauges_go(tmp_path):
    from tickdeck.core.metrics_setup import metrics_dir

    data_dir = tmp_path / "data"
    running = _child(data_dir, 5, hold=True)  # a server that keeps running
    try:
        exited = _child(data_dir, 7)  # a worker that ran and exited
        exited.wait(60)
        got = _scrape(metrics_dir(data_dir))
        assert got[("tickdeck_ingest_ticks_total", (("stage", "acknowledged"),))] == 12
        assert got[("tickdeck_l1_line_latency_seconds_count", ())] == 12
        assert got[("tickdeck_l1_line_latency_seconds_bucket", (("le", "0.0025"),))] == 12
        # the exited process's client gauge was forgotten at the scrape, the running one's counts
        assert got[("tickdeck_ws_clients", ())] == 1
    finally:
        running.communicate("go\n", timeout=60)
    got = _scrape(metrics_dir(data_dir))
    assert got[("tickdeck_ingest_ticks_total", (("stage", "acknowledged"),))] == 12  # totals never go back
    assert got.get(("tickdeck_ws_clients", ()), 0) == 0
    left = {p.name for p in metrics_dir(data_dir).glob("gauge_livesum_*.db")}  # (each scraper has its own)
    assert not left & {f"gauge_livesum_{running.pid}.db", f"gauge_livesum_{exited.pid}.db"}


def test_a_fresh_start_empties_the_directory_of_dead_writers(tmp_path):
    from tickdeck.core.metrics_setup import metrics_dir

    data_dir = tmp_path / "data"
    _child(data_dir, 3).wait(60)
    _child(data_dir, 4).wait(60)  # no writer of the directory ran any more: it started from 0
    assert _scrape(metrics_dir(data_dir))[("tickdeck_ingest_ticks_total", (("stage", "acknowledged"),))] == 4


def test_every_metric_is_listed_once_with_its_type():
    assert metrics.METRIC_NAMES["tickdeck_ingest_ticks"] == "counter"
    assert metrics.METRIC_NAMES["tickdeck_l1_line_latency_seconds"] == "histogram"
    assert metrics.METRIC_NAMES["tickdeck_jobs"] == "gauge"
    assert all(n.startswith("tickdeck_") and not n.endswith("_total") for n in metrics.METRIC_NAMES)


# -- logs ---------------------------------------------------------------------------------------------
def _json_logging(stream):
    from tickdeck.core.logging_setup import configure

    return configure(env={"TICKDECK_LOG_FORMAT": "json", "TICKDECK_LOG_LEVEL": "INFO"}, stream=stream, force=True)


@pytest.fixture
def json_log():
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    stream = io.StringIO()
    _json_logging(stream)
    yield stream
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in before:
        root.addHandler(h)
    root.setLevel(level)


def _records(stream) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_logging_configured_by_someone_else_is_left_alone():
    from tickdeck.core.logging_setup import configure

    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    assert before, "pytest's own capture handlers are installed during a test"
    assert configure(env={"TICKDECK_LOG_FORMAT": "json"}) is None  # as logging.basicConfig would
    assert root.handlers == before and root.level == level


def test_bad_log_settings_name_the_variable():
    from tickdeck.core.logging_setup import log_format, log_level

    with pytest.raises(ConfigError, match="TICKDECK_LOG_FORMAT"):
        log_format({"TICKDECK_LOG_FORMAT": "xml"})
    with pytest.raises(ConfigError, match="TICKDECK_LOG_LEVEL"):
        log_level({"TICKDECK_LOG_LEVEL": "loud"})


def test_a_failing_job_logs_json_with_its_job_id_and_is_counted(ctx, json_log):
    from tickdeck.jobs.queue import JobQueue
    from tickdeck.jobs.runner import run_job

    def finished(kind, status):
        return metrics.JOBS_FINISHED.labels(kind, status)._value.get()

    q = JobQueue.for_context(ctx)
    n0, ok0 = finished("validate", "failed"), finished("health", "succeeded")
    jid = q.submit("validate", {"symbols": ["NOPE"], "days": ["2024-07-01"]})  # nothing stored: it fails
    rec = run_job(ctx, q, q.claim("w1"), "w1")
    assert rec.status == "failed"
    assert finished("validate", "failed") == n0 + 1
    recs = [r for r in _records(json_log) if r.get("job_id") == jid]
    assert any(r["level"] == "WARNING" and "failed" in r["message"] and "NOPE" in r["message"] for r in recs)
    assert all(r["job_kind"] == "validate" for r in recs)
    seen = len(_records(json_log))
    q.submit("health", {})
    assert run_job(ctx, q, q.claim("w1"), "w1").status == "succeeded"
    assert finished("health", "succeeded") == ok0 + 1
    assert not [r for r in _records(json_log)[seen:] if r.get("job_id") == jid]  # the id was unbound


def test_api_request_ids_in_answers_and_json_logs(ctx, json_log):
    from fastapi.testclient import TestClient

    from tickdeck.app.api import create_api

    client = TestClient(create_api(ctx.settings, lambda: ctx), client=("127.0.0.1", 50000))
    r = client.get("/api/v1/datasets", headers={"X-Request-ID": "req-42"})
    assert r.status_code == 200 and r.headers["x-request-id"] == "req-42"
    forged = client.get("/api/v1/datasets", headers={"X-Request-ID": "x\ninjected"})
    assert forged.headers["x-request-id"] != "x\ninjected" and len(forged.headers["x-request-id"]) == 32
    access = [r for r in _records(json_log) if r["logger"] == "tickdeck.api.access"]
    assert [r["request_id"] for r in access] == ["req-42", forged.headers["x-request-id"]]
    assert access[0]["message"].startswith("GET /api/v1/datasets 200")
    # /metrics from another address without a key: refused; from loopback: the request counted by route template
    assert TestClient(client.app, client=("192.0.2.7", 1)).get("/metrics").status_code == 401
    got = samples(client.get("/metrics").text)
    key = ("tickdeck_api_request_duration_seconds_count",
           (("method", "GET"), ("route", "/api/v1/datasets"), ("status", "200")))
    assert got[key] >= 2


def test_state_metrics_read_the_store_queue_and_disk(ctx):
    from builders import store_synthetic

    from tickdeck.jobs.queue import JobQueue

    store_synthetic(ctx, "AAPL", "2024-07-01", "2024-07-02", ticks=2_000)
    JobQueue.for_context(ctx).submit("health", {}, priority=0)
    got = samples(metrics.render(metrics.StateCollector(ctx))[0].decode())
    assert got[("tickdeck_store_bytes", (("library", "ticks"),))] > 0
    assert got[("tickdeck_jobs", (("priority", "0"), ("status", "pending")))] == 1
    assert 0 < got[("tickdeck_disk_free_ratio", ())] <= 1
    assert sum(v for (n, _), v in got.items() if n == "tickdeck_market_session") == 1
    assert got[("tickdeck_service_running", (("service", "live"),))] == 0


def test_metrics_allow_lets_a_listed_network_scrape_without_a_key(ctx, monkeypatch):
    from fastapi.testclient import TestClient

    from tickdeck.app.api import create_api
    from tickdeck.app.api.observability import allowed_networks

    with pytest.raises(ConfigError, match="TICKDECK_METRICS_ALLOW"):
        allowed_networks({"TICKDECK_METRICS_ALLOW": "10.0.0.0/8, not-a-network"})
    monkeypatch.setenv("TICKDECK_METRICS_ALLOW", "172.28.0.0/16")
    app = create_api(ctx.settings, lambda: ctx)
    assert TestClient(app, client=("172.28.3.4", 1)).get("/metrics").status_code == 200
    assert TestClient(app, client=("172.29.0.1", 1)).get("/metrics").status_code == 401


def test_stream_clients_and_bus_drops_are_counted(ctx):
    import asyncio

    from event_samples import SAMPLES

    from tickdeck.core.streams.hub import StreamHub

    async def run():
        hub = StreamHub(ctx.bus, ctx.store)
        clients = metrics.WS_CLIENTS._value.get()
        a, b = hub.connect(), hub.connect()
        assert metrics.WS_CLIENTS._value.get() == clients + 2
        hub.disconnect(a)
        hub.disconnect(a)  # idempotent: counted once
        assert metrics.WS_CLIENTS._value.get() == clients + 1
        hub.disconnect(b)
        hub.close()
        dropped = metrics.BUS_DROPPED._value.get()
        sub = ctx.bus.subscribe("collection", maxsize=2)  # a consumer that does not read
        for _ in range(5):
            ctx.bus.publish(SAMPLES["LiveBatch"]())
        sub.close()
        return clients, dropped
    clients, dropped = asyncio.run(run())
    assert metrics.WS_CLIENTS._value.get() == clients
    assert metrics.BUS_DROPPED._value.get() == dropped + 3 == dropped + ctx.bus.stats.dropped
