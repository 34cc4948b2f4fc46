"""The time-series store over ArcticDB: tick days, bar series and indicators.

Libraries ``ticks``, ``bars_<family>`` and ``indicators``; symbols are built in
:mod:`core.naming`. A tick day is written whole with :meth:`Store.write_day` — ArcticDB
publishes a new version atomically, so readers see the old day or the new one, never a mix.
Tier-1 metadata (:class:`DayInfo`) is computed on write and kept as the version's metadata so
listings never load a frame.

A day too large to hold whole in memory is written in slices with :meth:`Store.stage_day`
(ArcticDB staged writes): each slice is staged, invisible to readers, and
:meth:`DayStage.commit` publishes them all as one new version with the day's metadata, exactly
as :meth:`Store.write_day` would (same kept versions); until then readers see the old day, and
a failed or abandoned stage leaves nothing behind but the old day.

Previous versions of a tick day
-------------------------------
Replacing a day keeps the version it replaces: the last :data:`KEEP_PREVIOUS_VERSIONS` replaced
versions stay readable (:meth:`Store.day_versions`) and can be brought back
(:meth:`Store.restore_day`, ``tickdeck restore-day``); older ones are deleted by the next
replace, and the retention job deletes kept versions older than its ``previous_versions_days``.
Appends (live collection) supersede the version they append to, which is deleted (pruned as
before when the day has no kept versions). Versions are ArcticDB versions of the day's symbol,
not snapshots: pruning a symbol checks every snapshot of its library, so snapshots per replaced
day would make every write slower as they accumulate (27 ms vs 3.6 ms per write at 1,000).

Warnings
--------
One writer per ArcticDB symbol at a time (different days may be written in parallel).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import arcticdb as adb
import numpy as np
import pandas as pd

from tickdeck.core import metrics, naming
from tickdeck.core.errors import DayNotFound, NotFound, SchemaError, StorageError, SymbolNotFound, TickdeckError
from tickdeck.core.schema import SESSION_BY_NAME, STORED_COLUMNS, TZ, validate_frame

SESSIONS = ("pre", "regular", "after", "all")
# Replaced versions of a tick day kept for restore: a bad import, its fix and one more mistake
# can each be undone, while a day never costs more than 4x its size.
KEEP_PREVIOUS_VERSIONS = 3
LMDB_LOCK_WAIT_MS = 20  # ArcticDB storage-lock settle time on LMDB (default 1,000 ms, for S3)
KEPT_KEY = "kept_versions"  # version metadata: versions kept at the last replace (a hint for appends)
FRAME_CACHE_BYTES = 1_500_000_000  # shared read cache: browser sessions on one day share one frame
# A reader that resolved a version just before a rewrite pruned it finds its keys gone; the
# newer version is complete by then, so reading again returns it (old or new, never a mix).
READ_RETRIES = 5


_CREDENTIALS = re.compile(r"((?:secret|access|AccountKey|SharedAccessSignature)=)[^&;\s]*", re.I)


def redacted_uri(uri: str) -> str:
    """``uri`` with its credentials (ArcticDB's S3 ``access=``/``secret=``, Azure's ``AccountKey=``) replaced
    by ``***``: for messages and logs."""
    return _CREDENTIALS.sub(r"\1***", uri)


def _pruned_under_us(e: Exception) -> bool:
    text = f"{type(e).__name__} {e}"
    return "KeyNotFound" in text or "Not found" in text or "NoSuchVersion" in text


def _read_retrying(fn):
    for attempt in range(READ_RETRIES):
        try:
            return fn()
        except Exception as e:  # noqa: BLE001
            if attempt == READ_RETRIES - 1 or not _pruned_under_us(e):
                raise


@dataclass(frozen=True)
class DayVersion:
    """One stored version of a tick day (the current one or a kept previous one)."""

    version: int
    current: bool
    written_at: pd.Timestamp | None  # when this version was written
    source: str
    ticks: int
    ingest_id: str
    first: pd.Timestamp | None
    last: pd.Timestamp | None


@dataclass(frozen=True)
class DayInfo:
    """Tier-1 metadata of one stored tick day."""

    symbol: str
    day: dt.date
    ticks: int
    first: pd.Timestamp | None
    last: pd.Timestamp | None
    volume: int
    dollar_volume: float
    vwap: float | None
    open: float | None
    high: float | None
    low: float | None
    close: float | None
    avg_spread_bps: float | None
    pre_ticks: int
    regular_ticks: int
    after_ticks: int
    outside_ticks: int
    source: str = ""
    ingest_id: str = ""
    written_at: pd.Timestamp | None = None
    extra: dict = dataclasses.field(default_factory=dict)  # ingest counters (duplicates dropped, …)

    def to_meta(self) -> dict:
        d = dataclasses.asdict(self)
        d["day"] = self.day.isoformat()
        for k in ("first", "last", "written_at"):
            d[k] = None if d[k] is None else int(pd.Timestamp(d[k]).value)
        return d

    @classmethod
    def from_meta(cls, meta: dict) -> "DayInfo":
        m = dict(meta)
        m["day"] = dt.date.fromisoformat(m["day"])
        for k in ("first", "last", "written_at"):
            if m.get(k) is not None:
                m[k] = pd.Timestamp(int(m[k]), tz="UTC").tz_convert(TZ)
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in m.items() if k in known})


def _f(x) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


def compute_day_info(symbol: str, day, df: pd.DataFrame, extra: dict | None = None) -> DayInfo:
    """Tier-1 statistics of a tick frame, vectorised."""
    if len(df) == 0:
        return day_info_from_columns(symbol, day, {}, first=None, last=None, extra=extra)
    return day_info_from_columns(symbol, day, {c: df[c] for c in _INFO_COLUMNS if c in df}, first=df.index[0],
                                 last=df.index[-1], extra=extra)


_INFO_COLUMNS = ("last", "last_sz", "dollar_volume", "session", "spread_bps", "source", "ingest_id")


def day_info_from_columns(symbol: str, day, columns, *, first, last, extra: dict | None = None) -> DayInfo:
    """:func:`compute_day_info` without a frame (for a day written in slices): the day's
    ``columns`` (arrays or Series of ``last``, ``last_sz``, ``dollar_volume``, ``session``,
    ``spread_bps``, ``source``, ``ingest_id``; empty for an empty day) and the times of its first
    and last ticks."""
    n = len(columns["last"]) if columns else 0
    if n == 0:
        return DayInfo(symbol, naming.as_date(day), 0, None, None, 0, 0.0, None, None, None, None, None,
                       None, 0, 0, 0, 0, written_at=pd.Timestamp.now(tz=TZ), extra=extra or {})

    def col(name, dtype):
        c = columns[name]
        return c.to_numpy(dtype) if isinstance(c, pd.Series) else np.asarray(c, dtype=dtype)

    first_ts, last_ts = first, last
    last = col("last", np.float64)
    size = col("last_sz", np.int64)
    vol = int(size.sum())
    # notional in currency from the enriched column (instrument multiplier and size decimals
    # applied); the VWAP is a price, weighted by the stored size units
    dollar = float(np.nansum(col("dollar_volume", np.float64))) if "dollar_volume" in columns \
        else float(np.dot(last, size.astype(np.float64)))
    pv = float(np.dot(last, size.astype(np.float64)))
    session = col("session", np.int8)
    counts = [int(np.count_nonzero(session == code)) for code in (-1, 0, 1, 2)]  # outside, pre, regular, after
    bps = col("spread_bps", np.float64)
    ok = np.isfinite(bps)

    def first_value(name):
        c = columns[name]
        return str(c.iat[0] if isinstance(c, pd.Series) else c[0])

    return DayInfo(
        symbol=symbol,
        day=naming.as_date(day),
        ticks=n,
        first=first_ts,
        last=last_ts,
        volume=vol,
        dollar_volume=dollar,
        vwap=pv / vol if vol else None,
        open=_f(last[0]),
        high=_f(last.max()),
        low=_f(last.min()),
        close=_f(last[-1]),
        avg_spread_bps=_f(bps[ok].mean()) if ok.any() else None,
        pre_ticks=int(counts[1]),
        regular_ticks=int(counts[2]),
        after_ticks=int(counts[3]),
        outside_ticks=int(counts[0]),
        source=first_value("source"),
        ingest_id=first_value("ingest_id"),
        written_at=pd.Timestamp.now(tz=TZ),
        extra=extra or {},
    )


def _session_query(session) -> adb.QueryBuilder | None:
    if session in (None, "all"):
        return None
    names = [session] if isinstance(session, str) else list(session)
    codes = []
    for s in names:
        if s not in SESSION_BY_NAME:
            raise SchemaError("session", f"unknown session {s!r}; use one of {', '.join(SESSIONS)}")
        codes.append(SESSION_BY_NAME[s])
    q = adb.QueryBuilder()
    return q[q.session.isin(codes)] if len(codes) > 1 else q[q.session == codes[0]]


class FrameCache:
    """A thread-safe LRU of read-only frames bounded by their memory size."""

    def __init__(self, max_bytes: int = FRAME_CACHE_BYTES):
        self.max_bytes = max_bytes
        self._items: OrderedDict = OrderedDict()
        self._sizes: dict = {}
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key):
        with self._lock:
            df = self._items.get(key)
            metrics.cache_lookup("frames", df is not None)
            if df is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return df

    def put(self, key, df: pd.DataFrame) -> None:
        size = int(df.memory_usage(index=True, deep=False).sum())
        if size > self.max_bytes:
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key], self._sizes[key] = df, size
            self._bytes += size
            while self._bytes > self.max_bytes:
                old, _ = self._items.popitem(last=False)
                self._bytes -= self._sizes.pop(old)

    @property
    def nbytes(self) -> int:
        return self._bytes


_LIBC: dict = {}


def _libc(name: str):
    """A libc function taking integers (ctypes), or None off Linux / glibc."""
    if name not in _LIBC:
        import ctypes
        import sys

        sig = {"malloc_trim": ([ctypes.c_size_t], ctypes.c_int)}[name]
        f = None
        if sys.platform.startswith("linux"):
            try:
                f = getattr(ctypes.CDLL(None, use_errno=True), name)
                f.argtypes, f.restype = sig
            except (OSError, AttributeError):
                f = None
        _LIBC[name] = f
    return _LIBC[name]


def trim_heap() -> None:
    """Hand freed heap memory back to the system (glibc ``malloc_trim``; no-op elsewhere).

    ArcticDB's worker threads free the segments they encoded or compacted into their own
    malloc arenas, where the pages stay resident (~170 MB after publishing a 5,000,000-tick
    day) until trimmed.
    """
    f = _libc("malloc_trim")
    if f is not None:
        f(0)


_LOG_SET = False


def _quiet_compaction_log() -> None:
    """ArcticDB logs every segment it compacts when staged slices are published (INFO on its
    ``version`` logger): one line per 100,000 ticks on the console of ``tickdeck import``.
    Turned down to WARN once per process, unless ``ARCTICDB_*_loglevel`` variables say otherwise."""
    global _LOG_SET
    if _LOG_SET or any(k.startswith("ARCTICDB_") and k.lower().endswith("_loglevel") for k in os.environ):
        return
    _LOG_SET = True
    adb.config.set_log_level(specific_log_levels={"version": "WARN"})


class Store:
    """ArcticDB-backed storage of tick days, bar series and indicators.

    Parameters
    ----------
    uri
        Any ArcticDB URI; ``lmdb://`` paths are created when missing.
    """

    def __init__(self, uri: str):
        # Resolve the latest version on every read (ArcticDB caches the version map for a few
        # seconds by default): readers in other processes then never chase a pruned version.
        adb.config.set_config_int("VersionMap.ReloadInterval", 0)
        _quiet_compaction_log()
        if uri.startswith("lmdb://"):
            # Listing symbols compacts ArcticDB's symbol list under a storage lock that waits
            # StorageLock.WaitMs (1 s) to see whether another writer raced it — meant for
            # eventually consistent object stores. LMDB commits are atomic and local, so a short
            # wait is as safe and the first listing after writes no longer costs a second.
            adb.config.set_config_int("StorageLock.WaitMs", LMDB_LOCK_WAIT_MS)
        self.uri = uri
        if uri.startswith("lmdb://"):
            Path(uri[len("lmdb://"):].split("?")[0]).mkdir(parents=True, exist_ok=True)
        try:
            self._ac = adb.Arctic(uri)
            if not uri.startswith(("lmdb://", "mem://")):
                self._ac.list_libraries()  # ArcticDB connects lazily: an unreachable store fails here, not in a page
        except Exception as e:
            raise StorageError(redacted_uri(uri), "open", redacted_uri(str(e))) from None
        self._libs: dict[str, adb.library.Library] = {}
        self.frame_cache = FrameCache()

    # -- libraries ------------------------------------------------------------------------
    def library(self, name: str, create: bool = True):
        lib = self._libs.get(name)
        if lib is None:
            try:
                if not create and not self._ac.has_library(name):
                    raise NotFound(f"library {name!r} does not exist")
                lib = self._ac.get_library(name, create_if_missing=create)
            except NotFound:
                raise
            except Exception as e:
                raise StorageError(name, "open library", str(e)) from e
            self._libs[name] = lib
        return lib

    def library_names(self) -> list[str]:
        return sorted(self._ac.list_libraries())

    @property
    def ticks(self):
        return self.library(naming.TICKS_LIBRARY)

    # -- tick days ------------------------------------------------------------------------
    def write_day(self, ticker: str, day, df: pd.DataFrame, *, extra: dict | None = None) -> DayInfo:
        """Validate and write one whole tick day, replacing the current version.

        The replaced version is kept (with at most :data:`KEEP_PREVIOUS_VERSIONS` replaced
        versions per day; older ones are deleted), see :meth:`day_versions` and
        :meth:`restore_day`.

        Raises
        ------
        SchemaError
            The frame does not match the schema; nothing is written.
        StorageError
            ArcticDB failed; the previous version (if any) is still the one readers see.
        """
        ticker = naming.normalize_ticker(ticker)
        day = naming.as_date(day)
        validate_frame(df)
        info = compute_day_info(ticker, day, df, extra)
        sym = naming.tick_symbol(ticker, day)
        frame = df if list(df.columns) == STORED_COLUMNS else df[STORED_COLUMNS]  # no 40-column copy when in order
        self._publish(sym, info, lambda meta: self.ticks.write(sym, frame, metadata=meta,
                                                               prune_previous_versions=False))
        return info

    def _publish(self, sym: str, info: DayInfo, write) -> None:
        """Write a new version of a tick day with ``write(metadata)``, keeping the replaced ones."""
        try:
            live = self._live_versions(sym)
            keep, drop = live[-KEEP_PREVIOUS_VERSIONS:], live[:-KEEP_PREVIOUS_VERSIONS]
            meta = info.to_meta()
            if keep:
                meta[KEPT_KEY] = keep[::-1]
            write(meta)
        except Exception as e:
            raise StorageError(sym, "write", str(e)) from e
        if drop:  # the new version is complete: beyond the bound, the oldest replaced versions go
            self._delete_versions(sym, drop)

    def stage_day(self, ticker: str, day) -> "DayStage":
        """Start writing one tick day in slices (see :class:`DayStage`).

        Staged data a killed writer of the same day left behind is deleted first (one writer
        per day at a time).
        """
        ticker = naming.normalize_ticker(ticker)
        day = naming.as_date(day)
        return DayStage(self, ticker, day)

    def prune_kept_versions(self, older_than: pd.Timestamp, *, dry_run: bool = False) -> list[tuple[str, int]]:
        """Delete kept (replaced) versions of tick days replaced before ``older_than``.

        A kept version counts as replaced when the next stored version of its day was written,
        so it stays restorable for the whole retention period after a replace. Returns the
        ``(symbol, version)`` pairs deleted (or, with ``dry_run``, that would be).
        """
        syms = self._tick_symbols(None)
        metas = self.ticks.read_metadata_batch(syms) if syms else []
        cutoff = pd.Timestamp(older_than)
        cutoff = cutoff.tz_localize("UTC") if cutoff.tz is None else cutoff
        out = []
        for sym, m in zip(syms, metas):
            if not (getattr(m, "metadata", None) or {}).get(KEPT_KEY):
                continue
            live = sorted((k.version, v.date) for k, v in self.ticks.list_versions(sym).items() if not v.deleted)
            old = [v for (v, _), (_, replaced_at) in zip(live[:-1], live[1:]) if replaced_at < cutoff]
            if old and not dry_run:
                self._delete_versions(sym, old)
            out += [(sym, v) for v in old]
        return out

    def _live_versions(self, sym: str) -> list[int]:
        """Undeleted versions of a symbol, ascending (empty when it is not stored)."""
        return sorted(k.version for k, v in self.ticks.list_versions(sym).items() if not v.deleted)

    def _delete_versions(self, sym: str, versions: list[int]) -> None:
        try:
            self.ticks.delete(sym, versions=list(versions))
        except Exception as e:  # noqa: BLE001 - the write succeeded; the next replace or retention retries
            import logging

            logging.getLogger(__name__).warning("could not delete old versions %s of %s: %s", versions, sym, e)

    def day_versions(self, ticker: str, day) -> list[DayVersion]:
        """The stored versions of a day, newest (current) first: metadata reads only.

        Raises
        ------
        DayNotFound
            Nothing is stored for ``ticker`` on ``day``.
        """
        sym = naming.tick_symbol(ticker, day)
        live = self._live_versions(sym)
        if not live:
            raise DayNotFound(naming.normalize_ticker(ticker), naming.as_date(day))
        metas = self.ticks.read_metadata_batch([adb.ReadInfoRequest(sym, as_of=v) for v in live[::-1]])
        out = []
        for v, m in zip(live[::-1], metas):
            meta = getattr(m, "metadata", None)
            if not meta:  # deleted under us
                continue
            i = DayInfo.from_meta(meta)
            out.append(DayVersion(v, v == live[-1], i.written_at, i.source, i.ticks, i.ingest_id, i.first, i.last))
        return out

    def restore_day(self, ticker: str, day, version: int) -> DayInfo:
        """Make a kept version of a day the current one again (written as a new version).

        The version it replaces is kept like any replaced version, so a restore can itself be
        undone. Returns the restored day's metadata (same ticks and ``ingest_id`` as ``version``).

        Raises
        ------
        DayNotFound
            Nothing is stored for ``ticker`` on ``day``.
        VersionNotFound
            ``version`` is not a kept version of the day (the message lists those that are).
        """
        from tickdeck.core.errors import VersionNotFound

        ticker, day = naming.normalize_ticker(ticker), naming.as_date(day)
        sym = naming.tick_symbol(ticker, day)
        live = self._live_versions(sym)
        if not live:
            raise DayNotFound(ticker, day)
        if version == live[-1]:
            raise VersionNotFound(f"version {version} of {ticker} {day} is already the current one")
        if version not in live:
            kept = ", ".join(str(v) for v in live[:-1][::-1]) or "none"
            raise VersionNotFound(f"{ticker} {day} has no kept version {version} (kept: {kept}; current: {live[-1]})")
        try:
            old = self.ticks.read(sym, as_of=version)
        except Exception as e:
            raise StorageError(sym, f"read version {version}", str(e)) from e
        extra = dict(DayInfo.from_meta(old.metadata).extra) if old.metadata else {}
        return self.write_day(ticker, day, old.data, extra=extra)

    def append_day(self, ticker: str, day, df: pd.DataFrame, *, extra: dict | None = None) -> DayInfo:
        """Append later ticks to a stored day (live collection) and refresh its metadata.

        The appended frame must start at or after the stored day's last timestamp.
        """
        ticker = naming.normalize_ticker(ticker)
        sym = naming.tick_symbol(ticker, day)
        validate_frame(df)
        if not self.ticks.has_symbol(sym):
            return self.write_day(ticker, day, df, extra=extra)
        try:
            head = _read_retrying(lambda: self.ticks.read_metadata(sym))
        except Exception as e:
            raise StorageError(sym, "read metadata", str(e)) from e
        if not head.metadata:
            raise DayNotFound(ticker, naming.as_date(day))
        old = DayInfo.from_meta(head.metadata)
        if len(df) and old.last is not None and df.index[0] < old.last:
            raise SchemaError("timestamp", f"append starts at {df.index[0]} before the stored last tick {old.last}",
                              row=0)
        merged = _merge_info(old, compute_day_info(ticker, day, df, extra)) if len(df) else old
        kept = head.metadata.get(KEPT_KEY)
        try:
            self.ticks.append(sym, df[STORED_COLUMNS], metadata=_with_kept(merged.to_meta(), kept),
                              prune_previous_versions=not kept)
        except Exception as e:
            raise StorageError(sym, "append", str(e)) from e
        if kept:  # keep the replaced versions; only the one appended to is superseded
            self._delete_versions(sym, [head.version])
        return merged

    def append_days_batch(self, items: list[tuple[str, object, pd.DataFrame]]) -> list:
        """:meth:`append_day` for many stored days in one ArcticDB call (live collection).

        Returns one :class:`DayInfo` or error (``TickdeckError``) per item, in order, instead of
        raising on the first failure. Days not stored yet are written with :meth:`write_day`.
        """
        out: list = [None] * len(items)
        syms = [naming.tick_symbol(t, d) for t, d, _ in items]
        metas = self.ticks.read_metadata_batch(syms) if items else []
        pending, ref = [], None
        for i, (ticker, day, df) in enumerate(items):
            try:
                # frames with the dtypes of one already validated need only the index and value checks
                same = ref is not None and list(df.columns) == list(ref.columns) and df.dtypes.equals(ref.dtypes)
                validate_frame(df, columns=["last", "last_sz"] if same else None)
                ref = ref if same else df
                if getattr(metas[i], "metadata", None) is None:
                    if self.ticks.has_symbol(syms[i]):  # stored but unreadable: never replace it with a batch
                        raise StorageError(syms[i], "read metadata", str(metas[i]))
                    out[i] = self.write_day(ticker, day, df)  # first ticks of the day
                else:
                    pending.append(i)
            except TickdeckError as e:
                out[i] = e
        # days with kept versions (replaced earlier) are appended without pruning them (rare)
        groups: dict[bool, tuple[list, list]] = {True: ([], []), False: ([], [])}
        for i in pending:
            ticker, day, df = items[i]
            old = DayInfo.from_meta(metas[i].metadata)
            if len(df) and old.last is not None and df.index[0] < old.last:
                out[i] = SchemaError("timestamp", f"append starts at {df.index[0]} before the stored last tick "
                                     f"{old.last}", row=0)
                continue
            merged = _merge_info(old, compute_day_info(naming.normalize_ticker(ticker), day, df)) if len(df) else old
            frame = df if list(df.columns) == STORED_COLUMNS else df[STORED_COLUMNS]
            kept = metas[i].metadata.get(KEPT_KEY)
            payloads, targets = groups[not kept]
            payloads.append(adb.WritePayload(syms[i], frame, metadata=_with_kept(merged.to_meta(), kept)))
            targets.append((i, merged))
        for prune, (payloads, targets) in groups.items():
            if not payloads:
                continue
            try:
                res = self.ticks.append_batch(payloads, prune_previous_versions=prune)
            except Exception as e:  # the whole call failed: every item reports it
                res = [e] * len(payloads)
            for (i, merged), r, p in zip(targets, res, payloads):
                ok = hasattr(r, "version")
                out[i] = merged if ok else StorageError(p.symbol, "append", str(r))
                if ok and not prune:
                    self._delete_versions(p.symbol, [metas[i].version])
        return out

    def has_day(self, ticker: str, day) -> bool:
        return self.ticks.has_symbol(naming.tick_symbol(ticker, day))

    def day_info(self, ticker: str, day) -> DayInfo:
        """Tier-1 metadata of a stored day without reading its data."""
        sym = naming.tick_symbol(ticker, day)
        try:
            meta = _read_retrying(lambda: self.ticks.read_metadata(sym).metadata)
        except Exception as e:
            if not self.ticks.has_symbol(sym):
                raise DayNotFound(naming.normalize_ticker(ticker), naming.as_date(day)) from None
            raise StorageError(sym, "read metadata", str(e)) from e
        if meta is None:
            raise DayNotFound(naming.normalize_ticker(ticker), naming.as_date(day))
        return DayInfo.from_meta(meta)

    def day_infos(self, ticker: str | None = None) -> list[DayInfo]:
        """Tier-1 metadata of every stored day (of one ticker or all), metadata reads only."""
        syms = self._tick_symbols(ticker)
        if not syms:
            return []
        res = self.ticks.read_metadata_batch(syms)
        return [DayInfo.from_meta(r.metadata) for r in res if getattr(r, "metadata", None)]

    def read_day(self, ticker: str, day, *, columns: list[str] | None = None, session=None) -> pd.DataFrame:
        """One stored day, optionally only some columns and sessions."""
        sym = naming.tick_symbol(ticker, day)
        if not self.ticks.has_symbol(sym):
            raise DayNotFound(naming.normalize_ticker(ticker), naming.as_date(day))
        q = _session_query(session)
        try:
            return _read_retrying(lambda: self.ticks.read(sym, columns=columns, query_builder=q).data)
        except Exception as e:
            raise StorageError(sym, "read", str(e)) from e

    def read_range(self, ticker: str, start, end, *, columns: list[str] | None = None, session=None,
                   cached: bool = False) -> pd.DataFrame:
        """Stored days in ``[start, end]`` concatenated in time order.

        With ``cached=True`` the frame comes from (and goes to) the store's shared
        :class:`FrameCache`, keyed by the days' ingest ids, so a rewritten day is never served
        stale. Warnings: a cached frame is shared — treat it as read-only.
        """
        days = [d for d in self.list_days(ticker) if naming.as_date(start) <= d <= naming.as_date(end)]
        if not days:
            raise DayNotFound(naming.normalize_ticker(ticker), f"{naming.as_date(start)}..{naming.as_date(end)}")
        if cached:
            metas = self.ticks.read_metadata_batch([naming.tick_symbol(ticker, d) for d in days])
            versions = tuple((getattr(m, "version", None), (getattr(m, "metadata", None) or {}).get("ingest_id"))
                             for m in metas)
            key = (naming.normalize_ticker(ticker), tuple(days), tuple(columns or ()), str(session), versions)
            hit = self.frame_cache.get(key)
            if hit is not None:
                return hit
            df = self.read_range(ticker, start, end, columns=columns, session=session)
            self.frame_cache.put(key, df)
            return df
        q = _session_query(session)
        reqs = [adb.ReadRequest(naming.tick_symbol(ticker, d), columns=columns, query_builder=q) for d in days]
        res = self.ticks.read_batch(reqs)
        frames = []
        for req, r in zip(reqs, res):
            if not hasattr(r, "data"):  # e.g. a version pruned by a concurrent rewrite: read it alone
                try:
                    r = _read_retrying(lambda req=req: self.ticks.read(req.symbol, columns=columns, query_builder=q))
                except Exception as e:
                    raise StorageError(req.symbol, "read", str(e)) from e
            frames.append(r.data)
        return pd.concat(frames) if len(frames) > 1 else frames[0]

    def delete_day(self, ticker: str, day) -> None:
        sym = naming.tick_symbol(ticker, day)
        if not self.ticks.has_symbol(sym):
            raise DayNotFound(naming.normalize_ticker(ticker), naming.as_date(day))
        self.ticks.delete(sym)

    def _tick_symbols(self, ticker: str | None) -> list[str]:
        if ticker is None:
            return sorted(self.ticks.list_symbols())
        t = naming.normalize_ticker(ticker)
        return sorted(self.ticks.list_symbols(regex="^" + _re_escape(t) + "/"))

    def list_days(self, ticker: str) -> list[dt.date]:
        """Days stored for a ticker, ascending (empty list when none)."""
        return [naming.parse_tick_symbol(s).day for s in self._tick_symbols(ticker)]

    def list_tickers(self) -> list[str]:
        return sorted({naming.parse_tick_symbol(s).ticker for s in self._tick_symbols(None)})

    def require_ticker(self, ticker: str) -> list[dt.date]:
        days = self.list_days(ticker)
        if not days:
            raise SymbolNotFound(naming.normalize_ticker(ticker))
        return days

    # -- generic series (bars, indicators) -------------------------------------------------
    def write_series(self, library: str, symbol: str, df: pd.DataFrame, metadata: dict | None = None) -> None:
        try:
            self.library(library).write(symbol, df, metadata=metadata, prune_previous_versions=True)
        except Exception as e:
            raise StorageError(symbol, f"write to {library}", str(e)) from e

    def write_series_batch(self, library: str, items: Iterable[tuple[str, pd.DataFrame, dict | None]]) -> list:
        """Write many series; returns per-item results (None or the error) instead of raising."""
        payloads = [adb.WritePayload(s, df, metadata=m) for s, df, m in items]
        if not payloads:
            return []
        res = self.library(library).write_batch(payloads, prune_previous_versions=True)
        return [None if hasattr(r, "version") else r for r in res]

    def append_series(self, library: str, symbol: str, df: pd.DataFrame, metadata: dict | None = None) -> None:
        """Append rows to a series (created by the first append); used by the live journal and by
        backups copying a large series slice by slice. The previous version is pruned; ``metadata``
        (when given) becomes the new version's metadata."""
        try:
            self.library(library).append(symbol, df, metadata=metadata, prune_previous_versions=True)
        except Exception as e:
            raise StorageError(symbol, "append", str(e)) from e

    def read_series(self, library: str, symbol: str, columns: list[str] | None = None,
                    row_range: tuple[int, int | None] | None = None) -> tuple[pd.DataFrame, dict | None]:
        lib = self.library(library)
        if not lib.has_symbol(symbol):
            raise NotFound(f"{symbol} is not stored in {library}")
        r = _read_retrying(lambda: lib.read(symbol, columns=columns, row_range=row_range))
        return r.data, r.metadata

    def series_metadata(self, library: str, symbol: str) -> dict | None:
        return self.library(library).read_metadata(symbol).metadata

    def list_series(self, library: str, prefix: str = "") -> list[str]:
        if library not in self._ac.list_libraries():
            return []
        lib = self.library(library)
        return sorted(lib.list_symbols(regex="^" + _re_escape(prefix)) if prefix else lib.list_symbols())

    def delete_series(self, library: str, symbol: str) -> None:
        self.library(library).delete(symbol)

    # -- verbs for the services that used to open libraries themselves --------------------
    def has_series(self, library: str, symbol: str) -> bool:
        """True when ``symbol`` is stored in ``library``; a missing library is not created."""
        try:
            return self.library(library, create=False).has_symbol(symbol)
        except NotFound:
            return False

    def series_rows(self, library: str, symbol: str) -> int:
        """Stored rows of a series, from its description (no data read)."""
        return int(self.library(library).get_description(symbol).row_count)

    def series_bytes(self, library: str, symbol: str) -> int:
        """Compressed bytes of a series (all its versions); 0 when the backend cannot say."""
        try:
            sizes = self.library(library).admin_tools().get_sizes_for_symbol(symbol)
            return int(sum(s.bytes_compressed for s in sizes.values()))
        except Exception:  # noqa: BLE001 - size is informative; never block a caller on it
            return 0

    def compact_symbol_list(self, library: str) -> None:
        """Compact the library's symbol list (after many deletions; an optimisation for listings)."""
        self.library(library).compact_symbol_list()

    def series_metadata_batch(self, library: str, symbols: list[str]) -> list[dict | None]:
        """The latest version's metadata of each symbol (``None`` where it has none or cannot be read)."""
        if not symbols:
            return []
        return [getattr(m, "metadata", None) for m in self.library(library).read_metadata_batch(symbols)]

    def read_day_arrow(self, ticker: str, day, *, columns: list[str] | None = None, session=None,
                       slice_rows: int = 300_000) -> Iterator:
        """One stored tick day as ``pyarrow.Table`` slices of at most ``slice_rows`` stored rows each.

        The first column is ``timestamp``; schema metadata is dropped; string columns may come
        dictionary-encoded (ArcticDB's cheapest string output). Every slice is read from the
        version the first read saw (``as_of``), so a day re-collected meanwhile is never mixed.
        Without ArcticDB's Arrow output the whole day comes as one table converted from pandas.

        Raises
        ------
        StorageError
            The version the first slice came from was pruned before a later slice was read.
        """
        import pyarrow as pa
        from arcticdb.options import ArrowOutputStringFormat

        sym, query = naming.tick_symbol(ticker, day), _session_query(session)

        def read(**kw):
            return self.ticks.read(sym, columns=columns, query_builder=query, output_format="pyarrow",
                                   arrow_string_format_default=ArrowOutputStringFormat.CATEGORICAL, **kw)

        try:  # ArcticDB's Arrow output skips the pandas round trip (about 2x faster on a 1M-tick day)
            first = read(row_range=(0, slice_rows))
            arrow = first.data.schema.names[:1] == ["timestamp"]
        except (TypeError, ValueError, NotImplementedError, AttributeError, ImportError):  # no Arrow output
            arrow = False
        if not arrow:  # pandas path, whole day
            df = self.read_day(ticker, day, columns=columns, session=session)
            yield pa.Table.from_pandas(df.reset_index(), preserve_index=False).replace_schema_metadata(None)
            return
        yield first.data.replace_schema_metadata(None)

        def rest(call, **kw):
            try:
                return call(as_of=first.version, **kw)
            except Exception as e:
                raise StorageError(sym, "read", f"{e} (was the day re-collected during the read? run it again)") from e

        total = rest(lambda **kw: self.ticks.get_description(sym, **kw)).row_count
        for start in range(slice_rows, total, slice_rows):
            part = rest(read, row_range=(start, min(total, start + slice_rows)))
            yield part.data.replace_schema_metadata(None)

    # -- row ranges of a tick day (pages of the HTTP API) -----------------------------------
    def read_day_rows(self, ticker: str, day, start: int, stop: int, *, columns: list[str] | None = None,
                      as_of: int | None = None) -> "DayRows":
        """Stored rows ``[start, stop)`` of one tick day, from version ``as_of`` (default: the latest).

        The table's first column is ``timestamp``; schema metadata is dropped; string columns
        may come dictionary-encoded (as :meth:`read_day_arrow`). Paging a day by stored row
        offsets at the version the first page saw never skips or repeats a row, whatever is
        written meanwhile.

        Raises
        ------
        DayNotFound
            Nothing is stored for ``ticker`` on ``day``.
        VersionNotFound
            ``as_of`` is no longer kept (the day was replaced and that version pruned).
        """
        import pyarrow as pa
        from arcticdb.options import ArrowOutputStringFormat

        from tickdeck.core.errors import VersionNotFound

        sym = naming.tick_symbol(ticker, day)
        if not self.ticks.has_symbol(sym):
            raise DayNotFound(naming.normalize_ticker(ticker), naming.as_date(day))
        kw = {} if as_of is None else {"as_of": int(as_of)}
        try:
            desc = self.ticks.get_description(sym, **kw)
        except Exception as e:
            if as_of is not None:
                raise VersionNotFound(f"version {as_of} of {naming.normalize_ticker(ticker)} "
                                      f"{naming.as_date(day)} is no longer stored (the day was replaced)") from None
            raise StorageError(sym, "read description", str(e)) from e
        total = int(desc.row_count)
        lo, hi = max(0, int(start)), min(total, max(0, int(stop)))
        version = int(as_of) if as_of is not None else None
        try:
            res = _read_retrying(lambda: self.ticks.read(
                sym, columns=columns, row_range=(lo, max(lo, hi)), output_format="pyarrow",
                arrow_string_format_default=ArrowOutputStringFormat.CATEGORICAL, **kw))
            table = res.data
            version = int(res.version)
        except (TypeError, ValueError, NotImplementedError, AttributeError, ImportError):  # no Arrow output
            res = _read_retrying(lambda: self.ticks.read(sym, columns=columns, row_range=(lo, max(lo, hi)), **kw))
            table = pa.Table.from_pandas(res.data.reset_index(), preserve_index=False)
            version = int(res.version)
        except Exception as e:
            raise StorageError(sym, "read", str(e)) from e
        return DayRows(table.replace_schema_metadata(None), version, total)

    # -- snapshots and versioned reads (backups) --------------------------------------------
    def snapshot(self, name: str, libraries: Iterable[str]) -> list[str]:
        """Pin the latest version of every symbol of each of ``libraries`` under the snapshot ``name``.

        An ArcticDB snapshot per library: a replace or append after it cannot prune the versions it
        pins, and :meth:`series_rows_at` / :meth:`read_series_at` read them with ``as_of=name``.
        Libraries that do not exist or hold no symbol are skipped (nothing to pin). Returns the
        libraries snapshotted, in the order given; remove the snapshot with :meth:`drop_snapshot`.

        Raises
        ------
        StorageError
            ArcticDB refused a snapshot (e.g. ``name`` is taken); the snapshots this call made
            are removed again.

        Warnings
        --------
        Pruning a symbol checks every snapshot of its library: drop a snapshot as soon as it has
        served, or every write to the library gets slower.
        """
        done: list[str] = []
        for lib_name in libraries:
            try:
                lib = self.library(lib_name, create=False)
            except NotFound:
                continue
            try:
                if lib.list_symbols():
                    lib.snapshot(name)
                    done.append(lib_name)
            except Exception as e:
                self.drop_snapshot(name, done)
                raise StorageError(lib_name, f"snapshot {name!r}", str(e)) from e
        return done

    def list_snapshots(self, library: str) -> list[str]:
        """Names of the snapshots of ``library`` (empty when the library does not exist)."""
        try:
            return list(self.library(library, create=False).list_snapshots(load_metadata=False))
        except NotFound:
            return []

    def snapshot_symbols(self, library: str, name: str) -> list[str]:
        """The symbols the snapshot ``name`` of ``library`` pins, sorted.

        Raises
        ------
        NotFound
            ``library`` does not exist.
        StorageError
            The library has no snapshot ``name``.
        """
        lib = self.library(library, create=False)
        try:
            return sorted(lib.list_symbols(snapshot_name=name))
        except Exception as e:
            raise StorageError(library, f"list snapshot {name!r}", str(e)) from e

    def drop_snapshot(self, name: str, libraries: Iterable[str]) -> list[str]:
        """Delete the snapshot ``name`` from each of ``libraries`` (the versions it pinned become
        prunable again). Never raises: returns the libraries it could not be deleted from (already
        gone, e.g. removed by another process, or a storage error)."""
        failed = []
        for lib_name in libraries:
            try:
                self.library(lib_name, create=False).delete_snapshot(name)
            except Exception:  # noqa: BLE001 - the caller decides whether a leftover matters
                failed.append(lib_name)
        return failed

    def series_rows_at(self, library: str, symbol: str, as_of: int | str | None = None) -> int:
        """Stored rows of a series at ``as_of`` (a version number, a snapshot name, or ``None`` for the
        latest version), from its description (no data read). The library is never created.

        Raises
        ------
        NotFound
            ``library`` does not exist.
        StorageError
            ``symbol`` (at ``as_of``) is not stored.
        """
        lib = self.library(library, create=False)
        try:
            return int(lib.get_description(symbol, as_of=as_of).row_count or 0)
        except Exception as e:
            raise StorageError(symbol, f"read description from {library}", str(e)) from e

    def read_series_at(self, library: str, symbol: str, as_of: int | str | None = None,
                       row_range: tuple[int, int] | None = None) -> "SeriesAt":
        """A series (or its rows ``[start, stop)``) at ``as_of`` (a version number, a snapshot name, or
        ``None`` for the latest version), with its metadata and the version it came from. Reading a
        large series slice by slice at one version (or snapshot) never mixes two versions. The library
        is never created.

        Raises
        ------
        NotFound
            ``library`` does not exist.
        StorageError
            ``symbol`` (at ``as_of``) is not stored, or ArcticDB failed.
        """
        lib = self.library(library, create=False)
        try:
            r = lib.read(symbol, as_of=as_of, row_range=row_range)
        except Exception as e:
            raise StorageError(symbol, f"read from {library}", str(e)) from e
        return SeriesAt(r.data, r.metadata, int(r.version))

    # -- sizes ----------------------------------------------------------------------------
    def sizes(self) -> dict[str, int]:
        """Compressed bytes stored per library (ArcticDB admin tools)."""
        out = {}
        for name in self.library_names():
            try:
                sizes = self.library(name).admin_tools().get_sizes()
                out[name] = int(sum(s.bytes_compressed for s in sizes.values()))
            except Exception:  # older backends without admin tools: fall back to the LMDB dir
                out[name] = _dir_size(self.uri, name)
        return out


