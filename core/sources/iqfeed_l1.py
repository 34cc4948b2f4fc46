"""Level 1 update lines (``Q``/``P``) of the IQFeed protocol 6.2, formatted and parsed in bulk.

* :func:`format_level1` writes the update lines of one symbol's trades with the selected fields
  (the emulator's Level 1 port).
* :func:`parse_level1` reads a block of ``Q``/``P`` lines of many symbols into the raw columns
  plus a symbol index per row (the collector's live path); malformed lines — whatever their
  bytes — come back in ``bad`` with a reason and their symbol, and never stop the parse.
* :func:`trade_lines` writes ticks back as ``Q`` lines: the replayable text of a Level 1 dead
  letter (a late tick, a row the ingest rules refused).

Statistic symbols (DTN calculated statistics, any ``.Z`` symbol:
:func:`core.indicators.catalog.is_statistic_symbol`) never become ticks: :func:`parse_level1`
hands their updates back separately (:class:`ParsedStatistics`: value, the feed's date and time)
for the indicator path.

The field helpers and the tick-line patterns are shared with :mod:`core.sources.iqfeed_parse`.
"""

from __future__ import annotations

import dataclasses
import io
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from tickdeck.core.schema import empty_raw
from .iqfeed_parse import (MAX_CONDITIONS, PARSE_BLOCK_BYTES, _PATTERNS, _cast, _cond_codes, _matrix,
                                       _number, conditions_field, fixed_field, gather_lines, int_field, line_offsets,
                                       price_field, render_lines)

# The fields the collector selects (``S,SELECT UPDATE FIELDS``): enough to rebuild the raw columns.
L1_COLLECT_FIELDS = ("Most Recent Trade", "Most Recent Trade Size", "Most Recent Trade Time",
                     "Most Recent Trade Date", "Most Recent Trade Market Center", "Most Recent Trade Conditions",
                     "Total Volume", "Bid", "Ask", "TickID", "Message Contents")
# What a fresh Level 1 connection sends before any selection (protocol 6.2 defaults, abridged).
L1_DEFAULT_FIELDS = ("Most Recent Trade", "Most Recent Trade Size", "Most Recent Trade Time",
                     "Most Recent Trade Market Center", "Total Volume", "Bid", "Bid Size", "Ask", "Ask Size",
                     "Open", "High", "Low", "Close", "Message Contents", "Most Recent Trade Conditions")
L1_KNOWN_FIELDS = frozenset(L1_DEFAULT_FIELDS + L1_COLLECT_FIELDS + (
    "Most Recent Trade Aggressor", "Most Recent Trade Day Code"))
_L1_COLS = ["type", "symbol", "last", "last_sz", "time", "date", "mkt_ctr", "conds", "tot_vlm", "bid", "ask",
            "tick_id", "contents"]
MIN_YEAR, MAX_YEAR = 1900, 2200  # a Level 1 date outside these years is a corrupt line, not a trade
_INT64_MAX = b"9223372036854775807"
_INT64_COLS = ("last_sz", "tot_vlm", "tick_id")
_STATISTIC = r"\.[Zz]\s*$"  # a statistic symbol: ends in .Z (tickdeck.core.indicators.catalog.is_statistic_symbol)
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)
_WHOLE = "{} is not a whole number of 1 to 18 digits"  # the history lines' rule: every such number fits int64
# (field, pattern, reason) in line order: a bad line is named by its first failing field; ``{}`` is the
# field's text. Integer fields must also fit int64 (whatever the shared pattern allows); dates must also be
# real calendar days.
_L1_CHECKS = (
    ("type", r"^[QP]$", "{} is not Q or P"),
    ("symbol", r"^[ -+\--~]+$", "{} is not a symbol (printable ASCII)"),
    ("last", _PATTERNS["last"], "{} is not a valid price"),
    ("last_sz", _PATTERNS["last_sz"], _WHOLE),
    ("time", r"^([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{6}$",
     "{} is not a time of day (HH:MM:SS.ffffff, hours 00-23, minutes and seconds 00-59)"),
    ("date", r"^\d\d/\d\d/\d{4}$", f"{{}} is not a real calendar date (MM/DD/YYYY, {MIN_YEAR}-{MAX_YEAR})"),
    ("mkt_ctr", r"^\d{1,4}$", "{} is not a market center (1-4 digits)"),
    ("conds", _PATTERNS["conds"], "{} is not a list of 2-hex-digit condition codes"),
    ("tot_vlm", _PATTERNS["tot_vlm"], _WHOLE),
    ("bid", _PATTERNS["bid"], "{} is not a valid price"),
    ("ask", _PATTERNS["ask"], "{} is not a valid price"),
    ("tick_id", _PATTERNS["tick_id"], _WHOLE),
    ("contents", r"^[A-Za-z]*$", "{} is not message contents (letters)"),
)


