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

Streams (``--streams``, instead of the above)::

    .venv/bin/python tests/bench/bench_api.py --streams [--stream-clients 200] [--stream-symbols 50]
        [--stream-channels-per-client 50] [--stream-rate 2000] [--stream-seconds 30] [--stream-batch-ms 100]
        [--stream-client-procs 4] [--server serve|uvicorn]

The emulator (its own process) streams ``--stream-symbols`` symbols at about ``--stream-rate`` trades/s;
the server's live collection stores and publishes them; ``--stream-clients`` WebSocket clients (in
``--stream-client-procs`` processes) subscribe on ``/ws/v1`` to the tick channels of
``--stream-channels-per-client`` symbols once the history fill is over. Over ``--stream-seconds``:
bus → client latency (a message's ``timestamp``, the bus publish time of its oldest event, to the frame
parsed by the client: target p99 < 50 ms), the server's own bus → socket latency (``GET
/api/v1/streams``), server CPU (cores) and RSS, the materialiser's and the client processes' CPU.
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
sys.path.insert(0, str(ROOT / "tests"))

from services_needed import stop_group  # noqa: E402

DAY = "2024-07-02"
SYMBOL = "SPY"
START_TIMEOUT_S = 180
UVICORN_APP = """
import sys
import uvicorn
from tickdeck.app.api import create_api
from tickdeck.app.wiring import load_settings, open_context

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
    from tickdeck.core.bars import build_default_bars
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context
    from tickdeck.core.sources.synthetic import generate_into_store

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
    cmd = ([sys.executable, "-m", "tickdeck", "serve", "--port", str(port), "--no-worker"] if kind == "serve"
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
        stop_group(proc, timeout=30)


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
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context

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


# -- streams: WebSocket fan-out under live collection -------------------------------------------------
# With --server serve: `tickdeck serve` with its embedded services runs the live service (started with
# `tickdeck service start live`); with --server uvicorn: create_api under uvicorn with collect_live in a
# thread of the same process. Either way the bus is the in-process one (TICKDECK_REDIS_URL unset), so
# "bus -> client" is the event's publish time in the collector -> the frame parsed by a client.
STREAM_UVICORN_APP = """
import sys, threading
import uvicorn
from tickdeck.app.api import create_api
from tickdeck.app.wiring import load_settings, open_context
from tickdeck.core.live import collect_live

settings = load_settings()
ctx = open_context(settings, pipeline=False)
stop = threading.Event()
live = threading.Thread(target=collect_live, args=(ctx, sys.argv[2].split(",")), kwargs={"stop_event": stop},
                        daemon=True)
live.start()
try:
    uvicorn.run(create_api(settings, lambda: ctx), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
                ws_per_message_deflate=False)
finally:
    stop.set()
    live.join(60)
