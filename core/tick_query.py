"""Ticks of one symbol over a day range as the HTTP API serves them: pages and streams.

A :class:`TickQuery` names the symbol, the stored days ``[start, end]``, the session and the
columns. Its rows are the stored rows of each day in the range, day by day in stored (time)
order, with the column set every tick export has (:func:`core.export.tick_day_tables`:
``timestamp`` first, the asked columns, ``symbol``).

* :func:`tick_page` answers one page of at most ``limit`` rows and an opaque cursor to the
  next page. The cursor is ``(day, stored row offset, version of the day)`` bound to the
  query: every page of a day is read from the version its first page saw, so paging never
  skips or repeats a row even when the day is re-collected meanwhile (a cursor whose version
  is no longer kept is :class:`CursorExpired`). A query over more than :func:`json_max_rows`
  rows is :class:`RangeTooLarge` — the streaming formats have no such limit.
* :func:`tick_tables` streams the whole range as Arrow tables of a few hundred thousand rows
  (one day at a time; memory stays a few slices), for Arrow IPC, Parquet and CSV.

Nothing here builds a Python object per tick.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import os
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tickdeck.core.errors import DayNotFound, SymbolNotFound, TickdeckError, VersionNotFound
from tickdeck.core.export import READ_ROWS, tick_columns, tick_day_tables
from tickdeck.core.export_formats import decode_dictionaries
from tickdeck.core.naming import as_date, date_range, normalize_ticker
from tickdeck.core.schema import SESSION_BY_NAME, STORED_COLUMNS
from tickdeck.core.store import SESSIONS

STREAM_FORMATS = ("arrow", "parquet", "csv")  # no size limit: the range is streamed day by day
FORMATS = ("json", *STREAM_FORMATS)
# One JSON query covers at most this many rows (its pages together): JSON costs ~1 KB and ~7 µs of
# encoding per 43-column tick (Arrow IPC ~0.25 KB and ~0.1 µs), so two busy days are ~2 GB of text.
# Larger ranges answer 413 naming the streaming formats. Override: TICKDECK_API_JSON_MAX_ROWS.
JSON_MAX_ROWS = 2_000_000
JSON_MAX_ROWS_ENV = "TICKDECK_API_JSON_MAX_ROWS"
PAGE_ROWS = 10_000  # default rows per JSON page (~10 MB of JSON for every column)
PAGE_MAX_ROWS = 100_000  # largest page a client may ask for (~100 MB, ~0.4 s to encode)
SCAN_ROWS = 65_536  # stored rows read at once while a session filter fills a page
CURSOR_VERSION = "1"


class RangeTooLarge(TickdeckError, ValueError):
    """A JSON answer would hold more rows than :func:`json_max_rows`; names the streaming formats."""

    def __init__(self, rows: int, limit: int):
        self.rows = rows
        self.limit = limit
        super().__init__(f"the range holds {rows:,} ticks, more than the {limit:,} a JSON answer may hold; ask for "
                         f"format={', format='.join(STREAM_FORMATS)} (streamed, no limit) or a shorter range")


class InvalidCursor(TickdeckError, ValueError):
    """A cursor that is not one this query gave out."""


class CursorExpired(TickdeckError, LookupError):
    """The day version a cursor pins was replaced and is no longer kept; start paging again."""


def json_max_rows() -> int:
    """Rows a JSON query may cover: :data:`JSON_MAX_ROWS`, or ``TICKDECK_API_JSON_MAX_ROWS`` when set."""
    raw = os.environ.get(JSON_MAX_ROWS_ENV, "").strip()
    try:
        return max(1, int(raw)) if raw else JSON_MAX_ROWS
    except ValueError:
        return JSON_MAX_ROWS


@dataclass(frozen=True)
class TickQuery:
    """Which ticks: ``symbol`` on the stored days of ``[start, end]``, one ``session`` or all,
    some ``columns`` (``None``: every stored column). Checked on construction."""

    symbol: str
    start: dt.date
    end: dt.date
    session: str = "all"
    columns: tuple[str, ...] | None = None

    def __post_init__(self):
        object.__setattr__(self, "symbol", normalize_ticker(self.symbol))
        start, end = date_range(self.start, self.end)
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        if self.session not in SESSIONS:
            from tickdeck.core.errors import SchemaError

            raise SchemaError("session", f"unknown session {self.session!r}; use one of {', '.join(SESSIONS)}")
        if self.columns is not None:
            cols = tuple(dict.fromkeys(c.strip() for c in self.columns if c and c.strip()))
            bad = [c for c in cols if c not in STORED_COLUMNS and c != "timestamp"]
            if bad:
                from tickdeck.core.errors import SchemaError

                raise SchemaError(bad[0], "unknown tick column; columns are timestamp, "
                                  + ", ".join(STORED_COLUMNS) + " (see docs/schema.md)")
            object.__setattr__(self, "columns", cols or None)

    @property
    def read_columns(self) -> list[str] | None:
        """Stored columns to read (``symbol`` added, as in every export)."""
        return tick_columns(self.columns)

    def key(self) -> str:
        """A short digest of the query, binding a cursor to it."""
        text = "|".join((self.symbol, self.start.isoformat(), self.end.isoformat(), self.session,
                         ",".join(self.columns or ())))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def tick_query(ctx, symbol: str, start=None, end=None, *, session: str = "all", columns=None) -> TickQuery:
    """A :class:`TickQuery`; ``start`` defaults to the symbol's last stored day, ``end`` to ``start``.

    Raises
    ------
    SymbolNotFound
        No tick day of ``symbol`` is stored (only checked when ``start`` is not given).
    InvalidSymbol, InvalidDateRange, SchemaError
        A bad symbol or day, ``end`` before ``start``, an unknown session or column.
    """
    sym = normalize_ticker(symbol)
    if isinstance(columns, str):
        columns = [c for c in columns.split(",")]
    if start is None:
        days = ctx.store.list_days(sym)
        if not days:
            raise SymbolNotFound(sym)
        start = days[-1]
    start = as_date(start)
    end = start if end is None else as_date(end)
    return TickQuery(sym, start, end, session, None if columns is None else tuple(columns))


@dataclass(frozen=True)
class TickRange:
    """The stored days of a query and how many of their ticks it covers (from tier-1 rows)."""

    days: tuple[dt.date, ...]
    rows: int


_SESSION_COUNT = {"pre": "pre_ticks", "regular": "regular_ticks", "after": "after_ticks"}


def tick_range(ctx, q: TickQuery) -> TickRange:
    """The stored days of ``q`` and its row count (catalog rows; no frame read).

    Raises
    ------
    SymbolNotFound
        Nothing is stored for the symbol.
    DayNotFound
        No stored day falls in ``[start, end]``.
    """
    stored = ctx.store.list_days(q.symbol)
    if not stored:
        raise SymbolNotFound(q.symbol)
    days = tuple(d for d in stored if q.start <= d <= q.end)
    if not days:
        raise DayNotFound(q.symbol, q.start if q.start == q.end else f"{q.start}..{q.end}")
    rows = {r.day: r for r in ctx.catalog.tick_days(q.symbol, q.start, q.end)}
    field = _SESSION_COUNT.get(q.session, "ticks")
    total = 0
    for d in days:
        r = rows.get(d)
        total += int(getattr(r, field) or 0) if r is not None else int(getattr(ctx.store.day_info(q.symbol, d), field))
    return TickRange(days, total)


def check_json_size(r: TickRange) -> None:
    """Raise :class:`RangeTooLarge` when ``r`` holds more rows than a JSON answer may."""
    limit = json_max_rows()
    if r.rows > limit:
        raise RangeTooLarge(r.rows, limit)


# -- cursors -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: a stored day, a stored row offset in it, and the version of
    the day the previous page read (``-1``: the day's latest version when it is reached)."""

    day: dt.date
    offset: int
    version: int = -1

    def encode(self, q: TickQuery) -> str:
        text = f"{CURSOR_VERSION}|{self.day.isoformat()}|{self.offset}|{self.version}|{q.key()}"
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str, q: TickQuery) -> "Cursor":
        """Raises :class:`InvalidCursor` for a token this query did not give out."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            ver, day, offset, version, key = raw.split("|")
            cur = cls(dt.date.fromisoformat(day), int(offset), int(version))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise InvalidCursor(f"cursor {token[:40]!r} is not one this API gave out; "
                                "start again without a cursor") from None
        if ver != CURSOR_VERSION or key != q.key():
            raise InvalidCursor("cursor belongs to another query: repeat the same symbol, start, end, session "
                                "and columns with it, or start again without a cursor")
        if cur.offset < 0 or cur.version < -1 or not q.start <= cur.day <= q.end:
            raise InvalidCursor(f"cursor {token[:40]!r} points outside this query's range")
        return cur


@dataclass(frozen=True)
class TickPage:
    """One page of a query: the rows (an Arrow table) and the cursor of the next page, if any."""

    table: pa.Table
    next_cursor: str | None

    @property
    def rows(self) -> int:
        return self.table.num_rows


def tick_page(ctx, q: TickQuery, r: TickRange, *, cursor: str | None = None, limit: int = PAGE_ROWS) -> TickPage:
    """Up to ``limit`` rows of ``q`` from ``cursor`` (default: the first row), and the next cursor.

    Raises
    ------
    InvalidCursor
        ``cursor`` was not given out for this query.
    CursorExpired
        The day version the cursor pins was replaced and is no longer kept.
    """
    limit = max(1, min(int(limit), PAGE_MAX_ROWS))
    cur = Cursor(r.days[0], 0) if cursor is None else Cursor.decode(cursor, q)
    later = [i for i, d in enumerate(r.days) if d >= cur.day]
    i = later[0] if later else len(r.days)
    if i < len(r.days) and r.days[i] != cur.day:  # its day was deleted meanwhile: go on with the next
        cur = Cursor(r.days[i], 0)
    code = SESSION_BY_NAME.get(q.session) if q.session != "all" else None
    cols = q.read_columns
    drop_session = False
    if code is not None and cols is not None and "session" not in cols:
        cols, drop_session = [*cols, "session"], True
    offset, version = cur.offset, cur.version
    parts: list[pa.Table] = []
    need = limit
    while need > 0 and i < len(r.days):
        day = r.days[i]
        span = need if code is None else max(need, SCAN_ROWS)
        try:
            got = ctx.store.read_day_rows(q.symbol, day, offset, offset + span, columns=cols,
                                          as_of=None if version < 0 else version)
        except VersionNotFound as e:
            raise CursorExpired(f"{e}; start paging again without a cursor") from None
        except DayNotFound:  # deleted meanwhile: its rows are gone, go on with the next day
            i, offset, version = i + 1, 0, -1
            continue
        table, version = got.table, got.version
        consumed = table.num_rows
        if code is not None:
            keep = pc.equal(table.column("session"), pa.scalar(code, table.schema.field("session").type))
            pos = np.flatnonzero(keep.to_numpy(zero_copy_only=False))
            if pos.size > need:
                consumed = int(pos[need - 1]) + 1
                table, keep = table.slice(0, consumed), keep.slice(0, consumed)
            table = table.filter(keep)
            if drop_session:
                table = table.drop_columns(["session"])
        if table.num_rows:
            parts.append(decode_dictionaries(table))
        need -= table.num_rows
        offset += consumed
        if offset >= got.total_rows or consumed == 0:
            i, offset, version = i + 1, 0, -1
    nxt = None if i >= len(r.days) else Cursor(r.days[i], offset, version).encode(q)
    if parts:
        table = pa.concat_tables(_same_schema(parts))
    else:
        table = _empty(ctx, q, r)
    return TickPage(table, nxt)


def _same_schema(tables: list[pa.Table]) -> list[pa.Table]:
    schema = tables[0].schema
    return [t if t.schema.equals(schema) else t.select(schema.names).cast(schema) for t in tables]


def _empty(ctx, q: TickQuery, r: TickRange) -> pa.Table:
    """No rows, with the query's columns (read as a zero-row range of its first day)."""
    got = ctx.store.read_day_rows(q.symbol, r.days[0], 0, 0, columns=q.read_columns)
    return decode_dictionaries(got.table)


def tick_tables(ctx, q: TickQuery, r: TickRange, *, slice_rows: int = READ_ROWS,
                plain_strings: bool = True) -> Iterator[pa.Table]:
    """Every row of ``q`` as Arrow tables of at most ``slice_rows`` stored rows, in one schema
    (the first day's); at least one table (empty when no row matches the session).

    With ``plain_strings`` false, string columns stay as the store hands them out —
    dictionary-encoded (``dictionary<large_string>``: a fifth fewer bytes for a tick day, and
    no decoding); their values are the same.
    """
    schema = None
    for day in r.days:
        if plain_strings:
            tables = tick_day_tables(ctx, q.symbol, day, columns=q.columns, session=q.session, slice_rows=slice_rows)
        else:
            tables = ctx.store.read_day_arrow(q.symbol, day, columns=q.read_columns, session=q.session,
                                              slice_rows=slice_rows)
        for table in tables:
            if schema is None:
                schema = table.schema
            elif not table.schema.equals(schema):
                table = table.select(schema.names).cast(schema)
            yield table
