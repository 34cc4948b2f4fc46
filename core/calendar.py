"""Trading calendar on ``exchange_calendars``: trading days, holidays, early closes, sessions.

Everything is US/Eastern and tz-aware. For XNYS the sessions of a trading day are
pre-market 04:00–09:30, regular 09:30–close (16:00, or the early close, usually 13:00) and
after-hours close–20:00 (17:00 on early-close days). Other calendars (``CMES``, ``24/7``)
have only a regular session: their exchange_calendars open to close.

Session labelling is vectorised: per trading day four boundaries (pre-open, open, close,
after-close) are laid out in one sorted array and ``np.searchsorted`` classifies any number of
nanosecond timestamps in one call.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

import exchange_calendars as xcals
import numpy as np
import pandas as pd

from tickdeck.core.errors import ConfigError
from tickdeck.core.naming import as_date

ET = "America/New_York"
PRE_OPEN = dt.time(4, 0)
AFTER_CLOSE = dt.time(20, 0)
EARLY_AFTER_CLOSE = dt.time(17, 0)
CALENDAR_NAMES = ("XNYS", "CMES", "24/7")
SESSION_OUTSIDE, SESSION_PRE, SESSION_REGULAR, SESSION_AFTER = -1, 0, 1, 2
_LABEL_BY_SLOT = np.array([SESSION_OUTSIDE, SESSION_PRE, SESSION_REGULAR, SESSION_AFTER], dtype=np.int8)


@dataclass(frozen=True)
class SessionBounds:
    """The four boundaries of one trading day, tz-aware ET."""

    day: dt.date
    pre_open: pd.Timestamp
    open: pd.Timestamp
    close: pd.Timestamp
    after_close: pd.Timestamp
    early_close: bool


@functools.lru_cache(maxsize=8)
def _xcal(name: str):
    try:
        return xcals.get_calendar(name, start="2000-01-01")
    except Exception as e:  # unknown name
        raise ConfigError("calendar", f"unknown exchange calendar {name!r}: {e}") from None


@functools.lru_cache(maxsize=8)
def get_calendar(name: str = "XNYS") -> "MarketCalendar":
    """Shared calendar instance per name (construction takes ~0.3 s)."""
    return MarketCalendar(name)


class MarketCalendar:
    """One exchange calendar with tickdeck's session conventions."""

    def __init__(self, name: str = "XNYS"):
        if name not in CALENDAR_NAMES:
            raise ConfigError("calendar", f"unknown calendar {name!r}; choose one of {', '.join(CALENDAR_NAMES)}")
        self.name = name
        self._cal = _xcal(name)
        self.extended_hours = name == "XNYS"
        sched = self._cal.schedule
        self._sessions = sched.index  # naive dates
        self._open_ns = sched["open"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
        self._close_ns = sched["close"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
        if self.extended_hours:
            days = self._sessions
            pre = (days + pd.Timedelta(hours=4)).tz_localize(ET)
            early = self._close_ns < (
                (days + pd.Timedelta(hours=16)).tz_localize(ET).asi8
            )
            after = np.where(
                early,
                (days + pd.Timedelta(hours=17)).tz_localize(ET).asi8,
                (days + pd.Timedelta(hours=20)).tz_localize(ET).asi8,
            )
            self._pre_ns = pre.asi8
            self._after_ns = after
            self._early = early
        else:
            self._pre_ns = self._open_ns
            self._after_ns = self._close_ns
            self._early = np.zeros(len(self._sessions), dtype=bool)
        self._day_index = {d.date(): i for i, d in enumerate(self._sessions)}

    # -- trading days ---------------------------------------------------------------------
    @property
    def first_day(self) -> dt.date:
        return self._sessions[0].date()

    @property
    def last_day(self) -> dt.date:
        return self._sessions[-1].date()

    def is_trading_day(self, day) -> bool:
        return as_date(day) in self._day_index

    def trading_days(self, start, end) -> list[dt.date]:
        """Trading days in ``[start, end]`` (inclusive)."""
        s, e = pd.Timestamp(as_date(start)), pd.Timestamp(as_date(end))
        lo, hi = self._sessions.searchsorted(s, "left"), self._sessions.searchsorted(e, "right")
        return [d.date() for d in self._sessions[lo:hi]]

    def previous_trading_days(self, end, n: int) -> list[dt.date]:
        """The last ``n`` trading days up to and including ``end``."""
        hi = self._sessions.searchsorted(pd.Timestamp(as_date(end)), "right")
        return [d.date() for d in self._sessions[max(0, hi - n):hi]]

    def missing_days(self, start, end, present) -> list[dt.date]:
        """Trading days in ``[start, end]`` that are not in ``present``."""
        have = {as_date(d) for d in present}
        return [d for d in self.trading_days(start, end) if d not in have]

    def holidays(self, start, end) -> dict[dt.date, str]:
        """Weekdays in ``[start, end]`` the exchange is closed, with the holiday's name."""
        s, e = pd.Timestamp(as_date(start)), pd.Timestamp(as_date(end))
        names: dict[dt.date, str] = {}
        rh = self._cal.regular_holidays
        if rh is not None:
            ser = rh.holidays(s, e, return_name=True)
            names.update({ts.date(): str(name) for ts, name in ser.items()})
        for ts in self._cal.adhoc_holidays:
            ts = pd.Timestamp(ts)
            if s <= ts.tz_localize(None) <= e:
                names.setdefault(ts.date(), "Special closure")
        out = {}
        for d in pd.bdate_range(s, e):
            day = d.date()
            if day not in self._day_index:
                out[day] = names.get(day, "Closed")
        return out

    def holiday_name(self, day) -> str | None:
        day = as_date(day)
        return self.holidays(day, day).get(day)

    def early_closes(self, start, end) -> list[dt.date]:
        return [d for d in self.trading_days(start, end) if self._early[self._day_index[d]]]

    def is_early_close(self, day) -> bool:
        i = self._day_index.get(as_date(day))
        return bool(i is not None and self._early[i])

    # -- sessions -------------------------------------------------------------------------
    def bounds(self, day) -> SessionBounds:
        """Session boundaries of a trading day; KeyError-style error for a non-trading day."""
        d = as_date(day)
        i = self._day_index.get(d)
        if i is None:
            from tickdeck.core.errors import NotFound

            raise NotFound(f"{d} is not a {self.name} trading day")

        def ts(ns):
            return pd.Timestamp(int(ns), tz="UTC").tz_convert(ET)

        return SessionBounds(d, ts(self._pre_ns[i]), ts(self._open_ns[i]), ts(self._close_ns[i]),
                             ts(self._after_ns[i]), bool(self._early[i]))

    def _boundary_slice(self, lo_ns: int, hi_ns: int):
        """Indices of sessions whose extended window may touch ``[lo_ns, hi_ns]``."""
        lo = max(0, int(np.searchsorted(self._after_ns, lo_ns, "right")) - 1)
        hi = int(np.searchsorted(self._pre_ns, hi_ns, "right")) + 1
        return lo, min(hi, len(self._sessions))

    def label_sessions(self, ns: np.ndarray) -> np.ndarray:
        """Session code (int8: -1 outside, 0 pre, 1 regular, 2 after) for UTC-ns timestamps."""
        ns = np.asarray(ns, dtype=np.int64)
        if ns.size == 0:
            return np.empty(0, dtype=np.int8)
        lo, hi = self._boundary_slice(int(ns.min()), int(ns.max()))
        b = np.empty((hi - lo) * 4, dtype=np.int64)
        b[0::4], b[1::4] = self._pre_ns[lo:hi], self._open_ns[lo:hi]
        b[2::4], b[3::4] = self._close_ns[lo:hi], self._after_ns[lo:hi]
        slot = np.searchsorted(b, ns, side="right") % 4
        return _LABEL_BY_SLOT[slot]

    def seconds_since_open(self, ns: np.ndarray) -> np.ndarray:
        """Seconds from the regular open of each timestamp's trading day (negative before)."""
        ns = np.asarray(ns, dtype=np.int64)
        if ns.size == 0:
            return np.empty(0, dtype=np.float64)
        lo, hi = self._boundary_slice(int(ns.min()), int(ns.max()))
        idx = np.searchsorted(self._pre_ns[lo:hi], ns, side="right") - 1
        idx = np.clip(idx, 0, hi - lo - 1)
        return (ns - self._open_ns[lo:hi][idx]) / 1e9

    def session_of(self, ts) -> str:
        """Session name of one timestamp: ``pre``, ``regular``, ``after`` or ``outside``."""
        t = pd.Timestamp(ts)
        if t.tzinfo is None:
            t = t.tz_localize(ET)
        code = int(self.label_sessions(np.array([t.value]))[0])
        return {SESSION_OUTSIDE: "outside", SESSION_PRE: "pre", SESSION_REGULAR: "regular",
                SESSION_AFTER: "after"}[code]

    def session_days(self, ns: np.ndarray) -> np.ndarray:
        """Trading day (as datetime64[D]) each timestamp belongs to (by its extended window)."""
        ns = np.asarray(ns, dtype=np.int64)
        idx = np.clip(np.searchsorted(self._pre_ns, ns, side="right") - 1, 0, len(self._sessions) - 1)
        return self._sessions.to_numpy(dtype="datetime64[D]")[idx]

    def last_completed_trading_day(self, now=None) -> dt.date:
        """Latest trading day whose extended session (after-hours) has ended by ``now``."""
        now_ns = pd.Timestamp.now(tz=ET).value if now is None else _to_ns(now)
        i = int(np.searchsorted(self._after_ns, now_ns, side="right")) - 1
        return self._sessions[max(i, 0)].date()

    def next_transition(self, now=None) -> tuple[str, pd.Timestamp]:
        """Current session name and the time of the next boundary after ``now``."""
        now_ns = pd.Timestamp.now(tz=ET).value if now is None else _to_ns(now)
        lo, hi = self._boundary_slice(now_ns, now_ns + 10 * 86_400 * 10**9)
        b = np.empty((hi - lo) * 4, dtype=np.int64)
        b[0::4], b[1::4] = self._pre_ns[lo:hi], self._open_ns[lo:hi]
        b[2::4], b[3::4] = self._close_ns[lo:hi], self._after_ns[lo:hi]
        k = int(np.searchsorted(b, now_ns, side="right"))
        label = {SESSION_OUTSIDE: "closed", SESSION_PRE: "pre", SESSION_REGULAR: "regular",
                 SESSION_AFTER: "after"}[int(_LABEL_BY_SLOT[k % 4])]
        nxt = pd.Timestamp(int(b[min(k, len(b) - 1)]), tz="UTC").tz_convert(ET)
        return label, nxt


def _to_ns(t) -> int:
    ts = pd.Timestamp(t)
    if ts.tzinfo is None:
        ts = ts.tz_localize(ET)
    return ts.value
