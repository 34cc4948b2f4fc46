"""Feed failover against two real emulators serving the same market (same seed, same universe, clocks
in step): live collection switches to the backup when the primary dies or goes silent, fills the gap
from the backup's history, returns to the primary once it is healthy, and the stored days equal the
source with no gap and no duplicate. The failover gap (primary death -> first tick from the backup)
is measured on the emulator clock and in wall milliseconds and printed (``-s``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import httpx
import numpy as np
import pandas as pd
import pytest

import waiting
from tickdeck.core import feed_status
from tickdeck.core.alerts import AlertEngine, AlertRule
from tickdeck.core.config import Settings
from tickdeck.core.context import Context
from tickdeck.core.events import FeedSwitched, TicksAppended
from tickdeck.core.live import collect_live
from tickdeck.core.sources.iqfeed_emulator import EmulatorFaults, EmulatorThread, IQFeedEmulator
from tickdeck.pages.monitor import MonitorPage
from tests.services_needed import free_port, stop_group

DAY = "2024-07-02"
SYMBOLS = ("AAPL", "MSFT")
SPEED = 60.0  # emulated seconds per wall second: trades every few hundred ms, a stale limit in seconds
TICKS = 3000  # regular-session trades per symbol-day
STALE_S = 120.0  # emulated seconds without a trade in market hours that fail the primary (2 s wall at 60x)
SEED = 7


def wait_for(cond, what: str, timeout: float = 60.0):
    return waiting.wait_for(cond, what, timeout, poll=0.02)


def emulator(now, *, port_history: int = 0, port_l1: int = 0) -> EmulatorThread:
    th = EmulatorThread(IQFeedEmulator(symbols=SYMBOLS, seed=SEED, now=now, speed=SPEED, ticks=TICKS,
                                       port_history=port_history, port_l1=port_l1))
    th.__enter__()
    return th


class Watch:
    """What the collector published: switches, and every tick event with when it came (wall, emulator)."""

    def __init__(self, ctx, clock):
        self.clock = clock
        self.switches: list[tuple[float, FeedSwitched]] = []
        self.messages: list = []  # the FeedSwitched bus messages, for an alert engine
        self.ticks: list[tuple[float, float, TicksAppended]] = []
        self._lock = threading.Lock()
        ctx.bus.listen("collection", self._collection)
        ctx.bus.listen("ticks.*", self._tick)

    def _collection(self, m) -> None:
        if isinstance(m.event, FeedSwitched):
            with self._lock:
                self.switches.append((time.perf_counter(), m.event))
                self.messages.append(m)

    def _tick(self, m) -> None:
        with self._lock:
            self.ticks.append((time.perf_counter(), self.clock(), m.event))

    def live_after(self, wall: float) -> int:
        with self._lock:
            return sum(len(e.tick_id) for t, _, e in self.ticks if t > wall and e.origin == "live")

    def first_after(self, wall: float):
        with self._lock:
            return next(((t, c) for t, c, e in self.ticks if t > wall and len(e.tick_id)), None)

    def roles(self) -> list[str]:
        with self._lock:
            return [(e.to_role, e.reason) for _, e in self.switches]


@pytest.fixture
def market(tmp_path):
    """A primary and a backup emulator on free ports, clocks in step, and a context whose feed is the primary
    with the backup configured (TICKDECK_FEED_BACKUP's setting)."""
    backup = emulator(f"{DAY} 10:00:00")
    primary = emulator(backup.emulator.sim_now())
    threads = {"primary": primary, "backup": backup}
    p, b = primary.emulator, backup.emulator
    ctx = Context.open(Settings(data_dir=tmp_path / "data", feed_port_history=p.port_history, feed_port_l1=p.port_l1,
                                feed_backup=f"127.0.0.1:{b.port_history}:{b.port_l1}", feed_stale_s=STALE_S,
                                feed_probe_s=0.2))
    yield ctx, threads
    ctx.close()
    for th in threads.values():
        if th is not None:
            th.__exit__(None, None, None)


def stored(ctx, sym: str) -> pd.DataFrame:
    return ctx.store.read_day(sym, DAY, columns=["tick_id", "last", "last_sz", "bid", "ask"])


def test_live_collection_fails_over_to_the_backup_and_back_without_gap_or_duplicate(market):
    ctx, emus = market
    backup = emus["backup"].emulator
    ports = (emus["primary"].emulator.port_history, emus["primary"].emulator.port_l1)

    def market_clock() -> float:  # the emulators' clock: "no trade for N seconds" is measured on it
        return backup.sim_now().tz_localize("America/New_York").timestamp()

    watch = Watch(ctx, market_clock)
    feed_status.install(ctx)
    page = MonitorPage(ctx=ctx, autostart=False)
    page.start_updates()  # the bus listener only (no server session)
    stop = threading.Event()
    out = {}
    progress: set[str] = set()  # what the progress messages (the live service's status) say beyond the batches

    def run():
        try:
            out["summary"] = collect_live(ctx, list(SYMBOLS), stop_event=stop, batch_seconds=0.5, clock=market_clock,
                                          progress=lambda p: progress.add(p.message.partition(" (")[2]))
        except BaseException as e:  # noqa: BLE001 - reported by the test thread
            out["error"] = e

    th = threading.Thread(target=run, daemon=True)
    th.start()
    try:
        wait_for(lambda: watch.live_after(0) > 20 or "error" in out, "live ticks from the primary")
        assert feed_status.latest(ctx)["level1"].port == ports[1]

        # 1. the primary dies mid-session
        killed_wall, killed_emu = time.perf_counter(), market_clock()
        emus["primary"].__exit__(None, None, None)
        emus["primary"] = None
        wait_for(lambda: ("backup", "disconnect") in watch.roles() or "error" in out, "the switch to the backup")
        switched = watch.switches[0][0]
        first = wait_for(lambda: watch.first_after(switched), "the first tick from the backup")
        gap_wall_ms, gap_emu_s = (first[0] - killed_wall) * 1000, first[1] - killed_emu
        wait_for(lambda: watch.live_after(first[0]) > 20, "live ticks from the backup")
        assert feed_status.latest(ctx)["level1"].port == backup.port_l1  # the status shows the backup
        assert feed_status.last_switch(ctx).to_role == "backup"

        # 2. the primary comes back (same ports, same market, same clock): collection returns to it
        emus["primary"] = emulator(backup.sim_now(), port_history=ports[0], port_l1=ports[1])
        wait_for(lambda: ("primary", "primary_healthy") in watch.roles(), "the switch back to the primary")
        back = time.perf_counter()
        wait_for(lambda: watch.live_after(back) > 20, "live ticks from the primary again")
        assert feed_status.latest(ctx)["level1"].port == ports[1]

        # 3. the primary hangs (connected, silent): no trade for STALE_S emulated seconds -> backup
        emus["primary"].emulator.faults = EmulatorFaults(l1_silent=True)
        wait_for(lambda: ("backup", "stale") in watch.roles(), "the switch on a silent primary")
        hung = time.perf_counter()
        wait_for(lambda: watch.live_after(hung) > 20, "live ticks from the backup while the primary hangs")
        assert watch.roles().count(("primary", "primary_healthy")) == 1  # a silent primary is not healthy
        emus["primary"].emulator.faults = EmulatorFaults()
        wait_for(lambda: watch.roles().count(("primary", "primary_healthy")) == 2, "the second way back")
        again = time.perf_counter()
        wait_for(lambda: watch.live_after(again) > 20, "live ticks from the primary at the end")
    finally:
        stop.set()
        th.join(120)
    assert "error" not in out, out.get("error")
    s = out["summary"]
    assert [(e.to_role, e.reason) for e in s.switches] == [
        ("backup", "disconnect"), ("primary", "primary_healthy"), ("backup", "stale"), ("primary", "primary_healthy")]
    assert s.feed == "primary" and s.stop.complete
    assert f"on the backup feed {ctx.settings.backup_feed})" in progress

    # every stored day is the source's day up to its last stored tick: no gap, no duplicate, same values
    for sym in SYMBOLS:
        got = stored(ctx, sym)
        src = backup.day_raw(sym, DAY)
        n = len(got)
        assert n > 100
        assert np.array_equal(np.sort(got["tick_id"].to_numpy()), src["tick_id"][:n])
        got = got.sort_values("tick_id", kind="stable")
        for col in ("last", "last_sz"):
            assert np.array_equal(got[col].to_numpy(), src[col][:n]), (sym, col)
    # each switch is a line under the monitor's feed panel
    page.flush()
    lines = page.switch_pane.object
    assert lines.count("<li>") == 4 and "switched to the <b>backup</b> feed" in lines and "(stale: " in lines
    page.stop_updates()
    # each failover is an alert signal: a feed:failover rule fires once per switch to the backup
    engine = AlertEngine([AlertRule("on backup", "ops", "feed:failover", "above", 0.5, id=1)], clock=market_clock)
    firings = [f for m in watch.messages for f in engine.feed(m)]
    assert [f.value for f in firings] == [1.0, 1.0]
    # another process sees where collection is and the last switch (the status cache's stored copy)
    env = {**os.environ, "TICKDECK_DATA_DIR": str(ctx.settings.data_dir),
           "TICKDECK_FEED_BACKUP": ctx.settings.feed_backup}
    r = subprocess.run([sys.executable, "-m", "tickdeck", "feeds", "status", "--json"], env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    assert st["backup"] == str(ctx.settings.backup_feed)
    assert st["last_switch"]["to_role"] == "primary" and st["last_switch"]["reason"] == "primary_healthy"
    assert st["clients"]["level1"]["port"] == ports[1]
    # and so does the API of a server on the same data directory
    port = free_port()
    with open(ctx.settings.data_dir / "serve.log", "w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "tickdeck", "serve", "--port", str(port), "--no-worker",
                                 "--no-warm-up"], env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            base = f"http://127.0.0.1:{port}"
            waiting.wait_for(lambda: _answers(f"{base}/healthz"), "the server to answer", timeout=120, poll=0.2)
            api = httpx.get(f"{base}/api/v1/feeds/status", timeout=30).json()
        finally:
            stop_group(proc, fh)
    assert api["last_switch"] == st["last_switch"]
    print(f"\nfailover gap (primary death -> first tick from the backup): {gap_wall_ms:.0f} ms wall, "
          f"{gap_emu_s:.1f} s on the emulator clock ({SPEED:g}x)")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_malformed_backup_endpoint_is_refused_naming_the_variable():
    from tickdeck.core.errors import ConfigError

    assert str(Settings.from_env({"TICKDECK_FEED_BACKUP": "10.0.0.2:9100:5009"}).backup_feed) == "10.0.0.2:9100/5009"
    for bad, why in (("10.0.0.2:9100", "host:history_port:l1_port"), ("h:9100:99999", "not a port number")):
        with pytest.raises(ConfigError, match=f"TICKDECK_FEED_BACKUP.*{why}"):
            Settings.from_env({"TICKDECK_FEED_BACKUP": bad})
    assert Settings.from_env({}).backup_feed is None


def test_an_open_breaker_on_the_primary_asks_for_the_backup_and_nothing_switches_without_one():
    """The breaker trigger on the link's own clients (no connection is opened until connect)."""
    from tickdeck.core.config import FeedEndpoint
    from tickdeck.core.failover import FeedLink

    link = FeedLink(FeedEndpoint("127.0.0.1", 1, 2), FeedEndpoint("127.0.0.1", 3, 4))
    for _ in range(link.hist.breaker.failure_threshold):
        link.hist.breaker.record_failure()
    link._check()
    assert link.switch_pending and link._want[0] == "breaker_open"
    alone = FeedLink(FeedEndpoint("127.0.0.1", 1, 2))
    for _ in range(alone.l1.breaker.failure_threshold):
        alone.l1.breaker.record_failure()
    alone._check()
    assert not alone.failover and not alone.switch_pending and not alone.request_switch("disconnect")
