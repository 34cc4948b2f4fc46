"""API fixtures: a real server on a loopback port with demo data collected through the real producers,
and users and keys for each role.

* ``api_emulator`` (session) — the IQFeed emulator on free ports (``EMULATOR_NOW`` is its clock);
  it keeps running, so live collection started through the API has a feed.
* ``api_demo_data`` (session) — a data dir filled once by what ``tickdeck collect`` runs, from the emulator over
  TCP (enrich, validate, store, default bars and validation: the same path as ``make demo``), with
  the users of :data:`USERS` and an API key per role made by the calls of ``tickdeck keys create``, plus a
  revoked and an expired key.
* ``api_server`` (module) — a copy of that data dir served by a real server process; ``api_server.client(who)``
  is an ``httpx.Client`` with ``who``'s key (``viewer``, ``researcher``, ``admin``, ``revoked``,
  ``expired``, or ``None`` for anonymous).
* ``start_api_server(**kw)`` — a factory for a server of one's own (other settings, e.g.
  ``env={"TICKDECK_API_LIMIT": "5 per minute"}``, or ``users=False`` for an install without users).

The server is ``tickdeck serve``: pages and API on one port, the embedded worker and services.
``api_server.login(client, role)`` signs a client in through the pages' login form (session cookie).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from services_needed import stop_group

ROOT = Path(__file__).resolve().parents[3]
TICKDECK = [sys.executable, "-m", "tickdeck"]
SYMBOLS = ("AAPL", "MSFT")
DAYS = (dt.date(2024, 7, 1), dt.date(2024, 7, 2))  # collected history days
EMULATOR_NOW = "2024-07-03 10:00:00"  # the emulator's clock: the days above are complete
DAY_TICKS = 5_000  # regular-session trades per emulated day
SECRET = "api-test-secret"
START_TIMEOUT_S = 120  # a loaded 2-core machine imports the server slowly
USERS = {"viewer": ("vera", "vera-password"), "researcher": ("rita", "rita-password"),
         "admin": ("adam", "adam-password")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(data_dir: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    e = {**os.environ, "TICKDECK_DATA_DIR": str(data_dir), "TICKDECK_SECRET": SECRET, **(env or {})}
    done = subprocess.run([*TICKDECK, *args], cwd=ROOT, env=e, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"tickdeck {' '.join(args)} exited {done.returncode}:\n{done.stdout[-2000:]}\n"
                           f"{done.stderr[-3000:]}")
    return done


@pytest.fixture(scope="session")
def api_emulator():
    from tickdeck.core.sources.iqfeed_emulator import EmulatorThread, IQFeedEmulator

    emu = IQFeedEmulator(symbols=SYMBOLS, now=EMULATOR_NOW, ticks=DAY_TICKS, port_history=0, port_l1=0, seed=13)
    th = EmulatorThread(emu)
    yield th.__enter__()
    th.__exit__(None, None, None)


def _feed_env(emu) -> dict:
    return {"TICKDECK_FEED_HOST": "127.0.0.1", "TICKDECK_FEED_PORT_HISTORY": str(emu.port_history),
            "TICKDECK_FEED_PORT_L1": str(emu.port_l1)}


@dataclass(frozen=True)
class DemoData:
    data_dir: Path
    keys: dict  # who -> secret
    key_names: dict  # who -> key name


def _add_users_and_keys(data_dir: Path) -> tuple[dict, dict]:
    """The users of :data:`USERS` with a key each, and a revoked and an expired key of the admin, made with the
    tickdeck.core.users calls ``tickdeck users add`` / ``tickdeck keys create|revoke`` make (in this process: fifteen
    CLI processes took most of the module's setup; the commands themselves are tested in tests/unit/web)."""
    from sqlalchemy import update

    from tickdeck.core import db
    from tickdeck.core.catalog import Catalog
    from tickdeck.core.config import Settings
    from tickdeck.core.users import add_user, create_api_key, parse_duration, revoke_api_key

    catalog = Catalog(Settings(data_dir=data_dir).sql_url)
    keys, names = {}, {}
    try:
        for role, (name, password) in USERS.items():
            add_user(catalog, name, role, password, actor="cli")
            names[role] = f"{role}-key"
            keys[role] = create_api_key(catalog, name, names[role], actor="cli").secret
        admin = USERS["admin"][0]
        names["revoked"], names["expired"] = "revoked-key", "expired-key"
        revoked = create_api_key(catalog, admin, "revoked-key", actor="cli")
        keys["revoked"] = revoked.secret
        revoke_api_key(catalog, revoked.key.id, actor="cli")
        keys["expired"] = create_api_key(catalog, admin, "expired-key", expires_in=parse_duration("1h"),
                                         actor="cli").secret
        # a key cannot be created already expired: move its expiry into the past
        with catalog.Session.begin() as s:
            s.execute(update(db.ApiKey).where(db.ApiKey.name == "expired-key")
                      .values(expires_at=db.utcnow() - dt.timedelta(minutes=5)))
    finally:
        catalog.engine.dispose()
    return keys, names


@pytest.fixture(scope="session")
def api_demo_data(tmp_path_factory, api_emulator) -> DemoData:
    from tickdeck.app.wiring import open_context
    from tickdeck.core.collect import collect_days
    from tickdeck.core.config import Settings

    data_dir = tmp_path_factory.mktemp("api-demo") / "data"
    # what `tickdeck collect AAPL MSFT --start … --end …` runs (the post-ingest pipeline installed), in this process
    ctx = open_context(Settings(data_dir=data_dir, feed_host="127.0.0.1", feed_port_history=api_emulator.port_history,
                                feed_port_l1=api_emulator.port_l1), pipeline=True)
    try:
        collect_days(ctx, list(SYMBOLS), list(DAYS))
    finally:
        ctx.close()
    keys, names = _add_users_and_keys(data_dir)
    return DemoData(data_dir, keys, names)


@dataclass
class ApiServer:
    url: str  # scheme://host:port plus the prefix, no trailing slash
    data_dir: Path
    proc: subprocess.Popen
    log: Path
    keys: dict = field(default_factory=dict)  # who -> API key secret
    key_names: dict = field(default_factory=dict)
    users: dict = field(default_factory=lambda: dict(USERS))  # role -> (name, password)
    symbols: tuple = SYMBOLS
    days: tuple = DAYS
    emulator: object = None

    def client(self, who: str | None = "admin", **kw):
        """An ``httpx.Client`` on this server with ``who``'s key (``None``: no credentials)."""
        import httpx

        headers = dict(kw.pop("headers", {}))
        if who is not None:
            headers["Authorization"] = f"Bearer {self.keys[who]}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=kw.pop("timeout", 60), **kw)

    def login(self, client, role: str) -> None:
        """Sign ``client`` (an ``httpx.Client`` without a key) in through the pages' login form."""
        import re

        name, password = self.users[role]
        form = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        r = client.post("/login", data={"username": name, "password": password, "csrf_token": token})
        if r.status_code != 302 or "user" not in client.cookies:
            raise AssertionError(f"login of {name} failed: {r.status_code} {r.text[:300]}")

    def audit_log(self, limit: int = 200) -> list:
        """The newest audit records of this server's catalog (read directly, as an operator would)."""
        from tickdeck.core.catalog import Catalog
        from tickdeck.core.config import Settings

        catalog = Catalog(Settings(data_dir=self.data_dir).sql_url)
        try:
            return [(a.actor, a.action, a.target, dict(a.details or {})) for a in catalog.audit_log(limit=limit)]
        finally:
            catalog.engine.dispose()

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return run_cli(self.data_dir, *args)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def _wait_ready(server: ApiServer) -> None:
    import httpx

    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"the API server exited {server.proc.returncode}:\n{server.log_text()[-4000:]}")
        try:
            if httpx.get(server.url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)  # polling interval while the server boots, not a wait for a condition
    raise RuntimeError(f"the API server did not answer within {START_TIMEOUT_S}s:\n{server.log_text()[-4000:]}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        stop_group(proc, timeout=20)


@pytest.fixture(scope="module")
def start_api_server(tmp_path_factory, api_demo_data, api_emulator):
    started: list[ApiServer] = []

    def start(*, users: bool = True, data: bool = True, prefix: str = "", env: dict | None = None,
              args: tuple = ()) -> ApiServer:
        base = tmp_path_factory.mktemp("api-server")
        data_dir = base / "data"
        if data and users:
            shutil.copytree(api_demo_data.data_dir, data_dir)
        elif data:  # the demo data without users or keys: an install where auth is off
            shutil.copytree(api_demo_data.data_dir, data_dir)
            _drop_users(data_dir)
        else:
            data_dir.mkdir()
        port = free_port()
        log = base / "server.log"
        cmd = [*TICKDECK, "serve", "--port", str(port), "--no-warm-up",  # API tests: no page code to warm
               *(["--prefix", prefix] if prefix else []), *args]
        with open(log, "w") as fh:
            proc = subprocess.Popen(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True,
                                    env={**os.environ, "TICKDECK_DATA_DIR": str(data_dir), "TICKDECK_SECRET": SECRET,
                                         **_feed_env(api_emulator), **(env or {})})
        server = ApiServer(f"http://127.0.0.1:{port}{prefix}", data_dir, proc, log,
                           keys=dict(api_demo_data.keys) if users else {},
                           key_names=dict(api_demo_data.key_names) if users else {},
                           users=dict(USERS) if users else {}, emulator=api_emulator)
        started.append(server)
        _wait_ready(server)
        return server

    yield start
    for s in started:
        _stop(s.proc)


def _drop_users(data_dir: Path) -> None:
    from sqlalchemy import delete

    from tickdeck.core import db
    from tickdeck.core.catalog import Catalog
    from tickdeck.core.config import Settings

    catalog = Catalog(Settings(data_dir=data_dir).sql_url)
    try:
        with catalog.Session.begin() as s:
            s.execute(delete(db.ApiKey))
            s.execute(delete(db.WebSession))
            s.execute(delete(db.User))
    finally:
        catalog.engine.dispose()


@pytest.fixture(scope="module")
def api_server(start_api_server) -> ApiServer:
    """The module's server: demo data, users and keys of every role."""
    return start_api_server()
