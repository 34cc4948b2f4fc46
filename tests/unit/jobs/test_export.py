"""Exports round-trip: every format read back equals the stored ticks; writes are atomic."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pyarrow.csv as pacsv
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from builders import store_synthetic
from tickdeck.core.errors import DayNotFound
from tickdeck.core.export import ExportError, ExportRequest, export, manifest_path, sha256_file

COLS = ["last", "last_sz", "bid", "ask", "trade_sign", "is_regular", "spread_bps", "symbol"]


@pytest.fixture
def stored(ctx):
    store_synthetic(ctx, "AAPL", "2024-07-01", "2024-07-02", ticks=400)
    store_synthetic(ctx, "MSFT", "2024-07-01", "2024-07-02", ticks=300)
    return ctx


def _expected(ctx, syms, session="all"):
    frames = [ctx.store.read_range(s, "2024-07-01", "2024-07-02", columns=COLS[:-1] + ["symbol"], session=session)
              for s in syms]
    df = pd.concat(frames).reset_index()
    df["timestamp"] = df["timestamp"].dt.tz_convert("UTC")
    return df.sort_values(["symbol", "timestamp", "last"], kind="stable").reset_index(drop=True)


def _norm(df):
    df = df.copy()
    df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True)
    df = df[["timestamp"] + COLS]
    for c in COLS:
        if c != "symbol":
            df[c] = df[c].astype(_expected_dtype(c))
    return df.sort_values(["symbol", "timestamp", "last"], kind="stable").reset_index(drop=True)


def _expected_dtype(c):
    return {"last_sz": "int64", "trade_sign": "int8", "is_regular": "bool"}.get(c, "float64")


def _request(tmp_path, fmt, partition=False, session="all"):
    name = "out_dir" if partition else f"out.{fmt}"
    return ExportRequest(("AAPL", "MSFT"), "2024-07-01", "2024-07-02", tmp_path / name, columns=tuple(COLS),
                         format=fmt, partition=partition, session=session)


@pytest.mark.parametrize("fmt,partition", [("parquet", False), ("parquet", True), ("csv", False), ("jsonl", False)])
def test_every_format_round_trips_to_the_stored_ticks(stored, tmp_path, fmt, partition):
    man = export(stored, _request(tmp_path, fmt, partition))
    out = tmp_path / ("out_dir" if partition else f"out.{fmt}")
    if fmt == "parquet" and not partition:
        back = pq.read_table(out).to_pandas()
    elif partition:
        back = pads.dataset(out, format="parquet", partitioning="hive").to_table().to_pandas()
        back["symbol"] = back["symbol"].astype(str)
    elif fmt == "csv":
        back = pacsv.read_csv(out).to_pandas()
    else:
        back = pd.read_json(out, lines=True, dtype=False, convert_dates=False)
    exp = _expected(stored, ["AAPL", "MSFT"])
    got = _norm(back)
    assert man.rows == len(exp) == len(got)
    pd.testing.assert_frame_equal(got, _norm(exp), check_exact=False, rtol=1e-13)


def test_manifest_records_rows_bytes_and_sha256(stored, tmp_path):
    man = export(stored, _request(tmp_path, "parquet"))
    saved = json.loads(manifest_path(tmp_path / "out.parquet").read_text())
    assert saved["rows"] == man.rows > 0
    assert saved["bytes"] == (tmp_path / "out.parquet").stat().st_size
    assert saved["sha256"] == sha256_file(tmp_path / "out.parquet")
    assert saved["request"]["symbols"] == ["AAPL", "MSFT"] and saved["days"] == 4


def test_partitioned_manifest_lists_each_file_under_hive_paths(stored, tmp_path):
    man = export(stored, _request(tmp_path, "parquet", partition=True))
    paths = sorted(f.path for f in man.files)
    assert paths[0] == "day=2024-07-01/symbol=AAPL/part-0.parquet" and len(paths) == 4
    assert all(sha256_file(tmp_path / "out_dir" / f.path) == f.sha256 for f in man.files)


def test_exported_parquet_is_queryable_by_duckdb_as_is(stored, tmp_path):
    export(stored, _request(tmp_path, "parquet"))
    export(stored, _request(tmp_path, "parquet", partition=True))
    single = duckdb.sql(f"SELECT symbol, count(*) n FROM read_parquet('{tmp_path}/out.parquet') "
                        "GROUP BY 1 ORDER BY 1").fetchall()
    hive = duckdb.sql(f"SELECT symbol, count(*) n FROM read_parquet('{tmp_path}/out_dir/**/*.parquet', "
                      "hive_partitioning=true) GROUP BY 1 ORDER BY 1").fetchall()
    expected = [("AAPL", sum(d.ticks for d in stored.catalog.tick_days("AAPL"))),
                ("MSFT", sum(d.ticks for d in stored.catalog.tick_days("MSFT")))]
    assert single == hive == expected


def test_session_filter_keeps_only_that_session(stored, tmp_path):
    export(stored, _request(tmp_path, "parquet", session="regular"))
    back = pq.read_table(tmp_path / "out.parquet").to_pandas()
    assert back["is_regular"].all()
    assert len(back) == sum(d.regular_ticks for d in stored.catalog.tick_days())


def test_failed_export_leaves_no_file_and_keeps_the_previous_one(stored, tmp_path, monkeypatch):
    export(stored, _request(tmp_path, "csv"))
    before = (tmp_path / "out.csv").read_bytes()
    calls = {"n": 0}
    lib = stored.store.ticks
    real = lib.read

    def flaky(*a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk went away")
        return real(*a, **k)

    monkeypatch.setattr(lib, "read", flaky)
    with pytest.raises(OSError):
        export(stored, _request(tmp_path, "csv"))
    assert (tmp_path / "out.csv").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_bad_requests_name_what_is_wrong(stored, tmp_path):
    with pytest.raises(ExportError, match="unknown tick column 'nope'"):
        ExportRequest(("AAPL",), "2024-07-01", "2024-07-02", tmp_path / "x", columns=("nope",))
    with pytest.raises(ExportError, match="format"):
        ExportRequest(("AAPL",), "2024-07-01", "2024-07-02", tmp_path / "x", format="xlsx")
    with pytest.raises(ExportError, match="only available for the parquet"):
        ExportRequest(("AAPL",), "2024-07-01", "2024-07-02", tmp_path / "x", format="csv", partition=True)
    with pytest.raises(DayNotFound):
        export(stored, ExportRequest(("ZZZ",), "2024-07-01", "2024-07-02", tmp_path / "x.parquet"))


def test_export_job_kind_runs_through_the_queue(stored, tmp_path):
    from tickdeck.jobs.queue import JobQueue
    from tickdeck.jobs.worker import Worker

    q = JobQueue(stored.catalog.engine, stored.bus)
    jid = q.submit("export", {"symbols": "AAPL", "start": "2024-07-01", "end": "2024-07-02", "format": "csv"})
    Worker(stored).run(once=True)
    rec = q.get(jid)
    assert rec.status == "succeeded", rec.error
    out = rec.result["out"]
    assert out.startswith(str(stored.settings.exports_dir)) and out.endswith(".csv")
    assert rec.result["rows"] == len(pacsv.read_csv(out)) == sum(d.ticks for d in stored.catalog.tick_days("AAPL"))


def test_bar_export_round_trips_the_bars_service_output(stored, tmp_path):
    from tickdeck.core.bars import get_bars

    out = tmp_path / "bars.parquet"
    man = export(stored, ExportRequest(("AAPL",), "2024-07-01", "2024-07-02", out, spec="time:1m", session="regular"))
    back = pq.read_table(out).to_pandas()
    exp = get_bars(stored, "AAPL", "2024-07-01", "2024-07-02", "time:1m", session="regular")
    assert man.rows == len(back) == len(exp) > 0
    np.testing.assert_allclose(back["close"].to_numpy(), exp["close"].to_numpy())
    assert set(back["symbol"]) == {"AAPL"}


@pytest.mark.parametrize("fmt,partition", [("parquet", False), ("parquet", True), ("csv", False), ("jsonl", False)])
def test_days_read_in_several_slices_round_trip_with_one_header(stored, tmp_path, monkeypatch, fmt, partition):
    import tickdeck.core.export as ex

    monkeypatch.setattr(ex, "READ_ROWS", 97)  # every stored day spans several slices
    real, slices_read = ex._plain_arrow, []
    monkeypatch.setattr(ex, "_plain_arrow", lambda t: slices_read.append(t.num_rows) or real(t))
    seen = []
    man = export(stored, _request(tmp_path, fmt, partition), progress=seen.append)
    assert len(slices_read) > 8 and max(slices_read) <= 97
    out = tmp_path / ("out_dir" if partition else f"out.{fmt}")
    if partition:
        back = pads.dataset(out, format="parquet", partitioning="hive").to_table().to_pandas()
        back["symbol"] = back["symbol"].astype(str)
    elif fmt == "parquet":
        back = pq.read_table(out).to_pandas()
    elif fmt == "csv":
        assert out.read_text().count("timestamp,") == 1
        back = pacsv.read_csv(out).to_pandas()
    else:
        back = pd.read_json(out, lines=True, dtype=False, convert_dates=False)
    exp = _expected(stored, ["AAPL", "MSFT"])
    assert man.rows == len(exp) == len(back)
    pd.testing.assert_frame_equal(_norm(back), _norm(exp), check_exact=False, rtol=1e-13)
    assert [(p.done, p.total) for p in seen] == [(i, 4) for i in range(1, 5)]


def test_parquet_export_keeps_the_stored_arrow_types(stored, tmp_path):
    export(stored, ExportRequest(("AAPL",), "2024-07-01", "2024-07-01", tmp_path / "all.parquet"))
    back = pq.read_table(tmp_path / "all.parquet")
    stored_table = stored.store.ticks.read("AAPL/2024-07-01", output_format="pyarrow").data
    assert back.schema.equals(stored_table.schema.remove_metadata(), check_metadata=False)
    assert str(back.schema.field("timestamp").type) == "timestamp[ns, tz=America/New_York]"


def test_a_day_rewritten_during_its_export_is_never_mixed(stored, tmp_path, monkeypatch):
    import tickdeck.core.export as ex
    from tickdeck.core.errors import StorageError

    monkeypatch.setattr(ex, "READ_ROWS", 50)
    before = stored.store.read_day("AAPL", "2024-07-01")
    calls = {"n": 0}
    real = ex._plain_arrow

    def rewrite_after_first_slice(table):
        calls["n"] += 1
        if calls["n"] == 1:  # re-collect the day (different ticks) while it is being exported
            store_synthetic(stored, "AAPL", "2024-07-01", "2024-07-01", seed=99, ticks=250)
        return real(table)

    monkeypatch.setattr(ex, "_plain_arrow", rewrite_after_first_slice)
    out = tmp_path / "day.parquet"
    try:
        man = export(stored, ExportRequest(("AAPL",), "2024-07-01", "2024-07-01", out))
    except StorageError as e:  # the version it started from was pruned: it says so
        assert "re-collected" in str(e) and not out.exists()
    else:  # or the whole file is the version it started from
        back = pq.read_table(out).to_pandas()
        assert man.rows == len(before) == len(back)
        np.testing.assert_array_equal(back["tick_id"].to_numpy(), before["tick_id"].to_numpy())


@pytest.mark.parametrize("fmt,partition", [("parquet", False), ("parquet", True), ("csv", False), ("jsonl", False)])
def test_progress_that_raises_cancels_the_export_with_its_own_error(stored, tmp_path, fmt, partition):
    class Cancelled(Exception):
        pass

    def progress(p):
        if p.done == 2:
            raise Cancelled("job 7 cancelled")

    with pytest.raises(Cancelled, match="job 7"):
        export(stored, _request(tmp_path, fmt, partition), progress=progress)
    assert [p.name for p in tmp_path.iterdir()] == ["data"]  # no output, no temporary
