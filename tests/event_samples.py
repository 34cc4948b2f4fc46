"""One sample of every registered event type, and a field-by-field equality for them (arrays by value and
dtype, NaN equal to NaN): shared by the codec tests and the cross-process bus test."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from tickdeck.core import events as ev


def ticks(n: int = 5) -> ev.TicksAppended:
    rng = np.random.default_rng(3)
    cols = {k: (rng.integers(0, 100, n).astype(dt) if np.dtype(dt).kind in "iu" else rng.random(n).astype(dt))
            for k, dt in ev.TICK_ARRAYS.items() if k != "timestamp"}
    cols["bid"][1] = np.nan  # no quote: NaN survives the wire
    return ev.TicksAppended.from_columns("AAPL", "2024-07-03", "live", cols,
                                         np.arange(n, dtype=np.int64) + 1_720_000_000_000_000_000)


SAMPLES = {
    "FeedStatusChanged": lambda: ev.FeedStatusChanged("127.0.0.1", 9100, "level1", "connected", "closed", 10, 8, 1, 0,
                                                      2, 53.9, "", 1_720_000_000.5),
    "CollectionProgress": lambda: ev.CollectionProgress("collect", 2, 4, "AAPL 2024-07-02", 7, 50.0),
    "DayWritten": lambda: ev.DayWritten("AAPL", "2024-07-02", 61234, "iqfeed", "iqfeed-abc"),
    "PostWriteFailed": lambda: ev.PostWriteFailed("AAPL", "2024-07-02", "_after_write", "boom"),
    "DayCollectionFailed": lambda: ev.DayCollectionFailed("IBM", "2024-07-02", "unknown symbol", "InvalidFeedSymbol"),
    "LiveBatch": lambda: ev.LiveBatch(("AAPL", "MSFT"), 12, 3, "2024-07-03T10:00:01"),
    "DeadLettersReplayed": lambda: ev.DeadLettersReplayed(3, 1, ("AAPL/2024-07-02",)),
    "FeedSwitched": lambda: ev.FeedSwitched("127.0.0.1:9100/5009", "10.0.0.2:9100/5009", "backup", "disconnect",
                                            "level 1 127.0.0.1:5009: connection closed", 1_720_015_200.25,
                                            1_720_000_000.5),
    "TicksAppended": ticks,
    "BarClosed": lambda: ev.BarClosed("AAPL", "time:1m", 1, 2, 10.0, 11.0, 9.5, 10.5, 300.0, 3150.0, 10.5, 3, 200.0,
                                      100.0, math.nan, 1, 0, origin="scenario"),
    "BarsBuilt": lambda: ev.BarsBuilt("AAPL", "2024-07-02", "tick:500", "tick", 40),
    "JobChanged": lambda: ev.JobChanged(5, "collect", "running", 50.0, "collect: AAPL", None, 0, "", "progress", "w1"),
    "TriggerFired": lambda: ev.TriggerFired("open", "2024-07-03", "2024-07-03T09:30:00-04:00", 9),
    "ValidationDone": lambda: ev.ValidationDone("AAPL", "2024-07-02", "WARN", 2, "iqfeed-abc"),
    "QualityScored": lambda: ev.QualityScored("AAPL", "2024-07-02", 87.5),
    "HealthReported": lambda: ev.HealthReported("degraded", "2024-07-03T14:00:00+00:00",
                                                (ev.HealthCheck("feed", "degraded", "cannot connect", None, 1.5),
                                                 ev.HealthCheck("disk", "ok", "10 GiB free", 42.0, 0.1)),
                                                {"ticks": 123}),
    "ServiceChanged": lambda: ev.ServiceChanged("live", "running", 1, "", 1_720_000_000.0, "streaming AAPL"),
    "StatisticUpdated": lambda: ev.StatisticUpdated("JTNT.Z", "TICK.NYSE", "2024-07-03", 1_720_015_200_000_000_000,
                                                    math.nan),
    "IndicatorUpdate": lambda: ev.IndicatorUpdate("breadth", "local", "2024-07-03", 1_720_015_200_000_000_000,
                                                  ("TICK.NYSE", "TRIN.NYSE"), np.array([312.0, math.nan])),
    "AlertFired": lambda: ev.AlertFired(3, 17, "TICK extreme", "adam", "indicator:TICK.NYSE", "above", 1012.0,
                                        1000.0, "TICK.NYSE 1012 above 1000", 1_720_015_200.25),
    "AlertAcknowledged": lambda: ev.AlertAcknowledged(3, 17, "adam", 1_720_015_260.0),
    "ReplayChanged": lambda: ev.ReplayChanged("playing", ("AAPL", "MSFT"), "2024-07-02T00:00:00-04:00",
                                              "2024-07-03T00:00:00-04:00", 100.0, 1_720_015_200_000_000_000, 1200,
                                              10_000, 37),
}


def same(a, b) -> bool:
    """Field-by-field equality with arrays compared by value and dtype, NaN equal to NaN."""
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            same = isinstance(y, np.ndarray) and x.dtype == y.dtype
            if not (same and np.array_equal(x, y, equal_nan=x.dtype.kind == "f")):
                return False
        elif isinstance(x, float) and math.isnan(x):
            if not (isinstance(y, float) and math.isnan(y)):
                return False
        elif x != y:
            return False
    return True
