"""Indicator benchmarks on one core: python tests/bench/bench_indicators.py [--ticks N] [--skip-metrics] …

Sections (each a ``bench_<section>(args)`` function printing its own table; ``--skip-<section>``
leaves one out):

* metrics — all 20 derived metrics × 3 windows (:func:`core.indicators.derived.compute_derived`) over
  one generated day of ``--ticks`` trades (default 5,000,000) on its 1 s grid, target < 200 ms:
  from the raw columns (what the live engine and the history build pass) and from the stored
  enrichment columns; best and median of ``--repeat`` runs, ms and ticks/s; and what one round of the
  live service costs a symbol: the day so far (the first 100,000, 1,000,000 and all ticks) evaluated
  at its one new instant, and the same round resumed at the checkpoint the previous round left
  (:func:`core.indicators.derived.compute_derived_resumable`). The peer is the
  straightforward pandas implementation of the tests (``tests/unit/indicators/reference_metrics.py``)
  on the day's first ``--peer-ticks`` trades at ``--peer-instants`` grid instants: its time per grid
  instant beside ours.
* breadth — one local market-breadth update (:class:`core.indicators.breadth.BreadthState`: a batch
  of ``--breadth-batch`` new ticks of one symbol, then a snapshot of all 42 NYSE/NASDAQ/ALL values)
  over ``--breadth-symbols`` symbols (default 500), p50/p99 in ms of ``--breadth-updates`` updates,
  target < 10 ms per statistic tick; and :func:`core.indicators.breadth.breadth_series` over the same
  universe on the session's one-second grid (what the history build computes per day).
* latency — the emulator over TCP at speed 1 (``--latency-symbols`` symbols plus DTN statistics),
  live collection and the ``indicators`` service under the supervisor: for every feed
  IndicatorUpdate, the time from the first StatisticUpdated it carries reaching the bus to the
  update reaching the bus (p50/p99 ms, target p99 < 250 ms), and from the statistic's feed time to
  the update (the Level 1 batch's flush included), for ``--latency-seconds`` of streaming after
  ``--latency-warmup`` seconds (the start fills the morning from history and evaluates it first).
* page — the emulator over TCP at speed 1 (``--page-symbols`` and the DTN statistics), ``tickdeck serve``
  in a subprocess whose supervisor runs live collection and the ``indicators`` service, and the
  ``/indicators`` page in headless Chromium (``/usr/bin/chromium``): for every NYSE TICK statistic
  (``JTNT.Z``) the emulator writes, the time from the emulator writing its line (the bench wraps the
  emulator's statistic lines and records the wall time) to the page's animation frame that shows that
  value (a ``requestAnimationFrame`` loop in the page records when the shown value's instant,
  ``data-at``, changes: the DOM is painted in that frame). Values are matched by their instant (the
  statistic's feed time, ns); p50/p99 in ms over ``--page-updates`` shown values, target < 1 s. The page
  applies updates at most once a second, so a value can wait up to a second for the page's next update.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services_needed import stop_group  # noqa: E402

import numpy as np  # noqa: E402

from tickdeck.core.calendar import get_calendar  # noqa: E402
from tickdeck.core.enrich import enrich_slices, utc_ns_from_date_time  # noqa: E402
from tickdeck.core.indicators.derived import (  # noqa: E402
    VolumeProfile, compute_derived, compute_derived_resumable, metric_grid)
from tickdeck.core.sources.synthetic import generate_day  # noqa: E402

DAY = "2024-07-02"
TARGET_MS = 200.0
_DAY_NS = 86_400 * 10**9
_STORED = ("trade_sign", "dollar_volume", "is_block_trade", "is_odd_lot", "is_intermarket_sweep")


def _day(ticks: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(raw columns + timestamp, the same + the stored enrichment columns) of a generated SPY day.

    ``ticks`` is the day's total: the generator's regular-session count is scaled so that pre-market
    and after-hours trades bring the day to about ``ticks``, then the day is cut to exactly that many.
    """
    cal = get_calendar()
    raw = generate_day("SPY", DAY, calendar=cal, ticks=int(ticks / 1.07))
    n = min(ticks, raw["tick_id"].size)
    raw = {k: v[:n] for k, v in raw.items()}
    cols = dict(raw)
    cols["timestamp"] = utc_ns_from_date_time(raw["date"], raw["time"])
    stored = dict(cols)
    parts: dict[str, list[np.ndarray]] = {k: [] for k in _STORED}
    for _, _, df in enrich_slices(raw, symbol="SPY", source="bench", ingest_id="b", calendar=cal):
        for k in _STORED:
            parts[k].append(df[k].to_numpy())
    stored.update({k: np.concatenate(v) for k, v in parts.items()})
    return cols, stored


