"""File importers: CSV, Parquet, Databento DBN and NautilusTrader trade ticks into the tick store.

:func:`import_file` reads one file (or a Nautilus catalog directory) as :class:`ParsedTicks`
chunks — plain numpy arrays of UTC nanoseconds, prices, sizes and optional quotes — checks each
row (plausibility bounds from :mod:`core.plausibility`, sizes that fit the stored int64),
assigns each row its trading-session day of the chosen calendar and spools the rows per day
(:class:`core.sources.spool.DaySpool`: memory up to a budget, Arrow IPC files beyond). When the
whole file has been read and found valid, each day is written whole, once, through
:func:`core.ingest.ingest_day` (the single write path), which enriches and stages it in slices;
its post-write hooks run once the day's arrays are freed. Memory stays near the spool budget
plus the largest day's raw columns, whatever the file's size. Rows that cannot be used go to the
dead-letter table with their own text, their 1-based line (or row / record) number and the reason.

CSV and Parquet are read by :mod:`core.sources.tabular` (streaming, column auto-detection);
DBN and Nautilus by :mod:`core.sources.dbn` and :mod:`core.sources.nautilus` (one chunk). A
Nautilus catalog's bars are read and checked before any day is written and stored after the
ticks as imported bar series (:mod:`core.sources.nautilus_bars`); a catalog with bars but no
ticks of the symbol imports its bars alone.
See ``docs/importing.md`` for the rules (aliases, epoch units, quote-only files, calendars,
bad input, ``replace``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pandas as pd

from tickdeck.core.calendar import MarketCalendar, get_calendar
from tickdeck.core.enrich import date_time_from_utc_ns
from tickdeck.core.errors import ImportFormatError, ReplaceRefused
from tickdeck.core.instruments import resolve_terms
from tickdeck.core.naming import normalize_ticker
from tickdeck.core.progress import Progress
from tickdeck.core.schema import empty_raw
from tickdeck.core.sources.parsed import MAX_DEAD_LETTERS, ParsedTicks

FORMATS = ("csv", "parquet", "dbn", "nautilus")
TARGETS = ("timestamp", "price", "size", "bid", "ask", "tick_id")
SIZE_DECIMALS = 8  # fractional sizes (crypto, FX) are stored as integer units of 1e-8
INT64_LIMIT = float(2**63)  # a stored size (or a day's running volume) must stay below this
VOLUME_LIMIT = 9.2e18  # the day's running volume, compared in float64 with a margin below 2**63
SPOOL_BYTES = 128 << 20  # rows an import holds in memory before spilling them to Arrow IPC files
DEFAULT_ASSET = {"XNYS": "equity", "CMES": "futures", "24/7": "crypto"}  # when nothing else says
LAST_TYPE_TRADE = ord("C")  # last-qualified trade
LAST_TYPE_QUOTE = ord("O")  # quote-only rows are "other", never last-qualified

_FX = {"USD", "EUR", "JPY", "GBP", "CHF", "AUD", "NZD", "CAD", "SEK", "NOK", "DKK", "HKD", "SGD",
       "MXN", "ZAR", "TRY", "PLN", "CNH", "CZK", "HUF"}
_CRYPTO_QUOTES = ("USDT", "USDC", "BUSD", "FDUSD", "BTC", "ETH")
_CRYPTO_BASES = ("BTC", "ETH", "SOL", "XRP", "ADA", "DOGE", "BNB", "LTC", "DOT", "AVAX")
_FUTURE = re.compile(r"^[A-Z]{1,3}[FGHJKMNQUVXZ]\d{1,2}$")


@dataclass(frozen=True)
class DayResult:
    """What one imported session day produced."""

    day: dt.date
    ticks: int
    first: pd.Timestamp | None
    last: pd.Timestamp | None
    duplicates_dropped: int
    rejected: int  # ingest rules and wrong-day drops


@dataclass(frozen=True)
class ImportReport:
    """The result of :func:`import_file`."""

    path: str
    symbol: str
    source: str
    fmt: str
    calendar: str
    asset_class: str
    rows_read: int  # rows the file held that were candidates (trades, or quotes for quote-only)
    ticks: int  # ticks stored
    rejected: int  # rows sent to dead letters (parse, calendar, ingest rules)
    size_unit: float  # stored last_sz × size_unit = size in the file
    quote_only: bool
    days: tuple[DayResult, ...] = field(default_factory=tuple)
    refused: tuple[tuple[dt.date, str], ...] = ()  # (day, why) of stored days an import may not replace
    bars: tuple = ()  # nautilus_bars.BarsImported of each bar type a Nautilus catalog gave
    bars_refused: tuple[tuple[str, str], ...] = ()  # (bar type, why) of a catalog's bar types not imported

    @property
    def days_written(self) -> int:
        return len(self.days)


# -- detection helpers -------------------------------------------------------------------------
def detect_format(path: str | Path) -> str:
    """Format of ``path`` from its name (and for Parquet, its schema)."""
    p = Path(path)
    if p.is_dir():
        return "nautilus"
    name = p.name.lower()
    if ".dbn" in name:
        return "dbn"
    if name.endswith((".csv", ".csv.gz", ".csv.bz2", ".csv.zst", ".txt")):
        return "csv"
    if name.endswith((".parquet", ".pq")):
        from tickdeck.core.sources.nautilus import is_nautilus_schema
        import pyarrow.parquet as pq

        try:
            schema = pq.read_schema(p)
        except Exception as e:  # noqa: BLE001 - any pyarrow failure means a bad file
            raise ImportFormatError(f"{p}: not a readable Parquet file ({e})") from None
        return "nautilus" if is_nautilus_schema(schema) else "parquet"
    raise ImportFormatError(f"{p}: cannot tell the format from the name; pass --format {'|'.join(FORMATS)}")


def guess_market(symbol: str) -> tuple[str, str]:
    """(calendar, asset_class) a bare symbol suggests: FX pairs and crypto → 24/7, futures → CMES."""
    s = normalize_ticker(symbol).replace("-", "").replace("_", "").replace(".", "")
    if len(s) == 6 and s[:3] in _FX and s[3:] in _FX:
        return "24/7", "fx"
    if s.startswith(_CRYPTO_BASES) or (s.endswith(_CRYPTO_QUOTES) and len(s) > 4):
        return "24/7", "crypto"
    if _FUTURE.match(s):
        return "CMES", "futures"
    return "XNYS", "equity"


def parse_mapping(items) -> dict[str, str]:
    """``["timestamp=Time", "price=Last"]`` (or a dict) → ``{"timestamp": "Time", ...}``.

    Raises
    ------
    ImportFormatError
        An item is not ``target=column`` or names an unknown target.
    """
    if items is None:
        return {}
    pairs = items.items() if isinstance(items, dict) else []
    if not isinstance(items, dict):
        for item in items:
            target, sep, column = str(item).partition("=")
            if not sep or not target.strip() or not column.strip():
                raise ImportFormatError(f"mapping {item!r}: expected target=column, e.g. price=Last")
            pairs.append((target.strip(), column.strip()))
    out = {}
    for target, column in pairs:
        if target not in TARGETS:
            raise ImportFormatError(f"mapping target {target!r} is unknown; choose from {', '.join(TARGETS)}")
        out[target] = column
    return out


# -- reading -----------------------------------------------------------------------------------
def iter_file(path: str | Path, *, symbol: str, mapping=None, fmt: str | None = None) -> Iterator[ParsedTicks]:
    """Read any supported file as :class:`ParsedTicks` chunks, without storing anything.

    CSV and Parquet are streamed a block at a time (:func:`core.sources.tabular.iter_tabular`);
    DBN files and Nautilus catalogs come as one chunk.

    Raises
    ------
    ImportFormatError
        Unknown format, unreadable file, missing or unusable column, no data rows, or
        unparseable timestamps; the whole-file rules only once the last chunk has been read.
    """
    path = Path(path)
    if not path.exists():
        raise ImportFormatError(f"{path}: no such file or directory")
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise ImportFormatError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    if mapping and fmt in ("dbn", "nautilus"):
        raise ImportFormatError(f"column mappings apply to CSV and Parquet files, not {fmt}")
    if fmt == "dbn":
        from tickdeck.core.sources.dbn import read_dbn

        yield read_dbn(path, symbol=symbol)
    elif fmt == "nautilus":
        from tickdeck.core.sources.nautilus import read_nautilus

        yield read_nautilus(path, symbol=symbol)
    else:
        from tickdeck.core.sources.tabular import iter_tabular

        yield from iter_tabular(path, fmt=fmt, mapping=parse_mapping(mapping))


def read_file(path: str | Path, *, symbol: str, mapping=None, fmt: str | None = None) -> ParsedTicks:
    """Read any supported file into one :class:`ParsedTicks` without storing anything.

    Warnings
    --------
    Holds every row of the file in memory; :func:`import_file` streams instead.

    Raises
    ------
    ImportFormatError
        As :func:`iter_file`.
    """
    chunks = list(iter_file(path, symbol=symbol, mapping=mapping, fmt=fmt))
    if len(chunks) == 1 and chunks[0].row is None:
        return chunks[0]
    return _concat(chunks)


def _concat(chunks: list[ParsedTicks]) -> ParsedTicks:
    first = chunks[0]

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(c, name) for c in chunks])

    with_ids = all(c.tick_id is not None for c in chunks)
    starts = np.cumsum([0] + [len(c) for c in chunks])

    def text(k: np.ndarray) -> list[str]:
        k = np.asarray(k, dtype=np.int64)
        which = np.searchsorted(starts, k, side="right") - 1
        return [chunks[c].text(np.array([i - starts[c]]))[0] if chunks[c].text else "" for c, i in zip(which, k)]

    rejects = tuple(itertools.islice(itertools.chain.from_iterable(c.rejects for c in chunks), MAX_DEAD_LETTERS))
    return ParsedTicks(name=first.name, ns=cat("ns"), price=cat("price"), size=cat("size"), bid=cat("bid"),
                       ask=cat("ask"), tick_id=cat("tick_id") if with_ids else cat("row"), quote_only=first.quote_only,
                       rejects=rejects, rejected=sum(c.rejected for c in chunks), calendar=first.calendar,
                       asset_class=first.asset_class, venue=first.venue, description=first.description,
                       terms=first.terms, line=cat("line"), row=cat("row"), text=text)


# -- days --------------------------------------------------------------------------------------
def assign_session_days(ns: np.ndarray, cal: MarketCalendar) -> tuple[np.ndarray, np.ndarray]:
    """Session day (datetime64[D]) of each UTC-ns timestamp, and a mask of rows with none.

    XNYS: the row's Eastern-Time calendar date, which must be a trading day. CMES / 24/7: the
    calendar session whose open-to-close window holds the row; a row in a closed gap (after a
    close, before the next open — e.g. a holiday) belongs to the next session, as exchanges
    date pre-open activity to the next trading date.
    """
    ns = np.asarray(ns, dtype=np.int64)
    if ns.size == 0:
        return np.empty(0, dtype="datetime64[D]"), np.zeros(0, dtype=bool)
    if cal.name == "XNYS":
        ymd, _ = date_time_from_utc_ns(ns)
        uniq, inv = np.unique(ymd, return_inverse=True)
        days = np.array([f"{u // 10000:04d}-{u // 100 % 100:02d}-{u % 100:02d}" for u in uniq], dtype="datetime64[D]")
        ok = np.array([cal.is_trading_day(d.astype(object)) for d in days])
        return days[inv], ~ok[inv]
    days = cal.session_days(ns)
    first_open = cal.bounds(cal.first_day).open.value
    last_close = cal.bounds(cal.last_day).after_close.value
    outside = (ns < first_open) | (ns >= last_close)
    uniq, inv = np.unique(days, return_inverse=True)
    close = np.array([cal.bounds(d.astype(object)).after_close.value for d in uniq], dtype=np.int64)
    late = ns >= close[inv]
    if late.any():
        nxt = np.array([_next_day(cal, d.astype(object)) for d in uniq], dtype="datetime64[D]")
        days = np.where(late, nxt[inv], days)
    return days, outside


def _next_day(cal: MarketCalendar, day: dt.date) -> np.datetime64:
    later = cal.trading_days(day + dt.timedelta(days=1), day + dt.timedelta(days=31))
    return np.datetime64(later[0] if later else day, "D")


def size_units(size: np.ndarray) -> tuple[np.ndarray, float]:
    """Integer sizes and the unit they count: whole numbers as-is, else units of 1e-8."""
    whole = np.round(size)
    if np.all(np.abs(size - whole) <= 1e-9 * np.maximum(1.0, np.abs(size))):
        return whole.astype(np.int64), 1.0
    return np.round(size * 10**SIZE_DECIMALS).astype(np.int64), 10.0**-SIZE_DECIMALS


def build_raw(ns: np.ndarray, price: np.ndarray, size: np.ndarray, bid: np.ndarray, ask: np.ndarray,
              tick_id: np.ndarray, *, quote_only: bool, order: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The 14 raw columns for one day's rows, in time order.

    Without ``order`` the rows are already in time order; with it, row ``i`` of the result is
    row ``order[i]`` of the inputs (``size`` excepted: it is given in the result's order),
    gathered straight into the result's columns.
    """
    n = ns.shape[0] if order is None else order.shape[0]
    raw = empty_raw(n)
    for name, src in (("tick_id", tick_id), ("last", price), ("bid", bid), ("ask", ask)):
        if order is None:
            raw[name][:] = src
        else:
            np.take(src, order, out=raw[name])
    raw["date"][:], raw["time"][:] = date_time_from_utc_ns(ns if order is None else ns[order])
    raw["last_sz"][:] = size
    raw["last_type"][:] = LAST_TYPE_QUOTE if quote_only else LAST_TYPE_TRADE
    np.cumsum(raw["last_sz"], out=raw["tot_vlm"])
    return raw


