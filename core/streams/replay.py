"""Tick replay for a resuming stream client: what is stored or journaled after a cursor.

See :func:`read_ticks_since`; :mod:`core.streams` explains the cursor and why the journal is
read before the days.
"""

from __future__ import annotations

import collections

import numpy as np

from tickdeck.core import naming
from tickdeck.core.enrich import utc_ns_from_date_time
from tickdeck.core.errors import DayNotFound, InvalidSymbol, NotFound
from tickdeck.core.events import TicksAppended
from tickdeck.core.schema import RAW_COLUMNS
from tickdeck.core.streams.protocol import REPLAY_MAX_DAYS, TICKS_PER_MESSAGE, InvalidCursor, TickCursor

# -- replay -------------------------------------------------------------------------------------
def _journal_rows(store, symbol: str, days: set[str]) -> dict[str, dict]:
    """The journal's rows of ``symbol`` for ``days`` (not yet materialised ones included)."""
    out: dict[str, list] = collections.defaultdict(list)
    for name in store.list_series(naming.JOURNAL_LIBRARY):
        try:
            key = naming.parse_journal_symbol(name)
        except InvalidSymbol:
            continue
        day = key.day.isoformat()
        if day not in days:
            continue
        try:
            df, _ = store.read_series(naming.JOURNAL_LIBRARY, name, columns=["symbol", *RAW_COLUMNS])
        except NotFound:  # deleted after its rows reached the day (read after this)
            continue
        mine = df["symbol"].to_numpy() == symbol
        if mine.any():
            out[day].append({c: df[c].to_numpy()[mine] for c in RAW_COLUMNS})
    return {d: {c: np.concatenate([p[c] for p in parts]) for c in RAW_COLUMNS} for d, parts in out.items()}


def _journal_days(store) -> set[str]:
    days = set()
    for name in store.list_series(naming.JOURNAL_LIBRARY):
        try:
            days.add(naming.parse_journal_symbol(name).day.isoformat())
        except InvalidSymbol:
            continue
    return days


def read_ticks_since(store, symbol: str, cursor: TickCursor, *, max_days: int = REPLAY_MAX_DAYS,
                     chunk: int = TICKS_PER_MESSAGE) -> tuple[list[TicksAppended], TickCursor]:
    """The ticks of ``symbol`` after ``cursor`` that are stored or journaled, as
    :class:`TicksAppended` events (``origin="replay"``) of at most ``chunk`` ticks in (day,
    tick id) order, and the cursor of the last one (``cursor`` itself, with its day resolved,
    when there are none).

    The journal is read before the days, so a tick the materialiser moves meanwhile is in one
    of the two reads; rows in both count once.

    Raises
    ------
    InvalidCursor
        ``cursor`` is more than ``max_days`` stored days back.
    """
    symbol = naming.normalize_ticker(symbol)
    journal_days = _journal_days(store)
    stored_days = {d.isoformat() for d in store.list_days(symbol)}
    every = sorted(journal_days | stored_days)
    day = cursor.day or (every[-1] if every else None)
    if day is None:
        return [], cursor
    wanted = [d for d in every if d >= day]
    if len(wanted) > max_days:
        raise InvalidCursor(f"since {cursor} for {symbol} reaches {len(wanted)} days back; streams replay at most "
                            f"{max_days}; read older ticks from /api/v1/data/{symbol}/ticks")
    journal = _journal_rows(store, symbol, set(wanted) & journal_days)
    events, last = [], TickCursor(day, cursor.tick_id)
    for d in wanted:
        parts = [journal[d]] if d in journal else []
        if d in stored_days:
            try:
                df = store.read_day(symbol, d, columns=RAW_COLUMNS)
                parts.append({c: df[c].to_numpy() for c in RAW_COLUMNS})
            except DayNotFound:
                pass
        if not parts:
            continue
        cols = {c: np.concatenate([p[c] for p in parts]) for c in RAW_COLUMNS}
        ids, first = np.unique(cols["tick_id"], return_index=True)  # sorted, each tick once
        if d == day:
            first = first[ids > cursor.tick_id]
        if first.size == 0:
            continue
        cols = {c: v[first] for c, v in cols.items()}
        ts = utc_ns_from_date_time(cols["date"], cols["time"])
        for lo in range(0, first.size, chunk):
            part = {c: v[lo:lo + chunk] for c, v in cols.items()}
            events.append(TicksAppended.from_columns(symbol, d, "replay", part, ts[lo:lo + chunk]))
        last = TickCursor(d, int(cols["tick_id"][-1]))
    return events, last
