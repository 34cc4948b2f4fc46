"""Encoders behind :mod:`tickdeck.core.export`: Parquet writer settings, CSV/JSON text, hashing sink.

What makes an export fast on a small machine (numbers per 1,000,000 ticks × 43 columns, see
``docs/operations.md``):

* Parquet: Polars' streaming sink, which encodes columns on every core and stores the exact
  Arrow schema (pyarrow's writer is single-threaded). Tables of other types go through
  pyarrow with dictionary encoding only on string columns, delta encoding (uncompressed) on
  timestamps and monotone counters, snappy elsewhere except where it saves nothing, and
  statistics only on non-float columns.
* CSV: the text of a tz-aware timestamp is built from the local wall-clock time plus one
  offset string per distinct UTC offset — Arrow's own tz-aware cast looks the zone up for
  every value (1.4 s per million). Row slices are encoded by Polars' CSV writer (shortest
  round-trip floats, ~3x pyarrow's writer) in parallel threads and concatenated in order,
  header once.
* The sha256 of a file is computed by a background thread from the bytes as they are
  written, so the file is never read back.

Parquet files read back to the same Arrow table and schema (``timestamp[ns, America/New_York]``,
``large_string``, small ints); JSON-lines text is unchanged (the timestamp text equals Arrow's
own formatting, tested for several zones and units); CSV text reads back to exactly the same
values (tests compare every column bit for bit).
"""

from __future__ import annotations

import hashlib
import io
import itertools
import queue
import threading
from typing import Callable, Iterable, Iterator, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

T = TypeVar("T")

PARQUET_COMPRESSION = "snappy"  # fastest codec here (lz4 and zstd-1 measured slower to write)
# Monotone integer columns: DELTA_BINARY_PACKED stores them in ~1/3 of plain size and snappy on
# the deltas saves nothing, so they are written delta-encoded and uncompressed. Timestamp
# columns of any name get the same treatment.
PARQUET_DELTA_COLUMNS = frozenset({"tick_id", "time", "tot_vlm", "trade_count"})
# Columns snappy cannot shrink (measured ratio 1.00 on synthetic and recorded days): stored plain.
PARQUET_UNCOMPRESSED_COLUMNS = frozenset({"seconds_since_open"})
HASH_BLOCK = 1 << 20  # writes below this are gathered into blocks of this size before hashing
HASH_QUEUE_DEPTH = 16  # blocks waiting for the hashing thread


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def parquet_options(schema: pa.Schema) -> dict:
    """Keyword arguments for :class:`pyarrow.parquet.ParquetWriter` for this schema."""
    delta = [f.name for f in schema
             if pa.types.is_timestamp(f.type) or (f.name in PARQUET_DELTA_COLUMNS and pa.types.is_integer(f.type)
                                                    and f.type.bit_width >= 32)]
    plain = set(delta) | (PARQUET_UNCOMPRESSED_COLUMNS & set(schema.names))
    return dict(
        compression={f.name: ("none" if f.name in plain else PARQUET_COMPRESSION) for f in schema},
        use_dictionary=[f.name for f in schema if _is_text(f.type)],
        column_encoding={c: "DELTA_BINARY_PACKED" for c in delta},
        write_statistics=[f.name for f in schema if not pa.types.is_floating(f.type)],
    )


def _polars_writable(t: pa.DataType) -> bool:
    # Polars stores its strings as large_string: a 32-bit-offset string column (e.g. from pandas)
    # would change type, so such tables use pyarrow's writer
    return (pa.types.is_boolean(t) or pa.types.is_integer(t) or t in (pa.float32(), pa.float64())
            or pa.types.is_large_string(t) or pa.types.is_timestamp(t) or pa.types.is_date32(t))


def write_parquet(sink, tables: Iterator[pa.Table]) -> None:
    """Write ``tables`` (one schema, at least one table) as one Parquet file to ``sink``.

    Polars' streaming sink encodes columns on every core (0.3 s for a million 43-column ticks,
    pyarrow's single-threaded writer 0.55 s) and stores the given Arrow schema, so the file
    reads back with exactly the input's types (``timestamp[ns, America/New_York]``,
    ``large_string``, small ints). Types outside :func:`_polars_writable` go through
    pyarrow's writer with :func:`parquet_options`. Tables are pulled one at a time, so
    memory stays bounded by a few slices.
    """
    first = next(tables)
    if all(_polars_writable(f.type) for f in first.schema):
        _parquet_polars(sink, first, tables)
        return
    writer = pq.ParquetWriter(sink, first.schema, **parquet_options(first.schema))
    writer.write_table(first)
    for table in tables:
        writer.write_table(table)
    writer.close()


