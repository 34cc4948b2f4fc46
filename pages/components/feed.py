"""The feed connection panel, rendered from :class:`tickdeck.core.events.FeedStatusChanged` events.

One block per feed client (Level 1 and history): a state badge whose text says the state
(connected / reconnecting / disconnected / breaker open — colour is never the only signal),
the latency in ms with one decimal, labelled counters, the circuit breaker, the last error
(escaped) and when the status was reported ("3 s ago"). :func:`feed_summary` gives the one
badge for the whole feed (the Level 1 client when there is one). Pure functions of the
events: they render the same in a served page, Jupyter and tests.
"""

from __future__ import annotations

import html

from tickdeck.core.events import FeedStatusChanged
from tickdeck.pages.components.ui import badge

STATE_BADGE = {  # state -> (badge kind, text)
    "connected": ("ok", "connected"),
    "reconnecting": ("warn", "reconnecting"),
    "disconnected": ("bad", "disconnected"),
    "breaker_open": ("bad", "breaker open"),
}
KIND_LABEL = {"level1": "Level 1", "history": "History"}
KIND_ORDER = ("level1", "history")  # the live stream first: it is what "the feed" means while collecting
COUNTERS = (("lines", "Lines received"), ("ticks", "Ticks"), ("bad_lines", "Bad lines"), ("errors", "Errors"),
            ("reconnects", "Reconnects"))


def ago(seconds: float) -> str:
    """``just now``, ``3 s ago``, ``4 min ago``, ``2 h ago``, ``3 d ago``."""
    s = int(max(0.0, seconds))
    if s < 1:
        return "just now"
    if s < 60:
        return f"{s} s ago"
    if s < 3600:
        return f"{s // 60} min ago"
    if s < 86400:
        return f"{s // 3600} h ago"
    return f"{s // 86400} d ago"


def latency_text(ms: float | None) -> str:
    """``53.9 ms`` (one decimal), or ``—`` before the first measurement."""
    return "—" if ms is None else f"{ms:,.1f} ms"


def primary(statuses: dict[str, FeedStatusChanged]) -> FeedStatusChanged | None:
    """The status that stands for the whole feed: Level 1 when known, else history."""
    for kind in KIND_ORDER:
        if kind in statuses:
            return statuses[kind]
    return None


def feed_summary(statuses: dict[str, FeedStatusChanged]) -> tuple[str, str]:
    """(badge kind, text) for the whole feed."""
    st = primary(statuses)
    if st is None:
        return "idle", "No feed status yet (no collection running)"
    kind, text = STATE_BADGE[st.state]
    return kind, f"Feed {text}"


def client_html(st: FeedStatusChanged, now: float) -> str:
    """One client's block (test ids end in the client kind, e.g. ``feed-latency-level1``)."""
    k = html.escape(st.kind)
    kind, text = STATE_BADGE[st.state]
    rows = [("Latency", latency_text(st.latency_ms), f"feed-latency-{k}")]
    rows += [(label, f"{getattr(st, name):,}", "") for name, label in COUNTERS]
    rows += [("Circuit breaker", st.breaker, ""), ("Last error", st.last_error or "none", f"feed-error-{k}"),
             ("Updated", ago(now - st.updated_at), f"feed-updated-{k}")]
    items = "".join(f"<dt>{html.escape(label)}</dt><dd{f' data-testid={chr(34)}{tid}{chr(34)}' if tid else ''}>"
                    f"{html.escape(value)}</dd>" for label, value, tid in rows)
    return (f"<div class='td-feed-client' data-testid='feed-{k}'>"
            f"<b>{html.escape(KIND_LABEL.get(st.kind, st.kind))}</b> "
            f"<span class='td-muted'>{html.escape(st.host)}:{st.port}</span> "
            f"{badge(kind, text, testid=f'feed-state-{k}')}"
            f"<dl class='td-kv' data-testid='feed-counters-{k}'>{items}</dl></div>")


def feed_html(statuses: dict[str, FeedStatusChanged], now: float) -> str:
    """The whole panel: the summary badge, then one block per client."""
    kind, text = feed_summary(statuses)
    blocks = "".join(client_html(statuses[k], now) for k in KIND_ORDER if k in statuses)
    return f"{badge(kind, text, testid='feed-status')}{blocks}"
