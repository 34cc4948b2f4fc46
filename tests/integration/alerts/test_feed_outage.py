"""The feed-outage alert (``feed:stale``): live collection from the real emulator over TCP publishes
its ticks on the real bus; the alerts service runs on the emulator's clock (5× real time, in a
regular session), so 30 s without ticks take 6 s. Nothing fires while ticks flow, even past 30 s;
when the emulator stops sending, one alert fires ~30 s (emulated) after the last tick and is stored."""

from __future__ import annotations

import asyncio

import pytest

from tickdeck.core.alert_rules import AlertRule
from tickdeck.core.alert_service import AlertsService
from tickdeck.core.alert_store import add_rule, history
from tickdeck.core.live_service import LiveCollectionService
from waiting import wait_for

SPEED = 5.0  # emulated seconds per wall second (a stall of the shared test machine must stay far below 30/SPEED s)
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


def test_feed_outage_alert_fires_after_30s_without_ticks_in_market_hours(emulator, tmp_path):
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context

    ctx = Context.open(Settings(data_dir=tmp_path / "data", feed_port_history=emulator.port_history,
                                feed_port_l1=emulator.port_l1))

    def sim() -> float:
        return emulator.sim_now().tz_localize("America/New_York").timestamp()

    rule = add_rule(ctx.catalog, AlertRule("feed outage", "ops", "feed:stale", "above", 30.0))
    fired, ticks_at = [], []
    ctx.bus.listen("alerts", lambda m: fired.append(m.event))
    live_ticks = []
    ctx.bus.listen("ticks.*", lambda m: (ticks_at.append(sim()), m.event.origin == "live" and live_ticks.append(1)))
    alerts, live = AlertsService(ctx, clock=sim), LiveCollectionService(ctx)
    try:
        # live collection first: its start (history fill, the materialiser process) is not an outage
        live.start({"symbols": ["AAPL", "MSFT"], "batch_seconds": 0.2})
        wait_for(lambda: live_ticks, "live ticks on the bus")
        alerts.start({"check_s": 0.05})
        wait_for(lambda: "rules" in alerts.health().detail, "the alerts service to listen")
        flowing_since = sim()
        wait_for(lambda: sim() - flowing_since > 45, "45 emulated seconds of live ticks")
        assert fired == [], "no outage alert while ticks flow"

        emulator.halt()
        f = wait_for(lambda: fired and fired[0], "the outage alert")
        last_tick = ticks_at[-1]
        assert (f.alert_id, f.watch, f.condition, f.threshold) == (rule.id, "feed:stale", "above", 30.0)
        assert 30.0 < f.value < 32.0  # noticed within a check (0.05 s wall = 0.25 s emulated) of the 30 s
        assert abs((f.at - f.value) - last_tick) < 1.0  # counted from the last tick, on the emulated clock
        [row] = history(ctx.catalog)
        assert (row.id, row.rule_id, row.value, row.at.timestamp()) == (f.history_id, rule.id, f.value, f.at)

        wait_for(lambda: sim() - f.at > 40, "40 more emulated seconds of outage")
        assert len(fired) == 1, "one alert per outage"
    finally:
        assert live.stop(60)
        assert alerts.stop(10)
        ctx.close()
