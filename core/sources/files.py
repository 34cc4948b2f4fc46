"""File importers: CSV, Parquet, Databento DBN and NautilusTrader trade ticks into the tick store.

:func:`import_file` reads one file (or a Nautilus catalog directory) into :class:`ParsedTicks`
— plain numpy arrays of UTC nanoseconds, prices, sizes and optional quotes — then groups the
rows by trading-session day of the chosen calendar and hands each day to
:func:`core.ingest.ingest_day` (the single write path). Parsing is vectorised (pyarrow, numpy);
rows that cannot be used go to the dead-letter table with their raw text and the reason.

Readers per format live in :mod:`core.sources.dbn` and :mod:`core.sources.nautilus`; the
tabular (CSV / Parquet) reader, the column auto-detection and the day grouping live here.
See ``docs/importing.md`` for the rules (aliases, epoch units, quote-only files, calendars).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.calendar import MarketCalendar, get_calendar
from core.enrich import date_time_from_utc_ns
from core.errors import ImportFormatError
from core.naming import normalize_ticker
from core.progress import Progress
from core.schema import empty_raw

FORMATS = ("csv", "parquet", "dbn", "nautilus")
TARGETS = ("timestamp", "price", "size", "bid", "ask", "tick_id")
# Column names recognised without a mapping (compared case-insensitively, first match wins).
ALIASES: dict[str, tuple[str, ...]] = {
    "timestamp": ("timestamp", "ts", "time", "datetime", "date_time", "ts_event", "timestamp_utc", "date"),
    "price": ("price", "last", "last_price", "trade_price", "px"),
    "size": ("size", "qty", "quantity", "volume", "last_sz", "last_size", "trade_size", "amount"),
    "bid": ("bid", "bid_price", "bid_px", "best_bid", "bidprice"),
    "ask": ("ask", "ask_price", "ask_px", "best_ask", "offer", "askprice"),
    "tick_id": ("tick_id", "trade_id", "id", "seq", "sequence"),
}
MAX_DEAD_LETTERS = 10_000  # a wholly bad file must not flood the SQL table; counts stay exact
MAX_BAD_TIMESTAMP_FRACTION = 0.5  # more unparseable than this means a wrong format, not bad rows
SIZE_DECIMALS = 8  # fractional sizes (crypto, FX) are stored as integer units of 1e-8
# Epoch numbers are classified by magnitude: below 1e11 seconds (year 5138), below 1e14
# milliseconds, below 1e17 microseconds, else nanoseconds.
EPOCH_LIMITS = ((1e11, 10**9), (1e14, 10**6), (1e17, 10**3))
DEFAULT_ASSET = {"XNYS": "equity", "CMES": "futures", "24/7": "crypto"}  # when nothing else says
LAST_TYPE_TRADE = ord("C")  # last-qualified trade
LAST_TYPE_QUOTE = ord("O")  # quote-only rows are "other", never last-qualified

_FX = {"USD", "EUR", "JPY", "GBP", "CHF", "AUD", "NZD", "CAD", "SEK", "NOK", "DKK", "HKD", "SGD",
       "MXN", "ZAR", "TRY", "PLN", "CNH", "CZK", "HUF"}
_CRYPTO_QUOTES = ("USDT", "USDC", "BUSD", "FDUSD", "BTC", "ETH")
_CRYPTO_BASES = ("BTC", "ETH", "SOL", "XRP", "ADA", "DOGE", "BNB", "LTC", "DOT", "AVAX")
_FUTURE = re.compile(r"^[A-Z]{1,3}[FGHJKMNQUVXZ]\d{1,2}$")


@dataclass(frozen=True)
class ParsedTicks:
    """Rows read from a file, before grouping into days (all arrays have one length)."""

    name: str  # default source name, e.g. "csv", "dbn-mbp-1", "nautilus"
    ns: np.ndarray  # int64 UTC epoch ns
    price: np.ndarray  # float64
    size: np.ndarray  # float64 (may be fractional)
    bid: np.ndarray  # float64, NaN when absent
    ask: np.ndarray  # float64, NaN when absent
    tick_id: np.ndarray | None = None  # int64 ids from the file, else synthesised
    quote_only: bool = False
    rejects: tuple = ()  # (raw_text, reason) of rows dropped while parsing (at most MAX_DEAD_LETTERS)
    rejected: int = 0  # exact count of rows dropped while parsing
    calendar: str | None = None  # what the file says (DBN dataset, Nautilus venue)
    asset_class: str | None = None
    venue: str = ""
    description: str = ""

    def __len__(self) -> int:
        return int(self.ns.shape[0])


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
        from core.sources.nautilus import is_nautilus_schema
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


# -- tabular reading ---------------------------------------------------------------------------
def _read_table(path: Path, fmt: str) -> tuple[pa.Table, bool]:
    """The file as an Arrow table; the flag says every column was read as text (CSV fallback)."""
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return pq.read_table(path), False
        import pyarrow.csv as pcsv

        try:
            return pcsv.read_csv(path), False
        except pa.ArrowInvalid:  # a value does not fit the inferred type: read text, coerce per row
            names = pcsv.open_csv(path).schema.names
            opts = pcsv.ConvertOptions(column_types={n: pa.string() for n in names})
            return pcsv.read_csv(path, convert_options=opts), True
    except (OSError, pa.ArrowException) as e:
        raise ImportFormatError(f"{path}: cannot read as {fmt}: {e}") from None


def resolve_columns(names: list[str], mapping: dict[str, str]) -> dict[str, str]:
    """Target → column name, from ``mapping`` first and then :data:`ALIASES`.

    Raises
    ------
    ImportFormatError
        A mapped column is absent, or the timestamp / price (or bid+ask) / size columns are missing.
    """
    lower = {n.strip().lower(): n for n in names}
    out: dict[str, str] = {}
    for target, col in mapping.items():
        if col not in names:
            raise ImportFormatError(f"mapping {target}={col}: no column {col!r}; the file has {', '.join(names)}")
        out[target] = col
    for target, aliases in ALIASES.items():
        if target not in out:
            hit = next((lower[a] for a in aliases if a in lower and lower[a] not in out.values()), None)
            if hit is not None:
                out[target] = hit
    if "timestamp" not in out:
        raise ImportFormatError(f"missing required column 'timestamp' (looked for {', '.join(ALIASES['timestamp'])}); "
                                f"the file has {', '.join(names)}; map one with --map timestamp=COLUMN")
    if "price" not in out and not ("bid" in out and "ask" in out):
        raise ImportFormatError(f"missing required column 'price' (looked for {', '.join(ALIASES['price'])}, or "
                                f"bid and ask for quotes); the file has {', '.join(names)}; use --map price=COLUMN")
    if "price" in out and "size" not in out:
        raise ImportFormatError(f"missing required column 'size' (looked for {', '.join(ALIASES['size'])}); "
                                f"the file has {', '.join(names)}; use --map size=COLUMN")
    return out


def _numbers(col: pa.ChunkedArray) -> np.ndarray:
    """float64 values; NaN where null or not a number (text is coerced vectorised)."""
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type) or pa.types.is_decimal(col.type):
        return pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    if pa.types.is_boolean(col.type):
        return pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False)
    text = pc.cast(col, pa.string())
    try:
        return pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:
        return pd.to_numeric(text.to_pandas(), errors="coerce").to_numpy(dtype=np.float64)


def parse_timestamps(col: pa.ChunkedArray, column: str) -> tuple[np.ndarray, np.ndarray]:
    """UTC epoch ns (int64) and a bad-row mask for a timestamp column of any common form.

    Arrow timestamps (naive = UTC), ISO-8601 text (with an offset, or naive = UTC) and epoch
    numbers (unit by magnitude, see :data:`EPOCH_LIMITS`) are accepted.

    Raises
    ------
    ImportFormatError
        More than :data:`MAX_BAD_TIMESTAMP_FRACTION` of the rows cannot be parsed; the message
        names the column, the first bad row and its value.
    """
    n = len(col)
    t = col.type
    if pa.types.is_timestamp(t):
        ns = pc.cast(col, pa.timestamp("ns", tz=t.tz)).cast(pa.int64())
        bad = pc.is_null(ns).to_numpy(zero_copy_only=False)
        vals = pc.fill_null(ns, 0).to_numpy(zero_copy_only=False).astype(np.int64)
    elif pa.types.is_date(t):
        raise ImportFormatError(f"column {column!r} holds dates without a time of day; map a timestamp column")
    elif pa.types.is_integer(t):  # exact: never through float64 (ns epochs exceed 2**53)
        ints = pc.cast(col, pa.int64())
        bad = pc.is_null(ints).to_numpy(zero_copy_only=False)
        vals = _epoch_to_ns(pc.fill_null(ints, 0).to_numpy(zero_copy_only=False).astype(np.int64), bad)
    elif pa.types.is_floating(t):
        v = _numbers(col)
        bad = ~np.isfinite(v)
        vals = _epoch_to_ns(np.where(bad, 0, v), bad)
    else:
        text = pc.cast(col, pa.string())
        vals, bad = _text_to_ns(text)
    n_bad = int(bad.sum())
    if n and n_bad > MAX_BAD_TIMESTAMP_FRACTION * n:
        i = int(np.flatnonzero(bad)[0])
        raise ImportFormatError(f"column {column!r}, row {i + 1}: cannot parse {col[i].as_py()!r} as a timestamp "
                                f"({n_bad} of {n} rows fail); use ISO-8601 with an offset or epoch numbers")
    return vals, bad


def _epoch_to_ns(v: np.ndarray, bad: np.ndarray) -> np.ndarray:
    good = v[~bad]
    mag = float(np.median(np.abs(good))) if good.size else 0.0
    mult = next((m for limit, m in EPOCH_LIMITS if mag < limit), 1)
    if v.dtype.kind == "f":  # whole and fractional parts apart: v * mult alone loses the last digits
        whole = np.floor(v)
        return whole.astype(np.int64) * mult + np.round((v - whole) * mult).astype(np.int64)
    return v.astype(np.int64) * mult


def _text_to_ns(text: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    for typ in (pa.timestamp("ns", tz="UTC"), pa.timestamp("ns")):
        try:
            ns = pc.cast(text, typ).cast(pa.int64())
            return pc.fill_null(ns, 0).to_numpy(zero_copy_only=False).astype(np.int64), \
                pc.is_null(ns).to_numpy(zero_copy_only=False)
        except pa.ArrowInvalid:
            continue
    try:  # pure epoch numbers written as text
        ints = pc.cast(text, pa.int64())
        bad = pc.is_null(ints).to_numpy(zero_copy_only=False)
        return _epoch_to_ns(pc.fill_null(ints, 0).to_numpy(zero_copy_only=False).astype(np.int64), bad), bad
    except pa.ArrowInvalid:
        pass
    try:
        v = pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False)
        bad = ~np.isfinite(v)
        return _epoch_to_ns(np.where(bad, 0, v), bad), bad
    except pa.ArrowInvalid:
        pass
    # Mixed or partly broken text: pandas' vectorised ISO-8601 parser, bad rows become NaT.
    s = pd.to_datetime(text.to_pandas(), utc=True, errors="coerce", format="ISO8601")
    bad = s.isna().to_numpy()
    return np.where(bad, 0, s.to_numpy(dtype="datetime64[ns]").astype(np.int64)), bad


def _csv_lines(path: Path, idx: np.ndarray) -> list[str]:
    """The file's own text of data rows ``idx`` (one line per row after the header)."""
    import io

    want = {int(i) + 1: k for k, i in enumerate(idx)}
    out = [""] * len(idx)
    last = max(want) if want else -1
    with pa.input_stream(str(path), compression="detect") as raw, io.TextIOWrapper(raw, encoding="utf-8",
                                                                                  errors="replace") as f:
        for n, line in enumerate(f):
            if n in want:
                out[want[n]] = line.rstrip("\r\n")
            if n >= last:
                break
    return out


