"""Issue 12: events cross processes over Redis — a collector in a subprocess publishes, this
process receives the typed events (arrays included) and they match what the collector stored."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

from tickdeck.core.bus import RedisBus
from tickdeck.core.config import Settings
from tickdeck.core.context import Context
from tickdeck.core.events import TICK_ARRAYS
from tickdeck.core.schema import RAW_COLUMNS

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[3]
HISTORY_DAY, LIVE_DAY = "2024-07-01", "2024-07-03"

# The publisher: history collection of one day, then live collection until its own first Level 1
# batch came back from Redis (a condition, not a timer).
PUBLISHER = """
import sys, threading
from tickdeck.core.bus import RedisBus
from tickdeck.core.collect import collect_days
from tickdeck.core.config import Settings
from tickdeck.core.context import Context
from tickdeck.core.live import collect_live

data_dir, url, prefix, port_history, port_l1 = sys.argv[1:6]
ctx = Context.open(Settings(data_dir=data_dir, feed_port_history=int(port_history), feed_port_l1=int(port_l1)))
ctx.bus.close()
ctx.bus = RedisBus(url, prefix=prefix)
stop = threading.Event()
ctx.bus.listen("ticks.*", lambda m: stop.set() if m.event.origin == "live" else None)
collect_days(ctx, ["AAPL"], ["%s"])
collect_live(ctx, ["AAPL"], batch_seconds=0.3, stop_event=stop, finalize=False)
ctx.close()
""" % HISTORY_DAY


def test_collector_in_another_process_reaches_this_process_typed(tmp_path, redis_url, emulator, recorder_for):
    prefix = f"tickdeck-test-{uuid.uuid4().hex[:10]}:"
    bus = RedisBus(redis_url, prefix=prefix)
    rec = recorder_for(bus)
    data_dir = tmp_path / "data"
    try:
        proc = subprocess.run([sys.executable, "-c", PUBLISHER, str(data_dir), redis_url, prefix,
                               str(emulator.port_history), str(emulator.port_l1)],
                              cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                              timeout=240)
        assert proc.returncode == 0, proc.stderr[-3000:]
        rec.wait(lambda r: any(t.origin == "live" for t in r.events("TicksAppended")), 30, "live ticks")
        rec.wait(lambda r: any(f.kind == "level1" and f.state == "disconnected"
                               for f in r.events("FeedStatusChanged")), 30, "the collector's last status")
    finally:
        rec.stop()
        bus.close()
    assert {m.sequence for m in rec.messages} == set(range(1, len(rec.messages) + 1))  # nothing lost, one publisher
    [written] = [e for e in rec.events("DayWritten") if e.day == HISTORY_DAY]
    assert [p.done for p in rec.events("CollectionProgress")] == [1]
    ctx = Context.open(Settings(data_dir=data_dir))
    try:
        assert written.ticks == ctx.store.day_info("AAPL", HISTORY_DAY).ticks
        ticks = [t for t in rec.events("TicksAppended") if t.symbol == "AAPL"]
        got = {k: np.concatenate([getattr(t, k) for t in ticks]) for k in TICK_ARRAYS}
        assert all(got[k].dtype == np.dtype(dt) for k, dt in TICK_ARRAYS.items())
        stored = ctx.store.read_day("AAPL", LIVE_DAY, columns=RAW_COLUMNS)
        for k in RAW_COLUMNS:
            assert np.array_equal(got[k], stored[k].to_numpy(), equal_nan=True), k
        assert np.array_equal(got["timestamp"], stored.index.asi8)
    finally:
        ctx.close()


def test_bad_messages_on_redis_are_counted_and_never_reach_a_subscriber(redis_url, recorder_for):
    """Issue 12: garbage, an unknown type and a mistyped event on the channel are counted, not delivered."""
    import redis

    from tickdeck.core.events import DayWritten

    prefix = f"tickdeck-test-{uuid.uuid4().hex[:10]}:"
    bus = RedisBus(redis_url, prefix=prefix)
    rec = recorder_for(bus, "collection")
    raw = redis.Redis.from_url(redis_url)
    try:
        raw.publish(prefix + "collection", b"\xff not json")
        raw.publish(prefix + "collection", b'{"type": "Nope", "topic": "collection", "data": {}, "timestamp": 1.0,'
                                           b' "sequence": 1}')
        raw.publish(prefix + "collection", b'{"type": "DayWritten", "topic": "collection", "data": {"symbol": 1},'
                                           b' "timestamp": 1.0, "sequence": 2}')
        bus.publish(DayWritten("AAPL", "2024-07-01", 10, "iqfeed", "x"))
        rec.wait(lambda r: r.events("DayWritten"), 30, "the good event")
    finally:
        raw.close()
        rec.stop()
        bus.close()
    assert [m.type for m in rec.messages] == ["DayWritten"]
    assert (bus.stats.malformed, bus.stats.unknown, bus.stats.delivered) == (2, 1, 1)
