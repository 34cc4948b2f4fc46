"""Every page on an empty store shows what to do next; no page asks a host other than the server.

Both run Chromium against a real ``tickdeck serve``: on an empty data dir (no users: the local
admin sees every page) and on the demo data with auth on (the login and signed-out pages too).
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

from app.routes import ROUTES

ADMIN = ("root", "admin", "root-password")
EMPTY_TEXT = {  # the empty-state line each page shows when nothing is stored
    "": "No datasets yet",
    "explorer": "No tick data yet",
    "catalog": "Nothing stored yet",
    "monitor": "Nothing collected yet",
    "indicators": "No indicators stored",
}
PAGE_READY = ".bk-panel-models-layout-Column, .bk-Column"  # the page's root layout is in the DOM


def _watch(page, origin: str) -> tuple[list[str], list[str]]:
    """Collect page errors and requests to any host but ``origin`` (data:/blob: URLs stay local)."""
    errors: list[str] = []
    foreign: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))

    def on_request(request) -> None:
        u = urlparse(request.url)
        if u.scheme in ("http", "https", "ws", "wss") and u.netloc != origin:
            foreign.append(f"{page.url} -> {request.url}")

    page.on("request", on_request)
    return errors, foreign


def _visit(page, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.locator(PAGE_READY).first.wait_for()


def test_every_page_on_an_empty_store_says_what_to_do_next(app_server, page, shot):
    app = app_server(data=False)
    errors, _ = _watch(page, urlparse(app.url).netloc)
    for route in ROUTES:
        _visit(page, app.url + route.slug)
        expected = EMPTY_TEXT.get(route.slug)
        if expected:
            page.get_by_text(expected).first.wait_for()
        page.get_by_text(re.compile(r"^#{0,3} ?\w")).first.wait_for()  # something rendered
        assert page.get_by_text("Traceback").count() == 0, f"{route.slug or 'home'} shows a traceback"
        shot(page, f"empty-{route.slug or 'home'}")
    assert errors == []


def test_no_page_requests_a_host_other_than_the_server(app_server, page, shot):
    app = app_server(users=(ADMIN,))
    errors, foreign = _watch(page, urlparse(app.url).netloc)
    page.goto(app.url + "login")
    page.wait_for_load_state("networkidle")
    assert page.locator("form.login-form svg").count() == 1  # the logo is inline: nothing to fetch
    assert page.locator("img").count() == 0
    shot(page, "login-branded")
    page.get_by_label("User name").fill(ADMIN[0])
    page.get_by_label("Password").fill(ADMIN[2])
    page.locator("form.login-form button").click()
    page.locator("#td-user").first.wait_for()
    for route in ROUTES:
        _visit(page, app.url + route.slug)
    page.goto(app.url + "logout")
    page.get_by_text("Signed out").wait_for()
    shot(page, "logout-branded")
    assert foreign == []
    assert errors == []
