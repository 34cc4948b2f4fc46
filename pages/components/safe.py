"""Text that reaches the browser from outside (URL, form, file, feed) goes through here.

* :func:`md_text` — a value shown inside a Markdown (or Alert) pane: HTML is escaped and
  Markdown punctuation is backslash-escaped, so ``<img onerror=…>`` or ``[x](javascript:…)``
  arrive as the literal text.
* HTML panes use :func:`html.escape` on every interpolated value (see the pages).
* :func:`sync_url` — mirror a page's params in the query string like ``Location.sync``, but a
  value that does not validate is dropped and reported (by name) instead of silently
  discarding the whole link.
"""

from __future__ import annotations

import html
import re
from typing import Callable

import panel as pn

_MD_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$=:])")  # < > & are HTML-escaped instead
SHOWN_VALUE_CHARS = 80  # a rejected URL value is quoted up to this length


def md_text(value) -> str:
    """``value`` as literal text inside Markdown: no HTML, no formatting, no links."""
    return html.escape(_MD_PUNCTUATION.sub(r"\\\1", str(value)), quote=False)


def shorten(value, limit: int = SHOWN_VALUE_CHARS) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def sync_url(obj, mapping: dict[str, str], on_invalid: Callable[[dict[str, str]], None]) -> None:
    """Sync ``obj``'s params with the URL (``{param: query name}``); served pages only.

    Values from the URL that a param rejects are left at their defaults and passed to
    ``on_invalid`` as ``{query name: raw value}``; the valid ones still apply.
    """
    loc = pn.state.location
    if loc is None:
        return

    def retry_one_by_one(values: dict) -> None:
        bad = {}
        for name, value in values.items():
            try:
                obj.param.update(**{name: value})
            except Exception:  # noqa: BLE001 - any rejection by the param is a bad link value
                bad[mapping.get(name, name)] = shorten(value)
        if bad:
            on_invalid(bad)

    loc.sync(obj, mapping, on_error=retry_one_by_one)


def describe_invalid(bad: dict[str, str]) -> str:
    """One line naming the URL values that were ignored."""
    items = ", ".join(f"{k}={v!r}" for k, v in bad.items())
    return f"ignored invalid value(s) in the link: {items}"
