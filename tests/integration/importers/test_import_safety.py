"""Imports that meet bad rows, huge numbers and big or unsorted files, into real ArcticDB (LMDB) and SQL.

The post-ingest pipeline (ingest rules, default bars, validation) is installed where the
defect showed through it, as ``tickdeck import`` installs it.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from tickdeck.core.config import Settings
from tickdeck.core.sources.files import import_file

DAY = dt.date(2024, 7, 2)
T0 = pd.Timestamp("2024-07-02 13:30:00", tz="UTC")  # 09:30 ET


def _rows(n: int, *, step_ms: int = 1000, size=None) -> list[str]:
    ts = T0 + pd.to_timedelta(np.arange(n) * step_ms, unit="ms")
    sizes = np.arange(1, n + 1) % 97 + 1 if size is None else size
    return [f"{t.strftime('%Y-%m-%dT%H:%M:%S.%fZ')},{100 + (i % 50) / 100:.2f},{s}" for i, (t, s) in
            enumerate(zip(ts, sizes))]


def _write(path, rows, header="timestamp,price,size"):
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


@pytest.fixture
def piped(tmp_path):
    """A context with the ingest rules, bars and validation installed (what the CLI opens)."""
    from tickdeck.app.wiring import open_context

    c = open_context(Settings(data_dir=tmp_path / "data"), pipeline=True)
    yield c
    c.close()


def test_a_size_above_int64_is_a_dead_letter_and_the_rest_of_the_day_is_kept(piped, tmp_path):
    """Issue 11 item 6: one 20-digit size no longer wraps to INT64_MIN and wipes the day (1,000 ticks → 3)."""
    rows = _rows(1000)
    rows[2] = rows[2].rsplit(",", 1)[0] + ",99999999999999999999"
    p = _write(tmp_path / "big.csv", rows)
    rep = import_file(piped, p, symbol="AAPL")
    assert rep.ticks == 999 and rep.rejected == 1
    df = piped.store.read_day("AAPL", DAY)
    assert len(df) == 999 and (df["last_sz"] > 0).all()
    np.testing.assert_array_equal(df["tot_vlm"].to_numpy(), np.cumsum(df["last_sz"].to_numpy()))
    (d,) = piped.catalog.dead_letters()
    assert d.line == 4 and d.raw == rows[2] and "64-bit" in d.reason


def test_a_fractional_size_past_int64_in_1e8_units_is_a_dead_letter(ctx, tmp_path):
    """Issue 11 item 6: 123456789012.5 × 1e8 does not fit int64: that row is dropped, the others stored."""
    sizes = np.round(np.linspace(0.001, 2.5, 200), 6)
    rows = _rows(200, size=sizes)
    rows[150] = rows[150].rsplit(",", 1)[0] + ",123456789012.5"
    p = _write(tmp_path / "frac.csv", rows)
    rep = import_file(ctx, p, symbol="BTCUSD", calendar="24/7")
    assert rep.size_unit == 1e-8 and rep.ticks == 199 and rep.rejected == 1
    df = ctx.store.read_day("BTCUSD", DAY)
    expect = np.round(np.delete(sizes, 150) * 1e8).astype(np.int64)
    np.testing.assert_array_equal(df["last_sz"].to_numpy(), expect)
    assert (np.diff(df["tot_vlm"].to_numpy()) >= 0).all()
    (d,) = ctx.catalog.dead_letters()
    assert d.line == 152 and d.raw == rows[150] and "1e-8" in d.reason


def test_a_price_of_1e308_is_a_dead_letter_and_the_day_gets_its_bars(piped, tmp_path):
    """Issue 11 item 16: 1e308 no longer reaches storage and breaks the bars build (no bars for the day)."""
    rows = _rows(300)
    rows[100] = rows[100].split(",")[0] + ",1e308,10"
    rep = import_file(piped, _write(tmp_path / "px.csv", rows), symbol="AAPL")
    assert rep.ticks == 299 and rep.rejected == 1
    (d,) = piped.catalog.dead_letters()
    assert d.line == 102 and d.raw == rows[100] and "TICKDECK_PRICE_MAX" in d.reason
    assert piped.store.read_day("AAPL", DAY)["last"].max() < 101
    assert piped.catalog.bar_series("AAPL", DAY)  # the default bars were built


@pytest.mark.parametrize("price", ["1e308", "1e10", "inf", "-3", "0", "nan"])
def test_an_implausible_price_is_a_dead_letter_with_its_line(ctx, tmp_path, price):
    """Issue 11 item 16: a price outside the bounds (or not a positive finite number) is refused by row."""
    rows = _rows(30)
    rows[10] = rows[10].split(",")[0] + f",{price},10"
    rep = import_file(ctx, _write(tmp_path / "px.csv", rows), symbol="AAPL")
    assert rep.ticks == 29 and rep.rejected == 1
    (d,) = ctx.catalog.dead_letters()
    assert d.line == 12 and d.raw == rows[10] and "price" in d.reason


def test_plausibility_bounds_come_from_settings(tmp_path):
    """Issue 11 item 16: TICKDECK_PRICE_MAX / TICKDECK_SIZE_MAX are the bounds the importer applies."""
    from tickdeck.core.context import Context

    settings = Settings.from_env({"TICKDECK_DATA_DIR": str(tmp_path / "d"), "TICKDECK_PRICE_MAX": "100.2",
                                  "TICKDECK_SIZE_MAX": "50"})
    ctx = Context.open(settings)
    try:
        p = _write(tmp_path / "b.csv", _rows(100))
        rep = import_file(ctx, p, symbol="AAPL")
        prices = np.array([100 + (i % 50) / 100 for i in range(100)])
        sizes = np.arange(1, 101) % 97 + 1
        assert rep.ticks == int(((prices <= 100.2) & (sizes <= 50)).sum())
        reasons = {d.reason.split(" is above")[0].split()[0] for d in ctx.catalog.dead_letters()}
        assert reasons == {"price", "size"}
        assert all("TICKDECK_" in d.reason for d in ctx.catalog.dead_letters())
    finally:
        ctx.close()


def test_ragged_rows_become_dead_letters_with_their_line_and_the_file_imports(ctx, tmp_path):
    """Issue 11 item 13: the file is no longer refused whole; the catalog gets each ragged row and its line."""
    rows = _rows(50)
    rows[10] += ",7"
    rows[20] = rows[20].rsplit(",", 1)[0]
    p = _write(tmp_path / "r.csv", rows)
    rep = import_file(ctx, p, symbol="AAPL")
    assert rep.ticks == 48 and rep.rejected == 2
    got = sorted((d.line, d.raw) for d in ctx.catalog.dead_letters())
    assert got == [(12, rows[10]), (22, rows[20])]


def test_dead_letters_of_a_csv_with_blank_lines_hold_the_row_and_its_line(ctx, tmp_path):
    """Issue 11 item 14: the stored raw text is the rejected row itself (not "") and its 1-based line."""
    rows = _rows(6)
    bad = rows[4].split(",")[0] + ",abc,5"
    text = "timestamp,price,size\n\n\n" + "\n".join(rows[:4]) + "\n\n" + bad + "\n" + rows[5] + "\n"
    (tmp_path / "b.csv").write_text(text)
    rep = import_file(ctx, tmp_path / "b.csv", symbol="AAPL")
    assert rep.ticks == 5
    (d,) = ctx.catalog.dead_letters()
    assert d.raw == bad and d.line == text.split("\n").index(bad) + 1 == 9


def test_rows_outside_sessions_keep_their_text_and_line(ctx, tmp_path):
    """Issue 11 item 14: calendar rejects are stored with the row as written too."""
    rows = _rows(3) + ["2024-07-04T15:00:00Z,190.0,10"]  # Independence Day
    rep = import_file(ctx, _write(tmp_path / "h.csv", rows), symbol="AAPL")
    assert rep.ticks == 3
    (d,) = ctx.catalog.dead_letters()
    assert (d.raw, d.line) == (rows[3], 5) and "not in any XNYS trading session" in d.reason


def test_an_unsorted_file_read_in_small_chunks_writes_each_day_whole_once(ctx, tmp_path, monkeypatch):
    """Issue 11 item 18: rows of interleaved days spread over many chunks and spill files; each day is
    written once with all of its rows, as a one-chunk import writes it, and the spill files are removed."""
    days = pd.bdate_range("2024-07-08", periods=5)
    rng = np.random.default_rng(7)
    n = 3000
    which = rng.integers(0, len(days), n)
    offs = rng.integers(0, int(6 * 3600e9), n)
    ts = (days[which] + pd.Timedelta(hours=13, minutes=30)).tz_localize("UTC") + pd.to_timedelta(offs, unit="ns")
    prices = np.round(50 + rng.random(n) * 10, 2)
    text = "ts,last,qty\n" + "\n".join(f"{t.value},{p},{i % 300 + 1}" for i, (t, p) in enumerate(zip(ts, prices)))
    (tmp_path / "u.csv").write_text(text + "\n")
    monkeypatch.setattr("tickdeck.core.sources.tabular.CSV_BLOCK_BYTES", 4096)  # ~130 rows per chunk
    monkeypatch.setattr("tickdeck.core.sources.files.SPOOL_BYTES", 20_000)  # spill every few chunks
    rep = import_file(ctx, tmp_path / "u.csv", symbol="AAPL")
    from tickdeck.core import naming

    for d in days:  # one write per day: every day's symbol is at its first version
        assert ctx.store.ticks.read_metadata(naming.tick_symbol("AAPL", d.date())).version == 0
    assert rep.ticks == n and [d.day for d in rep.days] == [d.date() for d in days]
    for k, d in enumerate(days):
        df = ctx.store.read_day("AAPL", d.date())
        sel = np.flatnonzero(which == k)
        order = sel[np.argsort(ts.asi8[sel], kind="stable")]
        np.testing.assert_array_equal(df.index.asi8, ts.asi8[order])
        np.testing.assert_array_equal(df["last"].to_numpy(), prices[order])
        np.testing.assert_array_equal(df["tick_id"].to_numpy(), order + 1)  # data-row numbers
    assert not list((tmp_path / "data" / "tmp").glob("import-*"))


def test_a_killed_imports_spill_directory_is_swept_by_the_next_import(ctx, tmp_path):
    """Issue 11 item 18: spill files of an import whose process is gone do not pile up."""
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / "data" / "tmp" / f"import-{int(dead.stdout)}-abc"
    stale.mkdir(parents=True)
    (stale / "spill-00000.arrow").write_bytes(b"x" * 100)
    import_file(ctx, _write(tmp_path / "s.csv", _rows(5)), symbol="AAPL")
    assert not stale.exists()


def test_file_wide_choices_hold_when_the_deciding_row_comes_in_a_late_chunk(ctx, tmp_path, monkeypatch):
    """Issue 11 item 18: the size unit and the tick-id source are decided over the whole file, so a
    fractional size or a non-whole id near the end changes every day's rows, as a one-chunk read does."""
    rows = _rows(400)
    rows[390] = rows[390].rsplit(",", 1)[0] + ",0.5"  # the only fractional size, far past the first chunk
    p = tmp_path / "late.csv"
    p.write_text("timestamp,price,size,trade_id\n"
                 + "\n".join(f"{r},{1000 + i}" if i != 395 else f"{r},7.5" for i, r in enumerate(rows)) + "\n")
    monkeypatch.setattr("tickdeck.core.sources.tabular.CSV_BLOCK_BYTES", 2048)
    monkeypatch.setattr("tickdeck.core.sources.files.SPOOL_BYTES", 4096)
    rep = import_file(ctx, p, symbol="AAPL")
    assert rep.size_unit == 1e-8 and rep.ticks == 400
    df = ctx.store.read_day("AAPL", DAY)
    sizes = np.array([float(r.rsplit(",", 1)[1]) for r in rows])
    np.testing.assert_array_equal(df["last_sz"].to_numpy(), np.round(sizes * 1e8).astype(np.int64))
    np.testing.assert_array_equal(df["tick_id"].to_numpy(), np.arange(1, 401))  # 7.5 is no id: row numbers
