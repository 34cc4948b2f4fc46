"""The scale-out deployment on this machine: Debian's nginx (deploy/nginx.conf) in front of two
``tickdeck serve --no-worker`` processes, one ``tickdeck worker --scheduler`` and one ``tickdeck worker``,
all on PostgreSQL, Redis and ArcticDB on S3 (the local S3 emulator), under the prefix ``/td``.

Chromium signs in through nginx and browses home → explorer → validation; an admin starts a backfill
that a worker process runs, and a second browser pinned (by nginx's route cookie) to the *other*
server process sees its home card change (the worker's events reach that process over Redis). The
HTTP API, a streamed download and a ``/ws/v1`` stream work through nginx too.

The test runs deploy/nginx.conf itself with only its upstream servers, listen address and file
paths replaced (each replacement asserted, so a reshaped config fails here), plus one header naming
the upstream that answered, so the test can tell the two processes apart.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
import requests

from services_needed import free_port, missing_service, stop_group
from waiting import wait_for

pytestmark = [pytest.mark.nginx, pytest.mark.browser, pytest.mark.postgres, pytest.mark.redis, pytest.mark.s3]

ROOT = Path(__file__).resolve().parents[3]
CONF = ROOT / "deploy" / "nginx.conf"
TICKDECK = [sys.executable, "-m", "tickdeck"]
PG_URL = os.environ.get("TICKDECK_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TICKDECK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PREFIX = "/td"
# The servers', workers' and emulator's clock (speed 0: it stands still): the missing days of the
# backfill do not depend on the day the test runs (a Wednesday after the July 4th holiday). The scheduler
# worker's market triggers run as deployed, on this clock: before the open they start no live collection
# (on the wall clock they did during the real regular session, and live collection stored the feed's day
# so far before the explorer chose its default, latest, day).
DEMO_NOW = "2024-07-10 08:00:00"
FIRST_DAY, LAST_MISSING = "2024-07-05", "2024-07-09"
USERS = (("root", "admin", "root-password"), ("alice", "viewer", "alice-password"))
START_TIMEOUT_S = 120  # four Python processes importing Panel and pandas at once on 2 cores
UPSTREAM_HEADER = "X-Tickdeck-Upstream"
ROUTE_COOKIE = "tickdeck_route"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def nginx_path() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.path.exists(p)), None)


def nginx_conf_for_test(base: Path, listen: int, upstreams: list[int]) -> str:
    """deploy/nginx.conf for a non-root run in ``base``: loopback listen port, our upstreams, files in ``base``."""
    text = CONF.read_text()

    def sub(pattern: str, repl: str) -> None:
        nonlocal text
        text, n = re.subn(pattern, repl, text, flags=re.M)
        assert n == 1, f"deploy/nginx.conf no longer has one line matching {pattern!r}"

    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=3 fail_timeout=10s;" for p in upstreams)
    sub(r"^\s*server tickdeck:5006 .*;$", servers)
    sub(r"^\s*listen 8080;$", f"        listen 127.0.0.1:{listen};")
    sub(r"^pid .*;$", f"pid {base}/nginx.pid;")
    sub(r"^error_log .*;$", f"error_log {base}/error.log warn;")
    sub(r"^\s*access_log /dev/stdout;$", f"    access_log {base}/access.log;\n" + "".join(
        f"    {kind}_temp_path {base}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")))
    sub(r"^(\s*)add_header Set-Cookie (.*)$", rf"\1add_header Set-Cookie \2\n\1add_header {UPSTREAM_HEADER} "
                                               r"$upstream_addr always;")
    user = "user root;\n" if os.geteuid() == 0 else ""  # as root, workers would run as nobody: no access to base
    return user + "daemon off;\n" + text


def _pg_schema():
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:10]}"
    try:
        admin = sa.create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with admin.begin() as c:
            c.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except Exception as e:  # noqa: BLE001
        missing_service(f"PostgreSQL at {PG_URL} ({type(e).__name__})")
    sep = "&" if "?" in PG_URL else "?"
    return admin, schema, f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


def _need_redis() -> None:
    try:
        import redis

        r = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        r.ping()
        r.close()
    except Exception as e:  # noqa: BLE001
        missing_service(f"Redis at {REDIS_URL} ({type(e).__name__})")


class Deployment:
    def __init__(self, base: Path):
        self.base = base
        self.procs: list[tuple[str, subprocess.Popen, object, Path]] = []
        self.server_ports: list[int] = []
        self.worker_pids: set[int] = set()

    def start(self, name: str, args: list[str], env: dict) -> subprocess.Popen:
        log = self.base / f"{name}.log"
        fh = open(log, "w")
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append((name, proc, fh, log))
        return proc

    def logs(self) -> str:
        return "\n".join(f"--- {n} (exit {p.poll()}):\n{log.read_text(errors='replace')[-2500:]}"
                         for n, p, _, log in self.procs)

    def wait_http(self, url: str, what: str) -> None:
        def answers():
            for name, p, _, _ in self.procs:
                if p.poll() is not None:
                    raise AssertionError(f"{name} exited {p.returncode}:\n{self.logs()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    return r.status < 500
            except urllib.error.HTTPError as e:
                return e.code < 500
            except OSError:
                return False

        wait_for(answers, what, timeout=START_TIMEOUT_S, poll=0.2)

    def stop(self) -> None:
        for _, proc, _, _ in self.procs:  # all stop at once, then each is waited for
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for _, proc, fh, _ in reversed(self.procs):
            stop_group(proc, fh)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, s3_server, chromium_path):
    from tickdeck.core.collect import collect_days
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context
    from tickdeck.core.sources.iqfeed_emulator import EmulatorThread, IQFeedEmulator
    from tickdeck.core.users import add_user, create_api_key

    nginx = nginx_path()
    if nginx is None:
        missing_service("Debian nginx (`make browser` installs it as root)")
    _need_redis()
    admin, schema, sql_url = _pg_schema()
    arctic_uri = s3_server.store_uri()
    base = tmp_path_factory.mktemp("deploy")
    data_dir = base / "data"
    dep = Deployment(base)
    emu_thread = EmulatorThread(IQFeedEmulator(now=DEMO_NOW, port_history=0, port_l1=0, ticks=2000))
    emu = emu_thread.__enter__()
    try:
        env = {**os.environ, "TICKDECK_DATA_DIR": str(data_dir), "TICKDECK_SQL_URL": sql_url,
               "TICKDECK_REDIS_URL": REDIS_URL, "TICKDECK_ARCTIC_URI": arctic_uri,
               "TICKDECK_SECRET": "nginx-test-secret", "TICKDECK_FEED_PORT_HISTORY": str(emu.port_history),
               "TICKDECK_FEED_PORT_L1": str(emu.port_l1), "TICKDECK_DEMO_NOW": DEMO_NOW, "TICKDECK_DEMO_SPEED": "0",
               "TICKDECK_MARKET_TRIGGERS": "1"}
        # The first day of AAPL from the feed (an IQFeed dataset: its backfill goes to the feed), and the users.
        settings = Settings(data_dir=data_dir, sql_url=sql_url, arctic_uri=arctic_uri,
                            feed_port_history=emu.port_history)
        ctx = Context.open(settings)
        try:
            collect_days(ctx, ["AAPL"], [FIRST_DAY], port_history=emu.port_history)
            for name, role, password in USERS:
                add_user(ctx.catalog, name, role, password, actor="test")
            dep.api_key = create_api_key(ctx.catalog, "root", "nginx-test").secret
        finally:
            ctx.close()

        listen = free_port()
        dep.server_ports = [free_port(), free_port()]
        origin = f"127.0.0.1:{listen}"
        for i, port in enumerate(dep.server_ports):
            dep.start(f"serve{i}", [*TICKDECK, "serve", "--no-worker", "--port", str(port), "--prefix", PREFIX,
                                    "--allow-websocket-origin", origin], env)
        dep.worker_pids = {dep.start("worker-scheduler", [*TICKDECK, "worker", "--scheduler"], env).pid,
                           dep.start("worker", [*TICKDECK, "worker"], env).pid}
        (base / "nginx.conf").write_text(nginx_conf_for_test(base, listen, dep.server_ports))
        dep.start("nginx", [nginx, "-p", str(base), "-c", str(base / "nginx.conf")], env)
        dep.url = f"http://{origin}{PREFIX}/"
        for port in dep.server_ports:
            dep.wait_http(f"http://127.0.0.1:{port}{PREFIX}/login", f"tickdeck serve on port {port}")
        dep.wait_http(dep.url + "login", "nginx in front of the servers")
        for name, _, _, log in dep.procs:
            if name.startswith("worker"):
                wait_for(lambda log=log: "started" in log.read_text(), f"{name} started", timeout=START_TIMEOUT_S)
        dep.sql_url, dep.arctic_uri = sql_url, arctic_uri
        yield dep
    finally:
        dep.stop()
        emu_thread.__exit__(None, None, None)
        s3_server.drop(arctic_uri)
        with admin.begin() as c:
            import sqlalchemy as sa

            c.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def upstream_of(dep: Deployment, route: str) -> str:
    """The upstream (``127.0.0.1:<port>``) nginx sends a browser with this route cookie to."""
    r = requests.get(dep.url + "healthz", cookies={ROUTE_COOKIE: route}, timeout=30)
    assert r.status_code == 200, r.text
    return r.headers[UPSTREAM_HEADER]


@pytest.fixture(scope="module")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def _context(browser):
    c = browser.new_context(viewport={"width": 1400, "height": 950})
    c.set_default_timeout(60_000)
    return c


def _login(page, url: str, name: str, password: str) -> None:
    page.goto(url + "login")
    page.locator("input[name=username]").fill(name)
    page.locator("input[name=password]").fill(password)
    page.locator("form.login-form button, form.login-form input[type=submit]").first.click()


def test_pages_through_nginx_and_a_backfill_seen_by_the_other_server_process(deployment, browser):
    from tickdeck.core.catalog import Catalog
    from tickdeck.jobs.queue import JobQueue

    dep = deployment
    nginx_origin = dep.url.split("/")[2]
    admin_ctx = _context(browser)
    viewer_ctx = _context(browser)
    try:
        admin = admin_ctx.new_page()
        errors: list[str] = []
        admin.on("pageerror", lambda e: errors.append(f"{admin.url}: {e}"))
        _login(admin, dep.url, "root", "root-password")
        card = admin.locator('article.td-card[data-symbol="AAPL"]')
        card.wait_for()
        route = {c["name"]: c["value"] for c in admin_ctx.cookies()}[ROUTE_COOKIE]  # set by nginx, not tickdeck
        admin_upstream = upstream_of(dep, route)
        assert admin_upstream in {f"127.0.0.1:{p}" for p in dep.server_ports}

        admin.goto(dep.url + "explorer?symbol=AAPL")
        admin.get_by_text(re.compile(rf"AAPL · {FIRST_DAY} · .* ticks")).first.wait_for()  # chart data over the socket
        admin.goto(dep.url + f"validation?symbol=AAPL&day={FIRST_DAY}")
        admin.locator("section[data-validator='session']").wait_for()

        # The viewer's browser goes to the other server process: a route value nginx hashes there.
        other = next(v for v in (f"r{i}" for i in range(200)) if upstream_of(dep, v) != admin_upstream)
        viewer_ctx.add_cookies([{"name": ROUTE_COOKIE, "value": other, "url": f"http://{nginx_origin}/"}])
        viewer = viewer_ctx.new_page()
        viewer.on("pageerror", lambda e: errors.append(f"{viewer.url}: {e}"))
        _login(viewer, dep.url, "alice", "alice-password")
        vcard = viewer.locator('article.td-card[data-symbol="AAPL"]')
        vcard.wait_for()
        assert f"{FIRST_DAY} → {FIRST_DAY}" in vcard.inner_text()
        assert {c["name"]: c["value"] for c in viewer_ctx.cookies()}[ROUTE_COOKIE] == other  # pinned, not reset

        admin.goto(dep.url + "admin")
        admin.locator(".td-frow[data-symbol='AAPL']").wait_for()
        admin.get_by_role("button", name="Backfill AAPL").click()
        admin.locator("text=Queued backfill job").wait_for()

        # The worker processes run the backfill and its collect job; the viewer's page, rendered by the
        # other server process and never reloaded, hears the days written over Redis.
        vcard.filter(has_text=f"{FIRST_DAY} → {LAST_MISSING}").wait_for(timeout=120_000)
        catalog = Catalog(dep.sql_url)
        try:
            def settled():  # the page may hear the last day before the jobs are marked done
                jobs = {j.kind: j for j in JobQueue(catalog.engine).list()}
                return jobs if jobs.keys() == {"backfill", "collect"} and all(
                    j.status in ("succeeded", "failed") for j in jobs.values()) else None

            jobs = wait_for(settled, "the backfill and its collect job settled", timeout=60, poll=0.2)
        finally:
            catalog.engine.dispose()
        assert {jobs["backfill"].status, jobs["collect"].status} == {"succeeded"}, jobs
        ran_by = {int(j.worker.split(":")[1]) for j in (jobs["backfill"], jobs["collect"])}
        assert ran_by <= dep.worker_pids, (ran_by, dep.worker_pids)  # host:pid:…: the servers run no jobs
        assert not errors, errors
    finally:
        admin_ctx.close()
        viewer_ctx.close()


def test_api_download_and_ws_stream_through_nginx(deployment):
    from websockets.sync.client import connect

    dep = deployment
    auth = {"Authorization": f"Bearer {dep.api_key}"}
    r = requests.get(dep.url + "api/v1/data/AAPL/metadata", headers=auth, timeout=60)
    assert r.status_code == 200, r.text
    ticks = {d["day"]: d["ticks"] for d in r.json()["days"]}
    assert ticks[FIRST_DAY] > 0

    # a streamed CSV download passes unbuffered and whole
    with requests.get(dep.url + "api/v1/data/AAPL/ticks", params={"start": FIRST_DAY, "end": FIRST_DAY,
                      "format": "csv", "columns": "last"}, headers=auth, stream=True, timeout=120) as r:
        assert r.status_code == 200, r.text
        lines = sum(chunk.count(b"\n") for chunk in r.iter_content(65536))
    assert lines == ticks[FIRST_DAY] + 1  # a header line and one per tick

    ws_url = dep.url.replace("http://", "ws://") + "ws/v1"
    with connect(ws_url, additional_headers=auth, open_timeout=30) as ws:
        ws.send(json.dumps({"type": "subscribe", "channels": ["jobs"]}))
        first = json.loads(ws.recv(timeout=30))
        assert first[0]["type"] == "subscribed", first
        r = requests.post(dep.url + "api/v1/quality/validate", headers=auth, timeout=60,
                          json={"symbol": "AAPL", "start": FIRST_DAY, "end": FIRST_DAY})
        assert r.status_code == 202, r.text
        job_id = r.json()["job"]["id"]
        deadline = time.monotonic() + 120
        seen = []
        while time.monotonic() < deadline:  # the worker's JobChanged events, over Redis, through nginx
            for m in json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic()))):
                if m["type"] == "JobChanged" and m["data"]["id"] == job_id:
                    seen.append(m["data"]["status"])
            if "succeeded" in seen:
                break
        assert "succeeded" in seen, seen
    # the process metrics are not served to the public port
    assert requests.get(dep.url + "metrics", timeout=30).status_code == 403
