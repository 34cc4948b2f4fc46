"""Live collection against a hostile Level 1 feed: corrupt lines and refused ticks become dead
letters (with their symbol and reason) and the stream goes on; an earlier run's journal holding
a tick no day can take does not block the next start; late ticks can be replayed.

The Level 1 port is the real emulator over TCP with a fault switch. The history port (used only
for the startup backfill) is a second emulator with the same seed and clock but no faults, so
each test exercises the Level 1 path alone (corrupt history lines are the history parser's).
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd
import pytest

from tickdeck.core import naming
from tickdeck.core.deadletters import fix, replay
from tickdeck.core.ingest import ingest_day
from tickdeck.core.live import LATE_REASON, SOURCE_L1, collect_live
from tickdeck.core.schema import RAW_COLUMNS
from tickdeck.core.validation.after_write import install as install_ingest_rules

DAY = "2024-07-03"
NOW = f"{DAY} 10:00:00"
SPEED = 60  # ~14 trade lines per second per symbol at this hour of the emulated day
WAIT_S = 90  # a condition not met by then fails the test


def _feeds(emulator_factory, faults=None, **kw):
    """(history emulator without faults, Level 1 emulator with ``faults``), same data and clock."""
    return (emulator_factory(now=NOW, speed=SPEED, **kw),
            emulator_factory(now=NOW, speed=SPEED, faults=faults, **kw))


def _live_until(ctx, hist, l1, done, symbols=("AAPL", "MSFT")):
    """Run ``collect_live`` until ``done(progress)`` holds after a batch (or WAIT_S passed)."""
    stop = threading.Event()
    deadline = time.monotonic() + WAIT_S
    met = []

    def progress(p):
        if done(p):
            met.append(True)
            stop.set()
        elif time.monotonic() > deadline:
            stop.set()

    s = collect_live(ctx, list(symbols), batch_seconds=0.5, stop_event=stop, port_history=hist.port_history,
                     port_l1=l1.port_l1, finalize=False, progress=progress)
    assert met, (f"condition not met within {WAIT_S}s: {s.acknowledged} acknowledged, {s.late} late, "
                 f"{s.rejected} rejected, {s.bad_lines} bad lines, dead letters {len(_dead(ctx))}")
    return s


def _dead(ctx, source: str | None = SOURCE_L1):
    return [r for r in ctx.catalog.dead_letters(status=None, limit=10_000) if source in (None, r.source)]


def _tick_id(line: str) -> int:
    return int(line.split(",")[11])


def _assert_day_is_the_source_without(ctx, emu, sym, skipped) -> np.ndarray:
    """The stored day is the source's ticks up to its last stored one, in order, once each, with
    the source's values; only ticks in ``skipped`` may be missing. Returns the stored ids."""
    stored = ctx.store.read_day(sym, DAY, columns=RAW_COLUMNS)
    src = emu.day_raw(sym, DAY)
    ids = stored["tick_id"].to_numpy()
    n = int(np.searchsorted(src["tick_id"], ids.max(), "right"))
    have = np.isin(src["tick_id"][:n], ids)
    assert set(src["tick_id"][:n][~have]) <= set(skipped), "only dead-lettered ticks may be missing"
    assert np.array_equal(ids, src["tick_id"][:n][have]), "stored ticks must be the source's, in order, once"
    for k in RAW_COLUMNS:
        assert np.array_equal(stored[k].to_numpy(), src[k][:n][have], equal_nan=True), k
    assert ctx.catalog.tick_days(sym)[0].ticks == ids.size
    return ids


CORRUPTIONS = {  # emulator fault kind -> what the dead letter's reason starts with, and the raw text's mark
    "nonutf8": ("last: not UTF-8 text (byte 0xff", "\\xff"),
    "int64-overflow": ("last_sz: '99999999999999999999' is not a whole number of 1 to 18 digits",
                       ",99999999999999999999,"),
    "bad-time": ("time: '99:99:99.999999' is not a time of day", ",99:99:99.999999,"),
    "bad-date": ("date: '02/30/2024' is not a real calendar date", ",02/30/2024,"),
    "zero-price": ("price is not finite and positive", ","),  # the ingest rule's reason, a replayable Q line
}


@pytest.mark.parametrize("kind", list(CORRUPTIONS))
def test_a_corrupt_level1_line_becomes_a_dead_letter_with_its_symbol_and_the_stream_goes_on(
        ctx, emulator_factory, kind):
    """Issue 11 items 2, 3, 4 and 21: a non-UTF-8 byte, a size above int64, an impossible time or
    date, or a zero price on a Level 1 line is a dead letter with its reason and symbol; every
    other tick is stored in its day, in order, once, and nothing is dead-lettered as late."""
    install_ingest_rules(ctx)  # as `tickdeck collect --live` runs: the ingest rules apply before the journal
    hist, l1 = _feeds(emulator_factory, {"malformed_every": 12, "malformed_kind": kind})
    s = _live_until(ctx, hist, l1, lambda p: len(_dead(ctx)) >= 4 and p.done >= 60)

    dead = _dead(ctx)
    reason, mark = CORRUPTIONS[kind]
    assert len(dead) >= 4 and s.late == 0 and _dead(ctx, "iqfeed") == []
    for r in dead:
        assert r.reason.startswith(reason), r.reason
        assert r.symbol in ("AAPL", "MSFT") and r.raw.startswith(f"Q,{r.symbol},") and mark in r.raw, r.raw
        assert kind != "zero-price" or float(r.raw.split(",")[2]) == 0.0, r.raw
    assert ctx.store.list_series(naming.JOURNAL_LIBRARY) == []
    missing, after = 0, 0
    for sym in ("AAPL", "MSFT"):
        skipped = {_tick_id(r.raw) for r in dead if r.symbol == sym}
        ids = _assert_day_is_the_source_without(ctx, hist, sym, skipped)
        missing += len(skipped - set(ids))  # a line of the first batch may also have come from the backfill
        after += int((ids > max(skipped, default=-1)).sum())
    assert missing > 0 and after > 0, "ticks after the corrupt lines must be stored: the stream goes on"