@dataclass(frozen=True)
class SeriesAt:
    """A series read at one version (:meth:`Store.read_series_at`): its rows, the version's
    metadata and the version number."""

    data: object  # pandas.DataFrame (or whatever was stored whole)
    metadata: dict | None
    version: int


@dataclass(frozen=True)
class DayRows:
    """A row range of a stored tick day (:meth:`Store.read_day_rows`): the rows, the version
    they were read from and the day's stored row count at that version."""

    table: object  # pyarrow.Table
    version: int
    total_rows: int


class DayStage:
    """One tick day written slice by slice and published at once (ArcticDB staged writes).

    :meth:`add` validates each slice (in time order) and stages it — stored, but invisible to
    readers; :meth:`commit` publishes the staged slices as one new version of the day with its
    :class:`DayInfo` as metadata, keeping the replaced version exactly like
    :meth:`Store.write_day`. Until then readers see the previous version (or no day);
    :meth:`abort` (also on leaving a ``with`` block by an exception) deletes the staged slices.

    Warnings
    --------
    Publishing compacts the staged slices: ArcticDB reads them back once. On LMDB those reads
    fault the store file's pages into the process's mapping: they count in its RSS but are clean
    page cache the kernel reclaims under pressure, not memory the process allocated (the import
    bench reports anonymous memory beside RSS for that reason).
    """

    def __init__(self, store: Store, ticker: str, day: dt.date):
        self.store, self.ticker, self.day = store, ticker, day
        self.symbol = naming.tick_symbol(ticker, day)
        self.rows = 0
        self._results: list = []
        self._last_ns: int | None = None
        self._done = False
        self._clear()

    def __enter__(self) -> "DayStage":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if not self._done:
            self.abort()

    def _clear(self) -> None:
        lib = self.store.ticks
        try:
            if self.symbol in lib.get_staged_symbols():
                lib.delete_staged_data(self.symbol)
        except Exception as e:  # noqa: BLE001
            raise StorageError(self.symbol, "delete staged data", str(e)) from e

    def add(self, df: pd.DataFrame) -> None:
        """Validate and stage the next slice of the day (rows later than the previous slice's).

        Raises
        ------
        SchemaError
            The slice does not match the schema or starts before the previous one ends; the
            row is counted from the day's first staged row. Nothing is published.
        StorageError
            ArcticDB failed to stage the slice.
        """
        if self._done:
            raise StorageError(self.symbol, "stage", "this stage is already committed or aborted")
        if not len(df):
            return
        try:
            validate_frame(df)
        except SchemaError as e:
            raise SchemaError(e.column, e.reason, None if e.row is None else e.row + self.rows) from None
        ns = df.index.asi8
        if self._last_ns is not None and ns[0] < self._last_ns:
            raise SchemaError("timestamp", "timestamps are not sorted ascending; sort before writing", row=self.rows)
        frame = df if list(df.columns) == STORED_COLUMNS else df[STORED_COLUMNS]
        try:
            self._results.append(self.store.ticks.stage(self.symbol, frame, validate_index=False))
        except Exception as e:
            raise StorageError(self.symbol, "stage", str(e)) from e
        finally:
            del frame
            trim_heap()  # what ArcticDB freed encoding the slice, before the next one is built
        self._last_ns = int(ns[-1])
        self.rows += len(df)

    def commit(self, info: DayInfo) -> DayInfo:
        """Publish the staged slices as the day's new version with ``info`` as its metadata.

        Raises
        ------
        StorageError
            Nothing was staged, or ArcticDB failed; the staged slices are deleted and the
            previous version (if any) is still the one readers see.
        """
        if self._done or not self._results:
            self.abort()
            raise StorageError(self.symbol, "write", "no staged rows to publish")
        trim_heap()
        try:
            self.store._publish(self.symbol, info, lambda meta: self.store.ticks.finalize_staged_data(
                self.symbol, mode="write", prune_previous_versions=False, metadata=meta,
                stage_results=self._results))
        except StorageError:
            self.abort()
            raise
        finally:
            trim_heap()
        self._done = True
        self._results = []
        return info

    def abort(self) -> None:
        """Delete the staged slices (the day stays as it was); idempotent, never raises."""
        self._done = True
        self._results = []
        try:
            self.store.ticks.delete_staged_data(self.symbol)
        except Exception as e:  # noqa: BLE001 - the next stage of the day deletes them
            import logging

            logging.getLogger(__name__).warning("could not delete staged data of %s: %s", self.symbol, e)


