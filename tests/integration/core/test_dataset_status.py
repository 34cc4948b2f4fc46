"""tickdeck.core.status: one dataset status from the real catalog, backfill freshness, validation and jobs.

Runs on SQLite and PostgreSQL (``sql_url``), with real ArcticDB (LMDB in ``tmp_path``), the
real validation pipeline scoring each written day, the real job queue and worker, and the
IQFeed emulator over TCP for a collection the feed refuses.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from builders import store_synthetic

from tickdeck.core.quality_scale import format_quality
from tickdeck.core.status import dataset_status, dataset_statuses
from tickdeck.core.validation.quality import QUALITY_FAIR, InvalidQualityScore

# Every synthetic fault except the gap, on 100 trades: the validation pipeline scores this day 1/100.
BROKEN_FAULTS = ["bad_prints", "crossed_quotes", "decreasing_volume", "out_of_order", "wrong_timezone", "duplicates"]
BROKEN_DAY = dt.date(2024, 7, 5)
AFTER_BROKEN_DAY = pd.Timestamp("2024-07-08 10:00", tz="America/New_York")  # 2024-07-05 is the last completed day


@pytest.fixture
def sctx(tmp_path, sql_url):
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context
    from tickdeck.core.validation import install

    ctx = Context.open(Settings(data_dir=tmp_path / "data", sql_url=sql_url))
    install(ctx)  # the real producer of quality scores: validation after every written day
    yield ctx
    ctx.close()


def test_a_day_the_pipeline_scores_1_makes_an_up_to_date_dataset_red_and_poor(sctx):
    """Issue 12: quality 1/100 is poor and red everywhere, never "Fresh 100 %"."""
    store_synthetic(sctx, "FAULTY", BROKEN_DAY, BROKEN_DAY, faults=BROKEN_FAULTS, ticks=100)
    [row] = sctx.catalog.tick_days("FAULTY")
    assert row.quality_score is not None and row.quality_score < 5  # 1.0 with today's validators

    st = dataset_status(sctx, "FAULTY", now=AFTER_BROKEN_DAY)

    assert st.days_behind == 0 and st.last_day == BROKEN_DAY  # up to date...
    assert (st.level, st.label, st.quality_band) == ("bad", "Poor quality", "poor")  # ...but red
    assert st.quality == pytest.approx(row.quality_score)
    assert st.quality_text == f"{format_quality(row.quality_score)} / 100 (poor)"
    assert f"below {QUALITY_FAIR:.0f}" in st.detail


def test_quality_is_read_on_the_0_to_100_scale_only(sctx):
    """Issue 12: a stored 1 (or 0.95) is 1 (0.95) points out of 100, not a fraction; 95 is good."""
    store_synthetic(sctx, "AAPL", "2024-07-02", "2024-07-05", ticks=2000)
    days = sctx.catalog.stored_days("AAPL")
    assert len(days) == 3

    for d in days:
        sctx.catalog.set_quality("AAPL", d, 1.0)
    assert (dataset_status(sctx, "AAPL", now=AFTER_BROKEN_DAY).label,
            dataset_status(sctx, "AAPL", now=AFTER_BROKEN_DAY).quality_band) == ("Poor quality", "poor")
    for d in days:
        sctx.catalog.set_quality("AAPL", d, 0.95)
    assert dataset_status(sctx, "AAPL", now=AFTER_BROKEN_DAY).quality_band == "poor"
    for d in days:
        sctx.catalog.set_quality("AAPL", d, 95.0)
    st = dataset_status(sctx, "AAPL", now=AFTER_BROKEN_DAY)
    assert (st.level, st.label, st.quality_band, st.quality) == ("ok", "Fresh", "good", 95.0)
    sctx.catalog.set_quality("AAPL", days[0], 80.0)  # mean 90: still good
    assert dataset_status(sctx, "AAPL", now=AFTER_BROKEN_DAY).quality_band == "good"
    sctx.catalog.set_quality("AAPL", days[1], 50.0)  # mean 75: fair
    assert dataset_status(sctx, "AAPL", now=AFTER_BROKEN_DAY).label == "Check quality"


def test_a_quality_score_off_the_scale_is_refused_and_the_stored_one_kept(sctx):
    """Issue 12: set_quality refuses 150, -1 and NaN with a message naming the day; nothing changes."""
    store_synthetic(sctx, "AAPL", "2024-07-05", "2024-07-05", ticks=2000)
    sctx.catalog.set_quality("AAPL", BROKEN_DAY, 88.0)
    for bad in (150, -1, float("nan")):
        with pytest.raises(InvalidQualityScore, match="AAPL 2024-07-05.*0–100"):
            sctx.catalog.set_quality("AAPL", BROKEN_DAY, bad)
    assert sctx.catalog.tick_days("AAPL")[0].quality_score == 88.0


def test_freshness_holes_and_failing_days_come_from_the_calendar_and_validation(sctx):
    """Issue 12: fresh / stale / outdated / empty from tickdeck.core.backfill, holes and failing days counted."""
    store_synthetic(sctx, "AAPL", "2024-07-01", "2024-07-03", ticks=3000)
    store_synthetic(sctx, "GAPPY", "2024-07-03", "2024-07-03", faults=["gaps"], ticks=3000)  # continuity FAIL
    sctx.store.delete_day("AAPL", "2024-07-02")
    sctx.catalog.delete_tick_day("AAPL", "2024-07-02")
    sctx.catalog.upsert_dataset("NEW", source="iqfeed", venue="NASDAQ")  # registered, nothing stored

    by = {s.symbol: s for s in dataset_statuses(sctx, now=pd.Timestamp("2024-07-03 17:00", tz="America/New_York"))}
    assert list(by) == ["AAPL", "GAPPY", "NEW"]
    assert by["AAPL"].state == "fresh" and by["AAPL"].missing_days == 1 and by["AAPL"].failing_days == 0
    assert by["GAPPY"].failing_days == 1 and "1 day failing validation" in by["GAPPY"].detail
    assert (by["NEW"].state, by["NEW"].level, by["NEW"].label, by["NEW"].quality) == ("empty", "bad", "Empty", None)

    stale = dataset_status(sctx, "AAPL", now=AFTER_BROKEN_DAY)  # 07-04 is a holiday: one day behind
    assert (stale.state, stale.level, stale.days_behind, stale.expected_day) == ("stale", "warn", 1, BROKEN_DAY)
    old = dataset_status(sctx, "AAPL", now=pd.Timestamp("2024-07-15 10:00", tz="America/New_York"))
    assert (old.state, old.level, old.label) == ("outdated", "bad", "Outdated")


def test_a_backfill_whose_collect_job_the_feed_refuses_shows_the_failure_until_a_later_success(tmp_path, sql_url):
    """Issue 12: a backfill's failed child collect job is the dataset's status, with the feed's message."""
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context
    from tickdeck.core.sources.iqfeed_emulator import EmulatorThread, IQFeedEmulator
    from tickdeck.jobs.queue import JobQueue
    from tickdeck.jobs.worker import Worker

    with EmulatorThread(IQFeedEmulator(symbols=("AAPL", "MSFT"), port_history=0, port_l1=0, ticks=500)) as emu:
        ctx = Context.open(Settings(data_dir=tmp_path / "data", sql_url=sql_url, feed_port_history=emu.port_history))
        try:
            ctx.catalog.upsert_dataset("IBM", source="iqfeed", venue="NYSE")
            queue, worker = JobQueue.for_context(ctx), Worker(ctx)
            queue.submit("backfill", {"symbols": ["IBM"], "start": "2024-07-01", "end": "2024-07-02"}, priority=2)
            ran = []
            while (rec := worker.run_once()) is not None:  # the backfill, then the collect job it queued
                ran.append(rec)
            assert [r.kind for r in ran] == ["backfill", "collect"] and ran[-1].status == "failed"

            st = dataset_status(ctx, "IBM")

            assert (st.state, st.level, st.label) == ("failing", "bad", "Collection failed")
            assert "IQFeed does not know symbol 'IBM'" in st.last_error
            assert st.last_error_job == ran[-1].id and st.last_error_at is not None
            assert st.last_error in st.detail

            queue.submit("generate", {"symbols": ["IBM"], "start": "2024-07-01", "end": "2024-07-01"})
            assert worker.run_once().status == "succeeded"
            after = dataset_status(ctx, "IBM")
            assert after.last_error is None and after.state != "failing"
        finally:
            ctx.close()
