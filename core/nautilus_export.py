"""Stored ticks and bars → a NautilusTrader ``ParquetDataCatalog`` directory.

Layout and encoding are Nautilus's own (1.2xx, read back by ``ParquetDataCatalog``):

* ``data/trade_tick/<instrument_id>/<first>_<last>.parquet``: one file per stored day, columns
  ``price, size`` (fixed-point binary), ``aggressor_side`` (uint8: 1 buyer, 2 seller, 0 none,
  from ``trade_sign``), ``trade_id`` (the tick id as text), ``ts_event = ts_init`` (UTC ns);
* ``data/quote_tick/<instrument_id>/…``: the day's quotes where the ticks carry ``bid`` and
  ``ask``: one quote per change of (bid, ask), at the tick that shows it; sizes 0 (tickdeck
  keeps no quote sizes);
* ``data/bar/<bar_type>/…``: bars of a spec Nautilus has an aggregation for
  (:func:`bar_type_step`), ``ts_event = ts_init`` = the bar's ``end``; the bar type's source is
  ``EXTERNAL`` (built by tickdeck, not re-aggregated by Nautilus). A day holding an imported
  series of the spec (:mod:`core.bars.imported`, e.g. from a Nautilus catalog) writes that
  series instead, as it came: its own bar type, ``ts_init`` and price/size precision;
* ``data/<equity|futures_contract|currency_pair>/<instrument_id>/…``: the instrument, with the
  price precision of its tick size (else the decimals its prices need), its size precision
  (``size_decimals``), lot size and multiplier from :mod:`core.instruments`.

Fixed-point values are encoded with numpy over whole arrays (``round(x·10^p)`` times
``10^(scale−p)``, in 128-bit for high-precision builds), never one Python object per tick.
Families Nautilus has no aggregation for (``range``, ``heikin_ashi``; imbalance and runs bars,
whose tickdeck form is the EWMA-expected threshold of AFML, not Nautilus's fixed one; volume or
dollar thresholds that are not whole numbers; renko without a tick size) are written as
tickdeck Parquet under ``tickdeck/bars/<family>/<instrument_id>/<spec>.parquet`` with the spec,
instrument and columns in the schema metadata.

Needs the ``nautilus_trader`` package (``pip install nautilus_trader``) for the instrument
records and the catalog's naming rules.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tickdeck.core.bars import imported
from tickdeck.core.bars.spec import INFO_FAMILIES, BarSpec, parse_spec
from tickdeck.core.errors import TickdeckError
from tickdeck.core.instruments import InstrumentTerms, fewest_decimals, future_root, stored_terms
from tickdeck.core.naming import format_day
from tickdeck.core.progress import Progress
from tickdeck.core.schema import SESSION_BY_NAME

TICK_COLUMNS = ["last", "last_sz", "bid", "ask", "trade_sign", "tick_id"]
MAX_PRICE_DECIMALS = 9  # Nautilus FIXED_PRECISION of a standard build; high-precision builds allow 16
_VENUE = re.compile(r"^[A-Z0-9_]{1,32}$")
_CALENDAR_VENUES = {"XNYS": "XNYS", "CMES": "GLBX"}
DEFAULT_VENUE = "TICKDECK"
_TIME_UNITS = ((86_400, "DAY"), (3_600, "HOUR"), (60, "MINUTE"), (1, "SECOND"))
_AGG = {"tick": "TICK", "volume": "VOLUME", "dollar": "VALUE", "renko": "RENKO"}
_CRYPTO_QUOTES = ("USDT", "USDC", "BUSD", "USD", "EUR", "BTC", "ETH")


class NautilusExportError(TickdeckError, ValueError):
    """A Nautilus export cannot be made (package missing, nothing to write, bad target)."""


def _nautilus():
    try:
        import nautilus_trader  # noqa: F401 - presence check; the pieces are imported where used
    except ImportError:
        raise NautilusExportError("the nautilus format needs the nautilus_trader package: "
                                  "pip install nautilus_trader") from None
    from nautilus_trader.model import objects

    return objects


@dataclass(frozen=True)
class NautilusFile:
    path: str  # relative to the catalog root
    rows: int
    bytes: int


@dataclass
class NautilusExportResult:
    catalog: str
    instruments: dict = field(default_factory=dict)  # symbol -> instrument id
    files: list = field(default_factory=list)  # NautilusFile
    bar_types: list = field(default_factory=list)
    fallback_bars: list = field(default_factory=list)  # "<family>:<spec>" written as tickdeck Parquet
    trades: int = 0
    quotes: int = 0
    bars: int = 0


# -- fixed point ------------------------------------------------------------------------------------
def fixed_binary(values: np.ndarray, precision: int) -> pa.Array:
    """Nautilus fixed-point ``fixed_size_binary`` column of ``values`` rounded to ``precision`` decimals.

    Raw value = ``round(x·10^precision) · 10^(FIXED_PRECISION − precision)``, little-endian int64
    (standard build) or int128 (high-precision build), computed with 32-bit limbs in uint64.
    """
    objects = _nautilus()
    scale, width = int(objects.FIXED_PRECISION), int(objects.FIXED_PRECISION_BYTES)
    if precision > scale:
        raise NautilusExportError(f"precision {precision} exceeds Nautilus's fixed precision {scale}")
    units = np.rint(np.asarray(values, dtype=np.float64) * 10.0 ** precision).astype(np.int64)
    mult = np.uint64(10 ** (scale - precision))
    neg = units < 0
    a = np.abs(units).astype(np.uint64)
    if width == 8:
        raw = (a * mult).astype(np.int64)
        raw[neg] = -raw[neg]
        return pa.Array.from_buffers(pa.binary(8), len(raw), [None, pa.py_buffer(raw.astype("<i8").tobytes())])
    mask = np.uint64(0xFFFFFFFF)
    s32 = np.uint64(32)
    a0, a1 = a & mask, a >> s32
    m0, m1 = mult & mask, mult >> s32
    p00, p01, p10, p11 = a0 * m0, a0 * m1, a1 * m0, a1 * m1
    mid = (p00 >> s32) + (p01 & mask) + (p10 & mask)
    lo = (p00 & mask) | (mid << s32)
    hi = p11 + (p01 >> s32) + (p10 >> s32) + (mid >> s32)
    lo_n, hi_n = ~lo + np.uint64(1), ~hi + (lo == 0).astype(np.uint64)  # two's complement of the negatives
    lo, hi = np.where(neg, lo_n, lo), np.where(neg, hi_n, hi)
    out = np.empty(2 * len(a), dtype="<u8")
    out[0::2], out[1::2] = lo, hi
    return pa.Array.from_buffers(pa.binary(16), len(a), [None, pa.py_buffer(out.tobytes())])


def price_decimals(terms: InstrumentTerms, prices: np.ndarray) -> int:
    """Decimals of the tick size when known, else the fewest that hold every price exactly."""
    if terms.tick_size:
        text = np.format_float_positional(terms.tick_size, trim="-")
        return min(len(text.split(".")[1]) if "." in text else 0, MAX_PRICE_DECIMALS)
    return fewest_decimals(prices, MAX_PRICE_DECIMALS)


# -- naming -----------------------------------------------------------------------------------------
def instrument_id(symbol: str, venue: str = "", calendar: str = "") -> str:
    """``<SYMBOL>.<VENUE>``: the dataset's venue (its first dotted part, ``GLBX.MDP3`` → ``GLBX``),
    else the calendar's exchange (XNYS, GLBX for CMES), else ``TICKDECK``."""
    v = (venue or "").split(".")[0].upper()
    if not _VENUE.match(v or "-"):
        v = _CALENDAR_VENUES.get((calendar or "").upper(), DEFAULT_VENUE)
    return f"{symbol}.{v}"


