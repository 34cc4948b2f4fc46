"""A backfill through the real queue, worker (two slots) and IQFeed emulator: each dataset goes to
its own source, and a child that fails makes the backfill fail with the child's message."""

from __future__ import annotations

import pytest

from builders import store_synthetic
from tickdeck.core.config import Settings
from tickdeck.core.context import Context
from tickdeck.jobs.queue import JobQueue
from tickdeck.jobs.worker import Worker


@pytest.fixture
def emu():
    from tickdeck.core.sources.iqfeed_emulator import EmulatorThread, IQFeedEmulator

    with EmulatorThread(IQFeedEmulator(symbols=("AAPL", "MSFT"), now="2024-07-03 10:00:00", speed=0, ticks=2000,
                                       port_history=0, port_l1=0)) as e:
        yield e


@pytest.fixture
def ctx(tmp_path, emu):
    c = Context.open(Settings(data_dir=tmp_path / "data", feed_port_history=emu.port_history,
                              feed_port_l1=emu.port_l1))
    yield c
    c.close()


def test_a_backfill_whose_collect_child_fails_is_failed_with_the_childs_message(ctx):
    """Issue 12: the issue's case — a backfill whose child collect fails ("IQFeed does not know
    symbol 'IBM'") is recorded failed, not "done", with the child's message in its own."""
    q = JobQueue(ctx.catalog.engine, ctx.bus)
    bid = q.submit("backfill", {"symbols": ["AAPL", "IBM"], "start": "2024-07-01", "end": "2024-07-02"},
                   priority=2, requested_by="test")
    Worker(ctx, slots=2).run(once=True)
    kids = {c.params["symbols"][0]: c for c in q.children(bid)}
    assert {s: (c.kind, c.status) for s, c in kids.items()} == {"AAPL": ("collect", "succeeded"),
                                                               "IBM": ("collect", "failed")}
    rec = q.get(bid)
    assert rec.status == "failed"
    assert rec.message.startswith(f"child job {kids['IBM'].id} (collect IBM 2024-07-01..2024-07-02) failed: "
                                  "CollectionFailed:")
    assert "IQFeed does not know symbol" in rec.message and "IBM" in rec.message
    assert kids["IBM"].error.strip().splitlines()[-1] in rec.error  # the child's traceback, readable
    assert [d.isoformat() for d in ctx.catalog.stored_days("AAPL")] == ["2024-07-01", "2024-07-02"]


def test_backfill_sends_each_dataset_to_its_own_source(ctx):
    """Issue 12: a synthetic dataset to the generator (never to IQFeed, which does not know it), an
    IQFeed dataset to IQFeed, an imported one nowhere: "not collectable from a feed"."""
    store_synthetic(ctx, "IBM", "2024-07-01", "2024-07-01", ticks=300)  # the emulator's feed has no IBM
    ctx.catalog.upsert_dataset("IMPT", source="import:csv")
    q = JobQueue(ctx.catalog.engine, ctx.bus)
    bid = q.submit("backfill", {"symbols": ["IBM", "MSFT", "IMPT"], "start": "2024-07-01", "end": "2024-07-02"},
                   priority=2, requested_by="test")
    Worker(ctx, slots=2).run(once=True)
    rec = q.get(bid)
    assert rec.status == "succeeded", rec.message
    kids = {c.params["symbols"][0]: (c.kind, c.status, c.params["days"]) for c in q.children(bid)}
    assert kids == {"IBM": ("generate", "succeeded", ["2024-07-02"]),
                    "MSFT": ("collect", "succeeded", ["2024-07-01", "2024-07-02"])}
    assert rec.result["skipped"]["IMPT"].startswith("not collectable from a feed: IMPT was imported")
    assert rec.message == "done: 2 child job(s) succeeded; skipped IMPT: not collectable from a feed"
    assert ctx.store.day_info("IBM", "2024-07-02").source == "synthetic"
    assert ctx.catalog.tick_days("IBM")[-1].regular_ticks == ctx.catalog.tick_days("IBM")[0].regular_ticks
    assert ctx.store.day_info("MSFT", "2024-07-02").source == "iqfeed"
