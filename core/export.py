"""Exports of ticks or bars to CSV, Parquet (single file or hive-partitioned) and JSON lines.

An export is streamed one (symbol, day) at a time — memory stays bounded by the largest day —
into a temporary name in the target's directory (``.<name>.tmp-<pid>-<id>``) that is renamed
to the final name only when complete, so a reader (or DuckDB) never sees a partial file and a
killed export leaves nothing under the final name. A manifest ``<out>.manifest.json`` records
what was exported, when, rows, bytes and the sha256 of every file.

Conventions
-----------
* Rows carry ``timestamp`` (ticks) or the bar columns, plus ``symbol``. Hive-partitioned
  Parquet writes ``<out>/day=YYYY-MM-DD/symbol=SYM/part-0.parquet`` and leaves ``symbol``
  out of the files (it is in the path; pandas, pyarrow, Polars and DuckDB add it back with
  hive partitioning). The partition key is ``day`` — the stored (session) day — because the
  raw ``date`` column is the trade's own date, which differs from the session day for CME
  evening trades and 24/7 markets; a ``date=`` key would clash with it (pandas and pyarrow
  refuse the dataset, DuckDB silently replaces the column).
* CSV timestamps are ISO 8601 with the ET offset (``2024-07-01 09:30:00.123456789-0400``);
  JSON lines use ``2024-07-01T09:30:00.123456789-0400``. Parquet keeps the tz-aware type.
* A ``.part`` file next to the temporary one holds a JSON-lines slice while it is written
  (DuckDB writes it through its own ``tmp_<part name>`` when overwriting it).
* Temporaries of an export whose process died (kill -9) are swept at the start of every
  export and by retention: only names of the patterns in :data:`TEMP_NAME`, only in the
  exports directory (and the target's own directory for the target's name), only when the
  process id in the name is no longer running (or is this process and that export is over).

Speed: a tick day is read from ArcticDB in slices of :data:`READ_ROWS` rows, one slice ahead
of the encoder (the read overlaps the encoding); Parquet is encoded by Polars on every core,
CSV slices by :data:`ENCODE_THREADS` threads; the sha256 is computed while the file is
written. Encoders and their settings live in :mod:`core.export_formats`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

import pandas as pd
import psutil
import pyarrow as pa

from tickdeck.core.errors import DayNotFound, TickdeckError
from tickdeck.core.export_formats import (HashingFile, csv_bytes, decode_dictionaries, ordered_map, prefetch, slices,
                                 timestamps_as_text, write_parquet)
from tickdeck.core.naming import as_date, date_range, format_day, normalize_ticker
from tickdeck.core.progress import Progress
from tickdeck.core.schema import STORED_COLUMNS
from tickdeck.core.store import SESSIONS

FORMATS = ("csv", "parquet", "jsonl", "nautilus")  # nautilus: a catalog directory (core.nautilus_export)
EXTENSIONS = {"csv": ".csv", "parquet": ".parquet", "jsonl": ".jsonl"}
HASH_CHUNK = 1 << 20  # 1 MiB reads keep hashing streaming and fast
# Rows per ArcticDB read of a tick day: three of its 100,000-row segments. Small enough that the
# first read (not overlapped) is short and memory stays a few slices, large enough that
# per-read overhead is negligible.
READ_ROWS = 300_000
ENCODE_THREADS = 2  # CSV slices encoded at once (each encoder call is single-threaded; one per core)
# Names of an export's temporaries, next to its target ``<name>`` (``<token>`` is
# ``<pid>-<8 hex>``, one per export run):
#   .<name>.tmp-<token>              the file or directory being written
#   .<name>.tmp-<token>.part         a JSON-lines slice being encoded
#   tmp_.<name>.tmp-<token>.part     DuckDB's own temporary when it overwrites that slice
#   .<name>.manifest.json.tmp-<pid>  the manifest being written
#   .<name>.old-<pid>-<6 hex>        a replaced partitioned export being removed
# Nothing else is ever swept.
TEMP_NAME = re.compile(
    r"^(?P<duck>tmp_)?\.(?P<name>.+?)\.(?:"
    r"tmp-(?P<token>(?P<pid>\d+)-[0-9a-f]{8})(?P<part>\.part)?"
    r"|tmp-(?P<mpid>\d+)"
    r"|old-(?P<opid>\d+)-[0-9a-f]{6})$")
PARTITION_KEYS = ("day", "symbol")  # hive keys: no tick or bar column has these names (symbol is dropped)
_RUNNING: set[str] = set()  # tokens of this process's exports in progress (never swept)
_RUNNING_LOCK = threading.Lock()


class ExportError(TickdeckError, ValueError):
    """An export request is invalid (bad format, column, session or range)."""


@dataclass(frozen=True)
class ExportRequest:
    """What to export. ``spec`` is ``"ticks"`` or a bar spec (``time:60s``, ``volume:1000``)."""

    symbols: tuple[str, ...]
    start: dt.date
    end: dt.date
    out: Path
    spec: str = "ticks"
    session: str = "all"
    columns: tuple[str, ...] | None = None
    format: str = "parquet"
    partition: bool = False

    def __post_init__(self):
        object.__setattr__(self, "symbols", tuple(normalize_ticker(s) for s in self.symbols))
        object.__setattr__(self, "start", as_date(self.start))
        object.__setattr__(self, "end", as_date(self.end))
        object.__setattr__(self, "out", Path(self.out))
        if self.columns is not None:
            object.__setattr__(self, "columns", tuple(self.columns))
        if not self.symbols:
            raise ExportError("export needs at least one symbol")
        date_range(self.start, self.end)
        if self.format not in FORMATS:
            raise ExportError(f"unknown export format {self.format!r}; use one of {', '.join(FORMATS)}")
        if self.partition and self.format != "parquet":
            raise ExportError("--partition is only available for the parquet format")
        if self.format == "nautilus" and self.columns:
            raise ExportError("--columns does not apply to the nautilus format (Nautilus types have fixed fields)")
        if self.session not in SESSIONS:
            raise ExportError(f"unknown session {self.session!r}; use one of {', '.join(SESSIONS)}")
        if self.spec == "ticks" and self.columns:
            bad = [c for c in self.columns if c not in STORED_COLUMNS and c != "timestamp"]
            if bad:
                raise ExportError(f"unknown tick column {bad[0]!r} in --columns (see docs/schema.md)")

    @classmethod
    def from_params(cls, params: dict, settings=None) -> "ExportRequest":
        """Build from job/CLI params; ``out`` defaults to ``<data_dir>/exports/<name>``."""
        p = dict(params)
        syms = p.get("symbols") or ([p["symbol"]] if p.get("symbol") else [])
        if isinstance(syms, str):
            syms = [s for s in syms.replace(",", " ").split() if s]
        cols = p.get("columns")
        if isinstance(cols, str):
            cols = [c.strip() for c in cols.split(",") if c.strip()]
        fmt = p.get("format", "parquet")
        spec = p.get("spec", "ticks") or "ticks"
        partition = bool(p.get("partition", False)) and str(p.get("partition")).lower() not in ("0", "false", "no")
        try:
            start, end = p["start"], p["end"]
        except KeyError as e:
            raise ExportError(f"export params need {e.args[0]!r}") from None
        out = p.get("out")
        if not out:
            if settings is None:
                raise ExportError("export params need 'out' (no settings to derive a default)")
            tag = spec.replace(":", "-")
            name = f"{tag}_{'-'.join(syms)[:60]}_{as_date(start)}_{as_date(end)}"
            out = settings.exports_dir / (name + ("" if partition else EXTENSIONS.get(fmt, "")))
        return cls(tuple(syms), start, end, Path(out), spec=spec, session=p.get("session", "all") or "all",
                   columns=tuple(cols) if cols else None, format=fmt, partition=partition)

    def describe(self) -> dict:
        d = asdict(self)
        d.update(start=format_day(self.start), end=format_day(self.end), out=str(self.out),
                 symbols=list(self.symbols), columns=list(self.columns) if self.columns else None)
        return d


@dataclass(frozen=True)
class ExportedFile:
    path: str  # relative to the export's out (or its name for a single file)
    rows: int
    bytes: int
    sha256: str


@dataclass(frozen=True)
class ExportManifest:
    """Written next to the export as ``<out>.manifest.json``."""

    out: str
    request: dict
    created_at: str
    rows: int
    bytes: int
    sha256: str  # of the single file, or of the sorted per-file digests when partitioned
    files: tuple[ExportedFile, ...]
    days: int
    elapsed_s: float
    skipped: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict:
        d = asdict(self)
        d["files"] = [asdict(f) for f in self.files]
        d["skipped"] = list(self.skipped)
        return d


def check_target(req: ExportRequest) -> None:
    """Refuse a target the export could not be written to, before any day is read.

    A single-file export needs a file path (not an existing directory); a partitioned export a
    directory (not an existing file); the nearest existing folder on the way must be a
    writable directory.

    Raises
    ------
    ExportError
        The target is of the wrong kind or its folder cannot be written; the message says what to give.
    """
    out = req.out
    if req.partition or req.format == "nautilus":
        if out.exists() and not out.is_dir():
            raise ExportError(f"--out {out} is a file; a {'nautilus' if not req.partition else 'partitioned'} "
                              "export writes a directory: give a directory path")
    elif out.is_dir():
        raise ExportError(f"--out {out} is a directory; a {req.format} export writes one file: give a file path "
                          f"such as {out / ('export' + EXTENSIONS.get(req.format, ''))}"
                          + (" (or --partition for a directory of parquet files)" if req.format == "parquet" else ""))
    folder = out if (req.partition or req.format == "nautilus") and out.is_dir() else out.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise ExportError(f"cannot write {out}: {folder} is not a directory")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ExportError(f"cannot write {out}: no write permission in {folder}")


ESTIMATE_SAMPLE_ROWS = 2_000  # rows encoded to estimate a download's size: ~10 ms, within a few % for a day


def estimate_bytes(ctx, symbol: str, day, rows: int, *, columns=None, session: str = "all",
                   format: str = "csv") -> int:
    """About how many bytes ``rows`` ticks of ``symbol`` would take as a ``format`` export.

    The first :data:`ESTIMATE_SAMPLE_ROWS` rows of ``day`` are encoded by the export's own
    writer (same columns, same text for CSV, same Parquet encoder) and scaled to ``rows``. An
    estimate: later rows may print longer or compress differently.
    """
    sample = next(tick_day_tables(ctx, symbol, day, columns=columns, session=session,
                                  slice_rows=ESTIMATE_SAMPLE_ROWS), None)
    if sample is None or sample.num_rows == 0:
        return 0
    return int(round(table_bytes(sample, format) / sample.num_rows * rows))


def table_bytes(table: pa.Table, format: str = "csv") -> int:
    """Bytes of ``table`` written as a ``format`` export file (CSV with its header, Parquet, JSON lines)."""
    if format == "csv":
        return len(csv_bytes(table, header=True))
    if format == "parquet":
        import io

        buf = io.BytesIO()
        write_parquet(buf, iter([table]))
        return buf.tell()
    return len(timestamps_as_text(table, iso_t=True).to_pandas().to_json(orient="records", lines=True).encode())


def manifest_path(out: Path) -> Path:
    out = Path(out)
    return out.with_name(out.name + ".manifest.json")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _temp_token() -> str:
    """``<pid>-<8 hex>``: names every temporary of one export run."""
    return f"{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _is_stale(m: re.Match) -> bool:
    pid = int(m["pid"] or m["mpid"] or m["opid"])
    if pid != os.getpid():
        return not psutil.pid_exists(pid)
    with _RUNNING_LOCK:  # this process: stale unless one of its exports is still writing it
        return m["token"] is not None and m["token"] not in _RUNNING


def sweep_stale_temps(out: Path) -> list[Path]:
    """Remove temporaries of ``out`` (next to it) left by exports whose process died; returns them."""
    return _sweep(Path(out).parent, only_name=Path(out).name)


def sweep_export_temps(root: Path, *, dry_run: bool = False) -> list[Path]:
    """Remove every stale export temporary directly inside ``root`` (the exports directory).

    Only names matching :data:`TEMP_NAME` whose process is gone are touched; nothing outside
    ``root`` and nothing else inside it. Returns what was removed (or, with ``dry_run``,
    what would be).
    """
    return _sweep(Path(root), dry_run=dry_run)


def _sweep(folder: Path, only_name: str | None = None, dry_run: bool = False) -> list[Path]:
    removed = []
    try:
        entries = list(folder.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return removed
    for p in entries:
        m = TEMP_NAME.match(p.name)
        if m is None or (m["duck"] and not m["part"]) or (
                only_name is not None and m["name"] not in (only_name, only_name + ".manifest.json")):
            continue
        if p.is_symlink() or not _is_stale(m):
            continue
        if dry_run:
            removed.append(p)
            continue
        try:
            shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
        except FileNotFoundError:  # another sweeper got there first
            continue
        removed.append(p)
    return removed


def _tick_slices(ctx, sym: str, day, req: ExportRequest) -> Iterator[pa.Table]:
    """One stored tick day as Arrow tables of at most :data:`READ_ROWS` stored rows each.

    Every slice is read from the version the first read saw (``as_of``), so a day re-collected
    during the export is never mixed; if that version is pruned meanwhile the export fails
    with a :class:`StorageError` saying so (:meth:`core.store.Store.read_day_arrow`).
    """
    yield from tick_day_tables(ctx, sym, day, columns=req.columns, session=req.session, with_symbol=not req.partition)


def tick_columns(columns, *, with_symbol: bool = True) -> list[str] | None:
    """The stored columns to read for an export's ``columns`` (``None``: all of them).

    ``timestamp`` (the index) always comes first by itself; ``symbol`` is added unless
    ``with_symbol`` is false (hive partitions carry it in the path).
    """
    if not columns:
        return None
    cols = [c for c in columns if c != "timestamp"]
    if with_symbol and "symbol" not in cols:
        cols.append("symbol")
    return cols


def tick_day_tables(ctx, symbol: str, day, *, columns=None, session: str = "all", with_symbol: bool = True,
                    slice_rows: int | None = None) -> Iterator[pa.Table]:
    """One stored tick day as the Arrow tables an export writes, at most ``slice_rows`` rows each.

    The column set and types every tick export has (``tickdeck export``, the HTTP API's
    ``csv``/``parquet``/``arrow`` downloads): ``timestamp`` (``timestamp[ns, America/New_York]``)
    first, then ``columns`` in stored order (default: every stored column) plus ``symbol``;
    strings as plain ``large_string``. Every slice is read from the version the first read saw.
    ``slice_rows`` defaults to :data:`READ_ROWS` (read when called).
    """
    cols = tick_columns(columns, with_symbol=with_symbol)
    for table in ctx.store.read_day_arrow(symbol, day, columns=cols, session=session,
                                          slice_rows=slice_rows or READ_ROWS):
        yield _plain_arrow(table)


def _plain_arrow(table: pa.Table) -> pa.Table:
    # drop pandas' "timestamp is the index" note; categoricals back to the stored string type
    return decode_dictionaries(table.replace_schema_metadata(None))


def _read_ticks(ctx, sym: str, day, req: ExportRequest) -> pa.Table:
    """One whole stored tick day as one Arrow table (what the export streams in slices)."""
    return pa.concat_tables(list(_tick_slices(ctx, sym, day, req)))


def _bar_slices(ctx, sym: str, day, req: ExportRequest) -> Iterator[pa.Table]:
    from tickdeck.core.bars import get_bars  # built by the bars service; imported lazily

    df = get_bars(ctx, sym, day, day, req.spec, session=req.session)
    if df.index.name is not None or not isinstance(df.index, pd.RangeIndex):
        df = df.reset_index()
    if req.columns:
        missing = [c for c in req.columns if c not in df.columns]
        if missing:
            raise ExportError(f"unknown bar column {missing[0]!r} for spec {req.spec!r}")
        df = df[list(req.columns)]
    if "symbol" not in df.columns:
        df = df.assign(symbol=sym)
    yield pa.Table.from_pandas(df, preserve_index=False)


def _units(ctx, req: ExportRequest) -> tuple[list[tuple[str, dt.date]], list[str]]:
    units, skipped = [], []
    extra = None
    if req.spec != "ticks":  # bars also on days holding only an imported series of the spec
        from tickdeck.core.bars import imported  # the bars package loads its kernels (~1 s): lazily, as below

        extra = imported.days
    for sym in req.symbols:
        stored = set(ctx.store.list_days(sym)) | set(extra(ctx, sym, req.spec) if extra else ())
        days = sorted(d for d in stored if req.start <= d <= req.end)
        if not days:
            skipped.append(sym)
        units.extend((sym, d) for d in days)
    return units, skipped


def _stream(ctx, req: ExportRequest, units) -> Iterator[tuple[str, dt.date, pa.Table, bool]]:
    """``(symbol, day, slice, last slice of the day)`` for every unit, in the first day's schema."""
    reader = _tick_slices if req.spec == "ticks" else _bar_slices
    schema = None
    for sym, day in units:
        held = None
        for table in reader(ctx, sym, day, req):
            if schema is None:
                schema = table.schema
            elif not table.schema.equals(schema, check_metadata=False):
                try:
                    table = table.select(schema.names).cast(schema)
                except (KeyError, pa.ArrowInvalid) as e:
                    raise ExportError(f"{sym} {day}: columns differ from the first exported day: {e}") from None
            if held is not None:
                yield sym, day, held, False
            held = table
        yield sym, day, held, True