def _time(fn, repeat: int) -> tuple[float, float, float]:
    """(best, median) wall seconds and the best CPU seconds of this process over ``repeat`` runs
    (CPU time shows the work when other processes share the cores)."""
    fn()  # JIT and first-touch warm-up
    times, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return min(times), sorted(times)[len(times) // 2], min(cpu)


def bench_metrics(args) -> None:
    t = time.perf_counter()
    cols, stored = _day(args.ticks)
    n = cols["timestamp"].size
    setup_s = time.perf_counter() - t
    # the volume profile: the same day's ticks as "yesterday" (its VPIN bucket is then 1/1000 of this day)
    profile = VolumeProfile.from_days([(cols["timestamp"] - _DAY_NS, cols["last_sz"])])
    grid_best, _, grid_cpu = _time(lambda: metric_grid(cols["timestamp"]), args.repeat)
    grid = metric_grid(cols["timestamp"])
    print(f"derived metrics: {n:,} ticks, {grid.size:,} grid instants (1 s), 60 series; "
          f"day generated and enriched in {setup_s:.1f} s; load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} CPUs")
    print(f"{'benchmark':<44} {'best ms':>9} {'median ms':>10} {'cpu ms':>8} {'ticks/s (best)':>16} {'target ms':>10}")
    print(f"{'metric_grid (1 s)':<44} {grid_best * 1e3:>9.1f} {'':>10} {grid_cpu * 1e3:>8.1f} "
          f"{n / grid_best:>16,.0f} {'':>10}")
    for label, c in (("20 metrics x 3 windows, raw columns", cols),
                     ("20 metrics x 3 windows, stored enrichment", stored)):
        best, med, cpu = _time(lambda c=c: compute_derived(c, grid, volume_profile=profile), args.repeat)
        print(f"{label:<44} {best * 1e3:>9.1f} {med * 1e3:>10.1f} {cpu * 1e3:>8.1f} {n / best:>16,.0f} "
              f"{TARGET_MS:>10.0f}")
        ours_per_instant = best / grid.size
    for part_n in (100_000, 1_000_000, n):  # a live round: the day so far, at its one new instant
        part = {k: v[:part_n] for k, v in cols.items()}
        last = metric_grid(part["timestamp"])[-1:]
        best, med, cpu = _time(lambda part=part, last=last: compute_derived(part, last, volume_profile=profile),
                               args.repeat)
        print(f"{f'live round: {part_n:,} ticks so far, 1 instant':<44} {best * 1e3:>9.1f} {med * 1e3:>10.1f} "
              f"{cpu * 1e3:>8.1f} {part_n / best:>16,.0f} {'':>10}")
        # the same round resumed at the checkpoint the previous round (up to the instant before) left
        g_part = metric_grid(part["timestamp"])
        prev = {k: v[part["timestamp"] <= g_part[-2]] for k, v in part.items()}
        _, cp = compute_derived_resumable(prev, g_part[-2:-1], volume_profile=profile)
        best, med, cpu = _time(lambda part=part, last=last, cp=cp: compute_derived_resumable(
            part, last, volume_profile=profile, resume=cp), args.repeat)
        print(f"{'  the same, resumed at the last checkpoint':<44} {best * 1e3:>9.1f} {med * 1e3:>10.1f} "
              f"{cpu * 1e3:>8.1f} {'':>16} {'':>10}")
    if args.peer_ticks <= 0:
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "indicators"))
    from reference_metrics import reference

    m = min(args.peer_ticks, n)
    part = {k: v[:m] for k, v in stored.items()}
    pgrid = metric_grid(part["timestamp"])
    at = pgrid[np.linspace(0, pgrid.size - 1, min(args.peer_instants, pgrid.size)).astype(int)]
    history = [(cols["timestamp"] - _DAY_NS, cols["last_sz"])]
    t = time.perf_counter()
    reference(part, at, history=history, bucket=max(1.0, round(profile.daily_volume / 1000)))
    peer = time.perf_counter() - t
    print(f"{'pandas reference (peer), ' + f'{m:,} ticks':<44} {peer * 1e3:>9.1f}")
    print(f"per grid instant: compute_derived {ours_per_instant * 1e6:.2f} µs on {n:,} ticks; "
          f"pandas reference {peer / at.size * 1e3:.1f} ms on {m:,} ticks ({at.size} instants)")


