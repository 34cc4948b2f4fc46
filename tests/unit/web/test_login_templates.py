"""The sign-in and signed-out pages are tickdeck's own and load nothing from another host."""

from __future__ import annotations

import re

from tickdeck.app.login import auth_template


def test_login_page_is_branded_self_contained_and_keeps_the_post_form_the_csrf_field_needs():
    page = auth_template("login").render(login_endpoint="/login", errormessage="<b>wrong</b>", PANEL_CDN="https://cdn/")
    assert re.findall(r'(?:src|href)="(?!data:|\.)[^"]*"', page) == []  # no asset URL but inline data
    assert "<svg" in page and "tickdeck" in page
    assert 'method="post">' in page  # tickdeck.app.login inserts the CSRF field after it
    assert '<label for="username">' in page and 'id="username"' in page
    assert "&lt;b&gt;wrong&lt;/b&gt;" in page


def test_logout_page_is_branded_and_self_contained():
    page = auth_template("logout").render(LOGIN_ENDPOINT="/login", PANEL_CDN="https://cdn/")
    assert "https://" not in page and "<svg" in page and "Signed out" in page
