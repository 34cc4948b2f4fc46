"""Alerts across processes over real Redis: live collection in a subprocess (the real emulator over
TCP, stocks and DTN statistics) publishes its StatisticUpdated and FeedStatusChanged events on Redis;
the alerts service in this process receives them, fires, stores the firings in its SQL store and
publishes AlertFired on Redis, which the collecting process receives (it stops on that condition)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

from tickdeck.core.alert_rules import AlertRule
from tickdeck.core.alert_service import AlertsService
from tickdeck.core.alert_store import add_rule, history
from tickdeck.core.bus import RedisBus
from waiting import wait_for

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[3]

# The other process: live collection until the AlertFired of both rules came back to it over Redis.
COLLECTOR = """
import json, sys, threading
from tickdeck.core.bus import RedisBus
from tickdeck.core.config import Settings
from tickdeck.core.context import Context
from tickdeck.core.live import collect_live

data_dir, url, prefix, port_history, port_l1 = sys.argv[1:6]
ctx = Context.open(Settings(data_dir=data_dir, feed_port_history=int(port_history), feed_port_l1=int(port_l1)))
ctx.bus.close()
ctx.bus = RedisBus(url, prefix=prefix)
stop, got = threading.Event(), []

def on_alert(m):
    if m.type == "AlertFired":
        got.append(m.event)
        if {e.name for e in got} >= {"tick seen", "l1 latency"}:
            stop.set()

ctx.bus.listen("alerts", on_alert)
collect_live(ctx, ["AAPL", "MSFT", "JTNT.Z", "RINT.Z"], batch_seconds=0.2, stop_event=stop, finalize=False)
print(json.dumps([[e.name, e.history_id, e.value, e.at] for e in got]))
ctx.close()
"""


@pytest.fixture(scope="module")
def emulator():
    from tickdeck.core.sources.iqfeed_emulator import EmulatorThread, IQFeedEmulator

    emu = IQFeedEmulator(symbols=("AAPL", "MSFT"), now="2024-07-03 10:00:00", speed=10.0, ticks=20_000,
                         port_history=0, port_l1=0)
    with EmulatorThread(emu) as running:
        yield running


def test_the_alerts_service_fires_on_events_another_process_publishes_on_redis(tmp_path, redis_url, emulator):
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context

    prefix = f"tickdeck-test-{uuid.uuid4().hex[:10]}:"
    ctx = Context.open(Settings(data_dir=tmp_path / "alerts"))
    ctx.bus.close()
    ctx.bus = RedisBus(redis_url, prefix=prefix)
    tick = add_rule(ctx.catalog, AlertRule("tick seen", "ops", "indicator:TICK.NYSE@feed", "above", -1e9))
    latency = add_rule(ctx.catalog, AlertRule("l1 latency", "ops", "feed:latency", "above", -1.0))
    received, lock = {"StatisticUpdated": [], "FeedStatusChanged": [], "AlertFired": []}, threading.Lock()

    def record(m) -> None:
        with lock:
            received.setdefault(m.type, []).append(m)

    for topic in ("indicators", "collection", "alerts"):
        ctx.bus.listen(topic, record)
    service = AlertsService(ctx)
    try:
        service.start({"check_s": 0.2})
        wait_for(lambda: "rules" in service.health().detail, "the alerts service to listen")
        proc = subprocess.run([sys.executable, "-c", COLLECTOR, str(tmp_path / "collector"), redis_url, prefix,
                               str(emulator.port_history), str(emulator.port_l1)],
                              cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                              timeout=240)
        assert proc.returncode == 0, proc.stderr[-3000:]
        theirs = json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        assert service.stop(10)
    try:
        rows = {r.id: r for r in history(ctx.catalog)}
        fired = {m.event.history_id: m.event for m in received["AlertFired"]}
        assert set(fired) == set(rows)  # every stored firing was published, and only those
        by_rule: dict[int, list] = {}
        for hid in sorted(rows):
            by_rule.setdefault(rows[hid].rule_id, []).append(rows[hid])

        # the first NYSE TICK the other process read from the feed is the value that fired, once
        # (`above` fires again only after the value went back below the threshold)
        first_tick = next(m.event for m in received["StatisticUpdated"] if m.event.indicator.endswith("TICK.NYSE"))
        [row] = by_rule[tick.id]
        f = fired[row.id]
        assert (f.alert_id, f.value, f.at) == (tick.id, first_tick.value, first_tick.at / 1e9)
        assert (row.series, row.value) == ("TICK.NYSE@feed", first_tick.value)
        # the latency rule: once per feed client of the other process, on its first status with a latency
        statuses = [m.event for m in received["FeedStatusChanged"] if m.event.latency_ms is not None]
        clients = {f"{e.host}:{e.port}/{e.kind}" for e in statuses}
        assert "level1" in {c.rsplit("/", 1)[1] for c in clients}
        assert sorted(r.series for r in by_rule[latency.id]) == sorted(clients)
        for r in by_rule[latency.id]:
            first = next(e for e in statuses if f"{e.host}:{e.port}/{e.kind}" == r.series)
            assert (r.value, fired[r.id].value, fired[r.id].at) == (first.latency_ms, first.latency_ms,
                                                                    first.updated_at)
        # and the collecting process received the firings over Redis, as stored here
        assert sorted(map(tuple, theirs)) == sorted((e.name, e.history_id, e.value, e.at) for e in fired.values())
    finally:
        ctx.close()
