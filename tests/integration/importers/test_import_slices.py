"""A large day is enriched, checked and written in slices, published at once.

Issue 11 item 18: ``ingest_day`` enriches a day in time order :data:`core.ingest.SLICE_ROWS` rows
at a time and stages each slice in ArcticDB (``Store.stage_day``); the staged slices become the
day's new version in one step. These tests run the real store (LMDB in ``tmp_path``) and catalog
with small slices, and check what must not change: the stored values and tier-1 metadata equal
those of the whole-day path, the ingest rules' dead letters and flags are the same, readers see
the old day or the new one, a failure or a refused replace leaves the stored day and no staged
data behind, and the importer's post-write step still runs. The memory the change is for is
measured by ``tests/bench/bench_import.py``; here traced memory shows the day's 43 columns are no
longer held whole.
"""

from __future__ import annotations

import dataclasses
import tracemalloc

import numpy as np
import pandas as pd
import pytest

from builders import make_trades
from tickdeck.core.context import Context
from tickdeck.core.errors import ReplaceRefused, SchemaError
from tickdeck.core.ingest import ingest_day
from tickdeck.core.validation.rules import make_ingest_rules

DAY = "2024-07-02"
SLICE = 4_096


@pytest.fixture
def small_slices(monkeypatch):
    monkeypatch.setattr("tickdeck.core.ingest.SLICE_ROWS", SLICE)


def _context(tmp_path, name: str) -> Context:
    from tickdeck.core.config import Settings

    return Context.open(Settings(data_dir=tmp_path / name))


def _day(n: int = 30_000, seed: int = 0) -> dict:
    """Raw columns of a day with what the write path must handle: repeated tick ids, ticks of the
    evening before (not on the day), rows the ingest rules reject and quotes they flag."""
    raw = make_trades(n, seed=seed)
    raw["date"][:40] = 20240701  # 40 ticks from the evening before, in time order ahead of the day
    raw["time"][:40] = 23 * 3_600_000_000 + np.arange(40) * 1_000_000
    raw["tick_id"][1000:1003] = raw["tick_id"][999]  # the same tick three more times: dropped
    raw["bid"][[5_000, 12_345, 20_000]] = -1.0  # negative quote: rejected by the rules
    raw["ask"][7_000:7_050] = raw["bid"][7_000:7_050] - 0.01  # crossed quotes: flagged
    raw["last"][15_000] *= 1.5  # an isolated bad print: flagged as a price jump
    return raw