"""
STREAM_DAY_TICKS = 60_000  # regular-session trades per emulated symbol-day (as bench_collect.py)
STREAM_WARMUP_S = 8.0  # after every client is subscribed and live ticks flow, before measuring


def _stream_clients(url: str, channels: list[list[str]], batch_ms: int, ready, start, stop, out) -> None:
    """A client process: one WebSocket client per entry of ``channels``, subscribed to those on /ws/v1.
    For every tick message received while ``start`` is set and ``stop`` is not: receipt time - its
    timestamp (ms)."""
    import asyncio

    import msgspec
    import websockets

    head = msgspec.defstruct("Head", [("type", str), ("timestamp", float), ("data", msgspec.Raw)])
    decode = msgspec.json.Decoder(list[head]).decode  # data stays unparsed: the client's cost is not measured
    lat: list[float] = []
    counts = {"frames": 0, "messages": 0, "bytes": 0, "closed": 0}

    async def one(mine: list[str]) -> None:
        async with websockets.connect(f"{url}/ws/v1?batch_ms={batch_ms}", max_size=None, proxy=None,
                                      compression=None, open_timeout=300, ping_interval=None) as ws:
            await ws.send(json.dumps({"type": "subscribe", "channels": mine}))
            subscribed = False
            try:
                async for frame in ws:
                    now = time.time()
                    msgs = decode(frame)
                    if not subscribed and any(m.type == "subscribed" for m in msgs):
                        subscribed = True
                        ready.put(1)
                    if start.is_set() and not stop.is_set():
                        counts["frames"] += 1
                        counts["bytes"] += len(frame)
                        for m in msgs:
                            if m.type == "TicksAppended":
                                counts["messages"] += 1
                                lat.append((now - m.timestamp) * 1000.0)
                    elif stop.is_set():
                        return
            except websockets.ConnectionClosed:
                counts["closed"] += 1

    async def main() -> None:
        await asyncio.gather(*(one(mine) for mine in channels))

    asyncio.run(main())
    out.put((lat, counts))


def _first_live_batch(url: str, timeout: float = 300.0) -> None:
    """Until live collection publishes its first Level 1 batch (after the history fill at its start)."""
    from websockets.sync.client import connect

    with connect(f"{url}/ws/collection", proxy=None, max_size=None, open_timeout=60) as ws:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(m["type"] == "LiveBatch" and m["data"]["appended"] for m in json.loads(ws.recv(timeout))):
                return
    raise SystemExit(f"live collection did not stream within {timeout:g} s")


@contextlib.contextmanager
def stream_server(data_dir: Path, kind: str, emulator, symbols: list[str], batch_ms: int):
    port = free_port()
    env = {**os.environ, "TICKDECK_DATA_DIR": str(data_dir), "TICKDECK_FEED_HOST": "127.0.0.1",
           "TICKDECK_FEED_PORT_HISTORY": str(emulator.port_history), "TICKDECK_FEED_PORT_L1": str(emulator.port_l1),
           "TICKDECK_API_STREAM_LIMIT": "100000 per minute", "TICKDECK_WS_BATCH_MS": str(batch_ms)}
    env.pop("TICKDECK_REDIS_URL", None)
    data_dir.mkdir(parents=True, exist_ok=True)
    cmd = ([sys.executable, "-m", "tickdeck", "serve", "--port", str(port)] if kind == "serve"
           else [sys.executable, "-c", STREAM_UVICORN_APP, str(port), ",".join(symbols)])
    log = data_dir.parent / "stream-server.log"
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
        if kind == "serve":
            subprocess.run([sys.executable, "-m", "tickdeck", "service", "start", "live", "--symbols",
                            ",".join(symbols), "--wait", "300"], cwd=ROOT, env=env, check=True,
                           stdout=subprocess.DEVNULL)
        _first_live_batch(url.replace("http://", "ws://"))
        yield url, proc
    finally:
        stop_group(proc, timeout=60)


def bench_streams(args, tmp: Path) -> dict:
    """``--stream-clients`` WebSocket clients, each subscribed to ``--stream-channels-per-client`` of
    ``--stream-symbols`` tick channels, while live collection streams about ``--stream-rate`` trades/s."""
    import multiprocessing as mp

    import numpy as np
    import psutil

    sys.path.insert(0, str(ROOT / "tests" / "bench"))
    from bench_collect import REGULAR_SECONDS, EmulatorProcess

    names = [f"S{i:03d}" for i in range(args.stream_symbols)]
    speed = args.stream_rate / len(names) / (STREAM_DAY_TICKS / REGULAR_SECONDS)
    k = args.stream_channels_per_client  # client i takes k symbols from (i * k) on, round the list
    channels = [[f"tick:{names[(i * k + j) % len(names)]}" for j in range(k)] for i in range(args.stream_clients)]
    with EmulatorProcess([(s, "2024-07-03") for s in names], symbols=names, ticks=STREAM_DAY_TICKS, speed=speed,
                         now="2024-07-03 10:00:00") as emu, \
            stream_server(tmp / "streams" / "data", args.server, emu, names, args.stream_batch_ms) as (url, proc):
        ctx = mp.get_context("spawn")
        ready, out, start, stop = ctx.Queue(), ctx.Queue(), ctx.Event(), ctx.Event()
        n = args.stream_client_procs
        procs = [ctx.Process(target=_stream_clients, daemon=True, args=(
            url.replace("http://", "ws://"), channels[i::n], args.stream_batch_ms, ready, start, stop, out))
            for i in range(n)]
        for p in procs:
            p.start()
        for _ in range(args.stream_clients):
            ready.get(timeout=600)
        time.sleep(STREAM_WARMUP_S)  # a warm-up of fixed length before measuring, not a wait for a condition
        server = psutil.Process(proc.pid)
        helpers = server.children(recursive=True)  # the live materialiser
        clients = [psutil.Process(p.pid) for p in procs]

        def busy(ps):
            return sum(t.user + t.system for t in (p.cpu_times() for p in ps))

        cpu0, helpers0, clients0 = busy([server]), busy(helpers), busy(clients)
        rss, t0 = [], time.perf_counter()
        start.set()
        while time.perf_counter() - t0 < args.stream_seconds:
            rss.append(server.memory_info().rss)
            time.sleep(1.0)  # RSS sampling period
        wall = time.perf_counter() - t0
        cpu1, helpers1, clients1 = busy([server]), busy(helpers), busy(clients)
        import httpx

        stats = httpx.get(url + "/api/v1/streams", timeout=30).json()  # latency of the last 20,000 frames
        stop.set()
        results = [out.get(timeout=300) for _ in procs]
        for p in procs:
            p.join(30)
    lat = np.concatenate([np.asarray(r[0], dtype=np.float64) for r in results])
    counts = {k: sum(r[1][k] for r in results) for k in results[0][1]}
    p50, p99 = (np.percentile(lat, [50, 99]) if lat.size else (np.nan, np.nan))
    return {"server": args.server, "clients x tick channels": f"{args.stream_clients} x {k}",
            "symbols / trades/s (target)": f"{len(names)} / {args.stream_rate:,.0f}",
            "batch window ms": args.stream_batch_ms, "measured s": round(wall, 1),
            "tick messages received": f"{counts['messages']:,}", "frames received": f"{counts['frames']:,}",
            "MB/s sent to clients": round(counts["bytes"] / wall / 2**20, 1),
            "bus -> client p50 / p99 ms": f"{p50:.1f} / {p99:.1f}",
            "bus -> server socket p50 / p99 ms": f"{stats['send_latency_p50_ms']} / {stats['send_latency_p99_ms']}",
            "server CPU (cores)": round((cpu1 - cpu0) / wall, 2),
            "materialiser CPU (cores)": round((helpers1 - helpers0) / wall, 2),
            "client processes CPU (cores)": round((clients1 - clients0) / wall, 2),
            "server RSS MB (max)": round(max(rss) / 2**20) if rss else None,
            "clients dropped as too slow / closed": f"{stats['dropped_clients']} / {counts['closed']}"}


def add_stream_args(ap: argparse.ArgumentParser) -> None:
    g = ap.add_argument_group("streams (--streams: the WebSocket benchmark instead of the HTTP ones)")
    g.add_argument("--streams", action="store_true")
    g.add_argument("--stream-clients", type=int, default=200)
    g.add_argument("--stream-symbols", type=int, default=50)
    g.add_argument("--stream-channels-per-client", type=int, default=50,
                   help="tick channels each client takes (spread round the symbols)")
    g.add_argument("--stream-rate", type=float, default=2000.0, help="trades/s over all symbols")
    g.add_argument("--stream-seconds", type=float, default=30.0, help="measured period")
    g.add_argument("--stream-batch-ms", type=int, default=100, help="the batching window (?batch_ms=)")
    g.add_argument("--stream-client-procs", type=int, default=4, help="processes the clients run in")


def run_streams(args) -> None:
    print(f"streams: {load()}")
    with tempfile.TemporaryDirectory() as d:
        for k, v in bench_streams(args, Path(d)).items():
            print(f"  {k:36} {v}")
    print(f"streams done: {load()}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ticks", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--server", choices=["serve", "uvicorn"], default="serve")
    ap.add_argument("--skip-json", action="store_true")
    ap.add_argument("--skip-bars", action="store_true")
    add_stream_args(ap)
    args = ap.parse_args()
    if args.streams:
        run_streams(args)
        return
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
