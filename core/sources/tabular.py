"""Streaming CSV and Parquet readers: a tabular file as a sequence of :class:`ParsedTicks` chunks.

Nothing here holds a whole file. :func:`iter_tabular` yields one chunk per block of the file
(about :data:`CSV_BLOCK_BYTES` of CSV text, or :data:`PARQUET_BATCH_ROWS` Parquet rows); each
chunk carries, for every row it keeps, the row's 1-based line (CSV) or row (Parquet) number and
a way to get the row's own text, so a row rejected later still goes to the dead letters as it
was written and where it was.

CSV blocks are split into records by :mod:`core.sources.csv_records` (numpy over the bytes:
newlines and commas outside double quotes, RFC 4180 quoting as pyarrow reads it), so every
record knows its physical line. Blank lines are skipped; a record with more or fewer fields
than the header, or with a misplaced or unbalanced quote, is rejected with its line; the
remaining records are parsed by pyarrow (multi-threaded) with only the used columns, read as
bytes and converted vectorised (UTF-8 checked, numbers and timestamps cast by Arrow, pandas
for mixed text). Parquet files are read batch by batch with
only the used columns; nested columns (list, struct, map) are refused up front.

Whole-file rules are checked when the last chunk has been read (the importer writes nothing
before that): a file with no data rows, more than half of its timestamps unparseable, more than
half of its records ragged, or every timestamp in 1970 (durations or times of day, not points
in time) raises :class:`~core.errors.ImportFormatError`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tickdeck.core.errors import ImportFormatError
from tickdeck.core.sources.csv_records import BLOCK_BYTES, csv_blocks, keep_bytes
from tickdeck.core.sources.parsed import ALIASES, MAX_BAD_TIMESTAMP_FRACTION, MAX_DEAD_LETTERS, ParsedTicks

CSV_BLOCK_BYTES = BLOCK_BYTES  # CSV text parsed per step: ~250,000 rows of a typical tick CSV
PARQUET_BATCH_ROWS = 1 << 18  # rows converted per step
MAX_RAGGED_FRACTION = 0.5  # more ragged records than this means a wrong delimiter, not bad rows
EPOCH_1971_NS = 365 * 86_400 * 10**9  # every timestamp before this: durations or times of day
# Epoch numbers are classified by magnitude: below 1e11 seconds (year 5138), below 1e14
# milliseconds, below 1e17 microseconds, else nanoseconds.
EPOCH_LIMITS = ((1e11, 10**9), (1e14, 10**6), (1e17, 10**3))


@dataclass
class _ReadState:
    """What the reader has seen so far (mutable, internal): counts for the whole-file rules."""

    path: Path
    ts_column: str = ""
    records: int = 0  # non-blank data records (parsed or ragged)
    parsed: int = 0  # records that reached the converter
    ragged: int = 0
    first_ragged: str = ""
    bad_ts: int = 0
    first_bad_ts: str = ""
    max_ns: int | None = None
    epoch_mult: int | None = None  # fixed by the first chunk with numeric epochs, kept for the rest
    texts_left: int = MAX_DEAD_LETTERS  # rejected rows whose text is still worth building (the rest are counted)


# -- columns -----------------------------------------------------------------------------------
def resolve_columns(names: list[str], mapping: dict[str, str]) -> dict[str, str]:
    """Target → column name, from ``mapping`` first and then :data:`tickdeck.core.sources.parsed.ALIASES`.

    Raises
    ------
    ImportFormatError
        A mapped column is absent, or the timestamp / price (or bid+ask) / size columns are missing.
    """
    lower = {n.strip().lower(): n for n in names}
    out: dict[str, str] = {}
    for target, col in mapping.items():
        if col not in names:
            raise ImportFormatError(f"mapping {target}={col}: no column {col!r}; the file has {', '.join(names)}")
        out[target] = col
    for target, aliases in ALIASES.items():
        if target not in out:
            hit = next((lower[a] for a in aliases if a in lower and lower[a] not in out.values()), None)
            if hit is not None:
                out[target] = hit
    if "timestamp" not in out:
        raise ImportFormatError(f"missing required column 'timestamp' (looked for {', '.join(ALIASES['timestamp'])}); "
                                f"the file has {', '.join(names)}; map one with --map timestamp=COLUMN")
    if "price" not in out and not ("bid" in out and "ask" in out):
        raise ImportFormatError(f"missing required column 'price' (looked for {', '.join(ALIASES['price'])}, or "
                                f"bid and ask for quotes); the file has {', '.join(names)}; use --map price=COLUMN")
    if "price" in out and "size" not in out:
        raise ImportFormatError(f"missing required column 'size' (looked for {', '.join(ALIASES['size'])}); "
                                f"the file has {', '.join(names)}; use --map size=COLUMN")
    return out


def _check_type(path: Path | None, target: str, column: str, t: pa.DataType) -> None:
    """Refuse a column whose Arrow type cannot hold what ``target`` needs (nested, durations, …)."""
    where = f"{path}: " if path else ""
    plain = (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t) or pa.types.is_string(t)
             or pa.types.is_large_string(t) or pa.types.is_binary(t) or pa.types.is_large_binary(t)
             or pa.types.is_dictionary(t) or pa.types.is_null(t))
    if target == "timestamp":
        if pa.types.is_duration(t) or pa.types.is_time(t):
            what = "durations" if pa.types.is_duration(t) else "times of day"
            raise ImportFormatError(f"{where}column {column!r} holds {what} "
                                    f"({t}), not points in time, so no trade date can be read from it; "
                                    "store UTC timestamps or epoch numbers "
                                    "(or map another column with --map timestamp=COLUMN)")
        if pa.types.is_date(t):
            raise ImportFormatError(f"{where}column {column!r} holds dates without a time of day; "
                                    "map a timestamp column")
        if pa.types.is_timestamp(t) or plain:
            return
    elif plain or pa.types.is_boolean(t):
        return
    raise ImportFormatError(f"{where}column {column!r} has type {t}; {target} needs plain "
                            f"{'timestamps, epoch numbers or text' if target == 'timestamp' else 'numbers'} "
                            "(nested list/struct/map columns cannot be imported)")


# -- values ------------------------------------------------------------------------------------
def _utf8(path: Path, col: pa.ChunkedArray, column: str, lines: np.ndarray) -> pa.ChunkedArray:
    """``col`` (bytes from the CSV) as UTF-8 text; the error names the first bad line."""
    try:
        return pc.cast(col, pa.string())
    except pa.ArrowInvalid:
        for i, v in enumerate(col.to_pylist()):  # error path only: find the row to name
            if v is not None:
                try:
                    v.decode("utf-8")
                except UnicodeDecodeError:
                    raise ImportFormatError(f"{path}, line {int(lines[i])}, column {column!r}: {v[:40]!r} is not "
                                            "UTF-8 text; save the file as UTF-8") from None
        raise


def _numbers(col: pa.ChunkedArray) -> np.ndarray:
    """float64 values; NaN where null or not a number (text is coerced vectorised)."""
    t = col.type
    if pa.types.is_dictionary(t):
        col, t = pc.cast(col, t.value_type), t.value_type
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t) or pa.types.is_boolean(t) \
            or pa.types.is_null(t):
        return pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    text = pc.cast(col, pa.string())
    try:
        return pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:
        return pd.to_numeric(text.to_pandas(), errors="coerce").to_numpy(dtype=np.float64)


def _whole_ids(col: pa.ChunkedArray) -> np.ndarray | None:
    """int64 ids when every value is a whole number, else None (integers exactly, not via float)."""
    if pa.types.is_integer(col.type) and col.null_count == 0:
        try:
            return pc.cast(col, pa.int64()).to_numpy(zero_copy_only=False)
        except pa.ArrowInvalid:  # uint64 beyond int64
            return None
    ids = _numbers(col)
    if ids.size and not (np.isfinite(ids).all() and (ids == np.round(ids)).all() and (np.abs(ids) < 2**63).all()):
        return None
    return ids.astype(np.int64)


def parse_timestamps(col: pa.ChunkedArray, column: str, *, epoch_mult: int | None = None
                     ) -> tuple[np.ndarray, np.ndarray, int | None]:
    """UTC epoch ns (int64), a bad-row mask and the epoch unit used, for a timestamp column.

    Arrow timestamps (naive = UTC), ISO-8601 text (with an offset, or naive = UTC) and epoch
    numbers (unit by magnitude, see :data:`EPOCH_LIMITS`, or ``epoch_mult`` when given) are
    accepted. Bad rows are marked, not raised; the caller applies the whole-file rules.

    Raises
    ------
    ImportFormatError
        The column's type cannot hold points in time (dates, durations, times of day, nested).
    """
    t = col.type
    if pa.types.is_dictionary(t):
        col, t = pc.cast(col, t.value_type), t.value_type
    if pa.types.is_timestamp(t):
        ns = pc.cast(col, pa.timestamp("ns", tz=t.tz)).cast(pa.int64())
        bad = pc.is_null(ns).to_numpy(zero_copy_only=False)
        return pc.fill_null(ns, 0).to_numpy(zero_copy_only=False).astype(np.int64), bad, epoch_mult
    if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t) or pa.types.is_string(t)
            or pa.types.is_large_string(t) or pa.types.is_null(t)):
        _check_type(None, "timestamp", column, t)  # raises: dates, durations, times of day, nested
        col, t = pc.cast(col, pa.string()), pa.string()  # bytes: as text
    if pa.types.is_integer(t):  # exact: never through float64 (ns epochs exceed 2**53)
        ints = pc.cast(col, pa.int64())
        bad = pc.is_null(ints).to_numpy(zero_copy_only=False)
        filled = pc.fill_null(ints, 0).to_numpy(zero_copy_only=False).astype(np.int64)
        vals, mult = _epoch_to_ns(filled, bad, epoch_mult)
        return vals, bad, mult
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        v = _numbers(col)
        bad = ~np.isfinite(v)
        vals, mult = _epoch_to_ns(np.where(bad, 0, v), bad, epoch_mult)
        return vals, bad, mult
    return _text_to_ns(pc.cast(col, pa.string()), epoch_mult)


def _epoch_to_ns(v: np.ndarray, bad: np.ndarray, mult: int | None) -> tuple[np.ndarray, int | None]:
    if mult is None:
        good = v[~bad]
        if not good.size:
            return np.zeros(v.shape[0], dtype=np.int64), None
        mag = float(np.median(np.abs(good)))
        mult = next((m for limit, m in EPOCH_LIMITS if mag < limit), 1)
    if v.dtype.kind == "f":  # whole and fractional parts apart: v * mult alone loses the last digits
        whole = np.floor(v)
        return whole.astype(np.int64) * mult + np.round((v - whole) * mult).astype(np.int64), mult
    return v.astype(np.int64) * mult, mult


def _text_to_ns(text: pa.ChunkedArray, mult: int | None) -> tuple[np.ndarray, np.ndarray, int | None]:
    for typ in (pa.timestamp("ns", tz="UTC"), pa.timestamp("ns")):
        try:
            ns = pc.cast(text, typ).cast(pa.int64())
            return pc.fill_null(ns, 0).to_numpy(zero_copy_only=False).astype(np.int64), \
                pc.is_null(ns).to_numpy(zero_copy_only=False), mult
        except pa.ArrowInvalid:
            continue
    try:  # pure epoch numbers written as text
        ints = pc.cast(text, pa.int64())
        bad = pc.is_null(ints).to_numpy(zero_copy_only=False)
        vals, mult = _epoch_to_ns(pc.fill_null(ints, 0).to_numpy(zero_copy_only=False).astype(np.int64), bad, mult)
        return vals, bad, mult
    except pa.ArrowInvalid:
        pass
    try:
        v = pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False)
        bad = ~np.isfinite(v)
        vals, mult = _epoch_to_ns(np.where(bad, 0, v), bad, mult)
        return vals, bad, mult
    except pa.ArrowInvalid:
        pass
    # Mixed or partly broken text: pandas' vectorised ISO-8601 parser, bad rows become NaT.
    s = pd.to_datetime(text.to_pandas(), utc=True, errors="coerce", format="ISO8601")
    bad = s.isna().to_numpy()
    return np.where(bad, 0, s.to_numpy(dtype="datetime64[ns]").astype(np.int64)), bad, mult


def _iter_csv(path: Path, mapping: dict[str, str], state: _ReadState, block_bytes: int) -> Iterator[ParsedTicks]:
    import pyarrow.csv as pcsv

    names: list[str] | None = None
    cols: dict[str, str] = {}
    # the lambda reads ``names`` late on purpose: the header's field count, once the first block set it
    for rec in csv_blocks(path, block_bytes, lambda: len(names) if names else None):  # noqa: B023
        idx = np.arange(rec.starts.size)
        if names is None:
            head = idx[rec.fields > 0]
            if not head.size:
                continue  # blank lines before the header
            h = int(head[0])
            try:
                header = rec.buf[int(rec.starts[h]):int(rec.ends[h])].decode("utf-8")
            except UnicodeDecodeError:
                raise ImportFormatError(f"{path}, line {int(rec.lines[h])}: the header is not UTF-8 text; "
                                        "save the file as UTF-8") from None
            names = next(csv.reader([header]))
            cols = resolve_columns(names, mapping)
            state.ts_column = cols["timestamp"]
            idx = idx[h + 1:]
        data = idx[rec.fields[idx] > 0]
        ragged = data[(rec.fields[data] != len(names)) | rec.faulty[data]]
        good = np.setdiff1d(data, ragged, assume_unique=True)
        state.records += int(data.size)
        state.ragged += int(ragged.size)
        rejects = []
        for i in ragged[:state.texts_left].tolist():
            why = ("a misplaced or unbalanced double quote" if rec.faulty[i] else
                   f"{int(rec.fields[i])} fields where the header has {len(names)}")
            rejects.append((rec.text(i), why, int(rec.lines[i])))
        state.texts_left -= len(rejects)
        if ragged.size and not state.first_ragged:
            state.first_ragged = f"line {int(rec.lines[ragged[0]])}: {rec.text(int(ragged[0]))[:80]!r}"
        rows_before = state.records - int(data.size)
        row_no = rows_before + 1 + np.searchsorted(data, good)  # 1-based among data records
        if not good.size:
            if rejects:
                yield _empty_chunk(rejects, int(ragged.size))
            continue
        keep = np.zeros(rec.starts.size, dtype=bool)
        keep[good] = True
        used = list(dict.fromkeys(cols.values()))
        try:
            table = pcsv.read_csv(
                keep_bytes(rec, keep),
                read_options=pcsv.ReadOptions(column_names=names, use_threads=True),
                parse_options=pcsv.ParseOptions(newlines_in_values=rec.multiline),
                convert_options=pcsv.ConvertOptions(include_columns=used, column_types={c: pa.binary() for c in used},
                                                    strings_can_be_null=True))
        except pa.ArrowException as e:
            raise ImportFormatError(f"{path}, lines {int(rec.lines[good[0]])}-{int(rec.lines[good[-1]])}: "
                                    f"cannot parse as csv: {e}") from None
        if table.num_rows != good.size:
            raise ImportFormatError(f"{path}, lines {int(rec.lines[good[0]])}-{int(rec.lines[good[-1]])}: "
                                    f"{table.num_rows} rows parsed from {good.size} records; check the quoting")
        lines = rec.lines[good]
        table = pa.table({c: _utf8(path, table.column(c), c, lines) for c in used})
        yield _convert(table, cols, state, lines=lines, rows=row_no, name="csv",
                       text=lambda k, rec=rec, good=good: [rec.text(int(i)) for i in good[k]],
                       rejects=rejects, rejected=int(ragged.size))
    if names is None:
        raise ImportFormatError(f"{path}: the file is empty (no header, no rows)")


# -- Parquet -----------------------------------------------------------------------------------
def _iter_parquet(path: Path, mapping: dict[str, str], state: _ReadState, batch_rows: int) -> Iterator[ParsedTicks]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as e:
        raise ImportFormatError(f"{path}: not a readable Parquet file ({e})") from None
    schema = pf.schema_arrow
    cols = resolve_columns(schema.names, mapping)
    state.ts_column = cols["timestamp"]
    for target, c in cols.items():
        _check_type(path, target, c, schema.field(c).type)
    used = list(dict.fromkeys(cols.values()))
    row0 = 0
    batches = pf.iter_batches(batch_size=batch_rows, columns=used, use_threads=True)
    while True:
        try:
            batch = next(batches, None)
        except (OSError, pa.ArrowException) as e:
            raise ImportFormatError(f"{path}: cannot read rows after row {row0}: {e}") from None
        if batch is None:
            return
        table = pa.Table.from_batches([batch])
        n = table.num_rows
        rows = np.arange(row0 + 1, row0 + n + 1, dtype=np.int64)
        state.records += n
        row0 += n
        yield _convert(table, cols, state, lines=rows, rows=rows, name="parquet",
                       text=lambda k, table=table: _row_texts(table, k))


def _row_texts(table: pa.Table, idx: np.ndarray) -> list[str]:
    rows = table.take(pa.array(np.asarray(idx, dtype=np.int64))).to_pylist()
    return [", ".join(f"{k}={'' if v is None else v}" for k, v in r.items()) for r in rows]


# -- chunks ------------------------------------------------------------------------------------
def _empty_chunk(rejects: list, rejected: int) -> ParsedTicks:
    e = np.empty(0)
    return ParsedTicks(name="csv", ns=np.empty(0, np.int64), price=e, size=e, bid=e, ask=e,
                       tick_id=np.empty(0, np.int64), rejects=tuple(rejects), rejected=rejected,
                       line=np.empty(0, np.int64), row=np.empty(0, np.int64))


def _convert(table: pa.Table, cols: dict[str, str], state: _ReadState, *, lines: np.ndarray, rows: np.ndarray,
             name: str, text: Callable[[np.ndarray], list[str]], rejects: list | None = None,
             rejected: int = 0) -> ParsedTicks:
    """One block's columns → a :class:`ParsedTicks` chunk of its usable rows, the others rejected."""
    n = table.num_rows
    ts_name = cols["timestamp"]
    ns, bad_ts, state.epoch_mult = parse_timestamps(table.column(ts_name), ts_name, epoch_mult=state.epoch_mult)
    nan = np.full(n, np.nan)
    bid = _numbers(table.column(cols["bid"])) if "bid" in cols else nan
    ask = _numbers(table.column(cols["ask"])) if "ask" in cols else nan
    reasons = np.full(n, "", dtype=object)
    reasons[bad_ts] = f"unparseable timestamp in column {ts_name!r}"
    quote_only = "price" not in cols
    if quote_only:
        ok_q = np.isfinite(bid) & np.isfinite(ask) & (bid > 0) & (ask >= bid)
        price = np.where(ok_q, (bid + ask) * 0.5, np.nan)
        size = np.zeros(n)
        reasons[~ok_q & (reasons == "")] = "quote needs 0 < bid <= ask"
    else:
        price = _numbers(table.column(cols["price"]))
        size = _numbers(table.column(cols["size"]))
        reasons[~(np.isfinite(price) & (price > 0)) & (reasons == "")] = \
            f"price in column {cols['price']!r} is missing, not a number or not > 0"
        reasons[~(np.isfinite(size) & (size >= 0)) & (reasons == "")] = \
            f"size in column {cols['size']!r} is missing, not a number or negative"
    tick_id = _whole_ids(table.column(cols["tick_id"])) if "tick_id" in cols else None
    bad = reasons != ""
    bad_idx = np.flatnonzero(bad)
    n_bad_ts = int(bad_ts.sum())
    if n_bad_ts and not state.first_bad_ts:
        i = int(np.flatnonzero(bad_ts)[0])
        where = f"row {int(rows[i])}" + (f" (line {int(lines[i])})" if name == "csv" else "")
        state.first_bad_ts = f"{where}: cannot parse {table.column(ts_name)[i].as_py()!r} as a timestamp"
    state.parsed += n
    state.bad_ts += n_bad_ts
    if state.parsed == n and n >= 100 and n_bad_ts > MAX_BAD_TIMESTAMP_FRACTION * n:
        _raise_bad_timestamps(state)  # the first block already says the format is wrong
    good_ns = ns[~bad]
    if good_ns.size:
        m = int(good_ns.max())
        state.max_ns = m if state.max_ns is None else max(state.max_ns, m)
    out = list(rejects or ())
    room = state.texts_left
    if bad_idx.size and room > 0:
        first = bad_idx[:room]
        state.texts_left -= first.size
        out += list(zip(text(first), reasons[first].tolist(), lines[first].tolist()))
    keep = np.flatnonzero(~bad)
    return ParsedTicks(name=name, ns=ns[keep], price=price[keep], size=size[keep], bid=bid[keep], ask=ask[keep],
                       tick_id=None if tick_id is None else tick_id[keep], quote_only=quote_only,
                       rejects=tuple(out), rejected=rejected + int(bad_idx.size), line=lines[keep], row=rows[keep],
                       text=lambda k, keep=keep: text(keep[np.asarray(k, dtype=np.int64)]))


