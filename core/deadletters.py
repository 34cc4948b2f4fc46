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

import re
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
    try:
        p = ip.parse_ticks(text.encode() + b"\r\n")
    except ip.MalformedReply as e:  # the one line is the whole reply: say why it is refused, not "no usable line"
        raise FeedError(e.bad[0][1] if e.bad else str(e)) from None
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


# -- browsing, checking and fixing one line (the dead-letters page; the CLI's --fix and --replay) ----------
BROWSE_LIMIT = 500  # rows a browse returns: a page of work, newest first
REASON_KIND_CHARS = 40  # a reason without a "field:" prefix is grouped by its first characters
_LOCATION = re.compile(r"^(?:row|line|record)[ =]?\d+:\s*", re.IGNORECASE)


def reason_kind(reason: str) -> str:
    """What a reason is about, for grouping: the field before the first ``:`` (``last``, ``ts``,
    ``last_sz``; a leading ``row N:`` / ``line N:`` is skipped), else the reason's first
    :data:`REASON_KIND_CHARS` characters."""
    text = _LOCATION.sub("", (reason or "").strip())  # "row 3: ..." / "line 12: ...": the place is not the kind
    head, sep, _ = text.partition(":")
    if sep and head and len(head) <= REASON_KIND_CHARS and " " not in head.strip():
        return head.strip()
    return text[:REASON_KIND_CHARS] or "(no reason)"


@dataclass(frozen=True)
class DeadLetterQuery:
    """A browse filter; empty fields match everything. ``reason`` is a :func:`reason_kind` or a
    case-insensitive substring of the reason."""

    source: str = ""
    symbol: str = ""
    reason: str = ""
    status: str = ""

    def matches(self, r) -> bool:
        if self.source and r.source != self.source:
            return False
        if self.symbol and r.symbol.upper() != self.symbol.strip().upper():
            return False
        if self.status and r.status != self.status:
            return False
        if self.reason and reason_kind(r.reason) != self.reason and self.reason.lower() not in r.reason.lower():
            return False
        return True


@dataclass(frozen=True)
class DeadLetterFacets:
    """Counts per source, symbol, reason kind and status over the rows considered (for the filters)."""

    sources: dict
    symbols: dict
    reasons: dict
    statuses: dict


def browse(ctx, query: DeadLetterQuery | None = None, *,
           limit: int = BROWSE_LIMIT) -> tuple[list, DeadLetterFacets]:
    """Dead letters matching ``query`` (newest first, at most ``limit``) and the facets of all of
    them (the newest :data:`REPLAY_LIMIT` rows), so a page can offer only values that exist."""
    query = query or DeadLetterQuery()
    rows = ctx.catalog.dead_letters(status=None, limit=REPLAY_LIMIT)

    def count(values) -> dict:
        out: dict = {}
        for v in values:
            out[v] = out.get(v, 0) + 1
        return dict(sorted(out.items()))

    facets = DeadLetterFacets(count(r.source for r in rows), count(r.symbol for r in rows),
                              count(reason_kind(r.reason) for r in rows), count(r.status for r in rows))
    return [r for r in rows if query.matches(r)][:limit], facets


def get(ctx, id_: int):
    """One dead letter by id.

    Raises
    ------
    NotFound
        No dead letter has that id.
    """
    for r in ctx.catalog.dead_letters(status=None, limit=REPLAY_LIMIT):
        if r.id == int(id_):
            return r
    raise NotFound(f"no dead letter with id {id_}")


@dataclass(frozen=True)
class LineCheck:
    """What a dead-letter line parses to, without storing anything."""

    symbol: str
    ticks: int
    days: tuple  # "YYYY-MM-DD" of the ticks
    first: dict  # the first parsed tick's raw fields (for the page to show)


def check_line(symbol: str, line: str) -> LineCheck:
    """Parse ``line`` the way :func:`replay` will (a dry run: nothing is written).

    Raises
    ------
    FeedError
        The line still does not parse; the message says which field and why.
    """
    sym, raw = _parse_one(symbol, line)
    sym = normalize_ticker(sym)
    dates = sorted({int(d) for d in raw["date"]})
    first = {k: (v[0].item() if hasattr(v[0], "item") else v[0]) for k, v in raw.items() if len(v)}
    return LineCheck(sym, int(raw["tick_id"].size), tuple(f"{d // 10000:04d}-{d // 100 % 100:02d}-{d % 100:02d}"
                                                          for d in dates), first)


def fix_and_replay(ctx, id_: int, line: str, *, actor: str = "system") -> ReplayResult:
    """``tickdeck deadletters --fix ID LINE`` then ``--replay ID``: store the corrected text and
    merge it into its day; the action is written to the audit log. A line that still fails is
    kept (status ``failed``) with the new text and its reason in the result.

    Raises
    ------
    NotFound
        No dead letter has that id.
    """
    fix(ctx, id_, line)
    res = replay(ctx, [id_])
    ctx.catalog.audit(actor, "deadletter.replay", str(id_),
                      {"replayed": len(res.replayed), "failed": [r for _, r in res.failed],
                       "days": [f"{s} {d}" for s, d in res.days]})
    return res
