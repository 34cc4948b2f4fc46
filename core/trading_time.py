"""Trading sessions of a day range on the ET wall clock, and trading time, for the explorer's charts.

:func:`session_spans` lists, for every trading day in a range (holidays skipped, early closes
honoured; from :mod:`tickdeck.core.calendar`), the pre-market ``[pre_open, open)``, regular
``[open, close)`` and after-hours ``[close, after_close)`` spans as naive-ET int64 ns — the clock
the explorer's charts draw on.

:func:`trading_clock` builds a :class:`TradingClock` for a range: the chosen session's hours open,
nights, weekends and holidays collapsed, so a multi-day chart has no empty stretches. Charts
place data at ``clock.to_trading(t)`` and label their axis and hovers with ``clock.to_real(x)``
(real times and dates); ``clock.seams`` are where a closed period was removed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tickdeck.core.calendar import get_calendar

SESSION_NAMES = ("pre", "regular", "after")


@dataclass(frozen=True, eq=False)
class SessionSpans:
    """Parallel arrays: span ``i`` runs from ``start[i]`` to ``end[i]`` (naive ET ns) in session ``kind[i]``."""

    start: np.ndarray
    end: np.ndarray
    kind: np.ndarray  # index into SESSION_NAMES

    def __len__(self) -> int:
        return int(self.start.size)


def _wall_ns(ts) -> int:
    return int(ts.tz_convert("America/New_York").tz_localize(None).value)


def session_spans(start, end, calendar: str = "XNYS") -> SessionSpans:
    """The pre, regular and after spans of every trading day in ``[start, end]`` (3 per day, in order)."""
    cal = get_calendar(calendar)
    bounds = [cal.bounds(d) for d in cal.trading_days(start, end)]
    edges = np.array([[_wall_ns(b.pre_open), _wall_ns(b.open), _wall_ns(b.close), _wall_ns(b.after_close)]
                      for b in bounds], dtype=np.int64).reshape(-1, 4)
    starts = edges[:, :3].ravel()
    ends = edges[:, 1:].ravel()
    kind = np.tile(np.arange(3, dtype=np.int8), len(bounds))
    return SessionSpans(starts, ends, kind)


# -- trading time: closed periods collapsed ----------------------------------------------------
CLOSED_GAP_NS = 0  # a closed period (night, weekend, holiday) takes no width; charts mark the seam with a line
SESSIONS_OF = {"all": (0, 1, 2), "pre": (0,), "regular": (1,), "after": (2,)}


@dataclass(frozen=True, eq=False)
class TradingClock:
    """A piecewise map between the ET wall clock and *trading time*, both naive-ET int64 ns.

    Open segment ``i`` runs on the wall clock from ``real_start[i]`` to ``real_end[i]`` and on
    the trading axis from ``trading_start[i]`` for as long; the closed period after it takes
    ``gap`` ns (:data:`CLOSED_GAP_NS`: none). The first segment is the identity (trading time
    equals wall-clock time there), so a one-day view reads the same either way. A time inside a
    closed period maps to the closing instant before it; times before the first or after the
    last segment extend its line. Both directions are vectorised (``searchsorted``).
    """

    real_start: np.ndarray
    real_end: np.ndarray
    trading_start: np.ndarray
    gap: int = CLOSED_GAP_NS

    def __len__(self) -> int:
        return int(self.real_start.size)

    @property
    def collapses(self) -> bool:
        """Whether any closed period is removed (more than one open segment)."""
        return len(self) > 1

    @property
    def seams(self) -> np.ndarray:
        """Trading times where a closed period was removed (the start of every segment but the first)."""
        return self.trading_start[1:]

    @property
    def closed_ns(self) -> np.ndarray:
        """Wall-clock length of each closed period removed (one per seam)."""
        return self.real_start[1:] - self.real_end[:-1]

    def to_trading(self, t) -> np.ndarray:
        """Wall-clock times (naive ET ns, any int64 array-like) on the trading axis."""
        t = np.asarray(t, dtype=np.int64)
        if not len(self):
            return t.copy()
        i = np.clip(np.searchsorted(self.real_start, t, side="right") - 1, 0, len(self) - 1)
        into = t - self.real_start[i]
        length = self.real_end[i] - self.real_start[i]
        inner = i < len(self) - 1  # the last segment extends past its end
        over = np.where(inner, np.minimum(np.maximum(into - length, 0), self.gap), 0)
        into = np.where(inner & (into > length), length, into)
        return self.trading_start[i] + into + over

    def to_real(self, x) -> np.ndarray:
        """Trading-axis positions (int64 ns) back on the wall clock; a seam reads as the next open."""
        x = np.asarray(x, dtype=np.int64)
        if not len(self):
            return x.copy()
        i = np.clip(np.searchsorted(self.trading_start, x, side="right") - 1, 0, len(self) - 1)
        into = x - self.trading_start[i]
        length = self.real_end[i] - self.real_start[i]
        inner = i < len(self) - 1
        return self.real_start[i] + np.where(inner, np.minimum(into, length), into)

    @classmethod
    def from_segments(cls, start, end, *, times=None, gap: int = CLOSED_GAP_NS) -> TradingClock:
        """The clock whose open periods are the spans ``[start[i], end[i])`` (naive ET ns, in order).

        Touching or overlapping spans merge. With ``times`` (sorted naive-ET ns of the data shown),
        a closed period holding any of them stays open (data outside the calendar's hours, e.g. a
        24-hour market, is never squeezed onto one instant), and the first and last segments are
        stretched to cover the first and last time.
        """
        start = np.asarray(start, dtype=np.int64)
        end = np.asarray(end, dtype=np.int64)
        if times is not None and len(times):
            times = np.asarray(times, dtype=np.int64)
            if not start.size:
                start, end = times[:1], times[-1:] + 1
            start = start.copy()
            end = end.copy()
            start[0] = min(start[0], times[0])
            end[-1] = max(end[-1], times[-1] + 1)
        if not start.size:
            return cls(start, end, start.copy(), gap)
        # merge a span into the previous one when nothing closed lies between them (or data does)
        closed = start[1:] > np.maximum.accumulate(end)[:-1]
        if times is not None and len(times) and closed.any():
            prev_end = np.maximum.accumulate(end)[:-1]
            # a time exactly at the close belongs to the session before (a bar ending at 20:00)
            held = np.searchsorted(times, start[1:], side="left") > np.searchsorted(times, prev_end, side="right")
            closed &= ~held
        first = np.concatenate([[True], closed])
        seg_start = start[first]
        seg_end = np.maximum.reduceat(end, np.flatnonzero(first))
        lengths = seg_end - seg_start
        trading_start = seg_start[0] + np.concatenate([[0], np.cumsum(lengths[:-1] + gap)])
        return cls(seg_start, seg_end, trading_start.astype(np.int64), gap)


def trading_clock(start, end, session: str = "all", *, times=None, calendar: str = "XNYS",
                  gap: int = CLOSED_GAP_NS) -> TradingClock:
    """The trading clock of the days ``[start, end]``: the ``session``'s hours of every trading day
    (holidays skipped, early closes honoured) open, everything else collapsed.

    ``session`` is ``all`` (04:00–20:00 ET on a normal day), ``pre``, ``regular`` or ``after``;
    ``times`` (sorted naive-ET ns of the data shown) keeps closed periods that hold data open
    (:meth:`TradingClock.from_segments`).

    Raises
    ------
    KeyError
        An unknown session name.
    """
    spans = session_spans(start, end, calendar)
    keep = np.isin(spans.kind, SESSIONS_OF[session])
    return TradingClock.from_segments(spans.start[keep], spans.end[keep], times=times, gap=gap)