def _with_kept(meta: dict, kept) -> dict:
    if kept:
        meta[KEPT_KEY] = list(kept)
    return meta


def _merge_info(a: DayInfo, b: DayInfo) -> DayInfo:
    vol = a.volume + b.volume
    dollar = a.dollar_volume + b.dollar_volume
    pv = sum(x.vwap * x.volume for x in (a, b) if x.vwap is not None)
    spreads = [(x.avg_spread_bps, x.ticks) for x in (a, b) if x.avg_spread_bps is not None]
    avg = sum(s * n for s, n in spreads) / sum(n for _, n in spreads) if spreads else None
    extra = dict(a.extra)
    for k, v in b.extra.items():
        extra[k] = extra.get(k, 0) + v if isinstance(v, (int, float)) else v
    return dataclasses.replace(
        a, ticks=a.ticks + b.ticks, last=b.last, volume=vol, dollar_volume=dollar,
        vwap=pv / vol if vol else None, high=max(a.high, b.high), low=min(a.low, b.low), close=b.close,
        avg_spread_bps=avg, pre_ticks=a.pre_ticks + b.pre_ticks, regular_ticks=a.regular_ticks + b.regular_ticks,
        after_ticks=a.after_ticks + b.after_ticks, outside_ticks=a.outside_ticks + b.outside_ticks,
        ingest_id=b.ingest_id, written_at=b.written_at, extra=extra,
    )


def _re_escape(s: str) -> str:
    import re

    return re.escape(s)


def _dir_size(uri: str, name: str) -> int:
    if not uri.startswith("lmdb://"):
        return 0
    root = Path(uri[len("lmdb://"):].split("?")[0]) / name
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file()) if root.exists() else 0


def ensure_sorted(df: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Stable-sort a frame by its index; returns (frame, number of out-of-order rows fixed)."""
    ns = df.index.asi8
    disorder = int(np.count_nonzero(ns[1:] < ns[:-1]))
    if disorder == 0:
        return df, 0
    order = np.argsort(ns, kind="stable")
    return df.iloc[order], disorder


__all__ = ["Store", "DayInfo", "DayStage", "DayVersion", "SeriesAt", "compute_day_info", "day_info_from_columns",
           "ensure_sorted", "SESSIONS", "KEEP_PREVIOUS_VERSIONS", "redacted_uri"]
