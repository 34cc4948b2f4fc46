"""History protocol over real sockets: conversation, filters, errors, faults, day collection."""

from __future__ import annotations

import datetime as dt
import socket

import numpy as np
import pytest

from tickdeck.core.collect import CollectionFailed, collect_days
from tickdeck.core.schema import RAW_COLUMNS
from tickdeck.core.sources.iqfeed import FeedTimeout, HistoryClient, InvalidFeedSymbol, NoData

DAY = "2024-07-01"


def _stored_raw(ctx, sym, day):
    df = ctx.store.read_day(sym, day, columns=RAW_COLUMNS)
    return {c: df[c].to_numpy() for c in RAW_COLUMNS}


def _assert_same(a, b):
    for k in RAW_COLUMNS:
        assert np.array_equal(np.asarray(a[k]), np.asarray(b[k]), equal_nan=True), k


def _talk(port, lines):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        f = s.makefile("rb")
        out = []
        for line in lines:
            s.sendall(line.encode() + b"\r\n")
            out.append(f.readline().decode().strip())
        return out


def test_protocol_conversation_and_error_replies(emulator):
    replies = _talk(emulator.port_history, [
        "S,SET PROTOCOL,6.2",
        "HTT,ZZZZ,20240701 093000,20240701 100000,,,,1,R1,",
        "HTT,AAPL,20240706 093000,20240706 100000,,,,1,R2,",  # a Saturday
        "HTT,AAPL,20240704 093000,20240704 100000,,,,1,R3,",  # Independence Day
        "HTT,AAPL,20240710 093000,20240710 100000,,,,1,R4,",  # after the emulated now
        "HIX,AAPL,1,1,R5,",
    ])
    assert replies == ["S,CURRENT PROTOCOL,6.2", "R1,E,Invalid symbol.,", "R2,E,!NO_DATA!,", "R3,E,!NO_DATA!,",
                       "R4,E,!NO_DATA!,", "E,!SYNTAX_ERROR!,"]


def test_htt_range_filters_direction_and_max(emulator_factory):
    """Issue 12 item 7: the emulated "now" is frozen (speed 0), so ``last_ticks`` across it is the
    same however long the requests take on a loaded machine."""
    emulator = emulator_factory(speed=0)
    src = emulator.day_raw("AAPL", DAY)
    t = src["time"]
    with HistoryClient("127.0.0.1", emulator.port_history) as c:
        p = c.ticks_between("AAPL", dt.datetime(2024, 7, 1, 9, 30), dt.datetime(2024, 7, 1, 9, 45, 0))
        sel = (t >= 9.5 * 3600e6) & (t < (9 * 3600 + 45 * 60 + 1) * 1e6)
        assert np.array_equal(p.raw["tick_id"], src["tick_id"][sel])
        p = c.ticks_between("AAPL", dt.datetime(2024, 7, 1), dt.datetime(2024, 7, 1, 23, 59, 59),
                            begin_filter="100000", end_filter="100959")
        sel = (t >= 10 * 3600e6) & (t < (10 * 3600 + 10 * 60) * 1e6)
        assert sel.sum() > 10 and np.array_equal(p.raw["tick_id"], src["tick_id"][sel])
        p = c.ticks_between("AAPL", dt.datetime(2024, 7, 1), dt.datetime(2024, 7, 1, 23, 59, 59), max_points=25,
                            newest_first=True, per_send=7)
        assert np.array_equal(p.raw["tick_id"], src["tick_id"][-25:][::-1])
        p = c.last_ticks("AAPL", 40)  # spans the emulated "now" (2024-07-03 10:00)
        today = emulator.day_raw("AAPL", "2024-07-03")
        upto = today["tick_id"][today["time"] <= 10 * 3600e6]
        assert np.array_equal(p.raw["tick_id"], upto[-40:])
        p = c.ticks_days("AAPL", 2, begin_filter="093000", end_filter="093100")
        assert set(np.unique(p.raw["date"])) == {20240702, 20240703}
        assert (p.raw["time"] >= 9.5 * 3600e6).all() and (p.raw["time"] < (9 * 3600 + 31 * 60 + 1) * 1e6).all()


def test_collected_day_equals_emulator_source_ticks_exactly(ctx, emulator):
    res = collect_days(ctx, ["AAPL"], [DAY], port_history=emulator.port_history)
    assert res[0].info.ticks == emulator.day_raw("AAPL", DAY)["tick_id"].size
    _assert_same(emulator.day_raw("AAPL", DAY), _stored_raw(ctx, "AAPL", DAY))
    assert ctx.catalog.tick_days("AAPL")[0].ticks == res[0].info.ticks
    assert ctx.store.day_info("AAPL", DAY).source == "iqfeed"


