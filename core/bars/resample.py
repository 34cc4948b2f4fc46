"""Higher-timeframe time bars from stored time bars (1m → 5m, 15m, 1h, 1d) without re-reading ticks.

The target grid is the same 09:30-anchored grid :mod:`core.bars.time_bars` uses, so every source
bucket lies inside one target bucket when the target interval is a multiple of the source's; the
result equals building the target spec from the ticks (tested; sums agree to float rounding).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tickdeck.core.bars.aggregate import CLOSED_AT_SESSION, OPENED_AT_SESSION, bars_frame, empty_columns, frame_columns
from tickdeck.core.bars.arrays import NS_PER_DAY, session_boundaries, wall_offsets
from tickdeck.core.bars.spec import BarSpec, parse_spec
from tickdeck.core.bars.time_bars import ANCHOR_NS, time_labels
from tickdeck.core.errors import InvalidBarSpec


def aggregate_time_bars(bars: pd.DataFrame, spec_from: BarSpec | str, spec_to: BarSpec | str, *,
                        calendar: str | None = "XNYS") -> pd.DataFrame:
    """Combine time bars of ``spec_from`` into bars of ``spec_to``.

    Raises
    ------
    InvalidBarSpec
        Either spec is not a ``time`` spec, the target interval is not a multiple of the source
        interval, or their ``cross`` options differ.
    """
    src, dst = parse_spec(spec_from), parse_spec(spec_to)
    if src.family != "time" or dst.family != "time":
        raise InvalidBarSpec(f"higher-timeframe aggregation needs time specs, got {src} -> {dst}")
    if dst.interval_s % src.interval_s or dst.cross != src.cross:
        raise InvalidBarSpec(f"{dst} is not a multiple of {src} with the same options; build it from ticks")
    if len(bars) == 0:
        return bars_frame(empty_columns(0), str(dst))
    c = frame_columns(bars)
    start = c["start"]
    wall = start + wall_offsets(start)
    iv = dst.interval_s * 10**9
    d0 = (wall // NS_PER_DAY) * NS_PER_DAY + ANCHOR_NS
    bucket = d0 + ((wall - d0) // iv) * iv
    ses = c["session"]
    change = np.empty(start.size, bool)
    change[0] = True
    change[1:] = (bucket[1:] != bucket[:-1]) | ((ses[1:] != ses[:-1]) & (not dst.cross))
    gs = np.flatnonzero(change)
    ge = np.append(gs[1:], start.size)
    out = empty_columns(gs.size)
    out["open"] = c["open"][gs]
    out["close"] = c["close"][ge - 1]
    out["high"] = np.maximum.reduceat(c["high"], gs)
    out["low"] = np.minimum.reduceat(c["low"], gs)
    for k in ("volume", "dollar_volume", "buy_volume", "sell_volume", "trade_count", "spread_count"):
        out[k] = np.add.reduceat(c[k], gs)
    # from vwap, not dollar_volume: dollar_volume may carry a multiplier
    pv = np.add.reduceat(np.where(c["volume"] > 0, c["vwap"] * c["volume"], 0.0), gs)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["vwap"] = np.where(out["volume"] > 0, pv / np.where(out["volume"] > 0, out["volume"], 1.0), np.nan)
    q = np.where(c["spread_count"] > 0, c["avg_spread_bps"] * c["spread_count"], 0.0)
    qs = np.add.reduceat(q, gs)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["avg_spread_bps"] = np.where(out["spread_count"] > 0, qs / np.maximum(out["spread_count"], 1), np.nan)
    gses = ses[gs]
    out["session"] = gses
    flags = np.zeros(gs.size, np.int8)
    if not dst.cross:
        opened = np.ones(gs.size, bool)
        opened[1:] = gses[1:] != gses[:-1]
        closed = np.ones(gs.size, bool)
        closed[:-1] = gses[1:] != gses[:-1]
        flags = (opened * OPENED_AT_SESSION + closed * CLOSED_AT_SESSION).astype(np.int8)
    bounds = None
    if calendar and not dst.cross:
        bounds = session_boundaries(calendar, int(start[0]), int(start[-1]))
    out["start"], out["end"] = time_labels(start[gs], wall[gs], bucket[gs], flags, iv, bounds)
    return bars_frame(out, str(dst))