def _row_texts(table: pa.Table, idx: np.ndarray) -> list[str]:
    rows = table.take(pa.array(idx[:MAX_DEAD_LETTERS])).to_pylist()
    return [",".join("" if v is None else str(v) for v in r.values()) for r in rows]


def read_tabular(path: str | Path, *, fmt: str, mapping: dict[str, str] | None = None) -> ParsedTicks:
    """Read a CSV or Parquet file of trades (or bid/ask quotes) with auto-detected columns.

    Raises
    ------
    ImportFormatError
        Unreadable file, missing required column or unparseable timestamps.
    """
    path = Path(path)
    table, _ = _read_table(path, fmt)
    cols = resolve_columns(table.column_names, mapping or {})
    n = table.num_rows
    ns, bad_ts = parse_timestamps(table.column(cols["timestamp"]), cols["timestamp"])
    nan = np.full(n, np.nan)
    bid = _numbers(table.column(cols["bid"])) if "bid" in cols else nan
    ask = _numbers(table.column(cols["ask"])) if "ask" in cols else nan
    reasons = np.full(n, "", dtype=object)
    reasons[bad_ts] = f"unparseable timestamp in column {cols['timestamp']!r}"
    quote_only = "price" not in cols
    if quote_only:
        ok_q = np.isfinite(bid) & np.isfinite(ask) & (bid > 0) & (ask >= bid)
        price = np.where(ok_q, (bid + ask) * 0.5, np.nan)
        size = np.zeros(n)
        reasons[~ok_q & (reasons == "")] = "quote needs 0 < bid <= ask"
    else:
        price = _numbers(table.column(cols["price"]))
        size = _numbers(table.column(cols["size"]))
        reasons[~(np.isfinite(price) & (price > 0)) & (reasons == "")] = \
            f"price in column {cols['price']!r} is missing, not a number or not > 0"
        reasons[~(np.isfinite(size) & (size >= 0)) & (reasons == "")] = \
            f"size in column {cols['size']!r} is missing, not a number or negative"
    tick_id = None
    if "tick_id" in cols:
        ids = _numbers(table.column(cols["tick_id"]))
        if np.isfinite(ids).all() and (ids == np.round(ids)).all():
            tick_id = ids.astype(np.int64)
    if tick_id is None:
        tick_id = np.arange(1, n + 1, dtype=np.int64)  # row number in the file: deterministic
    bad = reasons != ""
    bad_idx = np.flatnonzero(bad)
    texts = _csv_lines(path, bad_idx[:MAX_DEAD_LETTERS]) if fmt == "csv" else _row_texts(table, bad_idx)
    rejects = tuple(zip(texts, reasons[bad_idx[:MAX_DEAD_LETTERS]].tolist()))
    keep = ~bad
    return ParsedTicks(name=fmt, ns=ns[keep], price=price[keep], size=size[keep], bid=bid[keep], ask=ask[keep],
                       tick_id=tick_id[keep], quote_only=quote_only, rejects=rejects, rejected=int(bad_idx.size),
                       description=f"imported from {path.name}" + (" (bid/ask quotes; price = midpoint)" if quote_only else ""))


