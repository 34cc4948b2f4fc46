"""CSV / Parquet reading: column auto-detection, mapping, timestamps, bad rows, quote-only files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tickdeck.core.errors import ImportFormatError
from tickdeck.core.sources.files import guess_market, parse_mapping, read_file, size_units

T0 = pd.Timestamp("2024-07-02 14:30:00", tz="UTC")  # 10:30 ET


def _write(tmp_path, name: str, text: str):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_csv_with_iso_offsets_needs_no_mapping(tmp_path):
    p = _write(tmp_path, "t.csv", "timestamp,price,size,bid,ask\n"
               "2024-07-02T10:30:00-04:00,100.5,200,100.4,100.6\n"
               "2024-07-02T14:30:01.5Z,100.6,300,100.5,100.7\n")
    t = read_file(p, symbol="AAPL")
    assert t.name == "csv" and not t.quote_only and t.rejected == 0
    assert t.ns.tolist() == [T0.value, T0.value + 1_500_000_000]
    assert t.price.tolist() == [100.5, 100.6] and t.size.tolist() == [200, 300]
    assert t.bid.tolist() == [100.4, 100.5] and t.ask.tolist() == [100.6, 100.7]
    assert t.tick_id.tolist() == [1, 2]


@pytest.mark.parametrize("unit,mult", [("s", 10**9), ("ms", 10**6), ("us", 10**3), ("ns", 1)])
def test_epoch_numbers_are_read_in_the_unit_their_magnitude_implies(tmp_path, unit, mult):
    v = T0.value // mult
    p = _write(tmp_path, "e.csv", f"ts,last,qty\n{v},10.0,5\n{v + 1},10.5,7\n")
    t = read_file(p, symbol="AAPL")
    assert t.ns.tolist() == [T0.value, T0.value + mult]


def test_fractional_epoch_seconds_keep_sub_second_precision(tmp_path):
    p = _write(tmp_path, "f.csv", f"time,price,volume\n{T0.value / 1e9 + 0.25},10.0,5\n")
    assert read_file(p, symbol="AAPL").ns.tolist() == [T0.value + 250_000_000]


def test_naive_iso_text_is_taken_as_utc(tmp_path):
    p = _write(tmp_path, "n.csv", "datetime,trade_price,quantity\n2024-07-02 14:30:00,10,1\n")
    assert read_file(p, symbol="AAPL").ns.tolist() == [T0.value]


def test_mapping_names_unusual_columns(tmp_path):
    p = _write(tmp_path, "m.csv", "When,Px,Shares,Id\n2024-07-02T14:30:00Z,10.25,100,77\n")
    t = read_file(p, symbol="AAPL", mapping=["timestamp=When", "price=Px", "size=Shares", "tick_id=Id"])
    assert t.price.tolist() == [10.25] and t.size.tolist() == [100] and t.tick_id.tolist() == [77]


def test_mapping_to_an_absent_column_names_it(tmp_path):
    p = _write(tmp_path, "m.csv", "timestamp,price,size\n2024-07-02T14:30:00Z,1,1\n")
    with pytest.raises(ImportFormatError, match="no column 'Nope'"):
        read_file(p, symbol="AAPL", mapping={"price": "Nope"})


@pytest.mark.parametrize("bad", ["price", "timestamp=", "colour=red"])
def test_parse_mapping_rejects_malformed_items(bad):
    with pytest.raises(ImportFormatError):
        parse_mapping([bad])


def test_missing_size_column_is_a_format_error_naming_it(tmp_path):
    p = _write(tmp_path, "s.csv", "timestamp,price\n2024-07-02T14:30:00Z,1\n")
    with pytest.raises(ImportFormatError, match="'size'"):
        read_file(p, symbol="AAPL")


def test_missing_timestamp_column_is_a_format_error_naming_it(tmp_path):
    p = _write(tmp_path, "s.csv", "when,price,size\n2024-07-02T14:30:00Z,1,1\n")
    with pytest.raises(ImportFormatError, match="'timestamp'"):
        read_file(p, symbol="AAPL")


def test_unparseable_dates_are_a_format_error_naming_the_row(tmp_path):
    p = _write(tmp_path, "d.csv", "timestamp,price,size\nyesterday,1,1\nlast tuesday,1,1\n")
    with pytest.raises(ImportFormatError, match="row 1.*'yesterday'"):
        read_file(p, symbol="AAPL")


def test_a_few_bad_rows_become_rejects_with_raw_text_and_reason(tmp_path):
    rows = [f"2024-07-02T14:30:{i:02d}Z,{100 + i},{10 + i}" for i in range(10)]
    rows[3] = "2024-07-02T14:30:03Z,abc,13"
    rows[6] = "not-a-time,106,16"
    rows[8] = "2024-07-02T14:30:08Z,-1,18"
    p = _write(tmp_path, "b.csv", "timestamp,price,size\n" + "\n".join(rows) + "\n")
    t = read_file(p, symbol="AAPL")
    assert len(t) == 7 and t.rejected == 3
    raw = {text: reason for text, reason, _ in t.rejects}
    assert sorted(line for *_, line in t.rejects) == [5, 8, 10]  # 1-based lines of the file (header is 1)
    assert "timestamp" in raw["not-a-time,106,16"]
    assert "price" in raw["2024-07-02T14:30:03Z,abc,13"]
    assert "price" in raw["2024-07-02T14:30:08Z,-1,18"]
    assert t.tick_id.tolist() == [1, 2, 3, 5, 6, 8, 10]  # row numbers survive dropped rows


def test_quote_only_file_stores_midpoint_with_zero_size(tmp_path):
    p = _write(tmp_path, "q.csv", "timestamp,bid_price,ask_price\n2024-07-02T14:30:00Z,1.0,1.5\n"
               "2024-07-02T14:30:01Z,1.6,1.5\n")
    t = read_file(p, symbol="EURUSD")
    assert t.quote_only and t.price.tolist() == [1.25] and t.size.tolist() == [0]
    assert t.rejected == 1 and "bid <= ask" in t.rejects[0][1]


def test_parquet_with_arrow_timestamps_and_aliases(tmp_path):
    ts = pa.array([T0.value // 10**6, T0.value // 10**6 + 5], pa.timestamp("ms", tz="UTC"))
    table = pa.table({"ts": ts, "last": [5.0, 5.5], "volume": pa.array([3, 4], pa.int32())})
    pq.write_table(table, tmp_path / "x.parquet")
    t = read_file(tmp_path / "x.parquet", symbol="AAPL")
    assert t.name == "parquet" and t.ns.tolist() == [T0.value, T0.value + 5_000_000]
    assert t.price.tolist() == [5.0, 5.5]


def test_unknown_extension_asks_for_format(tmp_path):
    p = _write(tmp_path, "x.dat", "")
    with pytest.raises(ImportFormatError, match="--format"):
        read_file(p, symbol="AAPL")


@pytest.mark.parametrize("symbol,expected", [
    ("USDJPY", ("24/7", "fx")), ("EURUSD", ("24/7", "fx")), ("BTCUSDT", ("24/7", "crypto")),
    ("ETH-USD", ("24/7", "crypto")), ("ESU4", ("CMES", "futures")), ("NQZ24", ("CMES", "futures")),
    ("AAPL", ("XNYS", "equity")), ("BRK.B", ("XNYS", "equity")),
])
def test_guess_market_from_symbol(symbol, expected):
    assert guess_market(symbol) == expected


def test_size_units_whole_numbers_kept_fractions_in_1e8_units():
    s, unit = size_units(np.array([1.0, 200.0]))
    assert unit == 1.0 and s.tolist() == [1, 200]
    s, unit = size_units(np.array([0.000263, 1.5]))
    assert unit == 1e-8 and s.tolist() == [26_300, 150_000_000]
