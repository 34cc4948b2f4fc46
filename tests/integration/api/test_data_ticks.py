"""Issue 13: GET /api/v1/data/{symbol}/ticks over a real server on the collected demo data: every format
(Arrow IPC, Parquet, CSV, paged JSON) carries exactly the stored day (values and ns timestamps), the
session and column filters, the cursor's guarantees, and the errors (404, 422, 413, 410) as problem
documents."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from api_ops import wait_for

DAY = "2024-07-02"


@pytest.fixture(scope="module")
def store_ctx(api_server):
    """The server's own store and catalog, opened in the test process (read side)."""
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context

    ctx = Context.open(Settings(data_dir=api_server.data_dir))
    yield ctx
    ctx.close()


def stored(ctx, symbol: str, day: str, *, session: str = "all", columns=None) -> pd.DataFrame:
    """The stored rows as the API shapes them: ``timestamp`` first, the columns, ``symbol``."""
    from tickdeck.core.export import tick_columns

    df = ctx.store.read_day(symbol, day, columns=tick_columns(columns),
                            session=None if session == "all" else session).reset_index()
    return df


def assert_same_rows(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Every column equal: timestamps to the nanosecond, floats bit for bit (NaN = NaN = null)."""
    assert list(got.columns) == list(want.columns)
    assert len(got) == len(want)
    ns_got = pd.DatetimeIndex(got["timestamp"]).tz_convert("UTC").asi8
    np.testing.assert_array_equal(ns_got, pd.DatetimeIndex(want["timestamp"]).tz_convert("UTC").asi8)
    for c in want.columns.drop("timestamp"):
        a, b = got[c], want[c]
        if isinstance(b.dtype, pd.CategoricalDtype) or b.dtype == object:
            assert a.astype(str).tolist() == b.astype(str).tolist(), c
        elif b.dtype.kind == "f":
            np.testing.assert_array_equal(a.to_numpy(np.float64), b.to_numpy(np.float64), err_msg=c)
        else:
            np.testing.assert_array_equal(a.to_numpy(b.dtype), b.to_numpy(), err_msg=c)


def _json_frame(pages: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame([row for p in pages for row in p["data"]], columns=pages[0]["columns"])
    df["timestamp"] = pd.to_datetime(df["timestamp"], format="ISO8601", utc=True).dt.tz_convert("America/New_York")
    return df


def _all_pages(client, symbol: str, **params) -> list[dict]:
    pages, cursor = [], None
    while True:
        r = client.get(f"/api/v1/data/{symbol}/ticks", params={**params, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        pages.append(r.json())
        cursor = pages[-1]["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 1_000, "paging does not end"


def test_arrow_stream_of_a_whole_day_equals_the_store(api_server, store_ctx):
    """Issue 13: format=arrow streams Arrow IPC record batches equal to the stored day, column for column."""
    with api_server.client("viewer") as c, c.stream("GET", "/api/v1/data/AAPL/ticks",
                                                    params={"start": DAY, "format": "arrow"}) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"] == "application/vnd.apache.arrow.stream"
        reader = pa.ipc.open_stream(pa.py_buffer(r.read()))
        table = reader.read_all()
    assert table.schema.field("timestamp").type == pa.timestamp("ns", tz="America/New_York")
    assert_same_rows(table.to_pandas(), stored(store_ctx, "AAPL", DAY))


@pytest.mark.parametrize("compression", ["lz4", "zstd"])
def test_compressed_arrow_stream_reads_back_the_same_day(api_server, store_ctx, compression):
    """Issue 13: Arrow's buffer compression (lz4, zstd) is undone by the reader; same rows."""
    with api_server.client("viewer") as c:
        r = c.get("/api/v1/data/MSFT/ticks", params={"start": DAY, "format": "arrow", "compression": compression})
    assert r.status_code == 200, r.text
    table = pa.ipc.open_stream(pa.py_buffer(r.content)).read_all()
    assert_same_rows(table.to_pandas(), stored(store_ctx, "MSFT", DAY))


def test_parquet_download_equals_the_store_and_tickdeck_export(api_server, store_ctx, tmp_path):
    """Issue 13: format=parquet is the file `tickdeck export` writes (same schema), with the stored rows."""
    from tickdeck.core.export import ExportRequest, export

    with api_server.client("viewer") as c:
        r = c.get("/api/v1/data/AAPL/ticks", params={"start": DAY, "format": "parquet"})
    assert r.status_code == 200, r.text
    assert r.headers["content-disposition"] == f'attachment; filename="AAPL_{DAY}_ticks_all.parquet"'
    got = pq.read_table(io.BytesIO(r.content))
    export(store_ctx, ExportRequest(("AAPL",), DAY, DAY, tmp_path / "x.parquet"))
    assert got.schema.equals(pq.read_table(tmp_path / "x.parquet").schema, check_metadata=False)
    assert_same_rows(got.to_pandas(), stored(store_ctx, "AAPL", DAY))


def test_csv_download_is_the_export_text_and_reads_back_to_the_store(api_server, store_ctx, tmp_path):
    """Issue 13: format=csv streams the same text as `tickdeck export --format csv` (header once, ISO
    timestamps with the ET offset) and reads back to the stored values exactly."""
    from tickdeck.core.export import ExportRequest, export

    with api_server.client("viewer") as c:
        r = c.get("/api/v1/data/AAPL/ticks", params={"start": DAY, "format": "csv"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    export(store_ctx, ExportRequest(("AAPL",), DAY, DAY, tmp_path / "x.csv", format="csv"))
    assert r.content == (tmp_path / "x.csv").read_bytes()
    want = stored(store_ctx, "AAPL", DAY)
    got = pd.read_csv(io.BytesIO(r.content), keep_default_na=False, na_values=[""], float_precision="round_trip")
    got["timestamp"] = pd.to_datetime(got["timestamp"], utc=True).dt.tz_convert("America/New_York")
    for c in ("symbol", "source", "ingest_id"):
        got[c] = got[c].astype(str)
    assert_same_rows(got, want)


def test_json_pages_joined_equal_the_store(api_server, store_ctx):
    """Issue 13: format=json pages (limit rows each, opaque next_cursor) join to the stored day: no row
    skipped or repeated, values and ns timestamps exact; the last page has next_cursor null."""
    want = stored(store_ctx, "AAPL", DAY)
    with api_server.client("viewer") as c:
        pages = _all_pages(c, "AAPL", start=DAY, limit=2_000)
    assert [p["rows"] for p in pages[:-1]] == [2_000] * (len(pages) - 1) and 0 < pages[-1]["rows"] <= 2_000
    assert sum(p["rows"] for p in pages) == len(want)
    got = _json_frame(pages)
    for col in want.columns:  # JSON has no NaN: null comes back as None/NaN
        if want[col].dtype.kind == "b":
            got[col] = got[col].astype(bool)
    assert_same_rows(got, want)


def test_json_pages_of_one_session_and_some_columns(api_server, store_ctx):
    """Issue 13: session=after and columns=last,last_sz page through only those rows and columns
    (timestamp first, symbol added, as every export)."""
    want = stored(store_ctx, "MSFT", DAY, session="after", columns=["last", "last_sz"])
    assert len(want) > 0
    with api_server.client("viewer") as c:
        pages = _all_pages(c, "MSFT", start=DAY, session="after", columns="last,last_sz", limit=97)
    assert pages[0]["columns"] == ["timestamp", "last", "last_sz", "symbol"]
    assert_same_rows(_json_frame(pages), want)


def test_a_two_day_range_is_served_day_after_day(api_server, store_ctx):
    """Issue 13: start..end covers every stored day in order, in JSON pages and in one Arrow stream."""
    days = [d.isoformat() for d in api_server.days]
    want = pd.concat([stored(store_ctx, "AAPL", d, columns=["last"]) for d in days], ignore_index=True)
    with api_server.client("viewer") as c:
        pages = _all_pages(c, "AAPL", start=days[0], end=days[-1], columns="last", limit=3_333)
        r = c.get("/api/v1/data/AAPL/ticks", params={"start": days[0], "end": days[-1], "columns": "last",
                                                     "format": "arrow"})
    assert_same_rows(_json_frame(pages), want)
    assert_same_rows(pa.ipc.open_stream(pa.py_buffer(r.content)).read_all().to_pandas(), want)


def test_start_defaults_to_the_last_stored_day(api_server):
    """Issue 13: without start the last stored day is served."""
    with api_server.client("viewer") as c:
        page = c.get("/api/v1/data/AAPL/ticks", params={"limit": 1}).json()
    assert page["start"] == page["end"] == api_server.days[-1].isoformat()


def test_unknown_symbol_day_column_and_bad_dates_are_problems(api_server):
    """Issue 13: unknown symbol or day → 404, invalid ticker, column, session, format or date and a
    reversed range → 422, all application/problem+json naming what was wrong."""
    cases = [
        ("/api/v1/data/ZZZZ/ticks", {}, 404, "ZZZZ"),
        ("/api/v1/data/AAPL/ticks", {"start": "2024-07-04"}, 404, "2024-07-04"),
        ("/api/v1/data/AAPL/ticks", {"start": "2024-07-02", "format": "arrow", "end": "2024-07-02",
                                     "columns": "last,nope"}, 422, "nope"),
        ("/api/v1/data/AAPL/ticks", {"start": "2024-13-01"}, 422, "start"),
        ("/api/v1/data/AAPL/ticks", {"start": "2024-07-02", "end": "2024-07-01"}, 422, "before"),
        ("/api/v1/data/AAPL/ticks", {"session": "lunch"}, 422, "session"),
        ("/api/v1/data/AAPL/ticks", {"format": "xlsx"}, 422, "format"),
        ("/api/v1/data/A$PL/ticks", {}, 422, "ticker"),
    ]
    with api_server.client("viewer") as c:
        for path, params, status, word in cases:
            r = c.get(path, params=params)
            assert r.status_code == status, (path, params, r.text)
            assert r.headers["content-type"] == "application/problem+json", r.headers
            body = r.json()
            assert body["status"] == status and word in body["detail"], (path, params, body)


def test_a_cursor_of_another_query_or_garbage_is_refused(api_server):
    """Issue 13: a cursor only continues the query that gave it out; anything else is a 422 problem."""
    with api_server.client("viewer") as c:
        cursor = c.get("/api/v1/data/AAPL/ticks", params={"start": DAY, "limit": 5}).json()["next_cursor"]
        other = c.get("/api/v1/data/AAPL/ticks", params={"start": DAY, "limit": 5, "session": "regular",
                                                          "cursor": cursor})
        garbage = c.get("/api/v1/data/AAPL/ticks", params={"start": DAY, "cursor": "bm90LWEtY3Vyc29y"})
        same = c.get("/api/v1/data/AAPL/ticks", params={"start": DAY, "limit": 7, "cursor": cursor})
    assert other.status_code == 422 and "another query" in other.json()["detail"]
    assert garbage.status_code == 422 and "cursor" in garbage.json()["detail"]
    assert same.status_code == 200 and same.json()["rows"] == 7  # the page size may change between pages


def test_pages_keep_reading_the_version_they_started_on(api_server, store_ctx):
    """Issue 13: a day replaced between two pages does not shift the paging: the next page continues
    in the version the first page read (no row skipped or repeated)."""
    day = "2024-07-01"
    want = stored(store_ctx, "MSFT", day, columns=["last"])
    with api_server.client("viewer") as c:
        first = c.get("/api/v1/data/MSFT/ticks", params={"start": day, "columns": "last", "limit": 1_000}).json()
        # the day replaced meanwhile by one without its first 500 ticks: unpinned, page 2 would skip 500 rows
        store_ctx.store.write_day("MSFT", day, store_ctx.store.read_day("MSFT", day).iloc[500:])
        wait_for(lambda: store_ctx.store.day_info("MSFT", day).ticks == len(want) - 500, "the day to be replaced")
        pages = [first]
        while pages[-1]["next_cursor"]:
            r = c.get("/api/v1/data/MSFT/ticks", params={"start": day, "columns": "last", "limit": 1_000,
                                                         "cursor": pages[-1]["next_cursor"]})
            assert r.status_code == 200, r.text
            pages.append(r.json())
        fresh = c.get("/api/v1/data/MSFT/ticks", params={"start": day, "columns": "last", "limit": 100_000}).json()
    assert_same_rows(_json_frame(pages), want)
    assert fresh["rows"] == store_ctx.store.day_info("MSFT", day).ticks != len(want)


def test_a_range_too_large_for_json_is_413_naming_the_streaming_formats(start_api_server):
    """Issue 13: with a JSON limit below the day's ticks (TICKDECK_API_JSON_MAX_ROWS), format=json answers 413
    naming arrow, parquet and csv; the streaming formats still serve the day."""
    server = start_api_server(env={"TICKDECK_API_JSON_MAX_ROWS": "1000"})
    with server.client("viewer") as c:
        r = c.get("/api/v1/data/AAPL/ticks", params={"start": DAY})
        ok = c.get("/api/v1/data/AAPL/ticks", params={"start": DAY, "format": "arrow", "columns": "last"})
    assert r.status_code == 413, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["formats"] == ["arrow", "parquet", "csv"] and body["limit"] == 1000 and body["rows"] > 1000
    assert all(f"format={f}" in body["detail"] for f in ("arrow", "parquet", "csv"))
    assert ok.status_code == 200 and pa.ipc.open_stream(pa.py_buffer(ok.content)).read_all().num_rows == body["rows"]


def test_a_day_of_many_batches_streams_whole_in_every_format(api_server, store_ctx):
    """Issue 13: a day larger than one Arrow IPC batch and one send (~80,000 ticks: two batches, several MB
    per column buffer group) arrives whole as Arrow, Parquet and CSV through the one-port server."""
    from tickdeck.core.sources.synthetic import generate_into_store

    generate_into_store(store_ctx, ["QQQ"], DAY, DAY, ticks=80_000, seed=5)
    want = stored(store_ctx, "QQQ", DAY)
    assert len(want) > 80_000
    with api_server.client("viewer") as c:
        arrow = c.get("/api/v1/data/QQQ/ticks", params={"start": DAY, "format": "arrow"})
        parquet = c.get("/api/v1/data/QQQ/ticks", params={"start": DAY, "format": "parquet"})
        csv = c.get("/api/v1/data/QQQ/ticks", params={"start": DAY, "format": "csv", "columns": "last,last_sz"})
    assert len(arrow.content) > 16 << 20
    assert_same_rows(pa.ipc.open_stream(pa.py_buffer(arrow.content)).read_all().to_pandas(), want)
    assert_same_rows(pq.read_table(io.BytesIO(parquet.content)).to_pandas(), want)
    got = pd.read_csv(io.BytesIO(csv.content), float_precision="round_trip")
    got["timestamp"] = pd.to_datetime(got["timestamp"], utc=True).dt.tz_convert("America/New_York")
    assert_same_rows(got, stored(store_ctx, "QQQ", DAY, columns=["last", "last_sz"]))
