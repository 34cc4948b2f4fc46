"""Issue 13: the core pieces behind the API's data endpoints — tick cursors, JSON pages over a real store,
the wire encoders (JSON records, Arrow IPC with changing dictionaries, Parquet on a thread that stops
when the client goes away, CSV) and the dataset filter shared with the home page."""

from __future__ import annotations

import datetime as dt
import io
import json
import threading

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

DAY = dt.date(2024, 7, 2)


def test_a_cursor_round_trips_and_is_bound_to_its_query():
    """Issue 13: encode/decode gives the same (day, offset, version); another query or garbage is refused."""
    from tickdeck.core.tick_query import Cursor, InvalidCursor, TickQuery

    q = TickQuery("aapl", DAY, DAY, "regular", ("last", "last_sz"))
    cur = Cursor(DAY, 12_345, 7)
    assert Cursor.decode(cur.encode(q), q) == cur
    other = TickQuery("AAPL", DAY, DAY, "all", ("last", "last_sz"))
    for bad_query, token in ((other, cur.encode(q)), (q, "!!!"), (q, "bm90LWEtY3Vyc29y"), (q, "")):
        with pytest.raises(InvalidCursor):
            Cursor.decode(token, bad_query)


def test_a_query_names_an_unknown_column_or_session():
    """Issue 13: a column outside the schema or an unknown session is a SchemaError naming it."""
    from tickdeck.core.errors import SchemaError
    from tickdeck.core.tick_query import TickQuery

    with pytest.raises(SchemaError, match="nope"):
        TickQuery("AAPL", DAY, DAY, columns=("last", "nope"))
    with pytest.raises(SchemaError, match="lunch"):
        TickQuery("AAPL", DAY, DAY, session="lunch")


@pytest.fixture
def stored_ctx(ctx):
    from builders import store_synthetic

    store_synthetic(ctx, "AAPL", "2024-07-01", "2024-07-02", ticks=3_000)
    return ctx


def test_pages_of_one_session_join_to_the_stored_rows(stored_ctx, monkeypatch):
    """Issue 13: pages of 700 after-hours rows over two days (scans of 1,000 stored rows, so a page spans
    several scans and a day boundary) join to exactly the stored after-hours rows."""
    import tickdeck.core.tick_query as tq

    monkeypatch.setattr(tq, "SCAN_ROWS", 1_000)
    ctx = stored_ctx
    q = tq.tick_query(ctx, "AAPL", "2024-07-01", "2024-07-02", session="after", columns="last,tick_id")
    r = tq.tick_range(ctx, q)
    want = [ctx.store.read_day("AAPL", d, columns=["last", "tick_id"], session="after") for d in r.days]
    pages, cursor = [], None
    while True:
        page = tq.tick_page(ctx, q, r, cursor=cursor, limit=700)
        pages.append(page.table)
        cursor = page.next_cursor
        if cursor is None:
            break
    got = pa.concat_tables(pages)
    assert got.column_names == ["timestamp", "tick_id", "last", "symbol"]  # stored order, as every export
    assert r.rows == sum(len(w) for w in want) == got.num_rows
    np.testing.assert_array_equal(got.column("tick_id").to_numpy(),
                                  np.concatenate([w["tick_id"].to_numpy() for w in want]))
    assert all(t.num_rows == 700 for t in pages[:-1])


def test_a_range_over_the_json_limit_is_refused(stored_ctx, monkeypatch):
    """Issue 13: more rows than TICKDECK_API_JSON_MAX_ROWS → RangeTooLarge naming the streaming formats."""
    from tickdeck.core.tick_query import RangeTooLarge, check_json_size, tick_query, tick_range

    monkeypatch.setenv("TICKDECK_API_JSON_MAX_ROWS", "100")
    r = tick_range(stored_ctx, tick_query(stored_ctx, "AAPL", "2024-07-01"))
    with pytest.raises(RangeTooLarge, match="format=arrow, format=parquet, format=csv"):
        check_json_size(r)


