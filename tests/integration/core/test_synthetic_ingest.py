import datetime as dt

import numpy as np
import pytest

from builders import store_synthetic
from tickdeck.core.calendar import get_calendar
from tickdeck.core.errors import NotFound, TickdeckError
from tickdeck.core.sources.synthetic import FAULT_KINDS, generate_day

CAL = get_calendar()


def test_same_seed_same_data_different_seed_different_data():
    a = generate_day("AAPL", "2024-07-02", calendar=CAL, seed=3)
    b = generate_day("AAPL", "2024-07-02", calendar=CAL, seed=3)
    c = generate_day("AAPL", "2024-07-02", calendar=CAL, seed=4)
    assert all(np.array_equal(a[k], b[k], equal_nan=True) for k in a)
    assert not np.array_equal(a["last"][:100], c["last"][:100])


def test_realistic_profile():
    r = generate_day("MSFT", "2024-07-02", calendar=CAL)
    t_h = r["time"] / 3.6e9
    reg = (t_h >= 9.5) & (t_h < 16)
    assert reg.mean() > 0.85  # thin extended hours
    first_hour = ((t_h >= 9.5) & (t_h < 10.5)).sum()
    midday = ((t_h >= 12) & (t_h < 13)).sum()
    assert first_hour > 1.5 * midday  # U-shape
    size = r["last_sz"]
    assert 0.2 < (size < 100).mean() < 0.5 and (size % 100 == 0).mean() > 0.3 and (size >= 10_000).any()
    spread = r["ask"] - r["bid"]
    assert (spread > 0).all() and np.median(spread) < 0.05
    assert (np.diff(r["tot_vlm"]) > 0).all() and len(np.unique(r["mkt_ctr"])) >= 5
    assert (np.diff(r["time"]) >= 0).all() and (np.diff(r["tick_id"]) > 0).all()


def test_early_close_day_ends_regular_session_at_13():
    r = generate_day("SPY", "2024-07-03", calendar=CAL)
    t_h = r["time"] / 3.6e9
    assert t_h.max() < 17 and ((t_h >= 13) & (t_h < 17)).any()
    cond1 = r["cond1"][(t_h >= 13)]
    assert (cond1 == 0x1C).all()  # extended-hours Form T after the early close


def test_non_trading_day_and_unknown_fault():
    with pytest.raises(NotFound, match="2024-07-04"):
        generate_day("AAPL", "2024-07-04", calendar=CAL)
    with pytest.raises(TickdeckError, match="unknown fault"):
        generate_day("AAPL", "2024-07-02", calendar=CAL, faults=["nope"])


@pytest.mark.parametrize("kind", sorted(FAULT_KINDS))
def test_each_fault_changes_the_day(kind):
    clean = generate_day("AAPL", "2024-07-02", calendar=CAL)
    bad = generate_day("AAPL", "2024-07-02", calendar=CAL, faults=[kind])
    assert any(not np.array_equal(clean[k], bad[k], equal_nan=True) for k in clean if len(clean[k]) == len(bad[k])) \
        or len(clean["tick_id"]) != len(bad["tick_id"])


def test_ingest_dedupes_sorts_and_records_counts(ctx):
    (dup,) = store_synthetic(ctx, "AAPL", "2024-07-02", "2024-07-02", faults=["duplicates"])
    assert dup.duplicates_dropped > 0
    df = ctx.store.read_day("AAPL", "2024-07-02", columns=["tick_id"])
    assert df["tick_id"].is_unique
    assert ctx.store.day_info("AAPL", "2024-07-02").extra["duplicates_dropped"] == dup.duplicates_dropped
    (ooo,) = store_synthetic(ctx, "MSFT", "2024-07-02", "2024-07-02", faults=["out_of_order"])
    assert ooo.out_of_order_fixed > 0
    assert ctx.store.read_day("MSFT", "2024-07-02", columns=["last"]).index.is_monotonic_increasing


def test_generate_skips_non_trading_days(ctx):
    res = store_synthetic(ctx, "AAPL", "2024-07-03", "2024-07-08")
    assert [r.info.day for r in res] == [dt.date(2024, 7, 3), dt.date(2024, 7, 5), dt.date(2024, 7, 8)]


def test_after_write_hooks_run_and_failures_do_not_undo_the_write(ctx):
    seen, events = [], []
    ctx.bus.listen("collection", events.append)

    def ok(c, s, d):
        seen.append((s, d))

    def broken(c, s, d):
        raise RuntimeError("boom")

    ctx.extras["after_write"] = [broken, ok]
    store_synthetic(ctx, "AAPL", "2024-07-02", "2024-07-02")
    assert seen == [("AAPL", dt.date(2024, 7, 2))]
    assert ctx.store.has_day("AAPL", "2024-07-02")
    assert {e.type for e in events} == {"DayWritten", "PostWriteFailed"}