def assert_same_frame(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    assert a.index.asi8.tobytes() == b.index.asi8.tobytes() and str(a.index.tz) == str(b.index.tz)
    for c in a.columns:
        x, y = a[c].to_numpy(), b[c].to_numpy()
        assert x.dtype == y.dtype, c
        assert (x.tolist() == y.tolist()) if x.dtype == object else x.tobytes() == y.tobytes(), c


def _without_written_at(info):
    return dataclasses.replace(info, written_at=None)


def test_a_day_ingested_in_slices_is_stored_exactly_as_the_whole_day_path_stores_it(tmp_path, small_slices):
    """Issue 11 item 18: stored values, tier-1 metadata, dead letters, flags and counts are those of
    enriching and writing the day whole (rules without the row/day parts take the whole-day path)."""
    results, frames, letters, flags = [], [], [], []
    for name, sliced in (("sliced", True), ("whole", False)):
        ctx = _context(tmp_path, name)
        sink: dict = {}
        rules = make_ingest_rules(sink=sink)
        ctx.extras["ingest_rules"] = rules if sliced else (lambda df, rules=rules: rules(df))
        try:
            results.append(ingest_day(ctx, "AAPL", DAY, _day(), source="import:csv", ingest_id="i-1"))
            frames.append(ctx.store.read_day("AAPL", DAY))
            letters.append([(d.source, d.symbol, d.raw, d.reason) for d in ctx.catalog.dead_letters()])
            flags.append(sink[("AAPL", "i-1")])
            assert ctx.store.ticks.get_staged_symbols() == []
        finally:
            ctx.close()
    sliced, whole = results
    assert _without_written_at(sliced.info) == _without_written_at(whole.info)
    assert (sliced.duplicates_dropped, sliced.wrong_day_dropped, sliced.rejected) == (3, 40, 3)
    assert dataclasses.astuple(sliced)[1:] == dataclasses.astuple(whole)[1:]
    assert_same_frame(*frames)
    assert len(frames[0]) == 30_000 - 3 - 40 - 3 > 7 * SLICE
    assert letters[0] == letters[1] and len(letters[0]) == 43
    pd.testing.assert_frame_equal(flags[0], flags[1])
    assert flags[0]["flags"].to_numpy().astype(bool).sum() >= 50


def test_the_metadata_stored_with_a_sliced_day_is_its_tier1_info(ctx, small_slices):
    """Issue 11 item 18: the version published from staged slices carries the day's DayInfo."""
    r = ingest_day(ctx, "AAPL", DAY, _day(), source="import:csv")
    stored = ctx.store.day_info("AAPL", DAY)
    assert _without_written_at(stored) == _without_written_at(r.info)
    assert stored.ticks == len(ctx.store.read_day("AAPL", DAY, columns=["last"])) == r.info.ticks
    row = ctx.catalog.tick_days("AAPL")[0]
    assert (row.ticks, row.volume, row.vwap) == (r.info.ticks, r.info.volume, r.info.vwap)


def test_readers_see_the_old_day_until_its_slices_are_published(ctx):
    """Issue 11 item 18: staged slices are invisible; the commit replaces the day in one step and
    keeps the replaced version like any write."""
    from tickdeck.core.enrich import enrich
    from tickdeck.core.calendar import get_calendar
    from tickdeck.core.store import compute_day_info

    cal = get_calendar("XNYS")
    old = enrich(make_trades(5_000, seed=1), symbol="AAPL", source="iqfeed", ingest_id="old", calendar=cal)
    new = enrich(make_trades(9_000, seed=2), symbol="AAPL", source="iqfeed", ingest_id="new", calendar=cal)
    ctx.store.write_day("AAPL", DAY, old)
    with ctx.store.stage_day("AAPL", DAY) as stage:
        for lo in range(0, len(new), 2_000):
            stage.add(new.iloc[lo:lo + 2_000])
            assert ctx.store.day_info("AAPL", DAY).ingest_id == "old"
            assert_same_frame(ctx.store.read_day("AAPL", DAY), old)
        stage.commit(compute_day_info("AAPL", DAY, new))
    assert_same_frame(ctx.store.read_day("AAPL", DAY), new)
    versions = ctx.store.day_versions("AAPL", DAY)
    assert [(v.current, v.ingest_id, v.ticks) for v in versions] == [(True, "new", 9_000), (False, "old", 5_000)]
    assert ctx.store.ticks.get_staged_symbols() == []


def test_a_stage_left_by_an_exception_is_deleted_and_the_day_unchanged(ctx):
    """Issue 11 item 18: leaving the stage by an exception drops its slices; nothing is published."""
    from tickdeck.core.calendar import get_calendar
    from tickdeck.core.enrich import enrich

    df = enrich(make_trades(3_000), symbol="AAPL", source="iqfeed", ingest_id="a", calendar=get_calendar("XNYS"))
    ctx.store.write_day("AAPL", DAY, df)
    with pytest.raises(RuntimeError):
        with ctx.store.stage_day("AAPL", DAY) as stage:
            stage.add(df.iloc[:1_000].assign(ingest_id="b"))
            raise RuntimeError("killed")
    assert ctx.store.ticks.get_staged_symbols() == []
    assert ctx.store.day_info("AAPL", DAY).ingest_id == "a" and len(ctx.store.day_versions("AAPL", DAY)) == 1


def test_a_bad_slice_leaves_the_stored_day_and_no_staged_data(ctx, small_slices):
    """Issue 11 item 18: a slice the store refuses (no rules installed: a NaN price reaches it) stops the
    write with the day's own row number; the stored day, catalog row and dead letters stay as they were."""
    first = ingest_day(ctx, "AAPL", DAY, make_trades(20_000, seed=3), source="iqfeed")
    raw = make_trades(20_000, seed=4)
    raw["last"][17_000] = np.nan  # in the fifth slice
    with pytest.raises(SchemaError) as e:
        ingest_day(ctx, "AAPL", DAY, raw, source="iqfeed")
    assert (e.value.column, e.value.row) == ("last", 17_000)
    assert ctx.store.day_info("AAPL", DAY).ingest_id == first.info.ingest_id
    assert len(ctx.store.day_versions("AAPL", DAY)) == 1 and ctx.store.ticks.get_staged_symbols() == []
    assert ctx.catalog.dead_letters() == [] and ctx.catalog.tick_days("AAPL")[0].ticks == 20_000


def test_a_refused_replace_of_a_day_in_slices_writes_nothing(ctx, small_slices):
    """Issue 11 item 18: the replace guard still refuses another source, after the slices were staged:
    they are deleted, no dead letter is written and the stored day stays current."""
    ctx.extras["ingest_rules"] = make_ingest_rules()
    first = ingest_day(ctx, "AAPL", DAY, make_trades(20_000, seed=5), source="iqfeed")
    with pytest.raises(ReplaceRefused):
        ingest_day(ctx, "AAPL", DAY, _day(), source="import:csv", guard_replace=True)
    assert ctx.store.day_info("AAPL", DAY).ingest_id == first.info.ingest_id
    assert ctx.store.ticks.get_staged_symbols() == [] and ctx.catalog.dead_letters() == []
    assert len(ctx.store.day_versions("AAPL", DAY)) == 1


def test_slices_a_killed_writer_staged_are_not_published_with_the_next_write(ctx, small_slices):
    """Issue 11 item 18: staged slices left by a process killed mid-day are deleted by the next write of
    the day, never finalised into it."""
    from tickdeck.core.calendar import get_calendar
    from tickdeck.core.enrich import enrich

    debris = enrich(make_trades(2_000, seed=6), symbol="AAPL", source="iqfeed", ingest_id="dead",
                    calendar=get_calendar("XNYS"))
    ctx.store.stage_day("AAPL", DAY).add(debris)  # never committed nor aborted: its process "died"
    assert ctx.store.ticks.get_staged_symbols() == ["AAPL/2024-07-02"]
    r = ingest_day(ctx, "AAPL", DAY, make_trades(20_000, seed=7), source="iqfeed")
    stored = ctx.store.read_day("AAPL", DAY, columns=["ingest_id"])
    assert len(stored) == 20_000 and set(stored["ingest_id"]) == {r.info.ingest_id}
    assert ctx.store.ticks.get_staged_symbols() == []


def _write_csv(path, n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp(f"{DAY} 13:30", tz="UTC").value
    ns = np.sort(t0 + rng.integers(0, int(6.4 * 3600e9), n))
    price = np.round(100 + np.cumsum(rng.choice([-0.01, 0.0, 0.01], n)), 2)
    pd.DataFrame({"timestamp": pd.to_datetime(ns, utc=True), "price": price, "size": rng.integers(1, 900, n),
                  "bid": price - 0.01, "ask": price + 0.01}).to_csv(path, index=False)
    return path


def test_an_import_in_slices_runs_the_post_write_step_once_the_day_is_freed(ctx, tmp_path, small_slices):
    """Issue 11 item 18: the importer defers the post-write hooks until its copy of the day is freed; they
    still build the default bars, validate the day and clear its pending marker."""
    from sqlalchemy import select

    from tickdeck.core import db
    from tickdeck.core.pipeline import install
    from tickdeck.core.sources.files import import_file

    install(ctx)
    rep = import_file(ctx, _write_csv(tmp_path / "day.csv", 30_000), symbol="AAPL", calendar="XNYS")
    assert rep.ticks == 30_000 and len(rep.days) == 1
    assert len(ctx.catalog.bar_series("AAPL")) == 39
    with ctx.catalog.engine.connect() as c:
        pending = c.execute(select(db.TickDay.post_write_pending).where(db.TickDay.symbol == "AAPL")).scalar_one()
        validated = c.execute(select(db.ValidationResult.id).where(db.ValidationResult.symbol == "AAPL")).all()
    assert pending is False and len(validated) == 5


def _traced_peak(ctx, path, symbol: str) -> int:
    from tickdeck.core.sources.files import import_file

    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        import_file(ctx, path, symbol=symbol, calendar="XNYS")
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_an_import_holds_one_slice_of_the_enriched_day_not_the_whole_day(ctx, tmp_path, monkeypatch):
    """Issue 11 item 18: importing a 200,000-tick day in slices peaks (numpy and Python memory, traced)
    at well under half of what enriching and writing it whole does, near its raw columns' size."""
    n = 200_000
    path = _write_csv(tmp_path / "day.csv", n, seed=1)
    monkeypatch.setattr("tickdeck.core.sources.tabular.CSV_BLOCK_BYTES", 1 << 20)
    _traced_peak(ctx, _write_csv(tmp_path / "warm.csv", 2_000), "WARM")  # compiled kernels, caches
    monkeypatch.setattr("tickdeck.core.ingest.SLICE_ROWS", 10**9)  # the whole day in one piece, as before
    whole = _traced_peak(ctx, path, "AAA")
    monkeypatch.setattr("tickdeck.core.ingest.SLICE_ROWS", 8_192)
    sliced = _traced_peak(ctx, path, "BBB")
    assert_same_frame(ctx.store.read_day("AAA", DAY).drop(columns=["symbol", "ingest_id"]),
                      ctx.store.read_day("BBB", DAY).drop(columns=["symbol", "ingest_id"]))
    assert sliced < 0.5 * whole, (sliced, whole)
    assert sliced / n < 150, sliced / n  # bytes per tick: raw columns (~48) plus the day's bookkeeping
