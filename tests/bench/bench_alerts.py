"""Alert evaluation cost and firing latency.

python tests/bench/bench_alerts.py

* the engine alone: one IndicatorUpdate of 40 breadth values against 200 market rules, one derived
  update (60 metrics of one symbol) against 500 symbols × 2 derived rules, one TicksAppended batch;
* the alerts service (SQLite in a temporary directory, the in-process bus): IndicatorUpdate published
  → AlertFired received on the bus (stored in alert_history first), p50 / p99 over 300 firings.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from tickdeck.core.alert_rules import AlertRule
from tickdeck.core.alerts import AlertEngine
from tickdeck.core.events import IndicatorUpdate, TicksAppended
from tickdeck.core.indicators.catalog import DERIVED_METRIC_NAMES, INDICATORS

T0 = 1_719_928_800.0
N = 20_000


def per_call(fn, n: int = N) -> float:
    t = time.perf_counter()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - t) / n * 1e6


def engine_costs() -> None:
    breadth = [n for n, ind in INDICATORS.items() if ind.group == "breadth"][:40]
    rules = [AlertRule(f"m{i}", "ops", f"indicator:{breadth[i % len(breadth)]}",
                       ("above", "below", "crosses_up", "change_pct")[i % 4], 0.0, 0.0,
                       60.0 if i % 4 == 3 else None, True, "", i + 1) for i in range(200)]
    metrics = [f"{m}.{w}" for m in DERIVED_METRIC_NAMES for w in ("1min", "5min", "session")]
    syms = [f"S{i:03d}" for i in range(500)]
    rules += [AlertRule(f"d{i}", "ops", f"indicator:{s}:{metrics[i % 60]}", "above", 0.5, 0.0, None, True, "",
                        1000 + i) for i, s in enumerate(syms * 2)]
    e = AlertEngine(rules, lambda: T0)
    rng = np.random.default_rng(0)
    vals = rng.normal(size=(64, 60))
    ups = [IndicatorUpdate("breadth", "local", "2024-07-02", int((T0 + i) * 1e9), tuple(breadth), vals[i, :40])
           for i in range(64)]
    print(f"engine: breadth update (40 values, 200 market rules):       "
          f"{per_call(lambda i: e.feed(ups[i % 64])):7.1f} µs/update")
    ders = [IndicatorUpdate("derived", "derived", "2024-07-02", int((T0 + i) * 1e9), tuple(metrics), vals[i % 64],
                            symbol=syms[i % 500]) for i in range(500)]
    print(f"engine: derived update (60 metrics, 1,000 rules on 500 syms): "
          f"{per_call(lambda i: e.feed(ders[i % 500])):7.1f} µs/update")
    cols = {k: np.zeros(500) for k in ("tick_id", "date", "time", "last", "last_sz", "last_type", "mkt_ctr",
                                       "tot_vlm", "bid", "ask", "cond1", "cond2", "cond3", "cond4")}
    ticks = TicksAppended.from_columns("AAPL", "2024-07-02", "live", cols, np.arange(500) + int(T0 * 1e9))
    print(f"engine: TicksAppended (500 ticks):                           "
          f"{per_call(lambda i: e.feed(ticks)):7.1f} µs/batch")


def service_latency(n: int = 300) -> None:
    from tickdeck.core.alert_service import AlertsService
    from tickdeck.core.alert_store import add_rule
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context

    with tempfile.TemporaryDirectory() as d:
        ctx = Context.open(Settings(data_dir=Path(d)))
        add_rule(ctx.catalog, AlertRule("tick high", "ops", "indicator:TICK.NYSE", "above", 0.0))
        got, sent = threading.Event(), {}
        lat = []

        def on(m):
            lat.append(time.perf_counter() - sent["t"])
            got.set()

        ctx.bus.listen("alerts", on)
        svc = AlertsService(ctx, clock=lambda: T0)
        svc.start({})
        while "rules" not in svc.health().detail:
            time.sleep(0.01)
        for i in range(n):
            for v in (-1.0, 1.0):  # below, then a crossing that fires
                got.clear()
                sent["t"] = time.perf_counter()
                ctx.bus.publish(IndicatorUpdate("breadth", "feed", "2024-07-02", int((T0 + 2 * i + v) * 1e9),
                                                ("TICK.NYSE",), np.array([v])))
            assert got.wait(10)
        svc.stop(10)
        ctx.close()
    ms = np.array(lat) * 1000
    print(f"service: IndicatorUpdate -> stored + AlertFired on the bus (SQLite), {n} firings: "
          f"p50 {np.percentile(ms, 50):.2f} ms, p99 {np.percentile(ms, 99):.2f} ms")


if __name__ == "__main__":
    engine_costs()
    service_latency()
