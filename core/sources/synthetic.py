"""A seeded synthetic US-equity market: realistic trading days for any symbol, vectorised.

For one (symbol, day, seed) it produces the 14 raw IQFeed columns: a U-shaped intraday
activity profile with thin pre-market and after-hours trading, a cent-tick random-walk price,
bid/ask quotes with realistic spreads (wider outside the regular session), trade sizes with
round-lot clustering, odd lots and occasional blocks, condition codes from
:mod:`core.conditions`, several market centers (a third off-exchange) and cumulative volume.
Early-close days end the regular session at the calendar's close. Same inputs, same data.

Fault injection (``faults=``) corrupts a clean day in documented ways so validation can be
exercised: see :data:`FAULT_KINDS`.
"""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass

import numpy as np

from tickdeck.core import conditions
from tickdeck.core.calendar import MarketCalendar
from tickdeck.core.errors import NotFound, TickdeckError
from tickdeck.core.naming import as_date, normalize_ticker
from tickdeck.core.schema import empty_raw

FAULT_KINDS = {
    "gaps": "a 20-minute hole in the regular session (11:00–11:20 ET)",
    "bad_prints": "8 trades printed 15% away from the market with ordinary size",
    "crossed_quotes": "60 ticks whose bid is above the ask",
    "decreasing_volume": "cumulative volume steps backwards at 5 places",
    "out_of_order": "40 adjacent trades with swapped timestamps",
    "wrong_timezone": "timestamps are UTC wall-clock labelled as ET (shifted 4–5 h later)",
    "duplicates": "1% of ticks repeated with the same tick id",
}

_US = 1_000_000


@dataclass(frozen=True)
class SymbolProfile:
    """Per-symbol parameters derived from the ticker (stable across runs)."""

    base_price: float
    regular_ticks: int
    daily_vol: float
    spread_cents: int


# Price levels for familiar tickers so demo charts look plausible; others get a hashed level.
KNOWN_PRICES = {"AAPL": 190.0, "MSFT": 420.0, "SPY": 545.0, "QQQ": 470.0, "NVDA": 120.0, "TSLA": 250.0,
                "AMZN": 185.0, "GOOG": 175.0, "META": 500.0, "IWM": 205.0}


def profile(symbol: str) -> SymbolProfile:
    sym = normalize_ticker(symbol)
    h = zlib.crc32(sym.encode())
    rng = np.random.default_rng(h)
    price = float(np.round(np.exp(rng.uniform(np.log(15), np.log(600))), 2))
    price = KNOWN_PRICES.get(sym, price)
    return SymbolProfile(
        base_price=price,
        regular_ticks=int(rng.integers(30_000, 90_000)),
        daily_vol=float(rng.uniform(0.008, 0.03)),
        spread_cents=int(max(1, round(price / 150))),
    )


def _rng(symbol: str, day: dt.date, seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(symbol.encode()), day.toordinal()])


def _open_price(symbol: str, day: dt.date, seed: int, p: SymbolProfile) -> float:
    # A slow drift across days so consecutive days connect plausibly.
    r = np.random.default_rng([seed, zlib.crc32(symbol.encode())])
    drift = r.normal(0, 0.01)
    k = (day - dt.date(2020, 1, 1)).days
    wobble = 0.15 * np.sin(k / 37.0 + r.uniform(0, 6.28))
    return round(p.base_price * float(np.exp(drift * k / 250 + wobble)), 2)


