"""Collection monitor in Chromium, fed by the real collector and job queue (never hand-made payloads).

One ``tickdeck serve`` (Redis bus, embedded worker) and one IQFeed emulator over TCP serve the
module. This process listens on the same Redis, so it sees exactly what the collector reported.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from playwright.sync_api import TimeoutError as PlaywrightTimeout
from services_needed import stop_group

from tickdeck.core.bus import RedisBus
from tickdeck.core.catalog import Catalog
from tickdeck.core.sources.iqfeed_emulator import EmulatorThread, IQFeedEmulator
from tickdeck.jobs.queue import JobQueue

pytestmark = [pytest.mark.browser, pytest.mark.redis]

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("TICKDECK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
START_TIMEOUT_S = 90  # a loaded 2-core machine imports panel/holoviews slowly

HISTORY_DAYS = ["2024-06-25", "2024-06-26", "2024-06-27", "2024-06-28"]  # before the emulated "now"
EMULATED_NOW = "2024-07-03 10:00:00"
DAY_TICKS = 60_000  # regular-session trades per emulated day: each collected day takes a noticeable moment

# An element by CSS selector anywhere in the page (Panel renders panes in shadow roots).
FIND = """(selector) => {
  const find = (root) => {
    const el = root.querySelector(selector);
    if (el) return el;
    for (const n of root.querySelectorAll('*')) {
      if (n.shadowRoot) { const f = find(n.shadowRoot); if (f) return f; }
    }
    return null;
  };
  return find(document);
}"""
# True while the job's bar is shown running at 50 % or more (checked on every animation frame).
RUNNING_PAST_HALF = f"""(selector) => {{ const el = ({FIND})(selector);
  return !!el && el.dataset.status === 'running' && Number(el.value) >= 50 && Number(el.value) < 100; }}"""
FINISHED = f"""(selector) => {{ const el = ({FIND})(selector);
  return !!el && el.dataset.status === 'succeeded' && Number(el.value) === 100; }}"""
# True once the Level 1 latency shown is one of the given texts.
LATENCY_SHOWN = f"""([selector, texts]) => {{ const el = ({FIND})(selector);
  return !!el && texts.includes(el.textContent.trim()); }}"""


class FeedWatch:
    """The Level 1 client's FeedStatusChanged events as this process receives them over Redis."""

    def __init__(self, url: str, port: int):
        self.port = port
        self.latencies: set[str] = set()
        self.states: list[str] = []
        self._lock = threading.Lock()
        self.bus = RedisBus(url)
        self.stop = self.bus.listen("collection", self._on)

    def _on(self, msg) -> None:
        ev = msg.event
        if msg.type == "FeedStatusChanged" and ev.kind == "level1" and ev.port == self.port:
            with self._lock:
                self.states.append(ev.state)
                if ev.latency_ms is not None:
                    self.latencies.add(f"{ev.latency_ms:,.1f} ms")

    def reported(self) -> list[str]:
        with self._lock:
            return sorted(self.latencies - {"0.0 ms"})

    def close(self) -> None:
        self.stop()
        self.bus.close()


@pytest.fixture(scope="module")
def monitor_app(tmp_path_factory, chromium_path):
    """A served app with a Redis bus, pointed at an emulator; the embedded worker runs the jobs."""
    from services_needed import free_port, missing_service

    try:
        RedisBus(REDIS_URL).close()
    except Exception as e:  # noqa: BLE001
        missing_service(f"Redis at {REDIS_URL} ({type(e).__name__})")
    emu = IQFeedEmulator(symbols=("AAPL", "MSFT"), now=EMULATED_NOW, speed=5.0, ticks=DAY_TICKS, port_history=0,
                         port_l1=0)
    base = tmp_path_factory.mktemp("monitor")
    data_dir, log = base / "data", base / "serve.log"
    data_dir.mkdir()
    with EmulatorThread(emu) as running, open(log, "w") as fh:
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "tickdeck", "serve", "--port", str(port)], cwd=ROOT, stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, "TICKDECK_DATA_DIR": str(data_dir),
                                     "TICKDECK_SECRET": "browser-test-secret", "TICKDECK_REDIS_URL": REDIS_URL,
                                     "TICKDECK_FEED_PORT_HISTORY": str(running.port_history),
                                     "TICKDECK_FEED_PORT_L1": str(running.port_l1)})
        url = f"http://127.0.0.1:{port}/"
        try:
            _wait_ready(url, proc, log)
            yield url, data_dir, running
        finally:
            stop_group(proc, timeout=30)


