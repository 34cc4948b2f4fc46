"""The compiled LH-line parser agrees with the pyarrow path, block by block and on bad lines."""

from __future__ import annotations

import numpy as np

from builders import make_trades
from tickdeck.core.sources import iqfeed_parse as ip
from tickdeck.core.sources.iqfeed_fast import LHStreamParser


def _cents(raw: dict) -> dict:
    for k in ("last", "bid", "ask"):
        raw[k] = np.round(raw[k], 2)
    return raw


def _same(a: ip.ParsedTicks, b: ip.ParsedTicks) -> None:
    assert a.bad == b.bad and a.lines == b.lines
    for k in b.raw:
        assert a.raw[k].dtype == b.raw[k].dtype, k
        assert np.array_equal(a.raw[k], b.raw[k], equal_nan=True), k


def test_kernel_matches_pyarrow_on_bad_lines_with_the_same_reasons_and_texts():
    raw = _cents(make_trades(60, seed=5))
    raw["last"][::9] = np.round(raw["last"][::9] + 0.0037, 4)
    for rid in ("R1", ""):
        lines = ip.format_ticks(raw, rid).split(b"\r\n")
        p = 1 if rid else 0
        edits = {2: (p + 1, b"2024-07-01T10:00:00.000001"), 4: (p + 2, b"190.2x"), 6: (p + 3, b""),
                 8: (p + 5, b"1.2.3"), 10: (p + 7, b"12a"), 12: (p + 8, b"XY"), 14: (p + 9, b"12345"),
                 16: (p + 10, b"0G"), 18: (p + 2, b"0.00"), 20: (p + 0, b"LX")}
        for i, (f, v) in edits.items():
            cells = lines[i].split(b",")
            cells[f] = v
            lines[i] = b",".join(cells)
        lines[22] = lines[22] + b",extra"
        lines[24] = lines[24][:40]
        if rid:
            lines[26] = lines[26].replace(b"R1,", b"R7,", 1)
        cells = lines[28].split(b",")
        cells[p + 1] = cells[p + 1][:19]  # a timestamp without fraction is still valid
        lines[28] = b",".join(cells)
        lines.insert(30, b"")  # an empty line is skipped
        body = b"\r\n".join(lines)
        fast, slow = ip.parse_ticks(body, rid or None), ip.parse_ticks_pyarrow(body, rid or None)
        _same(fast, slow)
        # exactly the edited lines, the extra field, the cut line and the other id are bad, in order; the
        # fraction-less timestamp (line 28) is valid and the empty line is skipped
        broken = sorted([*edits, 22, 24, *([26] if rid else [])])
        assert [line for line, _ in fast.bad] == [lines[i].decode() for i in broken]
        assert {r.split(":")[0] for _, r in fast.bad} >= {"ts", "last", "last_sz", "bid", "tick_id", "basis",
                                                          "mkt_ctr", "conds", "kind"}


def test_blocks_fed_one_by_one_give_the_same_result_as_the_whole_reply():
    raw = _cents(make_trades(3000, seed=6))
    body = ip.format_ticks(raw, "B1")
    whole = ip.parse_ticks(body, "B1")
    parser = LHStreamParser("B1")
    cuts = ip.line_offsets(body)[[0, 1, 700, 701, 2999, 3000]]
    for a, b in zip(cuts[:-1], cuts[1:]):
        parser.feed(memoryview(body)[a:b])
    _same(ip.finish_stream(parser), whole)
    assert whole.ticks == 3000


def test_numbers_beyond_the_rules_are_bad_lines_and_the_rest_of_the_reply_is_kept():
    """Issue 11 item 15: no whole-reply fallback; a too-long number is one bad line."""
    raw = _cents(make_trades(10, seed=7))
    lines = ip.format_ticks(raw, "R1").split(b"\r\n")
    for i, (f, v) in {3: (3, b"190.12345678901234567"), 5: (4, b"99999999999999999999"),
                      7: (2, b"2024-02-30 10:00:00")}.items():
        cells = lines[i].split(b",")
        cells[f] = v
        lines[i] = b",".join(cells)
    body = b"\r\n".join(lines)
    fast = ip.parse_ticks(body, "R1")
    _same(fast, ip.parse_ticks_pyarrow(body, "R1"))
    assert [r.split(":")[0] for _, r in fast.bad] == ["last", "last_sz", "ts"]
    assert [line for line, _ in fast.bad] == [lines[i].decode() for i in (3, 5, 7)]  # those lines only
    keep = np.setdiff1d(np.arange(10), [3, 5, 7])
    assert np.array_equal(fast.raw["tick_id"], raw["tick_id"][keep])
    assert np.array_equal(fast.raw["last"], raw["last"][keep])
