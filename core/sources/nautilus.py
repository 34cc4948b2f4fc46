"""NautilusTrader Parquet catalogs: trade ticks, quote ticks and bars → tickdeck.

Supported layouts: a catalog root (``<root>/data/trade_tick/<instrument>/*.parquet``), its
``data`` or ``trade_tick`` directory, one instrument directory, or one ``.parquet`` file.

Quote ticks (``<root>/data/quote_tick/<instrument>/``): with trade ticks of the same instrument
each trade carries the quote prevailing at its ``ts_event`` (the last quote at or before it);
without trade ticks the quotes are imported as quote-only ticks (midpoint price, size 0, like a
CSV of quotes). Bars (``<root>/data/bar/<bar_type>/``) are read by :func:`read_nautilus_bars`.

Columns ``price``, ``size``, ``ts_event`` (UTC ns, uint64), optional ``trade_id`` and
``aggressor_side``. Prices and sizes are fixed-point; the encoding is read from the Arrow type:

* ``fixed_size_binary(8)``: little-endian int64 raw values of 1e-9 (standard precision);
* ``fixed_size_binary(16)``: little-endian int128 raw values of 1e-16 (high precision);
* ``int64``: raw values of 1e-9 (older catalogs);
* floating point: the value itself.

The schema metadata (``instrument_id``, ``price_precision``, ``size_precision``) gives the
instrument (its venue picks the calendar) and the decimals values are rounded to.

Instrument terms: when the file sits in a catalog that also holds the instrument's definition
(``<root>/data/<kind>/<instrument_id>/*.parquet``, kind ``futures_contract``, ``equity``,
``currency_pair``, ``crypto_perpetual``, …), its ``multiplier``, ``lot_size`` and
``price_increment`` become the dataset's terms (see :mod:`tickdeck.core.instruments`).

A file without the Parquet footer (a cut copy) is refused as truncated before anything is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tickdeck.core.bars.spec import parse_spec
from tickdeck.core.errors import ImportFormatError, InvalidBarSpec
from tickdeck.core.sources.parsed import MAX_DEAD_LETTERS, ParsedTicks

FIXED_SCALE = {8: 1e9, 16: 1e16}  # bytes of the raw value → its scale (Nautilus FIXED_SCALAR)
INT_SCALE = 1e9  # int64 price/size columns of older catalogs
_TWO_64 = 18446744073709551616.0
_CRYPTO_VENUES = {"BINANCE", "BYBIT", "COINBASE", "KRAKEN", "OKX", "BITMEX", "DERIBIT", "BITFINEX", "HYPERLIQUID",
                  "DYDX"}
_FX_VENUES = {"IDEALPRO", "OANDA", "FXCM", "SIM_FX", "DUKASCOPY", "TRUEFX"}
_CME_VENUES = {"GLBX", "CME", "CBOT", "NYMEX", "COMEX", "XCME", "XCBT", "XNYM", "XCEC"}
# Catalog directories of instrument definitions → asset class (None: the venue decides).
INSTRUMENT_KINDS = {"futures_contract": "futures", "futures_spread": "futures", "equity": "equity",
                    "crypto_perpetual": "crypto", "crypto_future": "crypto", "currency_pair": None}
_PARQUET_MAGIC = b"PAR1"
_DATA_KINDS = ("trade_tick", "quote_tick", "bar")  # a catalog's data directory holds one of these


def is_nautilus_schema(schema: pa.Schema) -> bool:
    """True for a Nautilus trade-tick schema (metadata with precisions, or binary fixed-point prices)."""
    names = set(schema.names)
    if not {"price", "size", "ts_event"} <= names:
        return False
    meta = schema.metadata or {}
    return b"price_precision" in meta or pa.types.is_fixed_size_binary(schema.field("price").type)


def market_of_venue(venue: str) -> tuple[str | None, str | None]:
    """(calendar, asset_class) a Nautilus venue implies, or (None, None)."""
    v = venue.upper()
    if v in _CRYPTO_VENUES or v.startswith("BINANCE"):
        return "24/7", "crypto"
    if v in _FX_VENUES:
        return "24/7", "fx"
    if v in _CME_VENUES:
        return "CMES", "futures"
    if v in {"XNAS", "XNYS", "NASDAQ", "NYSE", "ARCA", "BATS", "IEX", "XASE"}:
        return "XNYS", "equity"
    return None, None


def find_files(path: Path, symbol: str, kind: str = "trade_tick") -> list[Path]:
    """The ``kind`` (``trade_tick``, ``quote_tick``) Parquet files for ``symbol`` under ``path``
    (see module docstring)."""
    if path.is_file():
        return [path]
    base = path
    for sub in (f"data/{kind}", kind):
        if (path / sub).is_dir():
            base = path / sub
            break
    inst_dirs = sorted(d for d in base.iterdir() if d.is_dir())
    if inst_dirs:
        pick = [d for d in inst_dirs if d.name.upper() == symbol.upper()
                or d.name.upper().split(".")[0].replace("-", "") == symbol.upper().replace("-", "")]
        if not pick and len(inst_dirs) == 1:
            pick = inst_dirs
        if len(pick) != 1:
            raise ImportFormatError(f"{base}: choose the instrument with --symbol; it holds "
                                    f"{', '.join(d.name for d in inst_dirs)}")
        base = pick[0]
    files = sorted(base.rglob("*.parquet"))
    if not files:
        raise ImportFormatError(f"{base}: no {kind.replace('_', '-')} .parquet files found")
    return files


def _names(path: Path, kind: str, symbol: str) -> bool:
    """Whether the catalog at ``path`` has a ``kind`` directory named for ``symbol`` (``ESU4`` or
    ``ESU4.GLBX``), as :func:`find_files` matches them."""
    data = path / "data" if (path / "data").is_dir() else path
    base = data / kind
    if not base.is_dir():
        return False
    want = symbol.upper().replace("-", "")
    return any(d.is_dir() and (d.name.upper() == symbol.upper()
                               or d.name.upper().split(".")[0].replace("-", "") == want) for d in base.iterdir())


def _catalog_kinds(path: Path) -> set[str]:
    """Which of trade_tick / quote_tick a catalog root (or its ``data`` directory) holds."""
    if path.is_file():
        return set()
    for p in (path, path.parent):  # a kind's directory, or one instrument directory inside it
        if p.name in ("trade_tick", "quote_tick"):
            return {p.name}
    data = path / "data" if (path / "data").is_dir() else path
    return {k for k in ("trade_tick", "quote_tick") if (data / k).is_dir()}


def check_parquet_complete(f: Path) -> None:
    """Raise :class:`ImportFormatError` when ``f`` lacks the Parquet header or footer magic (a cut copy)."""
    size = f.stat().st_size
    with open(f, "rb") as fh:
        head = fh.read(4)
        fh.seek(max(size - 4, 0))
        tail = fh.read(4)
    if size < 12 or head != _PARQUET_MAGIC or tail != _PARQUET_MAGIC:
        raise ImportFormatError(f"{f}: truncated or not a Parquet file: {size} bytes, and it does not end with "
                                f"the Parquet footer (PAR1); nothing was imported")


def _catalog_data_dir(path: Path) -> Path | None:
    """The catalog's ``data`` directory above (or at) ``path``, if ``path`` is inside a catalog."""
    for p in (path, *list(path.parents)[:4]):
        if p.name == "data" and any((p / k).is_dir() for k in _DATA_KINDS):
            return p
        if any((p / "data" / k).is_dir() for k in _DATA_KINDS):
            return p / "data"
    return None