def _parquet_polars(sink, first: pa.Table, rest: Iterator[pa.Table]) -> None:
    import polars as pl  # imported on first use (~0.3 s)
    from polars.io.plugins import register_io_source

    failure: list[BaseException] = []
    calls = []

    def source(with_columns, predicate, n_rows, batch_size):
        calls.append(1)
        if len(calls) > 1:  # the tables are a one-shot stream: a second scan would silently miss rows
            raise RuntimeError("export stream scanned twice")
        try:
            for table in itertools.chain([first], rest):
                frame = pl.from_arrow(table, rechunk=False)
                yield frame if with_columns is None else frame.select(with_columns)
        except BaseException as e:  # re-raised as itself below, not as Polars' wrapper
            failure.append(e)
            raise

    frames = register_io_source(source, schema=pl.from_arrow(first.slice(0, 0)).schema)
    try:
        frames.sink_parquet(sink, compression=PARQUET_COMPRESSION, arrow_schema=first.schema, maintain_order=True)
    except Exception:
        if failure:
            raise failure[0] from None
        raise


def decode_dictionaries(table: pa.Table) -> pa.Table:
    """Dictionary (categorical) string columns to plain strings of the dictionary's type.

    ArcticDB hands strings out fastest as categoricals; the exported type stays the plain
    string type every earlier export had.
    """
    for i, f in enumerate(table.schema):
        if pa.types.is_dictionary(f.type):
            table = table.set_column(i, f.name, table.column(i).cast(f.type.value_type))
    return table


# -- timestamps as text ---------------------------------------------------------------------------
def timestamp_text(col: pa.ChunkedArray | pa.Array, *, iso_t: bool) -> pa.ChunkedArray | pa.Array:
    """Timestamps as text, identical to Arrow's ``cast(string)`` (``iso_t=False``:
    ``2024-07-01 09:30:00.123456789-0400``) or ``strftime("%Y-%m-%dT%H:%M:%S%z")``
    (``iso_t=True``), but vectorised over the zone.

    The local wall-clock text comes from a tz-naive cast; the offset suffix is taken from
    Arrow's own formatting of one representative value per distinct UTC offset, so the text
    (``Z`` for UTC in casts, ``+0530``, ``-0500`` in winter…) matches Arrow for every zone.
    """
    tz = col.type.tz

    def slow(a):
        return pc.strftime(a, format="%Y-%m-%dT%H:%M:%S%z") if iso_t else a.cast(pa.string())

    if not tz:  # naive: no offset to write
        return pc.strftime(col, format="%Y-%m-%dT%H:%M:%S") if iso_t else col.cast(pa.string())
    local = pc.local_timestamp(col)
    text = local.cast(pa.string())
    if iso_t:
        text = pc.utf8_replace_slice(text, start=10, stop=11, replacement="T")
    offset = pc.subtract(local.cast(pa.int64()), col.cast(pa.int64()))
    distinct = pc.unique(offset).drop_null()
    suffixes = []
    for value in distinct.to_pylist():
        i = pc.index(offset, value).as_py()
        one = col.slice(i, 1)
        full = slow(one)[0].as_py()
        suffixes.append(full[len(text[i].as_py()):])
    if len(suffixes) == 0:  # every value null
        return text
    if len(suffixes) == 1:
        return pc.binary_join_element_wise(text, suffixes[0], "")
    sfx = pa.array(suffixes, pa.string()).take(pc.index_in(offset, value_set=distinct))
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    return pc.binary_join_element_wise(text, sfx, "")


def timestamps_as_text(table: pa.Table, *, iso_t: bool) -> pa.Table:
    for i, f in enumerate(table.schema):
        if pa.types.is_timestamp(f.type):
            table = table.set_column(i, f.name, timestamp_text(table.column(i), iso_t=iso_t))
    return table


# -- CSV --------------------------------------------------------------------------------------------
def csv_bytes(table: pa.Table, *, header: bool) -> bytes:
    """One slice of a CSV export: Polars' CSV writer after the fast timestamp text.

    Polars formats floats with the shortest text that reads back to the same double (Ryu)
    at ~3x the speed of pyarrow's writer, whose float formatting is most of a tick export's
    cost. Strings are quoted only when they hold a comma, quote or line break; nulls are
    empty fields; NaN is ``NaN``; integral floats keep their ``.0`` (so they read back as
    floats).
    """
    import polars as pl  # imported on first CSV export (~0.3 s)

    buf = io.BytesIO()
    pl.from_arrow(timestamps_as_text(table, iso_t=False), rechunk=False).write_csv(buf, include_header=header)
    return buf.getvalue()


