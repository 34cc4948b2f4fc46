"""DBN book reconstruction, Nautilus fixed-point decoding and session-day assignment."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tickdeck.core.calendar import get_calendar
from tickdeck.core.errors import ImportFormatError
from tickdeck.core.sources.dbn import mbo_prevailing_quotes
from tickdeck.core.sources.files import assign_session_days, read_file
from tickdeck.core.sources.nautilus import read_nautilus


def _book_by_hand(records):
    """A plain per-order dictionary book: best bid/ask at each trade record (reference)."""
    orders, bids, asks, out = {}, {}, {}, []

    def best():
        b = max((p for p, s in bids.items() if s > 0), default=None)
        a = min((p for p, s in asks.items() if s > 0), default=None)
        return (np.nan if b is None else b / 1e9, np.nan if a is None else a / 1e9)

    for action, side, price, size, oid in records:
        if action == "T":
            out.append(best())
        elif action == "R":
            orders.clear(), bids.clear(), asks.clear()
        elif action in "ACM":
            if oid in orders:
                s0, p0, sz0 = orders.pop(oid)
                take = min(size, sz0) if action == "C" else sz0
                (bids if s0 == "B" else asks)[p0] -= take
                if sz0 - take > 0:
                    orders[oid] = (s0, p0, sz0 - take)
            if action in "AM" and size > 0:
                orders[oid] = (side, price, size)
                book = bids if side == "B" else asks
                book[price] = book.get(price, 0) + size
    return np.array(out)


def test_mbo_quotes_match_a_dictionary_order_book(realdata):
    import databento

    arr = databento.DBNStore.from_file(realdata / "esh4-glbx-mdp3-20231225.mbo.dbn.zst").to_ndarray()
    recs = zip(arr["action"].astype(str), arr["side"].astype(str), arr["price"].tolist(), arr["size"].tolist(),
               arr["order_id"].tolist())
    expected = _book_by_hand(recs)
    bid, ask = mbo_prevailing_quotes(arr)
    trades = arr["action"] == b"T"
    assert len(expected) == trades.sum() == 2973
    np.testing.assert_array_equal(bid[trades], expected[:, 0])
    np.testing.assert_array_equal(ask[trades], expected[:, 1])
    assert np.isfinite(bid[trades]).all() and np.isfinite(ask[trades]).all()


def _binance(realdata):
    return pq.read_table(realdata / "btcusdt-trades.parquet").to_pandas()


def _nautilus_table(df, encoding: str) -> pa.Table:
    if encoding == "binary8":
        raw = lambda v: pa.array([int(x).to_bytes(8, "little", signed=True) for x in np.round(v * 1e9)],  # noqa: E731
                                 pa.binary(8))
    elif encoding == "binary16":
        raw = lambda v: pa.array([(int(round(x * 1e8)) * 10**8).to_bytes(16, "little", signed=True) for x in v],  # noqa: E731
                                 pa.binary(16))
    else:
        raw = lambda v: pa.array(np.round(v * 1e9).astype(np.int64))  # noqa: E731
    ts = df["timestamp"].dt.as_unit("ns").astype("int64").to_numpy().astype(np.uint64)
    meta = {"instrument_id": "BTCUSDT.BINANCE", "price_precision": "2", "size_precision": "6"}
    t = pa.table({
        "price": raw(df["price"].to_numpy()), "size": raw(df["quantity"].to_numpy()),
        "aggressor_side": pa.array(np.where(df["buyer_maker"] == "True", 2, 1).astype(np.uint8)),
        "trade_id": pa.array(df["trade_id"].astype(str)),
        "ts_event": pa.array(ts),
        "ts_init": pa.array(ts),
    })
    return t.replace_schema_metadata(meta)


@pytest.mark.parametrize("encoding", ["binary8", "binary16", "int64"])
def test_nautilus_fixed_point_prices_decode_to_the_source_values(realdata, tmp_path, encoding):
    df = _binance(realdata)
    pq.write_table(_nautilus_table(df, encoding), tmp_path / "part-0.parquet")
    t = read_file(tmp_path / "part-0.parquet", symbol="BTCUSDT")
    assert t.name == "nautilus" and len(t) == len(df) == 2001
    np.testing.assert_array_equal(t.price, df["price"].to_numpy())
    np.testing.assert_allclose(t.size, df["quantity"].to_numpy(), rtol=0, atol=1e-12)
    assert t.tick_id.tolist() == df["trade_id"].tolist()
    assert t.ns[0] == pd.Timestamp("2021-01-08 00:00:00.278", tz="UTC").value
    assert (t.calendar, t.asset_class, t.venue) == ("24/7", "crypto", "BINANCE")


def test_nautilus_catalog_directory_picks_the_symbols_instrument(realdata, tmp_path):
    df = _binance(realdata)
    for inst, part in (("BTCUSDT.BINANCE", df.iloc[:1000]), ("ETHUSDT.BINANCE", df.iloc[1000:1010])):
        d = tmp_path / "data" / "trade_tick" / inst
        d.mkdir(parents=True)
        pq.write_table(_nautilus_table(part, "binary8"), d / "part-0.parquet")
    assert len(read_nautilus(tmp_path, symbol="BTCUSDT")) == 1000
    assert len(read_nautilus(tmp_path, symbol="ETHUSDT.BINANCE")) == 10
    with pytest.raises(ImportFormatError, match="choose the instrument"):
        read_nautilus(tmp_path, symbol="SOLUSDT")


def _ns(*stamps):
    return np.array([pd.Timestamp(s).value for s in stamps], dtype=np.int64)


def test_xnys_day_is_the_eastern_date_and_holidays_have_no_session():
    days, outside = assign_session_days(_ns("2024-07-03 01:00Z", "2024-07-02 14:00Z", "2024-07-04 15:00Z"),
                                        get_calendar("XNYS"))
    assert days[:2].astype(str).tolist() == ["2024-07-02", "2024-07-02"]  # 21:00 ET the day before
    assert outside.tolist() == [False, False, True]  # Independence Day


def test_cmes_evening_trades_belong_to_the_next_session_day():
    days, outside = assign_session_days(_ns("2024-07-01 23:58Z", "2024-07-01 21:59Z"), get_calendar("CMES"))
    assert days.astype(str).tolist() == ["2024-07-02", "2024-07-01"] and not outside.any()


def test_cmes_rows_in_a_holiday_gap_go_to_the_next_session():
    # Sunday 24 Dec 2023 and Christmas Day: no CME session until the 26th's opens at 18:00 ET on the 25th.
    days, outside = assign_session_days(_ns("2023-12-24 13:00Z", "2023-12-25 22:59Z", "2023-12-25 23:00Z"),
                                        get_calendar("CMES"))
    assert days.astype(str).tolist() == ["2023-12-26"] * 3 and not outside.any()


def test_24_7_session_day_is_the_utc_date():
    days, _ = assign_session_days(_ns("2021-01-08 00:00:00.278Z", "2021-01-07 23:59:59Z"), get_calendar("24/7"))
    assert days.astype(str).tolist() == ["2021-01-08", "2021-01-07"]
    assert days.dtype == np.dtype("datetime64[D]") and isinstance(days[0].astype(object), dt.date)


def _ends_inside_a_frame(data: bytes) -> bool:
    """Reference: zstandard's own decoder says the bytes stop inside a frame."""
    import zstandard

    dctx = zstandard.ZstdDecompressor()
    while data:
        d = dctx.decompressobj()
        d.decompress(data)
        if not d.eof:
            return True
        data = d.unused_data
    return False


def test_zstd_truncation_is_found_at_every_cut_of_a_real_file(realdata, tmp_path):
    """Issue 11 item 7: walking frame and block headers agrees with zstandard at every cut length."""
    from tickdeck.core.sources.dbn import zstd_truncation

    data = (realdata / "esu4-glbx-trades_2024-07-01T23-58.dbn.zst").read_bytes()
    for f in realdata.glob("*.dbn.zst"):
        assert zstd_truncation(f) is None, f.name
    p = tmp_path / "cut.dbn.zst"
    cut_inside = 0
    for n in range(4, len(data)):
        p.write_bytes(data[:n])
        expected = _ends_inside_a_frame(data[:n])
        assert (zstd_truncation(p) is not None) == expected, n
        cut_inside += expected
    assert cut_inside >= len(data) - 10  # only cuts exactly between frames leave a valid (shorter) file
    p.write_bytes(data[:1076])
    assert "zstd frame at offset" in zstd_truncation(p) and "incomplete" in zstd_truncation(p)
    p.write_bytes(b"DBN\x01not compressed")
    assert zstd_truncation(p) is None
