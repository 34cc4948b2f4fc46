"""Dead letters: lines a source could not use, kept with their reason, fixable and replayable.

Collectors store every bad line (raw text + reason) with ``catalog.add_dead_letters``. After a
line is corrected (``catalog.update_dead_letter(id, raw)``, or ``tickdeck deadletters --fix``),
:func:`replay` parses it again and merges the tick into its stored day: the day is rewritten
whole through :func:`core.ingest.ingest_day`, stored ticks first, so a tick id already stored
wins and nothing is duplicated. Replayed rows are marked ``replayed``; rows that still do not
parse are marked ``failed`` and keep their text for another fix.

Replayable lines: IQFeed history lines (``[RequestID,]LH,...``) and Level 1 trade lines
(``Q,SYM,...`` with the collector's field selection). A parsed tick that cannot be stored (a
late Level 1 tick, one the ingest rules refuse) is kept as such a ``Q`` line
(:func:`add_tick_dead_letters`), so it replays like a received one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tickdeck.core.errors import DayNotFound, FeedError, NotFound, TickdeckError
from tickdeck.core.events import DeadLettersReplayed
from tickdeck.core.naming import normalize_ticker
from tickdeck.core.schema import RAW_COLUMNS
from tickdeck.core.sources import iqfeed_l1 as l1p
from tickdeck.core.sources import iqfeed_parse as ip

REPLAY_LIMIT = 100_000  # dead letters considered per replay (the table is a work queue, not an archive)
REPLAYABLE_STATUSES = ("new", "failed")
SYMBOL_CHARS = 32  # the dead-letter table's symbol column (a garbled symbol of a bad line is cut)


def add_line_dead_letters(ctx, source: str, bad) -> int:
    """Store lines a parser refused, ``(text, reason, symbol)`` each (a Level 1 batch's ``bad``);
    a line repeated in ``bad`` is stored once. Returns how many rows were added."""
    return ctx.catalog.add_dead_letters((source, symbol[:SYMBOL_CHARS], text, reason)
                                        for text, reason, symbol in dict.fromkeys(bad))


def add_tick_dead_letters(ctx, source: str, symbols, raw: dict, reasons) -> int:
    """Store parsed ticks that could not be used (late, refused by the ingest rules or the
    store) as dead letters: each as a replayable ``Q`` line (:func:`core.sources.iqfeed_l1.trade_lines`)
    with its symbol and reason. For the few rows of a dead letter (a Python object per row)."""
    lines = l1p.trade_lines(symbols, raw)
    return ctx.catalog.add_dead_letters((source, str(sym)[:SYMBOL_CHARS], line, str(why))
                                        for sym, line, why in zip(symbols, lines, reasons))


@dataclass(frozen=True)
class ReplayResult:
    replayed: tuple  # ids merged into their day
    failed: tuple  # (id, reason)
    days: tuple  # (symbol, day) rewritten


def _parse_one(symbol: str, raw: str) -> tuple[str, dict]:
    """(symbol, raw columns) of one dead-letter line; raises TickdeckError when it still fails."""
    text = raw.strip()
    if text.startswith(("Q,", "P,")):
        p = l1p.parse_level1(text.encode() + b"\r\n")
        if p.bad:
            raise FeedError(p.bad[0][1])
        if not p.symbol_names:
            raise FeedError("not a trade line")
        return p.symbol_names[0], p.raw
    cells = text.split(",")
    if len(cells) > 1 and cells[1] == "LH":
        text = ",".join(cells[1:])  # drop the request id
    if not text.startswith("LH,"):
        raise FeedError("not an IQFeed tick line (expected [RequestID,]LH,... or Q,SYM,...)")
    p = ip.parse_ticks(text.encode() + b"\r\n")
    if p.bad:
        raise FeedError(p.bad[0][1])
    if not symbol:
        raise FeedError("dead letter has no symbol")
    return symbol, p.raw


def replay(ctx, ids=None, *, source_prefix: str = "iqfeed") -> ReplayResult:
    """Re-parse dead letters (all replayable ones of ``source_prefix*``, or ``ids``) and merge them.

    Raises
    ------
    NotFound
        An id in ``ids`` does not exist.
    """
    from tickdeck.core.ingest import ingest_day

    rows = ctx.catalog.dead_letters(status=None, limit=REPLAY_LIMIT)
    if ids is not None:
        want = {int(i) for i in ids}
        rows = [r for r in rows if r.id in want]
        missing = want - {r.id for r in rows}
        if missing:
            raise NotFound(f"no dead letter with id {sorted(missing)[0]}")
    else:
        rows = [r for r in rows if r.status in REPLAYABLE_STATUSES and r.source.startswith(source_prefix)]
    groups: dict[tuple[str, object], list] = {}
    failed: list[tuple[int, str]] = []
    for r in sorted(rows, key=lambda r: r.id):  # dead letters are few; one parse call each
        try:
            sym, raw = _parse_one(r.symbol, r.raw)
            sym = normalize_ticker(sym)
        except TickdeckError as e:
            failed.append((r.id, str(e)))
            continue
        for d in np.unique(raw["date"]):
            day = f"{d // 10000:04d}-{d // 100 % 100:02d}-{d % 100:02d}"
            sel = raw["date"] == d
            groups.setdefault((sym, day), []).append((r.id, {k: v[sel] for k, v in raw.items()}))
    replayed, days = [], []
    for (sym, day), items in sorted(groups.items()):
        parts = []
        try:
            stored = ctx.store.read_day(sym, day, columns=RAW_COLUMNS).reset_index(drop=True)
            parts.append({c: stored[c].to_numpy() for c in RAW_COLUMNS})
        except DayNotFound:
            pass
        parts += [raw for _, raw in items]
        merged = {c: np.concatenate([p[c] for p in parts]) for c in RAW_COLUMNS}
        try:
            ingest_day(ctx, sym, day, merged, source="iqfeed")
        except TickdeckError as e:
            failed += [(i, f"re-ingest of {sym} {day} failed: {e}") for i, _ in items]
            continue
        replayed += [i for i, _ in items]
        days.append((sym, day))
    ctx.catalog.mark_dead_letters(replayed, "replayed")
    ctx.catalog.mark_dead_letters([i for i, _ in failed], "failed")
    ctx.bus.publish(DeadLettersReplayed(len(replayed), len(failed), tuple(f"{s}/{d}" for s, d in days)))
    return ReplayResult(tuple(replayed), tuple(failed), tuple(days))


def fix(ctx, id_: int, line: str) -> None:
    """Replace the raw text of dead letter ``id_`` (then :func:`replay` it).

    Raises
    ------
    NotFound
        No dead letter has that id.
    """
    if not any(r.id == id_ for r in ctx.catalog.dead_letters(status=None, limit=REPLAY_LIMIT)):
        raise NotFound(f"no dead letter with id {id_}")
    ctx.catalog.update_dead_letter(id_, line)
