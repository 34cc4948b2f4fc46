"""Every library, symbol and storage-name string is built and parsed here.

``parse_*(format_*(x)) == x`` holds for every valid input (tested).

- tick day:   library ``ticks``,            symbol ``<SYMBOL>/<YYYY-MM-DD>``
- bar series: library ``bars_<family>``,    symbol ``<SYMBOL>/<YYYY-MM-DD>/<spec>``
- indicator:  library ``indicators``,       symbol ``<INDICATOR>/<YYYY-MM-DD>``; the indicator part is
  ``BREADTH.LOCAL``, ``BREADTH.FEED``, ``BREADTH.DIFF``, ``OPTIONS.FEED`` or ``DERIVED.<SYMBOL>``
  (one series per source or symbol per day, a column per indicator; :mod:`core.indicators.store`)
- live journal: library ``journal``,        symbol ``<YYYY-MM-DD>/<PID>-<NS>`` (writer's pid, creation time)
- tick flags: library ``flags``,            symbol ``<SYMBOL>/<YYYY-MM-DD>`` (the flagged ticks of a tick day)
- imported bars: library ``imported_bars``, symbol ``<SYMBOL>/<YYYY-MM-DD>/<family>.<spec>`` (bars read from
  another system, e.g. a Nautilus catalog; not a ``bars_`` library, so the bars service never rewrites them)

No other module spells a library name: they use these constants and :func:`bar_library`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import NamedTuple

from tickdeck.core.errors import InvalidDateRange, InvalidSymbol

TICKS_LIBRARY = "ticks"
INDICATORS_LIBRARY = "indicators"
BARS_PREFIX = "bars_"
JOURNAL_LIBRARY = "journal"
FLAGS_LIBRARY = "flags"
IMPORTED_BARS_LIBRARY = "imported_bars"
IMPORTED_BARS_FAMILY = "imported"  # catalog (bar_series) family of every imported series

# Tickers: letters, digits and the punctuation real feeds use (BRK.B, ES=F, ^SPX, JTNT.Z, BTC-USD).
_TICKER = re.compile(r"^[A-Z0-9][A-Z0-9._^=\-]{0,31}$")
_SPEC = re.compile(r"^[A-Za-z0-9._\-]{1,40}$")
_FAMILY = re.compile(r"^[a-z][a-z_]{1,30}$")
_SEGMENT = re.compile(r"^[0-9]{1,10}-[0-9]{1,24}$")


def normalize_ticker(ticker: str) -> str:
    """Upper-case and check a ticker; raise :class:`InvalidSymbol` when it cannot be stored.

    Tickers are ASCII by rule. The check runs before upper-casing: ``str.upper`` maps some
    non-ASCII letters to ASCII ones (``ſ`` → ``S``, ``ı`` → ``I``), which would fold ``ſpy``
    into ``SPY``.
    """
    raw = ticker or ""
    bad = next((c for c in raw if not c.isascii()), None)
    if bad is not None:
        raise InvalidSymbol(
            f"invalid ticker {ticker!r}: character {bad!r} (U+{ord(bad):04X}) at position {raw.index(bad) + 1} "
            "is not ASCII; tickers use only A-Z 0-9 . _ ^ = -"
        )
    t = raw.strip().upper()
    if not _TICKER.fullmatch(t):
        raise InvalidSymbol(
            f"invalid ticker {ticker!r}: use 1-32 of A-Z 0-9 . _ ^ = - starting with a letter or digit"
        )
    return t


def format_day(day: dt.date | str) -> str:
    return as_date(day).isoformat()


def as_date(day) -> dt.date:
    """Accept a date, datetime, pandas Timestamp or ``YYYY-MM-DD`` string."""
    if isinstance(day, dt.datetime):
        return day.date()
    if isinstance(day, dt.date):
        return day
    if hasattr(day, "date") and callable(day.date):  # pandas Timestamp
        return day.date()
    try:
        return dt.date.fromisoformat(str(day))
    except ValueError:
        raise InvalidSymbol(f"invalid day {day!r}: expected YYYY-MM-DD") from None


def date_range(start, end) -> tuple[dt.date, dt.date]:
    """``(start, end)`` as dates; :class:`InvalidDateRange` when ``end`` is before ``start``."""
    s, e = as_date(start), as_date(end)
    if e < s:
        raise InvalidDateRange(f"end {e} is before start {s}: pick a later end day")
    return s, e


class TickKey(NamedTuple):
    ticker: str
    day: dt.date


class JournalKey(NamedTuple):
    day: dt.date
    segment: str

    @property
    def pid(self) -> int:
        """The process that wrote the segment."""
        return int(self.segment.split("-")[0])

    @property
    def created_ns(self) -> int:
        return int(self.segment.split("-")[1])


class BarKey(NamedTuple):
    ticker: str
    day: dt.date
    spec: str


def tick_symbol(ticker: str, day) -> str:
    return f"{normalize_ticker(ticker)}/{format_day(day)}"


def parse_tick_symbol(name: str) -> TickKey:
    parts = name.split("/")
    if len(parts) != 2:
        raise InvalidSymbol(f"not a tick-day symbol: {name!r} (expected SYMBOL/YYYY-MM-DD)")
    return TickKey(normalize_ticker(parts[0]), as_date(parts[1]))


def bar_library(family: str) -> str:
    if not _FAMILY.match(family):
        raise InvalidSymbol(f"invalid bar family name {family!r}")
    return BARS_PREFIX + family


def parse_bar_library(name: str) -> str:
    if not name.startswith(BARS_PREFIX):
        raise InvalidSymbol(f"not a bar library: {name!r}")
    return name[len(BARS_PREFIX):]


def bar_symbol(ticker: str, day, spec_param: str) -> str:
    if not _SPEC.match(spec_param):
        raise InvalidSymbol(f"invalid bar spec parameter {spec_param!r} for storage")
    return f"{normalize_ticker(ticker)}/{format_day(day)}/{spec_param}"


def parse_bar_symbol(name: str) -> BarKey:
    parts = name.split("/")
    if len(parts) != 3:
        raise InvalidSymbol(f"not a bar symbol: {name!r} (expected SYMBOL/YYYY-MM-DD/SPEC)")
    return BarKey(normalize_ticker(parts[0]), as_date(parts[1]), parts[2])


def indicator_symbol(indicator: str, day) -> str:
    return tick_symbol(indicator, day)


parse_indicator_symbol = parse_tick_symbol


def journal_symbol(day, segment: str) -> str:
    if not _SEGMENT.match(segment):
        raise InvalidSymbol(f"invalid journal segment {segment!r}: expected PID-NANOSECONDS")
    return f"{format_day(day)}/{segment}"


def parse_journal_symbol(name: str) -> JournalKey:
    parts = name.split("/")
    if len(parts) != 2 or not _SEGMENT.match(parts[1]):
        raise InvalidSymbol(f"not a journal symbol: {name!r} (expected YYYY-MM-DD/PID-NANOSECONDS)")
    return JournalKey(as_date(parts[0]), parts[1])


class ImportedBarKey(NamedTuple):
    ticker: str
    day: dt.date
    family: str
    spec: str  # the spec's storage name


def imported_bar_symbol(ticker: str, day, family: str, spec_param: str) -> str:
    """``<SYMBOL>/<YYYY-MM-DD>/<family>.<spec>`` in :data:`IMPORTED_BARS_LIBRARY` (one library for every
    family, so the family is part of the name)."""
    if not _FAMILY.match(family):
        raise InvalidSymbol(f"invalid bar family name {family!r}")
    return bar_symbol(ticker, day, f"{family}.{spec_param}")


def parse_imported_bar_symbol(name: str) -> ImportedBarKey:
    key = parse_bar_symbol(name)
    family, sep, spec = key.spec.partition(".")
    if not sep or not _FAMILY.match(family) or not spec:
        raise InvalidSymbol(f"not an imported bar symbol: {name!r} (expected SYMBOL/YYYY-MM-DD/FAMILY.SPEC)")
    return ImportedBarKey(key.ticker, key.day, family, spec)
