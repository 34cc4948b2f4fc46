"""The ``collect`` job in live mode: it streams until cancelled and keeps what it acknowledged; its stop
is bounded and its final status says what the last flush stored."""

from __future__ import annotations

import re
import threading

import numpy as np

from tickdeck.core import naming
from tickdeck.core.config import Settings
from tickdeck.core.context import Context
from tickdeck.core.live import LiveSummary, recover_journal
from tickdeck.jobs.queue import JobQueue
from tickdeck.jobs.runner import run_job
from waiting import wait_for

DAY = "2024-07-03"
LEFT = re.compile(r"([\d,]+) journal rows in (\d+) segment")


def test_live_collect_job_streams_until_cancelled_and_loses_nothing(tmp_path, emulator_factory):
    emu = emulator_factory(now=f"{DAY} 10:00:00", speed=20)
    ctx = Context.open(Settings(data_dir=tmp_path / "data", feed_port_history=emu.port_history,
                                feed_port_l1=emu.port_l1))
    try:
        q = JobQueue.for_context(ctx)
        jid = q.submit("collect", {"symbols": ["AAPL", "MSFT"], "mode": "live"}, requested_by="test")
        job = q.claim("w1")
        assert job is not None and job.id == jid
        out: dict = {}
        worker = threading.Thread(target=lambda: out.setdefault("rec", run_job(ctx, q, job, "w1")), daemon=True)
        worker.start()
        # progress arrives once ticks are acknowledged
        wait_for(lambda: "live:" in (q.get(jid).message or "") or not worker.is_alive(), "the live job's progress",
                 timeout=120)
        assert worker.is_alive(), f"the job ended early: {out.get('rec')}"
        assert q.get(jid).status == "running"
        q.cancel(jid)
        rec = wait_for(lambda: out.get("rec"), "the cancelled job's final record", timeout=120)
        assert rec.status == "cancelled", rec.error
        assert rec.message.startswith("cancelled on request; stopped: "), rec.message
        left = ctx.store.list_series(naming.JOURNAL_LIBRARY)
        if "every acknowledged tick is in its day" in rec.message:
            assert left == []  # the status says so: the journal is empty
        else:  # the flush limit was reached: the status counts exactly what the journal kept
            m = LEFT.search(rec.message)
            assert m, rec.message
            rows = sum(len(ctx.store.read_series(naming.JOURNAL_LIBRARY, n)[0]) for n in left)
            assert (rows, len(left)) == (int(m.group(1).replace(",", "")), int(m.group(2)))
            recover_journal(ctx, ctx.calendar(), LiveSummary())  # what the next start does first
            assert ctx.store.list_series(naming.JOURNAL_LIBRARY) == []
        for sym in ("AAPL", "MSFT"):
            ids = ctx.store.read_day(sym, DAY, columns=["tick_id"])["tick_id"].to_numpy()
            assert ids.size > 0 and np.array_equal(ids, emu.day_raw(sym, DAY)["tick_id"][:ids.size])
            assert ctx.catalog.tick_days(sym)[0].ticks == ids.size
    finally:
        ctx.close()
