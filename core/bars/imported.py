"""Bar series imported from another system (a NautilusTrader catalog), kept apart from built bars.

Bars built from stored ticks live in ``bars_<family>`` and are deleted and rebuilt whenever a
day's ticks change (:func:`tickdeck.core.bars.service.invalidate_day_bars`). Imported bars are
data in their own right — there may be no ticks behind them — so they live in their own library,
:data:`tickdeck.core.naming.IMPORTED_BARS_LIBRARY` (``imported_bars``, deliberately not a
``bars_`` library: nothing that rebuilds, invalidates or retires built bars walks it), symbol
``<SYMBOL>/<YYYY-MM-DD>/<family>.<spec>``. Each series' metadata says where it came from
(``source``, e.g. ``nautilus``, and the original ``bar_type``) and the decimals it was given in.

Frame: the built bars' columns (index ``start``; ``end``, OHLCV, ``session`` of the start) with
what the source does not give left empty (``dollar_volume``, ``vwap``, ``buy_volume``,
``sell_volume``, ``avg_spread_bps`` NaN; ``trade_count`` and ``spread_count`` 0), plus
``ts_init`` (UTC ns) so the series is written back out exactly (``get_bars`` drops it, so every
day it answers has the built bars' columns). ``start`` is ``end`` minus the
interval for time bars; for other families it is the previous bar's ``end`` (the day's first
bar: the session's pre-market open, or its own ``end`` when it closes before that).

Catalogue rows use the family :data:`IMPORTED_FAMILY` (``imported``) and the canonical spec, with
``source`` and ``bar_type`` in their stats, so they never collide with the built series of the
same spec on the same day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tickdeck.core import naming
from tickdeck.core.bars.aggregate import BAR_COLUMNS
from tickdeck.core.bars.spec import TIME_FAMILIES, BarSpec, parse_spec
from tickdeck.core.catalog import BarSeriesRow
from tickdeck.core.errors import NotFound, StorageError

ET = "America/New_York"
IMPORTED_FAMILY = naming.IMPORTED_BARS_FAMILY  # catalog family of imported series
LIBRARY = naming.IMPORTED_BARS_LIBRARY


@dataclass(frozen=True)
class ImportedSeries:
    """One imported day of one spec, ready to store."""

    symbol: str
    day: dt.date
    spec: BarSpec
    frame: pd.DataFrame
    meta: dict  # source, bar_type and anything else the writer needs to write it back


def build_frame(end_ns: np.ndarray, init_ns: np.ndarray, cols: dict[str, np.ndarray], spec: BarSpec,
                calendar, day: dt.date) -> pd.DataFrame:
    """A tickdeck bar frame of one day of imported bars (see the module docstring)."""
    end_ns = np.asarray(end_ns, dtype=np.int64)
    n = end_ns.size
    if spec.family in TIME_FAMILIES:
        start = end_ns - np.int64(spec.interval_s * 1_000_000_000)
    else:
        start = np.empty(n, dtype=np.int64)
        if n:
            start[1:] = end_ns[:-1]
            try:
                opened = int(calendar.bounds(day).pre_open.value)
            except NotFound:
                opened = int(end_ns[0])
            start[0] = min(opened, int(end_ns[0]))
    nan = np.full(n, np.nan)
    index = pd.DatetimeIndex(start.view("datetime64[ns]"), name="start").tz_localize("UTC").tz_convert(ET)
    data = {"end": pd.DatetimeIndex(end_ns.view("datetime64[ns]")).tz_localize("UTC").tz_convert(ET),
            **{k: np.asarray(cols[k], dtype=np.float64) for k in ("open", "high", "low", "close", "volume")},
            "dollar_volume": nan, "vwap": nan.copy(), "trade_count": np.zeros(n, dtype=np.int64),
            "buy_volume": nan.copy(), "sell_volume": nan.copy(), "avg_spread_bps": nan.copy(),
            "session": calendar.label_sessions(start).astype(np.int8), "spread_count": np.zeros(n, dtype=np.int64)}
    df = pd.DataFrame(data, index=index)[BAR_COLUMNS]
    df["ts_init"] = np.asarray(init_ns, dtype=np.int64)
    return df


def store(ctx, items: list[ImportedSeries]) -> list[BarSeriesRow]:
    """Write imported series (replacing the same symbol, day and spec) and catalogue them.

    Raises
    ------
    StorageError
        Some series could not be written; the others are stored and catalogued.
    """
    payload, rows = [], []
    for it in items:
        df = it.frame
        meta = {**it.meta, "symbol": it.symbol, "day": it.day.isoformat(), "family": it.spec.family,
                "spec": str(it.spec), "bars": len(df), "first_ns": int(df.index.asi8[0]) if len(df) else None,
                "last_ns": int(df.index.asi8[-1]) if len(df) else None}
        payload.append((naming.imported_bar_symbol(it.symbol, it.day, it.spec.family, it.spec.storage_name), df, meta))
    results = ctx.store.write_series_batch(LIBRARY, payload) if payload else []
    failed = []
    for it, (_, df, meta), err in zip(items, payload, results):
        if err is not None:
            failed.append(f"{it.symbol} {it.day} {it.spec}: {err}")
            continue
        stats = {"source": meta.get("source", ""), "bar_type": meta.get("bar_type", ""), "family": it.spec.family,
                 "mean_volume": float(df["volume"].mean()) if len(df) else None}
        rows.append(BarSeriesRow(it.symbol, it.day, IMPORTED_FAMILY, str(it.spec), len(df),
                                 df.index[0] if len(df) else None, df.index[-1] if len(df) else None, stats))
    ctx.catalog.upsert_bar_series(rows)
    if failed:
        raise StorageError(failed[0].split(" ")[0], "write imported bars", "; ".join(failed[:5]))
    return rows


def days(ctx, symbol: str, spec: BarSpec | str) -> list[dt.date]:
    """The days holding an imported series of ``spec`` for ``symbol``, in order."""
    spec = parse_spec(spec)
    sym = naming.normalize_ticker(symbol)
    tail = f"/{spec.family}.{spec.storage_name}"
    return sorted(naming.parse_imported_bar_symbol(s).day
                  for s in ctx.store.list_series(LIBRARY, f"{sym}/") if s.endswith(tail))


def read(ctx, symbol: str, day, spec: BarSpec | str) -> tuple[pd.DataFrame, dict] | None:
    """``(frame, metadata)`` of the imported series of ``spec`` on ``day``, or ``None``."""
    spec = parse_spec(spec)
    name = naming.imported_bar_symbol(naming.normalize_ticker(symbol), naming.as_date(day), spec.family,
                                      spec.storage_name)
    if not ctx.store.has_series(LIBRARY, name):
        return None
    try:
        df, meta = ctx.store.read_series(LIBRARY, name)
    except NotFound:
        return None
    end = pd.DatetimeIndex(df["end"])  # ArcticDB returns datetime columns other than the index as naive UTC
    df = df.assign(end=end.tz_localize("UTC").tz_convert(ET) if end.tz is None else end.tz_convert(ET))
    if df.index.tz is None:
        df.index = df.index.tz_localize("UTC").tz_convert(ET)
    return df, dict(meta or {})
