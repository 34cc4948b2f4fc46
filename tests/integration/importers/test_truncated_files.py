"""A cut copy of a file is refused with a clear error and leaves the stored day as it was.

Real files from /work/shared/realdata (NautilusTrader test data), cut in ``tmp_path``; real
ArcticDB (LMDB) and SQLite through the ``tickdeck import`` CLI.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from tickdeck.app.cli import main
from tickdeck.core.errors import ImportFormatError
from tickdeck.core.sources.files import import_file

ES_TRADES = "esu4-glbx-trades_2024-07-01T23-58.dbn.zst"
DAY = "2024-07-02"


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("TICKDECK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TICKDECK_PIPELINE", "off")  # bars and validation play no part here
    return tmp_path


def _stored(symbol: str):
    from tickdeck.app.wiring import open_context

    ctx = open_context(pipeline=False)
    try:
        row = next(r for r in ctx.catalog.tick_days(symbol) if str(r.day) == DAY)
        info = ctx.store.day_info(symbol, DAY)
        return ctx.store.read_day(symbol, DAY), (row.ticks, row.source, info.ingest_id), len(ctx.catalog.dead_letters())
    finally:
        ctx.close()


def test_truncated_dbn_zst_fails_and_keeps_the_stored_day(env, realdata, capsys):
    """Issue 11 item 7: the ESU4 file cut to 1,076 bytes (28 of 120 records decode) is refused, exit 1."""
    assert main(["import", str(realdata / ES_TRADES), "--symbol", "ESU4", "--no-progress"]) == 0
    before, row_before, dead_before = _stored("ESU4")
    assert len(before) == 120
    cut = env / ES_TRADES
    cut.write_bytes((realdata / ES_TRADES).read_bytes()[:1076])
    capsys.readouterr()

    assert main(["import", str(cut), "--symbol", "ESU4", "--no-progress"]) == 1

    err = capsys.readouterr().err
    assert str(cut) in err and "truncated" in err and "zstd frame" in err and "incomplete" in err
    after, row_after, dead_after = _stored("ESU4")
    pd.testing.assert_frame_equal(after, before, check_exact=True)
    assert row_after == row_before and dead_after == dead_before


def test_truncated_plain_dbn_record_fails(ctx, realdata, tmp_path):
    """Issue 11 item 7: an uncompressed .dbn cut inside its last record is refused; nothing stored."""
    import zstandard

    data, dctx = (realdata / ES_TRADES).read_bytes(), zstandard.ZstdDecompressor()
    plain = b""
    while data:  # DBN .zst files are several frames (metadata, records)
        d = dctx.decompressobj()
        plain += d.decompress(data)
        data = d.unused_data
    whole, cut = tmp_path / "es.dbn", tmp_path / "es-cut.dbn"
    whole.write_bytes(plain)
    cut.write_bytes(plain[:-20])  # 20 bytes short of the last 48-byte trade record
    assert import_file(ctx, whole, symbol="ESU4").ticks == 120
    before = ctx.store.read_day("ESU4", DAY)
    with pytest.raises(ImportFormatError, match=r"es-cut\.dbn: truncated: the last DBN record is incomplete"):
        import_file(ctx, cut, symbol="ESU4")
    pd.testing.assert_frame_equal(ctx.store.read_day("ESU4", DAY), before, check_exact=True)
    with pytest.raises(ImportFormatError, match="truncated: the file ends inside the DBN metadata header"):
        (tmp_path / "head.dbn").write_bytes(plain[:100])
        import_file(ctx, tmp_path / "head.dbn", symbol="ESU4")


def test_truncated_nautilus_parquet_fails(ctx, realdata, tmp_path):
    """Issue 11 item 7: a Nautilus catalog file without its Parquet footer is refused; nothing stored."""
    import pyarrow as pa

    src = pd.read_parquet(realdata / "btcusdt-trades.parquet")
    raw = lambda v: pa.array([int(x).to_bytes(8, "little", signed=True) for x in np.round(v * 1e9)], pa.binary(8))  # noqa: E731
    ts = pa.array(src["timestamp"].dt.as_unit("ns").astype("int64").to_numpy().astype(np.uint64))
    table = pa.table({"price": raw(src["price"].to_numpy()), "size": raw(src["quantity"].to_numpy()),
                      "trade_id": pa.array(src["trade_id"].astype(str)), "ts_event": ts, "ts_init": ts})
    table = table.replace_schema_metadata({"instrument_id": "BTCUSDT.BINANCE", "price_precision": "2",
                                           "size_precision": "6"})
    d = tmp_path / "cat/data/trade_tick/BTCUSDT.BINANCE"
    d.mkdir(parents=True)
    pq.write_table(table, d / "part-0.parquet")
    assert import_file(ctx, tmp_path / "cat", symbol="BTCUSDT").ticks == 2001
    before = ctx.store.read_day("BTCUSDT", "2021-01-08")
    data = (d / "part-0.parquet").read_bytes()
    (d / "part-0.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImportFormatError, match=r"part-0\.parquet: truncated or not a Parquet file"):
        import_file(ctx, tmp_path / "cat", symbol="BTCUSDT")
    with pytest.raises(ImportFormatError, match=r"part-0\.parquet"):  # the single file, by name
        import_file(ctx, d / "part-0.parquet", symbol="BTCUSDT")
    pd.testing.assert_frame_equal(ctx.store.read_day("BTCUSDT", "2021-01-08"), before, check_exact=True)
