"""Shared test builders: small raw tick columns and stored days."""

from __future__ import annotations

import numpy as np

from tickdeck.core.catalog import Catalog
from tickdeck.core.config import Settings
from tickdeck.core.schema import empty_raw
from tickdeck.core.users import add_user


def make_raw(prices, sizes=None, *, bids=None, asks=None, day=20240702, start_s=10 * 3600, step_s=1.0,
             conds=None, tick_id0=1):
    """Raw columns for trades at ``prices`` one ``step_s`` apart from ``start_s`` (ET seconds)."""
    n = len(prices)
    r = empty_raw(n)
    r["tick_id"][:] = np.arange(tick_id0, tick_id0 + n)
    r["date"][:] = day
    r["time"][:] = (np.arange(n) * step_s * 1e6 + start_s * 1e6).astype(np.int64)
    r["last"][:] = prices
    r["last_sz"][:] = 100 if sizes is None else sizes
    r["tot_vlm"][:] = np.cumsum(r["last_sz"])
    if bids is not None:
        r["bid"][:] = bids
    if asks is not None:
        r["ask"][:] = asks
    r["last_type"][:] = ord("C")
    r["mkt_ctr"][:] = 5
    r["cond1"][:] = 0x01 if conds is None else conds
    return r


def make_trades(n: int, seed: int = 0, day=20240702):
    """``n`` random regular-session trades with quotes."""
    rng = np.random.default_rng(seed)
    prices = np.round(100 + np.cumsum(rng.choice([-0.01, 0.0, 0.01], n)), 2)
    r = make_raw(prices, rng.integers(1, 1000, n), bids=prices - 0.01, asks=prices + 0.01, day=day,
                 start_s=9.5 * 3600, step_s=6.5 * 3600 / max(n, 1))
    return r


def store_synthetic(ctx, symbol="AAPL", start="2024-07-01", end="2024-07-03", seed=0, faults=(), ticks=None):
    from tickdeck.core.sources.synthetic import generate_into_store

    return generate_into_store(ctx, [symbol], start, end, seed=seed, faults=faults, ticks=ticks)


def add_users(data_dir, users) -> None:
    """Create web users ``(name, role, password)`` in the catalog of ``data_dir``, in this process (the
    ``tickdeck users add`` command is tested in tests/unit/jobs/test_cli.py; a subprocess per user costs seconds)."""
    catalog = Catalog(Settings(data_dir=data_dir).sql_url)
    try:
        for name, role, password in users:
            add_user(catalog, name, role, password, actor="test")
    finally:
        catalog.engine.dispose()