def csv_bytes_pyarrow(table: pa.Table, *, header: bool) -> pa.Buffer:
    """The same slice through pyarrow's CSV writer (the earlier encoder; kept for comparison)."""
    sink = pa.BufferOutputStream()
    pacsv.write_csv(timestamps_as_text(table, iso_t=False), sink,
                    write_options=pacsv.WriteOptions(include_header=header))
    return sink.getvalue()


def slices(table: pa.Table, parts: int) -> list[pa.Table]:
    """``table`` cut into ``parts`` contiguous slices of near-equal rows (at least one slice)."""
    n = table.num_rows
    step = max(1, -(-n // max(1, parts)))
    return [table.slice(a, step) for a in range(0, n, step)] or [table]


# -- hashing sink ------------------------------------------------------------------------------------
class HashingFile:
    """A binary file that also computes the sha256 of what is written, in a background thread.

    Small writes (pyarrow's page headers, a few bytes each) are gathered into blocks of
    :data:`HASH_BLOCK` bytes; each block or large buffer is written to the file and handed to
    the hashing thread, so the digest costs no re-read and overlaps the encoding. ``close``
    waits for the digest (``.sha256``). Buffers must not be modified after ``write`` (pyarrow
    passes immutable ``bytes``/``Buffer`` objects). Usable as a pyarrow sink
    (``tell``/``flush``/``closed``).
    """

    def __init__(self, path):
        self._f = open(path, "wb", buffering=0)
        self._h = hashlib.sha256()
        self._q: queue.Queue = queue.Queue(HASH_QUEUE_DEPTH)
        self._small = bytearray()
        self._pos = 0
        self._error: BaseException | None = None
        self.sha256: str | None = None
        self._thread = threading.Thread(target=self._hash, name="export-sha256", daemon=True)
        self._thread.start()

    def _hash(self) -> None:
        while (buf := self._q.get()) is not None:
            try:
                self._h.update(buf)
            except BaseException as e:  # noqa: BLE001 - reported by close()
                self._error = e

    def _put(self, buf) -> None:
        view = memoryview(buf)
        while view:  # an unbuffered write may be partial
            view = view[self._f.write(view):]
        self._q.put(buf)

    def _drain_small(self) -> None:
        if self._small:
            self._put(bytes(self._small))
            self._small.clear()

    def write(self, data) -> int:
        n = memoryview(data).nbytes
        if n < HASH_BLOCK:
            self._small += data
            if len(self._small) >= HASH_BLOCK:
                self._drain_small()
        else:
            self._drain_small()
            self._put(data)
        self._pos += n
        return n

    def tell(self) -> int:
        return self._pos

    def flush(self) -> None:
        self._drain_small()

    @property
    def closed(self) -> bool:
        return self._f.closed

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        if self._f.closed:
            return
        try:
            self._drain_small()
            self._f.close()
        finally:
            self._q.put(None)
            self._thread.join()
        if self._error is not None:
            raise self._error
        self.sha256 = self._h.hexdigest()

    def abort(self) -> None:
        """Close without caring for the digest (the file is about to be removed)."""
        try:
            self._f.close()
        finally:
            self._q.put(None)
            self._thread.join()


# -- a bounded read-ahead ----------------------------------------------------------------------------
def prefetch(items: Iterable[T], depth: int = 1) -> Iterator[T]:
    """Iterate ``items`` in a background thread, at most ``depth`` items ahead of the consumer.

    Reading the next slice from ArcticDB (which releases the GIL) overlaps encoding the
    current one. An exception in the producer is raised in the consumer; closing the
    generator early stops the producer after its current item.
    """
    q: queue.Queue = queue.Queue(max(1, depth))
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put((None, item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put((None, done))
        except BaseException as e:  # noqa: BLE001 - handed to the consumer
            q.put((e, None))

    t = threading.Thread(target=produce, name="export-read-ahead", daemon=True)
    t.start()
    try:
        while True:
            err, item = q.get()
            if err is not None:
                raise err
            if item is done:
                return
            yield item
    finally:
        stop.set()
        while t.is_alive():  # unblock a producer waiting on a full queue
            try:
                q.get(timeout=0.05)
            except queue.Empty:
                pass
        t.join()


def ordered_map(fn: Callable[[T], object], items: Iterable[T], pool, window: int) -> Iterator[object]:
    """``map(fn, items)`` on ``pool`` with at most ``window`` calls in flight, results in order."""
    from collections import deque

    pending: deque = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for f in pending:
            f.cancel()
