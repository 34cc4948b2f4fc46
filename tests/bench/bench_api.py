"""HTTP API benchmarks against a real ``tickdeck serve`` (pages and API on one port) on synthetic data.

    .venv/bin/python tests/bench/bench_api.py [--ticks 1000000] [--requests 300] [--repeat 3]
                                              [--server serve|uvicorn] [--skip-json]

Bars: ``GET /api/v1/data/SPY/bars/time:1m`` of a stored day (the default bar set is built for it),
``--requests`` sequential calls on one keep-alive connection after a warm-up: p50 and p99 of the
wall time from request to parsed JSON (target p99 < 50 ms). Then a spec no series holds
(``tick:N``): its first call computes it from the ticks (one distinct spec per call: p50/p99 of a
computation), later calls of one spec come from the bars service's cache.

Ticks: one day of ``--ticks`` ticks (43 columns) as Arrow IPC over HTTP — request to the whole day
decoded into a ``pyarrow.Table`` on the client, with httpx (as docs/examples/api_client.py) and with
the standard library's ``http.client`` (pyarrow reading the socket file) — side by side with reading
the same day in-process from the store (``Store.read_day_arrow``, the fastest in-process read; target:
the HTTP rate ≥ 50 % of it) and with the same rows as JSON records (``format=json``, pages of 100,000
rows, each parsed with ``json.loads``), whose ratio to Arrow is reported.

``--server uvicorn`` serves ``create_api`` alone with uvicorn instead (no pages) for comparison. CPU
is shared with other work: the load average is printed, and numbers under load are pessimistic.

# -- streams: the WebSocket fan-out benchmark (200 clients, 50 symbols) belongs to the streams work;
#    it goes in its own section below (:func:`bench_streams`), called from :func:`main`.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

DAY = "2024-07-02"
SYMBOL = "SPY"
START_TIMEOUT_S = 180
UVICORN_APP = """
import sys
import uvicorn
from app.api import create_api
from app.wiring import load_settings, open_context

