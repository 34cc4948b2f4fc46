"""Enrichment: 14 raw IQFeed columns → the 43-column stored tick frame, vectorised.

Everything is computed on whole numpy arrays; the only sequential step (Lee–Ready trade sign
with the tick rule carried across zero ticks) is one numba kernel. No per-tick Python objects.
Throughput is measured by ``tests/bench/bench_enrich.py`` (target ≥ 2,000,000 ticks/s).

Conventions (also in docs/schema.md):

* A quote is valid when ``0 < bid <= ask`` and both are finite; spread-derived columns are NaN
  otherwise (crossed quotes are left for validation to report).
* Trade sign (Lee–Ready): above the midpoint +1, below −1; at the midpoint or without a valid
  quote, the tick rule (sign of the last non-zero price change); 0 when still undetermined.
* Sizes and money follow the instrument's terms (:class:`tickdeck.core.instruments.InstrumentTerms`,
  equity by default): quantity = ``last_sz / 10**size_decimals``; ``dollar_volume`` = last ×
  quantity × multiplier; ``volume_rate`` counts quantity. Odd lots (equity only): quantity
  below the round lot (100 shares) or the ODD_LOT condition. Block trade: the asset class's
  :data:`core.instruments.BLOCK_RULES` (equity ≥ 10,000 shares or ≥ $200,000 notional).

A large day can be enriched in slices (:func:`enrich_slices`, used by the ingest path): the
state that crosses a slice boundary — the previous price, the tick-rule direction, the running
quantity sum behind the trailing 60 s volume and the day's total quantity behind
``trade_pct_of_day`` (summed before the first slice) — is carried, so the slices are exactly the
rows of :func:`enrich` over the whole day, bit for bit.
"""

from __future__ import annotations

from typing import Iterator, Mapping

import numba
import numpy as np
import pandas as pd

from tickdeck.core import conditions
from tickdeck.core.calendar import SESSION_AFTER, SESSION_PRE, SESSION_REGULAR, MarketCalendar
from tickdeck.core.errors import SchemaError
from tickdeck.core.instruments import EQUITY, InstrumentTerms
from tickdeck.core.schema import INDEX, RAW_FIELDS, STORED_COLUMNS, TZ, numpy_dtype

VOLUME_RATE_WINDOW_S = 60
_NS_PER_US = 1_000
# Ticks per slice of :func:`enrich_slices`: ~55 MB of stored columns, small beside a 5,000,000-tick
# day's 1 GB, large enough that per-slice overheads (pandas frame, one ArcticDB stage call) vanish.
SLICE_ROWS = 131072
_TOTAL_CHUNK = 1 << 20  # rows per step of the day's total-quantity sum


@numba.njit(cache=True, nogil=True)
def _sign_kernel(last, mid, sign, tdir, before, prev_nz):  # pragma: no cover - compiled
    # ``before``: the price of the row before ``last[0]`` (NaN for a day's first row);
    # ``prev_nz``: the last non-zero price change before it. Returns the state after the last row.
    n = last.shape[0]
    for i in range(n):
        p = last[i - 1] if i > 0 else before
        d = 0
        diff = last[i] - p
        if diff > 0:
            d = 1
        elif diff < 0:
            d = -1
        tdir[i] = d
        if d != 0:
            prev_nz = d
        m = mid[i]
        if m == m and last[i] > m:
            sign[i] = 1
        elif m == m and last[i] < m:
            sign[i] = -1
        else:
            sign[i] = prev_nz
    return prev_nz


def trade_signs(last: np.ndarray, mid: np.ndarray, *, before: float = np.nan,
                prev_nz: int = 0) -> tuple[np.ndarray, np.ndarray, int]:
    """(trade_sign, tick_direction, tick-rule state after the last row); see module docstring.

    ``before`` and ``prev_nz`` carry the price and tick-rule direction from the rows before
    ``last`` (a day's first slice: NaN and 0).
    """
    n = last.shape[0]
    sign = np.empty(n, dtype=np.int8)
    tdir = np.empty(n, dtype=np.int8)
    state = _sign_kernel(np.ascontiguousarray(last, dtype=np.float64), np.ascontiguousarray(mid, dtype=np.float64),
                         sign, tdir, float(before), int(prev_nz))
    return sign, tdir, int(state)


