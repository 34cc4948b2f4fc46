"""Level 1 parsing of hostile bytes: every bad line is named (reason, symbol), none stops the
parse; ticks written back as ``Q`` lines (dead letters) parse to the same ticks."""

from __future__ import annotations

import numpy as np
import pytest

from builders import make_trades
from tickdeck.core.sources import iqfeed_l1 as l1p

GOOD = b"Q,AAPL,190.25,100,10:00:00.123456,07/03/2024,11,3D,1000,190.24,190.26,12345,Cba"


def _cents(raw: dict) -> dict:
    for k in ("last", "bid", "ask"):
        raw[k] = np.round(raw[k], 2)
    return raw


@pytest.mark.parametrize("line, reason", [
    (GOOD.replace(b"190.25,", b"190.25\xff,", 1), "last: not UTF-8 text (byte 0xff at position 7)"),
    (GOOD.replace(b",100,", b",99999999999999999999,"), "last_sz: '99999999999999999999' is not a whole number"),
    (GOOD.replace(b",100,", b",9223372036854775808,"), "last_sz: '9223372036854775808' is not a whole number"),
    (GOOD.replace(b",1000,", b",18446744073709551616,"), "tot_vlm: '18446744073709551616' is not"),
    (GOOD.replace(b",12345,", b",99999999999999999999,"), "tick_id: '99999999999999999999' is not"),
    (GOOD.replace(b"10:00:00.123456", b"99:99:99.999999"), "time: '99:99:99.999999' is not a time of day"),
    (GOOD.replace(b"10:00:00.123456", b"24:00:00.000000"), "time: '24:00:00.000000' is not a time of day"),
    (GOOD.replace(b"10:00:00.123456", b"10:60:00.000000"), "time: '10:60:00.000000' is not a time of day"),
    (GOOD.replace(b"07/03/2024", b"02/30/2026"), "date: '02/30/2026' is not a real calendar date"),
    (GOOD.replace(b"07/03/2024", b"02/29/2023"), "date: '02/29/2023' is not a real calendar date"),
    (GOOD.replace(b"07/03/2024", b"13/01/2024"), "date: '13/01/2024' is not a real calendar date"),
    (GOOD.replace(b"190.25,", b"1" + b"0" * 400 + b",", 1), "last: '1000000000000000000000000000000000000000...'"),
    (b"Q,AAPL,190.25\xff,100", "expected 13 fields, got 4"),  # short and not UTF-8: the CSV reader never sees it
    (GOOD.replace(b",11,", b",1\r1,"), "a carriage return inside the line"),
], ids=["nonutf8-price", "size-20-digits", "size-int64-max-plus-1", "volume-above-uint64", "tick-id-20-digits",
        "time-99", "time-24h", "minute-60", "feb-30", "feb-29-non-leap", "month-13", "price-400-digits",
        "short-nonutf8-line", "stray-cr"])
def test_a_bad_level1_line_is_named_with_its_symbol_and_the_others_are_kept(line, reason):
    """Issue 11 items 2, 4 and 21: a line with a non-UTF-8 byte, a number beyond int64 or
    float64, an impossible time or date, or the wrong shape is a bad line with its reason and
    symbol; the good lines around it are parsed."""
    body = GOOD.replace(b"12345", b"12344") + b"\r\n" + line + b"\r\n" + GOOD.replace(b"12345", b"12346") + b"\r\n"
    p = l1p.parse_level1(body)
    assert list(p.raw["tick_id"]) == [12344, 12346] and p.symbol_names == ("AAPL",)
    assert len(p.bad) == 1
    text, why, symbol = p.bad[0]
    assert why.startswith(reason), why
    assert symbol == "AAPL" and text.startswith("Q,AAPL")
    assert "\r" not in text and (b"\xff" not in line or "\\xff" in text)