def export(ctx, req: ExportRequest, *, progress=None) -> ExportManifest:
    """Run an export; returns (and writes) its manifest.

    Raises
    ------
    DayNotFound
        No stored day of any requested symbol falls in the range.
    ExportError
        Bad columns, a day whose columns differ from the first day's, or a target that cannot
        be written (:func:`check_target`, checked before any day is read).
    StorageError
        A day was rewritten (and its read version pruned) while it was being exported.

    Warnings
    --------
    One export per target path at a time; a second concurrent export to the same ``out``
    would replace the first one's result on completion. Memory: a few slices of
    :data:`READ_ROWS` rows (and, for CSV, their text) are in flight at once; a partitioned
    export holds one day. ``progress`` may be called from an encoder thread; whatever it
    raises (a job's cancellation) ends the export with that exception.
    """
    t0 = time.perf_counter()
    check_target(req)
    units, skipped = _units(ctx, req)
    if not units:
        raise DayNotFound(",".join(req.symbols), f"{req.start}..{req.end}", where="ticks to export")
    out = req.out
    out.parent.mkdir(parents=True, exist_ok=True)
    if req.format == "nautilus":
        return _export_nautilus(ctx, req, units, skipped, t0, progress)
    token = _temp_token()
    with _RUNNING_LOCK:
        _RUNNING.add(token)
    try:
        return _export(ctx, req, out, token, units, skipped, t0, progress)
    finally:
        with _RUNNING_LOCK:
            _RUNNING.discard(token)


