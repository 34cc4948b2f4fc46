"""Collection of whole days from IQFeed (or the bundled emulator) into the store.

* :func:`collect_days` — for each symbol and trading day: one ``HTT`` request for the day, bulk
  parse, bad lines to the dead-letter table, then :func:`core.ingest.ingest_day` with
  ``source="iqfeed"`` (enrich, ingest rules, atomic whole-day write, catalog row,
  ``after_write`` hooks). A reply is used only once complete, so a cut or stalled reply writes
  nothing; re-collecting a day replaces it (idempotent).
* :func:`finalize_day` — rewrites a live-collected day whole through ``ingest_day`` so derived
  columns span the whole day and hooks run. Live collection itself is :mod:`core.live`.
"""

from __future__ import annotations

import datetime as dt

from core.errors import FeedError
from core.ingest import IngestResult, ingest_day
from core.naming import as_date, normalize_ticker
from core.progress import Progress
from core.schema import RAW_COLUMNS
from core.sources.iqfeed import HistoryClient, InvalidFeedSymbol, NoData

SOURCE = "iqfeed"
DATASET = {"venue": "IQFEED", "asset_class": "equity", "description": "collected from IQFeed"}
DEAD_LETTER_CHECK_LIMIT = 100_000  # existing dead letters compared when re-collecting (keeps it idempotent)


class CollectionFailed(FeedError):
    """Some symbol-days could not be collected; the others were stored.

    ``failures`` lists ``(symbol, day, reason)``; ``results`` the days that were written.
    """

    def __init__(self, failures: list, results: list):
        self.failures, self.results = failures, results
        sym, day, why = failures[0]
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        super().__init__(f"collecting {sym} {day} failed: {why}{more}")


def _dead_letters(ctx, symbol: str, bad, source: str = SOURCE) -> int:
    """Store bad lines once (a line already waiting in the table is not added again)."""
    if not bad:
        return 0
    seen = {r.raw for r in ctx.catalog.dead_letters(status=None, limit=DEAD_LETTER_CHECK_LIMIT, source=source)
            if r.symbol == symbol}
    return ctx.catalog.add_dead_letters((source, symbol, text, reason) for text, reason in bad if text not in seen)


def _emit(ctx, progress, p: Progress) -> None:
    ctx.bus.publish("collection", p.to_dict(), type_="progress")
    if progress:
        progress(p)


def collect_days(ctx, symbols, days, *, host: str | None = None, port_history: int | None = None,
                 progress=None, client: HistoryClient | None = None) -> list[IngestResult]:
    """Fetch whole trading days from the history port and ingest them.

    Days the server has no data for (``!NO_DATA!``) are skipped and reported in progress.

    Raises
    ------
    CollectionFailed
        After every other symbol-day was processed, when some failed (unknown symbol,
        stalled or dropped server after all retries, open circuit).
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
                    failures.append((sym, day, str(e)))
                    done += len(days) - i - 1  # the other days of an unknown symbol are skipped
                    _emit(ctx, progress, Progress("collect", done + 1, total, msg + ": unknown symbol"))
                    done += 1
                    break
                except FeedError as e:
                    failures.append((sym, day, str(e)))
                    msg += f": failed ({e})"
                done += 1
                _emit(ctx, progress, Progress("collect", done, total, msg))
    finally:
        if own:
            client.close()
    if failures:
        raise CollectionFailed(failures, results)
    return results


def finalize_day(ctx, symbol: str, day) -> IngestResult:
    """Rewrite a live-collected day whole through ``ingest_day`` (enrichment over the full day,
    catalog row, ``after_write`` hooks)."""
    raw = ctx.store.read_day(symbol, day, columns=RAW_COLUMNS)
    return ingest_day(ctx, symbol, day, raw.reset_index(drop=True), source=SOURCE, dataset=DATASET)