def bar_type_step(spec: BarSpec | str, tick_size: float | None = None) -> tuple[int, str] | None:
    """``(step, aggregation)`` of the Nautilus bar type for ``spec``, or ``None`` when Nautilus has none.

    time ``Ns`` → the largest of DAY/HOUR/MINUTE/SECOND dividing it; tick → TICK; volume → VOLUME
    and dollar → VALUE when the threshold is whole; renko → RENKO in ticks of ``tick_size`` when
    the brick is a whole number of them. range, heikin_ashi and the EWMA imbalance/runs families
    have no Nautilus equivalent.
    """
    spec = parse_spec(spec)
    if spec.family == "time":
        secs = spec.interval_s
        for unit, name in _TIME_UNITS:
            if secs % unit == 0:
                return secs // unit, name
    if spec.family in ("tick", "volume", "dollar"):
        v = spec.value
        return (int(v), _AGG[spec.family]) if float(v).is_integer() else None
    if spec.family == "renko" and tick_size:
        n = spec.value / tick_size
        return (int(round(n)), "RENKO") if abs(n - round(n)) < 1e-9 and round(n) >= 1 else None
    return None


def bar_type_string(iid: str, spec: BarSpec | str, tick_size: float | None = None) -> str | None:
    """``AAPL.XNAS-1-MINUTE-LAST-EXTERNAL`` for ``spec``, or ``None`` (see :func:`bar_type_step`)."""
    st = bar_type_step(spec, tick_size)
    return None if st is None else f"{iid}-{st[0]}-{st[1]}-LAST-EXTERNAL"