def _export(ctx, req: ExportRequest, out: Path, token: str, units, skipped, t0: float, progress) -> ExportManifest:
    sweep_stale_temps(out)
    exports_dir = getattr(getattr(ctx, "settings", None), "exports_dir", None)
    if exports_dir is not None:
        sweep_export_temps(exports_dir)
    tmp = out.with_name(f".{out.name}.tmp-{token}")
    done = [0]

    def day_done(sym, day) -> None:
        done[0] += 1
        if progress:
            progress(Progress("export", done[0], len(units), f"{sym} {day}"))

    stream = prefetch(_stream(ctx, req, units))
    try:
        if req.partition:
            tmp.mkdir()
            files = _write_partitions(tmp, stream, day_done)
            rows = sum(f.rows for f in files)
        else:
            writer = {"parquet": _write_parquet, "csv": _write_csv, "jsonl": _write_jsonl}[req.format]
            rows, size, digest = writer(tmp, stream, day_done)
            files = [ExportedFile(out.name, rows, size, digest)]
        _replace(tmp, out)
    except BaseException:
        stream.close()
        shutil.rmtree(tmp, ignore_errors=True) if tmp.is_dir() else tmp.unlink(missing_ok=True)
        raise
    digest = files[0].sha256 if not req.partition else hashlib.sha256(
        "".join(f"{f.path}:{f.sha256}\n" for f in sorted(files, key=lambda f: f.path)).encode()).hexdigest()
    man = ExportManifest(str(out), req.describe(), dt.datetime.now(dt.timezone.utc).isoformat(), rows,
                         sum(f.bytes for f in files), digest, tuple(files), len(units),
                         round(time.perf_counter() - t0, 4), tuple(skipped))
    mp = manifest_path(out)
    mtmp = mp.with_name(f".{mp.name}.tmp-{os.getpid()}")
    mtmp.write_text(json.dumps(man.to_dict(), indent=2))
    os.replace(mtmp, mp)
    return man