def instrument_terms(path: Path, instrument_id: str) -> tuple[str | None, dict | None]:
    """(asset_class, terms) from the catalog's definition of ``instrument_id``, or (None, None).

    ``terms`` holds the definition's ``multiplier``, ``lot_size`` and ``tick_size``
    (``price_increment``) where present.
    """
    data = _catalog_data_dir(path) if instrument_id else None
    if data is None:
        return None, None
    for kind, asset in INSTRUMENT_KINDS.items():
        base = data / kind / instrument_id
        files = sorted(base.rglob("*.parquet")) if base.is_dir() else []
        for f in reversed(files):  # the newest file holding the instrument wins
            try:
                t = pq.read_table(f)
            except (OSError, pa.ArrowException):
                continue
            rows = t.to_pylist()
            rows = [r for r in rows if str(r.get("id", instrument_id)) == instrument_id] or rows
            if not rows:
                continue
            r = rows[-1]
            terms = {}
            for key, col in (("multiplier", "multiplier"), ("lot_size", "lot_size"), ("tick_size", "price_increment")):
                try:
                    v = float(r[col]) if r.get(col) not in (None, "") else None
                except (TypeError, ValueError):
                    v = None
                if v is not None and v > 0:
                    terms[key] = v
            return asset, terms
    return None, None


