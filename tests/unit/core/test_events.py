"""Typed events and the bus: codec round trips, bad messages, bounded subscriber queues."""

from __future__ import annotations

import asyncio
import dataclasses
import threading

import msgspec
import pytest

from event_samples import SAMPLES
from event_samples import same as _same
from event_samples import ticks as _ticks
from tickdeck.core import events as ev
from tickdeck.core.bus import LocalBus, Subscription
from tickdeck.core.events import EVENT_TYPES, Message, decode, encode


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
