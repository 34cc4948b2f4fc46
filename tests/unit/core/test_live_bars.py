"""Issue 12: live bar inputs carried across batches equal the whole day's; ticks events per symbol."""

from __future__ import annotations

import numpy as np
import pytest

from tickdeck.core import live_bars
from tickdeck.core.bars.builder import BarBuilder, compute_columns
from tickdeck.core.bars.arrays import TickArrays
from tickdeck.core.bus import LocalBus
from tickdeck.core.enrich import trade_signs
from tickdeck.core.events import TICK_ARRAYS

N = 3123  # ticks of the test day: the last tick:500 and time:1m bars are still open at its end


def _day(n: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    last = np.round(100 + np.cumsum(rng.choice([-0.01, 0.0, 0.0, 0.01], n)), 2)
    bid = last - rng.choice([0.0, 0.01, 0.02], n)
    ask = last + rng.choice([0.0, 0.01, 0.02], n)
    bid[rng.random(n) < 0.1] = np.nan  # some trades without a quote: the tick rule decides
    ts = np.datetime64("2024-07-03T13:30:00", "ns").astype(np.int64) + np.cumsum(rng.integers(1, 3_000_000_000, n))
    return ts, last, rng.integers(1, 500, n).astype(np.float64), bid, ask, np.ones(n, np.int8)


@pytest.mark.parametrize("seed", range(5))
def test_batches_give_the_whole_days_signs_and_bars(seed):
    """Issue 12: trade signs and bars built batch by batch (any split) equal the whole day's."""
    ts, last, size, bid, ask, ses = _day(N, seed)
    cuts = np.sort(np.random.default_rng(seed).choice(np.arange(1, N), 40, replace=False))
    sb = live_bars._SymbolBars("AAPL", ("time:1m", "tick:500"), "XNYS", 1.0)
    signs, bars = [], {spec: [] for spec, _ in sb.builders}
    for a, b in zip(np.r_[0, cuts], np.r_[cuts, N]):
        x = sb.arrays(ts[a:b], last[a:b], size[a:b], bid[a:b], ask[a:b], ses[a:b])
        signs.append(x.sgn)
        for spec, cols in sb.update(x):
            bars[spec].append(cols["start"])
    mid = np.where((bid > 0) & (ask >= bid) & np.isfinite(ask), (bid + ask) * 0.5, np.nan)
    whole = trade_signs(last, mid)[0]
    assert np.array_equal(np.concatenate(signs), whole)
    valid = (bid > 0) & (ask >= bid) & np.isfinite(ask)
    bps = np.where(valid, ask - bid, np.nan) / mid * 1e4
    x = TickArrays(ts, last, size, whole, bps, ses)
    for spec in bars:
        ref = compute_columns(x, spec)["start"][:-1]  # the last bar is still open in the stream
        assert np.array_equal(np.concatenate(bars[spec]), ref), spec
    assert isinstance(sb.builders[0][1], BarBuilder)


def test_publish_ticks_sends_one_event_per_symbol_split_when_large(monkeypatch):
    monkeypatch.setattr(live_bars, "TICKS_PER_EVENT", 4)
    bus = LocalBus()
    seen = []
    bus.listen("ticks.*", seen.append)
    syms = np.array(["AAPL"] * 6 + ["MSFT"] * 2, dtype=object)
    cols = {k: np.arange(8).astype(dt) for k, dt in TICK_ARRAYS.items() if k != "timestamp"}
    sent = live_bars.publish_ticks(bus, "2024-07-03", "live", syms, cols, np.arange(8, dtype=np.int64) * 10)
    assert sent == 3
    assert [(m.topic, m.event.tick_id.tolist()) for m in seen] == [
        ("ticks.AAPL", [0, 1, 2, 3]), ("ticks.AAPL", [4, 5]), ("ticks.MSFT", [6, 7])]
    assert seen[2].event.timestamp.tolist() == [60, 70] and seen[0].event.day == "2024-07-03"
    assert live_bars.publish_ticks(bus, "2024-07-03", "live", syms[:0], {k: v[:0] for k, v in cols.items()},
                                   np.empty(0, np.int64)) == 0
