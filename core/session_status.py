"""Market session status for the UI: open/closed, current session, next transition, holiday.

``session_status(calendar, now)`` is pure (inject ``now`` in tests); pages poll it once a
second for the countdown.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from tickdeck.core.calendar import ET, MarketCalendar
from tickdeck.core.naming import as_date

SESSION_LABELS = {"closed": "Closed", "pre": "Pre-market", "regular": "Regular session", "after": "After-hours"}


@dataclass(frozen=True)
class SessionStatus:
    now: pd.Timestamp
    session: str  # closed | pre | regular | after
    is_open: bool  # regular session in progress
    trading_day: dt.date | None  # today's trading day, None on weekends and holidays
    next_session: str  # the session that starts at next_transition
    next_transition: pd.Timestamp
    countdown_s: float
    holiday_name: str | None
    early_close: bool
    close: pd.Timestamp | None  # today's regular close (early-close aware)

    @property
    def label(self) -> str:
        return SESSION_LABELS[self.session]

    @property
    def countdown(self) -> str:
        s = max(0, int(self.countdown_s))
        d, s = divmod(s, 86_400)
        h, s = divmod(s, 3600)
        m, s = divmod(s, 60)
        return (f"{d}d " if d else "") + f"{h:02d}:{m:02d}:{s:02d}"

    def to_dict(self) -> dict:
        return {"now": self.now.isoformat(), "session": self.session, "label": self.label, "is_open": self.is_open,
                "trading_day": self.trading_day and self.trading_day.isoformat(), "next_session": self.next_session,
                "next_transition": self.next_transition.isoformat(), "countdown_s": self.countdown_s,
                "countdown": self.countdown, "holiday_name": self.holiday_name, "early_close": self.early_close,
                "close": self.close and self.close.isoformat()}


def _et(now) -> pd.Timestamp:
    t = pd.Timestamp.now(tz=ET) if now is None else pd.Timestamp(now)
    return t.tz_localize(ET) if t.tzinfo is None else t.tz_convert(ET)


def session_status(calendar: MarketCalendar, now=None) -> SessionStatus:
    """The status at ``now`` (default: the wall clock)."""
    now = _et(now)
    session, nxt = calendar.next_transition(now)
    next_session, _ = calendar.next_transition(nxt)
    today = as_date(now)
    trading = calendar.is_trading_day(today)
    holiday = None if trading or today.weekday() >= 5 else calendar.holiday_name(today)
    close = calendar.bounds(today).close if trading else None
    return SessionStatus(now, session, session == "regular", today if trading else None, next_session, nxt,
                         (nxt - now).total_seconds(), holiday, calendar.is_early_close(today) if trading else False,
                         close)