def _wait_ready(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"tickdeck serve exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url + "login", timeout=2) as r:
                if r.status < 500:
                    return
        except urllib.error.HTTPError as e:
            if e.code < 500:
                return
        except OSError:
            pass
        time.sleep(0.2)  # polling interval while the server boots, not a wait for a condition
    raise RuntimeError(f"tickdeck serve did not answer within {START_TIMEOUT_S}s:\n{log.read_text()[-3000:]}")


def test_monitor_shows_the_live_feed_connected_with_the_collectors_latency(monitor_app, page, shot):
    """Issue 12: with live collection running, the feed badge says connected (it said "Feed
    unknown") and the latency is the collector's last reported one (it showed 0.0 ms)."""
    url, _, emu = monitor_app
    watch = FeedWatch(REDIS_URL, emu.port_l1)
    try:
        page.goto(url + "monitor")
        page.locator("[data-testid='session-status']").wait_for()
        assert "No feed status yet" in page.locator("[data-testid='feed-status']").inner_text()
        page.get_by_placeholder("AAPL, MSFT").fill("AAPL")
        page.get_by_placeholder("AAPL, MSFT").press("Enter")
        page.get_by_label("Live: today's session").check()  # the labelled mode toggle
        page.get_by_role("button", name="Start collection").click()
        page.locator("text=Asked the live service to collect AAPL").wait_for()  # a supervised service, not a job

        state = page.locator("[data-testid='feed-state-level1']", has_text="connected")
        state.wait_for(timeout=90_000)
        assert "Feed connected" in page.locator("[data-testid='feed-status']").inner_text()
        selector = "[data-testid='feed-latency-level1']"
        deadline = time.monotonic() + 60
        while True:  # the latency moves with every batch: wait until the page shows one the collector reported
            try:
                page.wait_for_function(LATENCY_SHOWN, arg=[selector, watch.reported()], polling="raf", timeout=2000)
                break
            except PlaywrightTimeout:  # not yet one of those received so far: check again with the newer ones
                assert time.monotonic() < deadline, (page.locator(selector).inner_text(), watch.reported()[-5:])
        counters = page.locator("[data-testid='feed-counters-level1']").inner_text()
        assert "Ticks" in counters and "Reconnects" in counters and ("s ago" in counters or "just now" in counters)
        assert "updated_at" not in counters and "last_latency_ms" not in counters
        shot(page, "monitor-live")

        page.get_by_role("button", name="Stop collection").click()
        page.locator("[data-testid='feed-state-level1']", has_text="disconnected").wait_for(timeout=60_000)
        assert "disconnected" in watch.states
    finally:
        watch.close()


def test_history_collect_job_progress_bar_passes_half_before_it_finishes(monitor_app, page, shot):
    """Issue 12: the queued collect job's bar moves (it stayed at 0 %): the page shows it running
    at 50 % or more before it finishes, fed by the job queue's progress events."""
    url, data_dir, _ = monitor_app
    page.goto(url + "monitor")
    page.locator("[data-testid='session-status']").wait_for()
    catalog = Catalog(f"sqlite:///{data_dir / 'tickdeck.db'}")
    try:
        q = JobQueue(catalog.engine)  # another process queues it; the server's embedded worker runs it
        jid = q.submit("collect", {"symbols": ["AAPL"], "days": HISTORY_DAYS}, priority=0, requested_by="test")
        selector = f"progress[aria-label='progress job {jid}']"
        page.wait_for_function(RUNNING_PAST_HALF, arg=selector, polling="raf", timeout=120_000)
        assert q.get(jid).status == "running"
        shot(page, "monitor-history-progress")
        page.wait_for_function(FINISHED, arg=selector, polling="raf", timeout=180_000)
        assert q.get(jid).status == "succeeded"
    finally:
        catalog.engine.dispose()
