"""Login, sessions, cookies and crafted requests over real HTTP against a real ``tickdeck serve``.

One server for the module (started once: a cold start costs ~20 s on a loaded 2-core box), with a
small per-user login limit (3 per :data:`WINDOW_S` s) and ``TICKDECK_COOKIE_SECURE=1``. Each test
sends its requests under its own client address (``X-Real-IP``, honoured because the server runs
with ``use_xheaders`` for nginx), so the per-address limit of one test does not touch another.
The address is only a header value: every request goes to 127.0.0.1.
"""

from __future__ import annotations

import base64
import os
import re
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
import requests

from builders import add_users
from services_needed import stop_group

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
TICKDECK = [sys.executable, "-m", "tickdeck"]
WINDOW_S = 6  # per-user limit window of the test server: 3 attempts per 6 s
ADDRESS_LIMIT = 12  # attempts per minute per client address on the test server
START_TIMEOUT_S = 120
USERS = (("ann", "admin", "ann-password"), ("bob", "viewer", "bob-password"), ("carl", "admin", "carl-password"),
         ("dora", "admin", "dora-password"), ("eve", "viewer", "eve-password"))
NOISE = ("Traceback", "TypeError", "AssertionError", "ProtocolError", "never retrieved")


class Client:
    """A browser-like HTTP client with its own cookie jar and client address."""

    def __init__(self, base: str, address: str):
        self.base = base
        self.s = requests.Session()
        self.s.headers["X-Real-IP"] = address

    def _keep(self, r: requests.Response) -> requests.Response:
        """The test talks plain HTTP to 127.0.0.1 while the server marks cookies Secure (as behind TLS):
        keep sending them, as a browser behind the TLS proxy would."""
        for cookie in self.s.cookies:
            cookie.secure = False
        return r

    def get(self, path: str, **kw) -> requests.Response:
        return self._keep(self.s.get(self.base + path, allow_redirects=False, timeout=60, **kw))

    def csrf(self) -> str:
        r = self.get("login")
        assert r.status_code == 200
        m = re.search(r'name="csrf_token" value="([^"]+)"', r.text)
        return m.group(1) if m else ""

    def login(self, name: str, password: str, token: str | None = None) -> requests.Response:
        token = self.csrf() if token is None else token
        return self._keep(self.s.post(self.base + "login", allow_redirects=False, timeout=60,
                                      data={"username": name, "password": password, "csrf_token": token}))


def set_cookies(r: requests.Response) -> list[str]:
    return r.raw.headers.getlist("Set-Cookie")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("security") / "data"
    data_dir.mkdir()
    env = {**os.environ, "TICKDECK_DATA_DIR": str(data_dir), "TICKDECK_SECRET": "security-test-secret",
           "TICKDECK_LOGIN_LIMIT_USER": f"3 per {WINDOW_S} seconds",
           "TICKDECK_LOGIN_LIMIT_ADDR": f"{ADDRESS_LIMIT} per 1 minute", "TICKDECK_COOKIE_SECURE": "1"}
    add_users(data_dir, USERS)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = data_dir.parent / "serve.log"
    fh = open(log, "w")
    proc = subprocess.Popen([*TICKDECK, "serve", "--port", str(port), "--no-worker"], cwd=ROOT, env=env, stdout=fh,
                            stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"tickdeck serve exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(base + "login", timeout=2):
                break
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"tickdeck serve did not answer:\n{log.read_text()[-3000:]}") from None
            time.sleep(0.2)  # polling interval while the server boots
    yield type("Served", (), {"base": base, "log": log, "env": env, "data_dir": data_dir})
    stop_group(proc, fh)


def audit_actions(server, actor: str) -> list[str]:
    from tickdeck.core.catalog import Catalog

    cat = Catalog(f"sqlite:///{server.data_dir / 'tickdeck.db'}")
    try:
        return [a.action for a in cat.audit_log(limit=500) if a.actor == actor]
    finally:
        cat.engine.dispose()


def opens_admin(base: str, cookies: dict, address: str) -> bool:
    """Whether these cookies (copied by hand, as an attacker would) still open /admin."""
    c = Client(base, address)
    for k, v in cookies.items():
        c.s.cookies.set(k, v)
    r = c.get("admin")
    if r.status_code == 302:
        assert "login" in r.headers["Location"]
        return False
    assert r.status_code == 200, r.status_code
    return True


def wait_until(condition, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)  # polling interval of the condition, not a wait standing in for one