# -- the importer ------------------------------------------------------------------------------
@dataclass
class _Seen:
    """What the importer learnt from the chunks read so far (mutable, internal)."""

    rows_read: int = 0
    whole_sizes: bool = True  # every kept size is a whole number: stored as is, else in 1e-8 units
    ids: bool = True  # every chunk had whole tick ids: use them, else data-row numbers


class _DeadLetters:
    """One import's dead letters: all counted, the first :data:`MAX_DEAD_LETTERS` stored.

    Each item is ``[text or None, reason, line or None, fallback text]``; a CSV row rejected
    after its chunk was gone (when writing its day) gets its text from the file at :meth:`flush`.
    """

    def __init__(self, source: str, symbol: str, path: Path, fmt: str):
        self.source, self.symbol, self.path, self.fmt = source, symbol, path, fmt
        self.items: list[list] = []
        self.count = 0
        self._stored = 0

    @property
    def room(self) -> int:
        return max(0, MAX_DEAD_LETTERS - len(self.items))

    def extend(self, rejects, total: int) -> None:
        """``(text, reason[, line])`` tuples from a reader; ``total`` counts the ones not listed too."""
        for r in itertools.islice(rejects, self.room):
            line = r[2] if len(r) > 2 else None
            self.items.append([r[0], r[1], line, r[0]])
        self.count += total

    def add(self, texts, reasons, lines, fallbacks, total: int) -> None:
        for item in itertools.islice(zip(texts, reasons, lines, fallbacks), self.room):
            self.items.append(list(item))
        self.count += total

    def flush(self, ctx) -> None:
        """Store the items not stored yet."""
        new = self.items[self._stored:]
        want = [it[2] for it in new if it[0] is None and it[2]]
        if want and self.fmt == "csv":
            from tickdeck.core.sources.csv_records import csv_line_texts

            found = csv_line_texts(self.path, want)
            for it in new:
                if it[0] is None and it[2] in found:
                    it[0] = found[it[2]]
        if new:
            ctx.catalog.add_dead_letters((self.source, self.symbol, it[0] if it[0] is not None else it[3], it[1],
                                          it[2]) for it in new)
        self._stored = len(self.items)


