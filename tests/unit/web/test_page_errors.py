"""A page that cannot be built shows one readable line (and an error id for internal errors), never a traceback."""

from __future__ import annotations

import logging
import re

import panel as pn
import pytest

from tickdeck.app import server
from tickdeck.app.routes import Route
from tickdeck.core.errors import InvalidSymbol


def _shown(template) -> str:
    return " ".join(str(getattr(obj, "object", "")) for obj in template.main)


@pytest.fixture
def served_ctx(ctx, monkeypatch):
    monkeypatch.setattr(server, "_ctx", ctx)
    return ctx


def test_internal_error_in_a_page_factory_shows_an_error_id_and_logs_the_traceback(served_ctx, caplog):
    """Issue 11 item 17: an unexpected exception becomes 'internal error, id …'; the traceback (with the
    same id) goes to the server log, not to the page."""
    def factory(ctx):
        raise RuntimeError("boom in /srv/app/secret.py")

    with caplog.at_level(logging.ERROR, logger="tickdeck.ui"):
        text = _shown(server._factory(Route("boom", "Boom", factory))())
    m = re.search(r"internal error, id ([0-9a-f]{8})", text)
    assert m, text
    assert "secret.py" not in text and "Traceback" not in text and "RuntimeError" not in text
    record = next(r for r in caplog.records if m.group(1) in r.getMessage())
    assert record.exc_info and "boom in /srv/app/secret.py" in str(record.exc_info[1])


def test_error_while_rendering_a_page_is_caught_too(served_ctx, caplog):
    """Issue 11 item 17: a page whose layout fails when the template renders it shows one line."""
    class Broken(pn.viewable.Viewer):
        def __panel__(self):
            raise KeyError("missing column")

    with caplog.at_level(logging.ERROR, logger="tickdeck.ui"):
        text = _shown(server._factory(Route("broken", "Broken", lambda ctx: Broken()))())
    assert "internal error, id" in text and "missing column" not in text


def test_tickdeck_error_in_a_page_factory_is_its_own_escaped_message(served_ctx):
    """Issue 11 items 1 and 17: a TickdeckError shows its message, HTML-escaped."""
    def factory(ctx):
        raise InvalidSymbol("invalid ticker '<img src=x onerror=alert(1)>'")

    text = _shown(server._factory(Route("bad", "Bad", factory))())
    assert "invalid ticker &#x27;&lt;img src=x onerror=alert(1)&gt;&#x27;" in text and "<img" not in text
