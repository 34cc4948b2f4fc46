"""Every batch job kind run the way production runs it: submitted to the SQL job queue and claimed by a
worker, fed by the IQFeed emulator over TCP, with the effect asserted in the store and the catalog.

One emulator and one context (SQLite, LMDB ArcticDB) serve the module; each test works on its own
symbol-days, so the order of the tests does not matter. Days are small (a few thousand ticks).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading

import numpy as np
import pandas as pd
import pytest

from tickdeck.core.bars import default_specs
from tickdeck.core.config import Settings
from tickdeck.core.context import Context
from tickdeck.core.events import DayWritten
from tickdeck.core.sources.iqfeed_emulator import EmulatorThread, IQFeedEmulator
from tickdeck.core.validation import VALIDATORS, history
from tickdeck.jobs.queue import JobQueue
from tickdeck.jobs.worker import Worker
from waiting import wait_for

EMULATED_NOW = "2024-07-03 10:00:00"  # the emulator's clock: every day below is history
DAY_TICKS = 1500


@pytest.fixture(scope="module")
def emu():
    from tickdeck.core.sources.iqfeed_emulator import EmulatorThread, IQFeedEmulator

    with EmulatorThread(IQFeedEmulator(symbols=("AAPL", "MSFT", "SPY", "QQQ", "IWM"), now=EMULATED_NOW, speed=0,
                                       ticks=DAY_TICKS, port_history=0, port_l1=0)) as e:
        yield e


@pytest.fixture(scope="module")
def ctx(tmp_path_factory, emu):
    c = Context.open(Settings(data_dir=tmp_path_factory.mktemp("kinds") / "data", feed_port_history=emu.port_history,
                              feed_port_l1=emu.port_l1))
    yield c
    c.close()


@pytest.fixture(scope="module")
def q(ctx):
    return JobQueue(ctx.catalog.engine, ctx.bus)


def _run(ctx, q, kind: str, params: dict):
    """Submit one job, let a worker drain the queue, return the job's record."""
    jid = q.submit(kind, params, requested_by="test")
    Worker(ctx).run(once=True)
    return q.get(jid)


def _collect(ctx, q, symbol: str, days: list[str]) -> None:
    rec = _run(ctx, q, "collect", {"symbols": [symbol], "days": days})
    assert rec.status == "succeeded", rec.error


def _row(ctx, symbol: str, day: str):
    (row,) = ctx.catalog.tick_days(symbol, day, day)
    return row


def test_collect_of_given_days_stores_each_day_from_the_feed(ctx, q):
    days = ["2024-06-27", "2024-06-28"]
    rec = _run(ctx, q, "collect", {"symbols": ["IWM"], "days": days})
    assert rec.status == "succeeded", rec.error
    assert rec.result["days"] == days and rec.progress == 100.0
    assert [d.isoformat() for d in ctx.store.list_days("IWM")] == days
    for d in days:
        info = ctx.store.day_info("IWM", d)
        assert info.source == "iqfeed" and info.ticks == _row(ctx, "IWM", d).ticks > 0
        assert len(ctx.store.read_day("IWM", d)) == info.ticks


def test_day_bound_live_collect_for_a_finished_session_fails_and_stores_nothing(ctx, q):
    rec = _run(ctx, q, "collect", {"symbols": ["IWM"], "mode": "live", "day": "2024-06-26"})
    assert rec.status == "failed"
    assert "live collection for 2024-06-26 is too late: its session ended at 2024-06-26 20:02:00" in rec.message
    assert dt.date(2024, 6, 26) not in ctx.store.list_days("IWM")


def test_day_bound_live_collect_ends_at_its_session_end_on_the_market_clock_with_the_day_finalised(tmp_path):
    """The day-bound live job stops itself at the extended session's end plus the grace, on the market clock
    (the demo feed's, ``TICKDECK_DEMO_NOW``: here standing still and moved by the test, like the emulator's), and
    succeeds; the collector finalised the day when the feed passed 20:00: exactly the emulator's trades."""
    day = "2024-07-02"
    start = f"{day} 19:59:50"
    with EmulatorThread(IQFeedEmulator(symbols=("QQQ",), now=start, speed=0, ticks=DAY_TICKS, port_history=0,
                                       port_l1=0)) as feed:
        settings = Settings(data_dir=tmp_path / "data", feed_port_history=feed.port_history,
                            feed_port_l1=feed.port_l1, demo_now=start, demo_speed=0)
        c = Context.open(settings)
        try:
            written = []  # whole-day writes: the finalisation's
            c.bus.listen("collection", lambda m: written.append(m.event) if isinstance(m.event, DayWritten) else None)
            jobs = JobQueue.for_context(c)
            jid = jobs.submit("collect", {"symbols": ["QQQ"], "mode": "live", "day": day}, requested_by="test")
            out: dict = {}
            worker = threading.Thread(target=lambda: out.setdefault("rec", Worker(c).run_once()), daemon=True)
            worker.start()
            wait_for(lambda: "live:" in (jobs.get(jid).message or "") or not worker.is_alive(),
                     "the live job's progress", timeout=120)
            assert worker.is_alive(), f"the job ended early: {out.get('rec')}"
            feed.set_clock(f"{day} 20:00:30")  # the feed passes the end of the extended session
            wait_for(lambda: any(w.symbol == "QQQ" for w in written), "the day's finalisation", timeout=120)
            assert worker.is_alive() and jobs.get(jid).status == "running"  # the grace: the market clock is 19:59:50
            c.settings = dataclasses.replace(settings, demo_now=f"{day} 20:02:00")  # 20:00 + STOP_GRACE_S
            rec = wait_for(lambda: out.get("rec"), "the job's end at its session end", timeout=120)
            assert rec.id == jid and rec.status == "succeeded", (rec.status, rec.message, rec.error)
            assert [tuple(f) for f in rec.result["result"]["finalized"]] == [("QQQ", day)]
            src = feed.day_raw("QQQ", day)["tick_id"]
            assert [w.ticks for w in written if w.symbol == "QQQ"] == [len(src)]
            ids = c.store.read_day("QQQ", day, columns=["tick_id"])["tick_id"].to_numpy()
            assert np.array_equal(ids, src)
            (row,) = c.catalog.tick_days("QQQ", day, day)
            assert row.ticks == len(src) and row.source == "iqfeed"
        finally:
            c.close()