def test_valid_edge_values_are_kept():
    """Issue 11 items 2 and 4: an 18-digit size, a leap day and the last microsecond of a day parse."""
    lines = [GOOD.replace(b",100,", b",999999999999999999,"), GOOD.replace(b"07/03/2024", b"02/29/2024"),
             GOOD.replace(b"10:00:00.123456", b"23:59:59.999999")]
    p = l1p.parse_level1(b"\r\n".join(lines) + b"\r\n")
    assert p.bad == ()
    assert p.raw["last_sz"][0] == 10**18 - 1 and p.raw["date"][1] == 20240229
    assert p.raw["time"][2] == 86_400_000_000 - 1


def test_random_bytes_in_level1_lines_never_stop_the_parse_and_untouched_lines_survive():
    """Issue 11 item 2: 2,000 blocks of 40 lines with random byte edits (any byte, inserted,
    replaced or deleted, long digit runs): parse_level1 never raises, every bad line comes with
    a reason and a symbol as text, and every line left untouched is parsed to its tick."""
    raw = _cents(make_trades(40, seed=5))
    lines = l1p.format_level1(b"Q", "AAPL", raw, l1p.L1_COLLECT_FIELDS).split(b"\r\n")[:-1]
    rng = np.random.default_rng(11)
    for _ in range(2000):
        block = list(lines)
        touched = set()
        for _ in range(int(rng.integers(1, 8))):
            i = int(rng.integers(len(block)))
            b = bytearray(block[i])
            at = int(rng.integers(len(b) + 1))
            op = int(rng.integers(4))
            if op == 0:
                b[at:at] = bytes([int(rng.integers(256))])
            elif op == 1 and at < len(b):
                del b[at]
            elif op == 2 and at < len(b):
                b[at] = int(rng.integers(256))
            else:
                b[at:at] = b"9" * int(rng.integers(1, 40))
            block[i] = bytes(b)
            touched.add(i)
        p = l1p.parse_level1(b"\r\n".join(block) + b"\r\n")
        assert all(isinstance(x, str) and x for text, why, _ in p.bad for x in (text, why))
        kept = [i for i in range(len(block)) if i not in touched]
        parsed = set(zip(p.raw["tick_id"].tolist(), p.raw["last"].tolist(), p.raw["time"].tolist()))
        for i in kept:  # (an edited line may carry another line's tick id: compare whole ticks)
            assert (int(raw["tick_id"][i]), float(raw["last"][i]), int(raw["time"][i])) in parsed


def test_ticks_written_as_level1_lines_parse_back_to_the_same_ticks():
    """Issue 11 item 4: a dead letter's `Q` line (late or refused tick) replays to the same row,
    for several symbols, four-decimal prices, absent quotes and no message contents."""
    raw = _cents(make_trades(200, seed=8))
    raw["last"][3] = 190.1234
    raw["bid"][5] = np.nan
    raw["cond2"][::4] = 0x17
    raw["last_type"][7] = 0
    symbols = np.array(["AAPL"] * 120 + ["BRK.B"] * 80, dtype=object)
    text = l1p.trade_lines(symbols, raw)
    assert len(text) == 200 and all(t.startswith(f"Q,{s},") for t, s in zip(text, symbols))
    p = l1p.parse_level1(("\r\n".join(text) + "\r\n").encode())
    assert p.bad == ()
    assert list(np.array(p.symbol_names)[p.symbol_index]) == list(symbols)
    for k, v in raw.items():
        assert np.array_equal(p.raw[k], v, equal_nan=True), k


def test_a_tick_no_trade_line_can_carry_is_written_so_that_it_fails_again():
    """Issue 11 item 3: a refused row from an older journal (a time past midnight, a zero price)
    is written as it is, and parsing the line names the fault until it is fixed."""
    raw = _cents(make_trades(2, seed=1))
    raw["time"][0] = ((99 * 60 + 99) * 60 + 99) * 1_000_000 + 999_999
    line = l1p.trade_lines(["AAPL", "AAPL"], raw)[0]
    assert ",100:40:39.999999," in line
    assert l1p.parse_level1(line.encode() + b"\r\n").bad[0][1].startswith("time: '100:40:39.999999'")
