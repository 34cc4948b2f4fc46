"""Backups of a data directory and restores into an empty one; kept copies by day, week and month.

A backup (:func:`backup`) is a directory::

    <dest>/arctic/        an LMDB ArcticDB holding every library's symbols at their latest version
    <dest>/catalog.db     the SQL database as SQLite (any source database)
    <dest>/manifest.json  what is in it: per library and symbol the source version, rows and sha256

Consistency: every library is snapshotted first (:meth:`Store.snapshot`: the latest version of
each symbol, pinned so that a concurrent replace or append cannot prune it), then each symbol is
copied from its snapshot version in slices of :data:`COPY_ROWS` rows. A day being written by a
live collection is therefore copied as one committed version — never half of an append. The SQL
database is copied after the snapshots in one transaction (SQLite: the online backup API;
PostgreSQL: every table read under ``REPEATABLE READ`` through SQLAlchemy, no ``pg_dump`` needed).
A restore rebuilds the catalog's tick-day rows from the restored days' own metadata, so days
written between the snapshot and the SQL copy never leave the catalog and the store apart.

The backup is written under a temporary name next to ``dest`` and renamed when complete, so a
directory named ``dest`` always holds a whole backup; the snapshots are removed at the end (a
killed backup's are removed by the next one). Kept previous versions of tick days
(``tickdeck restore-day``) are not part of a backup: only the current version of each symbol.

:func:`restore` copies a backup into an *empty* data directory (refused otherwise), checking
every frame's sha256 against the manifest as it goes; with the default layout (ArcticDB and
SQLite inside the data directory) it is built under a temporary name and renamed into place.

:func:`rotate` keeps the newest backup of each of the last ``daily`` days, ``weekly`` ISO weeks
and ``monthly`` months among the backups in a folder (grandfather-father-son) and deletes the rest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import pickle
import re
import shutil
import sqlite3
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
import psutil
import sqlalchemy as sa

from tickdeck.core import db
from tickdeck.core.catalog import Catalog
from tickdeck.core.errors import TickdeckError
from tickdeck.core.progress import Progress
from tickdeck.core.store import DayInfo, Store

MANIFEST = "manifest.json"
SQL_FILE = "catalog.db"
ARCTIC_DIR = "arctic"
FORMAT = 1
COPY_ROWS = 500_000  # rows per slice copied: memory stays a few hundred MB for the widest tick day
WRITE_BATCH = 100  # small symbols written per batch (bar series of a day: one or two batches)
SNAPSHOT_PREFIX = "tickdeck-backup-"
_SNAPSHOT = re.compile(r"^tickdeck-backup-(?P<pid>\d+)-[0-9a-f]{8}$")
BACKUP_NAME = "%Y-%m-%dT%H%M%SZ"  # names of rotated backups (UTC), sortable
_BACKUP_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{6}Z$")


class BackupError(TickdeckError, ValueError):
    """A backup or restore cannot be made: bad target, incomplete or corrupt backup, non-empty target."""


@dataclass(frozen=True)
class SymbolEntry:
    version: int
    rows: int
    sha256: str


@dataclass(frozen=True)
class BackupManifest:
    created_at: str
    source_arctic: str
    source_sql: str
    libraries: dict  # library -> {symbol -> SymbolEntry as dict}
    sql_tables: dict  # table -> rows
    elapsed_s: float
    format: int = FORMAT

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def symbols(self) -> int:
        return sum(len(v) for v in self.libraries.values())

    @classmethod
    def load(cls, path: Path) -> "BackupManifest":
        f = Path(path) / MANIFEST
        if not f.is_file():
            raise BackupError(f"{path}: no {MANIFEST}: not a tickdeck backup, or one that did not finish")
        try:
            d = json.loads(f.read_text())
            return cls(**d)
        except (ValueError, TypeError) as e:
            raise BackupError(f"{f}: unreadable manifest ({e})") from None


@dataclass(frozen=True)
class RestoreReport:
    data_dir: str
    symbols: int
    rows: int
    sql_tables: dict = field(default_factory=dict)
    tick_days: int = 0  # catalog tick-day rows rewritten from the restored days' metadata
    elapsed_s: float = 0.0


# -- hashing ---------------------------------------------------------------------------------------
class FrameHash:
    """sha256 over the row hashes of a frame's slices (pandas ``hash_pandas_object``, index included)
    plus its column names and dtypes: the same for a frame however it is sliced."""

    def __init__(self):
        self._h = hashlib.sha256()
        self._head = False

    def update(self, data) -> None:
        if isinstance(data, pd.DataFrame):
            if not self._head:
                self._h.update(repr([(str(c), str(t)) for c, t in data.dtypes.items()]).encode())
                self._head = True
            self._h.update(pd.util.hash_pandas_object(data, index=True).to_numpy().tobytes())
        else:  # a series or array stored whole (not a tick or bar frame)
            self._h.update(pickle.dumps(data, protocol=4))

    def hexdigest(self) -> str:
        return self._h.hexdigest()


# -- ArcticDB copy ---------------------------------------------------------------------------------
def _copy_large(src: Store, dst: Store, name: str, sym: str, as_of, rows: int) -> tuple[int, str]:
    """A symbol of more than :data:`COPY_ROWS` rows, slice by slice; returns (version, sha256)."""
    h = FrameHash()
    first = src.read_series_at(name, sym, as_of, row_range=(0, COPY_ROWS))
    h.update(first.data)
    dst.write_series(name, sym, first.data, first.metadata)
    for a in range(COPY_ROWS, rows, COPY_ROWS):
        part = src.read_series_at(name, sym, as_of, row_range=(a, min(rows, a + COPY_ROWS))).data
        h.update(part)
        dst.append_series(name, sym, part, metadata=first.metadata)
    return first.version, h.hexdigest()


def _copy_library(src: Store, dst: Store, name: str, symbols, as_of, *, expect: dict | None = None,
                  progress=None, stage: str = "backup", done: int = 0, total: int = 0) -> dict:
    """Copy ``symbols`` of library ``name`` at ``as_of`` from ``src`` to ``dst``; returns
    ``{symbol: SymbolEntry}``. Small symbols are written :data:`WRITE_BATCH` at a time (one ArcticDB
    batch write each: LMDB commits cost ~30 ms apiece), large ones in slices.

    With ``expect`` (the manifest's entries), a symbol whose sha256 differs raises :class:`BackupError`.
    """
    out: dict = {}
    pending: list = []
    pending_rows = 0

    def check(sym: str, entry: SymbolEntry) -> None:
        if expect is not None and expect[sym]["sha256"] != entry.sha256:
            raise BackupError(f"{name} {sym!r}: its data does not match the manifest's sha256 (the backup is "
                              "damaged); nothing was restored")
        out[sym] = entry

    def flush() -> None:
        nonlocal pending_rows
        if not pending:
            return
        errors = dst.write_series_batch(name, [(sym, item.data, item.metadata) for sym, item, _ in pending])
        for (sym, _, _), err in zip(pending, errors):
            if err is not None:
                raise BackupError(f"{name} {sym!r}: writing the copy failed: {err}")
        pending.clear()
        pending_rows = 0

    for sym in symbols:
        rows = src.series_rows_at(name, sym, as_of)
        if rows > COPY_ROWS:
            version, digest = _copy_large(src, dst, name, sym, as_of, rows)
            check(sym, SymbolEntry(version, rows, digest))
        else:
            item = src.read_series_at(name, sym, as_of)
            h = FrameHash()
            h.update(item.data)
            check(sym, SymbolEntry(item.version, rows, h.hexdigest()))
            pending.append((sym, item, rows))
            pending_rows += rows
            if len(pending) >= WRITE_BATCH or pending_rows >= COPY_ROWS:
                flush()
        done += 1
        if progress:
            progress(Progress(stage, done, total, f"{name} {sym}"))
    flush()
    return out


def _sweep_snapshots(store: Store, library: str) -> None:
    """Remove the snapshots of ``library`` left by backups whose process is gone (a killed backup)."""
    for name in store.list_snapshots(library):
        m = _SNAPSHOT.match(name)
        if m and not psutil.pid_exists(int(m["pid"])):
            store.drop_snapshot(name, [library])  # a failure: another backup removed it first


# -- SQL copy --------------------------------------------------------------------------------------
def _tables(engine: sa.Engine) -> sa.MetaData:
    """Every table of the database (the app's, APScheduler's, Alembic's), reflected."""
    md = sa.MetaData()
    md.reflect(engine)
    return md


def _copy_sql_to_sqlite(engine: sa.Engine, target: Path) -> dict:
    """The whole database into a new SQLite file: rows per table."""
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()
        try:
            dst = sqlite3.connect(target)
            try:
                raw.driver_connection.backup(dst)  # online backup API: a consistent copy
            finally:
                dst.close()
        finally:
            raw.close()
        out = sa.create_engine(f"sqlite:///{target}")
        try:
            md = _tables(out)
            with out.connect() as c:
                return {t.name: int(c.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())
                        for t in md.sorted_tables}
        finally:
            out.dispose()
    src_md = _tables(engine)
    out = sa.create_engine(f"sqlite:///{target}")
    try:
        dst_md = sa.MetaData()
        for t in src_md.sorted_tables:
            cols = [sa.Column(c.name, _portable(c.type), primary_key=c.primary_key, nullable=c.nullable)
                    for c in t.columns]
            sa.Table(t.name, dst_md, *cols)
        dst_md.create_all(out)
        counts = {}
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as src, out.begin() as dst:
            with src.begin():
                for t in src_md.sorted_tables:
                    rows = [dict(r._mapping) for r in src.execute(sa.select(t))]
                    if rows:
                        dst.execute(dst_md.tables[t.name].insert(), rows)
                    counts[t.name] = len(rows)
        return counts
    finally:
        out.dispose()


def _portable(t):
    """A column type SQLite can hold for a PostgreSQL column (JSON and binary kept, the rest generic)."""
    if isinstance(t, sa.JSON):
        return sa.JSON()
    if isinstance(t, sa.LargeBinary):
        return sa.LargeBinary()
    try:
        return t.as_generic()
    except NotImplementedError:
        return sa.Text()


def _restore_sql(src_file: Path, sql_url: str) -> dict:
    """Rows of the backup's SQLite into the target database (which must hold no data)."""
    src = sa.create_engine(f"sqlite:///{src_file}")
    try:
        if sql_url.startswith("sqlite:///"):
            target = Path(sql_url[len("sqlite:///"):])
            target.parent.mkdir(parents=True, exist_ok=True)
            raw = src.raw_connection()
            try:
                dst = sqlite3.connect(target)
                try:
                    raw.driver_connection.backup(dst)
                finally:
                    dst.close()
            finally:
                raw.close()
            md = _tables(src)
            with src.connect() as c:
                return {t.name: int(c.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())
                        for t in md.sorted_tables}
        engine = db.open_engine(sql_url)  # the schema at head, empty
        try:
            dst_md = _tables(engine)
            src_md = _tables(src)
            counts = {}
            with engine.begin() as dst, src.connect() as s:
                for t in dst_md.sorted_tables:
                    if t.name == "alembic_version" or t.name not in src_md.tables:
                        continue
                    rows = [dict(r._mapping) for r in s.execute(sa.select(src_md.tables[t.name]))]
                    if rows:
                        names = {c.name for c in t.columns}
                        dst.execute(t.insert(), [{k: v for k, v in r.items() if k in names} for r in rows])
                    counts[t.name] = len(rows)
                if engine.dialect.name == "postgresql":  # serial ids continue after the restored rows
                    for t in dst_md.sorted_tables:
                        for c in t.primary_key.columns:
                            if c.autoincrement is True or (c.autoincrement == "auto" and
                                                           isinstance(c.type, sa.Integer)):
                                dst.execute(sa.text(
                                    "SELECT setval(pg_get_serial_sequence(:t, :c), "
                                    f"COALESCE((SELECT MAX({c.name}) FROM {t.name}), 0) + 1, false) "
                                    "WHERE pg_get_serial_sequence(:t, :c) IS NOT NULL"), {"t": t.name, "c": c.name})
            return counts
        finally:
            engine.dispose()
    finally:
        src.dispose()


# -- backup ----------------------------------------------------------------------------------------
def backup(ctx, dest: str | Path, *, progress=None) -> BackupManifest:
    """Back up ``ctx``'s ArcticDB libraries and SQL database into the new directory ``dest``.

    Raises
    ------
    BackupError
        ``dest`` exists and is not an empty directory, or is inside the ArcticDB directory.
    StorageError
        A library could not be read.

    Warnings
    --------
    Holds one slice of :data:`COPY_ROWS` rows in memory at a time. Writers keep writing during a
    backup; what they write after the snapshots is not in it.
    """
    t0 = time.perf_counter()
    dest = Path(dest).resolve()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(f"backup target {dest} exists and is not an empty directory: give a new directory")
    arctic = _lmdb_path(ctx.store.uri)
    if arctic is not None and (dest == arctic or arctic in dest.parents):
        raise BackupError(f"backup target {dest} is inside the ArcticDB directory {arctic}: choose another place")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    tmp.mkdir()
    snap = f"{SNAPSHOT_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    snapped: list[str] = []
    try:
        names = ctx.store.library_names()
        for name in names:
            _sweep_snapshots(ctx.store, name)
        snapped = ctx.store.snapshot(snap, names)  # pin every library first: one moment for all of them
        out = Store(f"lmdb://{tmp / ARCTIC_DIR}")
        entries: dict = {}
        listed = {name: ctx.store.snapshot_symbols(name, snap) for name in snapped}
        total = sum(len(v) for v in listed.values()) + 1
        done = 0
        for name, syms in listed.items():
            copied = _copy_library(ctx.store, out, name, syms, snap, progress=progress, done=done, total=total)
            entries[name] = {sym: asdict(e) for sym, e in copied.items()}
            done += len(syms)
        tables = _copy_sql_to_sqlite(ctx.catalog.engine, tmp / SQL_FILE)
        if progress:
            progress(Progress("backup", total, total, "SQL database"))
        man = BackupManifest(dt.datetime.now(dt.timezone.utc).isoformat(), ctx.store.uri,
                             _redacted(str(ctx.catalog.engine.url)), entries, tables,
                             round(time.perf_counter() - t0, 3))
        (tmp / MANIFEST).write_text(json.dumps(man.to_dict(), indent=1))
        if dest.exists():
            dest.rmdir()
        os.replace(tmp, dest)
        return man
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        ctx.store.drop_snapshot(snap, snapped)  # what cannot be dropped now is swept by the next backup


def _redacted(url: str) -> str:
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return "<sql>"


def _lmdb_path(uri: str) -> Path | None:
    return Path(uri[len("lmdb://"):].split("?")[0]).resolve() if uri.startswith("lmdb://") else None


# -- restore ---------------------------------------------------------------------------------------
def _check_empty(settings) -> None:
    d = Path(settings.data_dir)
    if d.exists() and (not d.is_dir() or any(d.iterdir())):
        raise BackupError(f"data directory {d} is not empty: restore only into an empty (or new) data directory "
                          "(set TICKDECK_DATA_DIR to one)")
    arctic = _lmdb_path(settings.arctic_uri)
    if arctic is not None and arctic.exists() and any(arctic.iterdir()):
        raise BackupError(f"ArcticDB directory {arctic} is not empty: restore only into an empty store")
    if arctic is None:
        store = Store(settings.arctic_uri)
        used = [n for n in store.library_names() if store.list_series(n)]
        if used:
            raise BackupError(f"ArcticDB {settings.arctic_uri} already holds libraries {', '.join(used)}: "
                              "restore only into an empty store")
    if not settings.sql_url.startswith("sqlite:///"):
        engine = db.open_engine(settings.sql_url, migrate=False)
        try:
            md = _tables(engine)
            with engine.connect() as c:
                full = [t.name for t in md.sorted_tables if t.name != "alembic_version"
                        and c.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()]
        finally:
            engine.dispose()
        if full:
            raise BackupError(f"SQL database {_redacted(settings.sql_url)} already holds data "
                              f"({', '.join(full[:5])}): restore only into an empty database")
    elif Path(settings.sql_url[len("sqlite:///"):]).exists():
        raise BackupError(f"SQL database file {settings.sql_url[len('sqlite:///'):]} exists: restore only into "
                          "an empty data directory")


def restore(settings, src: str | Path, *, progress=None) -> RestoreReport:
    """Restore the backup at ``src`` into the (empty) data directory / store / database of ``settings``.

    Raises
    ------
    BackupError
        ``src`` is not a complete backup, a frame's sha256 differs from the manifest, or the
        target is not empty (nothing is written then).
    """
    t0 = time.perf_counter()
    src = Path(src).resolve()
    man = BackupManifest.load(src)
    if man.format != FORMAT:
        raise BackupError(f"{src}: backup format {man.format} is not {FORMAT}")
    _check_empty(settings)
    data_dir = Path(settings.data_dir).resolve()
    # What lives inside the data directory (the default layout) is built in a sibling work directory
    # and renamed into place at the end, so a failed restore leaves the data directory as it was.
    # An external store or database is written in place: PostgreSQL in one transaction (all or
    # nothing); an external ArcticDB keeps what was copied before a failure (the error says so).
    arctic_inside = _lmdb_path(settings.arctic_uri) == data_dir / "arctic"
    sql_inside = settings.sql_url == f"sqlite:///{data_dir / 'tickdeck.db'}"
    work = data_dir.with_name(f".{data_dir.name}.restoring-{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    arctic_uri = f"lmdb://{work / 'arctic'}" if arctic_inside else settings.arctic_uri
    sql_url = f"sqlite:///{work / 'tickdeck.db'}" if sql_inside else settings.sql_url
    try:
        source = Store(f"lmdb://{src / ARCTIC_DIR}")
        target = Store(arctic_uri)
        rows, done = 0, 0
        try:
            for name, syms in man.libraries.items():
                copied = _copy_library(source, target, name, list(syms), None, expect=syms, progress=progress,
                                       stage="restore", done=done, total=man.symbols)
                rows += sum(e.rows for e in copied.values())
                done += len(copied)
        except BackupError as e:
            if not arctic_inside:
                raise BackupError(f"{e}; {done} symbols were already copied into {settings.arctic_uri}: "
                                  "empty it before restoring another backup") from None
            raise
        tables = _restore_sql(src / SQL_FILE, sql_url)
        tick_days = _reconcile(target, sql_url)
        if data_dir.exists():
            data_dir.rmdir()  # empty (checked above)
        os.replace(work, data_dir)
        return RestoreReport(str(data_dir), done, rows, tables, tick_days, round(time.perf_counter() - t0, 3))
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def _reconcile(store: Store, sql_url: str) -> int:
    """Tick-day rows that disagree with the restored days' own metadata (ingest, tick count) are
    rewritten from it; rows of days not restored are removed. Returns the rows rewritten."""
    catalog = Catalog(sql_url)
    try:
        infos: list[DayInfo] = store.day_infos()
        with catalog.Session() as s:
            rows = {(r.symbol, r.day): (r.ingest_id, r.ticks) for r in
                    s.execute(sa.select(db.TickDay.symbol, db.TickDay.day, db.TickDay.ingest_id, db.TickDay.ticks))}
        have = {(i.symbol, i.day) for i in infos}
        for key in rows.keys() - have:
            catalog.delete_tick_day(*key)
        stale = [i for i in infos if rows.get((i.symbol, i.day)) != (i.ingest_id, i.ticks)]
        return catalog.upsert_tick_days(stale) if stale else 0
    finally:
        catalog.engine.dispose()


# -- rotation --------------------------------------------------------------------------------------
def backup_name(now: dt.datetime | None = None) -> str:
    return (now or dt.datetime.now(dt.timezone.utc)).strftime(BACKUP_NAME)


def rotate(root: str | Path, *, daily: int = 7, weekly: int = 4, monthly: int = 12, dry_run: bool = False
           ) -> tuple[list[str], list[str]]:
    """Keep the newest backup of each of the last ``daily`` days, ``weekly`` ISO weeks and ``monthly``
    months in ``root`` (names :data:`BACKUP_NAME`); delete the others. Returns (kept, deleted) names.

    Only complete backups (with a manifest) named by :func:`backup_name` are considered; other
    entries of ``root`` are never touched.
    """
    root = Path(root)
    found = sorted((p.name for p in root.iterdir() if p.is_dir() and _BACKUP_NAME.match(p.name)
                    and (p / MANIFEST).is_file()), reverse=True) if root.is_dir() else []
    keep: set[str] = set()
    for count, key in ((daily, lambda t: t.date()), (weekly, lambda t: t.isocalendar()[:2]),
                       (monthly, lambda t: (t.year, t.month))):
        seen: list = []
        for name in found:  # newest first: the first of each period is its newest
            k = key(dt.datetime.strptime(name, BACKUP_NAME))
            if k in seen:
                continue
            if len(seen) >= count:
                break
            seen.append(k)
            keep.add(name)
    gone = [n for n in found if n not in keep]
    if not dry_run:
        for n in gone:
            shutil.rmtree(root / n, ignore_errors=True)
    return sorted(keep), gone


# -- the job's parameters --------------------------------------------------------------------------
@dataclass(frozen=True)
class BackupParams:
    """What a backup run is asked: a target directory ``to``, or a ``root`` folder of rotated backups
    with the daily/weekly/monthly counts to keep (:func:`rotate`)."""

    to: str = ""
    root: str = ""
    keep_daily: int = 7
    keep_weekly: int = 4
    keep_monthly: int = 12

    @classmethod
    def parse(cls, params: dict) -> "BackupParams":
        """From job or CLI params.

        Raises
        ------
        BackupError
            Neither or both of ``to`` and ``root``, an unknown key, or a count that is not a whole number >= 0.
        """
        known = {"to", "root", "keep_daily", "keep_weekly", "keep_monthly"}
        extra = sorted(set(params) - known)
        if extra:
            raise BackupError(f"backup params: unknown key {extra[0]!r} (use {', '.join(sorted(known))})")
        to, root = str(params.get("to") or ""), str(params.get("root") or "")
        if bool(to) == bool(root):
            raise BackupError("backup params need exactly one of 'to' (a new directory) or 'root' "
                              "(a folder of rotated backups)")
        counts = {}
        for k in ("keep_daily", "keep_weekly", "keep_monthly"):
            v = params.get(k, getattr(cls, k))
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise BackupError(f"backup params: {k} must be a whole number >= 0, got {v!r}")
            counts[k] = v
        return cls(to, root, **counts)

    def to_params(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v not in ("", None)}


@dataclass(frozen=True)
class BackupRun:
    path: str
    manifest: BackupManifest
    kept: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        m = self.manifest
        return {"path": self.path, "symbols": m.symbols, "libraries": len(m.libraries),
                "sql_tables": len(m.sql_tables), "elapsed_s": m.elapsed_s, "kept": list(self.kept),
                "deleted": list(self.deleted)}


def run_backup(ctx, params: BackupParams, *, progress=None, now: dt.datetime | None = None) -> BackupRun:
    """One backup: into ``params.to``, or a new time-named directory in ``params.root`` followed by
    :func:`rotate` with the params' counts."""
    if params.to:
        man = backup(ctx, params.to, progress=progress)
        return BackupRun(str(Path(params.to).resolve()), man)
    root = Path(params.root).resolve()
    path = root / backup_name(now)
    man = backup(ctx, path, progress=progress)
    kept, gone = rotate(root, daily=params.keep_daily, weekly=params.keep_weekly, monthly=params.keep_monthly)
    return BackupRun(str(path), man, tuple(kept), tuple(gone))