def generate_day(symbol: str, day, *, calendar: MarketCalendar, seed: int = 0, faults=(),
                 ticks: int | None = None) -> dict[str, np.ndarray]:
    """Raw columns for one synthetic trading day.

    Parameters
    ----------
    ticks
        Override the number of regular-session trades (benchmarks use millions).
    faults
        Names from :data:`FAULT_KINDS` to inject.

    Raises
    ------
    NotFound
        ``day`` is not a trading day of ``calendar``.
    """
    symbol = normalize_ticker(symbol)
    day = as_date(day)
    unknown = set(faults) - set(FAULT_KINDS)
    if unknown:
        raise TickdeckError(f"unknown fault kind(s) {sorted(unknown)}; choose from {', '.join(FAULT_KINDS)}")
    if not calendar.is_trading_day(day):
        raise NotFound(f"{day} is not a {calendar.name} trading day (no synthetic data)")
    b = calendar.bounds(day)
    prof = profile(symbol)
    rng = _rng(symbol, day, seed)

    def wall_us(ts):  # µs since local midnight
        return (ts.hour * 3600 + ts.minute * 60 + ts.second) * _US

    pre0, open_, close, after1 = wall_us(b.pre_open), wall_us(b.open), wall_us(b.close), wall_us(b.after_close)
    reg_len = close - open_
    n_reg = ticks if ticks is not None else int(prof.regular_ticks * reg_len / (6.5 * 3600 * _US)
                                                * rng.uniform(0.85, 1.15))
    n_pre = max(1, int(n_reg * rng.uniform(0.02, 0.04))) if pre0 < open_ else 0
    n_after = max(1, int(n_reg * rng.uniform(0.03, 0.05))) if close < after1 else 0
    # U-shape: half uniform, half arcsine (Beta(0.5, 0.5)) over the regular session.
    half = n_reg // 2
    x = np.concatenate([rng.random(n_reg - half), rng.beta(0.5, 0.5, half)])
    t_reg = open_ + (x * (reg_len - 1)).astype(np.int64)
    t_pre = pre0 + (rng.random(n_pre) * (open_ - pre0 - 1)).astype(np.int64)
    t_after = close + (rng.random(n_after) * (after1 - close - 1)).astype(np.int64)
    t = np.sort(np.concatenate([t_pre, t_reg, t_after]))
    n = t.size
    is_reg = (t >= open_) & (t < close)

    sigma = prof.daily_vol / np.sqrt(max(n, 1))
    steps = rng.normal(0.0, sigma, n) * np.where(is_reg, 1.0, 1.6)
    fair = _open_price(symbol, day, seed, prof) * np.exp(np.cumsum(steps))
    spread_c = prof.spread_cents + rng.geometric(0.6, n) - 1
    spread_c = np.where(is_reg, spread_c, spread_c * 3)
    bid_c = np.round(fair * 100 - spread_c / 2).astype(np.int64)
    ask_c = bid_c + spread_c
    u = rng.random(n)
    inside = bid_c + (rng.random(n) * (spread_c + 1)).astype(np.int64)
    last_c = np.where(u < 0.42, ask_c, np.where(u < 0.84, bid_c, inside))

    kind = rng.random(n)
    odd = rng.integers(1, 100, n)
    rounds = 100 * rng.geometric(0.45, n)
    mixed = rng.integers(101, 1000, n)
    block = 100 * rng.integers(100, 600, n)
    odd_share = np.where(is_reg, 0.33, 0.55)
    size = np.where(kind < odd_share, odd, np.where(kind < 0.90, rounds, np.where(kind < 0.985, mixed, block)))

    raw = empty_raw(n)
    raw["tick_id"][:] = (zlib.crc32(f"{symbol}{day}".encode()) % 1_000_000) * 10_000_000 + np.arange(1, n + 1)
    raw["date"][:] = day.year * 10000 + day.month * 100 + day.day
    raw["time"][:] = t
    raw["last"][:] = last_c / 100.0
    raw["bid"][:] = bid_c / 100.0
    raw["ask"][:] = ask_c / 100.0
    raw["last_sz"][:] = size
    raw["tot_vlm"][:] = np.cumsum(size)
    ids = np.array([m.id for m in conditions.MARKET_CENTERS], dtype=np.int16)
    probs = np.array([0.18, 0.14, 0.12, 0.10, 0.04, 0.42])
    raw["mkt_ctr"][:] = ids[rng.choice(len(ids), n, p=probs)]

    c1 = np.full(n, 0x01, dtype=np.uint8)
    c2 = np.zeros(n, dtype=np.uint8)
    c1[~is_reg] = 0x1C
    c2[size < 100] = 0x17
    iso = rng.random(n) < 0.05
    c1[iso & is_reg] = 0x3D
    special = rng.random(n)
    c1[(special < 0.002) & is_reg] = 0x05
    c1[(special > 0.999) & is_reg] = 0x3E
    reg_idx = np.flatnonzero(is_reg)
    if reg_idx.size:
        c1[reg_idx[0]], c1[reg_idx[-1]] = 0x0B, 0x0C
    raw["cond1"][:], raw["cond2"][:] = c1, c2
    disq = conditions.FLAG_TABLES["disqualifying"][c1]
    raw["last_type"][:] = np.where(disq, ord("O"), np.where(is_reg, ord("C"), ord("E")))

    for f in faults:
        raw = _inject(f, raw, rng, b)
    return raw