settings = load_settings()
ctx = open_context(settings)
uvicorn.run(create_api(settings, lambda: ctx), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def make_data(data_dir: Path, ticks: int) -> int:
    """A synthetic SPY day of about ``ticks`` ticks with its default bar set; returns the tick count."""
    from core.bars import build_default_bars
    from core.config import Settings
    from core.context import Context
    from core.sources.synthetic import generate_into_store

    ctx = Context.open(Settings(data_dir=data_dir))
    try:
        generate_into_store(ctx, [SYMBOL], DAY, DAY, ticks=int(ticks * 0.97))  # + extended hours ≈ ticks
        build_default_bars(ctx, SYMBOL, DAY)
        return ctx.catalog.tick_days(SYMBOL)[0].ticks
    finally:
        ctx.close()


@contextlib.contextmanager
def server(data_dir: Path, kind: str):
    port = free_port()
    env = {**os.environ, "TICKDECK_DATA_DIR": str(data_dir), "TICKDECK_API_LIMIT": "1000000 per hour"}
    cmd = ([sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--no-worker"] if kind == "serve"
           else [sys.executable, "-c", UVICORN_APP, str(port)])
    log = data_dir.parent / "server.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        import httpx

        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"the server exited {proc.returncode}:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit(f"the server did not start in {START_TIMEOUT_S} s")
            time.sleep(0.2)  # polling while the server boots
        yield url, port
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)


# -- bars ---------------------------------------------------------------------------------------------
def bench_bars(url: str, requests: int) -> None:
    import httpx

    with httpx.Client(base_url=url, timeout=120) as c:
        def get(spec: str) -> float:
            t0 = time.perf_counter()
            r = c.get(f"/api/v1/data/{SYMBOL}/bars/{spec}", params={"start": DAY})
            body = r.json()
            took = time.perf_counter() - t0
            assert r.status_code == 200 and body["rows"] > 0, r.text[:300]
            return took

        for _ in range(10):
            get("time:1m")
        stored = [get("time:1m") for _ in range(requests)]
        rows = c.get(f"/api/v1/data/{SYMBOL}/bars/time:1m", params={"start": DAY}).json()["rows"]
        computed = [get(f"tick:{701 + i}") for i in range(min(30, requests))]
        warm = [get("tick:701") for _ in range(requests)]
    print(f"\nbars of one {rows:,}-bar day, JSON, {requests} calls each ({load()})")
    print(f"{'what':<40} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for label, xs in (("time:1m stored", stored), (f"tick:N computed (first call, {len(computed)} specs)", computed),
                      ("tick:701 computed, then cached", warm)):
        print(f"{label:<40} {pct(xs, 50) * 1e3:>8.1f} {pct(xs, 99) * 1e3:>8.1f} {max(xs) * 1e3:>8.1f}")


# -- ticks --------------------------------------------------------------------------------------------
def arrow_httpx(url: str, compression: str) -> tuple[int, int]:
    import httpx
    import pyarrow as pa

    with httpx.Client(base_url=url, timeout=600) as c:
        r = c.get(f"/api/v1/data/{SYMBOL}/ticks", params={"start": DAY, "format": "arrow",
                                                          "compression": compression})
        r.raise_for_status()
        table = pa.ipc.open_stream(pa.py_buffer(r.content)).read_all()
    return table.num_rows, len(r.content)


def arrow_http_client(port: int, compression: str) -> tuple[int, int]:
    import pyarrow as pa

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    try:
        conn.request("GET", f"/api/v1/data/{SYMBOL}/ticks?start={DAY}&format=arrow&compression={compression}")
        r = conn.getresponse()
        assert r.status == 200, r.read()[:300]
        counted = _Counting(r)
        table = pa.ipc.open_stream(counted).read_all()
    finally:
        conn.close()
    return table.num_rows, counted.n


class _Counting:
    """A file wrapper counting the bytes pyarrow reads."""

    def __init__(self, f):
        self.f, self.n, self.closed = f, 0, False

    def read(self, size=-1):
        b = self.f.read(size)
        self.n += len(b)
        return b

    def readinto(self, buf):
        n = self.f.readinto(buf)
        self.n += n
        return n


def json_pages(url: str) -> tuple[int, int, float]:
    """Every row as JSON records (pages of 100,000): rows, bytes, and the seconds spent in json.loads."""
    import httpx

    rows = size = 0
    parse = 0.0
    cursor = None
    with httpx.Client(base_url=url, timeout=600) as c:
        while True:
            params = {"start": DAY, "limit": 100_000, **({"cursor": cursor} if cursor else {})}
            r = c.get(f"/api/v1/data/{SYMBOL}/ticks", params=params)
            r.raise_for_status()
            t0 = time.perf_counter()
            page = json.loads(r.content)
            parse += time.perf_counter() - t0
            rows += page["rows"]
            size += len(r.content)
            cursor = page["next_cursor"]
            if cursor is None:
                return rows, size, parse


def in_process(data_dir: Path) -> tuple[int, float, float]:
    from core.config import Settings
    from core.context import Context

    ctx = Context.open(Settings(data_dir=data_dir))
    try:
        arrow = best(lambda: sum(t.num_rows for t in ctx.store.read_day_arrow(SYMBOL, DAY)), 3)
        frame = best(lambda: len(ctx.store.read_day(SYMBOL, DAY)), 3)
        return arrow[1], arrow[0], frame[0]
    finally:
        ctx.close()


def best(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def timed(fn, repeat: int) -> tuple[float, float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times), out


def bench_ticks(url: str, port: int, data_dir: Path, repeat: int, skip_json: bool) -> None:
    n, arrow_s, frame_s = in_process(data_dir)
    print(f"\none day of {n:,} ticks × 43 columns ({load()})")
    print(f"{'how':<52} {'best s':>7} {'median s':>8} {'ticks/s (best)':>15} {'MB':>7} {'vs in-process':>13}")
    print(f"{'in-process Store.read_day_arrow':<52} {arrow_s:>7.3f} {'':>8} {n / arrow_s:>15,.0f} {'':>7} "
          f"{'100%':>13}")
    print(f"{'in-process Store.read_day (pandas)':<52} {frame_s:>7.3f} {'':>8} {n / frame_s:>15,.0f} {'':>7} "
          f"{arrow_s / frame_s:>12.0%}")
    results = {}
    for label, fn in (("Arrow IPC over HTTP, httpx", lambda: arrow_httpx(url, "none")),
                      ("Arrow IPC over HTTP, http.client", lambda: arrow_http_client(port, "none")),
                      ("Arrow IPC lz4 over HTTP, httpx", lambda: arrow_httpx(url, "lz4")),
                      ("Arrow IPC lz4 over HTTP, http.client", lambda: arrow_http_client(port, "lz4"))):
        b, m, (rows, size) = timed(fn, repeat)
        assert rows == n, (label, rows, n)
        results[label] = b
        print(f"{label:<52} {b:>7.3f} {m:>8.3f} {n / b:>15,.0f} {size / 1e6:>7.1f} {arrow_s / b:>12.0%}")
    if not skip_json:
        t0 = time.perf_counter()
        rows, size, parse = json_pages(url)
        took = time.perf_counter() - t0
        assert rows == n
        fastest = min(results.values())
        print(f"{'JSON records over HTTP (pages of 100,000), httpx':<52} {took:>7.3f} {'':>8} {n / took:>15,.0f} "
              f"{size / 1e6:>7.1f} {arrow_s / took:>12.0%}")
        print(f"  of which json.loads on the client: {parse:.3f} s; JSON records take {took / fastest:.1f}× the time "
              "of the fastest Arrow IPC answer above")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ticks", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--server", choices=["serve", "uvicorn"], default="serve")
    ap.add_argument("--skip-json", action="store_true")
    ap.add_argument("--skip-bars", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        data_dir = Path(d) / "data"
        t0 = time.perf_counter()
        n = make_data(data_dir, args.ticks)
        print(f"data: {SYMBOL} {DAY}, {n:,} ticks, default bars built in {time.perf_counter() - t0:.1f} s; "
              f"server: {args.server}")
        with server(data_dir, args.server) as (url, port):
            if not args.skip_bars:
                bench_bars(url, args.requests)
            bench_ticks(url, port, data_dir, args.repeat, args.skip_json)


if __name__ == "__main__":
    main()
