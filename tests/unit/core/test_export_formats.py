"""Export encoders: timestamp text equals Arrow's, CSV reads back to the same values, the
hashing sink's digest is the file's, the read-ahead passes errors on and stops when closed."""

from __future__ import annotations

import hashlib
import io
import threading

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from tickdeck.core.export_formats import (HashingFile, csv_bytes, parquet_options, prefetch, slices, timestamp_text,
                                 timestamps_as_text, write_parquet)

# 2024-03-10 is the US spring-forward day and 2024-11-03 the fall-back day: both offsets occur
NS = [1710054000123456789, 1710061200000000001, None, 1730613600999999999, 1730624400000000000, 0,
      -86_400_000_000_123, 1719927000500000000]


@pytest.mark.parametrize("tz", ["America/New_York", "UTC", "Asia/Kolkata", "+01:00", "Europe/London", None])
@pytest.mark.parametrize("unit", ["ns", "us", "ms", "s"])
@pytest.mark.parametrize("iso_t", [False, True])
def test_timestamp_text_matches_arrows_own_formatting(tz, unit, iso_t):
    col = pa.array(NS, pa.int64()).cast(pa.timestamp("ns")).cast(pa.timestamp(unit), safe=False)
    col = col.cast(pa.timestamp(unit, tz=tz)) if tz else col
    fmt = "%Y-%m-%dT%H:%M:%S" + ("%z" if tz else "")
    slow = pc.strftime(col, format=fmt) if iso_t else col.cast(pa.string())
    chunked = pa.chunked_array([col.slice(0, 3), col.slice(3)])
    assert timestamp_text(col, iso_t=iso_t).to_pylist() == slow.to_pylist()
    assert timestamp_text(chunked, iso_t=iso_t).to_pylist() == slow.to_pylist()


def test_timestamp_text_of_all_null_and_empty_columns():
    t = pa.timestamp("ns", tz="America/New_York")
    assert timestamp_text(pa.array([None, None], t), iso_t=False).to_pylist() == [None, None]
    assert timestamp_text(pa.array([], t), iso_t=True).to_pylist() == []


def _awkward_table(n=5000, seed=7) -> pa.Table:
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2**63, n, dtype=np.int64) * rng.choice([-1, 1], n)
    floats = bits.view(np.float64).copy()  # every exponent, subnormals, NaN payloads
    floats[:12] = [0.0, -0.0, np.nan, np.inf, -np.inf, 5e-324, 1.7976931348623157e308, 164.0, 0.1, 1e-7, 1e21, -1e-6]
    prices = np.round(rng.uniform(1, 5000, n), 2)
    noisy = prices * 1.0000001 - prices  # the inexact tails enrich produces
    strings = rng.choice(np.array(["AAPL", 'say "hi"', "a,b", "line\nbreak", "", "ünï"], dtype=object), n)
    mask = rng.random(n) < 0.05
    ts = pa.array(1719927000_000_000_000 + np.cumsum(rng.integers(1, 10**9, n)),
                  pa.timestamp("ns", tz="America/New_York"))
    return pa.table({
        "timestamp": ts,
        "floats": pa.array(floats),
        "prices": pa.array(prices, mask=mask),
        "noisy": pa.array(noisy),
        "f32": pa.array(rng.standard_normal(n).astype(np.float32)),
        "i64": pa.array(rng.integers(-2**63, 2**63 - 1, n, dtype=np.int64, endpoint=True)),
        "u64": pa.array(rng.integers(0, 2**64 - 1, n, dtype=np.uint64, endpoint=True)),
        "i8": pa.array(rng.integers(-128, 127, n, dtype=np.int8, endpoint=True), mask=mask),
        "u8": pa.array(rng.integers(0, 255, n, dtype=np.uint8, endpoint=True)),
        "flag": pa.array(rng.random(n) < 0.5, mask=mask),
        "text": pa.array(strings, pa.large_string(), mask=mask),
        "code": pa.array(strings.astype(str)).dictionary_encode(),
    })


def _read_back(data: bytes, schema: pa.Schema) -> pa.Table:
    types = {f.name: (pa.string() if pa.types.is_timestamp(f.type) or pa.types.is_dictionary(f.type) else f.type)
             for f in schema}
    # null strings are empty fields, empty strings are quoted ("")
    opts = pacsv.ConvertOptions(column_types=types, strings_can_be_null=True, quoted_strings_can_be_null=False)
    return pacsv.read_csv(io.BytesIO(data), convert_options=opts)


def test_csv_text_reads_back_to_exactly_the_same_values():
    table = _awkward_table()
    parts = slices(table, 3)
    data = b"".join(csv_bytes(p, header=i == 0) for i, p in enumerate(parts))
    back = _read_back(data, table.schema)
    assert back.num_rows == table.num_rows
    for name in table.column_names:
        got, want = back.column(name), table.column(name)
        if name == "timestamp":
            assert got.to_pylist() == timestamp_text(want, iso_t=False).to_pylist()
        elif name == "code":
            assert got.to_pylist() == want.cast(pa.string()).to_pylist()
        elif pa.types.is_floating(want.type):
            # bit-exact; NaN reads back as null (pyarrow's reader, as with pyarrow's "nan" before)
            missing = np.asarray(pc.or_(want.is_null(), pc.is_nan(want)).fill_null(True))
            assert np.array_equal(np.asarray(got.is_null()), missing), name
            g = got.filter(pc.invert(got.is_null())).to_numpy()
            w = want.filter(pa.array(~missing)).to_numpy()
            bits = np.uint32 if w.dtype == np.float32 else np.uint64
            assert np.array_equal(g.view(bits), w.view(bits)), name
        else:
            assert got.equals(want), name


