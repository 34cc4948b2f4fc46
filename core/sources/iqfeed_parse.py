"""Bulk formatting and parsing of IQFeed historical tick lines (protocol 6.2), vectorised.

A tick line is ``[RequestID,]LH,YYYY-MM-DD HH:MM:SS.ffffff,Last,LastSize,TotalVolume,Bid,Ask,
TickID,BasisForLast,TradeMarketCenter,TradeConditions,TradeAggressor,DayCode``.

* :func:`format_ticks` turns the 14 raw columns into those lines with numpy digit arithmetic on
  fixed-width byte matrices (padding bytes are dropped in one mask operation), so the emulator
  serialises a 2,000,000-tick day without a Python object per tick.
* :func:`parse_ticks` turns a reply body (the lines before ``!ENDMSG!``) back into the raw
  columns in one compiled pass (:mod:`core.sources.iqfeed_fast`); each bad line comes back as
  ``(raw text, reason)`` for the dead-letter table while the good lines are kept.
  :func:`parse_ticks_pyarrow` is the reference path with pyarrow's CSV reader (a typed pass;
  when any line is malformed, a string pass with vectorised regexes naming each bad line); the
  kernel falls back to it for input it cannot decide exactly.

Conventions where the protocol is loose: prices are written with 2 decimals when every price
of the block is a whole cent, else 4; an absent bid/ask is an empty field; at most four
2-hex-digit condition codes are kept (cond1..cond4, in order); TradeAggressor is written as
``0`` (unknown) and DayCode as the day of month — neither is stored.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from core.errors import FeedError
from core.schema import empty_raw
from core.sources.iqfeed_fast import LHStreamParser

# Rows formatted per block: bounds the temporary byte matrix (~110 B/row) to ~25 MB.
FORMAT_BLOCK_ROWS = 200_000
# pyarrow CSV block size: large blocks parse a multi-million-line reply with few tasks.
PARSE_BLOCK_BYTES = 16 << 20
MAX_CONDITIONS = 4

TICK_FIELDS = ["kind", "ts", "last", "last_sz", "tot_vlm", "bid", "ask", "tick_id", "basis", "mkt_ctr",
               "conds", "aggressor", "day_code"]
_TYPED = {
    "rid": pa.string(), "kind": pa.string(), "ts": pa.string(), "last": pa.float64(),
    "last_sz": pa.int64(), "tot_vlm": pa.int64(), "bid": pa.float64(), "ask": pa.float64(),
    "tick_id": pa.int64(), "basis": pa.string(), "mkt_ctr": pa.int16(), "conds": pa.string(),
}
_USED = ["rid", "kind", "ts", "last", "last_sz", "tot_vlm", "bid", "ask", "tick_id", "basis", "mkt_ctr", "conds"]
# Field checks of the slow path (first failing check names the reason).
_PATTERNS = {
    "kind": r"^LH$",
    "ts": r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,6})?$",
    "last": r"^\d+(\.\d+)?$",
    "last_sz": r"^\d+$",
    "tot_vlm": r"^\d+$",
    "bid": r"^(\d+(\.\d+)?)?$",
    "ask": r"^(\d+(\.\d+)?)?$",
    "tick_id": r"^\d+$",
    "basis": r"^[A-Za-z]?$",
    "mkt_ctr": r"^\d{1,4}$",
    "conds": r"^([0-9A-Fa-f]{2})*$",
}
_HEX = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(b"0123456789ABCDEF"):
    _HEX[_c] = _i
for _i, _c in enumerate(b"abcdef"):
    _HEX[_c] = 10 + _i
_HEXCHARS = np.frombuffer(b"0123456789ABCDEF", dtype=np.uint8)


class MalformedReply(FeedError):
    """A history reply cannot be parsed at all (not one tick line in it is usable)."""


@dataclass(frozen=True)
class ParsedTicks:
    """Result of :func:`parse_ticks`: the raw columns of the good lines and the bad lines."""

    raw: dict
    bad: tuple  # ((raw line text, reason), ...)
    lines: int

    @property
    def ticks(self) -> int:
        return int(self.raw["tick_id"].size)


# -- formatting ---------------------------------------------------------------------------------
def _digits(out: np.ndarray, col: int, v: np.ndarray, width: int, *, pad_zero: bool) -> None:
    """Write ``v`` (non-negative ints) right-aligned in ``out[:, col:col+width]``.

    Leading positions are 0 (dropped later) unless ``pad_zero`` (fixed-width fields).
    """
    v = v.astype(np.int64, copy=True)
    for j in range(width - 1, -1, -1):
        out[:, col + j] = 48 + (v % 10)
        v //= 10
    if not pad_zero and width > 1:
        field = out[:, col:col + width]
        # a leading position is padding when it and everything left of it is '0'
        lead = np.cumprod(field[:, :-1] == 48, axis=1).astype(bool)
        field[:, :-1][lead] = 0


def _price_decimals(*arrays: np.ndarray) -> int:
    for a in arrays:
        f = a[np.isfinite(a)]
        if f.size and not np.allclose(np.round(f * 100), f * 100, rtol=0, atol=1e-6):
            return 4
    return 2


def _int_width(v: np.ndarray) -> int:
    m = int(np.max(v)) if np.size(v) else 0
    return max(1, len(str(max(m, 0))))


def int_field(v: np.ndarray, width: int | None = None) -> np.ndarray:
    """Non-negative integers as a padded byte matrix (no leading zeros)."""
    v = np.asarray(v)
    width = width or _int_width(v)
    out = np.zeros((v.shape[0], width), dtype=np.uint8)
    _digits(out, 0, v, width, pad_zero=False)
    return out


def price_field(p: np.ndarray, dec: int, int_width: int | None = None) -> np.ndarray:
    """Prices with ``dec`` decimals as a padded byte matrix; NaN becomes an empty field."""
    p = np.asarray(p, dtype=np.float64)
    ok = np.isfinite(p)
    scaled = np.round(np.where(ok, p, 0.0) * 10**dec).astype(np.int64)
    iw = int_width or _int_width(scaled // 10**dec)
    out = np.zeros((p.shape[0], iw + 1 + dec), dtype=np.uint8)
    _digits(out, 0, scaled // 10**dec, iw, pad_zero=False)
    out[:, iw] = 46  # '.'
    _digits(out, iw + 1, scaled % 10**dec, dec, pad_zero=True)
    out[~ok] = 0
    return out


def fixed_field(parts: list[tuple[np.ndarray, int] | bytes], n: int) -> np.ndarray:
    """Zero-padded numbers and literal separators, e.g. a date ``YYYY-MM-DD``."""
    cols = []
    for part in parts:
        if isinstance(part, bytes):
            cols.append(np.broadcast_to(np.frombuffer(part, dtype=np.uint8), (n, len(part))))
        else:
            v, w = part
            m = np.zeros((n, w), dtype=np.uint8)
            _digits(m, 0, v, w, pad_zero=True)
            cols.append(m)
    return np.hstack(cols) if cols else np.zeros((n, 0), dtype=np.uint8)


def conditions_field(raw: dict) -> np.ndarray:
    """cond1..cond4 as concatenated 2-hex-digit codes (zero codes omitted)."""
    n = raw["cond1"].shape[0]
    out = np.zeros((n, 2 * MAX_CONDITIONS), dtype=np.uint8)
    for k in range(MAX_CONDITIONS):
        c = np.asarray(raw[f"cond{k + 1}"]).astype(np.uint8)
        on = c != 0
        out[on, 2 * k] = _HEXCHARS[c[on] >> 4]
        out[on, 2 * k + 1] = _HEXCHARS[c[on] & 15]
    return out


def render_lines(fields: list[np.ndarray | bytes], n: int, sep: bytes = b",") -> bytes:
    """Join per-field byte matrices (0 = padding) with ``sep`` into ``\r\n``-terminated lines."""
    cols = []
    for i, f in enumerate(fields):
        if i:
            cols.append(np.broadcast_to(np.frombuffer(sep, dtype=np.uint8), (n, len(sep))))
        if isinstance(f, bytes):
            if f:
                cols.append(np.broadcast_to(np.frombuffer(f, dtype=np.uint8), (n, len(f))))
        else:
            cols.append(f)
    cols.append(np.broadcast_to(np.frombuffer(b"\r\n", dtype=np.uint8), (n, 2)))
    flat = np.hstack(cols).ravel()
    return flat[flat != 0].tobytes()


def format_ticks(raw: dict, request_id: str = "") -> bytes:
    """Serialise raw tick columns as IQFeed ``LH`` lines (each ending ``\\r\\n``).

    Raises
    ------
    FeedError
        A price or size is negative (the wire format has no sign for them).
    """
    n = int(np.asarray(raw["tick_id"]).size)
    if n == 0:
        return b""
    prices = [np.asarray(raw[k], dtype=np.float64) for k in ("last", "bid", "ask")]
    for k in ("last", "bid", "ask", "last_sz", "tot_vlm", "tick_id", "mkt_ctr"):
        a = np.asarray(raw[k])
        if ((a[np.isfinite(a)] < 0).any() if a.dtype.kind == "f" else (a < 0).any()):
            raise FeedError(f"cannot format negative {k} values as IQFeed lines")
    dec = _price_decimals(*prices)
    pw = max(_int_width(np.floor(np.nan_to_num(p)).astype(np.int64)) for p in prices)
    widths = {k: _int_width(np.asarray(raw[k])) for k in ("last_sz", "tot_vlm", "tick_id", "mkt_ctr")}
    head = (request_id + ",LH" if request_id else "LH").encode()
    parts = []
    for lo in range(0, n, FORMAT_BLOCK_ROWS):
        sl = slice(lo, min(n, lo + FORMAT_BLOCK_ROWS))
        parts.append(_format_block({k: np.asarray(v)[sl] for k, v in raw.items()}, head, dec, pw, widths))
    return b"".join(parts)


def timestamp_field(date: np.ndarray, time_us: np.ndarray) -> np.ndarray:
    """``YYYY-MM-DD HH:MM:SS.ffffff`` from YYYYMMDD ints and µs since midnight."""
    date, t = np.asarray(date, dtype=np.int64), np.asarray(time_us, dtype=np.int64)
    sec = t // 1_000_000
    return fixed_field([(date // 10000, 4), b"-", ((date // 100) % 100, 2), b"-", (date % 100, 2), b" ",
                        (sec // 3600, 2), b":", ((sec // 60) % 60, 2), b":", (sec % 60, 2), b".",
                        (t % 1_000_000, 6)], date.shape[0])


def _format_block(raw: dict, head: bytes, dec: int, pw: int, widths: dict) -> bytes:
    n = raw["tick_id"].shape[0]
    date = np.asarray(raw["date"], dtype=np.int64)
    fields = [
        head, timestamp_field(date, raw["time"]),
        price_field(raw["last"], dec, pw), int_field(raw["last_sz"], widths["last_sz"]),
        int_field(raw["tot_vlm"], widths["tot_vlm"]), price_field(raw["bid"], dec, pw),
        price_field(raw["ask"], dec, pw), int_field(raw["tick_id"], widths["tick_id"]),
        np.asarray(raw["last_type"]).astype(np.uint8).reshape(n, 1), int_field(raw["mkt_ctr"], widths["mkt_ctr"]),
        conditions_field(raw), b"0", int_field(date % 100, 2),
    ]
    return render_lines(fields, n)


# -- line index helpers -----------------------------------------------------------------------
def line_offsets(buf: bytes) -> np.ndarray:
    """Start offset of every line plus ``len(buf)`` (lines end with ``\\n``)."""
    a = np.frombuffer(buf, dtype=np.uint8)
    ends = np.flatnonzero(a == 10) + 1
    return np.concatenate([[0], ends]).astype(np.int64)


def gather_lines(buf: bytes, offsets: np.ndarray, idx: np.ndarray) -> bytes:
    """Lines ``idx`` (any order, repeats allowed) of ``buf`` concatenated, vectorised."""
    idx = np.asarray(idx, dtype=np.int64)
    if idx.size == 0:
        return b""
    starts = offsets[idx]
    lens = offsets[idx + 1] - starts
    dest0 = np.concatenate([[0], np.cumsum(lens)[:-1]])
    pos = np.repeat(starts - dest0, lens) + np.arange(int(lens.sum()), dtype=np.int64)
    return np.frombuffer(buf, dtype=np.uint8)[pos].tobytes()


# -- parsing ------------------------------------------------------------------------------------
def parse_ticks(body: bytes, request_id: str | None = None) -> ParsedTicks:
    """Parse ``LH`` lines (with or without a request-id column) into raw columns.

    One compiled pass (:mod:`core.sources.iqfeed_fast`); a reply the kernel cannot decide
    exactly is re-parsed on the pyarrow path, which gives the same result for valid lines.

    Parameters
    ----------
    body
        The reply without its ``!ENDMSG!`` line.
    request_id
        When given, every line must carry it; lines with another id are bad lines.

    Returns
    -------
    ParsedTicks
        ``raw`` holds the 14 raw columns of the good lines, in received order.

    Raises
    ------
    MalformedReply
        Not one line of a non-empty reply is a usable tick.
    """
    parser = LHStreamParser(request_id)
    parser.feed(body)
    return finish_stream(parser)


def finish_stream(parser: LHStreamParser) -> ParsedTicks:
    """The :class:`ParsedTicks` of a reply fed block by block to ``parser``.

    Raises
    ------
    MalformedReply
        Not one line of a non-empty reply is a usable tick.
    """
    raw, bad, fallback = parser.finish()
    if fallback:
        return parse_ticks_pyarrow(b"".join(parser.blocks), parser.request_id)
    if raw["tick_id"].size == 0 and bad:
        raise MalformedReply(f"no usable tick line in the reply; first bad line {bad[0][0]!r}: {bad[0][1]}")
    return ParsedTicks(raw, bad, int(raw["tick_id"].size) + len(bad))


def parse_ticks_pyarrow(body: bytes, request_id: str | None = None) -> ParsedTicks:
    """:func:`parse_ticks` with pyarrow's CSV reader: a typed pass, and a string pass naming
    each bad line. Exact for any input the kernel declines (very long numbers, odd dates).
    """
    if not body.strip():
        return ParsedTicks(empty_raw(0), (), 0)
    with_id = not body.startswith(b"LH,")
    names = (["rid"] if with_id else []) + TICK_FIELDS
    bad: list[tuple[str, str]] = []

    def on_invalid(row) -> str:
        bad.append((row.text.rstrip("\r"), f"expected {row.expected_columns} fields, got {row.actual_columns}"))
        return "skip"

    table = None
    memo: dict = {}
    try:
        table = _read(body, names, {k: v for k, v in _TYPED.items() if k in names}, on_invalid)
        checks = _check_typed(table, request_id, memo)
        if checks is not None:
            table = None  # bad values: redo on the string path to name each bad line
    except pa.ArrowInvalid:
        table = None
    if table is None:
        bad.clear()
        strings = _read(body, names, {k: pa.string() for k in names}, on_invalid, include=names)
        table, more = _validate_strings(strings, request_id)
        bad.extend(more)
        memo = {}
    raw = _to_raw(table, memo)
    lines = raw["tick_id"].size + len(bad)
    if raw["tick_id"].size == 0 and bad:
        raise MalformedReply(f"no usable tick line in the reply; first bad line {bad[0][0]!r}: {bad[0][1]}")
    return ParsedTicks(raw, tuple(bad), lines)


def _read(body: bytes, names: list[str], types: dict, on_invalid, include: list[str] | None = None) -> pa.Table:
    return pacsv.read_csv(
        io.BytesIO(body),
        read_options=pacsv.ReadOptions(column_names=names, block_size=PARSE_BLOCK_BYTES),
        parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, quote_char=False),
        convert_options=pacsv.ConvertOptions(column_types=types, include_columns=include or [n for n in names if n in _USED],
                                             strings_can_be_null=False, quoted_strings_can_be_null=False),
    )


def _check_typed(t: pa.Table, request_id: str | None, memo: dict):
    """None when every typed row is valid, else a short reason (the slow path names rows).

    Decoded timestamps and condition codes are kept in ``memo`` for :func:`_to_raw`.
    """
    for k in ("ts", "last", "last_sz", "tot_vlm", "tick_id", "mkt_ctr"):
        if t[k].null_count:
            return f"{k} missing"
    if request_id is not None and "rid" in t.column_names:
        if not pc.all(pc.equal(t["rid"], request_id)).as_py():
            return "request id"
    if not pc.all(pc.equal(t["kind"], "LH")).as_py():
        return "kind"
    last = t["last"].to_numpy()
    if not (np.isfinite(last) & (last > 0)).all():
        return "last"
    if pc.any(pc.less(t["last_sz"], 0)).as_py() or pc.any(pc.less(t["tot_vlm"], 0)).as_py():
        return "size"
    memo["ts"] = _fixed_ts(t["ts"])
    if memo["ts"] is None:
        return "ts"
    if pc.max(pc.utf8_length(t["basis"])).as_py() > 1:
        return "basis"
    lens = pc.utf8_length(t["conds"])
    if pc.any(pc.not_equal(pc.bit_wise_and(lens, 1), 0)).as_py():
        return "conds"
    memo["conds"] = _cond_codes(t["conds"])
    if (memo["conds"] == 255).any():
        return "conds"
    return None


def _validate_strings(t: pa.Table, request_id: str | None) -> tuple[pa.Table, list[tuple[str, str]]]:
    n = t.num_rows
    reason = np.full(n, "", dtype=object)
    ok = np.ones(n, dtype=bool)

    def fail(mask: np.ndarray, why: str) -> None:
        new = mask & ok
        reason[new] = why
        ok[new] = False

    if request_id is not None and "rid" in t.column_names:
        fail(~pc.equal(t["rid"], request_id).to_numpy(zero_copy_only=False), f"request id is not {request_id!r}")
    for k, pat in _PATTERNS.items():
        good = pc.match_substring_regex(t[k], pat).to_numpy(zero_copy_only=False)
        fail(~good, f"{k}: not a valid value")
    last = pc.cast(pc.if_else(pa.array(ok), t["last"], "1"), pa.float64()).to_numpy()
    fail(~(last > 0), "last: price must be > 0")
    idx = np.flatnonzero(~ok)
    cols = t.column_names
    texts = [",".join(t[c][int(i)].as_py() or "" for c in cols) for i in idx]  # bad lines only
    bad = [(txt, reason[i]) for txt, i in zip(texts, idx)]
    good = t.filter(pa.array(ok))
    typed = pa.table({c: _cast(good[c], _TYPED[c]) for c in good.column_names if c in _TYPED})
    return typed, bad


def _cast(col, typ):
    if typ == pa.string():
        return col
    if pa.types.is_floating(typ):
        return pc.cast(pc.if_else(pc.equal(col, ""), pa.scalar(None, pa.string()), col), typ)
    return pc.cast(col, typ)


def _cond_codes(conds) -> np.ndarray:
    """(n, 4) uint8 condition codes from 2-hex-digit strings; 255 marks a non-hex character."""
    c = pc.utf8_slice_codeunits(conds, 0, 2 * MAX_CONDITIONS)
    padded = pc.utf8_rpad(c, 2 * MAX_CONDITIONS, "0")
    arr = padded.combine_chunks() if isinstance(padded, pa.ChunkedArray) else padded
    n = len(arr)
    if n == 0:
        return np.zeros((0, MAX_CONDITIONS), dtype=np.uint8)
    offs = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset:arr.offset + n + 1]
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[offs[0]:offs[-1]].reshape(n, 2 * MAX_CONDITIONS)
    nib = _HEX[data]
    hi, lo = nib[:, 0::2], nib[:, 1::2]
    out = (hi << 4) | lo
    out[(hi == 255) | (lo == 255)] = 255
    return out.astype(np.uint8)


def _matrix(col, width: int) -> np.ndarray | None:
    """Fixed-width ASCII strings as an (n, width) uint8 view; None when any length differs."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    n = len(arr)
    offs = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset:arr.offset + n + 1]
    if n == 0 or offs[-1] - offs[0] != n * width or not (np.diff(offs) == width).all():
        return None if n else np.zeros((0, width), dtype=np.uint8)
    return np.frombuffer(arr.buffers()[2], dtype=np.uint8)[offs[0]:offs[-1]].reshape(n, width)