def _describe(ns: np.ndarray, price: np.ndarray, size: np.ndarray, ids: np.ndarray, idx: np.ndarray) -> list[str]:
    """Text for rows of a file that has none of its own (DBN, Nautilus) or whose text is gone."""
    return [f"tick_id={int(ids[i])} at {pd.Timestamp(int(ns[i]), tz='UTC')} price={float(price[i])!r} "
            f"size={float(size[i])!r}" for i in idx.tolist()]


def _whole(size: np.ndarray) -> bool:
    return bool(np.all(np.abs(size - np.round(size)) <= 1e-9 * np.maximum(1.0, np.abs(size))))


def _stage(chunk: ParsedTicks, cal: MarketCalendar, bounds, spool, dead: _DeadLetters, seen: _Seen) -> None:
    """Check one chunk's rows and spool the good ones under their session day."""
    n = len(chunk)
    seen.rows_read += n + chunk.rejected
    dead.extend(chunk.rejects, chunk.rejected)
    if not n:
        return
    ids = chunk.tick_id if chunk.tick_id is not None else chunk.row
    codes = bounds.check(price=chunk.price, size=None if chunk.quote_only else chunk.size, bid=chunk.bid, ask=chunk.ask)
    too_big = chunk.size >= INT64_LIMIT  # checked first: its own reason, and it must not decide the size unit
    bad = too_big | (codes != 0)
    keep = np.flatnonzero(~bad)
    days, outside = assign_session_days(chunk.ns[keep], cal)
    if outside.any():
        bad[keep[outside]] = True
        keep, days = keep[~outside], days[~outside]
    idx = np.flatnonzero(bad)
    if idx.size:
        first = idx[:dead.room]
        plaus = bounds.reasons(codes, first, price=chunk.price, size=chunk.size, bid=chunk.bid, ask=chunk.ask)
        reasons = [f"size {float(chunk.size[i])!r} does not fit a 64-bit integer" if too_big[i] else
                   (p or f"not in any {cal.name} trading session") for i, p in zip(first.tolist(), plaus)]
        fallback = _describe(chunk.ns, chunk.price, chunk.size, ids, first)
        texts = chunk.text(first) if chunk.text is not None else fallback
        lines = chunk.line[first].tolist() if chunk.line is not None else [None] * first.size
        dead.add(texts, reasons, lines, fallback, int(idx.size))
    if not keep.size:
        return
    size = chunk.size[keep]
    seen.whole_sizes = seen.whole_sizes and _whole(size)
    seen.ids = seen.ids and chunk.tick_id is not None
    row = chunk.row if chunk.row is not None else ids
    line = chunk.line if chunk.line is not None else np.zeros(n, dtype=np.int64)
    spool.add(days, {"ns": chunk.ns[keep], "price": chunk.price[keep], "size": size, "bid": chunk.bid[keep],
                     "ask": chunk.ask[keep], "id": ids[keep].astype(np.int64, copy=False),
                     "row": row[keep].astype(np.int64, copy=False), "line": line[keep].astype(np.int64, copy=False)})