def test_collecting_twice_is_idempotent(ctx, emulator):
    events = []
    ctx.bus.listen("collection", events.append)
    collect_days(ctx, ["AAPL", "MSFT"], [DAY, "2024-07-02"], port_history=emulator.port_history)
    first = {s: _stored_raw(ctx, s, DAY) for s in ("AAPL", "MSFT")}
    collect_days(ctx, ["AAPL", "MSFT"], [DAY, "2024-07-02"], port_history=emulator.port_history)
    for s in ("AAPL", "MSFT"):
        _assert_same(first[s], _stored_raw(ctx, s, DAY))
    assert len(ctx.catalog.tick_days()) == 4
    progress = [e.event for e in events if e.type == "CollectionProgress"]
    assert progress[-1].done == progress[-1].total == 4
    assert any(e.type == "FeedStatusChanged" and e.event.ticks > 0 for e in events)


def test_unknown_symbol_fails_clearly_and_other_symbols_are_stored(ctx, emulator):
    with pytest.raises(CollectionFailed, match="ZZZZ") as err:
        collect_days(ctx, ["ZZZZ", "AAPL"], [DAY], port_history=emulator.port_history)
    assert "does not know symbol" in str(err.value)
    assert [r.info.symbol for r in err.value.results] == ["AAPL"]
    assert ctx.store.list_days("ZZZZ") == []


def test_holiday_in_range_is_skipped_without_error(ctx, emulator):
    res = collect_days(ctx, ["AAPL"], ["2024-07-04"], port_history=emulator.port_history)
    assert res == [] and ctx.store.list_days("AAPL") == []
    with HistoryClient("127.0.0.1", emulator.port_history) as c, pytest.raises(NoData):
        c.fetch_day("AAPL", "2024-07-04")
    with HistoryClient("127.0.0.1", emulator.port_history) as c, pytest.raises(InvalidFeedSymbol):
        c.fetch_day("QQQQ", DAY)


def test_connection_dropped_mid_reply_is_retried_and_nothing_is_lost(ctx, emulator_factory):
    emu = emulator_factory(faults={"drop_after_lines": 1000, "drop_times": 2})
    client = HistoryClient("127.0.0.1", emu.port_history, backoff=0.01, bus=ctx.bus)
    collect_days(ctx, ["AAPL"], [DAY], client=client)
    _assert_same(emu.day_raw("AAPL", DAY), _stored_raw(ctx, "AAPL", DAY))
    st = client.status()
    assert st.reconnects == 2 and st.errors == 2 and st.breaker == "closed"


def test_dropped_reply_on_every_attempt_writes_nothing(ctx, emulator_factory):
    emu = emulator_factory(faults={"drop_after_lines": 500, "drop_times": 0})
    client = HistoryClient("127.0.0.1", emu.port_history, backoff=0.01, max_attempts=2)
    with pytest.raises(CollectionFailed, match="connection closed"):
        collect_days(ctx, ["AAPL"], [DAY], client=client)
    assert ctx.store.list_days("AAPL") == [] and ctx.catalog.tick_days() == []


def test_stalled_server_times_out_and_previous_day_version_stays(ctx, emulator_factory):
    emu = emulator_factory(faults={"stall_after_lines": 200, "stall_seconds": 30, "stall_times": 0})
    ok = emulator_factory()
    collect_days(ctx, ["AAPL"], [DAY], port_history=ok.port_history)
    before = _stored_raw(ctx, "AAPL", DAY)
    client = HistoryClient("127.0.0.1", emu.port_history, timeout=0.3, max_attempts=2, backoff=0.01)
    with pytest.raises(CollectionFailed) as err:
        collect_days(ctx, ["AAPL"], [DAY], client=client)
    assert isinstance(client.status().last_error, str) and "stalled" in str(err.value)
    _assert_same(before, _stored_raw(ctx, "AAPL", DAY))
    with pytest.raises(FeedTimeout):
        HistoryClient("127.0.0.1", emu.port_history, timeout=0.3, max_attempts=1).fetch_day("AAPL", DAY)


def test_duplicate_and_out_of_order_ticks_are_dropped_and_sorted(ctx, emulator_factory):
    emu = emulator_factory(faults={"duplicate_every": 50, "out_of_order_every": 37})
    res = collect_days(ctx, ["AAPL"], [DAY], port_history=emu.port_history)
    assert res[0].duplicates_dropped > 0 and res[0].out_of_order_fixed > 0
    _assert_same(emu.day_raw("AAPL", DAY), _stored_raw(ctx, "AAPL", DAY))


def test_breaker_opens_after_repeated_failures_and_refuses_requests(emulator_factory):
    from tickdeck.core.sources.iqfeed import CircuitBreaker, CircuitOpen

    emu = emulator_factory(faults={"drop_after_lines": 100, "drop_times": 0})
    br = CircuitBreaker(failure_threshold=2, reset_timeout=60)
    c = HistoryClient("127.0.0.1", emu.port_history, backoff=0.01, max_attempts=5, breaker=br)
    with pytest.raises(CircuitOpen):
        c.fetch_day("AAPL", DAY)
    assert br.state == "open" and c.status().errors == 2
