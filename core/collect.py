"""Collection of whole days from IQFeed (or the bundled emulator) into the store.

* :func:`collect_days` — for each symbol and trading day: one ``HTT`` request for the day, bulk
  parse, bad lines to the dead-letter table (with their symbol and reason), then
  :func:`core.ingest.ingest_day` with ``source="iqfeed"`` (enrich, ingest rules, atomic
  whole-day write, catalog row, ``after_write`` hooks). A reply is used only once complete, so a
  cut or stalled reply writes nothing; re-collecting a day replaces it (idempotent). Progress is
  published as :class:`core.events.CollectionProgress` events. A day that fails (for any
  reason) is published as a :class:`core.events.DayCollectionFailed` event and the run goes on
  with the other days; :class:`CollectionFailed` is raised at the end.
* :func:`finalize_day` — rewrites a live-collected day whole through ``ingest_day`` so derived
  columns span the whole day and hooks run. Live collection itself is :mod:`core.live`.
"""

from __future__ import annotations

import datetime as dt
import logging
from tickdeck.core.errors import FeedError, TickdeckError
from tickdeck.core.events import CollectionProgress, DayCollectionFailed
from tickdeck.core.ingest import IngestResult, ingest_day
from tickdeck.core.naming import as_date, normalize_ticker
from tickdeck.core.progress import Progress
from tickdeck.core.schema import RAW_COLUMNS
from tickdeck.core.sources.iqfeed import HistoryClient, InvalidFeedSymbol, NoData
from tickdeck.core.sources.iqfeed_parse import MalformedReply

SOURCE = "iqfeed"
DATASET = {"venue": "IQFEED", "asset_class": "equity", "description": "collected from IQFeed"}
DEAD_LETTER_CHECK_LIMIT = 100_000  # existing dead letters compared when re-collecting (keeps it idempotent)


REASON_MAX_CHARS = 300  # a failure reason is one line of at most this many characters
log = logging.getLogger(__name__)


__all__ = ["CollectionFailed", "DayCollectionFailed", "collect_days", "finalize_day"]


class CollectionFailed(FeedError):
    """Some symbol-days could not be collected; the others were stored.

    ``failures`` lists ``(symbol, day, reason)``; ``results`` the days that were written. The
    message is one line: how many failed and were stored, and the first failure.
    """

    def __init__(self, failures: list, results: list, total: int | None = None):
        self.failures, self.results = failures, results
        sym, day, why = failures[0]
        total = total if total is not None else len(failures) + len(results)
        super().__init__(f"{len(failures)} of {total} symbol-days failed, {len(results)} stored; "
                         f"first: {sym} {day}: {why}")


def _one_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    text = lines[0] if lines else type(e).__name__
    return text if len(text) <= REASON_MAX_CHARS else text[:REASON_MAX_CHARS - 1] + "…"


def _dead_letters(ctx, symbol: str, bad, source: str = SOURCE) -> int:
    """Store bad lines once (a line already waiting in the table is not added again)."""
    if not bad:
        return 0
    seen = {r.raw for r in ctx.catalog.dead_letters(status=None, limit=DEAD_LETTER_CHECK_LIMIT, source=source)
            if r.symbol == symbol}
    return ctx.catalog.add_dead_letters((source, symbol, text, reason) for text, reason in bad if text not in seen)


def _emit(ctx, progress, p: Progress) -> None:
    ctx.bus.publish(CollectionProgress.from_progress(p))
    if progress:
        progress(p)


def collect_days(ctx, symbols, days, *, host: str | None = None, port_history: int | None = None,
                 progress=None, client: HistoryClient | None = None) -> list[IngestResult]:
    """Fetch whole trading days from the history port and ingest them.

    Days the server has no data for (``!NO_DATA!``) are skipped and reported in progress. Bad
    lines of a reply are dead letters (symbol, line text, reason); the rest of the day is stored.
    A symbol-day that fails is published as :class:`DayCollectionFailed` and the others go on.

    Raises
    ------
    CollectionFailed
        After every other symbol-day was processed, when some failed (unknown symbol — all its
        days —, stalled or dropped server after all retries, open circuit, a reply without one
        usable line, a day the store refused, or an unexpected error, which is logged).
    """
    syms = [normalize_ticker(s) for s in symbols]
    days = [as_date(d) for d in days]
    own = client is None
    client = client or HistoryClient(host or ctx.settings.feed_host, port_history or ctx.settings.feed_port_history,
                                     bus=ctx.bus)
    cal = ctx.calendar()
    total, done = len(syms) * len(days), 0
    results: list[IngestResult] = []
    failures: list[tuple[str, dt.date, str]] = []

    def fail(sym: str, day: dt.date, e: BaseException, why: str) -> None:
        failures.append((sym, day, why))
        ctx.bus.publish(DayCollectionFailed(sym, day.isoformat(), why, type(e).__name__))

    try:
        for sym in syms:
            for i, day in enumerate(days):
                msg = f"{sym} {day}"
                try:
                    parsed = client.fetch_day(sym, day)
                    _dead_letters(ctx, sym, parsed.bad)
                    res = ingest_day(ctx, sym, day, parsed.raw, source=SOURCE, calendar=cal, dataset=DATASET)
                    results.append(res)
                    msg += f": {res.info.ticks:,} ticks" + (f", {len(parsed.bad)} bad lines" if parsed.bad else "")
                except NoData:
                    msg += ": no data"
                except InvalidFeedSymbol as e:
                    for skipped in days[i:]:  # the other days of an unknown symbol are not asked for
                        fail(sym, skipped, e, _one_line(e))
                    done += len(days) - i - 1
                    _emit(ctx, progress, Progress("collect", done + 1, total, msg + ": unknown symbol"))
                    done += 1
                    break
                except MalformedReply as e:  # every line bad: they are still dead letters
                    _store_bad_lines(ctx, sym, e.bad)
                    fail(sym, day, e, _one_line(e))
                    msg += f": failed ({len(e.bad):,} bad lines, none usable)"
                except TickdeckError as e:
                    fail(sym, day, e, _one_line(e))
                    msg += f": failed ({_one_line(e)})"
                except Exception as e:  # noqa: BLE001 - one broken day must not stop the others
                    log.error("collecting %s %s failed unexpectedly: %s: %s (traceback at debug level)", sym, day,
                              type(e).__name__, _one_line(e))
                    log.debug("traceback of the %s %s failure", sym, day, exc_info=True)
                    client.close()  # the next request starts on a fresh connection
                    fail(sym, day, e, f"internal error ({type(e).__name__}): {_one_line(e)}")
                    msg += f": failed ({type(e).__name__})"
                done += 1
                _emit(ctx, progress, Progress("collect", done, total, msg))
    finally:
        if own:
            client.close()
    if failures:
        raise CollectionFailed(failures, results, total)
    return results


def _store_bad_lines(ctx, symbol: str, bad) -> None:
    """Dead-letter the lines of a reply that failed as a whole (never masks that failure)."""
    try:
        _dead_letters(ctx, symbol, bad)
    except TickdeckError as e:
        log.warning("could not store %d bad lines of %s as dead letters: %s", len(bad), symbol, e)


def finalize_day(ctx, symbol: str, day) -> IngestResult:
    """Rewrite a live-collected day whole through ``ingest_day`` (enrichment over the full day,
    catalog row, ``after_write`` hooks)."""
    raw = ctx.store.read_day(symbol, day, columns=RAW_COLUMNS)
    return ingest_day(ctx, symbol, day, raw.reset_index(drop=True), source=SOURCE, dataset=DATASET)