def format_level1(kind: bytes, symbol: str, raw: dict, fields: tuple[str, ...], dec: int = 2) -> bytes:
    """``Q``/``P`` update lines for trades of one symbol with the selected fields, vectorised.

    ``raw`` may carry running ``_open``/``_high``/``_low`` arrays for the summary fields.
    """
    n = int(raw["tick_id"].shape[0])
    if n == 0:
        return b""
    date = np.asarray(raw["date"], dtype=np.int64)
    t = np.asarray(raw["time"], dtype=np.int64)
    sec = t // 1_000_000

    def field(name: str):
        if name == "Most Recent Trade":
            return price_field(raw["last"], dec)
        if name == "Most Recent Trade Size":
            return int_field(raw["last_sz"])
        if name == "Most Recent Trade Time":
            return fixed_field([(sec // 3600, 2), b":", ((sec // 60) % 60, 2), b":", (sec % 60, 2), b".",
                                (t % 1_000_000, 6)], n)
        if name == "Most Recent Trade Date":
            return fixed_field([((date // 100) % 100, 2), b"/", (date % 100, 2), b"/", (date // 10000, 4)], n)
        if name == "Most Recent Trade Market Center":
            return int_field(raw["mkt_ctr"])
        if name == "Most Recent Trade Conditions":
            return conditions_field(raw)
        if name == "Total Volume":
            return int_field(raw["tot_vlm"])
        if name in ("Bid", "Ask"):
            return price_field(raw[name.lower()], dec)
        if name == "TickID":
            return int_field(raw["tick_id"])
        if name == "Message Contents":
            return np.hstack([np.asarray(raw["last_type"]).astype(np.uint8).reshape(n, 1),
                              np.broadcast_to(np.frombuffer(b"ba", dtype=np.uint8), (n, 2))])
        if name in ("Open", "High", "Low") and f"_{name.lower()}" in raw:
            return price_field(raw[f"_{name.lower()}"], dec)
        if name == "Most Recent Trade Day Code":
            return int_field(date % 100, 2)
        if name == "Most Recent Trade Aggressor":
            return b"0"
        if name in ("Bid Size", "Ask Size"):
            return b"100"
        return b""

    return render_lines([kind, symbol.encode()] + [field(f) for f in fields], n)


def _decimals(*prices: np.ndarray) -> int:
    """The fewest of 2, 4, 6 or 8 decimals that write every finite price of ``prices`` exactly."""
    f = np.concatenate([np.asarray(p, dtype=np.float64) for p in prices])
    f = f[np.isfinite(f)]
    for dec in (2, 4, 6):
        if np.array_equal(np.round(f, dec), f):
            return dec
    return 8


def trade_lines(symbols, raw: dict) -> list[str]:
    """One ``Q,SYM,...`` line (fields :data:`L1_COLLECT_FIELDS`) per row of ``raw``, as text.

    The replayable form of a tick the collector could not store (a dead letter): parsing the
    line with :func:`parse_level1` gives the row back. Values no trade line could carry are
    written as they are (a time past 24:00 as ``100:40:39.999999``, an infinite price as
    ``inf``), so the line names the fault and fails again until it is fixed. For the few rows
    of a dead letter (a Python object per row).
    """
    n = int(np.asarray(raw["tick_id"]).size)
    if n == 0:
        return []
    dec = _decimals(raw["last"], raw["bid"], raw["ask"])

    def price(v: float) -> str:
        return "" if v != v else f"{v:.{dec}f}" if np.isfinite(v) else str(v)

    out = []
    for i in range(n):
        t, d = int(raw["time"][i]), int(raw["date"][i])
        sec, us = divmod(t, 1_000_000)
        conds = "".join(f"{int(raw[f'cond{k + 1}'][i]):02X}" for k in range(MAX_CONDITIONS)
                        if int(raw[f"cond{k + 1}"][i]))
        lt = int(raw["last_type"][i])
        out.append(",".join((
            "Q", str(symbols[i]), price(float(raw["last"][i])), str(int(raw["last_sz"][i])),
            f"{sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}.{us:06d}",
            f"{d // 100 % 100:02d}/{d % 100:02d}/{d // 10000:04d}", str(int(raw["mkt_ctr"][i])), conds,
            str(int(raw["tot_vlm"][i])), price(float(raw["bid"][i])), price(float(raw["ask"][i])),
            str(int(raw["tick_id"][i])), chr(lt) + "ba" if lt else "")))
    return out


@dataclass(frozen=True)
class ParsedStatistics:
    """Updates of statistic symbols (``.Z``) in a block of Level 1 lines, one row per line.

    ``value`` is NaN when the line carried none (a TRIN with no decliners); ``date`` is
    YYYYMMDD and ``time`` µs since midnight, ET, the feed's time of the update."""

    symbol: tuple = ()
    value: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0))
    date: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0, dtype=np.int64))
    time: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.symbol)


