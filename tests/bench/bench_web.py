"""Web benchmarks in Chromium against a real ``tickdeck serve``: the explorer on 5,000,000-tick days
and the home page with 1,000 datasets.

    .venv/bin/python tests/bench/bench_web.py [--ticks 5000000] [--datasets 1000] [--zooms 10]
                                              [--skip-explorer] [--skip-home]

Explorer: two synthetic SPY days of ``--ticks`` regular-session trades and a small QQQ day. The
page opens on QQQ; then each selection (symbol, session, day picked in the page) is timed from
the user's action to the new chart painted in the browser (its data source replaced, then two
animation frames), with the bytes received over the websocket. *Uncached* selections read the
day from ArcticDB; *cached* ones find it in the store's shared frame cache. Zoom: the wheel-zoom
tool on the price chart, timed from the wheel event to the re-aggregated image painted; this
includes the chart's settle time (``tick_plot.SETTLE_MS``) before Bokeh announces the new range.
The server is timed in-process too (re-aggregating the visible range of the day).

Home: ``--datasets`` catalog datasets; first contentful paint and the first cards, for a cold
browser (empty cache) and warm pages; then *Show more*.

The server warms up its chart code (numba compilation, etc.) before it starts listening; the
bench reports how long that took. CPU is shared with other work: the load
average is printed, and numbers under load are pessimistic.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from services_needed import stop_group  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
DAYS = (dt.date(2024, 7, 2), dt.date(2024, 7, 3))
SMALL_TICKS = 20_000

# The price chart's data sources (named in pages/components/tick_plot.py); a selection or zoom replaces their data.
_TOKEN = """() => { for (const d of Bokeh.documents) { const i = d.get_model_by_name('td-price-image');
  if (i) { const l = d.get_model_by_name('td-price-line'); return [i.data, l.data]; } } return null; }"""
MARK_CHART = f"() => {{ window.__tdChart = ({_TOKEN})(); return true; }}"
CHART_CHANGED = f"""() => {{ const t = ({_TOKEN})(); if (!t) return false; const o = window.__tdChart;
  if (o && t[0] === o[0] && t[1] === o[1]) return false;
  return new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true)))); }}"""
PRICE_CANVAS = """() => { let best = null; const walk = (r) => { for (const el of r.querySelectorAll('*')) {
  if (el.tagName === 'CANVAS' && !best) { const b = el.getBoundingClientRect();
    if (b.height > 250) best = [b.x, b.y, b.width, b.height]; }
  if (el.shadowRoot) walk(el.shadowRoot); } }; walk(document); return best; }"""
PICK_DAY = """(day) => { for (const d of Bokeh.documents) for (const m of d.all_models)
  if ((m.type === 'DatePicker' || m.type.endsWith('DatetimePicker')) && m.title === 'Start day') {
    m.value = day; return true; } return false; }"""
FCP = "performance.getEntriesByName('first-contentful-paint')[0]?.startTime || null"


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def spread(values: list[float]) -> str:
    """``best / median of n`` in ms."""
    return f"{ms(min(values))} best / {ms(statistics.median(values))} median of {len(values)}"


@dataclass
class Server:
    url: str
    proc: subprocess.Popen
    log: Path
    ready_s: float  # process start until it answers HTTP
    warm_s: float  # process start until its warm-up is done

    @property
    def pid(self) -> int:
        return self.proc.pid


@contextlib.contextmanager
def served(data: Path, *, timeout: float = 180.0):
    """A ``tickdeck serve`` on ``data``; waits until it answers and its warm-up is done."""
    port = free_port()
    log = data.parent / f"serve-{port}.log"
    fh = open(log, "w")
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "tickdeck", "serve", "--port", str(port)], cwd=ROOT,
                            env={**os.environ, "TICKDECK_DATA_DIR": str(data)}, stdout=fh, stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        ready = None
        while time.monotonic() - t0 < timeout:
            if proc.poll() is not None:
                raise RuntimeError(f"tickdeck serve exited {proc.returncode}:\n{log.read_text()[-3000:]}")
            if ready is None:
                try:
                    urllib.request.urlopen(url + "login", timeout=2)
                    ready = time.monotonic() - t0
                except urllib.error.HTTPError:
                    ready = time.monotonic() - t0
                except OSError:
                    pass
            text = log.read_text()
            if ready is not None and ("warm-up done" in text or "warm-up failed" in text):
                break
            time.sleep(0.1)  # polling a starting process, not waiting on a page condition
        else:
            raise RuntimeError(f"tickdeck serve not ready within {timeout:.0f}s:\n{log.read_text()[-3000:]}")
        yield Server(url, proc, log, ready, time.monotonic() - t0)
    finally:
        stop_group(proc, fh, timeout=30)


@contextlib.contextmanager
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                     args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class WsBytes:
    """Bytes a page receives over its websockets, counted from a mark."""

    def __init__(self, page):
        self.total = 0
        self._mark = 0
        page.on("websocket", lambda ws: ws.on("framereceived", self._add))

    def _add(self, payload) -> None:
        self.total += len(payload) if payload else 0

    def mark(self) -> None:
        self._mark = self.total

    @property
    def since_mark(self) -> int:
        return self.total - self._mark


def wait_chart_change(page, action, *, timeout_ms: int = 120_000) -> float:
    """Seconds from ``action()`` until the price chart's data changed and was painted."""
    page.evaluate(MARK_CHART)
    t0 = time.perf_counter()
    action()
    page.wait_for_function(CHART_CHANGED, timeout=timeout_ms, polling="raf")
    return time.perf_counter() - t0


