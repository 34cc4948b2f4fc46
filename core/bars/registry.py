"""Which kernel builds each family, and the default spec set scaled to a symbol-day.

Default set (three specs per family, 39 in all), scaled from the day's tier-1 metadata
(:class:`core.store.DayInfo`) so a typical day yields roughly :data:`TARGET_BARS` bars per spec:

* time, heikin_ashi: 1m, 5m, 15m;
* tick / volume / dollar: the day's trades / quantity / notional divided by each target, rounded
  to a 1-2-5 number (volume in the instrument's quantity: shares, contracts, coins);
* range, renko: :data:`RANGE_STEPS_BPS` / :data:`RENKO_STEPS_BPS` of the day's VWAP, rounded to
  a 1-2-5 number of cents (at least one cent);
* imbalance and runs: ``ewma20`` with T0 = the day's trades divided by each target (1-2-5).
"""

from __future__ import annotations

import math
from typing import Callable

from tickdeck.core.bars.information import info_boundaries
from tickdeck.core.bars.range_bars import range_boundaries
from tickdeck.core.bars.renko import renko_boundaries
from tickdeck.core.bars.spec import FAMILIES, BarSpec, parse_spec
from tickdeck.core.bars.threshold import threshold_boundaries
from tickdeck.core.bars.time_bars import time_boundaries

BOUNDARIES: dict[str, Callable] = {
    "time": time_boundaries, "heikin_ashi": time_boundaries,
    "tick": threshold_boundaries, "volume": threshold_boundaries, "dollar": threshold_boundaries,
    "range": range_boundaries, "renko": renko_boundaries,
    **{f: info_boundaries for f in FAMILIES[7:]},
}
assert set(BOUNDARIES) == set(FAMILIES)

TARGET_BARS = (400, 120, 40)  # fine, medium, coarse: enough bars to chart, few enough to read
RANGE_STEPS_BPS = (10.0, 20.0, 50.0)  # range R as a fraction of price: bid/ask bounce alone spans ~5 bps
RENKO_STEPS_BPS = (5.0, 10.0, 20.0)  # renko brick: reversals need 2 bricks, so bricks can be finer
EWMA_SPAN = 20  # bars; AFML's examples use short spans so the threshold adapts within a day
FALLBACK = {"ticks": 50_000, "volume": 10_000_000, "dollar_volume": 1e9, "vwap": 100.0}  # empty days


def nice(x: float, minimum: float = 1.0) -> float:
    """Round to the nearest 1-2-5 number (in log scale), at least ``minimum``."""
    if not x > 0 or not math.isfinite(x):
        return minimum
    e = math.floor(math.log10(x))
    best = min((m * 10.0 ** e for m in (1, 2, 5, 10)), key=lambda c: abs(math.log(c / x)))
    return max(round(best, 10), minimum)


def default_specs(info=None, *, scale: float = 1.0, units: float = 1.0) -> list[BarSpec]:
    """The 39 default specs for a day described by ``info`` (a DayInfo or None for fallbacks).

    ``scale``: currency per price × stored size unit, ``units``: stored size units per unit of
    quantity (see :mod:`core.bars.arrays`); dollar specs are in currency, so the day's notional is
    its VWAP × volume × ``scale``, and volume specs in quantity (the day's stored volume ÷ ``units``).
    """
    ticks = getattr(info, "ticks", 0) or FALLBACK["ticks"]
    volume = getattr(info, "volume", 0) or FALLBACK["volume"]
    dollar = getattr(info, "dollar_volume", 0) or FALLBACK["dollar_volume"]
    if scale != 1.0 and getattr(info, "vwap", None) and getattr(info, "volume", 0):
        dollar = info.vwap * info.volume * scale
    price = getattr(info, "vwap", None) or FALLBACK["vwap"]
    out: list[str] = []
    for fam in ("time", "heikin_ashi"):
        out += [f"{fam}:1m", f"{fam}:5m", f"{fam}:15m"]
    out += [f"tick:{nice(ticks / t):g}" for t in TARGET_BARS]
    out += [f"volume:{nice(volume / units / t, 1.0 / units):g}" for t in TARGET_BARS]
    out += [f"dollar:{nice(dollar / t):g}" for t in TARGET_BARS]
    for fam, steps in (("range", RANGE_STEPS_BPS), ("renko", RENKO_STEPS_BPS)):
        out += [f"{fam}:{nice(price * bps / 1e4 * 100) / 100:g}" for bps in steps]
    for fam in FAMILIES[7:]:
        out += [f"{fam}:ewma{EWMA_SPAN}:t{int(nice(ticks / t, 10))}" for t in TARGET_BARS]
    specs = []
    for s in out:
        spec = parse_spec(s)
        if spec not in specs:
            specs.append(spec)
    return specs


def family_default(family: str, info=None, *, scale: float = 1.0, units: float = 1.0) -> BarSpec:
    """The spec offered first for ``family`` (a menu's default): its finest default spec.

    For a day described by ``info`` (a DayInfo or tier-1 catalog row; ``None`` for fallbacks)
    this is one of the series :func:`default_specs` pre-builds for stored days.

    Raises
    ------
    InvalidBarSpec
        ``family`` is not one of :data:`FAMILIES`.
    """
    fam = (family or "").strip().lower()
    for spec in default_specs(info, scale=scale, units=units):
        if spec.family == fam:
            return spec
    return parse_spec(f"{fam}:")  # raises InvalidBarSpec naming the families