def _file_name(first_ns: int, last_ns: int) -> str:
    from nautilus_trader.core.datetime import unix_nanos_to_iso8601

    def stamp(ns: int) -> str:
        return unix_nanos_to_iso8601(int(ns)).replace(":", "-").replace(".", "-")

    return f"{stamp(first_ns)}_{stamp(last_ns)}.parquet"


def _data_dir(root: Path, cls, identifier: str) -> Path:
    from nautilus_trader.persistence.funcs import class_to_filename, urisafe_identifier

    return root / "data" / class_to_filename(cls) / urisafe_identifier(identifier)


def _write(root: Path, directory: Path, table: pa.Table, ts: np.ndarray, result: NautilusExportResult) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / _file_name(int(ts[0]), int(ts[-1]))
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp)
    tmp.replace(path)
    result.files.append(NautilusFile(path.relative_to(root).as_posix(), table.num_rows, path.stat().st_size))


def _meta(iid: str, price_prec: int, size_prec: int, **extra) -> dict:
    return {"instrument_id": iid, "price_precision": str(price_prec), "size_precision": str(size_prec), **extra}


def _ns(index) -> np.ndarray:
    return pd.DatetimeIndex(index).tz_convert("UTC").asi8.astype(np.uint64)


# -- tables ---------------------------------------------------------------------------------------
def trade_table(df: pd.DataFrame, iid: str, price_prec: int, terms: InstrumentTerms) -> tuple[pa.Table, np.ndarray]:
    """A Nautilus ``TradeTick`` table of stored ticks ``df`` (index: tz-aware timestamps)."""
    ts = _ns(df.index)
    size = df["last_sz"].to_numpy(dtype=np.float64) / terms.size_units
    sign = df["trade_sign"].to_numpy()
    side = np.where(sign > 0, 1, np.where(sign < 0, 2, 0)).astype(np.uint8)
    cols = {"price": fixed_binary(df["last"].to_numpy(), price_prec),
            "size": fixed_binary(size, terms.size_decimals),
            "aggressor_side": pa.array(side, pa.uint8()),
            "trade_id": pa.array(df["tick_id"].to_numpy()).cast(pa.string()),
            "ts_event": pa.array(ts, pa.uint64()), "ts_init": pa.array(ts, pa.uint64())}
    schema = pa.schema([pa.field(k, v.type, nullable=False) for k, v in cols.items()],
                       metadata=_meta(iid, price_prec, terms.size_decimals))
    return pa.Table.from_arrays(list(cols.values()), schema=schema), ts