def seed_datasets(ctx, n: int) -> None:
    """``n`` catalog datasets with 20 tier-1 days each (rows only, no frames: what home reads)."""
    import pandas as pd

    from tickdeck.core.store import DayInfo

    days = ctx.calendar().previous_trading_days(ctx.calendar().last_completed_trading_day(), 20)
    infos = []
    for i in range(n):
        sym = f"S{i:04d}"
        ctx.catalog.upsert_dataset(sym, source="synthetic" if i % 2 else "iqfeed", venue="SIM" if i % 3 else "NASDAQ")
        for d in days:
            t = pd.Timestamp(f"{d} 09:30", tz="America/New_York")
            infos.append(DayInfo(sym, d, 1000, t, t, 1000, 1e5, 100.0, 100, 101, 99, 100, 1.0, 0, 1000, 0, 0, "x"))
    ctx.catalog.upsert_tick_days(infos)


def explorer_data(data: Path, ticks: int, days=DAYS) -> float:
    """SPY on ``days`` with ``ticks`` regular-session trades, QQQ small; returns the seconds it took."""
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context
    from tickdeck.core.sources.synthetic import generate_into_store

    ctx = Context.open(Settings(data_dir=data))
    try:
        t0 = time.perf_counter()
        for day in days:
            generate_into_store(ctx, ["SPY"], day, day, ticks=ticks)
        generate_into_store(ctx, ["QQQ"], days[0], days[0], ticks=SMALL_TICKS)
        return time.perf_counter() - t0
    finally:
        ctx.close()


