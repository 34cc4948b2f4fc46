"""Login, roles and prefix / multi-process serving in Chromium against a real ``tickdeck serve``."""

from __future__ import annotations

import re

import psutil
import pytest

pytestmark = pytest.mark.browser

USERS = (("alice", "viewer", "alice-password"), ("bob", "researcher", "bob-password"))


def _login(page, url: str, name: str, password: str) -> None:
    page.goto(url)
    page.locator("input[name=username]").fill(name)
    page.locator("input[name=password]").fill(password)
    page.locator("form.login-form button, form.login-form input[type=submit]").first.click()


def test_wrong_password_is_rejected_and_viewer_cannot_export(users_server, page, shot):
    app = users_server  # alice (viewer) among its users: signs in and looks
    page.goto(app.url)
    page.wait_for_url(re.compile(r"/login"))
    shot(page, "login")
    _login(page, app.url + "login", "alice", "not-her-password")
    page.get_by_text("Invalid username or password").wait_for()
    assert page.locator("article.td-card").count() == 0

    _login(page, app.url + "login", "alice", "alice-password")
    page.locator('article.td-card[data-symbol="AAPL"]').wait_for()
    assert "alice · viewer" in page.locator("#td-user").inner_text()
    page.goto(app.url + "explorer?symbol=AAPL&tab=export")
    page.get_by_text("Export needs the researcher role").wait_for()
    assert page.get_by_role("button", name="Download CSV").count() == 0
    shot(page, "explorer-export-denied")
    audit = app.cli("catalog", "--json")  # the CLI still works against the same store
    assert '"AAPL"' in audit.stdout


def _serving_processes(app, port: int) -> set[int]:
    """The server processes (children of ``tickdeck serve``) holding an established connection on ``port``."""
    return {k.pid for k in psutil.Process(app.proc.pid).children()
            if any(c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port for c in k.net_connections("tcp"))}


def test_researcher_can_export_under_prefix_with_two_processes(app_server, page, browser, shot):
    app = app_server(users=USERS, prefix="/tickdeck", num_procs=2)
    assert app.url.endswith("/tickdeck/")
    port = int(app.url.split(":")[2].split("/")[0])
    assert len(psutil.Process(app.proc.pid).children()) == 2  # two server processes share the port
    _login(page, app.url + "login", "bob", "bob-password")
    page.locator('article.td-card[data-symbol="MSFT"]').wait_for()
    page.locator('article.td-card[data-symbol="MSFT"] a.td-export').click()
    page.wait_for_url(re.compile(r"/tickdeck/explorer\?symbol=MSFT"))
    page.get_by_text(re.compile(r"MSFT · .* ticks")).first.wait_for()  # the selection has loaded
    with page.expect_download(timeout=120_000) as dl_info:
        page.get_by_role("button", name="Download CSV").click()
    assert dl_info.value.suggested_filename.startswith("MSFT_")
    # A fresh browser (bob's cookie only, no connection of its own yet) loads a page: it works whichever
    # process answers, and both processes took part (each holds a connection of a page that rendered).
    cookie = page.context.storage_state()
    page.context.close()
    seen: set[int] = set()
    for _ in range(5):  # the kernel hands each connection to either process: until both served one
        fresh = browser.new_context(storage_state=cookie)
        try:
            p = fresh.new_page()
            p.goto(app.url + "catalog")
            p.locator('details[data-symbol="MSFT"]').wait_for()
            assert "bob · researcher" in p.locator("#td-user").inner_text()
            seen |= _serving_processes(app, port)
        finally:
            fresh.close()
        if len(seen) == 2:
            break
    assert seen == {k.pid for k in psutil.Process(app.proc.pid).children()}, "one process served every connection"
