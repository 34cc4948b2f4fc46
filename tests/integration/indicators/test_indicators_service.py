"""The ``indicators`` service against the real emulator over TCP with live collection of symbols and
DTN statistics: its stored series equal the batch build of the same ticks, the feed's statistics are
stored with the put/call ratios and reconciled against local breadth, it publishes IndicatorUpdate
events, and a restart continues the day without writing an instant twice."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from numpy.testing import assert_allclose

from tickdeck.core.indicators import store as istore
from tickdeck.core.indicators.build import build_indicators
from tickdeck.core.services import ServiceControl, Supervisor

from .conftest import DAY

SYMBOLS = ["AAPL", "MSFT", "SPY"]
STATISTICS = ["JTNT.Z", "JTQT.Z", "RINT.Z", "RIQT.Z", "VCOET.Z", "VPOET.Z"]  # TICK, TRIN, equity call/put volume


def wait_for(cond, what: str, timeout: float = 120.0, poll: float = 0.05):
    deadline = time.monotonic() + timeout
    while not (v := cond()):
        assert time.monotonic() < deadline, f"timed out after {timeout:g} s waiting for {what}"
        time.sleep(poll)  # polling a condition, not a wait for time to pass
    return v


class Updates:
    """IndicatorUpdate events from the bus, by (group, source, symbol)."""

    def __init__(self, bus):
        self.lock = threading.Lock()
        self.by: dict[tuple, list] = {}
        self.seq, self.seq_of = 0, {}
        self.stop = bus.listen("indicators", self._on)

    def _on(self, m) -> None:
        e = m.event
        with self.lock:
            if m.type == "IndicatorUpdate":
                self.by.setdefault((e.group, e.source, e.symbol), []).append(e)
            elif m.type == "StatisticUpdated":  # what the feed sent, with the order it was received in
                self.by.setdefault(("statistic", e.indicator), []).append((self.seq, e))
            self.seq += 1
            if m.type == "IndicatorUpdate":
                self.seq_of[id(e)] = self.seq

    def count(self, key) -> int:
        with self.lock:
            return len(self.by.get(key, ()))

    def last(self, key):
        with self.lock:
            return self.by[key][-1]


@pytest.fixture
def running(ictx):
    sup = Supervisor(ictx, poll_s=0.1, stop_timeout=60)
    sup.start()
    control = ServiceControl(ictx)
    yield control
    for name in ("indicators", "live"):
        if control.desired(name).state == "running":
            control.stop(name, by="test")
    sup.shutdown(timeout=60)


def _stored(ctx, name):
    return istore._read(ctx, name, DAY)


class Batches:
    """LiveBatch events seen (each one closes a Level 1 batch)."""

    def __init__(self, bus):
        self.n = 0
        self.stop = bus.listen("collection", self._on)

    def _on(self, m) -> None:
        if m.type == "LiveBatch":
            self.n += 1


def test_live_indicators_equal_the_batch_build_of_the_same_ticks_across_a_restart(ictx, running):
    """Issue 14: live and batch give equal values for the same ticks (derived metrics per symbol and
    local breadth) at every grid instant both computed; the service publishes IndicatorUpdate events;
    stopped and started again while collection goes on, it continues the day from the acknowledged
    ticks (journal and days) and never stores an instant twice."""
    updates, batches = Updates(ictx.bus), Batches(ictx.bus)
    running.start("indicators", by="test", params={})
    wait_for(lambda: running.status("indicators").state == "running", "the indicators service to run")
    running.start("live", by="test", params={"symbols": SYMBOLS + STATISTICS})
    for s in SYMBOLS:
        wait_for(lambda s=s: updates.count(("derived", "derived", s)) >= 3, f"derived updates of {s}")
    wait_for(lambda: updates.count(("breadth", "local", "")) >= 3, "local breadth updates")
    wait_for(lambda: updates.count(("options", "feed", "")) >= 3, "options flow from the feed")
    wait_for(lambda: updates.count(("breadth", "reconciled", "")) >= 3, "reconciled breadth")

    running.stop("indicators", by="test")
    wait_for(lambda: running.status("indicators").state == "stopped", "the indicators service to stop")
    before = int(_stored(ictx, "BREADTH.LOCAL").index.asi8[-1])
    seen = batches.n
    wait_for(lambda: batches.n >= seen + 20, "live batches while the indicators service is down")
    running.start("indicators", by="test", params={})
    wait_for(lambda: updates.last(("breadth", "local", "")).at > before + 5_000_000_000,
             "local breadth after the restart")
    wait_for(lambda: updates.last(("derived", "derived", "AAPL")).at > before + 5_000_000_000,
             "derived metrics after the restart")
    running.stop("indicators", by="test")
    wait_for(lambda: running.status("indicators").state == "stopped", "the indicators service to stop")
    running.stop("live", by="test")
    wait_for(lambda: running.status("live").state == "stopped", "live collection to stop")

    live = {name: _stored(ictx, name) for name in [istore.derived_name(s) for s in SYMBOLS] + ["BREADTH.LOCAL"]}
    last = updates.last(("breadth", "local", ""))
    assert last.day == DAY and int(live["BREADTH.LOCAL"].index.asi8[-1]) >= last.at
    assert_allclose(last.values, live["BREADTH.LOCAL"].loc[live["BREADTH.LOCAL"].index.asi8 == last.at]
                    [list(last.names)].to_numpy()[0], rtol=0, atol=0, equal_nan=True)

    for name, lv in live.items():  # one row per instant, in time order, across the restart
        assert lv.index.is_unique and lv.index.is_monotonic_increasing, name
        assert lv.index.asi8[-1] > before + 5_000_000_000, name

    for u in updates.by[("breadth", "feed", "")][-5:]:  # published with the feed's latest values
        for name, value in u.as_dict().items():
            sent = [np.nan if e.value is None else e.value for k, e in updates.by[("statistic", name)]
                    if e.at <= u.at and k < updates.seq_of[id(u)]]
            assert value == pytest.approx(sent[-1], nan_ok=True), name

    feed, diff, options = (_stored(ictx, n) for n in ("BREADTH.FEED", "BREADTH.DIFF", "OPTIONS.FEED"))
    assert {"TICK.NYSE", "TICK.NASDAQ", "TRIN.NYSE", "TRIN.NASDAQ"} <= set(feed.columns)
    assert feed.index.is_unique and feed.index.is_monotonic_increasing and feed.shape[0] >= 3
    assert {"CALL_VOL.EQUITY", "PUT_VOL.EQUITY", "PCR.EQUITY"} <= set(options.columns)
    assert_allclose(options["PCR.EQUITY"], options["PUT_VOL.EQUITY"] / options["CALL_VOL.EQUITY"], rtol=1e-15)
    local = live["BREADTH.LOCAL"]
    both = np.intersect1d(diff.index.asi8, local.index.asi8)
    assert both.size >= 3
    i = np.searchsorted(feed.index.asi8, both, side="right") - 1  # the feed's latest row at each local instant
    for name in ("TICK.NYSE", "TRIN.NASDAQ"):
        want = local.loc[np.isin(local.index.asi8, both), name].to_numpy() - np.where(
            i >= 0, feed[name].to_numpy()[np.maximum(i, 0)], np.nan)
        got = diff.loc[np.isin(diff.index.asi8, both), f"{name}.diff"].to_numpy()
        assert_allclose(got, want, rtol=0, atol=1e-12, equal_nan=True, err_msg=name)

    build_indicators(ictx, DAY, DAY)
    compared = 0
    for name, lv in live.items():
        bv = _stored(ictx, name)
        assert list(bv.columns) == list(lv.columns)
        both = np.intersect1d(lv.index.asi8, bv.index.asi8)
        assert both.size >= 3 and both.size >= 0.9 * lv.shape[0], (name, both.size, lv.shape)
        a = lv.loc[np.isin(lv.index.asi8, both)].to_numpy()
        b = bv.loc[np.isin(bv.index.asi8, both)].to_numpy()
        assert np.isfinite(a).any()
        assert_allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True, err_msg=name)
        compared += a.size
    assert compared > 1000
