"""The ``collect`` job in live mode: it streams until cancelled and keeps what it acknowledged."""

from __future__ import annotations

import threading
import time

import numpy as np

from tickdeck.core import naming
from tickdeck.core.config import Settings
from tickdeck.core.context import Context
from tickdeck.jobs.queue import JobQueue
from tickdeck.jobs.runner import run_job

DAY = "2024-07-03"


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
        worker = threading.Thread(target=lambda: out.setdefault("rec", run_job(ctx, q, job, "w1")))
        worker.start()
        deadline = time.monotonic() + 60
        while "live:" not in (q.get(jid).message or ""):  # progress arrives once ticks are acknowledged
            assert worker.is_alive(), f"the job ended early: {out.get('rec')}"
            assert time.monotonic() < deadline, "the live job reported no progress within 60 s"
            time.sleep(0.2)
        assert q.get(jid).status == "running"
        q.cancel(jid)
        worker.join(timeout=60)
        assert not worker.is_alive()
        rec = out["rec"]
        assert rec.status == "cancelled", rec.error
        assert ctx.store.list_series(naming.JOURNAL_LIBRARY) == []  # everything acknowledged is in its day
        for sym in ("AAPL", "MSFT"):
            ids = ctx.store.read_day(sym, DAY, columns=["tick_id"])["tick_id"].to_numpy()
            assert ids.size > 0 and np.array_equal(ids, emu.day_raw(sym, DAY)["tick_id"][:ids.size])
            assert ctx.catalog.tick_days(sym)[0].ticks == ids.size
    finally:
        ctx.close()