def _statistics(t: pa.Table, bad: list) -> ParsedStatistics:
    """The statistic rows of ``t`` (few: one per statistic symbol per second), parsed one by one;
    a row whose value, time or date is malformed goes to ``bad`` with its reason."""
    syms, vals, dates, times = [], [], [], []
    cols = {c: t[c].to_pylist() for c in ("symbol", "last", "time", "date")}
    for i in range(t.num_rows):
        sym, last, tm, dd = (cols[c][i] for c in ("symbol", "last", "time", "date"))
        try:
            text = sym.decode("ascii").strip().upper()
            value = float(last) if last.strip() else np.nan
            hh, mi, rest = tm.decode("ascii").split(":")
            sec, _, frac = rest.partition(".")
            us = ((int(hh) * 60 + int(mi)) * 60 + int(sec)) * 1_000_000 + int((frac + "000000")[:6])
            mo, d, y = (int(x) for x in dd.decode("ascii").split("/"))
            if not (0 <= us < 86_400_000_000 and _real_date(f"{mo:02d}/{d:02d}/{y:04d}".encode())):
                raise ValueError("time or date out of range")
        except (ValueError, UnicodeDecodeError) as e:
            line = b",".join(t[c][i].as_py() for c in _L1_COLS)
            bad.append((line_text(line), f"statistic update: {e}", line_text(sym)))
            continue
        syms.append(text)
        vals.append(value)
        dates.append(y * 10000 + mo * 100 + d)
        times.append(us)
    return ParsedStatistics(tuple(syms), np.asarray(vals, dtype=np.float64), np.asarray(dates, dtype=np.int64),
                            np.asarray(times, dtype=np.int64))


@dataclass(frozen=True)
class ParsedLevel1:
    """Trades parsed from ``Q`` lines selected with :data:`L1_COLLECT_FIELDS`.

    ``bad`` holds one ``(line text, reason, symbol)`` per malformed line: the text with any byte
    that is not UTF-8 written as ``\\xNN``, the reason naming the field and what is wrong with
    it, and the line's second field (its symbol, as received) even when the line is otherwise
    unusable.
    """

    symbol_index: np.ndarray  # int32 per tick, into ``symbol_names``
    symbol_names: tuple
    raw: dict
    bad: tuple
    stats: ParsedStatistics = ParsedStatistics()  # updates of statistic symbols (never ticks)

    def for_symbol(self, symbol: str) -> dict:
        """The raw columns of one symbol's ticks (empty when it had none)."""
        if symbol not in self.symbol_names:
            return empty_raw(0)
        sel = self.symbol_index == self.symbol_names.index(symbol)
        return {k: v[sel] for k, v in self.raw.items()}


def _shown(value: bytes | str, limit: int = 40) -> str:
    """A field for a reason: quoted, non-UTF-8 bytes as ``\\xNN``, cut after ``limit`` characters."""
    text = line_text(value) if isinstance(value, bytes) else value
    return "'" + (text if len(text) <= limit else text[:limit] + "...") + "'"


def line_text(b: bytes) -> str:
    """A received line as storable text: bytes that are not UTF-8, NUL and CR become ``\\xNN``."""
    return b.decode("utf-8", "backslashreplace").replace("\0", "\\x00").replace("\r", "\\x0d")