def test_every_cookie_is_httponly_samesite_and_secure(server):
    """Issue 11 item 11: the login form's CSRF cookie, the session cookie, next_url and the cookies cleared
    at logout all carry HttpOnly, SameSite (Lax for the session, Strict for the others) and Secure."""
    c = Client(server.base, "10.20.0.1")
    seen: dict[str, str] = {}
    r = c.get("admin")  # not signed in: redirected to the login form with ?next=
    assert r.status_code == 302 and "login" in r.headers["Location"]
    for resp in (c.get("login?next=%2Fadmin"), c.login("ann", "ann-password"), c.get("admin"), c.get("logout")):
        for header in set_cookies(resp):
            name = header.split("=", 1)[0]
            low = header.lower()
            assert "httponly" in low and "secure" in low and "samesite=" in low, header
            seen.setdefault(name, header)
    assert {"tickdeck_csrf", "next_url", "user"} <= set(seen), seen.keys()
    assert "samesite=lax" in seen["user"].lower()
    assert "samesite=strict" in seen["tickdeck_csrf"].lower() and "samesite=strict" in seen["next_url"].lower()
    assert not any(n in seen for n in ("id_token", "is_guest")), seen.keys()  # Panel's own writers are not used


def test_login_post_without_a_matching_csrf_token_is_refused(server):
    """Issue 11 item 11: a cross-site POST (no token, or a token that does not match this browser's
    cookie) gets 403 and no session; the form's own token signs in."""
    victim = Client(server.base, "10.20.0.2")
    victim.get("login")
    r = victim.s.post(server.base + "login", data={"username": "ann", "password": "ann-password"},
                      allow_redirects=False, timeout=60)
    assert r.status_code == 403 and "expired or did not come from this site" in r.text
    attacker = Client(server.base, "10.20.0.3")
    r = victim.login("ann", "ann-password", token=attacker.csrf())
    assert r.status_code == 403 and "user" not in victim.s.cookies
    r = victim.login("ann", "ann-password")
    assert r.status_code == 302 and victim.s.cookies.get("user")


def test_a_cookie_copied_before_logout_no_longer_opens_admin(server):
    """Issue 11 item 9: logout revokes the server-side session, so a copy of the cookie is dead."""
    c = Client(server.base, "10.20.0.4")
    assert c.login("ann", "ann-password").status_code == 302
    copied = c.s.cookies.get_dict()
    assert opens_admin(server.base, copied, "10.20.0.5")
    assert c.get("logout").status_code == 200
    assert not opens_admin(server.base, copied, "10.20.0.5")  # same process: immediately
    assert "logout" in audit_actions(server, "ann")


