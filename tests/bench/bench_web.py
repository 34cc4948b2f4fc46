"""Web benchmarks: home with 1,000 datasets (first contentful paint in Chromium) and the explorer on
a 5,000,000-tick day (first chart, zoom re-render, bytes per render, memory per session).

Run: ``.venv/bin/python tests/bench/bench_web.py [--ticks 5000000] [--datasets 1000]``
Prints a table. CPU is shared with other work, so numbers are pessimistic.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed_datasets(ctx, n: int) -> None:
    """``n`` catalog datasets with 20 tier-1 days each (rows only, no frames: what home reads)."""
    import pandas as pd

    from core.store import DayInfo

    days = ctx.calendar().previous_trading_days(ctx.calendar().last_completed_trading_day(), 20)
    infos = []
    for i in range(n):
        sym = f"S{i:04d}"
        ctx.catalog.upsert_dataset(sym, source="synthetic" if i % 2 else "iqfeed", venue="SIM" if i % 3 else "NASDAQ")
        for d in days:
            t = pd.Timestamp(f"{d} 09:30", tz="America/New_York")
            infos.append(DayInfo(sym, d, 1000, t, t, 1000, 1e5, 100.0, 100, 101, 99, 100, 1.0, 0, 1000, 0, 0, "x"))
    ctx.catalog.upsert_tick_days(infos)


def bench_home(n: int) -> list[tuple[str, str]]:
    from playwright.sync_api import sync_playwright

    from core.config import Settings
    from core.context import Context

    data = Path(tempfile.mkdtemp(prefix="bench-web-home-"))
    ctx = Context.open(Settings(data_dir=data))
    seed_datasets(ctx, n)
    ctx.close()
    port = _free_port()
    env = {**os.environ, "TICKDECK_DATA_DIR": str(data)}
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(url + "login", timeout=2)
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                time.sleep(0.2)
        rows = []
        with sync_playwright() as pw:
            b = pw.chromium.launch(executable_path=shutil.which("chromium"), args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run"])
            for attempt in ("cold", "warm"):
                page = b.new_page(viewport={"width": 1400, "height": 900})
                t0 = time.perf_counter()
                page.goto(url)
                page.locator("article.td-card").nth(n - 1).wait_for(state="attached", timeout=120_000)
                cards_s = time.perf_counter() - t0
                fcp = page.evaluate("performance.getEntriesByName('first-contentful-paint')[0]?.startTime || null")
                rows.append((f"home {n:,} datasets ({attempt}): first contentful paint", f"{fcp:.0f} ms" if fcp else "n/a"))
                rows.append((f"home {n:,} datasets ({attempt}): all cards in the DOM", f"{cards_s * 1000:.0f} ms"))
                page.close()
            b.close()
        return rows
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=20)
        shutil.rmtree(data, ignore_errors=True)


def bench_explorer(ticks: int) -> list[tuple[str, str]]:
    import holoviews as hv
    import numpy as np
    import pandas as pd
    import panel as pn
    import psutil
    from bokeh.embed import json_item
    from holoviews.operation.datashader import rasterize

    from core.config import Settings
    from core.context import Context
    from core.sources.synthetic import generate_into_store
    from pages.components.charts import naive_et
    from pages.explorer import ExplorerPage

    data = Path(tempfile.mkdtemp(prefix="bench-web-explorer-"))
    ctx = Context.open(Settings(data_dir=data))
    day = dt.date(2024, 7, 2)
    t0 = time.perf_counter()
    generate_into_store(ctx, ["SPY"], day, day, ticks=ticks)
    gen_s = time.perf_counter() - t0
    rows = [(f"generate + ingest {ticks:,}-tick day", f"{gen_s:.1f} s")]
    proc = psutil.Process()
    rss0 = proc.memory_info().rss
    t0 = time.perf_counter()
    page = ExplorerPage(ctx=ctx, symbol="SPY", start=day, session="regular")
    load_s = time.perf_counter() - t0
    n = len(page.loaded.frame)
    t0 = time.perf_counter()
    plot = hv.render(page.loaded.chart, backend="bokeh")
    first_render_s = time.perf_counter() - t0
    first_bytes = len(json.dumps(json_item(plot)))
    rows += [(f"explorer: read {n:,} ticks + build chart", f"{load_s * 1000:.0f} ms"),
             ("explorer: first chart render (datashader + Bokeh model)", f"{first_render_s * 1000:.0f} ms"),
             ("explorer: first chart, serialized bytes", f"{first_bytes / 1e3:,.0f} kB")]
    t = naive_et(page.loaded.frame.index)
    curve = hv.Curve(pd.DataFrame({"time": t, "price": page.loaded.frame["last"].to_numpy()}), "time", "price")
    times = []
    for k in range(5):
        lo = t[len(t) // 4 + k * 1000]
        hi = t[len(t) // 2]
        t0 = time.perf_counter()
        img = rasterize(curve, dynamic=False, x_range=(lo, hi), width=1200, height=340)
        zplot = hv.render(img, backend="bokeh")
        zbytes = len(json.dumps(json_item(zplot)))
        times.append(time.perf_counter() - t0)
    rows += [("explorer: zoom re-render (rasterize + model), median of 5", f"{np.median(times) * 1000:.0f} ms"),
             ("explorer: bytes per zoom render (1200x340 image)", f"{zbytes / 1e3:,.0f} kB")]
    pn.panel(page).get_root()
    rss1 = proc.memory_info().rss
    page2 = ExplorerPage(ctx=ctx, symbol="SPY", start=day, session="regular")
    pn.panel(page2).get_root()
    rss2 = proc.memory_info().rss
    rows += [("memory: first explorer session on the day (RSS delta)", f"{(rss1 - rss0) / 2**20:,.0f} MiB"),
             ("memory: each further session (RSS delta)", f"{(rss2 - rss1) / 2**20:,.0f} MiB")]
    ctx.close()
    shutil.rmtree(data, ignore_errors=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ticks", type=int, default=5_000_000)
    ap.add_argument("--datasets", type=int, default=1000)
    ap.add_argument("--skip-home", action="store_true")
    args = ap.parse_args()
    rows = bench_explorer(args.ticks)
    if not args.skip_home:
        rows += bench_home(args.datasets)
    w = max(len(r[0]) for r in rows)
    print(f"{'measure':<{w}}  value")
    print("-" * (w + 14))
    for k, v in rows:
        print(f"{k:<{w}}  {v}")


if __name__ == "__main__":
    main()
