"""Live subscriptions against the real emulator and collector: a symbol added to a running collection
has its day filled in from history up to the moment it joins, then streams, with no gap and no
duplicate; a removed symbol stops being stored and its day is finalised at once. The
``tickdeck feeds subscribe|unsubscribe`` verbs ask the supervised live service for new symbols."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import waiting
from tickdeck.core.config import Settings
from tickdeck.core.context import Context
from tickdeck.core.errors import DayNotFound
from tickdeck.core.events import DayWritten
from tickdeck.core.live import LiveSymbols, collect_live
from tickdeck.core.services import ServiceControl, ServiceError

DAY = "2024-07-02"


def wait_for(cond, what: str, timeout: float = 90.0):
    return waiting.wait_for(cond, what, timeout, poll=0.02)


def stored(ctx, sym: str):
    try:
        return ctx.store.read_day(sym, DAY, columns=["tick_id", "last", "last_sz"])
    except DayNotFound:
        return None


class Published:
    """Ticks published per (symbol, origin), and the days written (finalisations) in order."""

    def __init__(self, ctx):
        self.ticks: dict[tuple[str, str], int] = {}
        self.written: list[DayWritten] = []
        self.lock = threading.Lock()
        ctx.bus.listen("ticks.*", self._tick)
        ctx.bus.listen("collection", self._collection)

    def _tick(self, m) -> None:
        with self.lock:
            key = (m.event.symbol, m.event.origin)
            self.ticks[key] = self.ticks.get(key, 0) + len(m.event.tick_id)

    def _collection(self, m) -> None:
        if isinstance(m.event, DayWritten):
            self.written.append(m.event)

    def count(self, sym: str, origin: str) -> int:
        with self.lock:
            return self.ticks.get((sym, origin), 0)


def assert_source_prefix(ctx, emu, sym: str) -> int:
    """The stored day is the source's first N ticks exactly (no gap, no duplicate, same values)."""
    got = stored(ctx, sym).sort_values("tick_id", kind="stable")
    src = emu.day_raw(sym, DAY)
    n = len(got)
    assert n > 0
    for col in ("tick_id", "last", "last_sz"):
        assert np.array_equal(got[col].to_numpy(), src[col][:n]), (sym, col)
    return n


def test_added_symbol_is_backfilled_then_streams_and_removed_symbol_is_finalised(emulator_factory, tmp_path):
    emu = emulator_factory(symbols=("AAPL", "MSFT"), now=f"{DAY} 10:00:00", speed=60)
    ctx = Context.open(Settings(data_dir=tmp_path / "data", feed_port_history=emu.port_history,
                                feed_port_l1=emu.port_l1))
    seen = Published(ctx)
    live = LiveSymbols(["AAPL"])
    stop = threading.Event()
    out = {}

    def run():
        try:
            out["summary"] = collect_live(ctx, live, stop_event=stop, batch_seconds=0.5)
        except BaseException as e:  # noqa: BLE001 - reported by the test thread
            out["error"] = e

    th = threading.Thread(target=run, daemon=True)
    th.start()
    try:
        wait_for(lambda: seen.count("AAPL", "live") > 5 or "error" in out, "AAPL live ticks")
        assert stored(ctx, "MSFT") is None

        live.set(["AAPL", "MSFT"])  # MSFT joins at about 10:0x: its morning comes from history first
        wait_for(lambda: seen.count("MSFT", "history") > 0, "MSFT's morning from history")
        wait_for(lambda: seen.count("MSFT", "live") > 10, "MSFT live ticks")
        n = len(stored(ctx, "MSFT"))
        wait_for(lambda: len(stored(ctx, "MSFT")) > n + 5, "MSFT live ticks in its day")
        joined = assert_source_prefix(ctx, emu, "MSFT")
        assert joined > seen.count("MSFT", "history") > 100  # 09:30 to the join came from history

        live.set(["MSFT"])  # AAPL leaves: what was acknowledged lands in its day, which is finalised
        wait_for(lambda: any(w.symbol == "AAPL" for w in seen.written), "AAPL's day finalised")
        aapl = len(stored(ctx, "AAPL"))
        m = len(stored(ctx, "MSFT"))
        wait_for(lambda: len(stored(ctx, "MSFT")) > m + 5, "MSFT ticks stored after AAPL left")
        assert len(stored(ctx, "AAPL")) == aapl  # no AAPL tick stored after its removal
        assert "error" not in out, out.get("error")
    finally:
        stop.set()
        th.join(120)
    try:
        assert "error" not in out, out.get("error")
        assert ("AAPL", dt.date.fromisoformat(DAY)) in out["summary"].finalized
        written = [w for w in seen.written if w.symbol == "AAPL"]
        assert len(written) == 1 and written[0].ticks == aapl  # the finalised day is the whole collected day
        assert assert_source_prefix(ctx, emu, "AAPL") == aapl
        assert assert_source_prefix(ctx, emu, "MSFT") > joined
    finally:
        ctx.close()


def test_feeds_subscribe_asks_the_live_service_for_its_new_symbols(tmp_path):
    """The CLI (a subprocess) records the request the supervisor hands to the running service without a
    restart (that hand-over: tests/integration/services/test_live_subscribe.py)."""
    data = tmp_path / "data"
    ctx = Context.open(Settings(data_dir=data))
    control = ServiceControl(ctx)
    env = {**os.environ, "TICKDECK_DATA_DIR": str(data), "TICKDECK_PIPELINE": "off"}

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "tickdeck", "feeds", *args], env=env, capture_output=True,
                              text=True, timeout=120)

    try:
        control.start("live", by="test", params={"symbols": ["AAPL"]})
        r = cli("subscribe", "msft,ibm")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "live symbols requested: AAPL, MSFT, IBM" in r.stdout
        assert control.desired("live").params["symbols"] == ["AAPL", "MSFT", "IBM"]
        assert control.desired("live").requested_by == "cli"
        with pytest.raises(ServiceError, match="stop it instead"):  # no symbol would be left
            control.unsubscribe(["AAPL", "MSFT", "IBM"], by="test")
    finally:
        ctx.close()


def test_the_monitor_page_adds_and_removes_live_symbols(tmp_path):
    """The monitor's live-symbols box makes the same request as the CLI and the API (admin only)."""
    from tickdeck.core.users import User
    from tickdeck.pages.monitor import MonitorPage

    ctx = Context.open(Settings(data_dir=tmp_path / "data"))
    control = ServiceControl(ctx)
    try:
        control.start("live", by="test", params={"symbols": ["AAPL"]})
        page = MonitorPage(ctx=ctx, autostart=False, services=control,
                           user=User("ops", "admin"))
        page.live_symbols_input.value = "nvda, msft"
        page.change_live_symbols(add=True)
        assert control.desired("live").params["symbols"] == ["AAPL", "NVDA", "MSFT"]
        assert "the live service collects AAPL, NVDA, MSFT" in page.message
        page.live_symbols_input.value = "AAPL"
        page.change_live_symbols(add=False)
        assert control.desired("live").params["symbols"] == ["NVDA", "MSFT"]
        viewer = MonitorPage(ctx=ctx, autostart=False, services=control, user=User("v", "viewer"))
        viewer.live_symbols_input.value = "TSLA"
        viewer.change_live_symbols(add=True)
        assert "admin" in viewer.message and control.desired("live").params["symbols"] == ["NVDA", "MSFT"]
    finally:
        ctx.close()