def decode_fixed(col: pa.ChunkedArray, column: str) -> np.ndarray:
    """Float values of a Nautilus fixed-point (binary / int64) or floating column."""
    t = col.type
    arr = col.combine_chunks()
    if arr.null_count:
        raise ImportFormatError(f"column {column!r} has {arr.null_count} null values; Nautilus columns are non-null")
    if pa.types.is_fixed_size_binary(t):
        width = t.byte_width
        if width not in FIXED_SCALE:
            raise ImportFormatError(f"column {column!r}: fixed_size_binary({width}) is not a Nautilus fixed-point "
                                    "width")
        buf = np.frombuffer(arr.buffers()[1], dtype=np.uint8)[arr.offset * width:(arr.offset + len(arr)) * width]
        if width == 8:
            return buf.view("<i8").astype(np.float64) / FIXED_SCALE[8]
        lo = buf.view("<u8")[0::2].astype(np.float64)
        hi = buf.view("<i8")[1::2].astype(np.float64)
        return (hi * _TWO_64 + lo) / FIXED_SCALE[16]
    if pa.types.is_integer(t):
        return arr.to_numpy().astype(np.float64) / INT_SCALE
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return arr.cast(pa.float64()).to_numpy()
    raise ImportFormatError(f"column {column!r}: type {t} is not a Nautilus price/size encoding")


def _read_tables(path: Path, symbol: str, kind: str, required: tuple[str, ...]) -> tuple[pa.Table, dict, list[Path]]:
    """One table of every ``kind`` file of ``symbol``, sorted by ``ts_event``, and its metadata."""
    files = find_files(path, symbol, kind)
    tables = []
    for f in files:
        check_parquet_complete(f)
        try:
            tables.append(pq.read_table(f))
        except (OSError, pa.ArrowException) as e:
            raise ImportFormatError(f"{f}: not a readable Parquet file ({e})") from None
    meta = {k.decode(): v.decode() for k, v in (tables[0].schema.metadata or {}).items() if k != b"pandas"}
    for f, t in zip(files[1:], tables[1:]):
        other = {k.decode(): v.decode() for k, v in (t.schema.metadata or {}).items() if k != b"pandas"}
        if other.get("instrument_id") != meta.get("instrument_id"):
            raise ImportFormatError(f"{f}: instrument {other.get('instrument_id')} differs from "
                                    f"{meta.get('instrument_id')} in {files[0].name}")
    for col in required:
        if col not in tables[0].column_names:
            raise ImportFormatError(f"{files[0]}: missing required column {col!r} of a Nautilus "
                                    f"{kind.replace('_', ' ')}")
    try:
        table = pa.concat_tables(tables)
    except pa.ArrowInvalid as e:
        raise ImportFormatError(f"{path}: the files' schemas differ ({e})") from None
    if table.num_rows > 1:
        ts = table.column("ts_event").cast(pa.int64()).to_numpy()
        if np.any(np.diff(ts) < 0):
            table = table.take(np.argsort(ts, kind="stable"))
    return table, meta, files


