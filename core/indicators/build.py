"""History of the indicators: the same series the live service computes, from stored tick days.

:func:`build_indicators` ``(ctx, start, end, symbols=None, progress=…)`` builds, per trading day
with stored ticks (:mod:`core.indicators.store` layout):

* ``DERIVED.<SYMBOL>/<day>`` — :func:`core.indicators.derived.compute_derived` of each symbol-day
  on its 1 s grid (:func:`~core.indicators.derived.metric_grid`), ``relative_volume`` against the
  symbol's last :data:`PROFILE_DAYS` stored days before it;
* ``BREADTH.LOCAL/<day>`` — :func:`core.indicators.breadth.breadth_series` over *every* symbol
  stored that day (statistic symbols excluded) at every grid instant holding a tick of any of them,
  plus ``MCCLELLAN.<EXCHANGE>`` from the stored daily net advances of the days before
  (the last ``ADV.* − DEC.*`` row of each earlier ``BREADTH.LOCAL`` day) and the running one;
* ``BREADTH.DIFF/<day>`` — local − feed at the local instants, when the live service stored the
  feed's statistics for the day (the feed's values are not tick days, so history cannot recreate them).

The helpers here (:func:`day_columns`, :func:`volume_profile`, :func:`net_advance_history`,
:func:`with_mcclellan`, :func:`asof`) are shared with :mod:`core.indicators.service`, so live and
batch compute from the same inputs: the 14 raw tick columns plus ``timestamp`` (UTC ns) — what
:class:`core.events.TicksAppended` carries — never the stored enrichment columns, and all of the
day's ticks (pre-market and after-hours included; the ``session`` window starts at the day's first tick).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np

from tickdeck.core import naming
from tickdeck.core.errors import NotFound
from tickdeck.core.events import TICK_ARRAYS
from tickdeck.core.indicators import store as istore
from tickdeck.core.progress import Progress

PROFILE_DAYS = 20  # relative volume compares with the same time of day over this many earlier stored days
RAW_COLUMNS = tuple(k for k in TICK_ARRAYS if k != "timestamp")
EXCHANGES = ("NYSE", "NASDAQ", "ALL")


def is_statistic(symbol: str) -> bool:
    from tickdeck.core.indicators.catalog import is_statistic_symbol

    return bool(is_statistic_symbol(symbol))


def exchange_map(ctx, symbols) -> dict[str, str]:
    """The listing exchange of each symbol (:func:`tickdeck.core.indicators.catalog.listing_exchange`)."""
    from tickdeck.core.indicators.catalog import exchange_map as listings

    return listings(symbols)


# -- inputs -----------------------------------------------------------------------------------------
def day_columns(ctx, symbol: str, day) -> dict[str, np.ndarray]:
    """A stored tick day as the columns the live service holds: raw fields + ``timestamp`` (UTC ns)."""
    df = ctx.store.read_day(symbol, day, columns=list(RAW_COLUMNS))
    cols = {k: np.ascontiguousarray(df[k].to_numpy(), dtype=TICK_ARRAYS[k]) for k in RAW_COLUMNS}
    cols["timestamp"] = np.ascontiguousarray(df.index.asi8, dtype=np.int64)
    return cols


def journal_columns(ctx, day) -> dict[str, dict[str, np.ndarray]]:
    """The live journal's rows of ``day`` (acknowledged, maybe not yet in their days) per symbol,
    as :func:`day_columns` gives them (statistic symbols left out)."""
    from tickdeck.core.enrich import utc_ns_from_date_time

    prefix = naming.format_day(day) + "/"
    frames = []
    for name in ctx.store.list_series(naming.JOURNAL_LIBRARY, prefix=prefix):
        try:
            frames.append(ctx.store.read_series(naming.JOURNAL_LIBRARY, name, columns=[*RAW_COLUMNS, "symbol"])[0])
        except NotFound:  # moved into its days and deleted meanwhile: the days hold its rows
            continue
    out: dict[str, dict[str, np.ndarray]] = {}
    for df in frames:
        for sym, rows in df.groupby("symbol", sort=True):
            if is_statistic(str(sym)):
                continue
            cols = {k: np.ascontiguousarray(rows[k].to_numpy(), dtype=TICK_ARRAYS[k]) for k in RAW_COLUMNS}
            cols["timestamp"] = utc_ns_from_date_time(cols["date"], cols["time"])
            out.setdefault(str(sym), []).append(cols)
    return {s: merge_by_tick_id(parts) for s, parts in out.items()}


def merge_by_tick_id(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Tick columns of one symbol-day from several sources, in tick-id order, each id once."""
    if len(parts) == 1:
        return parts[0]
    cols = {k: np.concatenate([p[k] for p in parts]) for k in TICK_ARRAYS}
    _, first = np.unique(cols["tick_id"], return_index=True)  # sorted ids, first occurrence
    return {k: v[first] for k, v in cols.items()}


