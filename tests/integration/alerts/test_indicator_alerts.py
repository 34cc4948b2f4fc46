"""Alerts on indicators from their real producers: live collection of symbols and DTN statistics from the
emulator over TCP (StatisticUpdated), the indicators service publishing IndicatorUpdate events, the
alerts service firing on them — each firing's value is the published value of its series at the same
instant."""

from __future__ import annotations

import threading

import pytest

from tickdeck.core.alert_rules import AlertRule
from tickdeck.core.alert_store import add_rule, history
from tickdeck.core.services import ServiceControl, Supervisor
import waiting

SYMBOLS = ["AAPL", "MSFT", "SPY"]
STATISTICS = ["JTNT.Z", "RINT.Z"]  # TICK.NYSE, TRIN.NYSE


def wait_for(cond, what: str, timeout: float = 240.0):
    return waiting.wait_for(cond, what, timeout, poll=0.05)


@pytest.fixture
def ctx(tmp_path):
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context
    from tickdeck.core.sources.iqfeed_emulator import EmulatorThread, IQFeedEmulator

    emu = IQFeedEmulator(symbols=tuple(SYMBOLS), now="2024-07-03 10:00:00", speed=30.0, ticks=20_000,
                         port_history=0, port_l1=0, seed=7)
    with EmulatorThread(emu) as running:
        c = Context.open(Settings(data_dir=tmp_path / "data", feed_port_history=running.port_history,
                                  feed_port_l1=running.port_l1))
        yield c
        c.close()


def test_alerts_fire_on_the_indicators_services_updates(ctx):
    tick = add_rule(ctx.catalog, AlertRule("tick", "ops", "indicator:TICK.NYSE", "above", -1e9))
    size = add_rule(ctx.catalog, AlertRule("aapl size", "ops", "indicator:AAPL:avg_trade_size.session", "above", 0.0))
    published, lock = {}, threading.Lock()

    def on(m):  # what the feed (StatisticUpdated) and the indicators service (IndicatorUpdate) published
        e = m.event
        with lock:
            if m.type == "IndicatorUpdate":
                for name, v in e.as_dict().items():
                    published.setdefault((e.symbol, name, e.source, e.at), []).append(v)
            elif m.type == "StatisticUpdated":  # the feed's statistic, and its row in BREADTH.FEED: same series
                published.setdefault(("", e.indicator, "feed", e.at), []).append(e.value)

    ctx.bus.listen("indicators", on)
    sup = Supervisor(ctx, poll_s=0.1, stop_timeout=60)
    sup.start()
    control = ServiceControl(ctx)
    try:
        control.start("alerts", by="test")
        control.start("indicators", by="test")
        wait_for(lambda: control.status("alerts").state == control.status("indicators").state == "running",
                 "the alerts and indicators services")
        control.start("live", by="test", params={"symbols": SYMBOLS + STATISTICS})

        def fired():
            rows = history(ctx.catalog)
            series = {(x.rule_id, x.series) for x in rows}
            want = {(tick.id, "TICK.NYSE@feed"), (tick.id, "TICK.NYSE@local"),
                    (size.id, "AAPL:avg_trade_size.session@derived")}
            return rows if want <= series else None

        rows = wait_for(fired, "alerts on feed, local and derived series")
    finally:
        for name in ("live", "indicators", "alerts"):
            control.stop(name, by="test")
        sup.shutdown(timeout=60)
    for x in rows:
        body, source = x.series.rsplit("@", 1)
        symbol, name = body.split(":") if ":" in body else ("", body)
        at = round(x.at.timestamp() * 1e9)
        with lock:
            match = [v for (s, n, src, t), vs in published.items()
                     if (s, n, src) == (symbol, name, source) and abs(t - at) < 1_000 for v in vs]
        assert x.value in match, (x, match)
    assert len({(x.rule_id, x.series) for x in rows}) == len(rows), "one firing per series (the values stay above)"
