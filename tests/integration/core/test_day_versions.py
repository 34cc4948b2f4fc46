"""Replacing a stored day: guarded imports, kept versions and ``restore-day``.

Real importer, real ArcticDB and SQLite in ``tmp_path``, the post-ingest pipeline (default bars,
validation) installed as the CLI and server install it.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import pandas as pd
import pytest

from builders import make_trades, store_synthetic
from tickdeck.app.wiring import open_context
from tickdeck.core.config import Settings
from tickdeck.core.errors import ReplaceRefused, VersionNotFound
from tickdeck.core.ingest import SHRINK_LIMIT, ingest_day, restore_day
from tickdeck.core.naming import bar_library, bar_symbol
from tickdeck.core.bars import parse_spec
from tickdeck.core.store import KEEP_PREVIOUS_VERSIONS

DAY = dt.date(2024, 7, 2)
THREE_ROWS = ("timestamp,price,size\n"
              "2024-07-02T10:00:00-04:00,218.10,100\n"
              "2024-07-02T10:00:01-04:00,218.11,200\n"
              "2024-07-02T10:00:02-04:00,218.12,300\n")


@pytest.fixture
def pctx(ctx):
    from tickdeck.core import pipeline

    pipeline.install(ctx)
    return ctx


def _snapshot(ctx, symbol="AAPL"):
    row = ctx.catalog.tick_days(symbol)[0]
    return {"frame": ctx.store.read_day(symbol, DAY), "row": (row.ticks, row.source, row.first_ns, row.last_ns),
            "versions": [(v.version, v.ticks) for v in ctx.store.day_versions(symbol, DAY)],
            "bars": [(b.family, b.spec, b.bars, b.stats) for b in ctx.catalog.bar_series(symbol, DAY)],
            "dead": ctx.catalog.count_dead_letters(None)}


def _bars_built_from(ctx, symbol, ingest_id) -> int:
    """How many catalogued series of the day are stored with metadata of ``ingest_id`` (all must be)."""
    rows = ctx.catalog.bar_series(symbol, DAY)
    for r in rows:
        meta = ctx.store.series_metadata(bar_library(r.family),
                                         bar_symbol(symbol, DAY, parse_spec(r.spec).storage_name))
        assert meta["ingest_id"] == ingest_id, f"{r.family} {r.spec} was built from another version"
    return len(rows)


def test_a_three_row_csv_import_is_refused_over_a_collected_day_and_changes_nothing(pctx, tmp_path):
    """Issue 11 item 12: a partial import from another source refuses to replace the stored day;
    the message says what is stored and how to force it; ticks, catalog row, versions, bars and
    dead letters are unchanged."""
    from tickdeck.core.sources.files import import_file

    store_synthetic(pctx, "AAPL", DAY, DAY, ticks=2_000)
    before = _snapshot(pctx)
    csv = tmp_path / "three.csv"
    csv.write_text(THREE_ROWS)

    rep = import_file(pctx, csv, symbol="AAPL")

    assert rep.ticks == 0 and [d for d, _ in rep.refused] == [DAY]
    msg = rep.refused[0][1]
    ticks = before["row"][0]
    assert f"stored from synthetic ({ticks:,} ticks)" in msg and "import:csv" in msg and "--replace" in msg
    after = _snapshot(pctx)
    pd.testing.assert_frame_equal(after.pop("frame"), before.pop("frame"))
    assert after == before


def test_guarded_ingest_refuses_another_source_or_a_sharp_shrink_and_writes_nothing(pctx):
    """Issue 11 item 12: ``ingest_day(guard_replace=True)`` raises ReplaceRefused (a ValueError)
    for another source family or fewer than half the stored ticks; same source and size passes."""
    ingest_day(pctx, "AAPL", DAY, make_trades(1_000, seed=1), source="iqfeed")
    before = _snapshot(pctx)

    with pytest.raises(ReplaceRefused, match=r"stored from iqfeed \(1,000 ticks\).*import:csv") as e:
        ingest_day(pctx, "AAPL", DAY, make_trades(3, seed=2), source="import:csv", guard_replace=True)
    assert isinstance(e.value, ValueError) and "--replace" in str(e.value)
    shrunk = int(SHRINK_LIMIT * 1_000) - 1
    with pytest.raises(ReplaceRefused, match=f"{shrunk} ticks from iqfeed, fewer than 50%"):
        ingest_day(pctx, "AAPL", DAY, make_trades(shrunk, seed=3), source="iqfeed", guard_replace=True)
    after = _snapshot(pctx)
    pd.testing.assert_frame_equal(after.pop("frame"), before.pop("frame"))
    assert after == before

    res = ingest_day(pctx, "AAPL", DAY, make_trades(shrunk + 1, seed=4), source="iqfeed", guard_replace=True)
    assert res.info.ticks == shrunk + 1


def test_a_forced_replace_keeps_the_old_version_and_restore_brings_it_back_with_its_catalog_row(pctx, tmp_path):
    """Issue 11 item 12: ``import --replace`` replaces the day but keeps the old version;
    restoring it rewrites the catalog row and rebuilds default bars and validation."""
    from tickdeck.core.sources.files import import_file
    from tickdeck.core.validation import history

    store_synthetic(pctx, "AAPL", DAY, DAY, ticks=2_000)
    original = _snapshot(pctx)
    old_id = pctx.store.day_info("AAPL", DAY).ingest_id
    csv = tmp_path / "three.csv"
    csv.write_text(THREE_ROWS)

    rep = import_file(pctx, csv, symbol="AAPL", replace=True)

    assert rep.ticks == 3 and pctx.catalog.tick_days("AAPL")[0].ticks == 3
    versions = pctx.store.day_versions("AAPL", DAY)
    assert [(v.current, v.ticks, v.source) for v in versions] == [(True, 3, "import:csv"),
                                                                  (False, original["row"][0], "synthetic")]
    assert _bars_built_from(pctx, "AAPL", pctx.store.day_info("AAPL", DAY).ingest_id) > 0

    info = restore_day(pctx, "AAPL", DAY, versions[1].version)

    assert info.ingest_id == old_id
    restored = _snapshot(pctx)
    pd.testing.assert_frame_equal(restored["frame"], original["frame"])
    assert restored["row"] == original["row"]
    assert _bars_built_from(pctx, "AAPL", old_id) == len(original["bars"])
    assert sorted(restored["bars"]) == sorted(original["bars"])
    assert history(pctx, "AAPL", DAY)[0].data_version == old_id  # validated after the restore
    assert [(v.current, v.ticks) for v in pctx.store.day_versions("AAPL", DAY)] == [
        (True, original["row"][0]), (False, 3), (False, original["row"][0])]
    with pytest.raises(VersionNotFound, match="no kept version 99"):
        restore_day(pctx, "AAPL", DAY, 99)


def test_replaced_versions_are_bounded_and_retention_deletes_old_ones(ctx):
    """Issue 11 item 12: at most KEEP_PREVIOUS_VERSIONS replaced versions per day; retention
    deletes those replaced longer ago than ``previous_versions_days``; live appends keep them."""
    from tickdeck.core.retention import RetentionPolicy, apply_retention

    for k in range(6):
        ingest_day(ctx, "AAPL", DAY, make_trades(100 + k, seed=k), source="iqfeed")
    assert [v.ticks for v in ctx.store.day_versions("AAPL", DAY)] == [105, 104, 103, 102][:KEEP_PREVIOUS_VERSIONS + 1]

    tail = ctx.store.read_day("AAPL", DAY).iloc[-1:]
    tail.index = tail.index + pd.Timedelta(seconds=1)
    ctx.store.append_days_batch([("AAPL", DAY, tail)])
    assert [v.ticks for v in ctx.store.day_versions("AAPL", DAY)] == [106, 104, 103, 102]

    soon = apply_retention(ctx, RetentionPolicy(), today=dt.date.today())
    assert soon.previous_versions == ()
    later = apply_retention(ctx, RetentionPolicy(), today=dt.date.today() + dt.timedelta(days=31))
    assert len(later.previous_versions) == KEEP_PREVIOUS_VERSIONS
    assert [v.ticks for v in ctx.store.day_versions("AAPL", DAY)] == [106]
    assert len(ctx.store.read_day("AAPL", DAY)) == 106


def _tickdeck(args, data_dir):
    env = {**os.environ, "TICKDECK_DATA_DIR": str(data_dir)}
    env.pop("TICKDECK_SQL_URL", None)
    return subprocess.run([sys.executable, "-m", "tickdeck", *args], env=env, capture_output=True, text=True,
                          timeout=300)


def test_cli_restore_day_lists_versions_and_restores_one(tmp_path):
    """Issue 11 item 12: ``tickdeck restore-day SYMBOL DAY`` lists versions; ``--version N``
    restores one; a version that is not kept is a one-line error."""
    ctx = open_context(Settings(data_dir=tmp_path))  # two versions of the day, written as `tickdeck generate` does
    try:
        for seed in (1, 2):
            store_synthetic(ctx, "AAPL", "2024-07-02", "2024-07-02", seed=seed)
    finally:
        ctx.close()

    listing = _tickdeck(["restore-day", "AAPL", "2024-07-02"], tmp_path)
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[1].split()[:2] == ["1", "current"] and lines[2].split()[:2] == ["0", "kept"]
    assert "--version N" in lines[-1]

    done = _tickdeck(["restore-day", "AAPL", "2024-07-02", "--version", "0"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "restored AAPL 2024-07-02 version 0" in done.stdout
    relisted = _tickdeck(["restore-day", "AAPL", "2024-07-02"], tmp_path).stdout.splitlines()
    assert relisted[1].split()[:2] == ["2", "current"] and relisted[1].split()[5:6] == lines[2].split()[5:6]

    bad = _tickdeck(["restore-day", "AAPL", "2024-07-02", "--version", "7"], tmp_path)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "no kept version 7" in bad.stderr
