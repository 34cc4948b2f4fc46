"""Arrow tables as bytes for HTTP answers: JSON records, Arrow IPC, Parquet and CSV streams.

Every encoder works on whole columns (Polars, pyarrow); no Python object is built per row.

* :func:`json_records` — ``[{"col": value, ...}, ...]`` by Polars' JSON writer, slices encoded
  on :data:`JSON_THREADS` threads. Timestamps are ISO 8601 text with nanoseconds and the ET
  offset (``2024-07-01T09:30:00.123456789-0400``, as JSON-lines exports); NaN and ±inf are
  ``null`` (JSON has no such numbers).
* :func:`arrow_stream` — the Arrow IPC streaming format, one message per record batch of at
  most :data:`IPC_BATCH_ROWS` rows, produced as the tables arrive.
* :func:`csv_stream` — the CSV text of a ``tickdeck export`` (header once; ISO timestamps with
  offset), slice by slice.
* :func:`parquet_stream` — a Parquet file written by the export's writer
  (:func:`core.export_formats.write_parquet`) on a thread into a bounded queue, handed out as
  it is written.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Iterable, Iterator

import pyarrow as pa

from tickdeck.core.export_formats import csv_bytes, slices, timestamps_as_text, write_parquet

JSON_THREADS = 2  # JSON slices encoded at once (Polars' writer is single-threaded per call)
JSON_SLICE_ROWS = 25_000  # below this a table is encoded in one call: a thread costs more than it saves
IPC_BATCH_ROWS = 65_536  # rows per Arrow IPC message: ~16 MB for every tick column
PARQUET_QUEUE_CHUNKS = 8  # written Parquet chunks waiting for the client before the writer waits
PARQUET_CHUNK_BYTES = 1 << 20  # small writes are gathered into chunks of about this size

MEDIA_TYPES = {
    "json": "application/json",
    "arrow": "application/vnd.apache.arrow.stream",
    "parquet": "application/vnd.apache.parquet",
    "csv": "text/csv; charset=utf-8",
}
EXTENSIONS = {"json": ".json", "arrow": ".arrows", "parquet": ".parquet", "csv": ".csv"}


def _json_part(table: pa.Table) -> bytes:
    import polars as pl  # imported on first use (~0.3 s)

    text = pl.from_arrow(timestamps_as_text(table, iso_t=True), rechunk=False).write_json()
    return text.encode()


def json_records(table: pa.Table) -> bytes:
    """``table`` as a JSON array of row objects (see the module docstring for value formats)."""
    if table.num_rows <= JSON_SLICE_ROWS:
        return _json_part(table)
    parts = slices(table, max(JSON_THREADS, -(-table.num_rows // JSON_SLICE_ROWS)))
    with ThreadPoolExecutor(JSON_THREADS, thread_name_prefix="json-encode") as pool:
        encoded = list(pool.map(_json_part, parts))
    inner = [p[1:-1] for p in encoded if len(p) > 2]  # each part is "[...]"
    return b"[" + b",".join(inner) + b"]"


class _Collect:
    """A write-only sink that keeps what pyarrow writes until it is taken.

    pyarrow hands column buffers over as ``pyarrow.Buffer`` views of the batch's own memory:
    they are kept as they are (no copy) and handed out as memoryviews; the small metadata
    writes between them are joined.
    """

    LARGE = 1 << 16  # buffers at least this large are handed out without a copy

    def __init__(self):
        self.parts: list = []
        self.pos = 0
        self.closed = False

    def write(self, data) -> int:
        n = memoryview(data).nbytes
        self.parts.append(data if isinstance(data, pa.Buffer) and n >= self.LARGE else bytes(data))
        self.pos += n
        return n

    def take(self) -> list:
        """What was written since the last call: ``bytes`` and ``memoryview`` chunks, in order."""
        out, small = [], []
        for p in self.parts:
            if isinstance(p, bytes):
                small.append(p)
                continue
            if small:
                out.append(b"".join(small))
                small = []
            out.append(memoryview(p))
        if small:
            out.append(b"".join(small))
        self.parts = []
        return out

    def tell(self) -> int:
        return self.pos

    def flush(self) -> None:
        pass

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True


def arrow_stream(tables: Iterable[pa.Table], schema: pa.Schema | None = None, *,
                 compression: str | None = None) -> Iterator[bytes | memoryview]:
    """The Arrow IPC stream of ``tables`` (one schema), a chunk per record batch.

    ``compression`` is ``None``, ``"lz4"`` (LZ4 frame) or ``"zstd"``: Arrow's own buffer
    compression, which every Arrow reader undoes by itself. ``schema`` is needed only when
    ``tables`` may be empty. Dictionary columns may change their dictionary between batches
    (the stream carries the replacement).
    """
    it = iter(tables)
    first = next(it, None)
    if first is None and schema is None:
        raise ValueError("arrow_stream needs a schema when there are no tables")
    schema = first.schema if first is not None else schema
    sink = _Collect()
    options = pa.ipc.IpcWriteOptions(compression=compression) if compression else None
    writer = pa.ipc.new_stream(sink, schema, options=options)
    yield from sink.take()
    pending = [first] if first is not None else []
    for table in _chain(pending, it):
        for batch in table.to_batches(max_chunksize=IPC_BATCH_ROWS):
            writer.write_batch(batch)
            yield from sink.take()
    writer.close()
    yield from sink.take()


def _chain(first: list, rest: Iterator) -> Iterator:
    yield from first
    yield from rest


def csv_stream(tables: Iterable[pa.Table]) -> Iterator[bytes]:
    """CSV text of ``tables``, header once (the export's CSV encoder)."""
    header = True
    for table in tables:
        if table.num_rows == 0 and not header:
            continue
        yield csv_bytes(table, header=header)
        header = False


class _QueueSink:
    """A file-like sink for the Parquet writer that hands chunks to a bounded queue."""

    def __init__(self, q: queue.Queue, cancelled: threading.Event):
        self._q = q
        self._cancelled = cancelled
        self._buf = bytearray()
        self._pos = 0
        self.closed = False

    def write(self, data) -> int:
        if self._cancelled.is_set():
            raise BrokenPipeError("the client went away")
        n = memoryview(data).nbytes
        self._buf += data
        self._pos += n
        if len(self._buf) >= PARQUET_CHUNK_BYTES:
            self._put(bytes(self._buf))
            self._buf.clear()
        return n

    def _put(self, item) -> None:
        while True:
            try:
                self._q.put(item, timeout=0.5)
                return
            except queue.Full:
                if self._cancelled.is_set():
                    raise BrokenPipeError("the client went away") from None

    def tell(self) -> int:
        return self._pos

    def flush(self) -> None:
        pass

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self._buf:
                self._put(bytes(self._buf))
                self._buf.clear()


_DONE = object()


def parquet_stream(tables: Iterable[pa.Table]) -> Iterator[bytes]:
    """One Parquet file of ``tables`` (one schema, at least one table), as chunks while it is written.

    The export's writer runs on a thread; closing this iterator early (the client went away)
    stops it at its next write. An error of the writer is raised here.
    """
    q: queue.Queue = queue.Queue(PARQUET_QUEUE_CHUNKS)
    cancelled = threading.Event()
    failure: list[BaseException] = []

    def pulled():  # the writer may read ahead of what it wrote: stop it there too
        for table in tables:
            if cancelled.is_set():
                raise BrokenPipeError("the client went away")
            yield table

    def run() -> None:
        sink = _QueueSink(q, cancelled)
        try:
            write_parquet(sink, pulled())
            sink.close()
        except BaseException as e:  # noqa: BLE001 - handed to the consumer
            failure.append(e)
        finally:
            while True:
                try:
                    q.put(_DONE, timeout=0.5)
                    break
                except queue.Full:
                    if cancelled.is_set():
                        break

    thread = threading.Thread(target=run, name="parquet-stream", daemon=True)
    thread.start()
    try:
        while (item := q.get()) is not _DONE:
            yield item
        if failure and not cancelled.is_set():
            raise failure[0]
    finally:
        cancelled.set()
        while thread.is_alive():  # let a writer blocked on a full queue see the cancellation
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.1)