def test_build_bars_stores_every_default_series_and_its_catalog_row(ctx, q):
    day = "2024-07-01"
    _collect(ctx, q, "MSFT", [day])
    assert ctx.catalog.bar_series("MSFT", day) == []  # no after-write hooks here: only the job builds bars
    rec = _run(ctx, q, "build-bars", {"symbol": "MSFT", "days": [day]})
    assert rec.status == "succeeded", rec.error
    assert rec.result["built"] == [f"MSFT/{day}"]
    row = _row(ctx, "MSFT", day)
    built = {r.spec: r for r in ctx.catalog.bar_series("MSFT", day)}
    specs = default_specs(row)
    assert set(built) == {str(s) for s in specs}
    for s in specs:
        bars, _ = ctx.store.read_series(f"bars_{s.family}", f"MSFT/{day}/{s.storage_name}")
        assert built[str(s)].bars == len(bars) > 0
        if s.family == "tick":  # tick bars hold every stored trade once
            assert int(bars["trade_count"].sum()) == row.ticks


def test_validate_records_one_result_per_validator_and_the_quality_score(ctx, q):
    day = "2024-07-01"
    _collect(ctx, q, "SPY", [day])
    assert history(ctx, "SPY", day) == []
    rec = _run(ctx, q, "validate", {"symbol": "SPY", "days": [day], "score": True})
    assert rec.status == "succeeded", rec.error
    assert sorted(h.validator for h in history(ctx, "SPY", day)) == sorted(VALIDATORS)
    score = rec.result["scores"][f"SPY/{day}"]
    assert 0 <= score <= 100 and _row(ctx, "SPY", day).quality_score == pytest.approx(score)


def test_finalize_collects_builds_validates_and_writes_the_close_exports(ctx, q):
    day = "2024-07-02"
    gen = _run(ctx, q, "generate", {"symbols": ["SYNX"], "days": [day], "ticks": 500})  # a synthetic dataset
    assert gen.status == "succeeded", gen.error
    synthetic_ingest = ctx.store.day_info("SYNX", day).ingest_id
    ctx.catalog.set_config("close_exports", [{"format": "csv", "spec": "ticks"}])
    try:
        rec = _run(ctx, q, "finalize", {"symbols": ["AAPL", "SYNX"], "day": day})
    finally:
        ctx.catalog.set_config("close_exports", [])
    assert rec.status == "succeeded", rec.error
    assert (rec.result["day"], rec.result["symbols"], list(rec.result["skipped"])) == (day, ["AAPL"], ["SYNX"])
    assert ctx.store.day_info("SYNX", day).ingest_id == synthetic_ingest  # not collected from the feed
    row = _row(ctx, "AAPL", day)
    assert row.source == "iqfeed" and row.ticks > 0
    assert {r.family for r in ctx.catalog.bar_series("AAPL", day)} == {s.family for s in default_specs(row)}
    assert sorted(h.validator for h in history(ctx, "AAPL", day)) == sorted(VALIDATORS)
    (exp,) = rec.result["exports"]
    out = pd.read_csv(exp["out"])
    assert len(out) == row.ticks == sum(f["rows"] for f in exp["files"])


def test_retention_dry_run_reports_and_the_real_run_deletes_old_days(ctx, q):
    old, kept = "2024-06-03", "2024-06-17"
    _collect(ctx, q, "QQQ", [old, kept])
    assert _run(ctx, q, "build-bars", {"symbol": "QQQ", "days": [old, kept]}).status == "succeeded"
    # keep days younger than the midpoint between the two days (two weeks of slack either side of "today")
    keep = (dt.date.today() - dt.date(2024, 6, 10)).days
    policy = {"ticks": keep, "bars": keep}
    dry = _run(ctx, q, "retention", {"dry_run": True, "policy": policy})
    assert dry.status == "succeeded", dry.error
    assert [d for d in dry.result["tick_days"] if d.startswith("QQQ/")] == [f"QQQ/{old}"]
    old_series = [s for s in dry.result["bar_series"] if f"QQQ/{old}/" in s]
    assert old_series and not [s for s in dry.result["bar_series"] if f"QQQ/{kept}/" in s]
    assert [d.isoformat() for d in ctx.store.list_days("QQQ")] == [old, kept]  # a dry run deletes nothing
    real = _run(ctx, q, "retention", {"policy": policy})
    assert real.status == "succeeded", real.error
    assert real.result["tick_days"] == dry.result["tick_days"]
    assert [d.isoformat() for d in ctx.store.list_days("QQQ")] == [kept]
    assert [r.day.isoformat() for r in ctx.catalog.tick_days("QQQ")] == [kept]
    assert ctx.catalog.bar_series("QQQ", old) == [] and ctx.catalog.bar_series("QQQ", kept)
