"""Issue 13: the tick replay of a resuming stream (``tickdeck.core.streams.read_ticks_since``) on real
ArcticDB — stored day plus journal rows not materialised yet, each tick once, in tick-id order,
cut at the cursor, later days whole, too old a cursor refused."""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd
import pytest

from builders import make_trades
from tickdeck.core import naming
from tickdeck.core.enrich import utc_ns_from_date_time
from tickdeck.core.events import TICK_ARRAYS
from tickdeck.core.ingest import ingest_day
from tickdeck.core.schema import RAW_COLUMNS
from tickdeck.core.streams import InvalidCursor, TickCursor, read_ticks_since

DAY, NEXT = "2024-07-02", "2024-07-03"


def _slice(raw: dict, a: int, b: int) -> dict:
    return {k: v[a:b] for k, v in raw.items()}


def _journal(ctx, day: str, parts: list[tuple[str, dict]]) -> str:
    """A journal segment holding ``parts`` (symbol, raw rows) as live collection writes it."""
    frames = [pd.DataFrame({"symbol": np.full(raw["tick_id"].size, sym, dtype=object),
                            **{c: raw[c] for c in RAW_COLUMNS}}) for sym, raw in parts]
    df = pd.concat(frames, ignore_index=True)
    df["received"] = time.time()
    name = naming.journal_symbol(day, f"{os.getpid()}-{time.time_ns()}")
    ctx.store.append_series(naming.JOURNAL_LIBRARY, name, df)
    return name


def _joined(events) -> dict:
    return {k: np.concatenate([getattr(e, k) for e in events]) for k in TICK_ARRAYS}


@pytest.fixture
def day_and_journal(ctx):
    """AAPL's day stored up to tick 600 of 1,000; the journal holds 550..1,000 (550..600 already
    materialised, the rest not yet) and MSFT rows; the next day is only in the journal."""
    raw = make_trades(1_000, seed=3, day=20240702)
    ingest_day(ctx, "AAPL", DAY, _slice(raw, 0, 600), source="iqfeed")
    _journal(ctx, DAY, [("AAPL", _slice(raw, 550, 800)), ("MSFT", make_trades(50, seed=4, day=20240702))])
    _journal(ctx, DAY, [("AAPL", _slice(raw, 800, 1_000))])
    nxt = make_trades(30, seed=5, day=20240703)
    _journal(ctx, NEXT, [("AAPL", nxt)])
    return raw, nxt


def test_replay_reads_the_stored_day_and_the_journal_each_tick_once_in_order(ctx, day_and_journal):
    """Issue 13: since (day, 100) gives ticks 101..1,000 of the day (stored and journaled, the
    overlap once) then the next day whole, with the stored columns and UTC timestamps."""
    raw, nxt = day_and_journal
    events, last = read_ticks_since(ctx.store, "AAPL", TickCursor(DAY, int(raw["tick_id"][99])), chunk=256)
    assert all(len(e) <= 256 for e in events) and {e.origin for e in events} == {"replay"}
    days = [e.day for e in events]
    assert days == sorted(days) and set(days) == {DAY, NEXT}
    today = _joined([e for e in events if e.day == DAY])
    for k in RAW_COLUMNS:
        assert np.array_equal(today[k], raw[k][100:], equal_nan=True), k
    assert np.array_equal(today["timestamp"], utc_ns_from_date_time(raw["date"][100:], raw["time"][100:]))
    assert np.array_equal(_joined([e for e in events if e.day == NEXT])["tick_id"], nxt["tick_id"])
    assert last == TickCursor(NEXT, int(nxt["tick_id"][-1]))


def test_replay_without_a_day_means_the_latest_day_and_past_the_end_is_empty(ctx, day_and_journal):
    """Issue 13: since=<tick id> alone is on the symbol's latest day; a cursor at the end gives nothing."""
    raw, nxt = day_and_journal
    events, last = read_ticks_since(ctx.store, "AAPL", TickCursor(None, int(nxt["tick_id"][9])))
    assert np.array_equal(_joined(events)["tick_id"], nxt["tick_id"][10:])
    events, last = read_ticks_since(ctx.store, "AAPL", TickCursor(NEXT, int(nxt["tick_id"][-1])))
    assert events == [] and last == TickCursor(NEXT, int(nxt["tick_id"][-1]))


def test_a_cursor_more_days_back_than_the_replay_limit_is_refused_naming_the_ticks_endpoint(ctx, day_and_journal):
    """Issue 13: a since reaching more stored days back than the limit is refused with a pointer
    to the HTTP ticks endpoint, instead of streaming days of ticks."""
    with pytest.raises(InvalidCursor, match=r"2 days back.*at most 1.*/api/v1/data/AAPL/ticks"):
        read_ticks_since(ctx.store, "AAPL", TickCursor(DAY, 5), max_days=1)
