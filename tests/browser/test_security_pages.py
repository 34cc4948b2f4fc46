"""Script payloads in every URL parameter a page reads, and stored in data a page shows, in Chromium
against a real ``tickdeck serve``: no script runs, no markup is injected, no traceback is shown.

One server and one signed-in admin browser context for the module. Stored payloads: a dataset
whose source and venue are markup, a dead letter whose raw line and reason are markup, and an
audit-log entry written by a real failed login whose user name is markup.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from builders import add_users
from services_needed import stop_group

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
TICKDECK = [sys.executable, "-m", "tickdeck"]
START_TIMEOUT_S = 120
XSS = "<img src=x onerror=window.__xss=1>"
XSS2 = '"><svg onload=window.__xss=2>'
XSS3 = "a[x](javascript:window.__xss=3)"  # not leading "[": Panel would JSON-parse and drop it
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

# Elements carrying an event handler that mentions __xss, or a javascript: link, anywhere in the
# document or in any (open) shadow root: either means markup from the payload was parsed as HTML.
INJECTED_JS = """() => {
  const hits = [];
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      for (const a of el.attributes) {
        const name = a.name.toLowerCase(), value = (a.value || '').toLowerCase();
        if ((name.startsWith('on') && value.includes('__xss')) || (name === 'href' && value.startsWith('javascript:')))
          hits.push(el.outerHTML.slice(0, 160));
      }
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  walk(document);
  return hits;
}"""
# The visible text of the page including shadow roots (style and script contents left out).
TEXT_JS = """() => {
  const out = [];
  const walk = (root) => {
    for (const node of root.childNodes) {
      if (node.nodeType === 3) out.push(node.textContent);
      else if (node.nodeType === 1) {
        const tag = node.tagName.toLowerCase();
        if (tag !== 'style' && tag !== 'script') walk(node);
        if (node.shadowRoot) walk(node.shadowRoot);
      }
    }
  };
  walk(document.body);
  return out.join(' ');
}"""


def q(value: str) -> str:
    return quote(value, safe="")


@pytest.fixture(scope="module")
def site(demo_data, tmp_path_factory, chromium_path):
    from tickdeck.core.catalog import Catalog

    data_dir = tmp_path_factory.mktemp("xss") / "data"
    shutil.copytree(demo_data, data_dir)
    env = {**os.environ, "TICKDECK_DATA_DIR": str(data_dir), "TICKDECK_SECRET": "xss-test-secret"}
    add_users(data_dir, [("root", "admin", "root-password")])
    cat = Catalog(f"sqlite:///{data_dir / 'tickdeck.db'}")
    cat.upsert_dataset("MSFT", source=XSS, venue=XSS2)
    cat.add_dead_letters([("iqfeed", "AAPL", XSS, XSS2)])
    cat.engine.dispose()
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
    # A failed login whose user name is markup: the audit log (admin page) stores and shows it.
    s = requests.Session()
    token = re.search(r'name="csrf_token" value="([^"]+)"', s.get(base + "login").text)
    r = s.post(base + "login", data={"username": XSS, "password": "x", "csrf_token": token.group(1) if token else ""},
               allow_redirects=False)
    assert r.status_code in (200, 302, 401)
    yield type("Site", (), {"base": base, "log": log})
    stop_group(proc, fh)


@pytest.fixture(scope="module")
def signed_in(site, chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
        context = b.new_context(viewport={"width": 1400, "height": 950})
        context.set_default_timeout(60_000)
        p = context.new_page()
        p.goto(site.base + "login")
        p.locator("input[name=username]").fill("root")
        p.locator("input[name=password]").fill("root-password")
        p.locator("form.login-form button").first.click()
        p.locator("#td-user").first.wait_for()
        p.close()
        yield context
        b.close()


def visit(signed_in, url: str, expect, before_check=None) -> str:
    """Open ``url``, wait for ``expect`` (a text, or ``page -> locator``) to be shown, then check that nothing
    ran or was injected; returns the page text."""
    page = signed_in.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        page.goto(url)
        (expect(page) if callable(expect) else page.get_by_text(expect).first).wait_for()
        if before_check is not None:
            before_check(page)
        text = page.evaluate(TEXT_JS)
        assert page.evaluate("typeof window.__xss") == "undefined", url
        assert dialogs == [], dialogs
        assert page.evaluate(INJECTED_JS) == [], url
        assert "Traceback" not in text and not re.search(r'File "/|\.py", line \d', text), text[:2000]
        return text
    finally:
        page.close()


@pytest.mark.parametrize("query,expect", [
    (f"explorer?symbol={q(XSS)}", "invalid ticker"),
    (f"explorer?symbol={q(XSS2)}&tab=export", "invalid ticker"),
    (f"explorer?symbol=AAPL&view=bars&spec={q(XSS)}", "invalid bar spec"),
    (f"explorer?symbol=AAPL&view=bars&spec={q(XSS3)}", "invalid bar spec"),
    (f"explorer?symbol=AAPL&start={q(XSS)}&end={q(XSS2)}&session={q(XSS)}&view={q(XSS3)}&sma={q(XSS)}"
     f"&ema={q(XSS2)}&bollinger={q(XSS3)}&tab={q(XSS)}", "ignored invalid value(s) in the link"),
    (f"catalog?symbol={q(XSS)}", "invalid ticker"),
    (f"catalog?symbol={q(XSS3)}", "invalid ticker"),
    (f"validation?symbol={q(XSS)}&day={q(XSS2)}", "invalid ticker"),
    (f"validation?symbol={q('ſpy')}", "not ASCII"),
])
def test_script_in_a_url_parameter_is_shown_as_text_and_never_runs(site, signed_in, query, expect):
    """Issue 11 item 1: payloads in every URL parameter of explorer, catalog and validation are rejected
    with a readable message (escaped) and no script runs, no element is injected."""
    visit(signed_in, site.base + query, expect)


def test_catalog_with_a_bad_symbol_shows_one_line_not_a_traceback(site, signed_in):
    """Issue 11 item 17: /catalog?symbol=%3Cx showed a full server traceback; now one readable line."""
    text = visit(signed_in, site.base + "catalog?symbol=%3Cx", "invalid ticker")
    assert "InvalidSymbol" not in text and "site-packages" not in text


def test_stored_markup_in_datasets_dead_letters_and_audit_log_is_shown_as_text(site, signed_in):
    """Issue 11 item 1: markup that came from a file, a feed or a login form is displayed literally on the
    home cards, the catalog tree, the monitor's dead letters and the admin audit log."""
    visit(signed_in, site.base + f"?search={q(XSS)}",  # the MSFT card's source (home reads no parameter)
          lambda page: page.locator('article.td-card[data-symbol="MSFT"] .td-sub', has_text=XSS))
    visit(signed_in, site.base + "catalog", lambda page: page.locator(".td-tree summary b", has_text=XSS2))
    visit(signed_in, site.base + "admin",  # the failed login's user name in the audit log
          lambda page: page.locator(".tabulator-cell", has_text=XSS).first)
    visit(signed_in, site.base + "monitor", "Inspect dead letters",
          before_check=lambda page: (page.get_by_text("Inspect dead letters").first.click(),
                                     page.locator(".tabulator-cell", has_text=XSS2).first.wait_for()))


def test_server_log_has_no_traceback_for_the_payloads(site, signed_in):
    """Issue 11 items 1 and 17: the rejected values above were handled, not crashed on."""
    visit(signed_in, site.base + f"explorer?symbol={q(XSS)}", "invalid ticker")
    log = site.log.read_text(errors="replace")
    assert "Traceback" not in log, log[-4000:]