def quote_table(df: pd.DataFrame, iid: str, price_prec: int, size_prec: int) -> tuple[pa.Table, np.ndarray] | None:
    """A Nautilus ``QuoteTick`` table: one row per change of (bid, ask), or ``None`` without quotes."""
    bid, ask = df["bid"].to_numpy(dtype=np.float64), df["ask"].to_numpy(dtype=np.float64)
    ok = np.isfinite(bid) & np.isfinite(ask) & (bid > 0) & (ask > 0)
    idx = np.flatnonzero(ok)
    if idx.size == 0:
        return None
    b, a = bid[idx], ask[idx]
    change = np.ones(idx.size, dtype=bool)
    change[1:] = (b[1:] != b[:-1]) | (a[1:] != a[:-1])
    idx, b, a = idx[change], b[change], a[change]
    ts = _ns(df.index[idx])
    zero = fixed_binary(np.zeros(idx.size), size_prec)
    cols = {"bid_price": fixed_binary(b, price_prec), "ask_price": fixed_binary(a, price_prec),
            "bid_size": zero, "ask_size": zero,
            "ts_event": pa.array(ts, pa.uint64()), "ts_init": pa.array(ts, pa.uint64())}
    schema = pa.schema([pa.field(k, v.type, nullable=False) for k, v in cols.items()],
                       metadata=_meta(iid, price_prec, size_prec))
    return pa.Table.from_arrays(list(cols.values()), schema=schema), ts


def bar_table(bars: pd.DataFrame, bar_type: str, iid: str, price_prec: int, size_prec: int
              ) -> tuple[pa.Table, np.ndarray]:
    """A Nautilus ``Bar`` table of a tickdeck bar frame; ``ts_event`` = the bar's ``end``, ``ts_init`` the
    same (or an imported series' own ``ts_init``)."""
    ts = _ns(bars["end"])
    cols = {c: fixed_binary(bars[c].to_numpy(), price_prec) for c in ("open", "high", "low", "close")}
    cols["volume"] = fixed_binary(bars["volume"].to_numpy(), size_prec)
    cols["ts_event"] = pa.array(ts, pa.uint64())
    init = bars["ts_init"].to_numpy().astype(np.uint64) if "ts_init" in bars.columns else ts  # imported: its own
    cols["ts_init"] = pa.array(init, pa.uint64())
    schema = pa.schema([pa.field(k, v.type, nullable=False) for k, v in cols.items()],
                       metadata=_meta(iid, price_prec, size_prec, bar_type=bar_type))
    return pa.Table.from_arrays(list(cols.values()), schema=schema), ts