def read_file(path: str | Path, *, symbol: str, mapping=None, fmt: str | None = None) -> ParsedTicks:
    """Read any supported file into :class:`ParsedTicks` without storing anything.

    Raises
    ------
    ImportFormatError
        Unknown format, unreadable file, missing column or unparseable timestamps.
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
        from core.sources.dbn import read_dbn

        return read_dbn(path, symbol=symbol)
    if fmt == "nautilus":
        from core.sources.nautilus import read_nautilus

        return read_nautilus(path, symbol=symbol)
    return read_tabular(path, fmt=fmt, mapping=parse_mapping(mapping))


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
              tick_id: np.ndarray, *, quote_only: bool) -> dict[str, np.ndarray]:
    """The 14 raw columns for one day's rows (already in time order)."""
    raw = empty_raw(ns.shape[0])
    raw["tick_id"][:] = tick_id
    raw["date"][:], raw["time"][:] = date_time_from_utc_ns(ns)
    raw["last"][:] = price
    raw["last_sz"][:] = size
    raw["last_type"][:] = LAST_TYPE_QUOTE if quote_only else LAST_TYPE_TRADE
    raw["tot_vlm"][:] = np.cumsum(size)
    raw["bid"][:] = bid
    raw["ask"][:] = ask
    return raw


