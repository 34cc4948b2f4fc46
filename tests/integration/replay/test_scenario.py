"""Issue 16 item 2: a stored day replayed through the live path on a simulated clock — the ticks on
``ticks.<SYM>`` are exactly the stored ones in order, the bars closed equal the bars service's,
pause stops delivery, seek continues from the time asked, and nothing is written to the store."""

from __future__ import annotations

import datetime as dt
import threading

import numpy as np
import pandas as pd
import pytest
from waiting import wait_for

from tickdeck.core.bars.service import day_bars
from tickdeck.core.events import BAR_FIELDS, SCENARIO_ORIGIN, TICK_ARRAYS
from tickdeck.core.live_bars import LIVE_BAR_SPECS
from tickdeck.core.scenario import GAP_SKIP_S, ReplayError, ReplayRequest, ScenarioPlayer, SimulatedClock
from tickdeck.core.schema import RAW_COLUMNS

SYMBOLS = ("AAPL", "MSFT")  # as stored by the ``stored`` fixture (conftest.py)
DAYS = (dt.date(2024, 7, 1), dt.date(2024, 7, 2))
DAY = DAYS[1]


class Running:
    """A player on its own thread; ``states`` are what it reported."""

    def __init__(self, ctx, request, **kw):
        self.states: list = []
        self.player = ScenarioPlayer(ctx, request, on_state=self.states.append, **kw)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.player.run, args=(self.stop,), daemon=True)
        self.thread.start()

    def wait_state(self, state: str, what: str) -> None:
        wait_for(lambda: self.player.state().state == state, what, timeout=120)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(60)
        assert not self.thread.is_alive()


def _store_snapshot(ctx) -> dict:
    """Every stored day's versions and every bar series' row count: what a write would change."""
    out = {}
    for sym in SYMBOLS:
        for d in ctx.store.list_days(sym):
            out[(sym, d)] = [v.version for v in ctx.store.day_versions(sym, d)]
    for lib in ctx.store.library_names():
        if lib.startswith("bars_") or lib == "indicators":
            out[lib] = {s: ctx.store.series_rows(lib, s) for s in ctx.store.list_series(lib)}
    return out


def _got(ticks, sym) -> dict:
    mine = [t for t in ticks if t.symbol == sym]
    return {k: np.concatenate([getattr(t, k) for t in mine]) for k in TICK_ARRAYS}


def _same_bars(published, built) -> None:
    assert [b.start for b in published] == built.index.asi8.tolist()
    for i, b in enumerate(published):
        row = built.iloc[i]
        assert b.end == row["end"].value
        for f in BAR_FIELDS[2:]:
            assert np.isclose(getattr(b, f), row[f], rtol=1e-12, equal_nan=True), (i, f)


