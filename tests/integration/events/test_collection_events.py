"""Issue 12: collection events from the real producers (history collector over TCP, ingest
pipeline, dead-letter replay) to a subscriber, over the in-process bus and over real Redis."""

from __future__ import annotations

import pytest

from tickdeck.core.collect import CollectionFailed, collect_days
from tickdeck.core.deadletters import fix, replay
from tickdeck.core.events import FEED_STATES

DAYS = ["2024-07-01", "2024-07-02"]


def test_history_collection_publishes_feed_status_progress_and_days_written(ectx, recorder):
    """Issue 12: FeedStatusChanged (typed state and latency), CollectionProgress and DayWritten
    from ``collect_days`` against the emulator; the feed reports connected, then disconnected."""
    results = collect_days(ectx, ["AAPL", "MSFT"], DAYS)
    recorder.settle()

    written = recorder.events("DayWritten")
    assert sorted((e.symbol, e.day, e.ticks, e.source) for e in written) == sorted(
        (r.info.symbol, r.info.day.isoformat(), r.info.ticks, "iqfeed") for r in results)
    assert {e.ingest_id for e in written} == {ectx.store.day_info(e.symbol, e.day).ingest_id for e in written}

    progress = recorder.events("CollectionProgress")
    assert [(p.done, p.total) for p in progress] == [(i, 4) for i in range(1, 5)]
    assert progress[1].percent == 50.0 and progress[-1].message.startswith("MSFT 2024-07-02: ")

    feed = recorder.events("FeedStatusChanged")
    assert {f.kind for f in feed} == {"history"} and {f.state for f in feed} <= set(FEED_STATES)
    connected = [f for f in feed if f.state == "connected"]
    assert len(connected) == 4 and connected[-1].ticks == sum(r.info.ticks for r in results)
    assert all(f.latency_ms is not None and f.latency_ms > 0 for f in connected)
    assert feed[-1].state == "disconnected" and feed[-1].port == ectx.settings.feed_port_history


def test_dropped_reply_is_reported_reconnecting_then_connected(ectx, recorder, emulator_factory_reply_drop):
    """Issue 12: a cut reply makes the history client report ``reconnecting`` (with its error),
    then ``connected`` after the retry."""
    collect_days(ectx, ["AAPL"], DAYS[:1], port_history=emulator_factory_reply_drop.port_history)
    recorder.settle()
    states = [f.state for f in recorder.events("FeedStatusChanged")]
    assert states == ["reconnecting", "connected", "disconnected"]
    first = recorder.events("FeedStatusChanged")[0]
    assert first.errors == 1 and "connection closed" in first.last_error


def test_unknown_symbol_publishes_day_collection_failed(ectx, recorder):
    """Issue 12: DayCollectionFailed (was the untyped ``collection_failed``) names symbol, day and error."""
    with pytest.raises(CollectionFailed):
        collect_days(ectx, ["ZZZZ", "AAPL"], DAYS[:1])
    recorder.settle()
    [failed] = recorder.events("DayCollectionFailed")
    assert (failed.symbol, failed.day, failed.error) == ("ZZZZ", DAYS[0], "InvalidFeedSymbol")
    assert "does not know symbol" in failed.reason
    assert [e.symbol for e in recorder.events("DayWritten")] == ["AAPL"]


def test_failing_after_write_hook_publishes_post_write_failed(ectx, recorder):
    """Issue 12: PostWriteFailed (was ``hook_failed``) from the ingest pipeline's hook runner."""

    def broken_hook(ctx, symbol, day):
        raise RuntimeError("disk on fire")

    ectx.extras["after_write"] = [broken_hook]
    collect_days(ectx, ["AAPL"], DAYS[:1])
    recorder.settle()
    [failed] = recorder.events("PostWriteFailed")
    assert (failed.symbol, failed.day, failed.hook, failed.error) == ("AAPL", DAYS[0], "broken_hook", "disk on fire")
    assert ectx.store.has_day("AAPL", DAYS[0])


def test_dead_letter_replay_publishes_dead_letters_replayed(ectx, recorder, emulator_factory_malformed):
    """Issue 12: DeadLettersReplayed from ``tickdeck.core.deadletters.replay`` after fixing bad lines."""
    collect_days(ectx, ["AAPL"], DAYS[:1], port_history=emulator_factory_malformed.port_history)
    rows = ectx.catalog.dead_letters(status="new")
    assert rows
    for r in rows:
        cells = r.raw.split(",")
        cells[3] = cells[3].rstrip("x")
        fix(ectx, r.id, ",".join(cells))
    out = replay(ectx)
    recorder.settle()
    [ev] = recorder.events("DeadLettersReplayed")
    assert (ev.replayed, ev.failed, ev.days) == (len(out.replayed), 0, (f"AAPL/{DAYS[0]}",))
    assert ev.replayed == len(rows)
