"""100 concurrent sessions on one ``tickdeck serve``: memory per session and responsiveness.

    .venv/bin/python tests/bench/bench_sessions.py [--sessions 100] [--ticks 5000000] [--datasets 1000]
                                                   [--batch 10] [--skip-home]

Data: one SPY day of ``--ticks`` regular-session trades and ``--datasets`` catalog datasets.
Sessions are opened the way a browser opens them, without a browser per session: an HTTP GET of
the page (the server builds the session), a websocket with the page's token, the document
pulled (``PULL-DOC``), then the *document ready* event BokehJS sends after rendering — which
runs the page's on-load work (the explorer reads the day and builds its chart). A session
counts as loaded when its chart data (explorer) or its cards (home) arrived. ``--batch``
sessions open at a time. Incoming messages are read and dropped, as a browser would consume them.

Reported: server RSS (psutil, the ``tickdeck serve`` process) before any session, after the
first, after all; RSS per further session; how long sessions took to load; and, with all of
them open, what a real Chromium user sees: the explorer opened on the same day (navigation to
chart painted), a zoom (wheel to new image painted), the home page's first contentful paint.
Sessions are then closed. After the server's unused-session lifetime (``tickdeck.app.server``), the
explorer round is repeated: if the closed sessions were unloaded, the new ones reuse their
memory and RSS stays near the first round's peak instead of growing by another round.
The machine is shared: the load average is printed; numbers under load are pessimistic.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_web as bw  # noqa: E402

DAY = bw.DAYS[0]
TOKEN = re.compile(r'"token":\s*"([^"]+)"')
LOAD_TIMEOUT_S = 180


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _ready_patch() -> list[str]:
    """The PATCH-DOC frames BokehJS sends once the document is rendered (``document_ready``)."""
    from bokeh.document import Document
    from bokeh.document.events import MessageSentEvent
    from bokeh.events import DocumentReady
    from bokeh.protocol import Protocol

    msg = Protocol().create("PATCH-DOC", [MessageSentEvent(Document(), "bokeh_event", DocumentReady())])
    return [msg.header_json, msg.metadata_json, msg.content_json]


def _pull_request() -> list[str]:
    from bokeh.protocol import Protocol

    msg = Protocol().create("PULL-DOC-REQ")
    return [msg.header_json, msg.metadata_json, msg.content_json]


class Session:
    """One server session driven over HTTP + websocket like BokehJS does (without rendering)."""

    def __init__(self, base: str, path: str, loaded_marker: bytes):
        self.base, self.path, self.marker = base, path, loaded_marker
        self.ws = None
        self.token = ""
        self.loaded_s: float | None = None
        self.received = 0
        self.heads: list[str] = []  # the first text frames, to say what arrived when a load fails
        self._reader: asyncio.Task | None = None
        self._loaded = asyncio.Event()

    async def open(self) -> None:
        from tornado.httpclient import AsyncHTTPClient, HTTPRequest
        from tornado.websocket import websocket_connect

        t0 = time.perf_counter()
        origin = self.base.rstrip("/")
        page = await AsyncHTTPClient().fetch(self.base + self.path, request_timeout=300)
        token = TOKEN.search(page.body.decode()).group(1)
        self.token = token
        stem = self.path.split("?")[0].strip("/")
        ws_url = origin.replace("http://", "ws://") + (f"/{stem}/ws" if stem else "/ws")
        req = HTTPRequest(ws_url, headers={"Origin": origin}, request_timeout=300)
        self.ws = await websocket_connect(req, subprotocols=["bokeh", token], max_message_size=200 * 2**20)
        for _ in range(3):  # the server's ACK (header, metadata, content): it is ready for requests
            self.received += len(await self.ws.read_message() or "")
        for frame in _pull_request() + _ready_patch():
            await self.ws.write_message(frame)
        self._reader = asyncio.ensure_future(self._read())
        try:
            await asyncio.wait_for(self._loaded.wait(), timeout=LOAD_TIMEOUT_S)
        except asyncio.TimeoutError:
            sid = json.loads(base64.urlsafe_b64decode(self.token.split(".")[0] + "==")).get("session_id")
            raise RuntimeError(f"session {sid} /{self.path}: not loaded after {LOAD_TIMEOUT_S} s "
                               f"({self.received:,} bytes received; first frames: {self.heads})") from None
        self.loaded_s = time.perf_counter() - t0

    async def _read(self) -> None:
        while True:
            frame = await self.ws.read_message()
            if frame is None:
                return
            data = frame if isinstance(frame, bytes) else frame.encode()
            self.received += len(data)
            if isinstance(frame, str) and len(self.heads) < 12:
                self.heads.append(frame[:160])
            if self.marker in data:
                self._loaded.set()

    async def close(self) -> None:
        if self.ws is not None:
            self.ws.close()
        if self._reader is not None:
            try:
                await asyncio.wait_for(self._reader, timeout=30)
            except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - closing anyway
                self._reader.cancel()


async def open_sessions(base: str, path: str, marker: bytes, n: int, batch: int) -> list[Session]:
    sessions: list[Session] = []
    for i in range(0, n, batch):
        group = [Session(base, path, marker) for _ in range(min(batch, n - i))]
        await asyncio.gather(*(s.open() for s in group))
        sessions += group
        progress(f"{len(sessions)} sessions on /{path.split('?')[0]} loaded")
    return sessions


async def close_sessions(sessions: list[Session]) -> None:
    await asyncio.gather(*(s.close() for s in sessions))


def rss_mib(pid: int) -> float:
    import psutil

    return psutil.Process(pid).memory_info().rss / 2**20


def settle_rss(pid: int, seconds: float = 3.0) -> float:
    """RSS after the server has been idle for a moment (pending frees and garbage collection)."""
    time.sleep(seconds)
    return rss_mib(pid)


def browser_checks(srv: bw.Server, ticks: int) -> list[tuple[str, str]]:
    """What one real user sees while the sessions are open."""
    rows = []
    with bw.chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        t0 = time.perf_counter()
        page.goto(f"{srv.url}explorer?symbol=SPY&start={DAY}&session=regular")
        page.wait_for_function(bw.CHART_CHANGED, timeout=180_000, polling="raf")
        rows.append((f"  browser: explorer on the {ticks:,}-tick day, navigation to chart painted",
                     bw.ms(time.perf_counter() - t0)))
        rows.append(("  browser: explorer first contentful paint", bw.ms(page.evaluate(bw.FCP) / 1000)))
        page.locator(".bk-tool-icon-wheel-zoom").first.click()
        x, y, w, h = page.evaluate(bw.PRICE_CANVAS)
        page.mouse.move(x + w / 2, y + h / 2)
        times = []
        for k in range(5):
            times.append(bw.wait_chart_change(page, lambda k=k: page.mouse.wheel(0, -240 if k % 3 != 2 else 240),
                                              timeout_ms=60_000))
            page.wait_for_timeout(300)
        rows.append(("  browser: zoom, wheel to new image painted", bw.spread(times)))
        page.close()
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        t0 = time.perf_counter()
        page.goto(srv.url)
        page.locator("article.td-card").first.wait_for(timeout=180_000)
        rows.append(("  browser: home first contentful paint / first cards", f"{bw.ms(page.evaluate(bw.FCP) / 1000)} / "
                                                                            f"{bw.ms(time.perf_counter() - t0)}"))
        page.close()
    return rows


def phase(srv: bw.Server, label: str, path: str, marker: bytes, n: int, batch: int,
          ticks: int) -> list[tuple[str, str]]:
    rows = []
    before = settle_rss(srv.pid)
    loop = asyncio.new_event_loop()
    try:
        first = loop.run_until_complete(open_sessions(srv.url, path, marker, 1, 1))
        after_one = settle_rss(srv.pid)
        t0 = time.perf_counter()
        rest = loop.run_until_complete(open_sessions(srv.url, path, marker, n - 1, batch))
        open_s = time.perf_counter() - t0
        sessions = first + rest
        after_all = settle_rss(srv.pid)
        loads = [s.loaded_s for s in sessions]
        per = (after_all - after_one) / max(n - 1, 1)
        rows += [(f"{label}: server RSS before / after 1 session / after {n}",
                  f"{before:,.0f} / {after_one:,.0f} / {after_all:,.0f} MiB"),
                 (f"{label}: RSS of the first session (incl. the shared day, libraries)",
                  f"{after_one - before:,.0f} MiB"),
                 (f"{label}: RSS per further session", f"{per:,.1f} MiB"),
                 (f"{label}: open {n - 1} more, {batch} at a time", f"{open_s:.1f} s"),
                 (f"{label}: one session, GET to loaded (over all {n})",
                  f"{bw.ms(min(loads))} best / {bw.ms(statistics.median(loads))} median / {bw.ms(max(loads))} worst"),
                 (f"{label}: bytes received per session",
                  f"{statistics.median(s.received for s in sessions) / 1e3:,.0f} kB")]
        rows.append((f"{label}: with {n} sessions open (load average {bw.load_average()}):", ""))
        rows += browser_checks(srv, ticks)
        t0 = time.perf_counter()
        loop.run_until_complete(close_sessions(sessions))
        rows.append((f"{label}: close {n} sessions", bw.ms(time.perf_counter() - t0)))
    finally:
        loop.close()
    return rows


def unload_wait_s() -> float:
    """How long the server may keep a closed session (see tickdeck.app.server), plus a margin."""
    from tickdeck.app.server import CHECK_UNUSED_SESSIONS_MS, UNUSED_SESSION_LIFETIME_MS

    return (UNUSED_SESSION_LIFETIME_MS + CHECK_UNUSED_SESSIONS_MS) / 1000 + 5


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=100)
    ap.add_argument("--ticks", type=int, default=5_000_000)
    ap.add_argument("--datasets", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--skip-home", action="store_true")
    args = ap.parse_args()
    rows = [("load average at start (1/5/15 min, 2 cores)", bw.load_average())]
    data = Path(tempfile.mkdtemp(prefix="bench-sessions-")) / "data"
    try:
        from tickdeck.core.config import Settings
        from tickdeck.core.context import Context
        from tickdeck.core.sources.synthetic import generate_into_store

        ctx = Context.open(Settings(data_dir=data))
        generate_into_store(ctx, ["SPY"], DAY, DAY, ticks=args.ticks)
        bw.seed_datasets(ctx, args.datasets)
        ctx.close()
        with bw.served(data) as srv:
            rows.append(("server: warm-up done after start", f"{srv.warm_s:.1f} s"))
            explorer = f"explorer?symbol=SPY&start={DAY}&session=regular"
            marker = b" ticks&lt;/strong&gt;"  # the summary line, sent when the chart is loaded
            rows += phase(srv, "explorer", explorer, marker, args.sessions, args.batch, args.ticks)
            peak = rss_mib(srv.pid)
            if not args.skip_home:
                time.sleep(unload_wait_s())
                rows += phase(srv, "home", "", b"td-card", args.sessions, args.batch, args.ticks)
            time.sleep(unload_wait_s())  # the closed sessions are discarded; their memory is reused
            after = rss_mib(srv.pid)
            loop = asyncio.new_event_loop()
            try:
                again = loop.run_until_complete(open_sessions(srv.url, explorer, marker, args.sessions, args.batch))
                rows += [(f"after closing: server RSS, {unload_wait_s():.0f} s after the last close",
                          f"{after:,.0f} MiB (peak with {args.sessions} explorer sessions: {peak:,.0f} MiB)"),
                         (f"after closing: RSS with {args.sessions} new explorer sessions (memory of the unloaded "
                          "ones reused)", f"{settle_rss(srv.pid):,.0f} MiB")]
                loop.run_until_complete(close_sessions(again))
            finally:
                loop.close()
    finally:
        shutil.rmtree(data.parent, ignore_errors=True)
    rows.append(("load average at end", bw.load_average()))
    bw.print_table(rows)


if __name__ == "__main__":
    main()