def test_a_journal_holding_ticks_no_day_can_take_is_recovered_and_collection_starts(ctx, emulator_factory):
    """Issue 11 item 3: a journal segment left by an older version with a zero-price tick and a
    tick at 99:99:99 no longer blocks `collect --live`: the next start stores the good rows,
    dead-letters the bad ones (replayable) and collects; a fixed dead letter replays into its day."""
    hist, l1 = _feeds(emulator_factory)
    src = hist.day_raw("AAPL", DAY)
    rows = {c: src[c][:30].copy() for c in RAW_COLUMNS}
    rows["last"][5] = 0.0
    rows["time"][9] = ((99 * 60 + 99) * 60 + 99) * 1_000_000 + 999_999
    frame = pd.DataFrame({"symbol": np.full(30, "AAPL", dtype=object), **rows})
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a pid that no longer runs: the segment is an earlier run's
    ctx.store.append_series(naming.JOURNAL_LIBRARY, naming.journal_symbol(DAY, f"{gone.pid}-1"), frame)

    s = _live_until(ctx, hist, l1, lambda p: p.done >= 20)

    assert s.recovered == 28 and s.rejected == 2 and s.acknowledged >= 20
    assert ctx.store.list_series(naming.JOURNAL_LIBRARY) == []
    dead = sorted(_dead(ctx), key=lambda r: _tick_id(r.raw))
    assert [(r.symbol, _tick_id(r.raw)) for r in dead] == [("AAPL", src["tick_id"][5]), ("AAPL", src["tick_id"][9])]
    assert dead[0].reason == "price must be finite and > 0" and ",0.00," in dead[0].raw
    assert dead[1].reason.startswith("time is outside the day") and ",100:40:39.999999," in dead[1].raw
    ids = _assert_day_is_the_source_without(ctx, hist, "AAPL", {src["tick_id"][5], src["tick_id"][9]})
    assert not np.isin([src["tick_id"][5], src["tick_id"][9]], ids).any()
    _assert_day_is_the_source_without(ctx, hist, "MSFT", set())

    for r, (col, value) in zip(dead, (("last", f"{src['last'][5]:.2f}"), ("time", None))):
        cells = r.raw.split(",")
        if col == "last":
            cells[2] = value
        else:
            cells[4] = pd.Timestamp(int(src["time"][9]) * 1000, unit="ns").strftime("%H:%M:%S.%f")
        fix(ctx, r.id, ",".join(cells))
    out = replay(ctx)
    assert not out.failed and sorted(out.replayed) == sorted(r.id for r in dead)
    _assert_day_is_the_source_without(ctx, hist, "AAPL", set())


def test_late_ticks_are_replayable_dead_letters_merged_into_their_day_once(ctx, emulator_factory):
    """Issue 11 item 4: a tick older than its day's last stored trade is a dead letter stored as a
    `Q` line with its symbol; replaying it merges it into the day in time order, exactly once."""
    hist, l1 = _feeds(emulator_factory, symbols=("AAPL",))
    src = hist.day_raw("AAPL", DAY)
    k = int(np.searchsorted(src["time"], 9.75 * 3600e6))  # the day as stored holds the ticks up to 09:45 ...
    day = {c: src[c][:k].copy() for c in RAW_COLUMNS}
    day["time"][-1] = int(10.5 * 3600e6)  # ... the last one stamped 10:30: every tick streamed after it is late
    ingest_day(ctx, "AAPL", DAY, day, source="iqfeed")

    s = _live_until(ctx, hist, l1, lambda p: len(_dead(ctx, None)) >= 5, symbols=("AAPL",))

    dead = _dead(ctx, None)
    assert s.late == len(dead) >= 5 and s.acknowledged == 0
    assert all(r.symbol == "AAPL" and r.reason == LATE_REASON and r.raw.startswith("Q,AAPL,") for r in dead)
    late_ids = sorted(_tick_id(r.raw) for r in dead)
    assert ctx.store.read_day("AAPL", DAY).shape[0] == k  # nothing late was appended out of order

    out = replay(ctx)
    assert not out.failed and sorted(out.replayed) == sorted(r.id for r in dead)
    stored = ctx.store.read_day("AAPL", DAY, columns=RAW_COLUMNS)
    ids = stored["tick_id"].to_numpy()
    assert np.array_equal(np.sort(ids), np.concatenate([src["tick_id"][:k], late_ids]))  # each once
    assert stored.index.is_monotonic_increasing
    at = np.searchsorted(src["tick_id"], late_ids)
    merged = stored.set_index("tick_id").loc[late_ids]
    for c in ("time", "last", "last_sz", "tot_vlm", "bid", "ask", "mkt_ctr", "last_type", "cond1", "cond2"):
        assert np.array_equal(merged[c].to_numpy(), src[c][at], equal_nan=True), c
    assert replay(ctx).replayed == () and replay(ctx, [r.id for r in dead]).failed == ()
    assert ctx.store.read_day("AAPL", DAY).shape[0] == k + len(late_ids)  # replaying again adds nothing