def utc_ns_from_date_time(date: np.ndarray, time_us: np.ndarray) -> np.ndarray:
    """ET wall-clock (``date`` YYYYMMDD, ``time`` µs since midnight) → UTC epoch ns.

    The UTC offset is taken per distinct date at noon; US DST switches at 02:00 ET, outside
    any session, so one offset per day is exact for 04:00–20:00 trading.
    """
    date = np.asarray(date, dtype=np.int32)
    time_us = np.asarray(time_us, dtype=np.int64)
    if date.size == 0:
        return np.empty(0, dtype=np.int64)
    if (date == date[0]).all():
        uniq, inv = date[:1], None
    else:
        uniq, inv = np.unique(date, return_inverse=True)
    y, m, d = uniq // 10000, (uniq // 100) % 100, uniq % 100
    if ((m < 1) | (m > 12) | (d < 1) | (d > 31)).any():
        bad = uniq[(m < 1) | (m > 12) | (d < 1) | (d > 31)][0]
        raise SchemaError("date", f"not a YYYYMMDD date: {bad}")
    midnight = _midnights_ns(y, m, d)
    noon_local = pd.DatetimeIndex(midnight + 12 * 3600 * 10**9).tz_localize(TZ)
    offset = noon_local.asi8 - (midnight + 12 * 3600 * 10**9)  # UTC - local
    base = midnight + offset
    return (base[0] if inv is None else base[inv]) + time_us * _NS_PER_US


