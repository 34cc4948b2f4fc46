"""Typed events and the bus: codec round trips, bad messages, bounded subscriber queues."""

from __future__ import annotations

import asyncio
import dataclasses
import math
import threading

import msgspec
import numpy as np
import pytest

from tickdeck.core import events as ev
from tickdeck.core.bus import LocalBus, Subscription
from tickdeck.core.events import EVENT_TYPES, Message, decode, encode


def _ticks(n: int = 5) -> ev.TicksAppended:
    rng = np.random.default_rng(3)
    cols = {k: (rng.integers(0, 100, n).astype(dt) if np.dtype(dt).kind in "iu" else rng.random(n).astype(dt))
            for k, dt in ev.TICK_ARRAYS.items() if k != "timestamp"}
    cols["bid"][1] = np.nan  # no quote: NaN survives the wire
    return ev.TicksAppended.from_columns("AAPL", "2024-07-03", "live", cols,
                                         np.arange(n, dtype=np.int64) + 1_720_000_000_000_000_000)


SAMPLES = {
    "FeedStatusChanged": lambda: ev.FeedStatusChanged("127.0.0.1", 9100, "level1", "connected", "closed", 10, 8, 1, 0,
                                                      2, 53.9, "", 1_720_000_000.5),
    "CollectionProgress": lambda: ev.CollectionProgress("collect", 2, 4, "AAPL 2024-07-02", 7, 50.0),
    "DayWritten": lambda: ev.DayWritten("AAPL", "2024-07-02", 61234, "iqfeed", "iqfeed-abc"),
    "PostWriteFailed": lambda: ev.PostWriteFailed("AAPL", "2024-07-02", "_after_write", "boom"),
    "DayCollectionFailed": lambda: ev.DayCollectionFailed("IBM", "2024-07-02", "unknown symbol", "InvalidFeedSymbol"),
    "LiveBatch": lambda: ev.LiveBatch(("AAPL", "MSFT"), 12, 3, "2024-07-03T10:00:01"),
    "DeadLettersReplayed": lambda: ev.DeadLettersReplayed(3, 1, ("AAPL/2024-07-02",)),
    "TicksAppended": _ticks,
    "BarClosed": lambda: ev.BarClosed("AAPL", "time:1m", 1, 2, 10.0, 11.0, 9.5, 10.5, 300.0, 3150.0, 10.5, 3, 200.0,
                                      100.0, math.nan, 1, 0),
    "BarsBuilt": lambda: ev.BarsBuilt("AAPL", "2024-07-02", "tick:500", "tick", 40),
    "JobChanged": lambda: ev.JobChanged(5, "collect", "running", 50.0, "collect: AAPL", None, 0, "", "progress", "w1"),
    "TriggerFired": lambda: ev.TriggerFired("open", "2024-07-03", "2024-07-03T09:30:00-04:00", 9),
    "ValidationDone": lambda: ev.ValidationDone("AAPL", "2024-07-02", "WARN", 2, "iqfeed-abc"),
    "QualityScored": lambda: ev.QualityScored("AAPL", "2024-07-02", 87.5),
    "HealthReported": lambda: ev.HealthReported("degraded", "2024-07-03T14:00:00+00:00",
                                                (ev.HealthCheck("feed", "degraded", "cannot connect", None, 1.5),
                                                 ev.HealthCheck("disk", "ok", "10 GiB free", 42.0, 0.1)),
                                                {"ticks": 123}),
    "ServiceChanged": lambda: ev.ServiceChanged("live", "running", 1, "", 1_720_000_000.0, "streaming AAPL"),
    "StatisticUpdated": lambda: ev.StatisticUpdated("JTNT.Z", "TICK.NYSE", "2024-07-03", 1_720_015_200_000_000_000,
                                                    math.nan),
    "IndicatorUpdate": lambda: ev.IndicatorUpdate("breadth", "local", "2024-07-03", 1_720_015_200_000_000_000,
                                                  ("TICK.NYSE", "TRIN.NYSE"), np.array([312.0, math.nan])),
    "AlertFired": lambda: ev.AlertFired(3, 17, "TICK extreme", "adam", "indicator:TICK.NYSE", "above", 1012.0,
                                        1000.0, "TICK.NYSE 1012 above 1000", 1_720_015_200.25),
    "AlertAcknowledged": lambda: ev.AlertAcknowledged(3, 17, "adam", 1_720_015_260.0),
}


