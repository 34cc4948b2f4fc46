"""Feed signals from their real producers: the Level 1 client's FeedStatusChanged (latency) and the dead
letters live collection writes for malformed lines of the emulator over TCP; the circuit breaker's
state from the feed client's own status record."""

from __future__ import annotations


import pytest

from tickdeck.core.alert_rules import AlertRule
from tickdeck.core.alert_service import AlertsService
from tickdeck.core.alert_store import add_rule, history
from tickdeck.core.live_service import LiveCollectionService
from waiting import wait_for


@pytest.fixture
def emulator():
    from tickdeck.core.sources.iqfeed_emulator import EmulatorFaults, EmulatorThread, IQFeedEmulator

    th = EmulatorThread(IQFeedEmulator(symbols=("AAPL", "MSFT"), now="2024-07-02 10:00:00", speed=5.0, ticks=60_000,
                                       port_history=0, port_l1=0, faults=EmulatorFaults(malformed_every=5)))
    yield th.__enter__()
    th.__exit__(None, None, None)


def test_dead_letter_rate_and_feed_latency_alerts_from_live_collection(emulator, tmp_path):
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context

    ctx = Context.open(Settings(data_dir=tmp_path / "data", feed_port_history=emulator.port_history,
                                feed_port_l1=emulator.port_l1))
    dead = add_rule(ctx.catalog, AlertRule("bad lines", "ops", "deadletters", "above", 3.0))
    slow = add_rule(ctx.catalog, AlertRule("feed latency", "ops", "feed:latency", "above", 0.0))
    statuses = []
    ctx.bus.listen("collection", lambda m: m.type == "FeedStatusChanged" and statuses.append(m.event))
    alerts, live = AlertsService(ctx), LiveCollectionService(ctx)
    try:
        alerts.start({"check_s": 0.05, "dead_letters_s": 0.2})
        wait_for(lambda: "rules" in alerts.health().detail, "the alerts service to listen")
        live.start({"symbols": ["AAPL", "MSFT"], "batch_seconds": 0.2})

        def both():
            h = history(ctx.catalog)
            return h if {x.rule_id for x in h} == {dead.id, slow.id} else None

        rows = wait_for(both, "both alerts")
    finally:
        assert live.stop(60)
        assert alerts.stop(10)
    by_rule = {x.rule_id: x for x in reversed(rows)}  # each rule's first firing
    d = by_rule[dead.id]
    assert d.value > 3 and d.series == "dead letters per minute"
    assert ctx.catalog.count_dead_letters(status=None) >= d.value  # counted from the rows live collection wrote
    lat = [x for x in rows if x.rule_id == slow.id]
    reported = {(f"{s.host}:{s.port}/{s.kind}", s.latency_ms) for s in statuses if s.latency_ms is not None}
    assert all((x.series, x.value) in reported and x.value > 0 for x in lat)
    assert len({x.series for x in lat}) == len(lat), "one firing per feed client while its latency stays above"
    ctx.close()


def test_breaker_alert_from_the_feed_clients_status_record():
    from tickdeck.core.alerts import AlertEngine
    from tickdeck.core.sources.iqfeed import CircuitBreaker, _Status

    t = [1_719_928_800.0]
    breaker = CircuitBreaker(failure_threshold=2, reset_timeout=30.0, clock=lambda: t[0])
    status = _Status("127.0.0.1", 5009, "level1", breaker)
    engine = AlertEngine([AlertRule("breaker", "ops", "feed:breaker", "above", 0.5, id=1)], lambda: t[0])
    fired = engine.feed(status.snapshot())
    for _ in range(3):
        breaker.record_failure()
        fired += engine.feed(status.snapshot())
    assert status.state() == "breaker_open"
    assert [(f.series, f.value) for f in fired] == [("127.0.0.1:5009/level1", 1.0)]
