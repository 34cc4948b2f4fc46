"""AlertEngine: one firing per crossing, cooldown, inactive rules, crosses need a previous value,
change_pct over a window, feed:stale on a simulated clock in market hours."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tickdeck.core.alert_rules import AlertRule
from tickdeck.core.alerts import AlertEngine
from tickdeck.core.events import FeedStatusChanged, IndicatorUpdate, QualityScored, TicksAppended, ValidationDone

T0 = pd.Timestamp("2024-07-02 10:00", tz="America/New_York").timestamp()  # a Tuesday, regular session


class SimClock:
    def __init__(self, t: float = T0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def rule(watch="indicator:TICK.NYSE", condition="above", threshold=1000.0, cooldown=0.0, window=None,
         active=True, id_=1) -> AlertRule:
    return AlertRule(f"r{id_}", "ana", watch, condition, threshold, cooldown, window, active, "", id_)


def tick(value: float, t: float, source: str = "feed", name: str = "TICK.NYSE") -> IndicatorUpdate:
    return IndicatorUpdate("breadth", source, "2024-07-02", int(t * 1e9), (name, "TRIN.NYSE"),
                           np.array([value, 1.0]))


def run(engine: AlertEngine, values, start: float = T0, step: float = 1.0, **kw) -> list:
    out = []
    for i, v in enumerate(values):
        out += engine.feed(tick(v, start + i * step, **kw))
    return out


def test_above_fires_once_per_crossing():
    e = AlertEngine([rule()], SimClock())
    fired = run(e, [900, 1100, 1200, 1050, 800, 1001, 1300])
    assert [f.value for f in fired] == [1100, 1001]
    assert fired[0].series == "TICK.NYSE@feed"
    assert fired[0].at == T0 + 1


def test_cooldown_suppresses_a_second_crossing_within_it():
    e = AlertEngine([rule(cooldown=60)], SimClock())
    fired = run(e, [1100, 900, 1100, 900, 1100], step=20)  # crossings at 0, 40, 80 s
    assert [f.at - T0 for f in fired] == [0, 80]


def test_inactive_rule_never_fires():
    e = AlertEngine([rule(active=False)], SimClock())
    assert run(e, [900, 1100, 900, 1200]) == []


def test_crosses_need_a_previous_value():
    e = AlertEngine([rule(condition="crosses_up"), rule(condition="crosses_down", threshold=-500, id_=2)],
                    SimClock())
    fired = run(e, [1100, 1200, 900, 1100, -600, -400, -700])
    # the first 1100 had no previous: no firing; 900 -> 1100 crosses up; 1100 -> -600, -400 -> -700 cross down
    assert [(f.rule.id, f.value) for f in fired] == [(1, 1100), (2, -600), (2, -700)]
    assert run(AlertEngine([rule(condition="crosses_down", threshold=-500)], SimClock()), [-600, -700]) == []


def test_feed_and_local_sources_are_separate_series():
    e = AlertEngine([rule()], SimClock())
    fired = e.feed(tick(1100, T0, "feed")) + e.feed(tick(1100, T0, "local")) + e.feed(tick(1200, T0 + 1, "feed"))
    assert sorted(f.series for f in fired) == ["TICK.NYSE@feed", "TICK.NYSE@local"]
    only_local = AlertEngine([rule(watch="indicator:TICK.NYSE@local")], SimClock())
    assert [f.series for f in run(only_local, [1100], source="feed") + run(only_local, [1100], source="local")] \
        == ["TICK.NYSE@local"]


def test_reconciled_values_never_fire():
    e = AlertEngine([rule(threshold=0)], SimClock())
    assert run(e, [5, 10], source="reconciled") == []


def test_change_pct_needs_a_full_window_and_fires_on_entering():
    e = AlertEngine([rule(watch="indicator:TRIN.NYSE", condition="change_pct", threshold=20, window=60)],
                    SimClock())
    vals = [1.0, 1.1, 1.3, 1.3, 1.3, 1.0, 1.5]  # every 30 s
    out = []
    for i, v in enumerate(vals):
        ev = IndicatorUpdate("breadth", "local", "2024-07-02", int((T0 + 30 * i) * 1e9), ("TRIN.NYSE",),
                             np.array([v]))
        out += e.feed(ev)
    # t=60: 1.3 vs 1.0 (t=0) = +30% -> fires; t=90,120: still on; t=150: 1.0 vs 1.3 off; t=180: 1.5 vs 1.3 +15% no
    assert [(round(f.value, 6), f.at - T0) for f in out] == [(30.0, 60)]


def test_derived_metric_of_one_symbol():
    e = AlertEngine([rule(watch="indicator:AAPL:vwap_dev_bps.1min", threshold=50)], SimClock())
    ev = IndicatorUpdate("derived", "derived", "2024-07-02", int(T0 * 1e9), ("vwap_dev_bps.1min", "ofi.1min"),
                         np.array([70.0, 1.0]), symbol="AAPL")
    other = IndicatorUpdate("derived", "derived", "2024-07-02", int(T0 * 1e9), ("vwap_dev_bps.1min",),
                            np.array([90.0]), symbol="MSFT")
    fired = e.feed(ev) + e.feed(other)
    assert [(f.series, f.value) for f in fired] == [("AAPL:vwap_dev_bps.1min@derived", 70.0)]


def test_nan_is_skipped():
    e = AlertEngine([rule()], SimClock())
    assert run(e, [np.nan, np.nan]) == []


def test_quality_and_validation_signals():
    clock = SimClock()
    e = AlertEngine([rule(watch="quality:*", condition="below", threshold=80, id_=1),
                     rule(watch="validation:AAPL", condition="above", threshold=0.5, id_=2)], clock)
    fired = e.feed(QualityScored("AAPL", "2024-07-01", 95.0)) + e.feed(QualityScored("MSFT", "2024-07-01", 60.0))
    fired += e.feed(ValidationDone("MSFT", "2024-07-01", "FAIL", 3)) + e.feed(ValidationDone("AAPL", "2024-07-01",
                                                                                              "PASS", 0))
    fired += e.feed(ValidationDone("AAPL", "2024-07-02", "FAIL", 2))
    assert [(f.rule.id, f.series, f.at) for f in fired] == [(1, "MSFT/2024-07-01", T0), (2, "AAPL/2024-07-02", T0)]


def feed_status(state="connected", breaker="closed", latency=5.0, t=T0) -> FeedStatusChanged:
    return FeedStatusChanged("127.0.0.1", 5009, "level1", state, breaker, 10, 10, 0, 0, 0, latency, "", t)


def test_feed_latency_and_breaker():
    e = AlertEngine([rule(watch="feed:latency", threshold=250, id_=1),
                     rule(watch="feed:breaker", threshold=0.5, id_=2)], SimClock())
    seq = [feed_status(latency=10), feed_status(latency=400, t=T0 + 1), feed_status(latency=None, t=T0 + 2),
           feed_status("breaker_open", "open", None, T0 + 3), feed_status("breaker_open", "open", None, T0 + 4),
           feed_status(latency=20, t=T0 + 5)]
    fired = [f for ev in seq for f in e.feed(ev)]
    assert [(f.rule.id, f.value, f.at) for f in fired] == [(1, 400.0, T0 + 1), (2, 1.0, T0 + 3)]
    assert fired[0].series == "127.0.0.1:5009/level1"


def ticks_at(t: float, origin: str = "live") -> TicksAppended:
    cols = {k: np.zeros(1) for k in ("tick_id", "date", "time", "last", "last_sz", "last_type", "mkt_ctr",
                                     "tot_vlm", "bid", "ask", "cond1", "cond2", "cond3", "cond4")}
    return TicksAppended.from_columns("AAPL", "2024-07-02", origin, cols, np.array([int(t * 1e9)]))


def test_a_replays_ticks_do_not_keep_feed_stale_quiet():
    clock = SimClock()
    e = AlertEngine([rule(watch="feed:stale", threshold=30)], clock)
    fired = []
    for s in range(0, 60):  # live ticks for 10 s, then only a scenario replay's ticks
        clock.t = T0 + s
        e.feed(ticks_at(clock.t, "live" if s < 10 else "scenario"))
        fired += e.check()
    assert [f.at - T0 for f in fired] == [40]  # 31 s after the last live tick at 9 s


def test_feed_stale_fires_once_after_30s_without_ticks_in_market_hours():
    clock = SimClock()
    e = AlertEngine([rule(watch="feed:stale", threshold=30)], clock)
    fired = []
    for s in range(0, 100):  # ticks every second for 20 s, then none for 80 s, then ticks again
        clock.t = T0 + s
        if s < 20 or s >= 90:
            e.feed(ticks_at(clock.t))
        fired += e.check()
    assert [f.at - T0 for f in fired] == [50]  # last tick at 19 s: 31 s later
    assert fired[0].value == 31


def test_feed_stale_is_quiet_outside_market_hours_and_on_holidays():
    night = pd.Timestamp("2024-07-02 21:00", tz="America/New_York").timestamp()
    holiday = pd.Timestamp("2024-07-04 11:00", tz="America/New_York").timestamp()
    for start in (night, holiday):
        clock = SimClock(start)
        e = AlertEngine([rule(watch="feed:stale", threshold=30)], clock)
        fired = []
        for s in range(0, 300, 5):
            clock.t = start + s
            fired += e.check()
        assert fired == []


def test_feed_stale_counts_from_the_open():
    opening = pd.Timestamp("2024-07-02 09:29:00", tz="America/New_York").timestamp()
    clock = SimClock(opening - 3600)
    e = AlertEngine([rule(watch="feed:stale", threshold=30)], clock)
    fired = []
    for s in range(0, 120):
        clock.t = opening + s
        fired += e.check()
    assert [f.at - opening for f in fired] == [91]  # 09:30:31


def test_set_rules_keeps_state_of_unchanged_rules_only():
    e = AlertEngine([rule(id_=1), rule(id_=2)], SimClock())
    run(e, [1100])  # both fired, both "on"
    e.set_rules([rule(id_=1), rule(id_=2, threshold=1050)])
    fired = run(e, [1200], start=T0 + 10)
    assert [f.rule.id for f in fired] == [2]  # rule 1 stays on; rule 2 changed and starts afresh


def test_dead_letters_per_minute():
    e = AlertEngine([rule(watch="deadletters", threshold=10)], SimClock())
    assert [f.value for f in e.dead_letters(3, T0) + e.dead_letters(12, T0 + 10) + e.dead_letters(15, T0 + 20)] \
        == [12.0]


def test_a_rule_switched_off_and_on_starts_afresh():
    e = AlertEngine([rule()], SimClock())
    assert len(run(e, [1100])) == 1
    e.set_rules([rule(active=False)])
    assert run(e, [1200], start=T0 + 1) == []
    e.set_rules([rule()])
    assert [f.value for f in run(e, [1300], start=T0 + 2)] == [1300]  # already above: fires when back on
