"""Dataset health badge: green / amber / red from freshness and quality, always with a text label.

Freshness counts the trading days between a dataset's last stored day and the calendar's last
completed trading day; quality is the catalog's mean ``quality_score`` (0–1) when present.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass

from core.calendar import MarketCalendar

FRESH_MAX_LAG = 0  # trading days behind the last completed day that still count as fresh
STALE_MAX_LAG = 3  # up to this many trading days behind is amber; more is red
QUALITY_GOOD = 0.9  # below this a fresh dataset is amber
QUALITY_BAD = 0.7  # below this a dataset is red whatever its freshness

COLOURS = {"green": ("#1a7f37", "#dafbe1"), "amber": ("#9a6700", "#fff8c5"), "red": ("#cf222e", "#ffebe9")}
ICONS = {"green": "✓", "amber": "!", "red": "✕"}  # colour is never the only signal


@dataclass(frozen=True)
class Status:
    level: str  # green | amber | red
    label: str  # short text shown next to the colour
    detail: str  # tooltip: why


def dataset_status(last_day: dt.date | None, quality: float | None, calendar: MarketCalendar,
                   today_done: dt.date | None = None) -> Status:
    """Classify a dataset.

    Parameters
    ----------
    last_day
        Last stored trading day (``None`` when nothing is stored).
    quality
        Mean quality score 0–1, or ``None`` when not validated yet.
    today_done
        The last completed trading day; defaults to the calendar's.
    """
    if last_day is None:
        return Status("red", "Empty", "no trading days stored")
    done = today_done or calendar.last_completed_trading_day()
    lag = 0 if last_day >= done else max(len(calendar.trading_days(last_day, done)) - 1, 1)
    q = "" if quality is None else f"; quality {quality:.0%}"
    if quality is not None and quality < QUALITY_BAD:
        return Status("red", "Poor quality", f"quality {quality:.0%} is below {QUALITY_BAD:.0%}")
    if lag > STALE_MAX_LAG:
        return Status("red", "Outdated", f"{lag} trading days behind {done}{q}")
    if lag > FRESH_MAX_LAG:
        return Status("amber", "Stale", f"{lag} trading day{'s' if lag != 1 else ''} behind {done}{q}")
    if quality is not None and quality < QUALITY_GOOD:
        return Status("amber", "Check quality", f"up to date; quality {quality:.0%} is below {QUALITY_GOOD:.0%}")
    return Status("green", "Fresh", f"up to date with {done}{q}")


def badge_html(s: Status) -> str:
    fg, bg = COLOURS[s.level]
    return (f'<span class="td-badge td-{s.level}" role="status" title="{html.escape(s.detail)}" '
            f'style="color:{fg};background:{bg};border:1px solid {fg};border-radius:10px;padding:1px 8px;'
            f'font-size:.8em;white-space:nowrap">{ICONS[s.level]} {html.escape(s.label)}</span>')
