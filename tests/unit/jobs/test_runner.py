"""The runner and worker: outcomes, tracebacks, progress persistence and cooperative cancel."""

from __future__ import annotations

import threading
import time

from tickdeck.jobs.runner import HEARTBEAT_S
from tickdeck.jobs.worker import Worker


def _wait(pred, timeout=30.0, step=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise AssertionError("condition not met in time")


def test_generate_job_writes_days_and_records_result(jctx, queue):
    jid = queue.submit("generate", {"symbols": ["AAPL"], "start": "2024-07-01", "end": "2024-07-03", "ticks": 300})
    assert Worker(jctx).run(once=True) == 1
    rec = queue.get(jid)
    assert rec.status == "succeeded" and rec.progress == 100.0
    assert rec.result["days"] == 3 and rec.result["ticks"] > 0
    assert jctx.store.list_days("AAPL")[-1].isoformat() == "2024-07-03"


def test_failing_job_keeps_its_traceback_and_the_queue_goes_on(jctx, queue):
    bad = queue.submit("generate", {"symbols": ["not a ticker!"], "start": "2024-07-01", "end": "2024-07-01"})
    good = queue.submit("health")
    assert Worker(jctx).run(once=True) == 2
    failed = queue.get(bad)
    assert failed.status == "failed"
    assert "Traceback" in failed.error and "InvalidSymbol" in failed.error
    assert "invalid ticker" in failed.message
    assert queue.get(good).status == "succeeded"


class Beats:
    """The heartbeat's clock, driven by the test: each :meth:`beat` lets the job's heartbeat thread beat once
    (the runner's own clock beats every ``HEARTBEAT_S`` of wall time)."""

    def __init__(self):
        self._due = threading.Semaphore(0)
        self.count = 0

    def beat(self) -> None:
        self._due.release()

    def __call__(self, stop: threading.Event) -> bool:
        while not self._due.acquire(timeout=0.05):
            if stop.is_set():
                return True
        self.count += 1
        return stop.is_set()


def test_a_cancel_stops_the_running_job_at_the_next_heartbeat(jctx, queue):
    """Cancel latency is one heartbeat (``HEARTBEAT_S``) plus the job's next progress step: asserted on the
    heartbeat's own clock (one beat after the cancel stops the job), not on the wall clock."""
    assert HEARTBEAT_S <= 1.0  # the latency a beat stands for
    jid = queue.submit("generate", {"symbols": ["MSFT"], "start": "2024-01-02", "end": "2024-12-31", "ticks": 200})
    beats = Beats()
    w = Worker(jctx, heartbeat=beats)
    t = threading.Thread(target=w.run, kwargs={"once": True})
    t.start()
    _wait(lambda: queue.get(jid).progress > 0)
    queue.cancel(jid)
    assert queue.get(jid).status == "running"  # the request alone stops nothing: the heartbeat reads it
    beats.beat()
    rec = _wait(lambda: (r := queue.get(jid)).status != "running" and r, timeout=60)
    t.join(10)
    assert rec.status == "cancelled" and beats.count == 1  # stopped by the first beat after the cancel
    assert 0 < rec.progress < 100
    assert len(jctx.store.list_days("MSFT")) < 250


def test_progress_is_persisted_while_a_job_runs(jctx, queue):
    seen = []
    jctx.bus.listen("jobs", lambda m: seen.append(m) if m.event.change == "progress" else None)
    jid = queue.submit("generate", {"symbols": ["SPY"], "start": "2024-07-01", "end": "2024-07-12", "ticks": 300})
    Worker(jctx).run(once=True)
    mine = [m.event for m in seen if m.event.id == jid]
    pcts = [e.progress for e in mine]
    days = jctx.calendar().trading_days("2024-07-01", "2024-07-12")
    # each published step is a whole number of the job's days done (updates may be coalesced), rising to 100
    steps = [round(p * len(days) / 100, 6) for p in pcts]
    assert all(s == int(s) for s in steps) and steps == sorted(set(steps)) and steps[-1] == len(days), steps
    assert any(0 < s < len(days) for s in steps)  # seen while running, not only at the end
    assert queue.get(jid).message == "done" and queue.get(jid).progress == 100.0


def test_embedded_worker_runs_submitted_jobs_until_stopped(jctx, queue):
    from tickdeck.jobs.worker import start_embedded

    h = start_embedded(jctx, scheduler=False)
    try:
        jid = queue.submit("health")
        _wait(lambda: queue.get(jid).status == "succeeded", timeout=20)
        assert queue.get(jid).result["status"] in ("healthy", "degraded", "unhealthy")
    finally:
        h.stop()
    assert not h.alive