def _day_raw(spool, day: np.datetime64, whole_sizes: bool, use_ids: bool, quote_only: bool,
             dead: _DeadLetters) -> tuple[dict, np.ndarray]:
    """One day's spooled rows → its raw columns in time order (and their UTC ns), for ingest_day.

    Sizes become integers in the import's unit; a row whose size in 1e-8 units does not fit
    int64, or that would carry the day's running volume (``tot_vlm``) past it, is a dead letter.

    Only what the file gives is an array (``tick_id``, ``last``, ``last_sz``, ``bid``, ``ask``);
    ``last_type``, ``mkt_ctr`` and the conditions are one value for every row, and ``date``,
    ``time`` and ``tot_vlm`` are left for :func:`core.ingest.ingest_day` to derive slice by slice
    (the same values :func:`build_raw` gives). Only the columns needed are read from the spool
    (line numbers only for rows turned into dead letters), and a day the file had in time order
    is moved, not copied. The spool forgets the day.
    """
    ids_name = "id" if use_ids else "row"
    cols = spool.take(day, ["ns", "price", "size", "bid", "ask", ids_name], keep=True)
    ns = cols["ns"]
    order = None if ns.size < 2 or bool((ns[1:] >= ns[:-1]).all()) else np.argsort(ns, kind="stable")
    units = cols["size"].copy() if order is None else np.take(cols["size"], order)
    if not whole_sizes:
        units *= 10**SIZE_DECIMALS
    np.round(units, out=units)
    over = units >= INT64_LIMIT
    if units.size and (over.any() or float(units.max()) * units.size >= VOLUME_LIMIT):  # else no sum can pass it
        over |= np.cumsum(np.where(over, 0.0, units)) >= VOLUME_LIMIT
    sel = order
    if over.any():
        bad = np.flatnonzero(over)
        first = bad[:dead.room] if order is None else order[bad[:dead.room]]
        reasons = [f"size {float(cols['size'][i])!r} in units of 1e-{SIZE_DECIMALS} does not fit a 64-bit integer"
                   if units[k] >= INT64_LIMIT else "the day's running volume would pass the 64-bit limit"
                   for i, k in zip(first.tolist(), bad[:dead.room].tolist())]
        lines = [int(v) or None for v in spool.take(day, ["line"], keep=True)["line"][first]]
        dead.add([None] * first.size, reasons, lines,
                 _describe(cols["ns"], cols["price"], cols["size"], cols[ids_name], first), int(bad.size))
        sel = np.flatnonzero(~over) if order is None else order[~over]
        units = units[~over]
    spool.forget(day)
    del cols["size"]
    last_sz = units.astype(np.int64)
    del units, order, over, ns

    def take(name: str) -> np.ndarray:
        a = cols.pop(name)
        return a if sel is None else np.take(a, sel)

    raw = {"tick_id": take(ids_name), "last": take("price"), "last_sz": last_sz, "bid": take("bid"),
           "ask": take("ask"), "last_type": np.uint8(LAST_TYPE_QUOTE if quote_only else LAST_TYPE_TRADE),
           "mkt_ctr": np.int16(0), "cond1": np.uint8(0), "cond2": np.uint8(0), "cond3": np.uint8(0),
           "cond4": np.uint8(0)}
    ns = take("ns")
    cols.clear()
    return raw, ns