def _same(a, b) -> bool:
    """Field-by-field equality with arrays compared by value and dtype, NaN equal to NaN."""
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            same = isinstance(y, np.ndarray) and x.dtype == y.dtype
            if not (same and np.array_equal(x, y, equal_nan=x.dtype.kind == "f")):
                return False
        elif isinstance(x, float) and math.isnan(x):
            if not (isinstance(y, float) and math.isnan(y)):
                return False
        elif x != y:
            return False
    return True


def test_every_registered_event_type_has_a_sample():
    """Issue 12: the round-trip test below covers every registered type."""
    assert set(SAMPLES) == set(EVENT_TYPES)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_codec_round_trip_keeps_type_topic_and_fields(name):
    """Issue 12: each event type survives the wire form (msgspec JSON) unchanged, arrays with dtypes."""
    event = SAMPLES[name]()
    msg = Message(event.topic, name, event, 1_720_000_000.25, 17)
    back = decode(encode(msg))
    assert (back.topic, back.type, back.timestamp, back.sequence) == (msg.topic, name, msg.timestamp, 17)
    assert type(back.event) is type(event) and _same(back.event, event)


def test_wire_form_is_the_documented_envelope():
    """Issue 12: {type, topic, data, timestamp, sequence}; arrays are lists, NaN is null."""
    event = _ticks(3)
    wire = msgspec.json.decode(encode(Message(event.topic, "TicksAppended", event, 1.5, 2)))
    assert set(wire) == {"type", "topic", "data", "timestamp", "sequence"}
    assert wire["topic"] == "ticks.AAPL" and wire["data"]["last"] == event.last.tolist()
    assert wire["data"]["bid"][1] is None


def test_topics_follow_symbol_and_canonical_spec():
    """Issue 12: ticks.<SYM>, bars.<SYM>.<spec> with the canonical spec string."""
    assert SAMPLES["TicksAppended"]().topic == "ticks.AAPL"
    assert SAMPLES["BarClosed"]().topic == "bars.AAPL.time:1m"
    assert SAMPLES["BarsBuilt"]().topic == "bars.AAPL.tick:500"
    assert {SAMPLES[n]().topic for n in ("FeedStatusChanged", "DayWritten", "LiveBatch")} == {"collection"}
    assert SAMPLES["JobChanged"]().topic == "jobs" and SAMPLES["ServiceChanged"]().topic == "services"


@pytest.mark.parametrize("raw, error", [
    (b"not json", ev.MalformedMessage),
    (b'{"type": "DayWritten"}', ev.MalformedMessage),
    (b'{"type": "Nope", "topic": "x", "data": {}, "timestamp": 1.0, "sequence": 1}', ev.UnknownEventType),
    (b'{"type": "DayWritten", "topic": "collection", "data": {"symbol": "A"}, "timestamp": 1.0, "sequence": 1}',
     ev.MalformedMessage),
    (b'{"type": "QualityScored", "topic": "health", "data": {"symbol": "A", "day": "2024-07-01", "score": 0.5e3},'
     b' "timestamp": 1.0, "sequence": 1}', ev.MalformedMessage),
    (b'{"type": "FeedStatusChanged", "topic": "collection", "data": {"host": "h", "port": 1, "kind": "level1",'
     b' "state": "unknown", "breaker": "closed", "lines": 0, "ticks": 0, "bad_lines": 0, "errors": 0,'
     b' "reconnects": 0, "latency_ms": null, "last_error": "", "updated_at": 1.0}, "timestamp": 1.0,'
     b' "sequence": 1}', ev.MalformedMessage),
])
def test_decode_names_what_is_wrong(raw, error):
    """Issue 12: unknown types and malformed messages raise one clear error each."""
    with pytest.raises(error):
        decode(raw)