def server_side_zoom(data: Path, day=DAYS[0]) -> list[tuple[str, str]]:
    """The re-aggregation a zoom costs on the server, in-process (no browser)."""
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context
    from tickdeck.pages.components.tick_plot import warm_up
    from tickdeck.pages.components.tick_plot import tick_chart, tick_frame
    from tickdeck.pages.explorer import CHART_COLUMNS

    warm_up()
    ctx = Context.open(Settings(data_dir=data))
    try:
        df = ctx.store.read_range("SPY", day, day, columns=CHART_COLUMNS, session="regular", cached=True)
        chart = tick_chart(df)
        a, (x0, x1) = chart.arrays, chart.frame.x
        rows = []
        for label, (lo, hi) in (("whole day", (x0, x1)),
                                ("a quarter of the day", (x0 + (x1 - x0) // 4, x0 + (x1 - x0) // 2)),
                                ("one minute", (x0 + (x1 - x0) // 2, x0 + (x1 - x0) // 2 + 60 * 10**9))):
            times, frame = [], None
            for _ in range(5):
                t0 = time.perf_counter()
                frame = tick_frame(a, (lo / 1e6, hi / 1e6))
                times.append(time.perf_counter() - t0)
            kind = "image" if frame.image is not None else "line"
            rows.append((f"server: re-aggregate {label} ({frame.visible:,} ticks, {kind}), in-process",
                         f"{spread(times)}; {frame.nbytes / 1e3:,.0f} kB of arrays"))
        return rows
    finally:
        ctx.close()


def bench_explorer(ticks: int, zooms: int) -> list[tuple[str, str]]:
    data = Path(tempfile.mkdtemp(prefix="bench-web-explorer-")) / "data"
    try:
        gen_s = explorer_data(data, ticks)
        rows = [(f"generate + ingest 2 SPY days of {ticks:,} trades", f"{gen_s:.1f} s")]
        with served(data) as srv, chromium() as browser:
            rows += [("server: answers HTTP after start", f"{srv.ready_s:.1f} s"),
                     ("server: warm-up done after start (before listening)", f"{srv.warm_s:.1f} s")]
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            wsb = WsBytes(page)
            d0, d1 = (str(d) for d in DAYS)
            t0 = time.perf_counter()
            page.goto(f"{srv.url}explorer?symbol=QQQ&start={d0}&session=regular")
            page.wait_for_function(CHART_CHANGED, timeout=120_000, polling="raf")
            rows.append((f"open explorer on a {SMALL_TICKS:,}-tick day: navigation to chart painted",
                         ms(time.perf_counter() - t0)))

            def summary(text):
                page.locator(".td-summary", has_text=text).wait_for(timeout=120_000)

            def pick_symbol(sym):
                return lambda: page.get_by_role("combobox", name="Symbol").select_option(sym)

            def pick_session(name):
                return lambda: page.get_by_role("button", name=name, exact=True).click()

            def pick_day(day):  # what picking a day in the calendar does: set the picker's value
                return lambda: page.evaluate(PICK_DAY, day)

            uncached, cached = [], []
            steps = [  # (action, expected summary, cached?)
                (pick_symbol("SPY"), f"SPY · {d0} · regular session", False),
                (pick_symbol("QQQ"), f"QQQ · {d0} · regular session", True),
                (pick_symbol("SPY"), f"SPY · {d0} · regular session", True),
                (pick_session("all"), f"SPY · {d0} · all session", False),
                (pick_day(d1), f"SPY · {d1} · all session", False),
                (pick_session("regular"), f"SPY · {d1} · regular session", False),
                (pick_day(d0), f"SPY · {d0} · regular session", True),
            ]
            for action, text, is_cached in steps:
                wsb.mark()
                secs = wait_chart_change(page, action)
                summary(text)
                n = page.locator(".td-summary strong", has_text=text).first.inner_text().split("·")[-1].strip()
                (cached if is_cached else uncached).append(secs)
                rows.append((f"select {text.replace(' session', '')} ({n}, {'cached' if is_cached else 'read'}): "
                             "chart painted", f"{ms(secs)}, {wsb.since_mark / 1e3:,.0f} kB received"))
            rows += [(f"explorer: first chart after selecting a {ticks:,}-tick day (read from ArcticDB)",
                      spread(uncached)),
                     ("explorer: first chart after selecting a cached day", spread(cached))]

            page.locator(".bk-tool-icon-wheel-zoom").first.click()
            x, y, w, h = page.evaluate(PRICE_CANVAS)
            page.mouse.move(x + w / 2, y + h / 2)
            times, sizes = [], []
            for k in range(zooms):
                wsb.mark()
                times.append(wait_chart_change(page, lambda k=k: page.mouse.wheel(0, -240 if k % 3 != 2 else 240),
                                               timeout_ms=30_000))
                page.wait_for_timeout(300)  # let the last frames of this render arrive before the next mark
                sizes.append(wsb.since_mark)
            from tickdeck.pages.components.tick_plot import SETTLE_MS

            rows += [(f"explorer: zoom (wheel) to re-aggregated image painted, incl. {SETTLE_MS} ms settle",
                      spread(times)),
                     ("explorer: bytes received per zoom render", f"{statistics.median(sizes) / 1e3:,.0f} kB median"
                                                                   f" (max {max(sizes) / 1e3:,.0f} kB)")]
            page.close()
        rows += server_side_zoom(data)
        return rows
    finally:
        shutil.rmtree(data.parent, ignore_errors=True)


def bench_home(n: int, runs: int = 3) -> list[tuple[str, str]]:
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context

    data = Path(tempfile.mkdtemp(prefix="bench-web-home-")) / "data"
    ctx = Context.open(Settings(data_dir=data))
    seed_datasets(ctx, n)
    ctx.close()
    rows = []
    try:
        with served(data) as srv, chromium() as browser:
            fcp, first = {"cold": [], "warm": []}, {"cold": [], "warm": []}
            for _ in range(runs):
                context = browser.new_context(viewport={"width": 1400, "height": 900})  # empty cache: cold
                for attempt in ("cold", "warm"):
                    page = context.new_page()
                    t0 = time.perf_counter()
                    page.goto(srv.url)
                    page.locator("article.td-card").first.wait_for(timeout=120_000)
                    first[attempt].append(time.perf_counter() - t0)
                    fcp[attempt].append(page.evaluate(FCP) / 1000)
                    shown = page.locator("article.td-card").count()
                    if attempt == "warm":
                        t0 = time.perf_counter()
                        page.get_by_role("button", name="Show").click()
                        page.locator("article.td-card").nth(shown).wait_for(timeout=60_000)
                        more_s = time.perf_counter() - t0
                        more_n = page.locator("article.td-card").count()
                    page.close()
                context.close()
            for attempt in ("cold", "warm"):
                rows += [(f"home {n:,} datasets ({attempt}): first contentful paint", spread(fcp[attempt])),
                         (f"home {n:,} datasets ({attempt}): first {shown} cards in the DOM", spread(first[attempt]))]
            rows.append((f"home {n:,} datasets: Show more ({shown} → {more_n} cards)", ms(more_s)))
    finally:
        shutil.rmtree(data.parent, ignore_errors=True)
    return rows


def print_table(rows: list[tuple[str, str]]) -> None:
    w = max(len(r[0]) for r in rows)
    print(f"{'measure':<{w}}  value")
    print("-" * (w + 40))
    for k, v in rows:
        print(f"{k:<{w}}  {v}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ticks", type=int, default=5_000_000)
    ap.add_argument("--datasets", type=int, default=1000)
    ap.add_argument("--zooms", type=int, default=10)
    ap.add_argument("--skip-explorer", action="store_true")
    ap.add_argument("--skip-home", action="store_true")
    args = ap.parse_args()
    rows = [("load average at start (1/5/15 min, 2 cores)", load_average())]
    if not args.skip_explorer:
        rows += bench_explorer(args.ticks, args.zooms)
    if not args.skip_home:
        rows += bench_home(args.datasets)
    rows.append(("load average at end", load_average()))
    print_table(rows)


if __name__ == "__main__":
    main()
