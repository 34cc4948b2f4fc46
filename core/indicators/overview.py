"""What the Market indicators page reads beyond single series: the days with any stored indicators and
the derived-metrics overview (every symbol × metric of one window: its latest value and the shape of
its day, downsampled for a sparkline).

Reads go through :mod:`core.indicators.store` names and the store's verbs (``read_series`` with only
the window's 20 columns, so ~50 symbols stay a few megabytes).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from tickdeck.core import naming
from tickdeck.core.errors import NotFound
from tickdeck.core.indicators import store as istore
from tickdeck.core.indicators.derived import METRICS, WINDOWS

SPARK_POINTS = 40  # points per sparkline: the day's shape at ~10 min resolution, a few hundred bytes per cell


def stored_days(ctx) -> list[dt.date]:
    """Days with stored indicators of any group (breadth, options or derived), sorted."""
    out: set[dt.date] = set()
    for group in istore.GROUP_PREFIX:
        out.update(istore.days(ctx, group))
    return sorted(out)


@dataclass(frozen=True)
class DerivedOverview:
    """Every symbol × metric of one window on ``day``.

    ``last[i, j]`` is symbol ``i``'s latest value of metric ``j`` (NaN: not defined), ``sparks[i, j]``
    its day downsampled to ``points`` values (the last row of each of ``points`` equal row ranges),
    ``at_ns[i]`` the instant of the symbol's last row (UTC ns).
    """

    day: dt.date
    window: str
    symbols: tuple[str, ...]
    metrics: tuple[str, ...]
    last: np.ndarray  # (symbols, metrics) float64
    sparks: np.ndarray  # (symbols, metrics, points) float64
    at_ns: np.ndarray  # (symbols,) int64

    def column(self, metric: str) -> str:
        """The stored series name of ``metric`` in this window (``vpin.5min``)."""
        return f"{metric}.{self.window}"


def downsample_last(values: np.ndarray, points: int) -> np.ndarray:
    """``values`` (rows, columns) as ``points`` rows: the last row of each of ``points`` equal row ranges
    (fewer rows than points: the rows as they are, padded in front with NaN)."""
    n = values.shape[0]
    if n >= points:
        ends = np.linspace(0, n, points + 1).astype(np.int64)[1:] - 1
        return values[ends]
    out = np.full((points,) + values.shape[1:], np.nan)
    if n:
        out[points - n:] = values
    return out


def derived_overview(ctx, day, window: str = "5min", points: int = SPARK_POINTS) -> DerivedOverview:
    """The derived metrics of every symbol stored on ``day`` in ``window`` (see :class:`DerivedOverview`).

    Raises
    ------
    NotFound
        ``window`` is not one of the derived windows.
    core.indicators.store.IndicatorsNotStored
        No derived metrics stored for the day.
    """
    if window not in WINDOWS:
        raise NotFound(f"no derived window {window!r}; windows: {', '.join(WINDOWS)}")
    syms = istore.symbols(ctx, day)
    if not syms:
        raise istore.IndicatorsNotStored(f"no derived metrics stored on {naming.format_day(day)}: run "
                                         "`tickdeck indicators build` for the day or start the indicators service")
    cols = [f"{m}.{window}" for m in METRICS]
    last = np.full((len(syms), len(cols)), np.nan)
    sparks = np.full((len(syms), len(cols), points), np.nan)
    at = np.zeros(len(syms), dtype=np.int64)
    for i, s in enumerate(syms):
        df, _ = ctx.store.read_series(istore.LIB, istore.series_symbol(istore.derived_name(s), day), columns=cols)
        if not len(df):
            continue
        v = df.reindex(columns=cols).to_numpy(dtype=np.float64)
        last[i] = v[-1]
        sparks[i] = downsample_last(v, points).T
        at[i] = int(df.index[-1].value)
    return DerivedOverview(naming.as_date(day), window, tuple(syms), tuple(METRICS), last, sparks, at)
