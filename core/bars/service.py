"""Bars as a service over the store: build and store the default set, read or compute on demand.

* :func:`build_default_bars` reads a tick day once, builds every spec, writes each family's
  series in one ``write_series_batch`` into ``bars_<family>`` (tier-2 metadata on each version)
  and mirrors them as catalog rows.
* :func:`get_bars` answers bars for a day range: the stored series when it was built from the
  day's current ingest, otherwise computed from the ticks; answers are cached in-process keyed by
  the day's ``ingest_id`` (a re-ingested day is never served stale).
* :func:`install` registers default-bar building as an ``after_write`` hook of the ingest path.
* :func:`invalidate_day_bars` deletes every stored bar series of a day (and its catalog row)
  that was built from another version of the day than the stored one. The ingest path calls it
  whenever a day is rewritten or restored, before the hooks rebuild the default specs, so no
  series — default or not — is ever served or listed from an older version; specs outside the
  default set are built again on demand (:func:`get_bars`) or by ``build_default_bars(specs=…)``.

Stateful families (imbalance/runs EWMAs, renko reference, Heikin-Ashi recursion) start afresh on
each stored day. Bars are built with the symbol's instrument terms (volume in quantity, dollar
volume in currency); a stored series carries :data:`BARS_FORMAT` in its metadata and one written
in another format (volumes in stored size units, before format 2) is recomputed, not served.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import pandas as pd

from tickdeck.core import naming
from tickdeck.core.bars.aggregate import bars_frame
from tickdeck.core.bars.arrays import COLUMNS, tick_arrays
from tickdeck.core.bars import imported
from tickdeck.core.bars.builder import compute_columns
from tickdeck.core.bars.registry import default_specs
from tickdeck.core.bars.spec import BarSpec, parse_spec
from tickdeck.core.catalog import BarSeriesRow
from tickdeck.core.errors import DayNotFound, NotFound, SchemaError, StorageError
from tickdeck.core.events import BarsBuilt
from tickdeck.core.instruments import stored_terms
from tickdeck.core.progress import Progress
from tickdeck.core.schema import SESSION_BY_NAME

ET = "America/New_York"
CACHE_ENTRIES = 512  # ~40 KB per 1m bar day: a few hundred symbol-day-specs stay well under 50 MB
# Fine-grained specs of a busy day are large (the 39 default series of a 5,000,000-tick day take
# ~50 MB), so the cache is also bounded in bytes: building them keeps the last few series, not a
# whole day's worth on top of the memory the next day's import or validation needs.
CACHE_BYTES = 32 << 20
BARS_FORMAT = 2  # 2: volumes in the instrument's quantity (1: in stored size units)
SOURCES = ("auto", "ticks", "imported")  # get_bars: which bars answer (see its docstring)
_cache: OrderedDict = OrderedDict()
_sizes: dict = {}
_lock = threading.Lock()


def cache_clear() -> None:
    with _lock:
        _cache.clear()
        _sizes.clear()


def _cache_get(key):
    with _lock:
        df = _cache.get(key)
        if df is not None:
            _cache.move_to_end(key)
        return df


def _cache_put(key, df: pd.DataFrame) -> None:
    size = int(df.memory_usage(index=True, deep=False).sum())
    with _lock:
        _cache[key] = df
        _sizes[key] = size
        _cache.move_to_end(key)
        while len(_cache) > 1 and (len(_cache) > CACHE_ENTRIES or sum(_sizes.values()) > CACHE_BYTES):
            old, _ = _cache.popitem(last=False)
            _sizes.pop(old, None)


def _stats(df: pd.DataFrame) -> dict:
    if not len(df):
        return {"mean_volume": None, "mean_trades": None, "mean_seconds": None}
    secs = (pd.DatetimeIndex(df["end"]).asi8 - df.index.asi8) / 1e9
    return {"mean_volume": float(df["volume"].mean()), "mean_trades": float(df["trade_count"].mean()),
            "mean_seconds": float(secs.mean())}


def _series_meta(symbol, day, spec: BarSpec, df: pd.DataFrame, info) -> dict:
    return {"symbol": symbol, "day": day.isoformat(), "family": spec.family, "spec": str(spec), "bars": len(df),
            "first_ns": int(df.index.asi8[0]) if len(df) else None,
            "last_ns": int(df.index.asi8[-1]) if len(df) else None,
            "ticks": info.ticks, "ingest_id": info.ingest_id, "stats": _stats(df), "format": BARS_FORMAT}


def build_default_bars(ctx, symbol: str, day, *, specs=None, progress=None) -> list[BarSeriesRow]:
    """Build ``specs`` (default: the day's 39 default specs) for one stored day and store them.

    Returns
    -------
    The catalog rows written, one per spec.

    Raises
    ------
    DayNotFound
        No ticks stored for ``symbol`` on ``day``.
    InvalidBarSpec
        A spec does not parse.
    BarInputError
        The stored ticks hold a non-finite price or size; nothing is written.
    StorageError
        Some series could not be written; the others are stored and catalogued.
    """
    symbol = naming.normalize_ticker(symbol)
    day = naming.as_date(day)
    info = ctx.store.day_info(symbol, day)
    terms = stored_terms(ctx, symbol)  # volume in quantity, dollar_volume in currency, as the ticks' own
    specs = [parse_spec(s) for s in specs] if specs else default_specs(info, scale=terms.notional_scale,
                                                                       units=terms.size_units)
    x = tick_arrays(ctx.store.read_day(symbol, day, columns=COLUMNS), terms=terms)
    cal = ctx.calendar_for(symbol).name
    built: dict[str, list] = {}
    for k, spec in enumerate(specs):  # compute everything before writing anything
        df = bars_frame(compute_columns(x, spec, calendar=cal), str(spec))
        built.setdefault(spec.family, []).append((spec, df))
        if progress:
            progress(Progress("bars", k + 1, len(specs), f"{symbol} {day} {spec}"))
    rows, failed = [], []
    for family, items in built.items():
        payload = [(naming.bar_symbol(symbol, day, s.storage_name), df, _series_meta(symbol, day, s, df, info))
                   for s, df in items]
        results = ctx.store.write_series_batch(naming.bar_library(family), payload)
        for (spec, df), (_, _, meta), err in zip(items, payload, results):
            if err is not None:
                failed.append(f"{spec}: {err}")
                continue
            first = df.index[0] if len(df) else None
            last = df.index[-1] if len(df) else None
            rows.append(BarSeriesRow(symbol, day, family, str(spec), len(df), first, last, meta["stats"]))
            _cache_put((ctx.store.uri, symbol, day, str(spec), info.ingest_id), df)
    ctx.catalog.upsert_bar_series(rows)
    for r in rows:
        ctx.bus.publish(BarsBuilt(symbol, day.isoformat(), r.spec, r.family, int(r.bars)))
    if failed:
        raise StorageError(f"{symbol}/{day}", "write bars", "; ".join(failed[:5]))
    return rows


def invalidate_day_bars(ctx, symbol: str, day) -> list[str]:
    """Delete the day's bar series not built from its current version; returns their names.

    A stored series is kept only when its metadata's ``ingest_id`` is the stored day's; every
    other series of the day (any family, any spec) is deleted from ArcticDB, and the catalog
    keeps only rows of the series that remain. With no stored day, every series goes.
    """
    from sqlalchemy import delete, select

    from tickdeck.core import db

    symbol = naming.normalize_ticker(symbol)
    day = naming.as_date(day)
    try:
        current = ctx.store.day_info(symbol, day).ingest_id
    except DayNotFound:
        current = None
    prefix = f"{symbol}/{naming.format_day(day)}/"
    removed, kept = [], set()
    for lib_name in ctx.store.library_names():
        if not lib_name.startswith(naming.BARS_PREFIX):
            continue
        names = ctx.store.list_series(lib_name, prefix)
        if not names:
            continue
        metas = ctx.store.series_metadata_batch(lib_name, names)
        for name, meta in zip(names, metas):
            meta = meta or {}
            if current is not None and meta.get("ingest_id") == current:
                kept.add((naming.parse_bar_library(lib_name), meta.get("spec")))
                continue
            try:
                ctx.store.delete_series(lib_name, name)
            except Exception as e:  # noqa: BLE001
                raise StorageError(name, f"delete from {lib_name}", str(e)) from e
            removed.append(f"{lib_name}:{name}")
    b = db.BarSeries
    with ctx.catalog.Session.begin() as s:
        rows = s.execute(select(b.id, b.family, b.spec).where(b.symbol == symbol, b.day == day)).all()
        stale = [r[0] for r in rows if (r[1], r[2]) not in kept and r[1] != imported.IMPORTED_FAMILY]
        if stale:
            s.execute(delete(b).where(b.id.in_(stale)))
    if removed:
        _cache_drop_day(ctx.store.uri, symbol, day)
    return removed


def _cache_drop_day(uri: str, symbol: str, day) -> None:
    with _lock:
        for key in [k for k in _cache if k[:3] == (uri, symbol, day)]:
            del _cache[key]
            _sizes.pop(key, None)


def _stored(ctx, symbol, day, spec: BarSpec, ingest_id: str) -> pd.DataFrame | None:
    lib_name = naming.bar_library(spec.family)
    sym = naming.bar_symbol(symbol, day, spec.storage_name)
    if not ctx.store.has_series(lib_name, sym):  # checked first: reading would create a missing library
        return None
    try:
        data, meta = ctx.store.read_series(lib_name, sym)
    except NotFound:  # deleted meanwhile
        return None
    if (meta or {}).get("ingest_id") != ingest_id or (meta or {}).get("format") != BARS_FORMAT:
        return None  # built from an older ingest of the day, or in older units: recompute
    return restore_frame(data)


def restore_frame(df: pd.DataFrame) -> pd.DataFrame:
    """ArcticDB keeps the index timezone but returns other datetime columns as naive UTC."""
    end = pd.DatetimeIndex(df["end"])
    if end.tz is None:
        df = df.assign(end=end.tz_localize("UTC").tz_convert(ET))
    if df.index.tz is None:
        df.index = df.index.tz_localize("UTC").tz_convert(ET)
    return df


def day_bars(ctx, symbol: str, day, spec: BarSpec | str) -> pd.DataFrame:
    """Bars of one stored day: cached, else stored (same ingest), else computed from its ticks."""
    spec = parse_spec(spec)
    symbol = naming.normalize_ticker(symbol)
    day = naming.as_date(day)
    info = ctx.store.day_info(symbol, day)
    key = (ctx.store.uri, symbol, day, str(spec), info.ingest_id)
    df = _cache_get(key)
    if df is None:
        df = _stored(ctx, symbol, day, spec, info.ingest_id)
        if df is None:
            x = tick_arrays(ctx.store.read_day(symbol, day, columns=COLUMNS), terms=stored_terms(ctx, symbol))
            df = bars_frame(compute_columns(x, spec, calendar=ctx.calendar_for(symbol).name), str(spec))
        _cache_put(key, df)
    return df


def get_bars(ctx, symbol: str, start, end=None, spec: BarSpec | str = "time:1m", *,
             session: str = "all", source: str = "auto") -> pd.DataFrame:
    """Bars of ``spec`` for the stored days in ``[start, end]`` (``end`` defaults to ``start``).

    ``session`` keeps bars whose first trade is in that session (``regular``, ``pre``,
    ``after`` or ``all``). The frame is a copy; each day is built independently.
    ``source``: ``auto`` gives bars built from the ticks on days with ticks and the imported
    series (:mod:`tickdeck.core.bars.imported`) on days without; ``ticks`` only the former,
    ``imported`` only the latter.

    Raises
    ------
    DayNotFound
        No stored day of ``symbol`` in the range.
    InvalidBarSpec
        ``spec`` does not parse.
    SchemaError
        Unknown session name.
    """
    spec = parse_spec(spec)
    symbol = naming.normalize_ticker(symbol)
    lo = naming.as_date(start)
    hi = naming.as_date(end) if end is not None else lo
    if session != "all" and session not in SESSION_BY_NAME:
        raise SchemaError("session", f"unknown session {session!r}; use regular, pre, after or all")
    if source not in SOURCES:
        raise SchemaError("source", f"unknown bars source {source!r}; use {', '.join(SOURCES)}")
    ticked = [d for d in ctx.store.list_days(symbol) if lo <= d <= hi] if source != "imported" else []
    covered = source == "ticks" or (lo == hi and ticked)  # one day with ticks: no imported lookup
    outside = [] if covered else [d for d in imported.days(ctx, symbol, spec) if lo <= d <= hi]
    outside = [d for d in outside if d not in set(ticked)]
    days = sorted([*ticked, *outside])
    if not days:
        raise DayNotFound(symbol, f"{lo}..{hi}" if hi != lo else lo)
    frames = [day_bars(ctx, symbol, d, spec) if d not in outside else imported.read(ctx, symbol, d, spec)[0]
              .drop(columns="ts_init") for d in days]  # the columns built bars have
    df = pd.concat(frames) if len(frames) > 1 else frames[0]
    if session != "all":
        df = df[df["session"].to_numpy() == SESSION_BY_NAME[session]]
    return df.copy()


def _after_write(ctx, symbol, day) -> None:
    """``after_write`` hook: build the default bar set of the day just written."""
    build_default_bars(ctx, symbol, day)


def install(ctx) -> None:
    """Build default bars after every day the ingest path writes (idempotent)."""
    hooks = ctx.extras.setdefault("after_write", [])
    if _after_write not in hooks:
        hooks.append(_after_write)
