"""Bars engine benchmark: kernel throughput per family, the full default set, get_bars latency,
and NautilusTrader's bar aggregators side by side where it has one.

Run: ``.venv/bin/python tests/bench/bench_bars.py [--ticks 5000000]``. Prints tables; no
assertions. Numbers are best-of-N wall times on one core (the kernels are single-threaded).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


from tickdeck.core.bars import compute_bars, default_specs, tick_arrays  # noqa: E402
from tickdeck.core.bars.builder import compute_columns  # noqa: E402
from tickdeck.core.calendar import get_calendar  # noqa: E402
from tickdeck.core.enrich import enrich  # noqa: E402
from tickdeck.core.sources.synthetic import generate_day  # noqa: E402
from tickdeck.core.store import compute_day_info  # noqa: E402

DAY = "2024-07-02"
ONE_PER_FAMILY = ["time:1m", "tick:1000", "volume:100000", "dollar:20000000", "range:0.5", "renko:0.2",
                  "heikin_ashi:1m", "tick_imbalance:ewma20:t1000", "volume_imbalance:ewma20:t1000",
                  "dollar_imbalance:ewma20:t1000", "tick_runs:ewma20:t1000", "volume_runs:ewma20:t1000",
                  "dollar_runs:ewma20:t1000", "volume:100000:split"]
TARGET = {"time": 20e6, "tick": 20e6, "volume": 20e6, "dollar": 20e6, "range": 20e6, "renko": 20e6}


def best(fn, reps=3):
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return min(out)


def day_frame(n: int):
    cal = get_calendar("XNYS")
    raw = generate_day("AAPL", DAY, calendar=cal, ticks=n)
    return enrich(raw, symbol="AAPL", source="synthetic", ingest_id="bench", calendar=cal)


def bench_kernels(x):
    print(f"\n## kernel throughput, {len(x):,} ticks (bars frame included)\n")
    print(f"{'spec':34s} {'bars':>8s} {'Mticks/s':>9s} {'target':>7s}")
    for s in ONE_PER_FAMILY:
        compute_columns(x, s)  # compile / warm
        dt = best(lambda s=s: compute_bars(x, s))
        fam = s.split(":")[0]
        tgt = TARGET.get(fam, 5e6) if "split" not in s else 5e6
        n = len(compute_bars(x, s))
        print(f"{s:34s} {n:8d} {len(x) / dt / 1e6:9.1f} {tgt / 1e6:6.0f}M")


def bench_default_set(df, x):
    specs = default_specs(compute_day_info("AAPL", DAY, df))
    for s in specs:
        compute_columns(x, s)
    dt = best(lambda: [compute_bars(x, s) for s in specs], reps=2)
    print(f"\n## full default set ({len(specs)} specs) over {len(x):,} ticks: {dt:.2f} s (target <= 2 s)")


def bench_get_bars(n: int):
    from tickdeck.core.bars import build_default_bars, get_bars
    from tickdeck.core.bars.service import cache_clear
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context
    from tickdeck.core.ingest import ingest_day

    with tempfile.TemporaryDirectory() as tmp:
        ctx = Context.open(Settings(data_dir=Path(tmp)))
        cal = get_calendar("XNYS")
        ingest_day(ctx, "AAPL", DAY, generate_day("AAPL", DAY, calendar=cal, ticks=n), source="synthetic",
                   calendar=cal)
        print(f"\n## get_bars on a stored day of {ctx.store.day_info('AAPL', DAY).ticks:,} ticks\n")
        rows = []
        for label, spec, prep in (("computed from ticks", "volume:12345", cache_clear),
                                  ("cached in process", "volume:12345", lambda: None),
                                  ("stored series", "time:1m", cache_clear)):
            if label == "stored series":
                build_default_bars(ctx, "AAPL", DAY, specs=["time:1m"])
            times = []
            for _ in range(3):
                prep()
                t = time.perf_counter()
                get_bars(ctx, "AAPL", DAY, spec=spec)
                times.append(time.perf_counter() - t)
            rows.append((label, min(times)))
        t = time.perf_counter()
        build_default_bars(ctx, "AAPL", DAY)
        rows.append(("build_default_bars (39 specs, read+write)", time.perf_counter() - t))
        for label, dt in rows:
            print(f"{label:44s} {dt * 1000:9.1f} ms")
        ctx.close()


def bench_nautilus(x, n: int):
    try:
        from nautilus_trader.data.aggregation import (RenkoBarAggregator, TickBarAggregator, ValueBarAggregator,
                                                      VolumeBarAggregator)
        from nautilus_trader.model.data import BarType, TradeTick
        from nautilus_trader.model.enums import AggressorSide
        from nautilus_trader.model.identifiers import TradeId
        from nautilus_trader.model.objects import Price, Quantity
        from nautilus_trader.test_kit.providers import TestInstrumentProvider
    except ImportError as e:
        print(f"\n## NautilusTrader not installed ({e}); pip install -e '.[bench]'")
        return
    import nautilus_trader

    sub = x.take(0, n)
    inst = TestInstrumentProvider.equity(symbol="AAPL", venue="XNAS")
    side = {1: AggressorSide.BUYER, -1: AggressorSide.SELLER, 0: AggressorSide.NO_AGGRESSOR}
    ticks = [TradeTick(inst.id, Price(float(p), 2), Quantity(int(v), 0), side[int(g)], TradeId(str(i)), int(t), int(t))
             for i, (p, v, g, t) in enumerate(zip(sub.px, sub.sz, sub.sgn, sub.ts))]
    pairs = [("tick", "tick:1000", TickBarAggregator, "1000-TICK"),
             ("volume", "volume:100000:cross", VolumeBarAggregator, "100000-VOLUME"),
             ("dollar", "dollar:20000000:cross", ValueBarAggregator, "20000000-VALUE"),
             ("renko", "renko:0.2:cross", RenkoBarAggregator, "20-RENKO")]
    print(f"\n## vs NautilusTrader {nautilus_trader.__version__} bar aggregators, {n:,} TradeTick objects "
          f"(object creation excluded)\n")
    print(f"{'family':8s} {'tickdeck Mt/s':>14s} {'nautilus Mt/s':>14s} {'ratio':>7s} {'bars td/nt':>12s}")
    for fam, spec, cls, bt in pairs:
        try:
            out = []
            agg = cls(inst, BarType.from_str(f"{inst.id}-{bt}-LAST-INTERNAL"), out.append)
            t = time.perf_counter()
            for tk in ticks:
                agg.handle_trade_tick(tk)
            nt = time.perf_counter() - t
        except Exception as e:  # noqa: BLE001 - an aggregator this version lacks
            print(f"{fam:8s} nautilus failed: {e}")
            continue
        compute_columns(sub, spec)
        td = best(lambda sub=sub, spec=spec: compute_bars(sub, spec))
        nbars = len(compute_bars(sub, spec))
        print(f"{fam:8s} {n / td / 1e6:14.1f} {n / nt / 1e6:14.2f} {nt / td:6.0f}x {nbars:5d}/{len(out):<5d}")
    print("(time bars need a running clock in NautilusTrader; range and imbalance/runs bars have no counterpart)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ticks", type=int, default=5_000_000)
    ap.add_argument("--nautilus-ticks", type=int, default=200_000)
    ap.add_argument("--get-bars-ticks", type=int, default=1_000_000)
    a = ap.parse_args()
    t = time.perf_counter()
    df = day_frame(a.ticks)
    x = tick_arrays(df)
    print(f"generated {len(x):,} ticks in {time.perf_counter() - t:.1f} s")
    bench_kernels(x)
    bench_default_set(df, x)
    bench_get_bars(a.get_bars_ticks)
    bench_nautilus(x, a.nautilus_ticks)


if __name__ == "__main__":
    main()
