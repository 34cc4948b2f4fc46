"""``GET /metrics`` of a real deployment while live collection runs: ``tickdeck serve --no-worker`` (the
pages and the API) beside ``tickdeck worker --scheduler`` (the supervised live service collecting from
the IQFeed emulator over TCP, its materialiser process, and the jobs), sharing one data directory
and so one metrics directory. A scrape of the server shows what the worker and its materialiser
counted (ticks, line latency, materialiser rounds, jobs) next to the server's own API requests —
the processes' metrics aggregate. The server logs JSON with the request ids it answered with.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from services_needed import free_port
from waiting import wait_for

ROOT = Path(__file__).resolve().parents[3]
TICKDECK = [sys.executable, "-m", "tickdeck"]
SYMBOLS = ("AAPL",)
DAY = "2024-07-03"
EMULATED_NOW = f"{DAY} 10:00:00"
START_TIMEOUT_S = 120  # a loaded 2-core machine imports the server slowly
WAIT_S = 90.0


def scrape(url: str) -> dict:
    """{(sample name, sorted labels): value} of one scrape."""
    r = httpx.get(url + "/metrics", timeout=60, headers={"Accept": "text/plain"})
    assert r.status_code == 200, r.text[:500]
    assert r.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(r.text) for s in fam.samples}


def value(got: dict, name: str, **labels) -> float:
    return got.get((name, tuple(sorted(labels.items()))), 0.0)


def _stop(proc: subprocess.Popen) -> None:
    """Kill the process group (the worker's materialiser too): nothing is checked after the tests, and a
    graceful stop's final flush would only add seconds."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    from tickdeck.core.sources.iqfeed_emulator import EmulatorThread, IQFeedEmulator

    base = tmp_path_factory.mktemp("metrics-live")
    data_dir = base / "data"
    port, worker_port = free_port(), free_port()
    with EmulatorThread(IQFeedEmulator(symbols=SYMBOLS, now=EMULATED_NOW, speed=10.0, ticks=100_000,
                                       port_history=0, port_l1=0, seed=5)) as emu:
        env = {**{k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"},
               "TICKDECK_DATA_DIR": str(data_dir), "TICKDECK_SECRET": "metrics-test",
               "TICKDECK_FEED_HOST": "127.0.0.1", "TICKDECK_FEED_PORT_HISTORY": str(emu.port_history),
               "TICKDECK_FEED_PORT_L1": str(emu.port_l1), "TICKDECK_LOG_FORMAT": "json", "TICKDECK_LOG_LEVEL": "INFO"}
        procs, logs = {}, {}
        try:
            for name, args in (("server", ["serve", "--port", str(port), "--no-worker", "--no-warm-up"]),
                               ("worker", ["worker", "--scheduler", "--metrics-port", str(worker_port)])):
                logs[name] = base / f"{name}.log"
                with open(logs[name], "w") as fh:
                    procs[name] = subprocess.Popen([*TICKDECK, *args], cwd=ROOT, env=env, stdout=fh,
                                                   stderr=subprocess.STDOUT, start_new_session=True)
            url = f"http://127.0.0.1:{port}"

            def up():
                for name, p in procs.items():
                    assert p.poll() is None, f"{name} exited:\n{logs[name].read_text()[-3000:]}"
                try:
                    return httpx.get(url + "/healthz", timeout=2).status_code == 200
                except httpx.HTTPError:
                    return False
            wait_for(up, "the server to answer /healthz", timeout=START_TIMEOUT_S, poll=0.2)
            r = httpx.post(url + "/api/v1/collection/start", json={"mode": "live", "symbols": list(SYMBOLS)},
                           timeout=60)
            assert r.status_code == 202, r.text
            yield {"url": url, "logs": logs, "data_dir": data_dir, "worker_url": f"http://127.0.0.1:{worker_port}"}
        finally:
            for p in procs.values():
                _stop(p)


def test_live_collection_moves_tick_latency_and_materialiser_metrics(deployment):
    url = deployment["url"]
    first = scrape(url)
    assert value(first, "tickdeck_market_session", session="closed") + \
        value(first, "tickdeck_market_session", session="pre") + value(first, "tickdeck_market_session",
                                                                          session="regular") + \
        value(first, "tickdeck_market_session", session="after") == 1

    def moved():
        got = scrape(url)
        return got if (value(got, "tickdeck_ingest_ticks_total", stage="acknowledged")
                       > value(first, "tickdeck_ingest_ticks_total", stage="acknowledged")
                       and value(got, "tickdeck_ingest_ticks_total", stage="stored") > 0
                       and value(got, "tickdeck_materialiser_round_seconds_count") > 0) else None
    got = wait_for(moved, "acknowledged and stored ticks in /metrics", timeout=WAIT_S, poll=0.5)
    lines = value(got, "tickdeck_l1_line_latency_seconds_count")
    assert lines > value(first, "tickdeck_l1_line_latency_seconds_count")
    assert value(got, "tickdeck_l1_line_latency_seconds_bucket", le="+Inf") == lines
    assert value(got, "tickdeck_l1_line_latency_seconds_sum") > 0
    assert value(got, "tickdeck_service_running", service="live") == 1
    assert ("tickdeck_store_bytes", (("library", "ticks"),)) in got  # sizes: test_metrics_core (cached 60 s here)
    assert 0 <= got[("tickdeck_journal_lag_seconds", ())] < WAIT_S  # set by the running materialiser process
    # the worker's own exporter (--metrics-port) serves the same process metrics, without the state ones
    own = scrape(deployment["worker_url"])
    assert value(own, "tickdeck_ingest_ticks_total", stage="acknowledged") >= \
        value(got, "tickdeck_ingest_ticks_total", stage="acknowledged") > 0
    assert not [k for k in own if k[0] == "tickdeck_jobs"]
    assert 0 < value(got, "tickdeck_disk_free_ratio") <= 1


def test_api_requests_are_counted_by_route_template_and_logged_with_their_ids(deployment):
    url = deployment["url"]
    key = dict(method="GET", route="/api/v1/jobs/{job_id}", status="404")  # the template, not the id asked for
    before = value(scrape(url), "tickdeck_api_request_duration_seconds_count", **key)
    for i in range(3):
        r = httpx.get(f"{url}/api/v1/jobs/{990 + i}", headers={"X-Request-ID": f"metrics-test-{i}"}, timeout=60)
        assert r.status_code == 404, r.text
        assert r.headers["x-request-id"] == f"metrics-test-{i}"
    assert value(scrape(url), "tickdeck_api_request_duration_seconds_count", **key) == before + 3
    records = [json.loads(line) for line in deployment["logs"]["server"].read_text().splitlines()
               if line.startswith("{")]
    access = [r for r in records if str(r.get("request_id", "")).startswith("metrics-test-")
              and r["logger"] == "tickdeck.api.access"]  # (the route's own records carry the id too)
    assert sorted(r["request_id"] for r in access) == ["metrics-test-0", "metrics-test-1", "metrics-test-2"]
    assert all("GET /api/v1/jobs/{job_id} 404" in r["message"] for r in access)


def test_a_job_run_by_the_worker_shows_in_the_servers_scrape(deployment):
    url = deployment["url"]
    first = scrape(url)

    def submitted():  # accepted once the live day is stored
        r = httpx.post(url + "/api/v1/quality/validate", json={"symbol": "AAPL", "start": DAY, "end": DAY}, timeout=60)
        return r if r.status_code == 202 else None
    r = wait_for(submitted, "a validation job of the live day", timeout=WAIT_S, poll=0.5)
    job = r.json()["job"]["id"]

    def finished():
        st = httpx.get(f"{url}/api/v1/jobs/{job}", timeout=60).json()["status"]
        return st if st in ("succeeded", "failed", "cancelled") else None
    assert wait_for(finished, f"job {job} to finish in the worker", timeout=WAIT_S, poll=0.3) == "succeeded"
    got = scrape(url)
    done = ("tickdeck_jobs_finished_total", dict(kind="validate", status="succeeded"))
    assert value(got, done[0], **done[1]) == value(first, done[0], **done[1]) + 1
    assert value(got, "tickdeck_job_duration_seconds_count", kind="validate", status="succeeded") >= 1
    assert value(got, "tickdeck_jobs", status="succeeded", priority="1") >= 1
    assert value(got, "tickdeck_validation_days_total", status="PASS", cached="no") + \
        value(got, "tickdeck_validation_days_total", status="WARN", cached="no") + \
        value(got, "tickdeck_validation_days_total", status="FAIL", cached="no") >= 1
    assert sum(v for (n, _), v in got.items() if n == "tickdeck_validation_results_total") > \
        sum(v for (n, _), v in first.items() if n == "tickdeck_validation_results_total")
