r"""Anomaly detection over a symbol's history of days, from the catalog's tier-1 rows only.

For every stored day and each metric — tick count, volume, average spread (bps) and range
((high − low) / VWAP, in %) — a leave-one-out z-score is computed against the symbol's other
days: z = (x − mean of the others) / std of the others. Days with \|z\| above
``ValidationConfig.anomaly_z`` (3) are returned. No tick frame is read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from tickdeck.core.naming import normalize_ticker

MIN_HISTORY = 5  # fewer days than this give no meaningful spread of normal behaviour
METRICS = ("ticks", "volume", "avg_spread_bps", "range_pct")


@dataclass(frozen=True)
class Anomaly:
    """One unusual metric on one day."""

    symbol: str
    day: dt.date
    metric: str
    value: float
    mean: float
    std: float
    z: float

    @property
    def message(self) -> str:
        word = "high" if self.z > 0 else "low"
        return (f"{self.symbol} {self.day}: {self.metric} {self.value:,.4g} is unusually {word} "
                f"(z={self.z:+.1f}; others {self.mean:,.4g} ± {self.std:,.3g})")


def _loo_z(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ok = np.isfinite(x)
    xv = np.where(ok, x, 0.0)
    n = ok.sum()
    s1, s2 = xv.sum(), (xv * xv).sum()
    m = n - ok.astype(np.int64)  # count of the others
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = (s1 - xv) / m
        var = ((s2 - xv * xv) - m * mean * mean) / (m - 1)
        std = np.sqrt(np.maximum(var, 0.0))
        z = np.where(ok & (std > 0), (x - mean) / std, 0.0)
    return z, mean, std


def anomalies(ctx, symbol: str, *, threshold: float | None = None) -> list[Anomaly]:
    """Unusual days of a symbol, most extreme first (empty with fewer than 5 stored days)."""
    from tickdeck.core.validation.rules import load_config

    symbol = normalize_ticker(symbol)
    thr = threshold if threshold is not None else load_config(ctx.catalog).anomaly_z
    rows = ctx.catalog.tick_days(symbol)
    if len(rows) < MIN_HISTORY:
        return []
    nan = float("nan")
    values = {
        "ticks": np.array([r.ticks for r in rows], dtype=np.float64),
        "volume": np.array([r.volume for r in rows], dtype=np.float64),
        "avg_spread_bps": np.array([nan if r.avg_spread_bps is None else r.avg_spread_bps for r in rows]),
        "range_pct": np.array([nan if r.high is None or r.low is None or not r.vwap else
                               (r.high - r.low) / r.vwap * 100 for r in rows]),
    }
    out = []
    for metric in METRICS:
        x = values[metric]
        z, mean, std = _loo_z(x)
        for i in np.flatnonzero(np.abs(z) > thr):
            out.append(Anomaly(symbol, rows[i].day, metric, float(x[i]), float(mean[i]), float(std[i]), float(z[i])))
    return sorted(out, key=lambda a: -abs(a.z))