# -- the importer ------------------------------------------------------------------------------
def import_file(ctx, path: str | Path, *, symbol: str, source: str | None = None, calendar: str | None = None,
                mapping=None, fmt: str | None = None,
                progress: Callable[[Progress], None] | None = None) -> ImportReport:
    """Import one file into the tick store, one session day at a time.

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

    Raises
    ------
    ImportFormatError
        The file cannot be read, lacks a required column or has unparseable timestamps;
        nothing is stored.
    """
    from core.ingest import ingest_day

    sym = normalize_ticker(symbol)
    parsed = read_file(path, symbol=sym, mapping=mapping, fmt=fmt)
    guess_cal, guess_asset = guess_market(sym)
    existing = ctx.catalog.dataset(sym)
    cal_name = calendar or parsed.calendar or (existing.calendar if existing is not None else None) or guess_cal
    cal = get_calendar(cal_name)
    if parsed.asset_class:
        asset = parsed.asset_class
    elif existing is not None and existing.calendar == cal.name and existing.asset_class:
        asset = existing.asset_class
    elif guess_cal == cal.name:
        asset = guess_asset
    else:
        asset = "fx" if parsed.quote_only else DEFAULT_ASSET[cal.name]
    name = source or parsed.name
    src = f"import:{name}" + (":quotes" if parsed.quote_only else "")

    order = np.argsort(parsed.ns, kind="stable")
    ns = parsed.ns[order]
    days, outside = assign_session_days(ns, cal)
    sizes, unit = size_units(parsed.size[order])
    rejects = list(parsed.rejects)
    rejected = parsed.rejected
    if outside.any():
        bad = np.flatnonzero(outside)
        rejected += int(bad.size)
        ids = parsed.tick_id[order]
        rejects += [(f"tick_id={int(ids[i])} at {pd.Timestamp(int(ns[i]), tz='UTC')} price={parsed.price[order][i]}",
                     f"not in any {cal.name} trading session")
                    for i in bad[:MAX_DEAD_LETTERS]]
    if rejects:
        ctx.catalog.add_dead_letters((src, sym, raw, reason) for raw, reason in rejects[:MAX_DEAD_LETTERS])

    keep = np.flatnonzero(~outside)
    day_keys = days[keep]
    starts = np.flatnonzero(np.r_[True, day_keys[1:] != day_keys[:-1]]) if keep.size else np.empty(0, dtype=np.int64)
    bounds = np.r_[starts, keep.size]
    dataset = {"venue": parsed.venue, "asset_class": asset, "description": parsed.description}
    results = []
    total = len(starts)
    for k in range(total):
        sel = keep[bounds[k]:bounds[k + 1]]
        src_idx = order[sel]
        day = day_keys[bounds[k]].astype(object)
        raw = build_raw(ns[sel], parsed.price[src_idx], sizes[sel], parsed.bid[src_idx], parsed.ask[src_idx],
                        parsed.tick_id[src_idx], quote_only=parsed.quote_only)
        r = ingest_day(ctx, sym, day, raw, source=src, calendar=cal, timestamps_ns=ns[sel], dataset=dataset)
        results.append(DayResult(day, r.info.ticks, r.info.first, r.info.last, r.duplicates_dropped,
                                 r.rejected + r.wrong_day_dropped))
        if progress:
            progress(Progress("import", k + 1, total, f"{sym} {day}"))
    return ImportReport(path=str(path), symbol=sym, source=src, fmt=parsed.name, calendar=cal.name, asset_class=asset,
                        rows_read=len(parsed) + parsed.rejected, ticks=sum(d.ticks for d in results),
                        rejected=rejected + sum(d.rejected for d in results), size_unit=unit,
                        quote_only=parsed.quote_only, days=tuple(results))