# -- instruments ----------------------------------------------------------------------------------
def make_instrument(symbol: str, iid: str, terms: InstrumentTerms, price_prec: int, *, first_ns: int, last_ns: int):
    """The Nautilus instrument of a dataset: Equity, FuturesContract or CurrencyPair (crypto, FX).

    Records carry ``ts_event = ts_init = 0`` so a re-export replaces the one file. A futures
    contract's activation and expiration are not stored by tickdeck: they are set to midnight UTC
    of the first stored day and of the day after the last (documented). A crypto/FX symbol whose base and quote
    currencies cannot be told apart (``BTCUSDT`` → BTC/USDT, ``USDJPY`` → USD/JPY) gets none.
    """
    from nautilus_trader.model.currencies import USD
    from nautilus_trader.model.enums import AssetClass
    from nautilus_trader.model.identifiers import InstrumentId, Symbol
    from nautilus_trader.model.instruments import CurrencyPair, Equity, FuturesContract
    from nautilus_trader.model.objects import Currency, Price, Quantity

    inst_id = InstrumentId.from_str(iid)
    raw = Symbol(symbol)
    inc = Price(terms.tick_size if terms.tick_size else 10.0 ** -price_prec, price_prec)
    if terms.asset_class == "futures":
        return FuturesContract(inst_id, raw, AssetClass.INDEX, USD, price_prec, inc,
                               Quantity.from_str(repr(float(terms.multiplier)).rstrip("0").rstrip(".")),
                               Quantity.from_int(int(terms.lot_size or 1)), future_root(symbol) or symbol,
                               first_ns, max(last_ns, first_ns + 1), 0, 0)
    if terms.asset_class in ("crypto", "fx"):
        s = symbol.replace("-", "").replace("/", "").replace("_", "")
        quote = next((q for q in _CRYPTO_QUOTES if s.endswith(q) and len(s) > len(q)), None)
        if terms.asset_class == "fx" and len(s) == 6:
            quote = s[3:]
        if quote is None:
            return None
        try:
            base_c, quote_c = Currency.from_str(s[: -len(quote)]), Currency.from_str(quote)
        except Exception:  # noqa: BLE001 - an unknown currency code: no instrument record
            return None
        sp = terms.size_decimals
        return CurrencyPair(inst_id, raw, base_c, quote_c, price_prec, sp, inc, Quantity(10.0 ** -sp, sp),
                            0, 0)
    return Equity(inst_id, raw, USD, price_prec, inc, Quantity.from_int(int(terms.lot_size or 1)), 0, 0)


def _write_instrument(root: Path, inst) -> str:
    from nautilus_trader.persistence.catalog import ParquetDataCatalog

    ParquetDataCatalog(str(root)).write_data([inst])
    return type(inst).__name__


# -- the export -------------------------------------------------------------------------------------
def export_catalog(ctx, symbols, days_of, root: Path, *, spec: str = "ticks", session: str = "all",
                   progress=None) -> NautilusExportResult:
    """Write the stored days ``days_of[symbol]`` of ``symbols`` into the catalog at ``root``.

    ``spec`` ``"ticks"`` writes trade ticks and quote ticks; a bar spec writes bars (as Nautilus
    ``Bar`` or, without a Nautilus aggregation, as tickdeck Parquet). Every symbol's instrument
    is written too. Existing files of the same day and type are replaced (same file name).

    Raises
    ------
    NautilusExportError
        ``nautilus_trader`` is not installed.
    """
    _nautilus()  # a clear error when the package is missing
    from nautilus_trader.model.data import Bar, QuoteTick, TradeTick

    from tickdeck.core.bars import get_bars

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    result = NautilusExportResult(str(root))
    total = sum(len(days_of[s]) for s in symbols)
    done = 0
    bar_spec = None if spec == "ticks" else parse_spec(spec)
    for sym in symbols:
        ds = ctx.catalog.dataset(sym)
        terms = stored_terms(ctx, sym)
        iid = instrument_id(sym, getattr(ds, "venue", ""), getattr(ds, "calendar", ""))
        result.instruments[sym] = iid
        days = list(days_of[sym])
        if not days:
            continue
        ticked = set(ctx.store.list_days(sym))
        price_prec = symbol_price_decimals(ctx, sym, [d for d in days if d in ticked], terms)
        fallback = []
        for day in days:
            if bar_spec is None:
                df = ctx.store.read_day(sym, day, columns=TICK_COLUMNS, session=None if session == "all" else session)
                if len(df):
                    table, ts = trade_table(df, iid, price_prec, terms)
                    _write(root, _data_dir(root, TradeTick, iid), table, ts, result)
                    result.trades += table.num_rows
                    q = quote_table(df, iid, price_prec, terms.size_decimals)
                    if q is not None:
                        _write(root, _data_dir(root, QuoteTick, iid), q[0], q[1], result)
                        result.quotes += q[0].num_rows
            elif (got := imported.read(ctx, sym, day, bar_spec)) is not None:  # as imported, same bar type
                prec = _write_imported(root, got, session, result)
                if not ticked:  # a symbol with bars only: its instrument gets the bars' decimals
                    price_prec = max(price_prec, prec)
            elif day in ticked:
                bars = get_bars(ctx, sym, day, day, bar_spec, session=session, source="ticks")
                if len(bars):
                    bt = bar_type_string(iid, bar_spec, terms.tick_size)
                    if bt is None:
                        fallback.append(bars)
                    else:
                        table, ts = bar_table(bars, bt, iid, price_prec, terms.size_decimals)
                        _write(root, _data_dir(root, Bar, bt), table, ts, result)
                        result.bars += table.num_rows
                        if bt not in result.bar_types:
                            result.bar_types.append(bt)
            done += 1
            if progress:
                progress(Progress("export", done, total, f"{sym} {format_day(day)}"))
        if fallback:
            _write_fallback(root, iid, bar_spec, pd.concat(fallback), result)
        stored = sorted(ticked) or days
        inst = make_instrument(sym, iid, terms, price_prec, first_ns=_midnight_ns(stored[0]),
                               last_ns=_midnight_ns(stored[-1] + dt.timedelta(days=1)))
        if inst is not None:
            _write_instrument(root, inst)
    return result