def _midnights_ns(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Epoch ns of (naive) midnight per date by numpy calendar arithmetic (pandas' dict
    ``to_datetime`` costs ~2 ms per call, which dominated small live batches). Dates numpy
    would roll over (Feb 30) or that overflow ns go through pandas, which raises as before."""
    months = ((y.astype(np.int64) - 1970) * 12 + (m - 1)).astype("datetime64[M]")
    days = months.astype("datetime64[D]") + (d.astype(np.int64) - 1)
    if ((y < 1678) | (y > 2261)).any() or (days.astype("datetime64[M]") != months).any():
        return pd.to_datetime({"year": y, "month": m, "day": d}).to_numpy(dtype="datetime64[ns]").astype(np.int64)
    return days.astype("datetime64[ns]").astype(np.int64)


def date_time_from_utc_ns(ns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """UTC epoch ns → (ET date YYYYMMDD int32, µs since ET midnight int64)."""
    ns = np.asarray(ns, dtype=np.int64)
    local = pd.DatetimeIndex(ns).tz_localize("UTC").tz_convert(TZ).tz_localize(None).asi8
    day_ns = (local // (86_400 * 10**9)) * (86_400 * 10**9)
    days = day_ns.astype("datetime64[ns]").astype("datetime64[D]")
    y = days.astype("datetime64[Y]").astype(np.int64) + 1970
    mo = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    d = (days - days.astype("datetime64[M]")).astype(np.int64) + 1
    return (y * 10000 + mo * 100 + d).astype(np.int32), (local - day_ns) // _NS_PER_US


def constant_strings(n: int, value: str) -> np.ndarray:
    """An object array of one repeated string (``np.full`` is ~40× slower for object dtype)."""
    a = np.empty(n, dtype=object)
    a.fill(value)
    return a


def _column(raw, name: str, n: int, lo: int = 0, hi: int | None = None) -> np.ndarray:
    """Raw column ``name`` (rows ``lo:hi``) in its schema dtype; a scalar is that value on every row."""
    f = next(f for f in RAW_FIELDS if f.name == name)
    if name not in raw:
        raise SchemaError(name, "required raw column is missing")
    hi = n if hi is None else hi
    a = raw[name]
    a = a.to_numpy() if isinstance(a, pd.Series) else np.asarray(a)
    want = numpy_dtype(f)
    if a.ndim == 0:  # one value for the whole day (importers: last_type, mkt_ctr, conditions)
        try:
            return np.full(hi - lo, a, dtype=want)
        except (TypeError, ValueError) as e:
            raise SchemaError(name, f"cannot convert {a.dtype} to {want}: {e}") from None
    if a.shape[0] != n:
        raise SchemaError(name, f"length {a.shape[0]} differs from tick_id length {n}")
    if lo or hi != n:
        a = a[lo:hi]
    if a.dtype != want:
        try:
            a = a.astype(want)
        except (TypeError, ValueError) as e:
            raise SchemaError(name, f"cannot convert {a.dtype} to {want}: {e}") from None
    return a


def _raw_rows(raw, n: int, lo: int, hi: int, ns: np.ndarray, volume_before: int) -> dict[str, np.ndarray]:
    """The 14 raw columns of rows ``lo:hi``.

    Besides arrays, ``raw`` may hold a scalar for a column that is the same on every row, and
    may leave out ``date`` and ``time`` (derived from ``ns``) and ``tot_vlm`` (the running sum
    of ``last_sz``, continuing from ``volume_before``).
    """
    cols = {}
    if "date" not in raw and "time" not in raw:
        cols["date"], cols["time"] = date_time_from_utc_ns(ns[lo:hi])
    for f in RAW_FIELDS:
        if f.name in cols or (f.name == "tot_vlm" and f.name not in raw):
            continue
        cols[f.name] = _column(raw, f.name, n, lo, hi)
    if "tot_vlm" not in raw:
        tot = np.cumsum(cols["last_sz"])
        if volume_before:
            tot += volume_before
        cols["tot_vlm"] = tot
    return {f.name: cols[f.name] for f in RAW_FIELDS}


def _timestamps(raw, n: int, timestamps_ns) -> np.ndarray:
    if timestamps_ns is not None:
        return np.asarray(timestamps_ns, dtype=np.int64)
    return utc_ns_from_date_time(_column(raw, "date", n), _column(raw, "time", n))


def _quantity(size: np.ndarray, terms: InstrumentTerms) -> np.ndarray:
    """Real quantity: stored units / 10**decimals (division by an exact power of ten rounds once)."""
    size_f = size.astype(np.float64)
    return size_f / 10.0 ** terms.size_decimals if terms.size_decimals else size_f


def enrich(
    raw: Mapping[str, np.ndarray] | pd.DataFrame,
    *,
    symbol: str,
    source: str,
    ingest_id: str,
    calendar: MarketCalendar,
    timestamps_ns: np.ndarray | None = None,
    terms: InstrumentTerms | None = None,
) -> pd.DataFrame:
    """Build the stored tick frame from raw columns.

    Parameters
    ----------
    raw
        The 14 raw columns (mapping of arrays or a DataFrame), one row per trade, in time order.
    symbol, source, ingest_id
        Provenance written into every row.
    calendar
        Labels sessions and ``seconds_since_open``.
    timestamps_ns
        UTC epoch ns per row when the caller already has them (importers); otherwise derived
        from ``date`` and ``time``.
    terms
        The instrument's terms (asset class, multiplier, size decimals, lot size); default
        :data:`core.instruments.EQUITY` (whole shares, round lot 100, equity block rule).

    Returns
    -------
    DataFrame indexed by ``timestamp`` (tz-aware ET) with every column of the schema.

    Raises
    ------
    SchemaError
        A raw column is missing, has the wrong length or cannot be converted.
    """
    if "tick_id" not in raw:
        raise SchemaError("tick_id", "required raw column is missing")
    n = len(raw["tick_id"])
    ns = _timestamps(raw, n, timestamps_ns)
    cols = _raw_rows(raw, n, 0, n, ns, 0)
    terms = EQUITY if terms is None else terms
    qty = _quantity(cols["last_sz"], terms)
    csum = np.cumsum(qty)
    j = np.searchsorted(ns, ns - VOLUME_RATE_WINDOW_S * 10**9, side="right")
    before = np.where(j > 0, csum[np.maximum(j - 1, 0)], 0.0)
    total = csum[-1] if n else 0.0
    df, _ = _enrich_rows(cols, ns, qty, csum, before, total, np.nan, 0, symbol=symbol, source=source,
                         ingest_id=ingest_id, calendar=calendar, terms=terms)
    return df


def enrich_slices(
    raw: Mapping[str, np.ndarray],
    *,
    symbol: str,
    source: str,
    ingest_id: str,
    calendar: MarketCalendar,
    timestamps_ns: np.ndarray | None = None,
    terms: InstrumentTerms | None = None,
    rows: int = SLICE_ROWS,
) -> Iterator[tuple[int, int, pd.DataFrame]]:
    """:func:`enrich` of a whole day, ``rows`` rows at a time: yields ``(lo, hi, frame)``.

    Each ``frame`` is exactly rows ``lo:hi`` of ``enrich(raw, ...)`` (same values, bit for bit):
    the previous price, the tick-rule state, the running quantity sum of the trailing 60 s
    volume and the day's total quantity (``trade_pct_of_day``, summed in a first pass) carry
    across slices. Only one slice's 43 columns are in memory at a time.

    Parameters
    ----------
    raw
        As :func:`enrich`; the rows must be in time order (``timestamps_ns`` non-decreasing), as
        the trailing volume window of a row reaches into earlier slices by time. A column may
        also be one scalar for every row, and ``date``/``time`` (derived from ``timestamps_ns``)
        and ``tot_vlm`` (the running sum of ``last_sz``) may be left out.
    rows
        Rows per slice (at least 1).

    Raises
    ------
    SchemaError
        A raw column is missing, has the wrong length or cannot be converted, or the rows are
        not in time order.
    """
    if "tick_id" not in raw:
        raise SchemaError("tick_id", "required raw column is missing")
    n = len(raw["tick_id"])
    if ("date" not in raw or "time" not in raw) and timestamps_ns is None:
        raise SchemaError("date" if "date" not in raw else "time", "required raw column is missing")
    ns = _timestamps(raw, n, timestamps_ns)
    if ns.shape[0] != n:
        raise SchemaError("timestamp", f"length {ns.shape[0]} differs from tick_id length {n}")
    if n > 1 and not (ns[1:] >= ns[:-1]).all():
        raise SchemaError("timestamp", "rows must be in time order to be enriched in slices",
                          row=int(np.flatnonzero(ns[1:] < ns[:-1])[0]) + 1)
    terms = EQUITY if terms is None else terms
    rows = max(1, int(rows))
    window = VOLUME_RATE_WINDOW_S * 10**9
    # the day's total quantity, summed in row order as one running sum over the day sums it
    total = 0.0
    for lo in range(0, n, _TOTAL_CHUNK):
        q = _quantity(_column(raw, "last_sz", n, lo, min(n, lo + _TOTAL_CHUNK)), terms)
        total = float(np.cumsum(q)[-1] if lo == 0 else np.cumsum(np.concatenate(([total], q)))[-1])
    prev_last, prev_nz, volume = np.nan, 0, 0
    tail, tail_lo = np.empty(0), 0  # running sums of rows tail_lo.. up to the slice, for the window
    for lo in range(0, max(n, 1), rows):
        hi = min(n, lo + rows)
        cols = _raw_rows(raw, n, lo, hi, ns, volume)
        qty = _quantity(cols["last_sz"], terms)
        last_sum = tail[-1] if tail.size else 0.0
        csum = np.cumsum(qty) if lo == 0 else np.cumsum(np.concatenate(([last_sum], qty)))[1:]
        sums = np.concatenate((tail, csum)) if tail.size else csum  # running sums of rows tail_lo..hi
        # every row before tail_lo is at or before each window's start, so searching from there is exact
        j = np.searchsorted(ns[tail_lo:hi], ns[lo:hi] - window, side="right") + tail_lo
        before = np.where(j > 0, sums[np.maximum(j - 1 - tail_lo, 0)], 0.0)
        df, prev_nz = _enrich_rows(cols, ns[lo:hi], qty, csum, before, total, prev_last, prev_nz, symbol=symbol,
                                   source=source, ingest_id=ingest_id, calendar=calendar, terms=terms)
        if hi < n:
            prev_last = float(cols["last"][-1])
            if "tot_vlm" not in raw:
                volume = int(cols["tot_vlm"][-1])
            keep_from = max(int(np.searchsorted(ns, ns[hi] - window, side="right")) - 1, 0)
            tail, tail_lo = sums[keep_from - tail_lo:].copy(), keep_from  # later windows start here or later
        del cols, qty, csum, sums, j, before
        yield lo, hi, df
        del df


def _enrich_rows(cols: dict[str, np.ndarray], ns: np.ndarray, qty: np.ndarray, csum: np.ndarray,
                 before: np.ndarray, total: float, prev_last: float, prev_nz: int, *, symbol: str, source: str,
                 ingest_id: str, calendar: MarketCalendar, terms: InstrumentTerms) -> tuple[pd.DataFrame, int]:
    """The stored frame of consecutive rows of a day, from their raw columns and the day's state.

    ``csum``: running quantity sums of the day at these rows; ``before``: the running sum just
    before each row's 60 s window; ``total``: the day's total quantity; ``prev_last`` and
    ``prev_nz``: the price and tick-rule direction before the first row (NaN and 0 at the
    day's start). Returns the frame and the tick-rule direction after the last row.
    """
    n = ns.shape[0]
    last, bid, ask = cols["last"], cols["bid"], cols["ask"]

    valid_q = (bid > 0) & (ask >= bid) & np.isfinite(ask)
    spread = np.where(valid_q, ask - bid, np.nan)
    mid = np.where(valid_q, (bid + ask) * 0.5, np.nan)
    spread_bps = spread / mid * 1e4
    spread_pct = spread / mid * 100.0

    sign, tdir, prev_nz = trade_signs(last, mid, before=prev_last, prev_nz=prev_nz)

    dollar = last * qty
    if terms.multiplier != 1.0:
        dollar *= terms.multiplier
    prev = np.empty_like(last)
    if n:
        prev[0] = prev_last
        prev[1:] = last[:-1]
    price_change = last - prev
    with np.errstate(divide="ignore", invalid="ignore"):
        log_return = np.log(last / prev)
    price_change_bps = price_change / prev * 1e4

    volume_rate = (csum - before) / VOLUME_RATE_WINDOW_S
    trade_pct = qty * (100.0 / total) if total > 0 else np.zeros(n)

    c1, c2, c3, c4 = cols["cond1"], cols["cond2"], cols["cond3"], cols["cond4"]
    session = calendar.label_sessions(ns)
    bits = conditions.flag_bits(c1, c2, c3, c4)
    fb = conditions.FLAG_BITS
    is_odd = (bits & fb["odd_lot"]) != 0
    if terms.has_odd_lots:
        is_odd |= qty < terms.lot_size
    rule = terms.block
    if rule.quantity is not None and rule.notional is not None:
        is_block = (qty >= rule.quantity) | (dollar >= rule.notional)
    elif rule.quantity is not None:
        is_block = qty >= rule.quantity
    else:
        is_block = dollar >= rule.notional
    participant = np.ones(n, dtype=np.int8)
    if terms.has_odd_lots:
        participant[is_odd] = 0  # the odd-lot retail heuristic holds for equities only
    participant[is_block] = 2

    eff = 2.0 * np.abs(last - mid)
    improvement = np.where(sign > 0, ask - last, np.where(sign < 0, last - bid, np.nan))
    improvement[~valid_q] = np.nan

    out = {
        **cols,
        "symbol": constant_strings(n, symbol),
        "spread": spread,
        "midpoint": mid,
        "spread_bps": spread_bps,
        "spread_pct": spread_pct,
        "trade_sign": sign,
        "tick_direction": tdir,
        "dollar_volume": dollar,
        "volume_rate": volume_rate,
        "trade_pct_of_day": trade_pct,
        "log_return": log_return,
        "price_change": price_change,
        "price_change_bps": price_change_bps,
        "participant_type": participant,
        "is_regular": session == SESSION_REGULAR,
        "is_extended_hours": (session == SESSION_PRE) | (session == SESSION_AFTER)
        | ((bits & fb["extended_hours"]) != 0),
        "is_odd_lot": is_odd,
        "is_intermarket_sweep": (bits & fb["intermarket_sweep"]) != 0,
        "is_derivatively_priced": (bits & fb["derivatively_priced"]) != 0,
        "is_qualified": (bits & fb["disqualifying"]) == 0,
        "is_block_trade": is_block,
        "effective_spread": eff,
        "price_improvement": improvement,
        "session": session,
        "seconds_since_open": calendar.seconds_since_open(ns),
        "is_outside_quote": valid_q & ((last > ask) | (last < bid)),
        "source": constant_strings(n, source),
        "ingest_id": constant_strings(n, ingest_id),
    }
    index = pd.DatetimeIndex(ns.view("datetime64[ns]"), name=INDEX).tz_localize("UTC").tz_convert(TZ)
    return pd.DataFrame({k: out[k] for k in STORED_COLUMNS}, index=index, copy=False), prev_nz