def _export_nautilus(ctx, req: ExportRequest, units, skipped, t0: float, progress) -> ExportManifest:
    """Write a NautilusTrader catalog at ``req.out`` (:func:`core.nautilus_export.export_catalog`).

    Files are written next to their final names and renamed into place one by one, so a reader
    of the catalog sees whole files only; the manifest lists every file written with its digest.
    """
    from tickdeck.core.nautilus_export import export_catalog  # imports the bars kernels (~1 s): lazily

    days_of: dict[str, list] = {}
    for sym, day in units:
        days_of.setdefault(sym, []).append(day)
    res = export_catalog(ctx, list(days_of), days_of, req.out, spec=req.spec, session=req.session,
                         progress=progress)
    files = tuple(ExportedFile(f.path, f.rows, f.bytes, sha256_file(req.out / f.path)) for f in res.files)
    digest = hashlib.sha256("".join(f"{f.path}:{f.sha256}\n" for f in sorted(files, key=lambda f: f.path))
                            .encode()).hexdigest()
    rows = res.trades + res.quotes + res.bars
    described = {**req.describe(), "instruments": res.instruments, "bar_types": res.bar_types,
                 "tickdeck_parquet_bars": res.fallback_bars, "trades": res.trades, "quotes": res.quotes,
                 "bars": res.bars}
    man = ExportManifest(str(req.out), described, dt.datetime.now(dt.timezone.utc).isoformat(), rows,
                         sum(f.bytes for f in files), digest, files, len(units), round(time.perf_counter() - t0, 4),
                         tuple(skipped))
    mp = manifest_path(req.out)
    mtmp = mp.with_name(f".{mp.name}.tmp-{os.getpid()}")
    mtmp.write_text(json.dumps(man.to_dict(), indent=2))
    os.replace(mtmp, mp)
    return man


