"""Level 1 update lines (``Q``/``P``) of the IQFeed protocol 6.2, formatted and parsed in bulk.

* :func:`format_level1` writes the update lines of one symbol's trades with the selected fields
  (the emulator's Level 1 port).
* :func:`parse_level1` reads a block of ``Q``/``P`` lines of many symbols into the raw columns
  plus a symbol index per row (the collector's live path); malformed lines come back in ``bad``.

The field helpers and the tick-line patterns are shared with :mod:`core.sources.iqfeed_parse`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from core.schema import empty_raw
from core.sources.iqfeed_parse import (MAX_CONDITIONS, PARSE_BLOCK_BYTES, _PATTERNS, _cast, _cond_codes, _matrix,
                                       _number, conditions_field, fixed_field, int_field, price_field, render_lines)

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
_L1_PATTERNS = {
    "type": r"^[QP]$", "last": _PATTERNS["last"], "last_sz": r"^\d+$", "time": r"^\d\d:\d\d:\d\d\.\d{6}$",
    "date": r"^\d\d/\d\d/\d{4}$", "mkt_ctr": r"^\d{1,4}$", "conds": _PATTERNS["conds"], "tot_vlm": r"^\d+$",
    "bid": _PATTERNS["bid"], "ask": _PATTERNS["ask"], "tick_id": r"^\d+$", "contents": r"^[A-Za-z]*$",
}


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


@dataclass(frozen=True)
class ParsedLevel1:
    """Trades parsed from ``Q`` lines selected with :data:`L1_COLLECT_FIELDS`."""

    symbol_index: np.ndarray  # int32 per tick, into ``symbol_names``
    symbol_names: tuple
    raw: dict
    bad: tuple

    def for_symbol(self, symbol: str) -> dict:
        """The raw columns of one symbol's ticks (empty when it had none)."""
        if symbol not in self.symbol_names:
            return empty_raw(0)
        sel = self.symbol_index == self.symbol_names.index(symbol)
        return {k: v[sel] for k, v in self.raw.items()}


def parse_level1(body: bytes) -> ParsedLevel1:
    """Parse ``Q,SYM,...`` trade lines (fields :data:`L1_COLLECT_FIELDS`) into raw columns.

    Lines without a trade (an empty ``Most Recent Trade`` or ``TickID``, e.g. a statistic
    symbol) are skipped silently; malformed lines come back in ``bad``.
    """
    if not body.strip():
        return ParsedLevel1(np.empty(0, dtype=np.int32), (), empty_raw(0), ())
    bad: list[tuple[str, str]] = []

    def on_invalid(row) -> str:
        bad.append((row.text.rstrip("\r"), f"expected {row.expected_columns} fields, got {row.actual_columns}"))
        return "skip"

    t = pacsv.read_csv(
        io.BytesIO(body),
        read_options=pacsv.ReadOptions(column_names=_L1_COLS, block_size=PARSE_BLOCK_BYTES),
        parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, quote_char=False),
        convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in _L1_COLS},
                                             strings_can_be_null=False))
    trade = pc.and_(pc.not_equal(t["last"], ""), pc.not_equal(t["tick_id"], ""))
    t = t.filter(trade)
    ok = np.ones(t.num_rows, dtype=bool)
    reason = np.full(t.num_rows, "", dtype=object)
    for k, pat in _L1_PATTERNS.items():
        good = pc.match_substring_regex(t[k], pat).to_numpy(zero_copy_only=False)
        reason[~good & ok] = f"{k}: not a valid value"
        ok &= good
    idx = np.flatnonzero(~ok)
    bad += [(",".join(t[c][int(i)].as_py() for c in _L1_COLS), reason[i]) for i in idx]  # bad lines only
    t = t.filter(pa.array(ok))
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
    enc = pc.dictionary_encode(t["symbol"]).combine_chunks()
    index = enc.indices.to_numpy(zero_copy_only=False).astype(np.int32)
    return ParsedLevel1(index, tuple(enc.dictionary.to_pylist()), raw, tuple(bad))