def _take(raw: dict, idx: np.ndarray) -> dict:
    return {k: v[idx] for k, v in raw.items()}


def _inject(kind: str, raw: dict, rng: np.random.Generator, b) -> dict:
    n = raw["tick_id"].size
    t = raw["time"]
    if kind == "gaps":
        lo, hi = 11 * 3600 * _US, (11 * 3600 + 20 * 60) * _US
        return _take(raw, np.flatnonzero((t < lo) | (t >= hi)))
    if kind == "bad_prints":
        reg = np.flatnonzero((t >= 10 * 3600 * _US) & (t < 15 * 3600 * _US))
        at = rng.choice(reg, min(8, reg.size), replace=False)
        raw["last"][at] = np.round(raw["last"][at] * 1.15, 2)
        raw["last_sz"][at] = 100
        return raw
    if kind == "crossed_quotes":
        at = rng.choice(n, min(60, n), replace=False)
        raw["bid"][at], raw["ask"][at] = raw["ask"][at] + 0.02, raw["bid"][at]
        return raw
    if kind == "decreasing_volume":
        at = np.sort(rng.choice(np.arange(10, n), min(5, n - 10), replace=False))
        for i in at:
            raw["tot_vlm"][i] = raw["tot_vlm"][i - 1] - 500
        return raw
    if kind == "out_of_order":
        at = rng.choice(np.arange(1, n - 1), min(40, n - 2), replace=False)
        t = t.copy()
        t[at], t[at + 1] = t[at + 1] + 1000, t[at] - 1000  # force a strict inversion
        raw["time"] = t
        return raw
    if kind == "wrong_timezone":
        offset_us = -int(b.open.utcoffset().total_seconds()) * _US  # 4 h (EDT) or 5 h (EST)
        shifted = t + offset_us
        keep = np.flatnonzero(shifted < 24 * 3600 * _US)
        raw = _take(raw, keep)
        raw["time"] = shifted[keep]
        return raw
    if kind == "duplicates":
        at = np.sort(rng.choice(n, max(1, n // 100), replace=False))
        order = np.sort(np.concatenate([np.arange(n), at]), kind="stable")
        return _take(raw, order)
    raise AssertionError(kind)


def generate_into_store(ctx, symbols, start, end, *, seed: int = 0, faults=(), ticks: int | None = None,
                        progress=None) -> list:
    """Generate and ingest every trading day in ``[start, end]`` for each symbol.

    Non-trading days are skipped. Returns the :class:`core.ingest.IngestResult` of each day.
    """
    from tickdeck.core.ingest import ingest_day
    from tickdeck.core.progress import Progress

    cal = ctx.calendar()
    days = cal.trading_days(start, end)
    if not days:
        raise NotFound(f"no {cal.name} trading days between {as_date(start)} and {as_date(end)}")
    syms = [normalize_ticker(s) for s in symbols]
    total, done, out = len(syms) * len(days), 0, []
    for sym in syms:
        for day in days:
            raw = generate_day(sym, day, calendar=cal, seed=seed, faults=faults, ticks=ticks)
            out.append(ingest_day(ctx, sym, day, raw, source="synthetic", calendar=cal,
                                  dataset={"venue": "SIM", "asset_class": "equity",
                                           "description": "synthetic US equity (seeded)"}))
            done += 1
            if progress:
                progress(Progress("generate", done, total, f"{sym} {day}"))
    return out