def _number(m: np.ndarray, lo: int, hi: int) -> np.ndarray:
    out = np.zeros(m.shape[0], dtype=np.int64)
    for j in range(lo, hi):
        out = out * 10 + (m[:, j].astype(np.int64) - 48)
    return out


_TS_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22, 23, 24, 25]
_TS_SEPS = {4: 45, 7: 45, 10: 32, 13: 58, 16: 58, 19: 46}


def _fixed_ts(col) -> tuple[np.ndarray, np.ndarray] | None:
    """(date YYYYMMDD, µs since midnight) from ``YYYY-MM-DD HH:MM:SS.ffffff`` strings, or None."""
    m = _matrix(col, 26)
    if m is None:
        return None
    d = m[:, _TS_DIGITS]
    if ((d < 48) | (d > 57)).any() or any((m[:, k] != v).any() for k, v in _TS_SEPS.items()):
        return None
    date = _number(m, 0, 4) * 10000 + _number(m, 5, 7) * 100 + _number(m, 8, 10)
    us = ((_number(m, 11, 13) * 60 + _number(m, 14, 16)) * 60 + _number(m, 17, 19)) * 1_000_000 + _number(m, 20, 26)
    return date, us


def _to_raw(t: pa.Table, memo: dict) -> dict:
    n = t.num_rows
    raw = empty_raw(n)
    if n == 0:
        return raw
    fixed = memo["ts"] if "ts" in memo else _fixed_ts(t["ts"])
    if fixed is not None:
        raw["date"][:], raw["time"][:] = fixed
    else:  # fewer fractional digits somewhere: let Arrow parse the ISO timestamps
        us = pc.cast(t["ts"], pa.timestamp("us")).to_numpy().astype("datetime64[us]").astype(np.int64)
        day_us = 86_400_000_000
        days = us // day_us
        d64 = days.astype("datetime64[D]")
        y = d64.astype("datetime64[Y]").astype(np.int64) + 1970
        m = d64.astype("datetime64[M]").astype(np.int64) % 12 + 1
        d = (d64 - d64.astype("datetime64[M]")).astype(np.int64) + 1
        raw["date"][:] = y * 10000 + m * 100 + d
        raw["time"][:] = us - days * day_us
    raw["tick_id"][:] = t["tick_id"].to_numpy()
    raw["last"][:] = t["last"].to_numpy()
    raw["last_sz"][:] = t["last_sz"].to_numpy()
    raw["tot_vlm"][:] = t["tot_vlm"].to_numpy()
    raw["bid"][:] = t["bid"].to_numpy(zero_copy_only=False)
    raw["ask"][:] = t["ask"].to_numpy(zero_copy_only=False)
    raw["mkt_ctr"][:] = t["mkt_ctr"].to_numpy()
    basis = pc.utf8_rpad(t["basis"], 1, "\0").combine_chunks()
    offs = np.frombuffer(basis.buffers()[1], dtype=np.int32)[basis.offset:basis.offset + n + 1]
    raw["last_type"][:] = np.frombuffer(basis.buffers()[2], dtype=np.uint8)[offs[0]:offs[-1]]
    codes = memo["conds"] if "conds" in memo else _cond_codes(t["conds"])
    for k in range(MAX_CONDITIONS):
        raw[f"cond{k + 1}"][:] = codes[:, k]
    return raw
