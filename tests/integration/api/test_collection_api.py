"""Issue 13: collection and feeds over a real server against the IQFeed emulator (at 60x, so a
minute of ticks takes a second): start live collection, its status and the feed's, add a symbol
while it runs (its day filled in from history, then live ticks), remove one (no more ticks stored
for it), stop; the feed's last status survives; every change is audited with the key's name."""

from __future__ import annotations

import numpy as np
import pytest
from api_ops import assert_audited_once, wait_for

DAY = "2024-07-03"  # the emulator's day: not in the demo data (2024-07-01, 2024-07-02)


@pytest.fixture(scope="module")
def fast_feed():
    from tickdeck.core.sources.iqfeed_emulator import EmulatorThread, IQFeedEmulator

    emu = IQFeedEmulator(symbols=("AAPL", "MSFT", "NVDA"), now=f"{DAY} 10:00:00", speed=60, ticks=5_000,
                         port_history=0, port_l1=0, seed=13)
    th = EmulatorThread(emu)
    yield th.__enter__()
    th.__exit__(None, None, None)


@pytest.fixture(scope="module")
def server(start_api_server, fast_feed):
    return start_api_server(env={"TICKDECK_FEED_PORT_HISTORY": str(fast_feed.port_history),
                                 "TICKDECK_FEED_PORT_L1": str(fast_feed.port_l1)})


def stored(server, symbol: str):
    """The symbol's tier-1 row of DAY in the server's catalog (what the materialiser wrote), or None."""
    from tickdeck.core.catalog import Catalog
    from tickdeck.core.config import Settings

    catalog = Catalog(Settings(data_dir=server.data_dir).sql_url)
    try:
        rows = catalog.tick_days(symbol, DAY, DAY)
    finally:
        catalog.engine.dispose()
    return rows[0] if rows else None


def ticks(server, symbol: str) -> int:
    row = stored(server, symbol)
    return row.ticks if row is not None else 0


def assert_day_has_no_hole(server, emu, symbol: str) -> int:
    """The stored day is the emulator's day from its first tick up to the newest stored one, whole."""
    from tickdeck.core.enrich import utc_ns_from_date_time

    row = stored(server, symbol)
    raw = emu.day_raw(symbol, DAY)
    ns = np.sort(utc_ns_from_date_time(raw["date"], raw["time"]))
    assert row.first_ns == ns[0], "the day does not start at its first tick: history did not fill it in"
    assert row.ticks == int(np.searchsorted(ns, row.last_ns, side="right")), "ticks missing or stored twice"
    return row.ticks


def status(c) -> dict:
    r = c.get("/api/v1/collection/status")
    assert r.status_code == 200, r.text
    return r.json()


def level1(body: dict) -> dict | None:
    return next((f for f in body["feeds"] if f["kind"] == "level1"), None)


