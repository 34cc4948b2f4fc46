"""The feed clients' last status outlives them: a fresh process (a new context on the same
database) and a fresh monitor page show what the real history client against the emulator
last published."""

from __future__ import annotations


from tickdeck.core import feed_status
from tickdeck.core.config import Settings
from tickdeck.core.context import Context
from tickdeck.core.sources.iqfeed import HistoryClient
import waiting


def wait_for(cond, what: str, timeout: float = 30.0):
    return waiting.wait_for(cond, what, timeout, poll=0.02)


def test_a_fresh_context_and_monitor_page_show_the_last_feed_status(emulator_factory, tmp_path):
    """Issue 13: last-value cache of FeedStatusChanged, fed by the bus and kept in SQL."""
    emu = emulator_factory(symbols=("AAPL",), faults={"malformed_every": 50, "malformed_kind": "nonutf8"})
    settings = Settings(data_dir=tmp_path / "data", feed_port_history=emu.port_history)
    producer = Context.open(settings)
    try:
        cache = feed_status.install(producer)
        seen = []
        producer.bus.listen("collection", lambda m: seen.append(m.event))
        hist = HistoryClient("127.0.0.1", emu.port_history, bus=producer.bus)
        try:
            parsed = hist.fetch_day("AAPL", "2024-07-02")
        finally:
            hist.close()
        last = seen[-1]
        assert (last.kind, last.state) == ("history", "disconnected") and last.ticks == parsed.raw["tick_id"].size
        assert last.bad_lines > 0  # the malformed lines are counted in the status too

        # another process: same database, nothing heard on its bus (its own store: one LMDB opener per process)
        fresh = Context.open(Settings(data_dir=tmp_path / "other", sql_url=settings.sql_url))
        try:
            # a state change is written at once (by the cache's writer thread), not at the next PERSIST_EVERY_S:
            # the "connected" before it may be read first, the last one follows
            wait_for(lambda: feed_status.latest(fresh).get("history") == last, "the last status stored")

            from tickdeck.pages.monitor import MonitorPage

            page = MonitorPage(ctx=fresh, autostart=False)
            assert page.feeds["history"] == last
            assert "disconnected" in page.feed_pane.object
        finally:
            fresh.close()
        cache.close()
    finally:
        producer.close()