def test_replay_of_a_stored_day_at_100x_delivers_the_stored_ticks_and_bars_and_writes_nothing(stored, recorder):
    before = _store_snapshot(stored)
    clock = SimulatedClock()
    run = Running(stored, ReplayRequest.make(SYMBOLS, date=DAY.isoformat(), speed=100), clock=clock)
    try:
        run.wait_state("finished", "the replay to reach the end of the day")
        wait_for(lambda: len(recorder.events("BarClosed")) >= sum(
            len(day_bars(stored, s, DAY, spec)) for s in SYMBOLS for spec in LIVE_BAR_SPECS),
            "the bars thread to publish every bar of the day")
    finally:
        run.close()

    ticks = recorder.events("TicksAppended")
    assert {t.day for t in ticks} == {DAY.isoformat()}
    stamps = np.concatenate([t.timestamp for t in ticks])
    for sym in SYMBOLS:
        got = _got(ticks, sym)
        stored_day = stored.store.read_day(sym, DAY, columns=RAW_COLUMNS)
        assert np.array_equal(got["timestamp"], stored_day.index.asi8), f"{sym}: every stored tick once, in order"
        for k in RAW_COLUMNS:
            assert np.array_equal(got[k], stored_day[k].to_numpy()), (sym, k)
    batches = recorder.events("LiveBatch")
    assert sum(b.appended for b in batches) == sum(len(stored.store.read_day(s, DAY, columns=["tick_id"]))
                                                    for s in SYMBOLS)
    # batches go out in data-time order: every batch's first tick is not before the previous batch's last
    firsts = [pd.Timestamp(b.server_time) for b in batches]
    assert firsts == sorted(firsts)

    # paced on the simulated clock: the day's data time (quiet spells over GAP_SKIP_S jumped) / 100
    all_ts = np.sort(np.concatenate([stored.store.read_day(s, DAY, columns=["tick_id"]).index.asi8
                                     for s in SYMBOLS]))
    gaps = np.diff(all_ts) / 1e9
    played = gaps[gaps <= GAP_SKIP_S].sum() / 100
    assert played * 0.9 <= clock.slept <= played * 1.1 + 1.0, (clock.slept, played)

    bars = recorder.events("BarClosed")
    assert bars and {b.origin for b in bars} == {SCENARIO_ORIGIN}, "a replay's bars say they come from a replay"
    for sym in SYMBOLS:
        for spec in LIVE_BAR_SPECS:
            _same_bars([b for b in bars if b.symbol == sym and b.spec == spec], day_bars(stored, sym, DAY, spec))
    assert [s.state for s in run.states][:1] == ["playing"] and run.states[-1].state == "stopped"
    assert run.states[-1].delivered == run.states[-1].total == len(stamps)
    assert _store_snapshot(stored) == before, "a replay writes nothing into the store"


