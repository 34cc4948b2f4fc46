"""The feed-outage alert (``feed:stale``): live collection from the real emulator over TCP publishes
its ticks on the real bus; the alerts service runs on a simulated clock — the emulator's clock (5×
real time, in a regular session) plus jumps the test makes — so no step waits for wall time to pass.

While ticks flow the clock jumps ahead 10 s at a time, a new batch of ticks arriving between jumps:
more than 45 s pass without an alert. When the emulator stops sending and the live client has seen
its connection closed (a batch it held is published then, which the service counts as ticks
arriving), the clock is frozen and then set to 29.5 s after the last tick the service saw (no alert
after two checks) and to 30.5 s (one alert, valued 30.5 s, stored), then 40 s more in steps (still
one alert: one per outage)."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from tickdeck.core.alert_rules import AlertRule
from tickdeck.core.alert_service import AlertsService
from tickdeck.core.alert_store import add_rule, history
from tickdeck.core.live_service import LiveCollectionService
from waiting import wait_for

SPEED = 5.0  # emulated seconds per wall second
DAY_TICKS = 60_000  # regular-session trades per emulated day: ~5 per emulated second over two symbols


@pytest.fixture
def emulator():
    from tickdeck.core.sources.iqfeed_emulator import EmulatorThread, IQFeedEmulator

    th = EmulatorThread(IQFeedEmulator(symbols=("AAPL", "MSFT"), now="2024-07-02 10:00:00", speed=SPEED,
                                       ticks=DAY_TICKS, port_history=0, port_l1=0))
    emu = th.__enter__()
    emu.halt = lambda: asyncio.run_coroutine_threadsafe(emu.stop(), th.loop).result(10)  # stops sending
    yield emu
    th.__exit__(None, None, None)


class SimClock:
    """Epoch seconds: the emulator's clock plus ``offset``, or ``frozen`` once set; counts its reads
    (the alerts service reads it once per check, so the test can wait for checks to have run)."""

    def __init__(self, emulator) -> None:
        self.emulator = emulator
        self.offset = 0.0
        self.frozen: float | None = None
        self._reads = itertools.count()
        self.reads = 0

    def emulated(self) -> float:
        return self.emulator.sim_now().tz_localize("America/New_York").timestamp()

    def __call__(self) -> float:
        self.reads = next(self._reads) + 1
        return self.frozen if self.frozen is not None else self.emulated() + self.offset

    def checks_ran(self, n: int = 2) -> None:
        """Wait until the clock was read ``n`` more times (``n`` checks of the service, nothing else reads it)."""
        start = self.reads
        wait_for(lambda: self.reads >= start + n, f"{n} checks of the alerts service")


def test_feed_outage_alert_fires_after_30s_without_ticks_in_market_hours(emulator, tmp_path):
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context

    ctx = Context.open(Settings(data_dir=tmp_path / "data", feed_port_history=emulator.port_history,
                                feed_port_l1=emulator.port_l1))
    clock = SimClock(emulator)
    rule = add_rule(ctx.catalog, AlertRule("feed outage", "ops", "feed:stale", "above", 30.0))
    fired, ticks_at, live_ticks = [], [], []
    ctx.bus.listen("alerts", lambda m: fired.append(m.event))
    level1_down = []  # the live client's Level 1 connection lost: the ticks it held are published before
    ctx.bus.listen("collection", lambda m: m.type == "FeedStatusChanged" and m.event.kind == "level1"
                   and m.event.state != "connected" and level1_down.append(m.event.state))
    ctx.bus.listen("ticks.*", lambda m: (ticks_at.append(clock.emulated() + clock.offset),
                                         m.event.origin == "live" and live_ticks.append(1)))
    alerts, live = AlertsService(ctx, clock=clock), LiveCollectionService(ctx)
    try:
        # live collection first: its start (history fill, the materialiser process) is not an outage
        live.start({"symbols": ["AAPL", "MSFT"], "batch_seconds": 0.2})
        wait_for(lambda: live_ticks, "live ticks on the bus")
        alerts.start({"check_s": 0.05})
        wait_for(lambda: "rules" in alerts.health().detail, "the alerts service to listen")
        flowing_since = clock()
        for _ in range(5):  # 50 s of simulated time while ticks flow: a batch between 10 s jumps
            seen = len(live_ticks)
            wait_for(lambda seen=seen: len(live_ticks) > seen, "a batch of live ticks")
            clock.checks_ran()
            clock.offset += 10.0
        clock.checks_ran()
        assert clock() - flowing_since > 45
        assert fired == [], "no outage alert while ticks flow"

        assert level1_down == []
        emulator.halt()
        # the client flushes the ticks it holds when it sees the connection closed; then the clock stops
        wait_for(lambda: level1_down, "the live client to see the Level 1 connection closed")
        clock.frozen = clock.emulated() + clock.offset
        clock.checks_ran()  # the service has taken every queued event: its last tick is final
        received = len(ticks_at)
        last_tick = clock.frozen - alerts.engine.stale_seconds(clock.frozen)  # when the service saw it
        assert abs(last_tick - ticks_at[-1]) < 1.0
        clock.frozen = last_tick + 29.5
        clock.checks_ran()
        assert fired == [], "29.5 s without ticks is no outage yet"
        clock.frozen = last_tick + 30.5
        f = wait_for(lambda: fired and fired[0], "the outage alert")
        assert (f.alert_id, f.watch, f.condition, f.threshold) == (rule.id, "feed:stale", "above", 30.0)
        assert f.value == pytest.approx(30.5)  # counted from the last tick, on the simulated clock
        assert f.at == clock.frozen
        [row] = history(ctx.catalog)
        assert (row.id, row.rule_id, row.value, row.at.timestamp()) == (f.history_id, rule.id, f.value, f.at)

        for _ in range(8):  # 40 s more of the same outage
            clock.frozen += 5.0
            clock.checks_ran()
        assert len(fired) == 1, "one alert per outage"
        assert len(ticks_at) == received, "no tick arrived after the emulator stopped"
    finally:
        assert live.stop(60)
        assert alerts.stop(10)
        ctx.close()
