"""What a table of ticks or bars shows: columns, µs times, session names, a time-of-day window.

The explorer's grid (and anything else that lists ticks for a person) turns a stored frame
into a display frame here, so the rules are the same everywhere and testable without a UI:

* :data:`TICK_COLUMNS` — every stored tick column (43 with ``timestamp``, which the table
  shows as its first column ``time (ET)``); :data:`DEFAULT_TICK_COLUMNS` the ones shown
  until the user picks others.
* :func:`display_frame` — ``time (ET)`` as text to the microsecond (``2024-07-02
  09:30:00.000123``: ticks in one second stay distinguishable and sort as text), coded
  columns as names (``session`` → ``regular``), tz-aware columns as ET text, and float
  columns holding only whole numbers (bar volumes) as integers.
* :func:`parse_time_of_day` / :func:`time_window` — the "from … to …" filter: a
  time-of-day window applied to every day of the selection (vectorised on the int64 clock).

All of it is numpy over whole columns; no per-row Python.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd

from tickdeck.core.errors import TickdeckError
from tickdeck.core.schema import INDEX, PARTICIPANT_CODES, SESSION_CODES, STORED_COLUMNS, TZ

TIME_COLUMN = "time (ET)"
TICK_COLUMNS = list(STORED_COLUMNS)  # 42 stored columns; the index (timestamp) is the time column
DEFAULT_TICK_COLUMNS = ["last", "last_sz", "bid", "ask", "spread", "trade_sign", "session", "mkt_ctr", "cond1",
                        "tick_id"]
DAY_NS = 86_400_000_000_000
_TIME_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?\s*$")
_CODED = {"session": SESSION_CODES, "participant_type": PARTICIPANT_CODES}


class InvalidTimeOfDay(TickdeckError, ValueError):
    """A time-of-day filter that is not ``HH:MM[:SS[.ffffff]]`` within a day."""


def parse_time_of_day(text: str | None) -> dt.time | None:
    """``"09:30"``, ``"9:30:05"`` or ``"09:30:00.000250"`` as a time; empty text is ``None``.

    Raises
    ------
    InvalidTimeOfDay
        Text that is not a time of day; the message says the expected form.
    """
    if text is None or not str(text).strip():
        return None
    m = _TIME_RE.match(str(text))
    if not m:
        raise InvalidTimeOfDay(f"{text!r} is not a time of day: write HH:MM, HH:MM:SS or HH:MM:SS.ffffff (ET)")
    h, mi, s, frac = m.groups()
    try:
        return dt.time(int(h), int(mi), int(s or 0), int((frac or "0").ljust(6, "0")))
    except ValueError as e:
        raise InvalidTimeOfDay(f"{text!r} is not a time of day ({e}): "
                               "write HH:MM, HH:MM:SS or HH:MM:SS.ffffff (ET)") from e


def _tod_ns(t: dt.time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000_000 + t.microsecond * 1_000


def wall_clock_ns(index) -> np.ndarray:
    """A DatetimeIndex as int64 ns of the naive ET wall clock (DST handled by pandas)."""
    idx = pd.DatetimeIndex(index)
    if idx.tz is not None:
        idx = idx.tz_convert(TZ).tz_localize(None)
    return idx.asi8


def time_window(index, start: dt.time | None, end: dt.time | None) -> np.ndarray:
    """Boolean mask of the rows whose ET time of day lies in ``[start, end)`` (either may be open).

    Half-open, so "09:30 to 09:31" is the first minute of the session. Applies to every day of a
    multi-day index. ``start`` at or after ``end`` selects nothing.
    """
    tod = wall_clock_ns(index) % DAY_NS
    mask = np.ones(tod.size, dtype=bool)
    if start is not None:
        mask &= tod >= _tod_ns(start)
    if end is not None:
        mask &= tod < _tod_ns(end)
    return mask


def format_times(ns: np.ndarray) -> np.ndarray:
    """int64 ns wall-clock times as ``YYYY-MM-DD HH:MM:SS.ffffff`` text (vectorised)."""
    text = np.datetime_as_string(np.asarray(ns, dtype="i8").view("datetime64[ns]"), unit="us")
    return np.char.replace(text, "T", " ")


def integral(values: np.ndarray) -> np.ndarray:
    """Float values that are all whole numbers (NaN-free) as int64; anything else unchanged."""
    if values.dtype.kind == "f" and values.size and np.isfinite(values).all() and (np.mod(values, 1) == 0).all() \
            and np.abs(values).max() < 2 ** 53:
        return values.astype(np.int64)
    return values


def display_frame(df: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """The frame a table shows: ``time (ET)`` first (µs text), then ``columns`` (default: all) for people.

    Coded columns become names, tz-aware columns ET text to the µs, whole-number float columns
    integers. Columns not in ``df`` are skipped. No copies beyond the converted columns.
    """
    out: dict[str, np.ndarray] = {}
    if isinstance(df.index, pd.DatetimeIndex):
        out[TIME_COLUMN] = format_times(wall_clock_ns(df.index))
    for c in (columns if columns is not None else list(df.columns)):
        if c not in df.columns or c == INDEX:
            continue
        s = df[c]
        if isinstance(s.dtype, pd.DatetimeTZDtype) or np.issubdtype(s.dtype, np.datetime64):
            out[c] = format_times(wall_clock_ns(s))
        elif c in _CODED:
            codes = _CODED[c]
            keys = np.array(sorted(codes))
            names = np.array([codes[k] for k in keys], dtype=object)
            v = s.to_numpy()
            pos = np.clip(np.searchsorted(keys, v), 0, keys.size - 1)
            out[c] = np.where(keys[pos] == v, names[pos], v.astype(str).astype(object))
        else:
            out[c] = integral(s.to_numpy())
    return pd.DataFrame(out, copy=False)
