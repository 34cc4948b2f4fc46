"""A straightforward pandas implementation of the 20 derived metrics, for equivalence tests.

Independent of :mod:`core.indicators.derived`: every metric at a grid instant is computed from the
slice of ticks in its window with plain pandas operations (``diff``, ``cov``, ``autocorr``,
``rolling``), trade signs by pandas forward-fill, VPIN buckets by a Python loop over trades and the
volume profile by direct masks on earlier days. Slow (one slice per instant and window); used on a
few hundred instants.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

WINDOWS_NS = {"1min": 60 * 10**9, "5min": 300 * 10**9, "session": None}
K = 5  # variance-ratio lag in trades
EPS = 1e-12  # variation below this fraction of the sum of squares counts as none


def tick_frame(cols) -> pd.DataFrame:
    """Per-trade frame: price, size, quote, Lee–Ready sign, carried tick-rule direction, flags."""
    t = np.asarray(cols["timestamp"], dtype=np.int64)
    df = pd.DataFrame({"t": t, "p": np.asarray(cols["last"], dtype=float),
                       "q": np.asarray(cols["last_sz"], dtype=float),
                       "bid": np.asarray(cols["bid"], dtype=float), "ask": np.asarray(cols["ask"], dtype=float)})
    valid = (df.bid > 0) & (df.ask >= df.bid) & np.isfinite(df.ask)
    df["valid"] = valid
    df["mid"] = ((df.bid + df.ask) / 2).where(valid)
    tick = np.sign(df.p.diff()).replace(0.0, np.nan).ffill().fillna(0.0)
    df["d"] = tick
    if "trade_sign" in cols:
        df["sign"] = np.asarray(cols["trade_sign"], dtype=float)
    else:
        df["sign"] = np.where(df.p > df.mid, 1.0, np.where(df.p < df.mid, -1.0, tick))
    if "dollar_volume" in cols:
        df["dv"] = np.asarray(cols["dollar_volume"], dtype=float)
    else:
        df["dv"] = df.p * df.q
    conds = [np.asarray(cols[f"cond{i}"], dtype=int) for i in range(1, 5)]
    has = lambda code: np.any([c == code for c in conds], axis=0)  # noqa: E731
    df["blk"] = (np.asarray(cols["is_block_trade"], dtype=bool) if "is_block_trade" in cols
                 else (df.q >= 10_000) | (df.p * df.q >= 200_000))
    df["odd"] = (np.asarray(cols["is_odd_lot"], dtype=bool) if "is_odd_lot" in cols
                 else (df.q < 100) | has(0x17))
    df["iso"] = (np.asarray(cols["is_intermarket_sweep"], dtype=bool) if "is_intermarket_sweep" in cols
                 else has(0x3D))
    return df


def buckets(df: pd.DataFrame, size: float) -> list[tuple[int, int, float]]:
    """(first tick time, last tick time, |buy − sell|) of each full bucket of ``size``, one trade at a time."""
    out, fill, buy, sell, start = [], 0.0, 0.0, 0.0, None
    for t, q, s in zip(df.t.tolist(), df.q.tolist(), df.sign.tolist()):
        share = 1.0 if s > 0 else 0.0 if s < 0 else 0.5
        while q > 0:
            if fill == 0:
                start = t
            take = min(q, size - fill)
            buy, sell, fill, q = buy + take * share, sell + take * (1 - share), fill + take, q - take
            if fill >= size:
                out.append((start, t, abs(buy - sell)))
                fill, buy, sell = 0.0, 0.0, 0.0
    return out


def _tod_ns(ns) -> np.ndarray:
    local = pd.to_datetime(np.asarray(ns, dtype=np.int64), utc=True).tz_convert("America/New_York")
    part = {k: getattr(local, k).to_numpy(dtype=np.int64) for k in ("hour", "minute", "second", "microsecond",
                                                                     "nanosecond")}
    return ((part["hour"] * 3600 + part["minute"] * 60 + part["second"]) * 10**9 + part["microsecond"] * 1000
            + part["nanosecond"])


def profile_volume(history, lo_s: int, hi_s: int) -> float:
    """Mean over earlier days of the volume at local times of day in (lo_s, hi_s] seconds;
    ``history``: ``[(time of day ns, size), ...]``."""
    vols = [float(size[(tod > lo_s * 10**9) & (tod <= hi_s * 10**9)].sum()) for tod, size in history]
    return float(np.mean(vols))


def _var_ok(x: pd.Series) -> bool:
    return len(x) >= 2 and x.var() * (len(x) - 1) > EPS * float((x ** 2).sum())


def window_metrics(df: pd.DataFrame, g: int, span: int | None, *, bucket_list, bucket, history,
                   ) -> dict[str, float]:
    nan = np.nan
    w = df[(df.t <= g) & ((df.t > g - span) if span is not None else True)]
    out: dict[str, float] = {}
    r = np.log(w.p).diff().iloc[1:]
    n = len(w)
    vol = w.q.sum()
    out["realized_vol"] = float(np.sqrt((r ** 2).sum())) if len(r) >= 1 else nan
    vwap = (w.p * w.q).sum() / vol if vol > 0 else nan
    out["vwap_dev_bps"] = (w.p.iloc[-1] - vwap) / vwap * 1e4 if n and vol > 0 else nan
    out["ofi"] = (w.sign * w.q).sum() / vol if vol > 0 else nan
    out["trade_count_imbalance"] = w.sign.mean() if n else nan
    x = (w.sign * w.dv / 1e6).iloc[1:]
    out["kyle_lambda"] = (r * 1e4).cov(x) / x.var() if _var_ok(x) else nan
    out["amihud"] = r.abs().sum() * 1e4 / (w.dv.iloc[1:].sum() / 1e6) if len(r) >= 1 else nan
    dp = w.p.diff().iloc[1:]
    c = dp.cov(dp.shift(1)) if len(dp) >= 3 else nan
    out["roll_spread"] = nan if np.isnan(c) else (2 * np.sqrt(-c) if c < 0 else 0.0)
    v = w[w.valid]
    out["effective_spread_bps"] = (2 * (v.p - v.mid).abs() / v.mid * 1e4).mean() if len(v) else nan
    tv = w.t.to_numpy()
    dur = pd.Series(np.append(tv[1:], g) - tv, index=w.index, dtype=float)[w.valid]
    qs = ((w.ask - w.bid) / w.mid * 1e4)[w.valid]
    out["quoted_spread_bps"] = (dur * qs).sum() / dur.sum() if dur.sum() > 0 else nan
    elig = w.valid & (w.sign != 0)
    better = ((w.sign > 0) & (w.ask > w.p)) | ((w.sign < 0) & (w.p > w.bid))
    out["price_improvement_rate"] = better[elig].mean() if elig.any() else nan
    if bucket_list is None:
        out["vpin"] = nan
    else:
        sel = [imb for s, e, imb in bucket_list if e <= g and (span is None or s > g - span)]
        out["vpin"] = float(np.mean(sel)) / bucket if sel else nan
    if span is None:
        el = (g - df.t.iloc[0]) / 1e9
        out["trade_intensity"] = n / el if el > 0 else nan
    else:
        out["trade_intensity"] = n / (span / 1e9)
    out["avg_trade_size"] = w.q.mean() if n else nan
    out["block_share"] = w.q[w.blk].sum() / vol if vol > 0 else nan
    out["odd_lot_share"] = w.odd.mean() if n else nan
    out["iso_share"] = w.q[w.iso].sum() / vol if vol > 0 else nan
    m1 = len(r)
    if m1 > K and _var_ok(r):
        mu = r.mean()
        var1 = ((r - mu) ** 2).sum() / (m1 - 1)
        rk = r.rolling(K).sum().dropna()
        mk = len(rk)
        vark = ((rk - K * mu) ** 2).sum() / (K * mk * (1 - K / m1))
        out["variance_ratio"] = vark / var1
    else:
        out["variance_ratio"] = nan
    cur, lag = r.iloc[1:], r.shift(1).iloc[1:]
    out["return_autocorr"] = r.autocorr(1) if len(cur) >= 3 and _var_ok(cur) and _var_ok(lag) else nan
    d = w.d
    groups = d[d != d.shift()]  # first trade of each run of equal direction (the window's first starts one)
    runs = int((groups != 0).sum())
    out["tick_run_length"] = int((d != 0).sum()) / runs if runs else nan
    if history is None:
        out["relative_volume"] = nan
    else:
        hi = int(_tod_ns([g])[0] // 10**9)
        lo = hi - span // 10**9 if span is not None else int(-(-_tod_ns([df.t.iloc[0]])[0] // 10**9)) - 1
        ref = profile_volume(history, lo, hi)
        out["relative_volume"] = vol / ref if ref > 0 else nan
    return out


def reference(cols, grid, *, history=None, bucket=None) -> dict[str, np.ndarray]:
    """``{"<metric>.<window>": values at grid}`` by the straightforward route."""
    df = tick_frame(cols)
    if history is not None:
        history = [(_tod_ns(ns), np.asarray(size, dtype=float)) for ns, size in history]
    bucket_list = buckets(df, bucket) if bucket else None
    rows = {w: [window_metrics(df, int(g), span, bucket_list=bucket_list, bucket=bucket, history=history)
                for g in grid] for w, span in WINDOWS_NS.items()}
    out = {}
    for w, rs in rows.items():
        for m in rs[0]:
            out[f"{m}.{w}"] = np.array([r[m] for r in rs], dtype=float)
    return out