def _release_memory() -> None:
    """Hand memory freed by the last phase back to the system, so it is there for the next day.

    Freed numpy buffers of chunk size stay in glibc's heap (its mmap threshold adapts upwards)
    and pyarrow's pool keeps freed pages; both count as resident until trimmed.
    """
    import ctypes

    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def import_file(ctx, path: str | Path, *, symbol: str, source: str | None = None, calendar: str | None = None,
                mapping=None, fmt: str | None = None, replace: bool = False,
                progress: Callable[[Progress], None] | None = None) -> ImportReport:
    """Import one file into the tick store, one whole session day at a time.

    The file is read in chunks and its rows spooled per session day (memory up to
    :data:`SPOOL_BYTES`, then Arrow IPC files under ``<data_dir>/tmp``); days are written only
    after the whole file has been read and found valid, each once, in day order.

    Parameters
    ----------
    ctx
        :class:`core.context.Context`.
    symbol
        Ticker to store under (kept as given, upper-cased; also selects the instrument in a
        multi-instrument DBN file or Nautilus catalog).
    source
        Name recorded as ``import:<source>`` (default: the format, e.g. ``dbn-mbp-1``);
        quote-only files get ``import:<source>:quotes``.
    calendar
        ``XNYS``, ``CMES`` or ``24/7``; default: what the file says, else the symbol's
        catalogued calendar, else :func:`guess_market`.
    mapping
        ``{"timestamp": "Time", ...}`` or ``["timestamp=Time", ...]`` for CSV / Parquet.
    replace
        Replace stored days even when they come from another source or would shrink sharply.
        Without it :func:`core.ingest.ingest_day` refuses such a day (``guard_replace=True``,
        :class:`~core.errors.ReplaceRefused`); the day is left as it was, listed in
        :attr:`ImportReport.refused`, and the other days are still imported.

    Raises
    ------
    ImportFormatError
        The file cannot be read, lacks a required column, has no data rows, is not UTF-8 text,
        or has unparseable timestamps; nothing is stored and no dead letters are written.
    ConfigError
        The plausibility settings (``TICKDECK_PRICE_MIN`` / ``_MAX``, ``TICKDECK_SIZE_MAX``) are invalid.

    Warnings
    --------
    Peak memory is about :data:`SPOOL_BYTES` or the largest day's raw columns (48 bytes per
    tick) plus one slice of :func:`core.ingest.ingest_day`, whichever is more; spill files
    need about 64 bytes of disk per row.
    """
    from tickdeck.core.ingest import finish_post_write, ingest_day
    from tickdeck.core.plausibility import Bounds
    from tickdeck.core.sources.spool import DaySpool, sweep_stale

    sym = normalize_ticker(symbol)
    bounds = Bounds.from_settings(ctx.settings)
    path = Path(path)
    nb = None
    if path.is_dir() and (fmt or "nautilus") == "nautilus":
        from tickdeck.core.sources import nautilus_bars

        if nautilus_bars.has_bars(path, sym):  # a catalog with bars: they are stored too (after the ticks)
            if not nautilus_bars.has_ticks(path, sym):
                return nautilus_bars.import_bars_only(ctx, path, sym, source=source, calendar=calendar)
            nb = nautilus_bars
    chunks = iter_file(path, symbol=sym, mapping=mapping, fmt=fmt)
    first = next(chunks, None)
    if first is None:
        raise ImportFormatError(f"{path}: no data rows; nothing to import")
    guess_cal, guess_asset = guess_market(sym)
    existing = ctx.catalog.dataset(sym)
    cal_name = calendar or first.calendar or (existing.calendar if existing is not None else None) or guess_cal
    cal = get_calendar(cal_name)
    bars_plan = nb.plan_bars(path, sym, cal) if nb is not None else None  # read and checked before any write
    if first.asset_class:
        asset = first.asset_class
    elif existing is not None and existing.calendar == cal.name and existing.asset_class:
        asset = existing.asset_class
    elif guess_cal == cal.name:
        asset = guess_asset
    else:
        asset = "fx" if first.quote_only else DEFAULT_ASSET[cal.name]
    name = source or first.name
    src = f"import:{name}" + (":quotes" if first.quote_only else "")

    dead = _DeadLetters(src, sym, path, first.name)
    seen = _Seen()
    tmp_root = Path(ctx.settings.data_dir) / "tmp"
    sweep_stale(tmp_root)
    results: list[DayResult] = []
    refused: list[tuple[dt.date, str]] = []
    with DaySpool(tmp_root, SPOOL_BYTES) as spool:
        for chunk in itertools.chain([first], chunks):
            _stage(chunk, cal, bounds, spool, dead, seen)
        dead.flush(ctx)  # the file is valid as a whole: its rejected rows are recorded before any write
        meta = dataclasses.replace(first, ns=first.ns[:0], price=first.price[:0], size=first.size[:0],
                                   bid=first.bid[:0], ask=first.ask[:0], tick_id=None, line=None, row=None, text=None)
        del first, chunk
        days = spool.days()
        if len(days) > 1 or spool.spills:
            spool.spill()  # while one day is written, the others (and its own rows) wait on disk, not in memory
        _release_memory()
        unit = 1.0 if seen.whole_sizes else 10.0**-SIZE_DECIMALS
        terms = resolve_terms(sym, asset, size_decimals=0 if unit == 1.0 else SIZE_DECIMALS, file_terms=meta.terms,
                              existing=existing)
        dataset = {"venue": meta.venue, "description": meta.description, **terms.dataset_values()}
        try:
            for k, day64 in enumerate(days):
                day = day64.astype(object)
                raw, ns = _day_raw(spool, day64, seen.whole_sizes, seen.ids, meta.quote_only, dead)
                r = None
                if ns.size:
                    try:  # the post-write hooks (bars, validation) run below, once this day's arrays are freed
                        r = ingest_day(ctx, sym, day, raw, source=src, calendar=cal, timestamps_ns=ns, dataset=dataset,
                                       guard_replace=not replace, defer_post_write=True, release_raw=True)
                    except ReplaceRefused as e:
                        refused.append((day, str(e)))
                    else:
                        results.append(DayResult(day, r.info.ticks, r.info.first, r.info.last, r.duplicates_dropped,
                                                 r.rejected + r.wrong_day_dropped))
                del raw, ns
                _release_memory()
                if r is not None:
                    finish_post_write(ctx, r.info)
                    _release_memory()
                if progress:
                    progress(Progress("import", k + 1, len(days), f"{sym} {day}"))
        finally:
            dead.flush(ctx)
    if bars_plan is not None:
        nb.store_bars(ctx, bars_plan)
        nb.record_refused(ctx, src, sym, bars_plan)
    return ImportReport(path=str(path), symbol=sym, source=src, fmt=meta.name, calendar=cal.name, asset_class=asset,
                        rows_read=seen.rows_read, ticks=sum(d.ticks for d in results),
                        rejected=dead.count + sum(d.rejected for d in results), size_unit=unit,
                        quote_only=meta.quote_only, days=tuple(results), refused=tuple(refused),
                        bars=bars_plan.imported if bars_plan else (),
                        bars_refused=bars_plan.refused if bars_plan else ())
