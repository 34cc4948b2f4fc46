"""What the ``indicators`` library holds per indicator group, as the API serves it.

Groups and the indicator-name prefix of their series (``<INDICATOR>/<YYYY-MM-DD>``, see
:mod:`core.naming` and the layout in :mod:`core.indicators.store`): ``market-breadth`` →
``BREADTH.``, ``options-flow`` → ``OPTIONS.``, ``derived-metrics`` → ``DERIVED.``. Read through the
store's verbs only (:mod:`tickdeck.core.indicators.store`).

:func:`breadth_answer`, :func:`options_answer` and :func:`derived_answer` pick a day (default: the
latest stored for the group) and return an :class:`IndicatorAnswer` (a frame indexed by time, or
for derived metrics without a symbol the latest value per symbol × series); :func:`json_columns`
and :func:`arrow_table` encode it. Every one of them raises :class:`NoIndicators` (404 "no
indicators stored for …") while the group has no stored series.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import msgspec
import numpy as np
import pandas as pd
import pyarrow as pa

from tickdeck.core import naming
from tickdeck.core.errors import NotFound

GROUPS = {"market-breadth": "BREADTH.", "options-flow": "OPTIONS.", "derived-metrics": "DERIVED."}
STORE_GROUP = {"market-breadth": "breadth", "options-flow": "options", "derived-metrics": "derived"}


class NoIndicators(NotFound):
    """No series of an indicator group is stored."""


def stored_series(ctx, group: str) -> list[str]:
    """The stored series names of ``group`` (sorted).

    Raises
    ------
    NotFound
        Unknown group.
    NoIndicators
        None stored (the indicators engine has not written any).
    """
    if group not in GROUPS:
        raise NotFound(f"no indicator group {group!r}; groups: {', '.join(GROUPS)}")
    names = sorted(ctx.store.list_series(naming.INDICATORS_LIBRARY, prefix=GROUPS[group]))
    if not names:
        raise NoIndicators(f"no indicators stored for {group}: the indicators engine has not written any")
    return names


@dataclass(frozen=True)
class IndicatorAnswer:
    """One day of an indicator group: ``frame`` indexed by time (ET) with a column per series, or
    (derived metrics without a symbol) indexed by symbol with the latest values and their ``at``."""

    group: str
    day: dt.date
    days: tuple[dt.date, ...]  # every day stored for the group
    frame: pd.DataFrame
    source: str = ""
    symbol: str = ""
    window: str = ""
    symbols: tuple[str, ...] = ()  # derived metrics: symbols stored that day


def _pick_day(ctx, group: str, day) -> tuple[dt.date, tuple[dt.date, ...]]:
    from tickdeck.core.indicators import store as istore

    stored_series(ctx, group)
    days = tuple(istore.days(ctx, STORE_GROUP[group]))
    d = naming.as_date(day) if day is not None else days[-1]
    if d not in days:
        raise NoIndicators(f"no indicators stored for {group} on {d}; stored days: "
                           f"{', '.join(x.isoformat() for x in days[-10:])}")
    return d, days


def _names(names) -> list[str] | None:
    if not names:
        return None
    if isinstance(names, str):
        names = names.split(",")
    return [n.strip() for n in names if n.strip()] or None


def breadth_answer(ctx, day=None, source: str = "local", names=None) -> IndicatorAnswer:
    """Market breadth of ``day`` (default: latest) from ``source`` (local, feed or diff), optionally only ``names``."""
    from tickdeck.core.indicators import store as istore

    d, days = _pick_day(ctx, "market-breadth", day)
    df = istore.read_breadth(ctx, d, source, _names(names))
    return IndicatorAnswer("market-breadth", d, days, df, source=source)


def options_answer(ctx, day=None, names=None) -> IndicatorAnswer:
    """Options flow of ``day`` (default: latest), optionally only ``names``."""
    from tickdeck.core.indicators import store as istore

    d, days = _pick_day(ctx, "options-flow", day)
    return IndicatorAnswer("options-flow", d, days, istore.read_options(ctx, d, _names(names)), source="feed")


def derived_answer(ctx, day=None, symbol: str | None = None, metrics=None,
                   window: str | None = None) -> IndicatorAnswer:
    """Derived metrics of ``day`` (default: latest): with ``symbol`` its series over the day, without
    the latest value of every symbol's series (the page's table); ``metrics`` and ``window`` filter."""
    from tickdeck.core.indicators import store as istore

    d, days = _pick_day(ctx, "derived-metrics", day)
    metrics = _names(metrics)
    syms = tuple(istore.symbols(ctx, d))
    if symbol:
        df = istore.read_derived(ctx, symbol, d, metrics=metrics, window=window)
        return IndicatorAnswer("derived-metrics", d, days, df, source="derived", symbol=naming.normalize_ticker(symbol),
                               window=window or "", symbols=syms)
    t = istore.derived_table(ctx, d, window=window)
    df = t.to_frame()
    if metrics:
        df = df[[c for c in df.columns if c.rsplit(".", 1)[0] in metrics]]
    df.insert(0, "at", pd.DatetimeIndex(t.at_ns.astype("datetime64[ns]"), tz="UTC").tz_convert("America/New_York"))
    return IndicatorAnswer("derived-metrics", d, days, df, source="derived", window=window or "", symbols=syms)


def arrow_table(a: IndicatorAnswer) -> pa.Table:
    """The answer's frame as an Arrow table (its index as the first column)."""
    return pa.Table.from_pandas(a.frame.reset_index(), preserve_index=False)


def _text_times(index) -> list[str]:
    return list(pd.DatetimeIndex(index).strftime("%Y-%m-%dT%H:%M:%S.%f%z"))


def json_columns(a: IndicatorAnswer) -> bytes:
    """The answer as one JSON object: its description and ``columns`` ``{name: [values…]}`` with the
    index first (``timestamp`` as ISO 8601 text with the ET offset, or ``symbol``); NaN is null."""
    df = a.frame
    cols: dict[str, list] = {}
    if isinstance(df.index, pd.DatetimeIndex):
        cols["timestamp"] = _text_times(df.index)
    else:
        cols[df.index.name or "symbol"] = [str(x) for x in df.index]
    for c in df.columns:
        s = df[c]
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            cols[c] = _text_times(s)
        else:
            cols[c] = np.asarray(s, dtype=np.float64).tolist()
    head = {"group": a.group, "day": a.day.isoformat(), "source": a.source, "symbol": a.symbol, "window": a.window,
            "days": [d.isoformat() for d in a.days], "symbols": list(a.symbols), "rows": int(len(df)),
            "names": [c for c in df.columns], "columns": cols}
    return msgspec.json.encode(head)