def _split_lines(body: bytes) -> tuple[bytes, list[tuple[str, str, str]]]:
    """The lines of ``body`` that have exactly the collector's fields (as bytes, for the CSV
    reader) and the others as bad lines; empty lines are dropped.

    Checked with array operations before the CSV reader sees the bytes, because its handler for
    a short or long row cannot decode a row that is not UTF-8, and a lone ``\\r`` would end a row.
    """
    a = np.frombuffer(body, dtype=np.uint8)
    off = line_offsets(body)
    if off[-1] != len(body):
        off = np.append(off, len(body))
    starts, end = off[:-1], off[1:].copy()
    for ch in (10, 13):  # the content ends before "\n" and the "\r" in front of it
        strip = (end > starts) & (a[np.maximum(end - 1, 0)] == ch)
        end -= strip
    commas = np.concatenate([[0], np.cumsum(a == 44)])
    crs = np.concatenate([[0], np.cumsum(a == 13)])
    fields = commas[end] - commas[starts] + 1
    stray_cr = crs[end] > crs[starts]
    filled = end > starts
    good = filled & (fields == len(_L1_COLS)) & ~stray_cr
    bad = []
    for i in np.flatnonzero(filled & ~good):  # malformed lines only
        line = body[starts[i]:end[i]]
        why = "a carriage return inside the line" if stray_cr[i] else \
            f"expected {len(_L1_COLS)} fields, got {fields[i]}"
        cells = line.split(b",")
        bad.append((line_text(line), why, line_text(cells[1]) if len(cells) > 1 else ""))
    if good.all():
        return body, bad
    return gather_lines(body, off, np.flatnonzero(good)), bad


def _int64_range(col, digits: np.ndarray) -> np.ndarray:
    """Digit strings (where ``digits``) that fit in int64: at most its 19 digits, not above its maximum."""
    n = pc.binary_length(col)
    if (pc.max(n).as_py() or 0) < len(_INT64_MAX):  # the usual case: nothing near the limit
        return digits
    fits = pc.or_(pc.less(n, len(_INT64_MAX)),
                  pc.and_(pc.equal(n, len(_INT64_MAX)), pc.less_equal(col, pa.scalar(_INT64_MAX, pa.binary()))))
    return digits & fits.to_numpy(zero_copy_only=False)


def _real_date(text: bytes) -> bool:
    """``MM/DD/YYYY`` names a real calendar day between :data:`MIN_YEAR` and :data:`MAX_YEAR`."""
    mo, d, y = int(text[0:2]), int(text[3:5]), int(text[6:10])
    if not (1 <= mo <= 12 and MIN_YEAR <= y <= MAX_YEAR):
        return False
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    return 1 <= d <= _DAYS_IN_MONTH[mo] + (mo == 2 and leap)


def _real_dates(col, shaped: np.ndarray) -> np.ndarray:
    """``MM/DD/YYYY`` strings (where ``shaped``) that name a real calendar day; checked once per
    distinct date (a batch has one or two)."""
    if not shaped.any():
        return shaped
    dates = pc.unique(pc.filter(col, pa.array(shaped))).to_pylist()
    real = [v for v in dates if _real_date(v)]
    if len(real) == len(dates):
        return shaped
    return shaped & pc.is_in(col, value_set=pa.array(real, pa.binary())).to_numpy(zero_copy_only=False)


