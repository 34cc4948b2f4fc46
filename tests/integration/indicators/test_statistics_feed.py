"""DTN statistics end to end: the emulator serves every catalog statistic per exchange, live collection
routes statistic symbols to StatisticUpdated (never to tick days), and local breadth computed from the
universe's ticks equals the emulator's statistics at the same emulated instants."""

from __future__ import annotations

import math
import threading

import numpy as np
import pandas as pd
import pytest

from tickdeck.core import naming
from tickdeck.core.enrich import utc_ns_from_date_time
from tickdeck.core.indicators import breadth as br
from tickdeck.core.indicators.catalog import EXCHANGES, STATISTIC_SYMBOLS, exchange_map
from tickdeck.core.live import collect_live
from tickdeck.core.sources.iqfeed_emulator import EmulatorThread, IQFeedEmulator
from tickdeck.core.sources.synthetic import KNOWN_PRICES

DAY = "2024-07-03"
SMALL_DAY_TICKS = 3000
FEED_KINDS = ("TICK", "TRIN", "ADV", "DEC", "UNCH", "ADV_VOL", "DEC_VOL", "NEW_HIGHS", "NEW_LOWS", "ISSUES",
              "VOLUME")


@pytest.fixture
def emulator():
    running = []

    def make(**kw):
        emu = IQFeedEmulator(port_history=0, port_l1=0, ticks=SMALL_DAY_TICKS, **kw)
        th = EmulatorThread(emu)
        running.append(th)
        return th.__enter__()

    yield make
    for th in running:
        th.__exit__(None, None, None)


def _et(ns: int) -> pd.Timestamp:
    return pd.Timestamp(ns, tz="UTC").tz_convert("America/New_York").tz_localize(None)


def _as_sent(v):
    """A statistic as the Level 1 line carries it (4 decimals; none = NaN)."""
    return math.nan if v is None else float(f"{v:.4f}")


def test_live_collection_routes_statistics_to_events_and_stores_no_statistic_day(ctx, emulator):
    from tickdeck.core.live import LiveSymbols

    emu = emulator(symbols=None, now=f"{DAY} 10:00:00", speed=10)  # any ticker trades; statistics: the catalog's
    watched = ("JTNT.Z", "JTQT.Z", "RIQT.Z", "IINA.Z", "VPOET.Z", "ZZZZ.Z")
    live = LiveSymbols(["AAPL", *watched])
    events, enough, stop = [], threading.Event(), threading.Event()

    def on_indicator(msg):
        if msg.type == "StatisticUpdated":
            events.append(msg.event)
            if {e.dtn_symbol for e in events} >= set(watched[:-1]) and len(events) >= 30:
                enough.set()

    unlisten = ctx.bus.listen("indicators", on_indicator)
    result = {}
    worker = threading.Thread(target=lambda: result.update(summary=collect_live(
        ctx, live, batch_seconds=0.2, stop_event=stop, port_history=emu.port_history,
        port_l1=emu.port_l1)))
    worker.start()
    try:
        assert enough.wait(60), f"statistic updates received: {len(events)}"
    finally:
        stop.set()
        worker.join(60)
        unlisten()
    summary = result["summary"]
    assert summary.acknowledged > 0 and summary.appended.get("AAPL", 0) > 0  # ticks still flow
    for e in events:
        assert e.indicator == STATISTIC_SYMBOLS[e.dtn_symbol] and e.day == DAY
        expected = _as_sent(emu.statistics(_et(e.at))[e.dtn_symbol])
        assert (math.isnan(e.value) and math.isnan(expected)) or e.value == pytest.approx(expected, abs=1e-9), e
    assert any(e.value != 0 for e in events if e.dtn_symbol == "VPOET.Z")
    ticks = ctx.store.list_series(naming.TICKS_LIBRARY)
    assert any(n.startswith("AAPL/") for n in ticks)
    assert not any(n.split("/")[0].endswith(".Z") for n in ticks), ticks
    assert not any(s.endswith(".Z") for s in summary.appended)
    assert ctx.catalog.tick_days("JTNT.Z") == []
    assert "ZZZZ.Z" in live.rejected  # a statistic the feed does not serve is dropped, the run goes on
    assert "ZZZZ.Z" not in {e.dtn_symbol for e in events}


def _universe(emu: IQFeedEmulator, symbols) -> dict:
    out = {}
    for sym in symbols:
        raw = emu.day_raw(sym, DAY)
        out[sym] = {"timestamp": utc_ns_from_date_time(raw["date"], raw["time"]), "last": raw["last"],
                    "last_sz": raw["last_sz"], "bid": raw["bid"], "ask": raw["ask"]}
    return out