def _quotes(table: pa.Table, meta: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ts_event ns, bid, ask) of a quote-tick table, rounded to its price precision."""
    bid = decode_fixed(table.column("bid_price"), "bid_price")
    ask = decode_fixed(table.column("ask_price"), "ask_price")
    if "price_precision" in meta:
        bid, ask = np.round(bid, int(meta["price_precision"])), np.round(ask, int(meta["price_precision"]))
    return table.column("ts_event").cast(pa.int64()).to_numpy(), bid, ask


QUOTE_COLUMNS = ("bid_price", "ask_price", "ts_event")


def read_nautilus(path: str | Path, *, symbol: str) -> ParsedTicks:
    """Trade ticks (with their prevailing quotes), or quote ticks alone, from a Nautilus catalog or file.

    Raises
    ------
    ImportFormatError
        No files, a missing column, an unknown encoding, or files with different metadata.
    """
    path = Path(path)
    kinds = _catalog_kinds(path)
    if kinds == {"quote_tick"} or (path.is_file() and is_quote_schema(pq.read_schema(path))) or (
            kinds == {"trade_tick", "quote_tick"} and not _names(path, "trade_tick", symbol)
            and _names(path, "quote_tick", symbol)):  # this instrument has quotes only
        return _read_quote_only(path, symbol)
    table, meta, files = _read_tables(path, symbol, "trade_tick", ("price", "size", "ts_event"))
    price = decode_fixed(table.column("price"), "price")
    size = decode_fixed(table.column("size"), "size")
    if "price_precision" in meta:
        price = np.round(price, int(meta["price_precision"]))
    if "size_precision" in meta:
        size = np.round(size, int(meta["size_precision"]))
    ns = table.column("ts_event").cast(pa.int64()).to_numpy()
    n = table.num_rows
    tick_id = np.arange(1, n + 1, dtype=np.int64)
    if "trade_id" in table.column_names:
        try:
            tick_id = table.column("trade_id").cast(pa.int64()).to_numpy()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass  # non-numeric trade ids: keep the row numbers
    bad = ~(np.isfinite(price) & (price > 0) & np.isfinite(size) & (size >= 0))
    idx = np.flatnonzero(bad)
    rejects = tuple((f"trade_id={int(tick_id[i])} ts_event={int(ns[i])} price={price[i]} size={size[i]}",
                     "Nautilus trade with price <= 0 or negative size") for i in idx[:MAX_DEAD_LETTERS])
    instrument = meta.get("instrument_id", "")
    venue = instrument.rsplit(".", 1)[-1] if "." in instrument else ""
    cal, asset = market_of_venue(venue)
    kind_asset, terms = instrument_terms(path, instrument)
    asset = asset or kind_asset
    keep = ~bad
    bid = ask = np.full(n, np.nan)
    if "quote_tick" in kinds and _names(path, "quote_tick", instrument or symbol):  # its own quotes only
        try:
            q_ns, q_bid, q_ask = _quotes(*_read_tables(path, instrument or symbol, "quote_tick", QUOTE_COLUMNS)[:2])
        except ImportFormatError:
            q_ns = None  # quotes of other instruments only
        if q_ns is not None and q_ns.size:
            at = np.searchsorted(q_ns, ns, side="right") - 1  # the last quote at or before each trade
            has = at >= 0
            bid, ask = np.full(n, np.nan), np.full(n, np.nan)
            bid[has], ask[has] = q_bid[at[has]], q_ask[at[has]]
    return ParsedTicks(name="nautilus", ns=ns[keep], price=price[keep], size=size[keep], bid=bid[keep], ask=ask[keep],
                       tick_id=tick_id[keep], rejects=rejects, rejected=int(idx.size), calendar=cal, asset_class=asset,
                       venue=venue[:32], description=f"NautilusTrader trade ticks {instrument} ({path.name})",
                       terms=terms)


def is_quote_schema(schema: pa.Schema) -> bool:
    """True for a Nautilus quote-tick schema."""
    return set(QUOTE_COLUMNS) <= set(schema.names) and b"instrument_id" in (schema.metadata or {})


def _read_quote_only(path: Path, symbol: str) -> ParsedTicks:
    """Quote ticks as quote-only ticks: midpoint price, size 0, bid and ask as quoted."""
    table, meta, _ = _read_tables(path, symbol, "quote_tick", QUOTE_COLUMNS)
    ns, bid, ask = _quotes(table, meta)
    n = ns.size
    tick_id = np.arange(1, n + 1, dtype=np.int64)
    bad = ~(np.isfinite(bid) & np.isfinite(ask) & (bid > 0) & (ask > 0) & (ask >= bid))
    idx = np.flatnonzero(bad)
    rejects = tuple((f"ts_event={int(ns[i])} bid={bid[i]} ask={ask[i]}", "Nautilus quote with a price <= 0 or "
                     "a crossed book") for i in idx[:MAX_DEAD_LETTERS])
    instrument = meta.get("instrument_id", "")
    venue = instrument.rsplit(".", 1)[-1] if "." in instrument else ""
    cal, asset = market_of_venue(venue)
    kind_asset, terms = instrument_terms(path, instrument)
    keep = ~bad
    mid = (bid + ask) / 2
    if "price_precision" in meta:  # one more decimal holds every midpoint of two quoted prices
        mid = np.round(mid, int(meta["price_precision"]) + 1)
    return ParsedTicks(name="nautilus", ns=ns[keep], price=mid[keep], size=np.zeros(int(keep.sum())), bid=bid[keep],
                       ask=ask[keep], tick_id=tick_id[keep], quote_only=True, rejects=rejects, rejected=int(idx.size),
                       calendar=cal, asset_class=asset or kind_asset, venue=venue[:32],
                       description=f"NautilusTrader quote ticks {instrument} ({path.name})", terms=terms)


@dataclass(frozen=True)
class NautilusBars:
    """One bar type read from a catalog: its Nautilus string, the tickdeck spec (``None`` when
    tickdeck has no such bars, ``reason`` says why) and the bars (index ``end`` as tz-aware UTC;
    open, high, low, close, volume, ``ts_init`` in UTC ns)."""

    bar_type: str
    instrument_id: str
    spec: str | None
    frame: pd.DataFrame
    reason: str = ""
    price_precision: int | None = None
    size_precision: int | None = None


BAR_FIELDS = ("open", "high", "low", "close", "volume")
_TIME_AGG = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86_400}
_COUNT_AGG = {"TICK": "tick", "VOLUME": "volume", "VALUE": "dollar"}
_INFO_AGG = ("TICK_IMBALANCE", "TICK_RUNS", "VOLUME_IMBALANCE", "VOLUME_RUNS", "VALUE_IMBALANCE", "VALUE_RUNS")


def map_bar_type(bar_type: str, tick_size: float | None = None) -> tuple[str | None, str]:
    """``(spec, "")`` of a Nautilus bar type tickdeck has bars for, else ``(None, why not)``.

    ``<instrument>-<step>-<aggregation>-<price type>-<source>`` (a composite ``…@<step>-<agg>-<source>``
    is mapped by its first part): SECOND/MINUTE/HOUR/DAY → time, TICK → tick, VOLUME → volume,
    VALUE → dollar, RENKO → renko (brick = step × ``tick_size``, which it needs). Only LAST bars map:
    tickdeck's bars are bars of trades, not of BID/ASK/MID quotes.
    """
    parts = bar_type.split("@")[0].split("-")
    if len(parts) < 5:
        return None, "not a Nautilus bar type (INSTRUMENT-STEP-AGGREGATION-PRICE_TYPE-SOURCE)"
    try:
        n = int(parts[-4])
    except ValueError:
        return None, f"step {parts[-4]!r} is not a whole number"
    agg, price_type = parts[-3], parts[-2]
    if price_type != "LAST":
        return None, f"{price_type} bars are bars of quotes; tickdeck's bars are of trades (LAST) only"
    spec = None
    if agg in _TIME_AGG:
        secs = n * _TIME_AGG[agg]
        for unit, suffix in ((86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")):
            if secs % unit == 0:
                spec = f"time:{secs // unit}{suffix}"
                break
    elif agg in ("TICK", "VOLUME", "VALUE"):
        spec = f"{_COUNT_AGG[agg]}:{n}"
    elif agg == "RENKO":
        if not tick_size:
            return None, "RENKO bricks count price increments, and the catalog has no instrument giving it"
        spec = f"renko:{round(n * tick_size, 12)!r}"
    elif agg in _INFO_AGG:
        return None, (f"{agg} bars close on a fixed threshold; tickdeck's imbalance and runs bars use an "
                      "EWMA-expected one (AFML), so they are not the same bars")
    else:
        return None, f"tickdeck has no {agg} bars"
    try:
        return str(parse_spec(spec)), ""
    except InvalidBarSpec as e:
        return None, f"maps to {spec}, which tickdeck cannot build ({e})"


def bar_spec_of(bar_type: str, tick_size: float | None = None) -> str | None:
    """The tickdeck spec of a Nautilus bar type (``…-1-MINUTE-LAST-EXTERNAL`` → ``time:1m``), or ``None``
    (:func:`map_bar_type` says why)."""
    return map_bar_type(bar_type, tick_size)[0]


def bar_instrument(bar_type: str) -> str:
    """The instrument id of a bar type string (everything before its last four ``-`` parts)."""
    parts = bar_type.split("@")[0].split("-")
    return "-".join(parts[:-4]) if len(parts) >= 5 else ""


def instrument_is(instrument: str, symbol: str) -> bool:
    """Whether ``symbol`` names ``instrument`` (``ESU4`` or ``ESU4.GLBX``; ``BTC-USD`` for ``BTCUSD.X``)."""
    i, s = instrument.upper(), symbol.upper()
    return i == s or i.split(".")[0].replace("-", "") == s.replace("-", "")


def read_nautilus_bars(path: str | Path, *, symbol: str | None = None) -> list[NautilusBars]:
    """Every bar type under a catalog's ``data/bar`` (of ``symbol``'s instrument when given).

    Raises
    ------
    ImportFormatError
        No bar directory or files, a missing column or an unknown encoding.
    """
    path = Path(path)
    base = next((path / s for s in ("data/bar", "bar") if (path / s).is_dir()), None)
    if base is None:
        raise ImportFormatError(f"{path}: no data/bar directory: not a Nautilus catalog with bars")
    out = []
    for d in sorted(p for p in base.iterdir() if p.is_dir()):
        bar_type = d.name
        iid = bar_instrument(bar_type)
        if symbol and not instrument_is(iid, symbol):
            continue
        files = sorted(d.rglob("*.parquet"))
        tables = []
        for f in files:
            check_parquet_complete(f)
            tables.append(pq.read_table(f))
        if not tables:
            continue
        t = pa.concat_tables(tables)
        meta = {k.decode(): v.decode() for k, v in (t.schema.metadata or {}).items()}
        bar_type = meta.get("bar_type", bar_type)
        iid = meta.get("instrument_id", iid)
        for c in (*BAR_FIELDS, "ts_event"):
            if c not in t.column_names:
                raise ImportFormatError(f"{d}: missing required column {c!r} of a Nautilus bar")
        cols = {c: decode_fixed(t.column(c), c) for c in BAR_FIELDS}
        if "price_precision" in meta:
            for c in ("open", "high", "low", "close"):
                cols[c] = np.round(cols[c], int(meta["price_precision"]))
        if "size_precision" in meta:
            cols["volume"] = np.round(cols["volume"], int(meta["size_precision"]))
        ev = t.column("ts_event").cast(pa.int64()).to_numpy()
        cols["ts_init"] = t.column("ts_init").cast(pa.int64()).to_numpy() if "ts_init" in t.column_names else ev
        ts = pd.DatetimeIndex(ev.astype("datetime64[ns]"), tz="UTC")
        frame = pd.DataFrame(cols, index=ts.rename("end")).sort_index(kind="stable")
        _, terms = instrument_terms(path, iid)
        spec, why = map_bar_type(bar_type, (terms or {}).get("tick_size"))
        prec = {k: int(meta[k]) if k in meta else None for k in ("price_precision", "size_precision")}
        out.append(NautilusBars(bar_type, iid, spec, frame, why, **prec))
    if not out:
        raise ImportFormatError(f"{base}: no bars" + (f" of {symbol}" if symbol else ""))
    return out