def bench_breadth(args) -> None:
    """One breadth update (a batch of one symbol's new ticks + a snapshot of every local breadth value)
    over ``--breadth-symbols`` symbols, p50/p99 in ms against the < 10 ms target; and ``breadth_series``
    over the same universe on a one-second grid of the session (the batch build's cost)."""
    from tickdeck.core.indicators.breadth import BreadthState, breadth_series
    from tickdeck.core.indicators.catalog import exchange_map

    rng = np.random.default_rng(7)
    n_sym, batch, warm = args.breadth_symbols, args.breadth_batch, args.breadth_ticks
    symbols = [f"B{k:04d}" for k in range(n_sym)]
    ex = exchange_map(symbols)
    t0 = 1_720_013_400_000_000_000  # 2024-07-03 09:30 ET in UTC ns
    universe = {}
    for k, s in enumerate(symbols):
        n = warm + batch * (args.breadth_updates // n_sym + 1)
        price = np.round(50 + np.cumsum(rng.choice([-0.01, 0.0, 0.01], n)), 2)
        universe[s] = {"timestamp": t0 + np.sort(rng.integers(0, 23_400 * 10**9, n)) + k,
                       "last": price, "last_sz": rng.integers(1, 500, n).astype(np.float64),
                       "bid": price - 0.01, "ask": price + 0.01}
    st = BreadthState(ex)
    pos = {}
    for s, c in universe.items():
        st.update(s, {k: v[:warm] for k, v in c.items()})
        pos[s] = warm
    times = np.empty(args.breadth_updates)
    for i in range(args.breadth_updates):
        s = symbols[i % n_sym]
        a = pos[s]
        cols = {k: v[a:a + batch] for k, v in universe[s].items()}
        pos[s] = a + batch
        t = time.perf_counter()
        st.update(s, cols)
        snap = st.snapshot(int(cols["timestamp"][-1]))
        times[i] = time.perf_counter() - t
    ms = times * 1000
    p50, p99 = float(np.percentile(ms, 50)), float(np.percentile(ms, 99))
    grid = t0 + np.arange(0, 23_400, dtype=np.int64) * 10**9
    t = time.perf_counter()
    series = breadth_series({s: {k: v[:pos[s]] for k, v in c.items()} for s, c in universe.items()}, grid, ex)
    series_s = time.perf_counter() - t
    print(f"breadth: {n_sym} symbols, batches of {batch} ticks, {args.breadth_updates} updates, "
          f"{len(snap)} values per snapshot")
    print(f"  update + snapshot: p50 {p50:.3f} ms  p99 {p99:.3f} ms  (target < 10 ms: "
          f"{'met' if p99 < 10 else 'MISSED'})")
    print(f"  breadth_series: {grid.size} instants x {n_sym} symbols, {len(series)} series in {series_s:.2f} s")


LATENCY_STATISTICS = ("JTNT.Z", "JTQT.Z", "RINT.Z", "RIQT.Z", "VCOET.Z", "VPOET.Z")


def bench_latency(args) -> None:
    import tempfile
    import threading

    import pandas as pd

    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context
    from tickdeck.core.services import ServiceControl, Supervisor
    from tickdeck.core.sources.iqfeed_emulator import EmulatorThread, IQFeedEmulator

    symbols = ["AAPL", "MSFT", "SPY", "NVDA", "TSLA", "AMZN", "GOOG", "META", "QQQ", "IWM"][:args.latency_symbols]
    emu = IQFeedEmulator(symbols=tuple(symbols), now=f"{DAY} 10:00:00", speed=1.0, ticks=200_000,
                         port_history=0, port_l1=0)
    bus_ms, feed_ms, lock = [], [], threading.Lock()
    first: dict[str, float] = {}
    warm = [float("inf")]  # samples count from here: after the start's history fill has been evaluated

    def on(m) -> None:
        now = time.perf_counter()
        e = m.event
        with lock:
            if m.type == "StatisticUpdated":
                group = "options" if e.indicator.startswith(("PUT_VOL.", "CALL_VOL.", "PCR.")) else "breadth"
                first.setdefault(group, now)
            elif m.type == "IndicatorUpdate" and e.source == "feed":
                t0 = first.pop(e.group, None)
                if t0 is not None and now >= warm[0]:
                    bus_ms.append((now - t0) * 1000)
                    feed_ms.append((pd.Timestamp(emu.sim_now()).tz_localize("America/New_York").value - e.at) / 1e6)

    with EmulatorThread(emu) as running, tempfile.TemporaryDirectory() as tmp:
        ctx = Context.open(Settings(data_dir=Path(tmp) / "data", feed_port_history=running.port_history,
                                   feed_port_l1=running.port_l1))
        ctx.bus.listen("indicators", on)
        sup = Supervisor(ctx, poll_s=0.1, stop_timeout=60)
        sup.start()
        control = ServiceControl(ctx)
        try:
            control.start("indicators", by="bench")
            control.start("live", by="bench", params={"symbols": symbols + list(LATENCY_STATISTICS)})
            warm[0] = time.perf_counter() + args.latency_warmup
            deadline = time.monotonic() + args.latency_warmup + args.latency_seconds
            while time.monotonic() < deadline:
                time.sleep(0.5)  # the bench streams for a fixed wall time
        finally:
            control.stop("indicators", by="bench")
            control.stop("live", by="bench")
            sup.shutdown(timeout=60)
            ctx.close()
    if not bus_ms:
        print("latency: no feed IndicatorUpdate received")
        return
    b, f = np.asarray(bus_ms), np.asarray(feed_ms)
    print(f"latency: {len(symbols)} symbols + {len(LATENCY_STATISTICS)} statistics, {b.size} feed updates "
          f"in {args.latency_seconds:g} s after {args.latency_warmup:g} s of start (the history fill)")
    p99 = float(np.percentile(b, 99))
    print(f"  StatisticUpdated -> IndicatorUpdate on the bus: p50 {np.percentile(b, 50):.1f} ms  "
          f"p99 {p99:.1f} ms  (target p99 < 250 ms: {'met' if p99 < 250 else 'MISSED'})")
    print(f"  feed time -> IndicatorUpdate: p50 {np.percentile(f, 50):.1f} ms  p99 {np.percentile(f, 99):.1f} ms")


PAGE_STATISTICS = ("JTNT.Z", "JTQT.Z", "RINT.Z", "RIQT.Z", "VCOET.Z", "VPOET.Z")
PAGE_TARGET_MS = 1000.0
# In the page: every animation frame, the NYSE TICK feed value's text and instant (data-at, ns) and, when
# the instant changed, the epoch ms of that frame (the element lives in a pane's shadow root, found once
# and found again when the pane re-renders).
PAGE_WATCH = """(selector) => {
  window.__shown = [];
  let root = null, last = null;
  const find = (r) => {
    if (r.querySelector(selector)) return r;
    for (const n of r.querySelectorAll('*')) { if (n.shadowRoot) { const f = find(n.shadowRoot); if (f) return f; } }
    return null;
  };
  const frame = () => {
    let el = root && root.querySelector(selector);
    if (!el) { root = find(document); el = root && root.querySelector(selector); }
    if (el && el.dataset.at !== last) {
      last = el.dataset.at;
      window.__shown.push([el.textContent.trim(), last, performance.timeOrigin + performance.now()]);
    }
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}"""


def bench_page(args) -> None:
    """Emulator statistic line → the value painted on the /indicators page (see the module docstring)."""
    import socket
    import subprocess
    import tempfile
    import urllib.request
    from types import SimpleNamespace

    import pandas as pd
    from playwright.sync_api import sync_playwright

    from tickdeck.core.catalog import Catalog
    from tickdeck.core.services import ServiceControl
    from tickdeck.core.sources.iqfeed_emulator import EmulatorThread, IQFeedEmulator

    symbols = ["AAPL", "MSFT", "SPY", "NVDA", "IWM", "DIA"][:args.page_symbols]
    emu = IQFeedEmulator(symbols=tuple(symbols), now=f"{DAY} 10:00:00", speed=1.0, ticks=20_000,
                         port_history=0, port_l1=0, seed=7)
    emitted: dict[int, float] = {}  # JTNT.Z's instant (UTC ns) → wall time (epoch s) its line was written
    stat_lines = emu._stat_lines

    def recording(state, syms, kind=b"Q"):
        data = stat_lines(state, syms, kind)
        if "JTNT.Z" in syms:  # the line's own feed time: the instant the page shows it under
            wall = time.time()
            fields = state["fields"]
            cells = data.decode().split("\r\n")[list(syms).index("JTNT.Z")].split(",")[2:]
            at = pd.Timestamp(f"{cells[fields.index('Most Recent Trade Date')]} "
                              f"{cells[fields.index('Most Recent Trade Time')]}").tz_localize("America/New_York")
            emitted.setdefault(at.value, wall)
        return data

    emu._stat_lines = recording  # the pacer writes the returned lines right away
    with socket.socket() as sk:
        sk.bind(("127.0.0.1", 0))
        port = sk.getsockname()[1]
    root = Path(__file__).resolve().parents[2]
    with EmulatorThread(emu) as running, tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        env = {**os.environ, "TICKDECK_DATA_DIR": str(data_dir), "TICKDECK_SECRET": "bench-secret",
               "TICKDECK_FEED_PORT_HISTORY": str(running.port_history), "TICKDECK_FEED_PORT_L1": str(running.port_l1)}
        log = open(Path(tmp) / "serve.log", "w")
        proc = subprocess.Popen([sys.executable, "-m", "tickdeck", "serve", "--port", str(port), "--num-procs", "1"],
                                cwd=root, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        url = f"http://127.0.0.1:{port}/"
        catalog = control = None
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    with urllib.request.urlopen(url + "login", timeout=2):
                        break
                except urllib.error.HTTPError:
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        tail = (Path(tmp) / "serve.log").read_text()[-2000:]
                        raise RuntimeError(f"tickdeck serve did not start: {tail}") from None
                    time.sleep(0.2)  # polling while the server boots
            catalog = Catalog(f"sqlite:///{data_dir / 'tickdeck.db'}")
            control = ServiceControl(SimpleNamespace(catalog=catalog))
            control.start("indicators", by="bench")
            control.start("live", by="bench", params={"symbols": symbols + list(PAGE_STATISTICS)})
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
                page = browser.new_page(viewport={"width": 1400, "height": 950})
                page.set_default_timeout(120_000)
                page.goto(url + "indicators")
                selector = "[data-testid='v-TICK.NYSE-feed']"
                page.get_by_role("button", name="Market breadth").wait_for()
                page.evaluate(PAGE_WATCH, selector)
                page.wait_for_function("(n) => window.__shown.filter(s => s[1] !== '0').length >= n",
                                       arg=args.page_updates + args.page_warmup, polling=500,
                                       timeout=(args.page_updates + args.page_warmup) * 5_000 + 120_000)
                shown = page.evaluate("window.__shown")
                browser.close()
        finally:
            if control is not None:
                for name in ("live", "indicators"):
                    control.stop(name, by="bench")
            if catalog is not None:
                catalog.engine.dispose()
            stop_group(proc, log, timeout=30)
    shown = [(text, int(at), ms) for text, at, ms in shown if at != "0"][args.page_warmup:]
    lat = [ms - emitted[at] * 1000 for _, at, ms in shown if at in emitted]
    unmatched = len(shown) - len(lat)
    if not lat:
        print(f"page: no shown value matched an emitted statistic ({len(shown)} shown, e.g. {shown[:2]}; "
              f"emitted e.g. {list(emitted.items())[:2]})")
        return
    a = np.asarray(lat)
    p50, p99 = float(np.percentile(a, 50)), float(np.percentile(a, 99))
    first = pd.Timestamp(shown[0][1], tz="UTC").tz_convert("America/New_York")
    print(f"page: {len(symbols)} symbols + {len(PAGE_STATISTICS)} statistics at speed 1, {a.size} NYSE TICK values "
          f"shown from {first:%H:%M:%S} ET (after {args.page_warmup} skipped)"
          f"{f', {unmatched} unmatched' if unmatched else ''}; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"  emulator statistic line -> painted on /indicators: p50 {p50:.0f} ms  p99 {p99:.0f} ms  "
          f"max {a.max():.0f} ms  (target < {PAGE_TARGET_MS:.0f} ms: {'met' if p99 < PAGE_TARGET_MS else 'MISSED'})")
    k = min(5, a.size)  # a steady lag (the pipeline behind the feed) or one that shrinks (catching up)
    print(f"  first {k}: {' '.join(f'{v:.0f}' for v in a[:k])} ms; last {k}: {' '.join(f'{v:.0f}' for v in a[-k:])} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=5_000_000, help="trades in the metrics day")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--peer-ticks", type=int, default=20_000, help="trades the pandas reference runs on (0: skip)")
    ap.add_argument("--peer-instants", type=int, default=200, help="grid instants the pandas reference evaluates")
    ap.add_argument("--skip-metrics", action="store_true", help="leave out the derived-metrics section")
    ap.add_argument("--breadth-symbols", type=int, default=500, help="symbols in the breadth universe")
    ap.add_argument("--breadth-batch", type=int, default=20, help="ticks per breadth update (one symbol's batch)")
    ap.add_argument("--breadth-ticks", type=int, default=2_000, help="ticks per symbol already folded in")
    ap.add_argument("--breadth-updates", type=int, default=20_000, help="timed updates (+ snapshots)")
    ap.add_argument("--skip-breadth", action="store_true", help="leave out the market-breadth section")
    ap.add_argument("--latency-symbols", type=int, default=10, help="symbols streamed beside the statistics")
    ap.add_argument("--latency-seconds", type=float, default=60.0, help="wall seconds of streaming measured")
    ap.add_argument("--latency-warmup", type=float, default=10.0,
                    help="wall seconds of streaming before (the start: history fill, first evaluation)")
    ap.add_argument("--skip-latency", action="store_true", help="leave out the statistic-to-update latency section")
    ap.add_argument("--page-symbols", type=int, default=3, help="symbols streamed beside the statistics (page)")
    ap.add_argument("--page-updates", type=int, default=30, help="shown NYSE TICK values measured on the page")
    ap.add_argument("--page-warmup", type=int, default=3, help="shown values skipped first (the page's start)")
    ap.add_argument("--skip-page", action="store_true", help="leave out the statistic-to-painted-page section")
    args = ap.parse_args()
    if not args.skip_metrics:
        bench_metrics(args)
    if not args.skip_breadth:
        bench_breadth(args)
    if not args.skip_latency:
        bench_latency(args)
    if not args.skip_page:
        bench_page(args)


if __name__ == "__main__":
    main()