def _raise_bad_timestamps(state: _ReadState) -> None:
    raise ImportFormatError(f"{state.path}: column {state.ts_column!r}, {state.first_bad_ts} ({state.bad_ts} of "
                            f"{state.parsed} rows fail); use ISO-8601 with an offset or epoch numbers")


def _finish(state: _ReadState, fmt: str) -> None:
    """The whole-file rules, once every chunk has been read."""
    if state.records == 0:
        raise ImportFormatError(f"{state.path}: no data rows" + (" (only a header)" if fmt == "csv" else "")
                                + "; nothing to import")
    if state.ragged > MAX_RAGGED_FRACTION * state.records:
        raise ImportFormatError(f"{state.path}: {state.ragged} of {state.records} rows do not have the header's "
                                f"fields (first at {state.first_ragged}); is the delimiter a comma?")
    if state.parsed and state.bad_ts > MAX_BAD_TIMESTAMP_FRACTION * state.parsed:
        _raise_bad_timestamps(state)
    if state.max_ns is not None and state.max_ns < EPOCH_1971_NS:
        raise ImportFormatError(f"{state.path}: column {state.ts_column!r}: every timestamp is in 1970 (the latest "
                                f"is {pd.Timestamp(state.max_ns, tz='UTC')}); these look like durations or times of "
                                "day, not points in time; store UTC timestamps or epoch numbers")