def _write_parquet(path: Path, stream, day_done) -> tuple[int, int, str]:
    """All slices into one Parquet file; returns rows, bytes, sha256."""
    sink = HashingFile(path)
    rows = [0]

    def tables():
        for sym, day, table, last in stream:
            rows[0] += table.num_rows
            yield table
            if last:
                day_done(sym, day)

    try:
        write_parquet(sink, tables())
        sink.close()
    except BaseException:
        sink.abort()
        raise
    return rows[0], sink.tell(), sink.sha256


def _write_partitions(root: Path, stream, day_done) -> list[ExportedFile]:
    """One ``day=…/symbol=…/part-0.parquet`` per (symbol, day); ``symbol`` only in the path."""
    files: list[ExportedFile] = []
    day_tables: list[pa.Table] = []
    for sym, day, table, last in stream:
        day_tables.append(table.drop_columns(["symbol"]) if "symbol" in table.column_names else table)
        if not last:
            continue
        rel = Path(f"{PARTITION_KEYS[0]}={format_day(day)}") / f"{PARTITION_KEYS[1]}={sym}" / "part-0.parquet"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        sink = HashingFile(root / rel)
        try:
            write_parquet(sink, iter(day_tables))
            sink.close()
        except BaseException:
            sink.abort()
            raise
        files.append(ExportedFile(rel.as_posix(), sum(t.num_rows for t in day_tables), sink.tell(), sink.sha256))
        day_tables = []
        day_done(sym, day)
    return files


