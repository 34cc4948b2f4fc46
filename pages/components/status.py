"""Dataset health badge: a :class:`tickdeck.core.status.DatasetStatus` drawn as colour *and* text.

The classification (fresh / stale / outdated / empty / collection failed, quality bands on the
0–100 scale) is :mod:`core.status`'s; this module only draws it, the same way on the home cards,
the admin freshness rows and the validation page.
"""

from __future__ import annotations

import html

from tickdeck.core.status import DatasetStatus

COLOURS = {"ok": ("#1a7f37", "#dafbe1"), "warn": ("#9a6700", "#fff8c5"), "bad": ("#cf222e", "#ffebe9")}
ICONS = {"ok": "✓", "warn": "!", "bad": "✕"}  # colour is never the only signal
BAND_LEVEL = {"good": "ok", "fair": "warn", "poor": "bad", None: "idle"}  # quality band -> badge kind


def badge_html(s: DatasetStatus) -> str:
    """The dataset's badge: icon and label on its level's colours; ``detail`` as the tooltip."""
    fg, bg = COLOURS[s.level]
    return (f'<span class="td-badge td-{s.level}" role="status" data-level="{s.level}" '
            f'title="{html.escape(s.detail)}" '
            f'style="color:{fg};background:{bg};border:1px solid {fg};border-radius:10px;padding:1px 8px;'
            f'font-size:.8em;white-space:nowrap">{ICONS[s.level]} {html.escape(s.label)}</span>')


def quality_html(s: DatasetStatus) -> str:
    """The dataset's quality in words on the 0–100 scale, e.g. ``1 / 100 (poor)``, marked with its band."""
    return (f'<span class="td-quality" data-band="{s.quality_band or "none"}">'
            f"{html.escape(s.quality_text)}</span>")
