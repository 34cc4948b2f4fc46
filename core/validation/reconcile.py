"""Reconciliation of two stored symbol-days (collected vs imported, two tickers, two days).

Both days are cut into intervals of the time of day (ET wall clock, so different days line
up) and compared per interval: trade count, volume, VWAP and OHLC, as one table with the
differences. Vectorised with a pandas group-by; only ``last`` and ``last_sz`` are read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tickdeck.core.errors import TickdeckError
from tickdeck.core.naming import as_date, normalize_ticker

VWAP_TOLERANCE_BPS = 1.0  # per-interval VWAPs within 1 bp count as matching (rounding of prices)


class InvalidInterval(TickdeckError, ValueError):
    """The reconciliation interval is not a positive pandas offset like ``5min``."""


@dataclass(frozen=True, eq=False)
class Reconciliation:
    """The per-interval comparison table and a summary.

    ``table`` is indexed by interval start (time of day) with columns ``count_a, count_b,
    volume_a, volume_b, vwap_a, vwap_b, open_a … close_b`` and ``count_diff, volume_diff,
    vwap_diff_bps, close_diff, match``.
    """

    sym_a: str
    day_a: dt.date
    sym_b: str
    day_b: dt.date
    interval: str
    table: pd.DataFrame
    summary: dict = field(default_factory=dict)

    @property
    def matched(self) -> bool:
        return bool(self.summary.get("mismatched_intervals", 1) == 0)


def _bucket(df: pd.DataFrame, step_ns: int) -> pd.DataFrame:
    local = df.index.tz_convert("America/New_York").tz_localize(None).asi8
    tod = local - (local // 86_400_000_000_000) * 86_400_000_000_000
    key = tod // step_ns * step_ns
    px = df["last"].to_numpy(np.float64)
    sz = df["last_sz"].to_numpy(np.int64)
    g = pd.DataFrame({"k": key, "px": px, "sz": sz, "dv": px * sz}).groupby("k", sort=True)
    out = pd.DataFrame({"count": g.size(), "volume": g["sz"].sum(), "dollar": g["dv"].sum(),
                        "open": g["px"].first(), "high": g["px"].max(), "low": g["px"].min(), "close": g["px"].last()})
    out["vwap"] = np.where(out["volume"] > 0, out["dollar"] / out["volume"].where(out["volume"] > 0, 1), np.nan)
    return out.drop(columns="dollar")


def reconcile(ctx, sym_a: str, day_a, sym_b: str, day_b, interval: str = "5min") -> Reconciliation:
    """Compare two stored symbol-days interval by interval.

    Raises
    ------
    DayNotFound
        Either day is not stored.
    InvalidInterval
        ``interval`` is not a positive duration.
    """
    try:
        step = pd.Timedelta(interval)
    except (ValueError, TypeError):
        raise InvalidInterval(f"interval {interval!r} is not a duration like '1min', '5min', '1h'") from None
    if step <= pd.Timedelta(0):
        raise InvalidInterval(f"interval {interval!r} must be positive")
    sym_a, sym_b, day_a, day_b = normalize_ticker(sym_a), normalize_ticker(sym_b), as_date(day_a), as_date(day_b)
    a = _bucket(ctx.store.read_day(sym_a, day_a, columns=["last", "last_sz"]), step.value)
    b = _bucket(ctx.store.read_day(sym_b, day_b, columns=["last", "last_sz"]), step.value)
    t = a.add_suffix("_a").join(b.add_suffix("_b"), how="outer")
    for c in ("count", "volume"):
        t[[f"{c}_a", f"{c}_b"]] = t[[f"{c}_a", f"{c}_b"]].fillna(0).astype(np.int64)
    t["count_diff"] = t["count_b"] - t["count_a"]
    t["volume_diff"] = t["volume_b"] - t["volume_a"]
    t["vwap_diff_bps"] = (t["vwap_b"] - t["vwap_a"]) / t["vwap_a"] * 1e4
    t["close_diff"] = t["close_b"] - t["close_a"]
    vw_ok = (t["vwap_diff_bps"].abs() <= VWAP_TOLERANCE_BPS) | (t["vwap_a"].isna() & t["vwap_b"].isna())
    t["match"] = (t["count_diff"] == 0) & (t["volume_diff"] == 0) & vw_ok
    t.index = pd.to_timedelta(t.index, unit="ns")
    t.index.name = "interval"
    summary = {
        "intervals": int(len(t)), "mismatched_intervals": int((~t["match"]).sum()),
        "only_in_a": int(((t["count_a"] > 0) & (t["count_b"] == 0)).sum()),
        "only_in_b": int(((t["count_b"] > 0) & (t["count_a"] == 0)).sum()),
        "count_a": int(t["count_a"].sum()), "count_b": int(t["count_b"].sum()),
        "volume_a": int(t["volume_a"].sum()), "volume_b": int(t["volume_b"].sum()),
        "max_abs_vwap_diff_bps": float(np.nanmax(np.abs(t["vwap_diff_bps"].to_numpy()))) if
        np.isfinite(t["vwap_diff_bps"].to_numpy()).any() else None,
    }
    return Reconciliation(sym_a, day_a, sym_b, day_b, interval, t, summary)