def _write_csv(path: Path, stream, day_done) -> tuple[int, int, str]:
    """Slices encoded by :data:`ENCODE_THREADS` threads, written in order, header once."""
    sink = HashingFile(path)
    rows = [0]

    def tasks():
        first = True
        for sym, day, table, last in stream:
            rows[0] += table.num_rows
            parts = slices(table, ENCODE_THREADS)
            for k, part in enumerate(parts):
                yield part, first, (sym, day) if last and k == len(parts) - 1 else None
                first = False

    def encode(task):
        part, header, finished = task
        return csv_bytes(part, header=header), finished

    try:
        with ThreadPoolExecutor(ENCODE_THREADS, thread_name_prefix="export-csv") as pool:
            for buf, finished in ordered_map(encode, tasks(), pool, window=2 * ENCODE_THREADS):
                sink.write(buf)
                if finished:
                    day_done(*finished)
        sink.close()
    except BaseException:
        sink.abort()
        raise
    return rows[0], sink.tell(), sink.sha256


def _write_jsonl(path: Path, stream, day_done) -> tuple[int, int, str]:
    """JSON lines through DuckDB's JSON writer (~5x pandas), one slice at a time.

    Each slice goes to ``<tmp>.part``, which is appended to the output and removed before the
    next slice (DuckDB would otherwise overwrite it through a ``tmp_<part name>`` file).
    """
    import duckdb

    sink = HashingFile(path)
    part = path.with_name(path.name + ".part")
    duck_tmp = path.with_name("tmp_" + part.name)
    con = duckdb.connect()
    rows = 0
    try:
        for sym, day, table, last in stream:
            if table.num_rows:
                con.register("day_rows", timestamps_as_text(table, iso_t=True))
                con.execute(f"COPY day_rows TO '{_sql_str(part)}' (FORMAT JSON)")
                con.unregister("day_rows")
                with open(part, "rb") as src:
                    while chunk := src.read(HASH_CHUNK * 8):
                        sink.write(chunk)
                part.unlink()
                rows += table.num_rows
            if last:
                day_done(sym, day)
        sink.close()
    except BaseException:
        sink.abort()
        raise
    finally:
        con.close()
        part.unlink(missing_ok=True)
        duck_tmp.unlink(missing_ok=True)
    return rows, sink.tell(), sink.sha256


def _sql_str(path: Path) -> str:
    return str(path).replace("'", "''")


def _replace(tmp: Path, out: Path) -> None:
    """Atomically put ``tmp`` at ``out`` (a directory target is swapped via a trash name)."""
    if tmp.is_dir():
        if out.exists():
            trash = out.with_name(f".{out.name}.old-{os.getpid()}-{uuid.uuid4().hex[:6]}")
            os.replace(out, trash)
            os.replace(tmp, out)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp, out)
    else:
        if out.is_dir():
            raise ExportError(f"{out} is a directory; choose a file name for a single-file export")
        os.replace(tmp, out)
