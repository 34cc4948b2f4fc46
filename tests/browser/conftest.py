"""Browser fixtures: a real ``tickdeck serve`` subprocess on a free port with a fresh data dir,
and Playwright pages driving Debian Chromium.

* ``demo_data`` — synthetic AAPL and MSFT days written once per session with ``tickdeck generate``.
* ``app_server(...)`` — a factory: copies ``demo_data`` (or an empty dir) to a fresh data dir,
  optionally adds users, starts ``tickdeck serve`` and waits until it answers; stopped after the test.
  ``module_app_server(...)`` — the same, stopped after the module (for tests that only look).
* ``demo_server`` — one server on a copy of ``demo_data`` (no users) shared by the tests that only read the
  demo days (they add, change and delete nothing): started by the first, stopped when the run leaves
  ``tests/browser/``. ``users_server`` — the same with web users and the prefix ``/td``, for tests that
  sign in and look; ``empty_server`` — one on an empty data dir; ``scratch_server`` — one for tests that
  each write and look at symbol-days of their own.
* ``page`` — a new browser context/page per test (downloads allowed).
* ``shot(page, name)`` — saves ``test-output/screenshots/<name>.png``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from builders import add_users
from services_needed import stop_group

ROOT = Path(__file__).resolve().parents[2]
TICKDECK = [sys.executable, "-m", "tickdeck"]
SCREENSHOTS = ROOT / "test-output" / "screenshots"
DEMO_SYMBOLS = ("AAPL", "MSFT")
DEMO_START, DEMO_END = "2024-07-01", "2024-07-03"
DEMO_TICKS = 20_000  # regular-session trades per day: enough for a datashaded chart, fast to write
START_TIMEOUT_S = 90  # a loaded 2-core machine imports panel/holoviews slowly
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(data_dir: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    e = {**os.environ, "TICKDECK_DATA_DIR": str(data_dir), **(env or {})}
    return subprocess.run([*TICKDECK, *args], cwd=ROOT, env=e, capture_output=True, text=True, timeout=300,
                          check=True)


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("demo") / "data"
    run_cli(d, "generate", *DEMO_SYMBOLS, "--start", DEMO_START, "--end", DEMO_END, "--ticks", str(DEMO_TICKS))
    return d


@dataclass
class Served:
    url: str  # base URL including the prefix, ending in "/"
    data_dir: Path
    proc: subprocess.Popen
    log: Path
    fh: object = None  # the open log file the server writes to

    def log_since(self, offset: int) -> str:
        """The server's log from byte ``offset`` on (a test on a shared server reads its own part)."""
        with open(self.log, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return run_cli(self.data_dir, *args)


def _wait_ready(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"tickdeck serve exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url + "login", timeout=2) as r:  # answers with or without auth
                if r.status < 500:
                    return
        except urllib.error.HTTPError as e:
            if e.code < 500:
                return
        except OSError:
            pass
        time.sleep(0.2)  # polling interval while the server boots, not a wait for a condition
    raise RuntimeError(f"tickdeck serve did not answer within {START_TIMEOUT_S}s:\n{log.read_text()[-3000:]}")


def _server_factory(base: Path, demo_data: Path, started: list):
    def start(*, prefix: str = "", num_procs: int = 1, users: tuple = (), data: bool = True,
              env: dict | None = None) -> Served:
        data_dir = base / f"data{len(started)}"
        if data:
            shutil.copytree(demo_data, data_dir)
        else:
            data_dir.mkdir()
        if users:
            add_users(data_dir, users)
        port = free_port()
        log = base / f"serve{len(started)}.log"
        args = [*TICKDECK, "serve", "--port", str(port), "--num-procs", str(num_procs)]
        if prefix:
            args += ["--prefix", prefix]
        fh = open(log, "w")
        proc = subprocess.Popen(args, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT,
                                env={**os.environ, "TICKDECK_DATA_DIR": str(data_dir),
                                     "TICKDECK_SECRET": "browser-test-secret", **(env or {})},
                                start_new_session=True)
        url = f"http://127.0.0.1:{port}{prefix}/"
        s = Served(url, data_dir, proc, log, fh)
        started.append(s)
        _wait_ready(url, proc, log)
        return s

    return start


def _stop_all(started: list) -> None:
    for s in started:
        stop_group(s.proc, s.fh)
    started.clear()


@pytest.fixture
def app_server(tmp_path, demo_data, chromium_path):
    started: list[Served] = []
    yield _server_factory(tmp_path, demo_data, started)
    _stop_all(started)


@pytest.fixture(scope="module")
def module_app_server(tmp_path_factory, demo_data, chromium_path):
    """``app_server`` for a whole module: tests that only look at pages share one server (a start costs ~10 s)."""
    started: list[Served] = []
    yield _server_factory(tmp_path_factory.mktemp("served"), demo_data, started)
    _stop_all(started)


@pytest.fixture(scope="module")
def browser(chromium_path):
    """One Chromium per test module: Playwright's sync API leaves its event loop marked as running
    in this thread while it is open, so Panel would schedule (never run) async callbacks of
    in-process page objects in tests collected after the browser tests."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 950})
    context.set_default_timeout(60_000)  # a cold Panel session on a loaded 2-core box
    p = context.new_page()
    yield p
    context.close()


def shot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture(name="shot")
def shot_fixture():
    return shot


_SHARED: dict[str, list[Served]] = {}  # the shared servers, while they run
# the web users of ``users_server``: (name, role, password)
SHARED_USERS = (("alice", "viewer", "alice-password"), ("bob", "researcher", "bob-password"),
                ("root", "admin", "root-password"), ("adam", "admin", "adam-password"))


def _shared(name: str, base_factory, demo_data: Path, **kw) -> Served:
    running = _SHARED.setdefault(name, [])
    if not running or running[-1].proc.poll() is not None:
        _stop_all(running)
        _server_factory(base_factory.mktemp(f"shared-{name}"), demo_data, running)(**kw)
    return running[-1]


@pytest.fixture
def demo_server(tmp_path_factory, demo_data, chromium_path) -> Served:
    """The shared server on the demo days, auth off (see the module docstring). A test using it must not
    write to its data dir nor rely on its log before the test began (:meth:`Served.log_since`)."""
    return _shared("demo", tmp_path_factory, demo_data)


@pytest.fixture
def users_server(tmp_path_factory, demo_data, chromium_path) -> Served:
    """The shared server on the demo days under the prefix ``/td`` with the web users of :data:`SHARED_USERS`
    (``alice`` viewer, ``bob`` researcher, ``root`` and ``adam`` admins; password ``<name>-password``), for
    tests that sign in and look: the same rules as :func:`demo_server` (each test has its own browser
    context, so its own cookies)."""
    return _shared("users", tmp_path_factory, demo_data, prefix="/td", users=SHARED_USERS)


@pytest.fixture
def scratch_server(tmp_path_factory, demo_data, chromium_path) -> Served:
    """A shared server on the demo days, auth off, for tests that each write symbol-days of their own
    (``Served.cli("generate", …)``) and look only at what they wrote: no test may change, or count, what
    another wrote (the demo days themselves stay as ``demo_server`` has them)."""
    return _shared("scratch", tmp_path_factory, demo_data)


@pytest.fixture
def empty_server(tmp_path_factory, demo_data, chromium_path) -> Served:
    """The shared server on an empty data dir, auth off (the local admin sees every page), for tests that
    look at the empty states: the same rules as :func:`demo_server`."""
    return _shared("empty", tmp_path_factory, demo_data, data=False)


def _stop_shared() -> None:
    for running in _SHARED.values():
        _stop_all(running)


def pytest_runtest_teardown(item, nextitem):
    if nextitem is None or Path(nextitem.path).parent != Path(__file__).parent:
        _stop_shared()  # the run leaves tests/browser/: nothing else will use them


def pytest_sessionfinish(session):
    _stop_shared()
