"""Import memory does not grow with the file: a file five times longer (more days of the same size)
peaks at about the same traced memory (numpy arrays and Python objects; tracemalloc).

The 10,000,000-row measurement (peak RSS, ticks/s) is ``tests/bench/bench_import.py``; this
test keeps the property at a size a test run can afford, with small read blocks and spool
budget so the streaming and spilling paths both run.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pandas as pd

from tickdeck.core.sources.files import import_file

ROWS_PER_DAY = 20_000


def _write_days(path, n_days: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2024-07-08", periods=n_days)
    parts = []
    for d in days:
        t = (d + pd.Timedelta(hours=13, minutes=30)).tz_localize("UTC").value
        ns = np.sort(t + rng.integers(0, int(6 * 3600e9), ROWS_PER_DAY))
        price = np.round(100 + np.cumsum(rng.choice([-0.01, 0.0, 0.01], ROWS_PER_DAY)), 2)
        parts.append(pd.DataFrame({"ts": ns, "price": price, "size": rng.integers(1, 500, ROWS_PER_DAY)}))
    pd.concat(parts).to_csv(path, index=False)
    return path


def _peak(ctx, path, symbol) -> tuple[int, int]:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        rep = import_file(ctx, path, symbol=symbol, calendar="XNYS")
        return rep.ticks, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_peak_memory_of_an_import_does_not_grow_with_the_number_of_days(ctx, tmp_path, monkeypatch):
    """Issue 11 item 18: the file is streamed and spooled per day; peak memory follows the largest day."""
    monkeypatch.setattr("tickdeck.core.sources.tabular.CSV_BLOCK_BYTES", 256 << 10)
    monkeypatch.setattr("tickdeck.core.sources.files.SPOOL_BYTES", 1 << 20)
    small = _write_days(tmp_path / "small.csv", 2)
    large = _write_days(tmp_path / "large.csv", 10, seed=1)
    _peak(ctx, small, "WARM")  # first-use costs (compiled kernels, caches) out of the measurement
    n_small, peak_small = _peak(ctx, small, "AAA")
    n_large, peak_large = _peak(ctx, large, "BBB")
    assert (n_small, n_large) == (2 * ROWS_PER_DAY, 10 * ROWS_PER_DAY)
    assert peak_large < 1.3 * peak_small, (peak_small, peak_large)
