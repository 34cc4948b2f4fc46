"""Formatting and bulk parsing of IQFeed lines; circuit breaker and backoff."""

from __future__ import annotations

import numpy as np
import pytest

from builders import make_trades
from tickdeck.core.sources import iqfeed_l1 as l1p
from tickdeck.core.sources import iqfeed_parse as ip
from tickdeck.core.sources.iqfeed import CircuitBreaker, CircuitOpen, backoff_delay


def _cents(raw: dict) -> dict:
    """Prices as the wire carries them (builders compute ``p - 0.01`` in binary floating point)."""
    for k in ("last", "bid", "ask"):
        raw[k] = np.round(raw[k], 2)
    return raw


def _equal(a: dict, b: dict) -> None:
    for k in a:
        assert np.array_equal(np.asarray(a[k]), np.asarray(b[k]), equal_nan=True), k


def test_history_lines_round_trip_exactly_with_and_without_request_id():
    raw = _cents(make_trades(500, seed=3))
    raw["cond2"][::7] = 0x17
    raw["bid"][::11] = np.nan
    for rid in ("R9", ""):
        body = ip.format_ticks(raw, rid)
        assert body.startswith(b"R9,LH," if rid else b"LH,")
        parsed = ip.parse_ticks(body, rid or None)
        assert parsed.bad == () and parsed.ticks == 500
        _equal(raw, parsed.raw)


def test_four_decimal_prices_round_trip():
    raw = _cents(make_trades(50, seed=1))
    raw["last"] = np.round(raw["last"] + 0.0025, 4)
    parsed = ip.parse_ticks(ip.format_ticks(raw, "A"), "A")
    _equal(raw, parsed.raw)


def test_malformed_lines_are_named_and_good_lines_kept():
    raw = _cents(make_trades(20, seed=2))
    lines = ip.format_ticks(raw, "R1").split(b"\r\n")
    lines[3] = lines[3].replace(b"R1,LH,2024", b"R1,LH,2O24")
    cells = lines[5].split(b",")
    cells[3] += b"x"
    lines[5] = b",".join(cells)
    lines[8] = b"R1,LH,truncated"
    lines[10] = lines[10].replace(b"R1,", b"R2,", 1)
    parsed = ip.parse_ticks(b"\r\n".join(lines), "R1")
    reasons = dict((t, r) for t, r in parsed.bad)
    assert parsed.ticks == 16
    assert any("ts" in r for r in reasons.values())
    assert any(r.startswith("last") and "x," in t for t, r in reasons.items())
    assert any("fields" in r for r in reasons.values())
    assert any("request id" in r for r in reasons.values())
    keep = np.setdiff1d(np.arange(20), [3, 5, 8, 10])
    _equal({k: v[keep] for k, v in raw.items()}, parsed.raw)


def test_reply_without_a_single_good_line_raises():
    with pytest.raises(ip.MalformedReply, match="no usable tick line"):
        ip.parse_ticks(b"R1,LH,x\r\nR1,LH,y\r\n", "R1")


def test_level1_trade_lines_round_trip_and_statistic_lines_are_skipped():
    raw = _cents(make_trades(30, seed=4))
    statistic = b"Q,JTNT.Z,12,,10:00:00.000000,07/02/2024,,,,,,,\r\n"
    body = l1p.format_level1(b"Q", "AAPL", raw, l1p.L1_COLLECT_FIELDS) + statistic
    parsed = l1p.parse_level1(body)
    assert parsed.symbol_names == ("AAPL",) and parsed.bad == ()
    _equal(raw, parsed.for_symbol("AAPL"))
    assert parsed.for_symbol("MSFT")["tick_id"].size == 0


def test_gather_lines_reorders_and_repeats_lines():
    body = b"a\r\nbb\r\nccc\r\n"
    off = ip.line_offsets(body)
    assert ip.gather_lines(body, off, np.array([2, 0, 0])) == b"ccc\r\na\r\na\r\n"


def test_circuit_breaker_opens_half_opens_and_closes():
    now = [0.0]
    br = CircuitBreaker(failure_threshold=2, reset_timeout=10, clock=lambda: now[0])
    br.record_failure()
    assert br.state == "closed"
    br.record_failure()
    assert br.state == "open"
    with pytest.raises(CircuitOpen):
        br.before_call()
    now[0] = 10.5
    assert br.state == "half-open"
    br.record_failure()  # the trial failed: open again
    assert br.state == "open"
    now[0] = 21
    assert br.state == "half-open"
    br.record_success()
    assert br.state == "closed"
    br.before_call()


def test_backoff_doubles_and_is_capped():
    assert [backoff_delay(i, 0.5, 3.0) for i in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
