"""Issue 12: live collection on the bus — ``ticks.<SYM>`` TicksAppended equal to the stored ticks,
``bars.<SYM>.<spec>`` BarClosed equal to the bars service's bars of the finalised day, LiveBatch
and the Level 1 client's FeedStatusChanged — over the in-process bus and over real Redis."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from tickdeck.core.bars.service import day_bars
from tickdeck.core.collect import finalize_day
from tickdeck.core.events import BAR_FIELDS, TICK_ARRAYS
from tickdeck.core.live import collect_live
from tickdeck.core.live_bars import LIVE_BAR_SPECS
from tickdeck.core.schema import RAW_COLUMNS

DAY = "2024-07-03"
SYMBOLS = ["AAPL", "MSFT"]
LIVE_BARS_WANTED = 2  # bars of each spec closed by Level 1 ticks (not only by the history backfill)


def _live_bars_closed(rec) -> bool:
    """Both specs closed bars after the first Level 1 batch was acknowledged, for both symbols."""
    first_live = next((m.sequence for m in rec.messages if m.type == "TicksAppended" and m.event.origin == "live"),
                      None)
    if first_live is None:
        return False
    after = [m.event for m in rec.messages if m.type == "BarClosed" and m.sequence > first_live]
    return all(sum(1 for b in after if b.symbol == s and b.spec == spec) >= LIVE_BARS_WANTED
               for s in SYMBOLS for spec in LIVE_BAR_SPECS)


def test_live_collection_streams_ticks_and_bars_equal_to_what_is_stored(ectx, recorder):
    """Issue 12: every acknowledged tick is published once on ticks.<SYM> (history-filled and
    live), columnar; the time:1m and tick:500 bars published as they close equal the bars the
    bars service builds from the finalised day; LiveBatch counts what was acknowledged."""
    stop, out = threading.Event(), {}
    run = threading.Thread(target=lambda: out.setdefault("summary", collect_live(
        ectx, SYMBOLS, batch_seconds=0.3, stop_event=stop, finalize=False)))
    run.start()
    try:
        recorder.wait(_live_bars_closed, timeout=120, what=f"{LIVE_BARS_WANTED} live bars of each spec and symbol")
        feed = [e for e in recorder.events("FeedStatusChanged") if e.kind == "level1"]
        assert feed and feed[-1].state == "connected" and feed[-1].latency_ms > 0
    finally:
        stop.set()
        run.join(120)
    assert not run.is_alive() and "summary" in out
    summary = out["summary"]
    recorder.settle()

    batches = recorder.events("LiveBatch")
    assert sum(b.appended for b in batches) == summary.acknowledged > 0
    assert batches[-1].symbols == tuple(SYMBOLS) and batches[-1].server_time.startswith(DAY)
    assert [e.state for e in recorder.events("FeedStatusChanged") if e.kind == "level1"][-1] == "disconnected"

    ticks = recorder.events("TicksAppended")
    assert {t.origin for t in ticks} == {"history", "live"}
    for sym in SYMBOLS:
        mine = [t for t in ticks if t.symbol == sym]
        assert {t.day for t in mine} == {DAY}
        got = {k: np.concatenate([getattr(t, k) for t in mine]) for k in TICK_ARRAYS}
        assert all(got[k].dtype == np.dtype(dt) for k, dt in TICK_ARRAYS.items())
        stored = ectx.store.read_day(sym, DAY, columns=RAW_COLUMNS)
        order = np.argsort(got["tick_id"], kind="stable")
        assert np.array_equal(got["tick_id"][order], stored["tick_id"].to_numpy()), "each stored tick once"
        for k in RAW_COLUMNS:
            assert np.array_equal(got[k][order], stored[k].to_numpy(), equal_nan=True), k
        assert np.array_equal(got["timestamp"][order], stored.index.asi8)

    bars = recorder.events("BarClosed")
    for sym in SYMBOLS:
        finalize_day(ectx, sym, DAY)  # the whole-day enrichment the bars service reads
        for spec in LIVE_BAR_SPECS:
            mine = [b for b in bars if b.symbol == sym and b.spec == spec]
            built = day_bars(ectx, sym, DAY, spec)
            starts = built.index.asi8
            assert [b.start for b in mine] == starts[:len(mine)].tolist(), f"{sym} {spec}: bars in order, none missed"
            assert len(built) - len(mine) == 1, f"{sym} {spec}: only the open bar is unpublished"
            for i, b in enumerate(mine):
                row = built.iloc[i]
                assert b.end == row["end"].value
                for f in BAR_FIELDS[2:]:
                    assert np.isclose(getattr(b, f), row[f], rtol=1e-12, equal_nan=True), (sym, spec, i, f)


def _run_until(ctx, rec, condition, what):
    stop, out = threading.Event(), {}
    run = threading.Thread(target=lambda: out.setdefault("summary", collect_live(
        ctx, SYMBOLS, batch_seconds=0.3, stop_event=stop, finalize=False)))
    run.start()
    try:
        rec.wait(condition, timeout=120, what=what)
    finally:
        stop.set()
        run.join(120)
    assert "summary" in out
    rec.settle()


@pytest.mark.parametrize("bus_kind", ["local"])  # the restart is about the builders, not the transport
def test_live_bars_continue_across_a_restart_from_the_stored_ticks(ectx, recorder):
    """Issue 12: a run that starts on a day with stored ticks builds its bars on top of them: the
    bars it publishes continue the first run's and equal the bars service's, none twice."""
    _run_until(ectx, recorder, _live_bars_closed, "bars of the first run")
    first = list(recorder.events("BarClosed"))
    recorder.clear()
    _run_until(ectx, recorder, _live_bars_closed, "bars of the second run")
    second = recorder.events("BarClosed")
    for sym in SYMBOLS:
        finalize_day(ectx, sym, DAY)
        for spec in LIVE_BAR_SPECS:
            a = [b for b in first if b.symbol == sym and b.spec == spec]
            b = [x for x in second if x.symbol == sym and x.spec == spec]
            built = day_bars(ectx, sym, DAY, spec)
            assert [x.start for x in a + b] == built.index.asi8[:len(a) + len(b)].tolist(), (sym, spec)
            for i, bar in enumerate(b, start=len(a)):
                row = built.iloc[i]
                for f in BAR_FIELDS[2:]:
                    assert np.isclose(getattr(bar, f), row[f], rtol=1e-12, equal_nan=True), (sym, spec, i, f)