def _write_imported(root: Path, got: tuple[pd.DataFrame, dict], session: str, result: NautilusExportResult) -> int:
    """One day of an imported series, written back with its own bar type, ``ts_init`` and decimals;
    returns its price precision."""
    from nautilus_trader.model.data import Bar

    bars, meta = got
    if session != "all":
        bars = bars[bars["session"].to_numpy() == SESSION_BY_NAME[session]]
    bt = meta["bar_type"]
    if len(bars):
        iid = meta.get("instrument_id") or bt.split("-")[0]
        table, ts = bar_table(bars, bt, iid, int(meta["price_precision"]), int(meta["size_precision"]))
        _write(root, _data_dir(root, Bar, bt), table, ts, result)
        result.bars += table.num_rows
        if bt not in result.bar_types:
            result.bar_types.append(bt)
    return int(meta["price_precision"])


def _midnight_ns(day) -> int:
    return int(pd.Timestamp(day, tz="UTC").value)


def symbol_price_decimals(ctx, symbol: str, days, terms: InstrumentTerms) -> int:
    """Price precision of a symbol's instrument: its tick size's decimals, else the fewest decimals
    holding every trade, bid and ask price of ``days`` (one read of those three columns per day)."""
    if terms.tick_size:
        return price_decimals(terms, np.empty(0))
    prec = 0
    for day in days:
        df = ctx.store.read_day(symbol, day, columns=["last", "bid", "ask"])
        prec = max(prec, price_decimals(terms, np.concatenate([df[c].to_numpy(dtype=np.float64)
                                                               for c in ("last", "bid", "ask")])))
    return prec


def _write_fallback(root: Path, iid: str, spec: BarSpec, bars: pd.DataFrame, result: NautilusExportResult) -> None:
    """Bars of a family Nautilus lacks: tickdeck Parquet with the spec in the schema metadata."""
    d = root / "tickdeck" / "bars" / spec.family / iid
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{spec.storage_name}.parquet"
    table = pa.Table.from_pandas(bars.reset_index(), preserve_index=False)
    why = ("EWMA-expected thresholds (AFML); Nautilus's imbalance/runs bars use a fixed threshold"
           if spec.family in INFO_FAMILIES else "no Nautilus aggregation for this spec")
    table = table.replace_schema_metadata({"tickdeck_spec": str(spec), "instrument_id": iid, "reason": why,
                                           "created_at": dt.datetime.now(dt.timezone.utc).isoformat(),
                                           "columns": json.dumps(table.column_names)})
    pq.write_table(table, path)
    result.files.append(NautilusFile(path.relative_to(root).as_posix(), table.num_rows, path.stat().st_size))
    result.fallback_bars.append(f"{spec}")
    result.bars += table.num_rows
