"""A trading day on the emulator's clock: the open starts live collection (a service), a backfill
requested at 10:00 finishes while live ticks keep streaming, the 16:00 finalize runs on time.

Everything runs for real in this process, as ``tickdeck serve`` runs it: the embedded worker
(two slots), the scheduler firing the market triggers, the service supervisor, the IQFeed
emulator over TCP. Only the clock is simulated: the emulator's runs ``SPEED`` times faster than
the wall clock from 09:29 ET, and the triggers read it; where the test asserts nothing (after the
first live ticks until shortly before 10:00, after the backfill until shortly before the close) it
moves the emulator's clock on (``set_clock``: the feed catches up at once, as after a slow
link). The test waits on conditions; the only wall-time bounds are what the speed implies (a
minute of market time is 1 s at 60×: the open must start live collection within 30 s, the close
trigger fire within 5 s and the finalize start within 30 s of wall time, even on a busy machine).
"""

from __future__ import annotations

import time

import pandas as pd

from tickdeck.core.services import ServiceControl
from tickdeck.jobs.queue import JobQueue
from tickdeck.jobs.worker import start_embedded

DAY = "2024-07-02"  # a Tuesday with a regular 16:00 close
SPEED = 60  # market seconds per wall second; the hours in which nothing is asserted are skipped
ET = "America/New_York"


def test_open_starts_live_service_backfill_runs_beside_it_and_close_finalizes_on_time(emulator_factory, feed_ctx):
    """Issue 12: on a simulated clock from 09:29 ET — the open starts live collection (a service);
    a backfill requested at 10:00 finishes while live collection keeps streaming; the 16:00
    finalize runs on time."""
    emu = emulator_factory(now=f"{DAY} 09:29:00", speed=SPEED)
    ctx = feed_ctx(emu, worker_slots=2)
    ctx.catalog.set_config("watchlist", ["AAPL", "MSFT"])

    def now() -> pd.Timestamp:
        return emu.sim_now().tz_localize(ET)

    def at(hhmm: str) -> pd.Timestamp:
        return pd.Timestamp(f"{DAY} {hhmm}", tz=ET)

    live = {"appended": 0, "last_at": None}
    triggers, service_states = [], []

    def on_batch(m) -> None:
        if m.type == "LiveBatch" and m.event.appended:
            live["appended"] += m.event.appended
            live["last_at"] = now()

    ctx.bus.listen("collection", on_batch)
    ctx.bus.listen("jobs", lambda m: triggers.append(m.event) if m.type == "TriggerFired" else None)
    indicators_states = []  # the open starts the indicators service beside live collection

    def on_service(m) -> None:
        if m.event.name == "live":
            service_states.append((m.event.state, now()))
        elif m.event.name == "indicators":
            indicators_states.append(m.event.state)

    ctx.bus.listen("services", on_service)
    q, control = JobQueue(ctx.catalog.engine, ctx.bus), ServiceControl(ctx)
    handle = start_embedded(ctx, clock=now, trigger_every_s=0.1, poll_s=0.05)
    try:
        # 09:30: the open starts live collection as a service, not as a job in a worker slot.
        st = _wait(lambda: (s := control.status("live")).state == "running" and s, "live collection to run")
        started = next(t for s, t in service_states if s == "running")
        assert at("09:30") <= started < at("10:00"), started
        assert (st.requested_by, st.params["symbols"]) == ("trigger:open", ["AAPL", "MSFT"])
        assert [t.action for t in triggers] == ["open"] and q.list() == []
        _wait(lambda: "running" in indicators_states, "the indicators service to run beside it")
        assert control.status("indicators").requested_by == "trigger:open"
        _wait(lambda: live["appended"] > 0, "live ticks")
        emu.set_clock(at("09:59:30"))  # nothing happens until 10:00

        # 10:00: a backfill of two past days for both symbols, on the worker's slots.
        _wait(lambda: now() >= at("10:00"), "10:00 ET", poll=0.01)
        bid = q.submit("backfill", {"symbols": ["AAPL", "MSFT"], "start": "2024-06-27", "end": "2024-06-28"},
                       priority=2, requested_by="test")
        done = _wait(lambda: (j := q.get(bid)).status in ("succeeded", "failed") and j, "the backfill")
        finished_at, appended_then = now(), live["appended"]
        assert done.status == "succeeded", done.message + done.error[-2000:]
        assert [c.status for c in q.children(bid)] == ["succeeded", "succeeded"]
        assert finished_at < at("16:00"), f"the backfill finished only at {finished_at}"
        for sym in ("AAPL", "MSFT"):
            assert [d.isoformat() for d in ctx.catalog.stored_days(sym)][:2] == ["2024-06-27", "2024-06-28"]
        # ... while live collection kept streaming: it never left 'running', and ticks keep coming.
        assert [s for s, _ in service_states] == ["starting", "running"]
        _wait(lambda: live["appended"] > appended_then, "live ticks after the backfill")
        assert live["last_at"] > finished_at
        emu.set_clock(at("15:59:30"))  # nothing happens until the close

        # 16:00: the close queues the finalize job, and a free slot runs it at once.
        fin = _wait(lambda: next((j for j in q.list(kind="finalize") if j.status != "pending"), None),
                    "the finalize job to start")
        started_at = now()
        # the trigger queues the job, then publishes its event: a free slot may start the job first
        close = _wait(lambda: next((t for t in triggers if t.action == "close"), None), "the close trigger's event")
        assert at("16:00") <= pd.Timestamp(close.at) < at("16:05"), close.at
        assert started_at < at("16:30"), f"the 16:00 finalize started only at {started_at}"
        assert fin.requested_by == "trigger:close" and fin.params["day"] == DAY
        fin = _wait(lambda: (j := q.get(fin.id)).status in ("succeeded", "failed") and j, "the finalize",
                    timeout=300)
        assert fin.status == "succeeded", fin.error[-2000:]
        # the day live collection is writing is not collected again from history beside it
        assert fin.result["live"] == ["AAPL", "MSFT"] and fin.result["symbols"] == ["AAPL", "MSFT"]
        assert control.status("live").state == "running"
    finally:
        handle.stop(timeout=60)
    assert control.status("live").state == "stopped"  # the server's shutdown stopped it (final flush)


def _wait(cond, what: str, timeout: float = 120.0, poll: float = 0.05):
    deadline = time.monotonic() + timeout
    while not (v := cond()):
        assert time.monotonic() < deadline, f"timed out after {timeout:g} s waiting for {what}"
        time.sleep(poll)
    return v
