"""Issue 13: the interactive API docs at /api/docs load in Chromium from tickdeck alone (no CDN: every
request the page makes stays on the server's origin), under --prefix too, and list the operations."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.browser


def test_api_docs_render_offline_with_every_request_on_the_origin(users_server, page, shot):
    """Issue 13: Swagger UI renders the OpenAPI document's operations; requests leaving the origin are
    recorded (and blocked, as offline) — there are none."""
    served = users_server  # under the prefix /td, auth on
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(served.url))
    seen, foreign = [], []
    page.on("request", lambda r: seen.append(r.url))

    def block(route):
        foreign.append(route.request.url)
        route.abort()

    page.context.route(lambda url: not url.startswith(origin), block)
    page.goto(served.url + "api/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=60_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/v1/me" in p for p in paths) and any("/api/v1/keys" in p for p in paths), paths
    assert page.locator(".swagger-ui .info .title").inner_text().startswith("tickdeck API")
    shot(page, "api-docs")
    assert not foreign, f"requests left the origin: {foreign}"
    assert all(u.startswith(origin + "/td/") for u in seen), seen
    assert any(u.endswith("/td/api/v1/openapi.json") for u in seen)
