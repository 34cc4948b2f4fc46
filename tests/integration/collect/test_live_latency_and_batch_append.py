"""Live flushes by line age, per-line latency accounting, and the batched day append."""

from __future__ import annotations

import numpy as np

from builders import make_trades
from tickdeck.core.calendar import get_calendar
from tickdeck.core.enrich import enrich
from tickdeck.core.errors import SchemaError

DAY = "2024-07-03"


def _frame(raw, sl):
    part = {k: v[sl] for k, v in raw.items()}
    return enrich(part, symbol="X", source="iqfeed", ingest_id="t-1", calendar=get_calendar("XNYS"))


def test_batched_append_matches_single_appends_and_reports_a_bad_item_without_losing_others(ctx):
    raw = make_trades(300, seed=11)
    for sym in ("AAA", "BBB", "CCC"):
        ctx.store.write_day(sym, "2024-07-02", _frame(raw, slice(0, 100)))
    res = ctx.store.append_days_batch([("AAA", "2024-07-02", _frame(raw, slice(100, 200))),
                                       ("BBB", "2024-07-02", _frame(raw, slice(50, 60))),  # before the stored last
                                       ("CCC", "2024-07-02", _frame(raw, slice(100, 300))),
                                       ("DDD", "2024-07-02", _frame(raw, slice(0, 20)))])  # first ticks of a day
    assert isinstance(res[1], SchemaError) and "before the stored last tick" in str(res[1])
    assert [r.ticks for i, r in enumerate(res) if i != 1] == [200, 300, 20]
    assert len(ctx.store.read_day("BBB", "2024-07-02")) == 100  # untouched
    single = ctx.store.append_day("BBB", "2024-07-02", _frame(raw, slice(100, 200)))
    batched = ctx.store.day_info("AAA", "2024-07-02")
    for f in ("ticks", "volume", "dollar_volume", "high", "low", "close", "regular_ticks"):
        assert getattr(batched, f) == getattr(single, f), f
    assert np.array_equal(ctx.store.read_day("AAA", "2024-07-02")["tick_id"].to_numpy(), raw["tick_id"][:200])


def test_live_lines_are_flushed_by_age_well_before_the_batch_window(ctx, emulator_factory, live_until):
    emu = emulator_factory(now="2024-07-03 10:00:00", speed=20, symbols=("AAPL", "MSFT"))
    acked: set[int] = set()  # acknowledged ticks after each batch (progress.done)

    def five_batches_with_new_ticks(p) -> bool:
        acked.add(p.done)
        return len(acked - {0}) >= 5

    s = live_until(ctx, emu, five_batches_with_new_ticks, batch_seconds=5.0, flush_after=0.1, finalize=False)
    lines = int(s.line_latency_hist.sum())
    assert s.batches >= 5 and lines >= s.acknowledged > 0  # five batches with new ticks (lines: with repeats)
    assert s.line_latency_ms(50) is not None
    assert s.line_latency_ms(50) <= s.line_latency_ms(99) <= s.line_latency_ms(100)
    # a line waits for its age (0.1 s), not for the 5 s batch window
    assert s.line_latency_ms(50) < 5000 and s.latencies_ms and min(s.latencies_ms) < 5000
