"""The layout of the ``indicators`` library and its reads and writes (through :mod:`tickdeck.core.store` verbs).

One ArcticDB symbol per series per day (``<INDICATOR>/<YYYY-MM-DD>``, :func:`core.naming.indicator_symbol`),
indexed by the evaluation instant (tz-aware ``America/New_York``, ns), one column per indicator:

==========================  =====================================================================
series                      columns
==========================  =====================================================================
``BREADTH.LOCAL/<day>``     local breadth over the collected universe (``TICK.NYSE``, ``TRIN.ALL`` …,
                            ``MCCLELLAN.*``), at every 1 s grid instant holding a tick of any symbol
``BREADTH.FEED/<day>``      the feed's breadth statistics (``TICK.NYSE`` …), the latest value at each
                            evaluation instant (live only: the feed's statistics are not tick days)
``BREADTH.DIFF/<day>``      ``<NAME>.diff`` = local − feed where both exist (:func:`reconcile`)
``OPTIONS.FEED/<day>``      put/call volumes and ratios from the feed (``PCR.EQUITY`` …)
``DERIVED.<SYMBOL>/<day>``  the 60 derived series ``<metric>.<window>`` of one symbol on its 1 s grid
==========================  =====================================================================

Writers replace a day (:func:`write_rows` with ``replace=True``, the batch build) or append rows
later than the stored ones (the live service; rows at or before the last stored instant are
dropped, so a restarted service that recomputes the day appends only what is new). Readers
(:func:`read_breadth`, :func:`read_options`, :func:`read_derived`, :func:`derived_table`,
:func:`days`) are what the API and the page call.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tickdeck.core import naming
from tickdeck.core.errors import NotFound
from tickdeck.core.schema import TZ

LIB = naming.INDICATORS_LIBRARY
BREADTH_SOURCES = ("local", "feed", "diff")
GROUP_PREFIX = {"breadth": "BREADTH.", "options": "OPTIONS.", "derived": "DERIVED."}


class IndicatorsNotStored(NotFound):
    """No indicator series of the asked kind is stored for the day."""


# -- names ------------------------------------------------------------------------------------------
def breadth_name(source: str) -> str:
    if source not in BREADTH_SOURCES:
        raise NotFound(f"no breadth source {source!r}; sources: {', '.join(BREADTH_SOURCES)}")
    return f"BREADTH.{source.upper()}"


OPTIONS_NAME = "OPTIONS.FEED"


def derived_name(symbol: str) -> str:
    return "DERIVED." + naming.normalize_ticker(symbol)


def series_symbol(name: str, day) -> str:
    """The ArcticDB symbol of series ``name`` (``BREADTH.LOCAL``, ``DERIVED.AAPL`` …) on ``day``."""
    return naming.indicator_symbol(name, day)


# -- writing ----------------------------------------------------------------------------------------
def frame(at_ns: np.ndarray, columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """Rows at ``at_ns`` (UTC ns) as a frame indexed in ET, float64 columns in the given order."""
    idx = pd.DatetimeIndex(np.asarray(at_ns, dtype="datetime64[ns]"), tz="UTC").tz_convert(TZ)
    idx.name = "timestamp"
    return pd.DataFrame({k: np.asarray(v, dtype=np.float64) for k, v in columns.items()}, index=idx)


def last_instant(ctx, name: str, day) -> int | None:
    """The last stored instant (UTC ns) of a series, or None when it is not stored."""
    sym = series_symbol(name, day)
    if not ctx.store.has_series(LIB, sym):
        return None
    n = ctx.store.series_rows(LIB, sym)
    if n == 0:
        return None
    df, _ = ctx.store.read_series(LIB, sym, row_range=(n - 1, n))
    return int(df.index[-1].value) if len(df) else None


def write_rows(ctx, name: str, day, at_ns: np.ndarray, columns: dict[str, np.ndarray], *,
               replace: bool = False, after_ns: int | None = None) -> int:
    """Store rows of series ``name`` on ``day``; returns the rows written.

    ``replace`` writes the day whole (the batch build); otherwise rows are appended, keeping only
    those later than ``after_ns`` (the caller's last stored instant, see :func:`last_instant`).
    A series is created by its first write with the columns it was given; later appends must
    carry the same columns.
    """
    at_ns = np.asarray(at_ns, dtype=np.int64)
    if after_ns is not None and not replace:
        keep = at_ns > after_ns
        if not keep.all():
            at_ns = at_ns[keep]
            columns = {k: np.asarray(v)[keep] for k, v in columns.items()}
    if at_ns.size == 0 and not replace:
        return 0
    df = frame(at_ns, columns)
    sym = series_symbol(name, day)
    if replace:
        ctx.store.write_series(LIB, sym, df, metadata={"series": name, "day": naming.format_day(day)})
    else:
        ctx.store.append_series(LIB, sym, df)
    return int(at_ns.size)


# -- reading ----------------------------------------------------------------------------------------
def _read(ctx, name: str, day, columns: list[str] | None = None) -> pd.DataFrame:
    sym = series_symbol(name, day)
    if not ctx.store.has_series(LIB, sym):
        how = ("the feed's statistics are stored by the indicators service while it runs"
               if name in (breadth_name("feed"), OPTIONS_NAME) else
               "run `tickdeck indicators build` for the day or start the indicators service")
        raise IndicatorsNotStored(f"no indicators stored for {name} on {naming.format_day(day)}: {how}")
    df, _ = ctx.store.read_series(LIB, sym, columns=columns)
    return df


def read_breadth(ctx, day, source: str = "local", names: list[str] | None = None) -> pd.DataFrame:
    """Market breadth of ``day`` from ``source`` (``local``, ``feed`` or ``diff``), optionally only ``names``."""
    df = _read(ctx, breadth_name(source), day)
    return _pick(df, names)


def read_options(ctx, day, names: list[str] | None = None) -> pd.DataFrame:
    """Options flow of ``day`` (put/call volumes and ratios from the feed)."""
    return _pick(_read(ctx, OPTIONS_NAME, day), names)


def read_derived(ctx, symbol: str, day, metrics: list[str] | None = None, window: str | None = None) -> pd.DataFrame:
    """The derived metrics of ``symbol`` on ``day``: columns ``<metric>.<window>``, optionally only
    ``metrics`` and/or one ``window`` (``1min``, ``5min``, ``session``)."""
    df = _read(ctx, derived_name(symbol), day)
    cols = [c for c in df.columns if (metrics is None or c.rsplit(".", 1)[0] in metrics)
            and (window is None or c.rsplit(".", 1)[1] == window)]
    if (metrics or window) and not cols:
        raise NotFound(f"no derived series of {symbol} match metrics={metrics} window={window!r}; "
                       f"stored: {', '.join(df.columns[:6])} …")
    return df[cols]


def _pick(df: pd.DataFrame, names: list[str] | None) -> pd.DataFrame:
    if not names:
        return df
    missing = [n for n in names if n not in df.columns]
    if missing:
        raise NotFound(f"no indicator {', '.join(missing)} stored; stored: {', '.join(df.columns)}")
    return df[names]


def symbols(ctx, day) -> list[str]:
    """Symbols with derived metrics stored on ``day``."""
    suffix = "/" + naming.format_day(day)
    return sorted(s[len("DERIVED."):-len(suffix)] for s in ctx.store.list_series(LIB, prefix="DERIVED.")
                  if s.endswith(suffix))


def days(ctx, group: str) -> list[dt.date]:
    """The days with stored series of ``group`` (``breadth``, ``options`` or ``derived``), sorted."""
    if group not in GROUP_PREFIX:
        raise NotFound(f"no indicator group {group!r}; groups: {', '.join(GROUP_PREFIX)}")
    out = {naming.parse_indicator_symbol(s).day for s in ctx.store.list_series(LIB, prefix=GROUP_PREFIX[group])}
    return sorted(out)


@dataclass(frozen=True)
class DerivedTable:
    """The latest value of each symbol × derived series on a day (the page's table)."""

    day: dt.date
    symbols: tuple[str, ...]
    columns: tuple[str, ...]
    values: np.ndarray  # (symbols, columns) float64
    at_ns: np.ndarray  # (symbols,) the instant of each symbol's last row

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.values, index=pd.Index(self.symbols, name="symbol"), columns=list(self.columns))


def derived_table(ctx, day, window: str | None = None) -> DerivedTable:
    """The last stored row of every symbol's derived metrics on ``day`` (optionally one window).

    Raises
    ------
    IndicatorsNotStored
        No derived metrics stored for the day.
    """
    syms = symbols(ctx, day)
    if not syms:
        raise IndicatorsNotStored(f"no derived metrics stored on {naming.format_day(day)}")
    rows, at, cols = [], [], None
    for s in syms:
        sym = series_symbol(derived_name(s), day)
        n = ctx.store.series_rows(LIB, sym)
        df, _ = ctx.store.read_series(LIB, sym, row_range=(max(n - 1, 0), n))
        if window is not None:
            df = df[[c for c in df.columns if c.rsplit(".", 1)[1] == window]]
        cols = cols or tuple(df.columns)
        rows.append(df.reindex(columns=list(cols)).to_numpy(dtype=np.float64)[-1] if len(df)
                    else np.full(len(cols), np.nan))
        at.append(int(df.index[-1].value) if len(df) else 0)
    return DerivedTable(naming.as_date(day), tuple(syms), cols or (), np.vstack(rows), np.asarray(at, dtype=np.int64))