def iter_tabular(path: str | Path, *, fmt: str, mapping: dict[str, str] | None = None,
                 block_bytes: int | None = None, batch_rows: int | None = None) -> Iterator[ParsedTicks]:
    """Yield a CSV or Parquet file of trades (or bid/ask quotes) as :class:`ParsedTicks` chunks.

    Every chunk's ``line`` / ``row`` give each kept row's 1-based line (CSV; for Parquet the row)
    and data-row number; ``tick_id`` is the file's id column when that chunk's ids are whole
    numbers, else None; ``text(k)`` returns the rows' own text; ``rejects`` are
    ``(text, reason, line)`` of the rows the chunk dropped. ``block_bytes`` / ``batch_rows``
    default to :data:`CSV_BLOCK_BYTES` / :data:`PARQUET_BATCH_ROWS` (read when called).

    Raises
    ------
    ImportFormatError
        Unreadable file, missing or unusable column, text that is not UTF-8, a file with no data
        rows, or a whole-file rule broken (see the module docstring) — the last ones only when
        the final chunk has been read, so a caller that stores nothing before the end stores
        nothing at all.
    """
    path = Path(path)
    state = _ReadState(path)
    chunks = _iter_csv(path, mapping or {}, state, block_bytes or CSV_BLOCK_BYTES) if fmt == "csv" else \
        _iter_parquet(path, mapping or {}, state, batch_rows or PARQUET_BATCH_ROWS)
    yield from chunks
    _finish(state, fmt)