def test_passwd_and_disable_from_the_cli_sign_the_user_out(server):
    """Issue 11 item 9: `tickdeck users passwd` and `users disable` (another process) revoke the user's
    sessions; the server sees it within its session cache time (2 s)."""
    dora = Client(server.base, "10.20.0.6")
    assert dora.login("dora", "dora-password").status_code == 302
    copied = dora.s.cookies.get_dict()
    assert opens_admin(server.base, copied, "10.20.0.7")
    r = subprocess.run([*TICKDECK, "users", "passwd", "dora", "--password-stdin"], input="dora-new-password\n",
                       cwd=ROOT, env=server.env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    wait_until(lambda: not opens_admin(server.base, copied, "10.20.0.7"), what="the revoked session to stop working")
    assert dora.login("dora", "dora-new-password").status_code == 302
    copied = dora.s.cookies.get_dict()
    subprocess.run([*TICKDECK, "users", "disable", "dora"], cwd=ROOT, env=server.env, check=True,
                   capture_output=True, timeout=120)
    wait_until(lambda: not opens_admin(server.base, copied, "10.20.0.7"), what="the disabled user's session to end")
    wait_until(lambda: Client(server.base, "10.20.0.8").login("dora", "dora-new-password").status_code == 401,
               what="the disabled user to be refused")


def test_wrong_passwords_lock_the_name_until_the_window_passes(server):
    """Issue 11 item 8: after 3 wrong passwords the right one is refused (429, Retry-After, no session,
    audited) until the window has passed; then it works."""
    c = Client(server.base, "10.20.0.9")
    t0 = time.monotonic()
    for i in range(3):
        r = c.login("bob", f"wrong-password-{i}")
        assert r.status_code == 401 and "Invalid username or password" in r.text
    r = c.login("bob", "bob-password")
    elapsed = time.monotonic() - t0
    assert elapsed < WINDOW_S, f"the machine took {elapsed:.1f} s for 4 logins: the {WINDOW_S} s window had passed"
    assert r.status_code == 429, r.status_code
    assert "Too many login attempts" in r.text and 1 <= int(r.headers["Retry-After"]) <= WINDOW_S
    assert "user" not in c.s.cookies
    other = Client(server.base, "10.20.0.10")  # another address does not help the name
    assert other.login("bob", "bob-password").status_code == 429
    assert "login_throttled" in audit_actions(server, "bob")
    wait_until(lambda: c.login("bob", "bob-password").status_code == 302, timeout=WINDOW_S + 20,
               what="the login window to pass")
    assert time.monotonic() - t0 >= WINDOW_S - 0.5


def test_one_address_is_limited_across_names(server):
    """Issue 11 item 8: many names from one client address are refused after the per-address limit."""
    c = Client(server.base, "10.20.0.11")
    statuses = [c.login(f"nobody-{i}", "whatever-password").status_code for i in range(ADDRESS_LIMIT)]
    assert statuses == [401] * ADDRESS_LIMIT
    assert c.login("eve", "eve-password").status_code == 429  # even a real user with the right password
    assert Client(server.base, "10.20.0.12").login("eve", "eve-password").status_code == 302


def test_login_page_answers_while_password_hashes_run(server):
    """Issue 11 item 8: password checks run off the event loop. While four clients keep login POSTs in
    flight (each one scrypt of ~50 ms), GETs of the login page keep being answered between them: more
    GETs complete during the POST storm than POSTs do. (Hashing on the event loop, every GET waits for
    the hashes queued before it, so about one GET completes per POST.)"""
    posts: list[float] = []
    lock = threading.Lock()
    per_client = ADDRESS_LIMIT - 2  # stays under the per-address limit: every POST hashes

    def poster(k: int) -> None:
        c = Client(server.base, f"10.21.0.{k}")
        token = c.csrf()
        for _ in range(per_client):
            t = time.monotonic()
            assert c.login(f"ghost-{uuid.uuid4().hex[:8]}", "not-the-password", token).status_code == 401
            with lock:
                posts.append(time.monotonic() - t)

    threads = [threading.Thread(target=poster, args=(k,)) for k in range(4)]
    reader = Client(server.base, "10.21.1.1")
    reader.get("login")
    gets: list[float] = []
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        t = time.monotonic()
        assert reader.get("login").status_code == 200
        gets.append(time.monotonic() - t)
    for t in threads:
        t.join()
    assert len(posts) == 4 * per_client
    print(f"GETs {len(gets)} (median {statistics.median(gets) * 1e3:.1f} ms) during {len(posts)} POSTs "
          f"(median {statistics.median(posts) * 1e3:.1f} ms)")
    assert len(gets) >= 2 * len(posts), (len(gets), len(posts))
    assert statistics.median(gets) < statistics.median(posts) / 2


def _raw_ws(port: int, path: str, headers: str, mode: str) -> None:
    key = base64.b64encode(os.urandom(16)).decode()
    req = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:{port}\r\n{headers}\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(req.encode())
        if mode == "reset":  # close with RST at once, before the server answers
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif mode == "read":  # wait for the server's answer, then close
            s.recv(4096)


def test_crafted_requests_leave_no_traceback_in_the_log(server):
    """Issue 11 item 27: unauthenticated autoload.js, websockets without the bokeh subprotocol or with a
    forged token, and websockets closed during the handshake get a 4xx or a quiet close, and the
    server log gets no traceback."""
    start = server.log.stat().st_size
    anon = Client(server.base, "10.20.0.13")
    for page in ("admin", "catalog", "explorer"):
        r = anon.get(f"{page}/autoload.js?bokeh-autoload-element=p1")
        assert 400 <= r.status_code < 500, (page, r.status_code)
    c = Client(server.base, "10.20.0.14")
    assert c.login("carl", "carl-password").status_code == 302
    html = c.get("catalog").text
    token = re.search(r'"token":\s*"([^"]+)"', html).group(1)
    cookie = "Cookie: " + "; ".join(f"{k}={v}" for k, v in c.s.cookies.get_dict().items()) + "\r\n"
    port = int(server.base.rsplit(":", 1)[1].strip("/"))
    cases = [("", "read"), (cookie, "read"), (cookie + "Sec-WebSocket-Protocol: bokeh, forged.token.x\r\n", "read"),
             (cookie + "Sec-WebSocket-Protocol: other, x\r\n", "read")]
    cases += [(cookie + f"Sec-WebSocket-Protocol: bokeh, {token}\r\n", mode) for mode in ("reset", "close") * 10]
    for headers, mode in cases:
        _raw_ws(port, "/catalog/ws", headers, mode)
    for _ in range(3):  # requests after the crafted ones: the server has handled those by now
        assert anon.get("login").status_code == 200
    log = server.log.read_bytes()[start:].decode("utf-8", "replace")
    assert not [w for w in NOISE if w in log], log[-4000:]
