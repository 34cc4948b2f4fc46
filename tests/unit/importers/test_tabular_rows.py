"""CSV / Parquet reading, row by row: ragged rows, blank lines, quoting, line numbers, files refused whole.

Every expected line number and text is computed here from the file as written (the ``csv``
module or plain line splitting), never from the reader.
"""

from __future__ import annotations

import csv
import gzip
import io

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tickdeck.core.errors import ImportFormatError
from tickdeck.core.sources.files import read_file

T0 = pd.Timestamp("2024-07-02 14:30:00", tz="UTC")


def _row(i: int, price: str | None = None, size: str | None = None) -> str:
    ts = (T0 + pd.Timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{ts},{price if price is not None else 100 + i / 100},{size if size is not None else 10 + i}"


def _lines_of(text: str, needle: str) -> int:
    """1-based physical line of the first line containing ``needle``."""
    return next(i for i, line in enumerate(text.split("\n"), 1) if needle in line)


def test_ragged_rows_are_rejected_with_their_line_and_the_rest_is_read(tmp_path):
    """Issue 11 item 13: rows with more or fewer fields than the header are dead letters with their line."""
    rows = [_row(i) for i in range(8)]
    rows[2] = rows[2] + ",extra"
    rows[5] = "2024-07-02T14:30:05Z,100.05"
    text = "timestamp,price,size\n" + "\n".join(rows) + "\n"
    p = tmp_path / "ragged.csv"
    p.write_text(text)
    t = read_file(p, symbol="AAPL")
    assert len(t) == 6 and t.rejected == 2
    got = {line: (raw, reason) for raw, reason, line in t.rejects}
    assert set(got) == {_lines_of(text, rows[2]), _lines_of(text, rows[5])} == {4, 7}
    assert got[4] == (rows[2], "4 fields where the header has 3")
    assert got[7] == (rows[5], "2 fields where the header has 3")
    assert t.price.tolist() == [100.0, 100.01, 100.03, 100.04, 100.06, 100.07]


def test_blank_lines_do_not_shift_the_text_or_line_of_a_rejected_row(tmp_path):
    """Issue 11 item 14: with blank lines the dead letter is still the rejected row's own text and line."""
    bad = _row(3, price="-5")
    text = "timestamp,price,size\n\n" + _row(0) + "\n\n\n" + _row(1) + "\r\n" + _row(2) + "\n\n" + bad + "\n" + _row(4)
    p = tmp_path / "blank.csv"
    p.write_bytes(text.encode())
    t = read_file(p, symbol="AAPL")
    assert len(t) == 4 and t.rejected == 1
    (raw, reason, line), = t.rejects
    assert raw == bad and "price" in reason
    assert line == _lines_of(text, bad) == 9
    assert t.line.tolist() == [3, 6, 7, 10]  # every kept row knows its line too


def test_line_numbers_and_texts_hold_across_block_boundaries(tmp_path, monkeypatch):
    """Issue 11 items 14 and 18: a file read in many small blocks keeps exact lines, texts and ids."""
    rng = np.random.default_rng(3)
    out, expect = ["ts,last,qty,note"], {}
    for i in range(400):
        r = rng.random()
        if r < 0.05:
            out.append("")
        elif r < 0.10:
            out.append(f'{_row(i, price="oops")},"quoted, with comma"')
            expect[len(out)] = out[-1]
        elif r < 0.13:
            out.append(f"{_row(i)},a,b")
            expect[len(out)] = out[-1]
        else:
            out.append(f'{_row(i)},"say ""hi"""')
    text = "\n".join(out) + "\n"
    p = tmp_path / "many.csv"
    p.write_text(text)
    monkeypatch.setattr("tickdeck.core.sources.tabular.CSV_BLOCK_BYTES", 97)  # cuts records and quoted fields mid-way
    t = read_file(p, symbol="AAPL")
    assert {line: raw for raw, _, line in t.rejects} == expect
    with open(p, newline="") as f:  # the csv module's view of the kept rows and their lines
        reader = csv.reader(f)
        next(reader)
        kept = []
        for rec in reader:
            if rec and len(rec) == 4 and rec[1] != "oops":
                kept.append((reader.line_num, float(rec[1])))
    assert t.line.tolist() == [n for n, _ in kept]
    assert t.price.tolist() == [v for _, v in kept]
    assert (np.diff(t.tick_id) > 0).all()


def test_quoted_fields_with_commas_and_line_breaks_are_one_row(tmp_path):
    """Issue 11 item 14: a quoted field holding a newline is one row; the next row's line counts both lines."""
    text = ('timestamp,price,size,note\n'
            f'{_row(0)},"two\nlines"\n'
            f'{_row(1, price="x")},"a, b"\n')
    p = tmp_path / "q.csv"
    p.write_text(text)
    t = read_file(p, symbol="AAPL")
    assert len(t) == 1 and t.line.tolist() == [2]
    (raw, _, line), = t.rejects
    assert line == 4 and raw == f'{_row(1, price="x")},"a, b"'


def test_a_stray_quote_costs_only_its_own_line(tmp_path):
    """Issue 11 item 13: an unbalanced quote rejects its line, not the rest of the file."""
    rows = [_row(i) for i in range(6)]
    rows[2] = _row(2) + ',"unclosed'
    text = "timestamp,price,size,note\n" + "\n".join(r if r.count(",") == 3 else r + ",n" for r in rows) + "\n"
    p = tmp_path / "stray.csv"
    p.write_text(text)
    t = read_file(p, symbol="AAPL")
    assert len(t) == 5
    (raw, reason, line), = t.rejects
    assert line == 4 and raw == rows[2] and "quote" in reason


def test_gzip_bom_and_crlf_are_read(tmp_path):
    body = "\ufefftimestamp,price,size\r\n" + "\r\n".join(_row(i) for i in range(3)) + "\r\n"
    p = tmp_path / "t.csv.gz"
    p.write_bytes(gzip.compress(body.encode()))
    t = read_file(p, symbol="AAPL")
    assert len(t) == 3 and t.line.tolist() == [2, 3, 4] and t.size.tolist() == [10, 11, 12]


def test_non_utf8_csv_is_one_error_naming_the_file_line_and_column(tmp_path):
    """Issue 11 item 19: a byte that is not UTF-8 is a one-line ImportFormatError, not an ArrowInvalid traceback."""
    p = tmp_path / "latin1.csv"
    p.write_bytes(("timestamp,price,size\n" + _row(0) + "\n").encode() + b"2024-07-02T14:30:01Z,100,\xff\xfe\n")
    with pytest.raises(ImportFormatError) as e:
        read_file(p, symbol="AAPL")
    msg = str(e.value)
    assert str(p) in msg and "line 3" in msg and "'size'" in msg and "UTF-8" in msg and "\n" not in msg


def test_non_utf8_header_is_one_error(tmp_path):
    """Issue 11 item 19: the header too."""
    p = tmp_path / "h.csv"
    p.write_bytes(b"timestamp,pr\xe9c,size\n" + _row(0).encode() + b"\n")
    with pytest.raises(ImportFormatError, match="line 1: the header is not UTF-8"):
        read_file(p, symbol="AAPL")


@pytest.mark.parametrize("column,values", [
    ("price", pa.array([[1.0], [2.0]], pa.list_(pa.float64()))),
    ("size", pa.array([{"a": 1}, {"a": 2}])),
    ("timestamp", pa.array([{"s": 1}, {"s": 2}])),
])
def test_parquet_nested_column_is_one_error_naming_it(tmp_path, column, values):
    """Issue 11 item 19: list / struct columns are refused by name, not with ArrowNotImplementedError."""
    cols = {"timestamp": pa.array([T0.value, T0.value + 1], pa.timestamp("ns", tz="UTC")), "price": [1.0, 2.0],
            "size": [1, 2]}
    cols[column] = values
    pq.write_table(pa.table(cols), tmp_path / "n.parquet")
    with pytest.raises(ImportFormatError, match=f"column '{column}' has type .*(list|struct)"):
        read_file(tmp_path / "n.parquet", symbol="AAPL")


def test_header_only_csv_is_an_error(tmp_path):
    """Issue 11 item 20: a CSV with a header and no rows is refused, not "imported 0 ticks"."""
    p = tmp_path / "h.csv"
    p.write_text("timestamp,price,size\n\n")
    with pytest.raises(ImportFormatError, match="no data rows"):
        read_file(p, symbol="AAPL")


def test_empty_parquet_is_an_error(tmp_path):
    """Issue 11 item 20: a Parquet file without rows likewise."""
    t = pa.table({"timestamp": pa.array([], pa.timestamp("ns", tz="UTC")), "price": pa.array([], pa.float64()),
                  "size": pa.array([], pa.int64())})
    pq.write_table(t, tmp_path / "e.parquet")
    with pytest.raises(ImportFormatError, match="no data rows"):
        read_file(tmp_path / "e.parquet", symbol="AAPL")


def test_duration_timestamp_column_is_an_error(tmp_path):
    """Issue 11 item 20: a duration-typed timestamp column is refused instead of read as 1970 dates."""
    t = pa.table({"timestamp": pa.array([10**9, 2 * 10**9], pa.duration("ns")), "price": [1.0, 2.0], "size": [1, 2]})
    pq.write_table(t, tmp_path / "d.parquet")
    with pytest.raises(ImportFormatError, match="durations"):
        read_file(tmp_path / "d.parquet", symbol="AAPL")


def test_timestamps_all_in_1970_are_an_error(tmp_path):
    """Issue 11 item 20: timestamps that all fall in 1970 (durations, times of day) are refused, not dead-lettered."""
    p = tmp_path / "d.csv"
    p.write_text("timestamp,price,size\n1970-01-01T00:00:01Z,1,1\n1970-01-01T00:00:02Z,1,1\n")
    with pytest.raises(ImportFormatError, match="every timestamp is in 1970"):
        read_file(p, symbol="AAPL")


def test_parquet_rows_are_numbered_across_batches(tmp_path, monkeypatch):
    """Issue 11 item 18: Parquet is read batch by batch; rejected rows keep their row number and values."""
    n = 1000
    price = np.full(n, 10.0)
    price[[5, 700]] = [-1.0, np.nan]
    pq.write_table(pa.table({"timestamp": pa.array(T0.value + np.arange(n) * 10**6, pa.timestamp("ns", tz="UTC")),
                             "price": price, "size": np.arange(n)}), tmp_path / "b.parquet", row_group_size=300)
    monkeypatch.setattr("tickdeck.core.sources.tabular.PARQUET_BATCH_ROWS", 128)
    t = read_file(tmp_path / "b.parquet", symbol="AAPL")
    assert len(t) == n - 2
    assert [line for *_, line in t.rejects] == [6, 701]
    assert t.rejects[0][0].startswith("timestamp=") and "price=-1.0" in t.rejects[0][0]


def test_mixed_numbers_and_text_in_a_numeric_column_reject_only_the_text_rows(tmp_path):
    buf = io.StringIO()
    buf.write("timestamp,price,size\n")
    for i in range(50):
        buf.write(_row(i, size="n/a" if i == 30 else None) + "\n")
    p = tmp_path / "m.csv"
    p.write_text(buf.getvalue())
    t = read_file(p, symbol="AAPL")
    assert len(t) == 49 and [line for *_, line in t.rejects] == [32]
