"""Every page on an empty store shows what to do next; no page asks a host other than the server.

Both run Chromium against a real ``tickdeck serve``: on an empty data dir (no users: the local
admin sees every page) and on the demo data with auth on (the login and signed-out pages, and the
explorer's tabs built on demand; every page's requests on the demo data are checked, at 375 px, by
``test_every_page.py``).
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

from page_watch import watch
from tickdeck.app.routes import ROUTES

ADMIN = ("root", "admin", "root-password")
EMPTY_TEXT = {  # the empty-state line each page shows when nothing is stored
    "": "No datasets yet",
    "explorer": "No tick data yet",
    "catalog": "Nothing stored yet",
    "validation": "Nothing to validate yet",
    "monitor": "Nothing collected yet",
    "indicators": "No indicators stored",
    "deadletters": "No dead letters",
    "admin": "No datasets yet",
}
PAGE_READY = ".bk-panel-models-layout-Column, .bk-Column"  # the page's root layout is in the DOM


def _visit(page, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.locator(PAGE_READY).first.wait_for()


def test_every_page_on_an_empty_store_says_what_to_do_next(empty_server, page, shot):
    app = empty_server
    errors, _ = watch(page, urlparse(app.url).netloc)
    for route in ROUTES:
        _visit(page, app.url + route.slug)
        page.get_by_text(EMPTY_TEXT[route.slug]).first.wait_for()
        assert page.get_by_text("Traceback").count() == 0, f"{route.slug or 'home'} shows a traceback"
        shot(page, f"empty-{route.slug or 'home'}")
    assert errors == []


def test_no_page_requests_a_host_other_than_the_server(users_server, page, shot):
    app = users_server  # ADMIN among its users
    errors, foreign = watch(page, urlparse(app.url).netloc)
    page.goto(app.url + "login")
    page.wait_for_load_state("networkidle")
    assert page.locator("form.login-form svg").count() == 1  # the logo is inline: nothing to fetch
    assert page.locator("img").count() == 0
    shot(page, "login-branded")
    page.get_by_label("User name").fill(ADMIN[0])
    page.get_by_label("Password").fill(ADMIN[2])
    page.locator("form.login-form button").click()
    page.locator("#td-user").first.wait_for()
    # every page without auth is checked in test_every_page.py; here the pages only a signed-in user sees
    _visit(page, app.url + "explorer?symbol=AAPL")  # the tabs built on demand: the grid and the export form
    page.locator(".bk-tab", has_text="Table").click()
    page.locator(".tabulator").first.wait_for()
    page.locator(".bk-tab", has_text="Export").click()
    page.wait_for_load_state("networkidle")
    page.goto(app.url + "logout")
    page.get_by_text("Signed out").wait_for()
    shot(page, "logout-branded")
    assert foreign == []
    assert errors == []


NOISE = ("Traceback", "reference already known", "Task exception was never retrieved", "WebSocketClosedError")


def _raw_client(app, slug: str, *, drop: bool) -> None:
    """A Bokeh client asking for the whole document: ``drop`` leaves without a close frame right after
    asking (a tab whose process died mid-update); otherwise it reads the reply and closes properly."""
    import asyncio
    import concurrent.futures
    import json
    import urllib.request

    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    with urllib.request.urlopen(app.url + slug, timeout=60) as r:
        token = re.search(r'"token":\s*"([^"]+)"', r.read().decode()).group(1)

    async def run() -> None:
        ws_url = app.url.replace("http://", "ws://") + (f"{slug}/ws" if slug else "ws")
        conn = await websocket_connect(HTTPRequest(ws_url), subprotocols=["bokeh", token])
        assert json.loads(await conn.read_message())["msgtype"] == "ACK"
        await conn.read_message()
        await conn.read_message()
        for frame in ({"msgid": "1", "msgtype": "PULL-DOC-REQ"}, {}, {}):
            await conn.write_message(json.dumps(frame))
        if drop:
            conn.stream.close()  # no close frame
            return
        async def reply_to(msgid: str) -> str:
            while True:
                frame = await conn.read_message()
                assert frame is not None, "the server closed the connection before its reply"
                header = json.loads(frame) if isinstance(frame, str) else {}
                if header.get("msgtype") == "PULL-DOC-REPLY" and header.get("reqid") == msgid:
                    await conn.read_message()  # metadata
                    return await conn.read_message()  # content: the document as the server serialised it

        roots = json.loads(await reply_to("1"))["doc"]["roots"]
        root, child = next((r, c) for r in roots for c in r.get("attributes", {}).get("children", [])
                           if isinstance(c, dict) and "name" in c)  # a child in full: a model the session has
        # a client re-sending a known model (a tab reconnecting or closing) in a change of the root
        event = {"kind": "ModelChanged", "model": {"id": root["id"]}, "attr": "children", "new": [child]}
        for frame in ({"msgid": "2", "msgtype": "PATCH-DOC"}, {}, {"events": [event]},
                      {"msgid": "3", "msgtype": "PULL-DOC-REQ"}, {}, {}):
            await conn.write_message(json.dumps(frame))
        await reply_to("3")  # the patch was applied before this request was answered
        conn.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # Playwright's loop runs in this thread
        pool.submit(lambda: asyncio.run(run())).result(timeout=120)


def test_closed_tabs_and_dropped_websockets_leave_no_traceback_in_the_server_log(demo_server, browser):
    app = demo_server
    start = app.log.stat().st_size  # the shared server's log: this test's part
    context = browser.new_context(viewport={"width": 1400, "height": 950})
    context.set_default_timeout(60_000)
    for slug in ("", "explorer?symbol=AAPL&view=ticks", "monitor", "indicators"):
        tab = context.new_page()
        tab.goto(app.url + slug)
        tab.locator(PAGE_READY).first.wait_for()
        tab.reload()  # the previous session is torn down while its first patches may still be written
        tab.locator(PAGE_READY).first.wait_for()
        tab.close()  # mid-update: home and monitor push live changes, the explorer loads its chart
    context.close()
    for slug in ("", "explorer", "monitor", "catalog"):
        _raw_client(app, slug, drop=True)
    # the server's one event loop handled those closes before it answers a later client's document
    _raw_client(app, "catalog", drop=False)
    noisy = [line for line in app.log_since(start).splitlines() if any(n in line for n in NOISE)]
    assert noisy == [], "\n".join(noisy[:20])
