"""Bulk formatting and parsing of IQFeed historical tick lines (protocol 6.2), vectorised.

A tick line is ``[RequestID,]LH,YYYY-MM-DD HH:MM:SS.ffffff,Last,LastSize,TotalVolume,Bid,Ask,
TickID,BasisForLast,TradeMarketCenter,TradeConditions,TradeAggressor,DayCode``.

* :func:`format_ticks` turns the 14 raw columns into those lines with numpy digit arithmetic on
  fixed-width byte matrices (padding bytes are dropped in one mask operation), so the emulator
  serialises a 2,000,000-tick day without a Python object per tick.
* :func:`parse_ticks` turns a reply body (the lines before ``!ENDMSG!``) into the raw columns in
  one compiled pass (:mod:`core.sources.iqfeed_fast`); each bad line comes back as
  ``(raw text, reason)`` for the dead-letter table while the good lines are kept.
  :func:`parse_ticks_pyarrow` implements the same rules independently with pyarrow compute
  (regular expressions and casts over the split fields); it is the reference the compiled
  parser is tested against. Both give equal results on any input, and a line's verdict never
  depends on the other lines of the reply.

Rules (one set, both parsers)
-----------------------------
*Lines.* A line ends at ``\\n``; one ``\\r`` right before it (or at the end of the body) belongs
to the line end. Empty lines are skipped. Any other line is either a good tick or a bad line,
whose text (the line without its line end, decoded as UTF-8 with U+FFFD for invalid bytes) and
reason are returned, in received order.

*Request id.* The reply has a request-id column unless its first non-empty line begins with
``LH,``. When the caller names the request id, the column must equal it exactly
(``request id is not 'R1'``); otherwise it is not read.

*Fields.* A line is split at every comma and must have exactly 13 fields, 14 with the request
id (``expected 14 fields, got 15``). Then each field is checked in line order and the first
that breaks its rule is the reason (``<field>: expected <rule>``, see
:data:`core.sources.iqfeed_fast.RULES`):

============ =====================================================================================
kind         exactly ``LH``
ts           ``YYYY-MM-DD HH:MM:SS`` optionally followed by ``.`` and 1-6 digits; a real date
             (month 01-12, day within its month, Gregorian leap years), years 1900-2200, hours
             00-23, minutes and seconds 00-59 (``24:00:00``, ``99:99:99``, Feb 30 and month 13
             are bad)
last         a price: 1-15 ASCII digits with at most one ``.`` between digits; no sign, exponent,
             leading or trailing dot, space, ``nan`` or ``inf``; then it must be > 0
             (``last: price must be > 0``). At most 15 digits make ``mantissa / 10**decimals``
             the correctly rounded double in both parsers
last_sz      1-18 ASCII digits (every accepted value fits int64; leading zeros allowed)
tot_vlm      1-18 ASCII digits
bid, ask     empty (no quote: NaN) or a price as for ``last`` (0 allowed)
tick_id      1-18 ASCII digits
basis        empty (stored as 0) or one ASCII letter
mkt_ctr      1-4 ASCII digits
conds        empty or an even number of hex digits (either case); the first four codes are
             kept as cond1..cond4, missing ones are 0
aggressor,   not read (any bytes but a comma)
day code
============ =====================================================================================

Any byte outside these (a non-UTF-8 byte, a multi-byte character, a space) makes a read field
bad; a 20-digit size is a bad ``last_sz``, not an overflow.

Conventions of :func:`format_ticks` where the protocol is loose: prices are written with 2
decimals when every price of the block is a whole cent, else 4; an absent bid/ask is an empty
field; at most four 2-hex-digit condition codes are kept (cond1..cond4, in order);
TradeAggressor is written as ``0`` (unknown) and DayCode as the day of month — neither is stored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tickdeck.core.errors import FeedError
from tickdeck.core.schema import empty_raw
from .iqfeed_fast import (FIELD_NAMES, INT_DIGITS, MKT_CTR_DIGITS, N_FIELDS, PRICE_DIGITS, YEAR_MAX,
                                      YEAR_MIN, LHStreamParser, reason)

# Rows formatted per block: bounds the temporary byte matrix (~110 B/row) to ~25 MB.
FORMAT_BLOCK_ROWS = 200_000
# pyarrow CSV block size (Level 1 parsing): large blocks parse a multi-million-line reply with few tasks.
PARSE_BLOCK_BYTES = 16 << 20
MAX_CONDITIONS = 4
PYARROW_CHUNK_LINES = 250_000  # lines per pass of the pyarrow parser: bounds its temporary arrays

# A price: 1-PRICE_DIGITS digits with an optional decimal point between digits (RE2 has no
# lookahead, so one alternative per count of integer digits).
_PRICE = "(?:" + "|".join(rf"\d{{{i}}}(?:\.\d{{1,{PRICE_DIGITS - i}}})?" for i in range(1, PRICE_DIGITS)) \
    + rf"|\d{{{PRICE_DIGITS}}})"
# Field syntax, as RE2 patterns over the field bytes (shared with the Level 1 parser); the
# timestamp's calendar check and ``last > 0`` come on top (see the module docstring).
_PATTERNS = {
    "kind": r"^LH$",
    "ts": r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,6})?$",
    "last": f"^{_PRICE}$",
    "last_sz": rf"^\d{{1,{INT_DIGITS}}}$",
    "tot_vlm": rf"^\d{{1,{INT_DIGITS}}}$",
    "bid": f"^(?:{_PRICE})?$",
    "ask": f"^(?:{_PRICE})?$",
    "tick_id": rf"^\d{{1,{INT_DIGITS}}}$",
    "basis": r"^[A-Za-z]?$",
    "mkt_ctr": rf"^\d{{1,{MKT_CTR_DIGITS}}}$",
    "conds": r"^([0-9A-Fa-f]{2})*$",
}
_HEX = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(b"0123456789ABCDEF"):
    _HEX[_c] = _i
for _i, _c in enumerate(b"abcdef"):
    _HEX[_c] = 10 + _i
_HEXCHARS = np.frombuffer(b"0123456789ABCDEF", dtype=np.uint8)
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


class MalformedReply(FeedError):
    """A history reply cannot be parsed at all (not one tick line in it is usable).

    ``bad`` holds its bad lines ``(text, reason)`` so they can still be dead-lettered.
    """

    def __init__(self, message: str, bad: tuple = ()):
        super().__init__(message)
        self.bad = tuple(bad)


def _no_usable_line(bad) -> MalformedReply:
    return MalformedReply(f"no usable tick line in the reply ({len(bad):,} bad lines); first bad line "
                          f"{bad[0][0]!r}: {bad[0][1]}", bad)


@dataclass(frozen=True)
class ParsedTicks:
    """Result of :func:`parse_ticks`: the raw columns of the good lines and the bad lines."""

    raw: dict
    bad: tuple  # ((raw line text, reason), ...) in received order
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

    One compiled pass (:mod:`core.sources.iqfeed_fast`) under the rules of the module docstring.

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
        Not one line of a non-empty reply is a usable tick (its ``bad`` lists the lines).
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
    raw, bad = parser.finish()
    if raw["tick_id"].size == 0 and bad:
        raise _no_usable_line(bad)
    return ParsedTicks(raw, bad, int(raw["tick_id"].size) + len(bad))


def parse_ticks_pyarrow(body: bytes, request_id: str | None = None) -> ParsedTicks:
    """:func:`parse_ticks` with pyarrow compute instead of the compiled kernel (same rules,
    same result): lines split with numpy, fields with ``split_pattern``, each field checked by
    its RE2 pattern (plus the calendar and ``last > 0``), good rows cast in bulk.

    Raises
    ------
    MalformedReply
        Not one line of a non-empty reply is a usable tick.
    """
    request_id = request_id or None
    a = np.frombuffer(body, dtype=np.uint8)
    off = line_offsets(body)
    if off[-1] != a.size:
        off = np.append(off, a.size)
    starts, nexts = off[:-1], off[1:]
    ends = nexts - (a[nexts - 1] == 10)  # every segment has at least one byte
    ends = ends - ((ends > starts) & (a[np.maximum(ends - 1, 0)] == 13))
    used = np.flatnonzero(ends > starts)
    if used.size == 0:
        return ParsedTicks(empty_raw(0), (), 0)
    s0, e0 = int(starts[used[0]]), int(ends[used[0]])
    with_id = not (e0 - s0 >= 3 and bytes(a[s0:s0 + 3]) == b"LH,")
    expected = N_FIELDS + with_id
    lines = pa.LargeBinaryArray.from_buffers(pa.large_binary(), starts.size,
                                             [None, pa.py_buffer(off.astype(np.int64)), pa.py_buffer(a)])
    raws, whys = [], []
    for lo in range(0, used.size, PYARROW_CHUNK_LINES):
        chunk = lines.take(pa.array(used[lo:lo + PYARROW_CHUNK_LINES]))
        parts = pc.split_pattern(chunk, ",")  # the last field keeps the line end: it is not read
        nf = pc.list_value_length(parts).to_numpy(zero_copy_only=False)
        counted = nf == expected
        why = np.full(len(chunk), None, dtype=object)
        why[~counted] = [f"expected {expected} fields, got {k}" for k in nf[~counted]]
        fields = parts.filter(pa.array(counted))
        cols = [pc.list_element(fields, j) for j in range(expected - 2)] if len(fields) else []
        raw, why[counted] = _check_fields(cols, with_id, request_id)
        raws.append(raw)
        whys.append(why)
    raw = raws[0] if len(raws) == 1 else {k: np.concatenate([r[k] for r in raws]) for k in raws[0]}
    why = np.concatenate(whys)
    bad_at = np.flatnonzero(why != None)  # noqa: E711 - elementwise on an object array
    bad = tuple((bytes(a[starts[used[i]]:ends[used[i]]]).decode("utf-8", "replace"), why[i]) for i in bad_at)
    if raw["tick_id"].size == 0 and bad:
        raise _no_usable_line(bad)
    return ParsedTicks(raw, bad, int(raw["tick_id"].size) + len(bad))


def _check_fields(cols: list, with_id: bool, request_id: str | None) -> tuple[dict, np.ndarray]:
    """Raw columns of the rows whose fields all keep their rules, and each row's reason (None: good).

    ``cols`` are the read fields (request id if any, kind .. conds) of lines with the right count.
    """
    n = len(cols[0]) if cols else 0
    why = np.full(n, None, dtype=object)
    if n == 0:
        return empty_raw(0), why
    ok = np.ones(n, dtype=bool)

    def fail(good: np.ndarray, code: int) -> None:
        new = ok & ~good
        why[new] = reason(code, 0, 0, request_id)
        ok[new] = False

    if with_id and request_id is not None:
        fail(pc.equal(cols[0], pa.scalar(request_id.encode(), pa.large_binary())).to_numpy(zero_copy_only=False), 2)
    f = dict(zip(FIELD_NAMES, cols[int(with_id):]))
    stamp = None
    for code, name in enumerate(FIELD_NAMES, start=3):
        good = pc.match_substring_regex(f[name], _PATTERNS[name]).to_numpy(zero_copy_only=False)
        if name == "ts":
            stamp = _timestamps(f[name], good)
            good &= stamp[2]
        fail(good, code)
        if name == "last":
            value = pc.cast(pc.if_else(pa.array(ok), f[name], pa.scalar(b"1", pa.large_binary())), pa.float64())
            fail(value.to_numpy() > 0, 14)
    keep = pa.array(ok)
    good = {k: v.filter(keep) for k, v in f.items()}
    raw = empty_raw(int(ok.sum()))
    if not ok.any():
        return raw, why
    raw["date"][:], raw["time"][:] = stamp[0][ok], stamp[1][ok]
    raw["last"][:] = pc.cast(good["last"], pa.float64()).to_numpy()
    for k in ("last_sz", "tot_vlm", "tick_id"):
        raw[k][:] = pc.cast(good[k], pa.int64()).to_numpy()
    raw["mkt_ctr"][:] = pc.cast(good["mkt_ctr"], pa.int16()).to_numpy()
    for k in ("bid", "ask"):
        empty = pc.equal(pc.binary_length(good[k]), 0)
        value = pc.cast(pc.if_else(empty, pa.scalar(b"0", pa.large_binary()), good[k]), pa.float64()).to_numpy()
        raw[k][:] = np.where(empty.to_numpy(zero_copy_only=False), np.nan, value)
    basis = pc.if_else(pc.equal(pc.binary_length(good["basis"]), 0), pa.scalar(b"\0", pa.large_binary()), good["basis"])
    raw["last_type"][:] = _matrix(pc.cast(basis, pa.binary()), 1)[:, 0]
    codes = _cond_codes(pc.cast(good["conds"], pa.string()))
    for k in range(MAX_CONDITIONS):
        raw[f"cond{k + 1}"][:] = codes[:, k]
    return raw, why


def _timestamps(col, syntax_ok: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(date YYYYMMDD, µs since midnight, names a real date and time) per timestamp field; rows
    whose syntax is wrong get a placeholder value and False."""
    filled = pc.if_else(pa.array(syntax_ok), col, pa.scalar(b"2000-01-01 00:00:00", pa.large_binary()))
    m = _matrix(pc.cast(pc.binary_slice(filled, 0, 19), pa.binary()), 19)
    frac = pc.utf8_rpad(pc.cast(pc.binary_slice(filled, 20, 26), pa.string()), 6, "0")
    y, mo, d = _number(m, 0, 4), _number(m, 5, 7), _number(m, 8, 10)
    hh, mi, ss = _number(m, 11, 13), _number(m, 14, 16), _number(m, 17, 19)
    leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    dim = _DAYS_IN_MONTH[np.clip(mo, 0, 12)] + ((mo == 2) & leap)
    real = syntax_ok & (y >= YEAR_MIN) & (y <= YEAR_MAX) & (mo >= 1) & (mo <= 12) & (d >= 1) & (d <= dim) \
        & (hh <= 23) & (mi <= 59) & (ss <= 59)
    us = ((hh * 60 + mi) * 60 + ss) * 1_000_000 + _number(_matrix(frac, 6), 0, 6)
    return y * 10000 + mo * 100 + d, us, real


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
