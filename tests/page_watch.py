"""Browser-test helper: collect a page's errors and its requests to any host but the server."""
from __future__ import annotations

from urllib.parse import urlparse


def watch(page, origin: str) -> tuple[list[str], list[str]]:
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