def stored_symbols(ctx, day) -> list[str]:
    """Tickers with a stored tick day on ``day`` (statistic symbols excluded)."""
    suffix = "/" + naming.format_day(day)
    out = []
    for name in ctx.store.list_series(naming.TICKS_LIBRARY):
        if name.endswith(suffix):
            sym = name[: -len(suffix)]
            if not is_statistic(sym):
                out.append(sym)
    return sorted(out)


def volume_profile(ctx, symbol: str, day):
    """The :class:`~tickdeck.core.indicators.derived.VolumeProfile` of ``symbol`` from its last
    :data:`PROFILE_DAYS` stored days before ``day``; None when it has none."""
    from tickdeck.core.indicators.derived import VolumeProfile

    d = naming.as_date(day)
    try:
        before = [x for x in ctx.store.list_days(symbol) if x < d][-PROFILE_DAYS:]
    except Exception:  # noqa: BLE001 - no stored days: no profile
        return None
    if not before:
        return None
    arrays = []
    for x in before:
        df = ctx.store.read_day(symbol, x, columns=["last_sz"])
        arrays.append((np.ascontiguousarray(df.index.asi8, dtype=np.int64),
                       np.ascontiguousarray(df["last_sz"].to_numpy(), dtype=np.float64)))
    return VolumeProfile.from_days(arrays)


def net_advance_history(ctx, day) -> dict[str, np.ndarray]:
    """Per exchange, the daily net advances (``ADV − DEC`` of the last row) of the stored
    ``BREADTH.LOCAL`` days before ``day``, oldest first."""
    d = naming.as_date(day)
    out: dict[str, list[float]] = {ex: [] for ex in EXCHANGES}
    for x in istore.days(ctx, "breadth"):
        if x >= d or not ctx.store.has_series(istore.LIB, istore.series_symbol(istore.breadth_name("local"), x)):
            continue
        df = istore.read_breadth(ctx, x, "local")
        if not len(df):
            continue
        last = df.iloc[-1]
        for ex in EXCHANGES:
            if f"ADV.{ex}" in df.columns and f"DEC.{ex}" in df.columns:
                out[ex].append(float(last[f"ADV.{ex}"] - last[f"DEC.{ex}"]))
    return {ex: np.asarray(v, dtype=np.float64) for ex, v in out.items()}


