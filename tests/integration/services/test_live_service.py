"""The ``live`` service against the real emulator: supervised streaming, a bounded stop that lands
every acknowledged tick, a symbol the feed does not know, and batch jobs in two worker slots
running beside it."""

from __future__ import annotations

import time

import numpy as np

from tickdeck.core import naming
from tickdeck.core.services import ServiceControl, Supervisor
from tickdeck.jobs.queue import JobQueue
from tickdeck.jobs.worker import Worker
import waiting

DAY = "2024-07-02"


def wait_for(cond, what: str, timeout: float = 60.0):
    return waiting.wait_for(cond, what, timeout, poll=0.05)


class Batches:
    """Counts the live ticks journaled, from the LiveBatch events on the bus."""

    def __init__(self, ctx):
        self.appended = 0
        self.stop = ctx.bus.listen("collection", self._on)

    def _on(self, m) -> None:
        if m.type == "LiveBatch":
            self.appended += m.event.appended


def test_live_service_streams_and_stops_with_its_final_flush(emulator_factory, feed_ctx):
    """Issue 12: started through the control, supervised, stopped within the stop timeout with every
    acknowledged tick in its day and a clear 'stopped' status."""
    emu = emulator_factory(now=f"{DAY} 10:00:00", speed=60)
    ctx = feed_ctx(emu)
    batches, changes = Batches(ctx), []
    ctx.bus.listen("services", lambda m: changes.append(m.event.state))
    sup = Supervisor(ctx, poll_s=0.1, stop_timeout=60)
    sup.start()
    control = ServiceControl(ctx)
    try:
        control.start("live", by="test", params={"symbols": ["AAPL", "MSFT"]})
        wait_for(lambda: control.status("live").state == "running", "the service to run")
        wait_for(lambda: batches.appended > 20, "live ticks")
        st = wait_for(lambda: "ticks acknowledged" in (s := control.status("live")).detail and s,
                      "the status to show the ticks (rewritten every BEAT_S)")
        assert st.params["symbols"] == ["AAPL", "MSFT"]
        control.stop("live", by="test")
        t0 = time.monotonic()
        wait_for(lambda: control.status("live").state == "stopped", "the stop")
        assert time.monotonic() - t0 < 60  # the stop timeout
    finally:
        sup.shutdown(timeout=60)
    st = control.status("live")
    assert (st.state, st.last_error, st.restarts) == ("stopped", "", 0)
    assert "stopped after" in st.detail
    assert changes[:2] == ["starting", "running"] and changes[-2:] == ["stopping", "stopped"]
    assert ctx.store.list_series(naming.JOURNAL_LIBRARY) == []  # every acknowledged tick is in its day
    for sym in ("AAPL", "MSFT"):
        ids = ctx.store.read_day(sym, DAY, columns=["tick_id"])["tick_id"].to_numpy()
        assert ids.size > 0 and np.array_equal(ids, emu.day_raw(sym, DAY)["tick_id"][:ids.size])


def test_a_symbol_the_feed_does_not_know_fails_the_live_service_at_once(emulator_factory, feed_ctx):
    """Issue 12: no restart loop on an error a restart cannot fix; the feed's message is the status."""
    emu = emulator_factory(symbols=("AAPL", "MSFT"))
    ctx = feed_ctx(emu)
    sup = Supervisor(ctx, poll_s=0.1)
    sup.start()
    control = ServiceControl(ctx)
    try:
        control.start("live", by="test", params={"symbols": ["IBM"]})
        st = wait_for(lambda: (s := control.status("live")).state == "failed" and s, "the failure")
    finally:
        sup.shutdown(timeout=30)
    assert "IQFeed does not know symbol(s) IBM" in st.last_error and st.restarts == 0


def test_two_batch_jobs_run_at_once_in_two_slots_while_live_collection_streams(emulator_factory, feed_ctx):
    """Issue 12: the live service takes no slot; a worker with two slots runs two collect jobs
    at the same time (their run times overlap) while live ticks keep arriving."""
    emu = emulator_factory(now=f"{DAY} 10:00:00", speed=20)
    ctx = feed_ctx(emu)
    batches = Batches(ctx)
    sup = Supervisor(ctx, poll_s=0.1, stop_timeout=60)
    sup.start()
    control = ServiceControl(ctx)
    q = JobQueue(ctx.catalog.engine, ctx.bus)
    try:
        control.start("live", by="test", params={"symbols": ["AAPL"]})
        wait_for(lambda: batches.appended > 0, "live ticks")
        a = q.submit("collect", {"symbols": ["MSFT"], "days": ["2024-06-24", "2024-06-25", "2024-06-26"]})
        b = q.submit("collect", {"symbols": ["AAPL"], "days": ["2024-06-24", "2024-06-25", "2024-06-26"]})
        Worker(ctx, slots=2).run(once=True)
        after = batches.appended
        ja, jb = q.get(a), q.get(b)
        assert (ja.status, jb.status) == ("succeeded", "succeeded"), (ja.error, jb.error)
        assert ja.worker != jb.worker  # one per slot
        assert jb.started_at < ja.finished_at and ja.started_at < jb.finished_at  # ran at the same time
        assert control.status("live").state == "running"
        wait_for(lambda: batches.appended > after, "live ticks after the jobs")
    finally:
        control.stop("live", by="test")
        sup.shutdown(timeout=60)
    assert len(ctx.store.list_days("MSFT")) == 3
