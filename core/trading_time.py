"""Trading sessions of a day range on the ET wall clock, for charts that shade them.

:func:`session_spans` lists, for every trading day in a range (holidays skipped, early closes
honoured; from :mod:`tickdeck.core.calendar`), the pre-market ``[pre_open, open)``, regular
``[open, close)`` and after-hours ``[close, after_close)`` spans as naive-ET int64 ns — the clock
the explorer's charts draw on.
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