def with_mcclellan(values: dict[str, np.ndarray], history: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Add ``MCCLELLAN.<EX>``: at each instant :func:`tickdeck.core.indicators.breadth.mcclellan` over the
    earlier days' net advances followed by the running day's ``ADV − DEC`` (its last value; the
    averages' last step is applied to every instant at once, the same arithmetic as the EMA loop)."""
    from tickdeck.core.indicators.breadth import MCCLELLAN_FAST, MCCLELLAN_SLOW

    out = dict(values)
    for ex in EXCHANGES:
        name = f"MCCLELLAN.{ex}"
        if name in values or f"ADV.{ex}" not in values or f"DEC.{ex}" not in values:
            continue
        net = np.asarray(values[f"ADV.{ex}"], dtype=np.float64) - np.asarray(values[f"DEC.{ex}"], dtype=np.float64)
        hist = np.asarray(history.get(ex, np.empty(0)), dtype=np.float64)
        if hist.size == 0:
            out[name] = np.where(np.isnan(net), np.nan, 0.0)  # both averages start at the first day's value
            continue
        fast = mcclellan_parts(hist, MCCLELLAN_FAST)
        slow = mcclellan_parts(hist, MCCLELLAN_SLOW)
        out[name] = (fast + MCCLELLAN_FAST * (net - fast)) - (slow + MCCLELLAN_SLOW * (net - slow))
    return out


def mcclellan_parts(hist: np.ndarray, alpha: float) -> float:
    """The last value of the exponential average of the daily ``hist`` (one step per stored day,
    the arithmetic of :func:`core.indicators.breadth.mcclellan`)."""
    out = float(hist[0])
    for x in hist[1:].tolist():
        out = out + alpha * (x - out)
    return out


def asof(at_ns: np.ndarray, times: np.ndarray, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``values`` (rows at ``times``, sorted) as of each instant of ``at_ns``: the last row at or before it."""
    i = np.searchsorted(times, at_ns, side="right") - 1
    ok = i >= 0
    return {k: np.where(ok, np.asarray(v, dtype=np.float64)[np.maximum(i, 0)], np.nan) for k, v in values.items()}


def diff_columns(local: dict[str, np.ndarray], feed_at: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``<NAME>.diff`` = local − feed for the names in both, column-wise (the names and the
    difference of :func:`core.indicators.breadth.reconcile`, on whole columns)."""
    from tickdeck.core.indicators.breadth import reconcile

    common = [k for k in local if k in feed_at]
    names = reconcile({k: 0.0 for k in common}, {k: 0.0 for k in common})
    return {f"{k}.diff": np.asarray(local[k], dtype=np.float64) - np.asarray(feed_at[k], dtype=np.float64)
            for k in common if f"{k}.diff" in names}


# -- batch ------------------------------------------------------------------------------------------
@dataclass
class BuildSummary:
    """What :func:`build_indicators` wrote."""

    days: list[str] = field(default_factory=list)
    derived: int = 0  # symbol-days
    breadth_rows: int = 0
    skipped: list[str] = field(default_factory=list)  # days without stored ticks

    def to_dict(self) -> dict:
        return {"days": self.days, "derived": self.derived, "breadth_rows": self.breadth_rows, "skipped": self.skipped}


def build_derived_day(ctx, symbol: str, day, cols: Mapping[str, np.ndarray] | None = None) -> bool:
    """Build and store one symbol-day's derived metrics; ``False`` when the day holds no ticks of it.
    ``cols`` are the day's columns when the caller read them already (:func:`day_columns`)."""
    from tickdeck.core.indicators.derived import compute_derived, metric_grid

    s = naming.normalize_ticker(symbol)
    if cols is None:
        if not ctx.store.has_day(s, day):
            return False
        cols = day_columns(ctx, s, day)
    grid = metric_grid(cols["timestamp"])
    values = compute_derived(cols, grid, volume_profile=volume_profile(ctx, s, day))
    istore.write_rows(ctx, istore.derived_name(s), day, grid, values, replace=True)
    return True


def build_breadth_day(ctx, day, universe: Mapping[str, Mapping[str, np.ndarray]] | None = None) -> int:
    """Build and store one day's local breadth (and local − feed where the feed's is stored) over every
    symbol stored that day; returns the breadth rows (0: no ticks that day). Its McClellan reads the
    days before, so days are built oldest first."""
    from tickdeck.core.indicators.breadth import breadth_series
    from tickdeck.core.indicators.derived import metric_grid

    if universe is None:
        universe = {s: day_columns(ctx, s, day) for s in stored_symbols(ctx, day)}
    if not universe:
        return 0
    grid = np.unique(np.concatenate([metric_grid(c["timestamp"]) for c in universe.values()]))
    local = breadth_series(universe, grid, exchange_map(ctx, universe))
    local = with_mcclellan(local, net_advance_history(ctx, day))
    istore.write_rows(ctx, istore.breadth_name("local"), day, grid, local, replace=True)
    feed_sym = istore.series_symbol(istore.breadth_name("feed"), day)
    if ctx.store.has_series(istore.LIB, feed_sym):
        feed = istore.read_breadth(ctx, day, "feed")
        at = asof(grid, feed.index.asi8, {k: feed[k].to_numpy() for k in feed.columns})
        diff = diff_columns(local, at)
        if diff:
            istore.write_rows(ctx, istore.breadth_name("diff"), day, grid, diff, replace=True)
    return int(grid.size)


def build_day(ctx, day, symbols: list[str] | None = None) -> tuple[int, int]:
    """Build one day's series (see the module docstring); returns (symbol-days derived, breadth rows)."""
    universe = {s: day_columns(ctx, s, day) for s in stored_symbols(ctx, day)}
    if not universe:
        return 0, 0
    wanted = [naming.normalize_ticker(s) for s in symbols] if symbols else list(universe)
    derived = sum(build_derived_day(ctx, s, day, universe[s]) for s in wanted if s in universe)
    return derived, build_breadth_day(ctx, day, universe)


def build_indicators(ctx, start, end, symbols: list[str] | None = None, *,
                     progress: Callable[[Progress], None] | None = None) -> BuildSummary:
    """Build the indicator series of every trading day from ``start`` to ``end`` (inclusive) that
    has stored ticks, oldest first (so each day's McClellan sees the days before it).

    Parameters
    ----------
    symbols
        Derived metrics only for these (default: every symbol stored that day); local breadth is
        always over every symbol stored that day.
    progress
        Called after each day with ``Progress("indicators", done, total, day)``.

    Raises
    ------
    InvalidDateRange
        ``end`` before ``start``.
    """
    s, e = naming.date_range(start, end)
    days = ctx.calendar().trading_days(s, e)
    out = BuildSummary()
    for i, d in enumerate(days, 1):
        n, rows = build_day(ctx, d, symbols)
        if rows:
            out.days.append(naming.format_day(d))
            out.derived += n
            out.breadth_rows += rows
        else:
            out.skipped.append(naming.format_day(d))
        if progress is not None:
            progress(Progress("indicators", i, len(days), f"{d}: {n} symbols, {rows:,} breadth rows"))
    return out


def all_days(ctx) -> list[dt.date]:
    """Every day with a stored tick day of any (non-statistic) symbol."""
    return sorted({naming.parse_tick_symbol(n).day for n in ctx.store.list_series(naming.TICKS_LIBRARY)})