def test_live_collection_is_started_changed_and_stopped_over_the_api(server, fast_feed):
    """Issue 13: the whole live path through /collection and /feeds with real producers."""
    emu = fast_feed
    with server.client("admin") as c:
        r = c.delete("/api/v1/feeds/unsubscribe", params={"symbols": "AAPL"})
        assert r.status_code == 409 and "not running" in r.json()["detail"]  # nothing to change yet

        r = c.post("/api/v1/collection/start", json={"mode": "live", "symbols": ["aapl"]})
        assert r.status_code == 202, r.text
        assert r.headers["location"] == "/api/v1/collection/status" and r.json()["service"]["desired"] == "running"

        st = wait_for(lambda: (s := status(c))["service"]["state"] == "running" and level1(s)
                      and level1(s)["state"] == "connected" and s, "the service to run with its feed connected")
        assert st["service"]["params"]["symbols"] == ["AAPL"] and st["supervisor_alive"] is True
        wait_for(lambda: ticks(server, "AAPL") > 0, "AAPL ticks in the store")
        assert ticks(server, "NVDA") == 0

        r = c.post("/api/v1/feeds/subscribe", json={"symbols": ["NVDA"]})
        assert r.status_code == 200, r.text
        assert (r.json()["symbols"], r.json()["added"], r.json()["removed"]) == (["AAPL", "NVDA"], ["NVDA"], [])
        first = wait_for(lambda: ticks(server, "NVDA"), "NVDA's day filled in from history")
        wait_for(lambda: ticks(server, "NVDA") > first + 20, "NVDA live ticks after the backfill")
        assert_day_has_no_hole(server, emu, "NVDA")

        r = c.delete("/api/v1/feeds/unsubscribe", params={"symbols": "AAPL"})
        assert r.status_code == 200 and r.json()["removed"] == ["AAPL"] and r.json()["symbols"] == ["NVDA"], r.text
        for _ in range(3):  # materialiser rounds after the removal reached the collector (one batch, <= 1 s)
            n = ticks(server, "NVDA")
            wait_for(lambda n=n: ticks(server, "NVDA") > n, "NVDA ticks still arriving")
        aapl = ticks(server, "AAPL")
        for _ in range(3):
            n = ticks(server, "NVDA")
            wait_for(lambda n=n: ticks(server, "NVDA") > n, "NVDA ticks still arriving")
        assert ticks(server, "AAPL") == aapl, "AAPL ticks were stored after it was unsubscribed"
        assert_day_has_no_hole(server, emu, "AAPL")
        body = status(c)
        assert body["service"]["state"] == "running" and body["service"]["restarts"] == 0
        assert body["service"]["params"]["symbols"] == ["NVDA"]

        r = c.delete("/api/v1/collection/stop")
        assert r.status_code == 200 and r.json()["desired"] == "stopped", r.text
        wait_for(lambda: status(c)["service"]["state"] == "stopped", "the stop")
        feed = wait_for(lambda: level1(c.get("/api/v1/feeds/status").json()), "the level 1 status")
        assert feed["state"] == "disconnected" and feed["ticks"] > 0 and feed["age_s"] >= 0
    assert_day_has_no_hole(server, emu, "NVDA")
    assert_audited_once(server, "collection.start", mode="live", symbols=["AAPL"])
    assert_audited_once(server, "feeds.subscribe", added=["NVDA"])
    assert_audited_once(server, "feeds.unsubscribe", removed=["AAPL"])
    assert_audited_once(server, "collection.stop")


def test_history_collection_is_a_job_and_bad_requests_are_problems(server):
    """Issue 13: mode=history queues a collect job (202, Location of the job); bad bodies are 422;
    a viewer can read the status but not start or stop (403)."""
    with server.client("admin") as c:
        r = c.post("/api/v1/collection/start", json={"mode": "history", "symbols": ["MSFT"], "start": "2024-06-28",
                                                      "end": "2024-06-28"})
        assert r.status_code == 202, r.text
        job = c.get(r.headers["location"]).json()
        assert job["kind"] == "collect" and job["params"]["symbols"] == ["MSFT"]
        for body, where in (({"mode": "history", "symbols": ["MSFT"]}, "needs symbols, start and end"),
                            ({"mode": "history", "symbols": ["MSFT"], "start": "2024-07-02", "end": "2024-07-01"},
                             "before start"),
                            ({"mode": "history", "symbols": ["MSFT"], "start": "2024-07-06", "end": "2024-07-07"},
                             "no trading days"),
                            ({"mode": "live", "symbols": ["BAD SYMBOL!"]}, "BAD SYMBOL!"),
                            ({"mode": "live", "start": "2024-07-01"}, "mode=history"),
                            ({"mode": "nope"}, "mode")):
            r = c.post("/api/v1/collection/start", json=body)
            assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", (body, r.text)
            assert where in r.json()["detail"], (body, r.json())
    with server.client("viewer") as c:
        assert c.get("/api/v1/collection/status").status_code == 200
        assert c.get("/api/v1/feeds/status").status_code == 200
        assert c.post("/api/v1/collection/start", json={"mode": "live"}).status_code == 403
        assert c.delete("/api/v1/collection/stop").status_code == 403
        assert c.post("/api/v1/feeds/subscribe", json={"symbols": ["AAPL"]}).status_code == 403