def test_pause_stops_delivery_and_seek_continues_from_the_time(stored, recorder):
    clock = SimulatedClock()
    run = Running(stored, ReplayRequest.make(["AAPL"], date=DAY.isoformat(), speed=100), clock=clock)
    try:
        wait_for(lambda: run.player.delivered > 0, "the first ticks")
        run.player.pause()
        run.wait_state("paused", "the pause")
        held, slept, rounds = run.player.delivered, clock.slept, run.player.idle_rounds
        wait_for(lambda: run.player.idle_rounds >= rounds + 3, "three rounds of the paused player")
        assert run.player.delivered == held and clock.slept == slept, "paused: nothing delivered, no time played"
        n_paused = sum(len(t) for t in recorder.events("TicksAppended"))
        assert n_paused == held

        seek_to = pd.Timestamp(f"{DAY} 12:00", tz="America/New_York")
        run.player.seek("12:00")
        # still paused, the new position is reported at once (the player bar shows it before Play)
        wait_for(lambda: run.states[-1].state == "paused" and run.states[-1].position >= seek_to.value,
                 "the paused player reporting the position sought")
        assert run.player.delivered == held
        recorder.messages.clear()
        run.player.resume()
        run.wait_state("finished", "the replay after the seek")
        day = stored.store.read_day("AAPL", DAY, columns=RAW_COLUMNS)
        wait_for(lambda: len([b for b in recorder.events("BarClosed") if b.spec == "tick:500"])
                 >= (len(day.loc[seek_to:]) // 500), "the bars after the seek")
    finally:
        run.close()
    got = _got(recorder.events("TicksAppended"), "AAPL")
    tail = day.loc[seek_to:]
    assert np.array_equal(got["timestamp"], tail.index.asi8), "from the first tick at 12:00 to the day's end"
    assert np.array_equal(got["tick_id"], tail["tick_id"].to_numpy())
    for spec in LIVE_BAR_SPECS:  # bars continue from the ticks before 12:00 (built, not published)
        built = day_bars(stored, "AAPL", DAY, spec)
        mine = [b for b in recorder.events("BarClosed") if b.spec == spec]
        assert mine and mine[0].end >= seek_to.value  # the bar open at 12:00 closes after the seek
        _same_bars(mine, built.iloc[len(built) - len(mine):])


def test_a_bad_request_says_what_to_give(stored):
    with pytest.raises(ReplayError, match="out of range"):
        ReplayRequest.make(["AAPL"], date=DAY.isoformat(), speed=1000)
    with pytest.raises(ReplayError, match="a date"):
        ReplayRequest.make(["AAPL"], speed=10)
    player = ScenarioPlayer(stored, ReplayRequest.make(["AAPL"], date=DAY.isoformat(), speed="max"))
    with pytest.raises(ReplayError, match="outside the replay window"):
        player.seek(f"{DAYS[0]} 12:00")


def test_cli_replays_a_day_as_fast_as_possible_in_the_foreground(stored):
    import os
    import subprocess
    import sys

    env = {**os.environ, "TICKDECK_DATA_DIR": str(stored.settings.data_dir)}
    env.pop("TICKDECK_REDIS_URL", None)
    done = subprocess.run([sys.executable, "-m", "tickdeck", "replay", *SYMBOLS, "--date", DAY.isoformat(),
                           "--start", "09:30", "--end", "16:00", "--speed", "max"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    regular = sum(len(stored.store.read_day(s, DAY, columns=["tick_id"]).loc[f"{DAY} 09:30":f"{DAY} 15:59:59.999"])
                  for s in SYMBOLS)
    assert f"replayed {regular:,} ticks of AAPL, MSFT" in done.stdout, done.stdout[-1000:]


def test_player_bar_on_the_monitor_drives_the_supervised_replay_service(stored):
    """The monitor's player bar → ReplayControl → the supervisor's replay service: play at 1×, pause,
    resume as fast as possible to the end, stop; the replay's bars are counted in the player bar, not in
    the monitor's live bar rate; a viewer's bar is disabled."""
    from tickdeck.core.replay_service import ReplayService
    from tickdeck.core.services import ServiceControl, Supervisor
    from tickdeck.core.users import User
    from tickdeck.pages.monitor import MonitorPage

    sup = Supervisor(stored, {"replay": ReplayService})
    page = MonitorPage(ctx=stored, services=ServiceControl(stored, names=["replay"]), autostart=False)
    page.__panel__()
    page.start_updates()  # the bus listeners (no session: flushed by hand below)
    bar = page.player
    bar.symbols, bar.day, bar.start, bar.end, bar.speed = "aapl, msft", DAY.isoformat(), "09:30", "16:00", "1"

    def until(cond, what):
        return wait_for(lambda: (sup.tick(), cond())[1], what, timeout=120)

    try:
        bar.play()
        until(lambda: (bar.replay.state().get("delivered") or 0) > 0, "the replay to deliver ticks")
        bar.pause()
        until(lambda: bar.replay.state().get("state") == "paused", "the pause")
        bar.speed = "max"
        bar.set_speed()
        bar.play()  # same symbols and window: resumes
        st = until(lambda: (s := bar.replay.state()).get("state") == "finished" and s, "the end of the window")
        bar.refresh()
        assert 'data-testid="replay-state"' in bar.status_pane.object and "finished" in bar.status_pane.object
        assert st["delivered"] == st["total"] > 0 and st["symbols"] == ["AAPL", "MSFT"]
        assert sup.runs["replay"].restarts == 0, "the controls were applied without a restart"
        wait_for(lambda: (page.flush(), bar.bars_closed)[1] >= 10, "the replay's bars counted by the monitor")
        page.flush()
        assert page._bars_seen == 0, "a replay's bars are not live bars"
        bar.refresh()
        assert f"{bar.bars_closed:,}</span> bars closed" in bar.status_pane.object
        bar.stop()
        until(lambda: sup.status("replay").state == "stopped", "the stop")
    finally:
        page.stop_updates()
        sup.shutdown(timeout=30)
    viewer = MonitorPage(ctx=stored, services=ServiceControl(stored, names=["replay"]), autostart=False,
                         user=User("vera", "viewer"))
    assert viewer.player.play_button.disabled and viewer.player.seek_button.disabled


def test_a_range_of_days_replays_day_after_day_with_each_days_bars(stored, recorder):
    run = Running(stored, ReplayRequest.make(SYMBOLS, start=DAYS[0].isoformat(), end=DAYS[1].isoformat(),
                                             speed="max"))
    try:
        run.wait_state("finished", "the end of the range")
        wanted = sum(len(day_bars(stored, s, d, spec)) for s in SYMBOLS for d in DAYS for spec in LIVE_BAR_SPECS)
        wait_for(lambda: len(recorder.events("BarClosed")) >= wanted, "every bar of both days")
    finally:
        run.close()
    ticks, bars = recorder.events("TicksAppended"), recorder.events("BarClosed")
    assert [t.day for t in ticks] == sorted(t.day for t in ticks), "day after day"
    for sym in SYMBOLS:
        for d in DAYS:
            got = _got([t for t in ticks if t.day == d.isoformat()], sym)
            assert np.array_equal(got["tick_id"], stored.store.read_day(sym, d, columns=["tick_id"])["tick_id"])
            for spec in LIVE_BAR_SPECS:
                day_start = pd.Timestamp(d.isoformat(), tz="America/New_York").value
                mine = [b for b in bars if b.symbol == sym and b.spec == spec
                        and day_start <= b.start < day_start + 86_400 * 10**9]
                _same_bars(mine, day_bars(stored, sym, d, spec))


def _indicator_versions(ctx) -> set:
    from tickdeck.core.indicators import store as istore

    return {(k.symbol, k.version) for k in ctx.store.library(istore.LIB).list_versions()}


def test_indicator_updates_follow_a_replay_and_equal_the_batch_build_at_their_instants(stored, recorder,
                                                                                        monkeypatch):
    """The real indicators service on the bus during a replay as fast as possible: IndicatorUpdate
    events arrive (derived metrics per symbol, local breadth) at a pause and up to the day's last
    complete second, each equal to the batch build's row at its instant; after a seek back to 12:00
    they start again from there, and a replay stopped as soon as it ends still gets its last
    updates; the indicators library keeps its versions (the service only publishes for a replay)."""
    from numpy.testing import assert_allclose

    from tickdeck.core import scenario
    from tickdeck.core.indicators import store as istore
    from tickdeck.core.indicators.build import build_indicators
    from tickdeck.core.indicators.derived import metric_grid
    from tickdeck.core.indicators.service import IndicatorsService

    build_indicators(stored, DAY, DAY)  # what `tickdeck indicators build --start DAY --end DAY` runs
    batch = {name: istore._read(stored, name, DAY) for name in [istore.derived_name(s) for s in SYMBOLS]
             + [istore.breadth_name("local")]}
    versions, before = _indicator_versions(stored), _store_snapshot(stored)
    per_batch, pause_after = 1_000, 3
    monkeypatch.setattr(scenario, "MAX_BATCH_TICKS", per_batch)  # several batches: a pause between two of them
    grids = {s: np.asarray(metric_grid(stored.store.read_day(s, DAY, columns=["tick_id"]).index.asi8)) for s in SYMBOLS}

    def expected(mark: int) -> dict:
        """The last instant of each series the service has complete once a batch ends at ``mark``."""
        at = {s: int(g[g < mark][-1]) for s, g in grids.items()}
        return {**at, "breadth": max(at.values())}

    def updates(after: int = 0) -> dict:
        out: dict = {}
        for u in recorder.events("IndicatorUpdate")[after:]:
            out.setdefault(u.symbol or u.group, []).append(u)
        return out

    def reached(want: dict, after: int = 0) -> bool:
        u = updates(after)
        return all(u.get(k) and u[k][-1].at == at for k, at in want.items())

    svc = IndicatorsService(stored)
    gate, held, drain = threading.Event(), threading.Event(), svc._drain
    gate.set()

    def gated(*args, **kw):  # the service's own drain, held while the gate is shut (to queue a whole replay end)
        if not gate.is_set():
            held.set()
            gate.wait()
        return drain(*args, **kw)

    svc._drain = gated
    svc.start({})
    try:
        wait_for(lambda: svc.health().detail == "waiting for ticks", "the indicators service to listen", timeout=120)
        run = Running(stored, ReplayRequest.make(SYMBOLS, date=DAY.isoformat(), speed="max"), paused=True)
        batches = []

        def pause_at(m) -> None:  # on the player's thread, as it publishes: the pause lands between two batches
            if m.type == "LiveBatch":
                batches.append(m.event)
                if len(batches) == pause_after:
                    run.player.pause()

        unlisten = stored.bus.listen("collection", pause_at)
        try:
            run.player.resume()
            run.wait_state("paused", "the pause after three batches")
            tape = run.player.tape
            wait_for(lambda: reached(expected(int(tape.ts[tape.lo + pause_after * per_batch - 1]))),
                     "updates up to the pause", timeout=120)
            run.player.resume()
            last = expected(int(tape.ts[tape.hi - 1]))
            wait_for(lambda: reached(last), "updates up to the day's last complete second", timeout=120)
            n_first = len(recorder.events("IndicatorUpdate"))
            first = updates()  # nothing more comes until the seek: no batch is left
            run.wait_state("finished", "the end of the day")
            run.player.seek("12:00")
            wait_for(lambda: reached(last, n_first), "updates again after the seek back", timeout=120)
            again = updates(n_first)
            n_again = len(recorder.events("IndicatorUpdate"))
            gate.clear()
            wait_for(held.is_set, "the service to wait at the gate")
            delivered = run.player.delivered
            run.player.seek("15:00")
            wait_for(lambda: run.player.delivered > delivered and run.player.state().state == "finished",
                     "the end after a seek to 15:00", timeout=120)
            run.close()  # stopped: the service gets the last batches and the stop in one drain
            gate.set()
            wait_for(lambda: reached(last, n_again), "the last updates of a replay stopped at its end", timeout=120)
            third = updates(n_again)
        finally:
            gate.set()
            unlisten()
            run.close()
        wait_for(lambda: svc.scenario is None, "the replay's day dropped when the replay stopped")
    finally:
        assert svc.stop(60)
    assert all(t.origin == SCENARIO_ORIGIN for t in recorder.events("TicksAppended"))
    assert all(b.origin == SCENARIO_ORIGIN for b in batches)

    noon = pd.Timestamp(f"{DAY} 12:00", tz="America/New_York").value
    compared = 0
    three = pd.Timestamp(f"{DAY} 15:00", tz="America/New_York").value
    for got, lo, rounds in ((first, 0, 2), (again, noon, 1), (third, three, 1)):
        for key, series in [(s, istore.derived_name(s)) for s in SYMBOLS] + [("breadth", "BREADTH.LOCAL")]:
            ups = got[key]
            assert len(ups) >= rounds, (key, len(ups))  # at the pause, then at the end
            assert all(u.day == DAY.isoformat() and u.source == ("derived" if key != "breadth" else "local")
                       for u in ups)
            assert [u.at for u in ups] == sorted({u.at for u in ups}) and ups[0].at >= lo
            want = batch[series]
            for u in ups:
                row = want.loc[want.index.asi8 == u.at, list(u.names)].to_numpy()
                assert row.shape[0] == 1, (key, u.at)
                assert_allclose(u.values, row[0], rtol=1e-9, atol=1e-12, equal_nan=True, err_msg=f"{key} {u.at}")
                compared += int(np.isfinite(u.values).sum())
    assert compared > 200
    assert _indicator_versions(stored) == versions and _store_snapshot(stored) == before, \
        "a replay writes nothing, indicators included"