def test_local_breadth_equals_the_emulator_statistics_at_the_same_instants():
    symbols = tuple(KNOWN_PRICES) + tuple(f"X{k:02d}" for k in range(10))
    emu = IQFeedEmulator(symbols=symbols, ticks=SMALL_DAY_TICKS)
    ex = exchange_map(symbols)
    assert set(ex.values()) == set(EXCHANGES)
    uni = _universe(emu, symbols)
    t_all = np.sort(np.concatenate([c["timestamp"] for c in uni.values()]))
    # instants through the day, some exactly at a tick's time (a tick at the instant counts)
    grid = np.unique(np.concatenate([np.linspace(t_all[0] - 1_000, t_all[-1] + 1_000, 40).astype(np.int64),
                                     t_all[:: t_all.size // 25]]))
    local = br.breadth_series(uni, grid, ex)
    compared = 0
    for i, g in enumerate(grid):
        feed = br.feed_values(emu.statistics(_et(int(g))))
        for kind in FEED_KINDS:
            for exch in EXCHANGES:
                name = f"{kind}.{exch}"
                assert local[name][i] == pytest.approx(feed[name], nan_ok=True, rel=1e-12), (name, _et(int(g)))
                compared += 1
        diffs = br.reconcile({k: v[i] for k, v in local.items()}, feed)
        assert all(d == 0 or math.isnan(d) for d in diffs.values())
    assert compared == grid.size * len(FEED_KINDS) * len(EXCHANGES)
    assert np.nanmax(np.abs(local["TICK.NASDAQ"])) > 0 and np.nanmax(local["DEC.NYSE"]) > 0
    assert np.isfinite(local["TRIN.NASDAQ"]).any()


def test_live_breadth_state_fed_the_universe_matches_the_emulator_at_an_instant():
    symbols = ("AAPL", "MSFT", "SPY", "IWM", "X01", "X02")
    emu = IQFeedEmulator(symbols=symbols, ticks=SMALL_DAY_TICKS)
    uni = _universe(emu, symbols)
    st = br.BreadthState(exchange_map(symbols))
    at = pd.Timestamp(f"{DAY} 11:17:03.25")
    at_ns = int(at.tz_localize("America/New_York").value)
    for sym, c in uni.items():  # in two batches each: before 10:00 and up to the instant
        cut = int(np.searchsorted(c["timestamp"], int(pd.Timestamp(f"{DAY} 10:00").tz_localize(
            "America/New_York").value), "right"))
        end = int(np.searchsorted(c["timestamp"], at_ns, "right"))
        st.update(sym, {k: v[:cut] for k, v in c.items()})
        st.update(sym, {k: v[cut:end] for k, v in c.items()})
    snap, feed = st.snapshot(at_ns), br.feed_values(emu.statistics(at))
    for kind in FEED_KINDS:
        for exch in EXCHANGES:
            assert snap[f"{kind}.{exch}"] == pytest.approx(feed[f"{kind}.{exch}"], nan_ok=True, rel=1e-12)
    assert feed["PUT_VOL.TOTAL"] == feed["PUT_VOL.EQUITY"] + feed["PUT_VOL.INDEX"] > 0
    assert feed["CALL_VOL.INDEX"] > 0  # SPY and IWM stand in for index options


def test_a_watch_list_of_statistics_only_starts_its_day_once_and_takes_symbols_added_later(ctx, emulator):
    from tickdeck.core.live import LiveSymbols

    emu = emulator(symbols=("AAPL", "MSFT"), now=f"{DAY} 10:00:00", speed=10)
    live = LiveSymbols(["JTQT.Z"])
    stats, ticks, stop = threading.Event(), threading.Event(), threading.Event()
    seen, batches = [], []

    def on_message(msg):
        if msg.type in ("StatisticUpdated", "LiveBatch"):
            (seen if msg.type == "StatisticUpdated" else batches).append(msg.event)
            if len(seen) >= 5 and len(batches) >= 5:  # several batches of statistics only (a loaded
                stats.set()  # machine may bring five statistics in fewer batches)
        elif msg.type == "TicksAppended" and msg.event.origin == "live":
            ticks.set()

    unlisten = [ctx.bus.listen(t, on_message) for t in ("indicators", "collection", "ticks.AAPL")]
    result = {}
    worker = threading.Thread(target=lambda: result.update(summary=collect_live(
        ctx, live, batch_seconds=0.2, stop_event=stop, port_history=emu.port_history, port_l1=emu.port_l1)))
    worker.start()
    try:
        assert stats.wait(60)
        live.set(["JTQT.Z", "AAPL"])
        assert ticks.wait(60), "no live AAPL ticks after adding it"
    finally:
        stop.set()
        worker.join(60)
        for u in unlisten:
            u()
    summary = result["summary"]
    assert summary.batches >= 5
    assert summary.backfills == 2  # the day's start, then AAPL's day filled in when it was added
    assert summary.appended.get("AAPL", 0) > 0 and ctx.store.has_day("AAPL", DAY)
    assert not any(n.split("/")[0].endswith(".Z") for n in ctx.store.list_series(naming.TICKS_LIBRARY))
