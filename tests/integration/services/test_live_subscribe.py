"""Changing the running live service's symbols without a restart, against the real emulator:
an added symbol's day is filled in from history and then streams live with no hole; a removed
one stops being stored; a symbol the feed does not know is dropped while the others go on."""

from __future__ import annotations


import numpy as np

from tickdeck.core.services import ServiceControl, Supervisor
import waiting

DAY = "2024-07-02"


def wait_for(cond, what: str, timeout: float = 90.0):
    return waiting.wait_for(cond, what, timeout, poll=0.05)


class Watch:
    """What live collection published: the symbols of each LiveBatch, the live ticks per symbol."""

    def __init__(self, ctx):
        self.batches: list[tuple[str, ...]] = []
        self.live: dict[str, int] = {}
        self.after_removal: dict[str, int] = {}  # live ticks of a symbol published after a batch without it
        ctx.bus.listen("collection", self._batch)
        ctx.bus.listen("ticks.*", self._ticks)

    def _batch(self, m) -> None:
        if m.type == "LiveBatch":
            self.batches.append(tuple(m.event.symbols))

    def _ticks(self, m) -> None:
        ev = m.event
        if ev.origin != "live":
            return
        self.live[ev.symbol] = self.live.get(ev.symbol, 0) + len(ev.tick_id)
        if self.batches and ev.symbol not in self.batches[-1] and any(ev.symbol in b for b in self.batches):
            self.after_removal[ev.symbol] = self.after_removal.get(ev.symbol, 0) + len(ev.tick_id)


def stored_ids(ctx, sym: str) -> np.ndarray:
    from tickdeck.core.errors import DayNotFound

    try:
        return ctx.store.read_day(sym, DAY, columns=["tick_id"])["tick_id"].to_numpy()
    except DayNotFound:
        return np.empty(0, dtype=np.int64)


def test_live_service_adds_and_removes_symbols_without_restarting(emulator_factory, feed_ctx):
    """Issue 13: subscribe backfills the new symbol's day and streams it; unsubscribe stops storing
    it; the service keeps running (no restart) throughout."""
    emu = emulator_factory(symbols=("AAPL", "MSFT"), now=f"{DAY} 10:00:00", speed=60)
    ctx = feed_ctx(emu)
    watch = Watch(ctx)
    states: list[str] = []
    ctx.bus.listen("services", lambda m: states.append(m.event.state))
    sup = Supervisor(ctx, poll_s=0.1, stop_timeout=60)
    sup.start()
    control = ServiceControl(ctx)
    try:
        control.start("live", by="test", params={"symbols": ["AAPL"]})
        wait_for(lambda: watch.live.get("AAPL", 0) > 0, "AAPL live ticks")
        assert stored_ids(ctx, "MSFT").size == 0

        control.subscribe(["MSFT"], by="test")
        wait_for(lambda: watch.batches and "MSFT" in watch.batches[-1], "a batch with MSFT")
        wait_for(lambda: watch.live.get("MSFT", 0) > 5, "MSFT live ticks")
        at_live = stored_ids(ctx, "MSFT").size
        wait_for(lambda: stored_ids(ctx, "MSFT").size > at_live, "MSFT live ticks in its day")
        ids = stored_ids(ctx, "MSFT")
        # from the day's first tick to the newest live one, nothing missing, nothing twice
        assert np.array_equal(ids, emu.day_raw("MSFT", DAY)["tick_id"][:ids.size])
        assert control.status("live").params["symbols"] == ["AAPL", "MSFT"]

        control.unsubscribe(["AAPL"], by="test")
        wait_for(lambda: watch.batches and watch.batches[-1] == ("MSFT",), "a batch without AAPL")
        n_msft = stored_ids(ctx, "MSFT").size
        wait_for(lambda: stored_ids(ctx, "MSFT").size > n_msft, "a materialiser round after the removal")
        n_aapl = stored_ids(ctx, "AAPL").size
        n_msft = stored_ids(ctx, "MSFT").size
        wait_for(lambda: stored_ids(ctx, "MSFT").size > n_msft, "another materialiser round")
        assert stored_ids(ctx, "AAPL").size == n_aapl
        assert watch.after_removal.get("AAPL", 0) == 0
        assert control.status("live").state == "running"
    finally:
        control.stop("live", by="test")
        wait_for(lambda: control.status("live").state == "stopped", "the stop")
        sup.shutdown(timeout=60)
    assert "restarting" not in states and states.count("starting") == 1
    aapl = stored_ids(ctx, "AAPL")
    assert aapl.size == n_aapl and np.array_equal(aapl, emu.day_raw("AAPL", DAY)["tick_id"][:aapl.size])


def test_a_subscribed_symbol_the_feed_does_not_know_is_dropped_and_collection_goes_on(emulator_factory, feed_ctx):
    """Issue 13: the unknown symbol is listed as rejected with the reason; the service stays running."""
    emu = emulator_factory(symbols=("AAPL", "MSFT"), now=f"{DAY} 10:00:00", speed=60)
    ctx = feed_ctx(emu)
    watch = Watch(ctx)
    sup = Supervisor(ctx, poll_s=0.1, stop_timeout=60)
    sup.start()
    control = ServiceControl(ctx)
    try:
        control.start("live", by="test", params={"symbols": ["AAPL"]})
        wait_for(lambda: watch.live.get("AAPL", 0) > 0, "AAPL live ticks")
        control.subscribe(["ZZZQ"], by="test")
        st = wait_for(lambda: (s := control.status("live")).params.get("rejected") and s, "the rejection")
        assert "ZZZQ" in st.params["rejected"] and st.params["symbols"] == ["AAPL"]
        seen = watch.live["AAPL"]
        wait_for(lambda: watch.live["AAPL"] > seen, "AAPL ticks after the rejection")
        assert control.status("live").state == "running"
    finally:
        control.stop("live", by="test")
        sup.shutdown(timeout=60)