def test_json_records_are_iso_timestamps_and_null_for_nan():
    """Issue 13: JSON records carry ns ISO timestamps with the ET offset and null for NaN/inf, also when
    encoded in several slices."""
    from tickdeck.core.wire_formats import json_records

    n = 60_000
    ts = pa.array(np.arange(n, dtype=np.int64) + 1_719_927_000_123_456_789, pa.timestamp("ns", tz="America/New_York"))
    price = np.linspace(1, 2, n)
    price[1] = np.nan
    price[2] = np.inf
    rows = json.loads(json_records(pa.table({"timestamp": ts, "last": price, "n": np.arange(n)})))
    assert len(rows) == n and rows[0]["timestamp"] == "2024-07-02T09:30:00.123456789-0400"
    assert rows[1]["last"] is None and rows[2]["last"] is None and rows[-1]["n"] == n - 1
    assert json.loads(json_records(pa.table({"a": pa.array([], pa.int64())}))) == []


def test_arrow_stream_carries_changing_dictionaries_and_compression():
    """Issue 13: tables whose dictionary columns change between batches read back as the same strings,
    with and without lz4 compression."""
    from tickdeck.core.wire_formats import arrow_stream

    a = pa.table({"s": pa.array(["x", "y", "x"]).dictionary_encode(), "v": [1, 2, 3]})
    b = pa.table({"s": pa.array(["z", "z", "w"]).dictionary_encode(), "v": [4, 5, 6]})
    for compression in (None, "lz4"):
        body = b"".join(bytes(c) for c in arrow_stream([a, b], compression=compression))
        back = pa.ipc.open_stream(body).read_all()
        assert back.column("s").to_pylist() == ["x", "y", "x", "z", "z", "w"]
        assert back.column("v").to_pylist() == [1, 2, 3, 4, 5, 6]


def test_parquet_stream_is_one_file_and_stops_its_writer_when_closed_early():
    """Issue 13: the Parquet stream is one readable file; closing it after the first chunk ends the writer
    thread (a client that went away costs no more work)."""
    from tickdeck.core import wire_formats

    big = pa.table({"x": np.random.default_rng(0).random(400_000)})
    data = b"".join(wire_formats.parquet_stream(iter([big, big])))
    assert pq.read_table(io.BytesIO(data)).num_rows == 800_000

    produced = []

    def tables():
        for _ in range(50):
            produced.append(1)
            yield big

    before = threading.active_count()
    stream = wire_formats.parquet_stream(tables())
    next(stream)
    stream.close()
    assert threading.active_count() <= before and len(produced) < 50


def test_csv_stream_writes_the_header_once():
    """Issue 13: CSV slices after the first have no header."""
    from tickdeck.core.wire_formats import csv_stream

    t = pa.table({"a": [1, 2], "b": ["x", "y"]})
    assert b"".join(csv_stream([t, t])).decode().splitlines() == ["a,b", "1,x", "2,y", "1,x", "2,y"]


def test_dataset_filter_keeps_what_the_home_page_keeps():
    """Issue 13: text, source, venue, coverage and quality filters over catalog summaries."""
    from tickdeck.core.catalog import DatasetSummary
    from tickdeck.core.datasets import DatasetFilter, filter_datasets

    def ds(sym, source, venue, first, last, q):
        return DatasetSummary(sym, source, venue, "equity", "XNYS", first, last, 1, 1, 1, None, q)

    items = [ds("AAPL", "iqfeed", "NASDAQ", dt.date(2024, 7, 1), dt.date(2024, 7, 2), 95.0),
             ds("ESU4", "databento", "CME", dt.date(2024, 6, 1), dt.date(2024, 6, 30), 60.0),
             ds("NEW", "iqfeed", "NYSE", None, None, None)]

    def syms(**kw):
        return [d.symbol for d in filter_datasets(items, DatasetFilter(**kw))]

    assert syms(search="cme") == ["ESU4"] and syms(search="IQF") == ["AAPL", "NEW"]
    assert syms(source="iqfeed", venue="NYSE") == ["NEW"]
    assert syms(covers_from=dt.date(2024, 7, 2)) == ["AAPL"]
    assert syms(covers_to=dt.date(2024, 6, 15)) == ["ESU4"]
    assert syms(min_quality=90) == ["AAPL"] and syms() == ["AAPL", "ESU4", "NEW"]