def test_bad_wire_messages_are_counted_and_never_reach_a_listener(caplog):
    """Issue 12: unknown or malformed messages are counted and logged (rate-limited), never delivered."""
    bus = LocalBus()
    seen = []
    bus.listen("*", seen.append)
    good = encode(Message("collection", "DayWritten", SAMPLES["DayWritten"](), 1.0, 1))
    for _ in range(3):
        bus._received(b"{broken")
    bus._received(b'{"type": "Nope", "topic": "collection", "data": {}, "timestamp": 1.0, "sequence": 1}')
    bus._received(good)
    assert [m.type for m in seen] == ["DayWritten"]
    st = bus.stats
    assert (st.malformed, st.unknown, st.delivered) == (3, 1, 1)
    assert sum("bus message ignored" in r.getMessage() for r in caplog.records) == 2  # one per kind, not per message


def test_a_failing_listener_is_counted_and_others_still_receive():
    """Issue 12: a broken consumer never breaks the publisher or other consumers."""
    bus = LocalBus()
    seen = []
    bus.listen("collection", lambda m: 1 / 0)
    bus.listen("collection", seen.append)
    msg = bus.publish(SAMPLES["DayWritten"]())
    assert seen == [msg] and bus.stats.listener_errors == 1 and bus.stats.published == 1


def test_publish_refuses_anything_but_an_event():
    """Issue 12: the untyped ``publish(topic, data, type_)`` form is gone."""
    with pytest.raises(ev.EventError, match="takes an event"):
        LocalBus().publish({"symbol": "AAPL"})
    with pytest.raises(TypeError):
        LocalBus().publish("collection", {"symbol": "AAPL"}, type_="day_written")


def test_patterns_select_topics_and_sequence_increases():
    bus = LocalBus()
    aapl, allbars = [], []
    bus.listen("bars.AAPL.*", aapl.append)
    stop = bus.listen("bars.*", allbars.append)
    bus.publish(SAMPLES["BarClosed"]())
    bus.publish(dataclasses.replace(SAMPLES["BarsBuilt"](), symbol="MSFT"))
    stop()
    stop()  # idempotent
    bus.publish(SAMPLES["BarClosed"]())
    assert [m.topic for m in aapl] == ["bars.AAPL.time:1m", "bars.AAPL.time:1m"]
    assert [m.topic for m in allbars] == ["bars.AAPL.time:1m", "bars.MSFT.tick:500"]
    assert [m.sequence for m in aapl] == [1, 3]


def test_subscriber_queue_drops_oldest_and_counts_drops():
    """Issue 12: bounded subscriber queue, drop-oldest policy, drops counted per subscriber and in stats."""
    bus = LocalBus()

    async def run():
        sub = bus.subscribe("collection", maxsize=3)
        other = bus.subscribe("collection", maxsize=100)
        for i in range(10):
            bus.publish(ev.CollectionProgress("collect", i, 10))
        got = [(await sub.__anext__()).event.done for _ in range(3)]
        assert sub.pending() == 0 and other.pending() == 10
        sub.close()
        other.close()
        return sub, other, got

    sub, other, got = asyncio.run(run())
    assert got == [7, 8, 9]  # the newest survive
    assert sub.dropped == 7 and other.dropped == 0 and bus.stats.dropped == 7
    assert isinstance(sub, Subscription)


def test_subscription_receives_from_other_threads_and_ends_on_close():
    bus = LocalBus()

    async def run():
        got = []
        async with bus.subscribe("jobs") as sub:
            t = threading.Thread(target=lambda: [bus.publish(SAMPLES["JobChanged"]()) for _ in range(5)])
            t.start()
            async for m in sub:
                got.append(m.event.id)
                if len(got) == 5:
                    break
            t.join()
        with pytest.raises(StopAsyncIteration):
            await sub.__anext__()
        return got

    assert asyncio.run(run()) == [5] * 5
    assert bus.stats.listeners == 0


def test_events_validate_their_fields():
    with pytest.raises(ValueError, match="0–100"):
        ev.QualityScored("AAPL", "2024-07-01", 1000.0)
    with pytest.raises(ValueError, match="feed state"):
        ev.FeedStatusChanged("h", 1, "level1", "up", "closed", 0, 0, 0, 0, 0, None, "", 0.0)
    with pytest.raises(ValueError, match="job status"):
        ev.JobChanged(1, "collect", "done", 0.0, "")
    assert ev.event_type("JobChanged") is ev.JobChanged
    with pytest.raises(ev.UnknownEventType, match="known: "):
        ev.event_type("Nope")
