"""Issue 16 item 2: replay controls over the API of a real ``tickdeck serve`` — start paused, play,
pause, seek, speed, stop — run by the server's supervised ``replay`` service, the replayed ticks on
``/ws/ticks/{symbol}`` as live ones and its bars on ``/ws/bars/{symbol}/{spec}``, both saying
``origin: "scenario"``, the stored days untouched.

:func:`check_replay_controls_over_the_api` runs on a server of the API tests (their demo data: days
collected from the emulator). It is called by a test of a module that starts one anyway
(tests/integration/api/test_catalog_api.py), so it adds no server start (a start takes most of a
minute on a loaded machine); it only reads and replays, and it leaves the replay service stopped.
"""

from __future__ import annotations

import json
import threading

import pandas as pd
from waiting import wait_for

DAY = "2024-07-02"  # collected by api_demo_data
WINDOW = {"date": DAY, "start": "15:30", "end": "16:00"}  # half an hour of data: 18 s at 100x
SEEK = "15:50"  # well after where the pause stops it (a few seconds of playing)


def _state(c) -> dict:
    r = c.get("/api/v1/replay")
    assert r.status_code == 200, r.text
    return r.json()


def _wait(c, cond, what: str) -> dict:
    return wait_for(lambda: (b := _state(c)) and cond(b) and b, what, timeout=120, poll=0.2)


class TickStream:
    """``/ws/ticks/{symbol}`` (or another ``path``) read on a thread: the tick ids of every
    TicksAppended message, the bar ends of every BarClosed one, and the origins of both."""

    def __init__(self, server, symbol: str, path: str = ""):
        from websockets.sync.client import connect

        url = server.url.replace("http://", "ws://") + (path or f"/ws/ticks/{symbol}")
        self.ws = connect(url, additional_headers={"Authorization": f"Bearer {server.keys['viewer']}"},
                          open_timeout=60, max_size=None)
        self.tick_ids: list[int] = []
        self.bar_ends: list[int] = []
        self.origins: set[str] = set()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            for frame in self.ws:
                for m in json.loads(frame):
                    if m["type"] == "TicksAppended":
                        self.tick_ids.extend(m["data"]["tick_id"])
                        self.origins.add(m["data"]["origin"])
                    elif m["type"] == "BarClosed":
                        self.bar_ends.append(m["data"]["end"])
                        self.origins.add(m["data"]["origin"])
        except Exception:  # noqa: BLE001 - closed by the test
            pass

    def close(self) -> None:
        self.ws.close()
        self.thread.join(10)


def check_replay_controls_over_the_api(api_server) -> None:
    """The controls over HTTP as a researcher, the ticks on the stream, nothing written, every
    action audited (``api_server``: an ``ApiServer`` of tests/integration/api/conftest.py)."""
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context

    with api_server.client("researcher") as c:
        assert c.post("/api/v1/replay/pause").status_code == 409  # nothing to pause yet
        bad = c.post("/api/v1/replay", json={"symbols": ["AAPL"], **WINDOW, "speed": 500})
        assert bad.status_code == 422 and "out of range" in bad.json()["detail"]
        none = c.post("/api/v1/replay", json={"symbols": ["AAPL"], "date": "2024-06-03"})
        assert none.status_code == 404 and "AAPL" in none.json()["detail"]

        ctx = Context.open(Settings(data_dir=api_server.data_dir))
        try:
            versions = {s: [v.version for v in ctx.store.day_versions(s, DAY)] for s in ("AAPL", "MSFT")}
            stored = ctx.store.read_day("AAPL", DAY, columns=["tick_id"])
        finally:
            ctx.close()
        in_window = stored.loc[f"{DAY} 15:30":f"{DAY} 15:59:59.999999999"]
        from_seek = stored.loc[f"{DAY} {SEEK}":f"{DAY} 15:59:59.999999999"]

        r = c.post("/api/v1/replay", json={"symbols": ["AAPL", "MSFT"], **WINDOW, "speed": 100, "paused": True})
        assert r.status_code == 202, r.text
        _wait(c, lambda b: b["service"]["state"] == "running" and (b["replay"] or {}).get("state") == "paused",
              "the replay service to run, paused")
        assert _state(c)["replay"]["delivered"] == 0

        stream = TickStream(api_server, "AAPL")
        bars = TickStream(api_server, "AAPL", "/ws/bars/AAPL/time:1m")
        try:
            c.post("/api/v1/replay/resume").raise_for_status()
            _wait(c, lambda b: b["replay"]["delivered"] > 0, "ticks delivered after resume")
            c.post("/api/v1/replay/pause").raise_for_status()
            paused = _wait(c, lambda b: b["replay"]["state"] == "paused", "the pause")
            assert 0 < paused["replay"]["delivered"] <= paused["replay"]["total"]

            assert c.post("/api/v1/replay/seek", json={"to": "17:00"}).status_code == 422  # outside the window
            c.post("/api/v1/replay/seek", json={"to": SEEK}).raise_for_status()
            c.post("/api/v1/replay/speed", json={"speed": "max"}).raise_for_status()
            c.post("/api/v1/replay/resume").raise_for_status()
            done = _wait(c, lambda b: b["replay"]["state"] == "finished", "the replay to finish")
            assert done["replay"]["speed"] is None and done["params"]["speed"] == "max"
            assert pd.Timestamp(done["replay"]["position_et"]) == pd.Timestamp(f"{DAY} 16:00", tz="America/New_York")
            wait_for(lambda: from_seek["tick_id"].iloc[-1] in stream.tick_ids, "the last tick on the stream",
                     timeout=60)
            wait_for(lambda: bars.bar_ends, "the replay's minute bars on /ws/bars", timeout=60)
        finally:
            stream.close()
            bars.close()
        ids = stream.tick_ids
        # before the pause: the window's first ticks in order; after the seek: every tick from 15:55 on
        k = ids.index(int(from_seek["tick_id"].iloc[0]))
        assert ids[:k] == in_window["tick_id"].tolist()[:k]
        assert ids[k:] == from_seek["tick_id"].tolist()
        assert stream.origins == {"scenario"}, "a client can tell replayed ticks from live ones"
        assert bars.origins == {"scenario"}, "and replayed bars from live ones"

        c.delete("/api/v1/replay").raise_for_status()
        _wait(c, lambda b: b["service"]["state"] == "stopped", "the stop")

    ctx = Context.open(Settings(data_dir=api_server.data_dir))
    try:
        assert {s: [v.version for v in ctx.store.day_versions(s, DAY)] for s in ("AAPL", "MSFT")} == versions
    finally:
        ctx.close()
    actions = [a[1] for a in api_server.audit_log() if a[1].startswith("replay.")]
    assert {f"replay.{a}" for a in ("start", "pause", "resume", "seek", "speed", "stop")} <= set(actions)