def parse_level1(body: bytes) -> ParsedLevel1:
    """Parse ``Q,SYM,...`` trade lines (fields :data:`L1_COLLECT_FIELDS`) into raw columns.

    Lines of statistic symbols (``.Z``) come back in ``stats``, never as ticks. Other lines
    without a trade (an empty ``Most Recent Trade`` or ``TickID``) are skipped silently. Any
    other line that cannot become a tick comes back in ``bad`` — whatever its bytes: a wrong
    number of fields, a byte that is not UTF-8, a number that is not one or does not fit its
    column (sizes, volume and tick id in int64), a time of day outside 00:00:00–23:59:59.999999,
    a date that is not a real calendar day — and the other lines are kept. Never raises on the content of ``body``.
    """
    if not body.strip():
        return ParsedLevel1(np.empty(0, dtype=np.int32), (), empty_raw(0), ())
    body, bad = _split_lines(body)
    if not body:
        return ParsedLevel1(np.empty(0, dtype=np.int32), (), empty_raw(0), tuple(bad))  # no line was whole
    t = pacsv.read_csv(
        io.BytesIO(body),
        read_options=pacsv.ReadOptions(column_names=_L1_COLS, block_size=PARSE_BLOCK_BYTES),
        parse_options=pacsv.ParseOptions(quote_char=False),
        convert_options=pacsv.ConvertOptions(column_types={c: pa.binary() for c in _L1_COLS},
                                             strings_can_be_null=False))
    is_stat = pc.match_substring_regex(t["symbol"], _STATISTIC)  # on bytes: any symbol, even not UTF-8
    stats = _statistics(t.filter(is_stat), bad) if pc.any(is_stat).as_py() else ParsedStatistics()
    t = t.filter(pc.and_(pc.invert(is_stat),
                         pc.and_(pc.not_equal(t["last"], b""), pc.not_equal(t["tick_id"], b""))))  # trades only
    ok = np.ones(t.num_rows, dtype=bool)
    failed = np.full(t.num_rows, -1, dtype=np.int16)  # the first failing check per row
    for j, (k, pat, _) in enumerate(_L1_CHECKS):
        good = pc.match_substring_regex(t[k], pat).to_numpy(zero_copy_only=False)
        if k in _INT64_COLS:
            good = _int64_range(t[k], good)
        elif k == "date":
            good = _real_dates(t[k], good)
        failed[~good & ok] = j
        ok &= good
    for i in np.flatnonzero(~ok):  # bad lines only
        k, _, why = _L1_CHECKS[failed[i]]
        cells = [t[c][int(i)].as_py() for c in _L1_COLS]
        value = cells[_L1_COLS.index(k)]
        try:
            value.decode("utf-8")
            why = f"{k}: {why.format(_shown(value))}"
        except UnicodeDecodeError as e:
            why = f"{k}: not UTF-8 text (byte 0x{value[e.start]:02x} at position {e.start + 1})"
        bad.append((line_text(b",".join(cells)), why, line_text(cells[1])))
    t = t.filter(pa.array(ok))
    for c in ("symbol", "conds", "bid", "ask", "contents"):  # text functions need strings: ASCII after the checks
        t = t.set_column(t.column_names.index(c), c, pc.cast(t[c], pa.string()))
    n = t.num_rows
    raw = empty_raw(n)
    if n:
        tm, dm = _matrix(t["time"], 15), _matrix(t["date"], 10)
        raw["time"][:] = ((_number(tm, 0, 2) * 60 + _number(tm, 3, 5)) * 60 + _number(tm, 6, 8)) * 1_000_000 \
            + _number(tm, 9, 15)
        raw["date"][:] = _number(dm, 6, 10) * 10000 + _number(dm, 0, 2) * 100 + _number(dm, 3, 5)
        for k, typ in (("last", pa.float64()), ("last_sz", pa.int64()), ("tot_vlm", pa.int64()),
                       ("tick_id", pa.int64()), ("mkt_ctr", pa.int16())):
            raw[k][:] = pc.cast(t[k], typ).to_numpy()
        for k in ("bid", "ask"):
            raw[k][:] = _cast(t[k], pa.float64()).to_numpy(zero_copy_only=False)
        first = pc.utf8_rpad(pc.utf8_slice_codeunits(t["contents"], 0, 1), 1, "\0")
        raw["last_type"][:] = _matrix(first, 1)[:, 0]
        codes = _cond_codes(t["conds"])
        for k in range(MAX_CONDITIONS):
            raw[f"cond{k + 1}"][:] = codes[:, k]
        huge = ~np.isfinite(raw["last"]) | np.isinf(raw["bid"]) | np.isinf(raw["ask"])  # digits past float64
        if huge.any():
            for i in np.flatnonzero(huge):
                k = next(c for c in ("last", "bid", "ask") if not np.isfinite(raw[c][i]) and raw[c][i] == raw[c][i])
                cells = [v.decode() if isinstance(v, bytes) else v for v in (t[c][int(i)].as_py() for c in _L1_COLS)]
                bad.append((",".join(cells), f"{k}: {_shown(t[k][int(i)].as_py())} is beyond the float64 range",
                            cells[1]))
            raw = {k: v[~huge] for k, v in raw.items()}
            t = t.filter(pa.array(~huge))
    enc = pc.dictionary_encode(t["symbol"]).combine_chunks()
    index = enc.indices.to_numpy(zero_copy_only=False).astype(np.int32)
    return ParsedLevel1(index, tuple(enc.dictionary.to_pylist()), raw, tuple(bad), stats)