def test_csv_header_once_and_timestamps_keep_the_offset():
    table = _awkward_table(20)
    text = (csv_bytes(table.slice(0, 4), header=True) + csv_bytes(table.slice(4), header=False)).decode()
    lines = text.splitlines()
    assert lines[0].startswith("timestamp,floats,")
    assert sum(line.startswith("timestamp,") for line in lines) == 1
    assert lines[1].startswith("2024-07-02 09:30:") and lines[1].split(",")[0].endswith("-0400")
    assert csv_bytes(table.slice(0, 0), header=True).decode().startswith("timestamp,floats,")


def test_parquet_settings_keep_the_arrow_schema_and_use_delta_on_timestamps():
    table = timestamps_as_text(_awkward_table(2000), iso_t=False).set_column(
        0, "timestamp", _awkward_table(2000).column("timestamp")).append_column(
        "tick_id", pa.array(np.arange(2000, dtype=np.int64)))
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, **parquet_options(table.schema))
    buf = sink.getvalue()
    back = pq.read_table(pa.BufferReader(buf))
    assert back.schema.equals(table.schema, check_metadata=False)
    assert all(back.column(n).equals(table.column(n)) for n in table.column_names if n not in ("floats", "noisy"))
    meta = pq.ParquetFile(pa.BufferReader(buf)).metadata.row_group(0)
    cols = {meta.column(i).path_in_schema: meta.column(i) for i in range(meta.num_columns)}
    assert "DELTA_BINARY_PACKED" in cols["timestamp"].encodings and "DELTA_BINARY_PACKED" in cols["tick_id"].encodings
    assert cols["timestamp"].compression == "UNCOMPRESSED" and cols["prices"].compression == "SNAPPY"
    assert cols["timestamp"].is_stats_set and not cols["prices"].is_stats_set


def test_hashing_file_digest_is_the_sha256_of_what_was_written(tmp_path):
    rng = np.random.default_rng(1)
    pieces = [rng.bytes(int(k)) for k in rng.integers(0, 3 << 20, 40)] + [b"x" * 7] * 500
    rng.shuffle(pieces)
    f = HashingFile(tmp_path / "f.bin")
    for p in pieces:
        f.write(p)
    f.close()
    data = (tmp_path / "f.bin").read_bytes()
    assert data == b"".join(pieces) and f.tell() == len(data)
    assert f.sha256 == hashlib.sha256(data).hexdigest()


def test_hashing_file_is_a_parquet_sink(tmp_path):
    table = pa.table({"a": np.arange(100_000), "b": np.arange(100_000) * 0.5})
    f = HashingFile(tmp_path / "t.parquet")
    pq.write_table(table, f)
    f.close()
    assert pq.read_table(tmp_path / "t.parquet").equals(table)
    assert f.sha256 == hashlib.sha256((tmp_path / "t.parquet").read_bytes()).hexdigest()


def test_prefetch_yields_in_order_and_raises_the_producers_error():
    assert list(prefetch(range(50), depth=2)) == list(range(50))

    def failing():
        yield 1
        raise OSError("disk went away")

    got = []
    with pytest.raises(OSError, match="disk went away"):
        for x in prefetch(failing()):
            got.append(x)
    assert got == [1]


def test_prefetch_closed_early_stops_the_producer():
    produced = []

    def items():
        for i in range(1000):
            produced.append(i)
            yield i

    before = threading.active_count()
    gen = prefetch(items(), depth=1)
    assert next(gen) == 0
    gen.close()
    assert len(produced) <= 3
    assert threading.active_count() == before


def _equal_tables(a: pa.Table, b: pa.Table) -> bool:
    if not a.schema.equals(b.schema, check_metadata=False):
        return False
    for name in a.column_names:
        x, y = a.column(name).combine_chunks(), b.column(name).combine_chunks()
        if pa.types.is_floating(x.type):
            bits = pa.uint32() if x.type == pa.float32() else pa.uint64()
            x, y = x.view(bits), y.view(bits)  # bit-exact, NaN included
        if pa.types.is_dictionary(x.type):
            x, y = x.cast(x.type.value_type), y.cast(y.type.value_type)
        if not x.equals(y):
            return False
    return True


@pytest.mark.parametrize("drop", [["code"], ["code", "text"]])
def test_write_parquet_streams_tables_into_one_file_with_the_exact_schema(tmp_path, drop):
    table = _awkward_table(3000).drop_columns(drop)  # polars path (large_string, no dictionary)
    f = HashingFile(tmp_path / "a.parquet")
    write_parquet(f, iter(slices(table, 4)))
    f.close()
    back = pq.read_table(tmp_path / "a.parquet")
    assert _equal_tables(back, table)
    assert f.sha256 == hashlib.sha256((tmp_path / "a.parquet").read_bytes()).hexdigest()


def test_write_parquet_keeps_types_polars_would_change(tmp_path):
    table = _awkward_table(500)  # dictionary column: pyarrow's writer
    table = table.append_column("name", pa.array(["x"] * 500, pa.string()))  # 32-bit offsets
    write_parquet(str(tmp_path / "b.parquet"), iter(slices(table, 2)))
    assert _equal_tables(pq.read_table(tmp_path / "b.parquet"), table)


def test_write_parquet_raises_the_readers_own_error(tmp_path):
    table = _awkward_table(100).drop_columns(["code"])

    def tables():
        yield table
        raise OSError("disk went away")

    with pytest.raises(OSError, match="disk went away"):
        write_parquet(str(tmp_path / "c.parquet"), tables())
