"""The explorer's Export tab on a real ctx (LMDB + SQLite): the preview before a download, the column picker."""

from __future__ import annotations

import datetime as dt
import re

from builders import store_synthetic

DAY = dt.date(2024, 7, 2)


def _preview_numbers(text: str) -> tuple[int, float, str]:
    m = re.match(r"([\d,]+) rows × \d+ columns · about ([\d.,]+) (KB|MB|B) as (CSV|PARQUET)", text)
    assert m, text
    scale = {"B": 1, "KB": 1024, "MB": 1024 ** 2}[m[3]]
    return int(m[1].replace(",", "")), float(m[2].replace(",", "")) * scale, m[4]


def test_preview_counts_rows_and_estimates_the_size_of_the_download(ctx):
    from tickdeck.pages.explorer import ExplorerPage

    store_synthetic(ctx, "AAPL", DAY, DAY, ticks=6000)
    page = ExplorerPage(ctx=ctx, symbol="AAPL", start=DAY, session="regular")
    for fmt in ("csv", "parquet"):
        page.export_format = fmt
        rows, size, shown_fmt = _preview_numbers(page.export_preview())
        data = page.export_bytes().getvalue()
        assert shown_fmt == fmt.upper()
        if fmt == "csv":
            assert rows == len(data.splitlines()) - 1  # the header line
        assert abs(size - len(data)) <= 0.15 * len(data), (fmt, size, len(data))


def test_column_picker_narrows_a_tick_download(ctx):
    from tickdeck.pages.explorer import ExplorerPage

    store_synthetic(ctx, "AAPL", DAY, DAY, ticks=2000)
    page = ExplorerPage(ctx=ctx, symbol="AAPL", start=DAY, export_format="csv")
    page.export_columns = ["last", "last_sz", "tick_id"]
    header = page.export_bytes().getvalue().split(b"\n", 1)[0].decode()
    assert header.split(",") == ["timestamp", "tick_id", "last", "last_sz", "symbol"]  # stored order
    assert "× 5 columns" in page.export_preview()
