"""NautilusTrader catalogs both ways, checked with the real ``nautilus_trader`` package.

Stored days come from the real-data files (``shared/realdata``, recorded by the venues; see its
README) through the real importer. The exported directory is opened with Nautilus's own
``ParquetDataCatalog``; catalogs the other way are written by Nautilus's own ``write_data``.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest

# nautilus_trader is in the test extras: a missing package fails these imports, it never skips

from nautilus_trader.model.data import QuoteTick, TradeTick  # noqa: E402
from nautilus_trader.model.identifiers import InstrumentId  # noqa: E402
from nautilus_trader.persistence.catalog import ParquetDataCatalog  # noqa: E402

from tickdeck.core.bars import get_bars  # noqa: E402
from tickdeck.core.config import Settings  # noqa: E402
from tickdeck.core.context import Context  # noqa: E402
from tickdeck.core.export import ExportRequest, export  # noqa: E402
from tickdeck.core.sources.files import import_file  # noqa: E402
from tickdeck.core.sources.synthetic import generate_into_store  # noqa: E402
from tickdeck.core.sources.nautilus import bar_spec_of, read_nautilus_bars  # noqa: E402

ESU4_DAY = "2024-07-02"


@pytest.fixture(scope="module")
def ctx(tmp_path_factory, realdata):
    c = Context.open(Settings(data_dir=tmp_path_factory.mktemp("naut") / "data"))  # bars computed on demand
    import_file(c, realdata / "esu4-glbx-mbp-1_2024-07-01T23-58.dbn.zst", symbol="ESU4")  # trades with quotes
    import_file(c, realdata / "btcusdt-trades.parquet", symbol="BTCUSDT")  # 1e-8 size units
    generate_into_store(c, ["AAPL"], ESU4_DAY, ESU4_DAY, seed=3, ticks=300)  # an equity (synthetic)
    yield c
    c.close()


def _export(ctx, out, symbols, day, spec="ticks"):
    return export(ctx, ExportRequest(tuple(symbols), day, day, out, spec=spec, format="nautilus"))


def _ns(index) -> np.ndarray:
    return pd.DatetimeIndex(index).tz_convert("UTC").asi8


def test_parquet_data_catalog_reads_the_exported_trades_quotes_and_instrument(ctx, tmp_path):
    man = _export(ctx, tmp_path / "cat", ["ESU4"], ESU4_DAY)
    cat = ParquetDataCatalog(str(tmp_path / "cat"))
    df = ctx.store.read_day("ESU4", ESU4_DAY)

    trades = cat.trade_ticks(instrument_ids=["ESU4.GLBX"])
    assert len(trades) == len(df) == 120 == man.request["trades"]
    np.testing.assert_array_equal([t.price.as_double() for t in trades], df["last"].to_numpy())
    np.testing.assert_array_equal([t.size.as_double() for t in trades], df["last_sz"].to_numpy())
    np.testing.assert_array_equal([t.ts_event for t in trades], _ns(df.index))
    assert [str(t.trade_id) for t in trades] == [str(i) for i in df["tick_id"]]
    sides = [int(t.aggressor_side) for t in trades]
    assert sides == [1 if s > 0 else 2 if s < 0 else 0 for s in df["trade_sign"]]

    quotes = cat.quote_ticks(instrument_ids=["ESU4.GLBX"])
    ba = df[["bid", "ask"]].to_numpy()
    change = np.r_[True, (ba[1:] != ba[:-1]).any(axis=1)]
    assert len(quotes) == int(change.sum()) == man.request["quotes"] > 1
    np.testing.assert_array_equal([q.bid_price.as_double() for q in quotes], ba[change, 0])
    np.testing.assert_array_equal([q.ask_price.as_double() for q in quotes], ba[change, 1])
    np.testing.assert_array_equal([q.ts_event for q in quotes], _ns(df.index[change]))

    (inst,) = cat.instruments(instrument_ids=["ESU4.GLBX"])
    assert type(inst).__name__ == "FuturesContract"
    assert (inst.price_precision, float(inst.price_increment), float(inst.multiplier)) == (2, 0.25, 50.0)
    assert json.loads((tmp_path / "cat.manifest.json").read_text())["request"]["instruments"] == {"ESU4": "ESU4.GLBX"}


def test_an_equity_gets_its_lot_and_the_decimals_its_prices_need(ctx, tmp_path):
    _export(ctx, tmp_path / "cat", ["AAPL"], ESU4_DAY)
    cat = ParquetDataCatalog(str(tmp_path / "cat"))
    (inst,) = cat.instruments()
    df = ctx.store.read_day("AAPL", ESU4_DAY)
    assert (type(inst).__name__, str(inst.id), float(inst.lot_size), inst.price_precision) == \
        ("Equity", "AAPL.SIM", 100.0, 2)  # the dataset's venue (synthetic: SIM)
    trades = cat.trade_ticks()
    np.testing.assert_array_equal([t.price.as_double() for t in trades], df["last"].to_numpy())


def test_crypto_sizes_keep_their_eight_decimals(ctx, tmp_path):
    _export(ctx, tmp_path / "cat", ["BTCUSDT"], "2021-01-08")
    cat = ParquetDataCatalog(str(tmp_path / "cat"))
    (inst,) = cat.instruments()
    assert (type(inst).__name__, inst.size_precision, str(inst.quote_currency)) == ("CurrencyPair", 8, "USDT")
    trades = cat.trade_ticks()
    df = ctx.store.read_day("BTCUSDT", "2021-01-08")
    np.testing.assert_array_equal([t.size.as_double() for t in trades], df["last_sz"].to_numpy() / 1e8)
    assert cat.quote_ticks() == []  # trades without quotes: no quote ticks


@pytest.mark.parametrize("spec,bar_type", [("time:1m", "ESU4.GLBX-1-MINUTE-LAST-EXTERNAL"),
                                           ("tick:10", "ESU4.GLBX-10-TICK-LAST-EXTERNAL"),
                                           ("renko:0.5", "ESU4.GLBX-2-RENKO-LAST-EXTERNAL")])
def test_bars_come_back_as_nautilus_bars_of_the_mapped_bar_type(ctx, tmp_path, spec, bar_type):
    man = _export(ctx, tmp_path / "cat", ["ESU4"], ESU4_DAY, spec=spec)
    assert man.request["bar_types"] == [bar_type]
    bars = ParquetDataCatalog(str(tmp_path / "cat")).bars(bar_types=[bar_type])
    want = get_bars(ctx, "ESU4", ESU4_DAY, ESU4_DAY, spec)
    assert len(bars) == len(want) > 0
    for col in ("open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal([getattr(b, col).as_double() for b in bars], want[col].to_numpy())
    np.testing.assert_array_equal([b.ts_event for b in bars], _ns(want["end"]))
    assert bar_spec_of(bar_type, 0.25) == spec  # and the bar type maps back to the spec


def test_a_family_nautilus_lacks_is_written_as_tickdeck_parquet_with_its_spec(ctx, tmp_path):
    import pyarrow.parquet as pq

    man = _export(ctx, tmp_path / "cat", ["ESU4"], ESU4_DAY, spec="tick_imbalance:ewma5")
    assert man.request["bar_types"] == [] and man.request["tickdeck_parquet_bars"] == ["tick_imbalance:ewma5"]
    f = tmp_path / "cat" / "tickdeck" / "bars" / "tick_imbalance" / "ESU4.GLBX" / "ewma5.parquet"
    t = pq.read_table(f)
    assert t.schema.metadata[b"tickdeck_spec"] == b"tick_imbalance:ewma5"
    want = get_bars(ctx, "ESU4", ESU4_DAY, ESU4_DAY, "tick_imbalance:ewma5")
    np.testing.assert_array_equal(t.column("close").to_numpy(), want["close"].to_numpy())


def test_catalog_written_by_nautilus_imports_and_exports_equal(ctx, realdata, tmp_path):
    """BTCUSDT trades and USD/JPY quotes as Nautilus objects → write_data → tickdeck → catalog: equal."""
    from nautilus_trader.model.currencies import JPY, USD, USDT
    from nautilus_trader.model.instruments import CurrencyPair
    from nautilus_trader.model.identifiers import Symbol
    from nautilus_trader.model.objects import Currency, Price, Quantity

    src = pd.read_parquet(realdata / "btcusdt-trades.parquet")
    iid = InstrumentId.from_str("BTCUSDT.BINANCE")
    ts = pd.DatetimeIndex(src["timestamp"]).as_unit("ns").asi8.astype(np.uint64)
    side = np.where(src["buyer_maker"].to_numpy(dtype=bool), 2, 1).astype(np.uint8)
    trades = TradeTick.from_raw_arrays_to_list(iid, 2, 6, src["price"].to_numpy(np.float64),
                                               src["quantity"].to_numpy(np.float64), side,
                                               [str(i) for i in src["trade_id"]], ts, ts)
    with open(realdata / "usdjpy-ticks.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    q_ts = pd.DatetimeIndex([r["timestamp"] for r in rows]).tz_convert("UTC").as_unit("ns").asi8.astype(np.uint64)
    bid = np.array([float(r["bid"]) for r in rows])
    ask = np.array([float(r["ask"]) for r in rows])
    fx = InstrumentId.from_str("USDJPY.IDEALPRO")
    quotes = QuoteTick.from_raw_arrays_to_list(fx, 3, 0, bid, ask, np.zeros(len(bid)), np.zeros(len(bid)), q_ts, q_ts)
    src_cat = ParquetDataCatalog(str(tmp_path / "src"))
    src_cat.write_data([CurrencyPair(iid, Symbol("BTCUSDT"), Currency.from_str("BTC"), USDT, 2, 6,
                                     Price.from_str("0.01"), Quantity.from_str("0.000001"), 0, 0),
                        CurrencyPair(fx, Symbol("USD/JPY"), USD, JPY, 3, 0, Price.from_str("0.001"),
                                     Quantity.from_int(1), 0, 0)])
    src_cat.write_data(trades)
    src_cat.write_data(quotes)

    c2 = Context.open(Settings(data_dir=tmp_path / "data"))
    try:
        rep = import_file(c2, tmp_path / "src", symbol="BTCUSDT")
        assert (rep.ticks, rep.asset_class, rep.calendar) == (2001, "crypto", "24/7")
        rep_fx = import_file(c2, tmp_path / "src", symbol="USDJPY")  # quotes only for it: quote-only ticks
        assert c2.store.read_day("BTCUSDT", c2.store.list_days("BTCUSDT")[0])["bid"].isna().all()  # USDJPY's aren't
        assert rep_fx.quote_only and rep_fx.ticks == 1000
        days = {s: c2.store.list_days(s) for s in ("BTCUSDT", "USDJPY")}
        export(c2, ExportRequest(("BTCUSDT",), days["BTCUSDT"][0], days["BTCUSDT"][-1], tmp_path / "out",
                                 format="nautilus"))
        export(c2, ExportRequest(("USDJPY",), days["USDJPY"][0], days["USDJPY"][-1], tmp_path / "out",
                                 format="nautilus"))
    finally:
        c2.close()
    out = ParquetDataCatalog(str(tmp_path / "out"))
    back = out.trade_ticks(instrument_ids=["BTCUSDT.BINANCE"])
    assert [(t.price.as_double(), t.size.as_double(), t.ts_event, str(t.trade_id)) for t in back] == \
        [(t.price.as_double(), t.size.as_double(), t.ts_event, str(t.trade_id)) for t in trades]
    assert out.quote_ticks(instrument_ids=["BTCUSDT.BINANCE"]) == []
    back_q = out.quote_ticks(instrument_ids=["USDJPY.IDEALPRO"])
    keep = np.r_[True, (bid[1:] != bid[:-1]) | (ask[1:] != ask[:-1])]  # one quote per change of the book
    assert [(q.bid_price.as_double(), q.ask_price.as_double(), q.ts_event) for q in back_q] == \
        [(q.bid_price.as_double(), q.ask_price.as_double(), q.ts_event) for q, k in zip(quotes, keep) if k]


def test_exported_trades_and_quotes_import_back_as_the_stored_ticks(ctx, tmp_path):
    _export(ctx, tmp_path / "cat", ["ESU4"], ESU4_DAY)
    c2 = Context.open(Settings(data_dir=tmp_path / "data"))
    try:
        rep = import_file(c2, tmp_path / "cat", symbol="ESU4")
        assert (rep.ticks, rep.calendar, rep.asset_class) == (120, "CMES", "futures")
        back, src = c2.store.read_day("ESU4", ESU4_DAY), ctx.store.read_day("ESU4", ESU4_DAY)
        for col in ("last", "last_sz", "bid", "ask", "tick_id"):  # each trade carries its prevailing quote again
            np.testing.assert_array_equal(back[col].to_numpy(), src[col].to_numpy(), err_msg=col)
        np.testing.assert_array_equal(back.index.asi8, src.index.asi8)
        assert c2.catalog.dataset("ESU4").tick_size == 0.25  # from the exported FuturesContract
    finally:
        c2.close()


def test_nautilus_bars_read_back_with_their_spec(tmp_path):
    from nautilus_trader.model.data import Bar, BarType

    bt = BarType.from_str("AAPL.XNAS-5-MINUTE-LAST-EXTERNAL")
    ts = (np.arange(1, 4, dtype=np.uint64) * 300 + 1_719_840_600) * np.uint64(1_000_000_000)
    bars = Bar.from_raw_arrays_to_list(bt, 2, 0, np.array([10.0, 10.5, 10.25]), np.array([11.0, 10.75, 10.5]),
                                       np.array([9.5, 10.25, 10.0]), np.array([10.5, 10.25, 10.5]),
                                       np.array([100.0, 250.0, 75.0]), ts, ts)
    ParquetDataCatalog(str(tmp_path)).write_data(bars)
    (got,) = read_nautilus_bars(tmp_path, symbol="AAPL")
    assert (got.bar_type, got.spec) == ("AAPL.XNAS-5-MINUTE-LAST-EXTERNAL", "time:5m")
    np.testing.assert_array_equal(got.frame["high"].to_numpy(), [11.0, 10.75, 10.5])
    np.testing.assert_array_equal(got.frame.index.asi8, ts.astype(np.int64))


def test_cli_export_catalog(ctx, tmp_path, monkeypatch, capsys):
    from tickdeck.app.cli import main

    monkeypatch.setenv("TICKDECK_DATA_DIR", str(ctx.settings.data_dir))
    monkeypatch.setenv("TICKDECK_PIPELINE", "off")
    assert main(["export", "--symbols", "ESU4", "--start", ESU4_DAY, "--end", ESU4_DAY,
                 "--catalog", str(tmp_path / "cat")]) == 0
    assert "exported" in capsys.readouterr().out
    assert len(ParquetDataCatalog(str(tmp_path / "cat")).trade_ticks()) == 120
    (tmp_path / "file").write_text("x")
    assert main(["export", "--symbols", "ESU4", "--start", ESU4_DAY, "--end", ESU4_DAY,
                 "--catalog", str(tmp_path / "file")]) == 1
    assert "writes a directory" in capsys.readouterr().err


def test_the_export_job_writes_a_catalog_into_the_exports_directory_and_it_downloads_as_a_zip(ctx):
    import io
    import zipfile

    from tickdeck.app.api.schemas import ExportIn
    from tickdeck.core.downloads import resolve_export, zip_directory
    from tickdeck.jobs.queue import JobQueue
    from tickdeck.jobs.runner import run_job

    body = ExportIn(symbols=["ESU4"], start=ESU4_DAY, end=ESU4_DAY, spec="time:1m", format="nautilus")  # the API's
    q = JobQueue(ctx.catalog.engine, ctx.bus)
    q.submit("export", {"symbols": body.symbols, "start": ESU4_DAY, "end": ESU4_DAY, "spec": body.spec,
                        "format": body.format}, requested_by="test")
    rec = run_job(ctx, q, q.claim("w1"), "w1")
    assert rec.status == "succeeded", rec.error
    out = resolve_export(ctx.settings, rec.result["out"])  # inside <data_dir>/exports
    assert out.is_dir() and rec.result["request"]["bar_types"] == ["ESU4.GLBX-1-MINUTE-LAST-EXTERNAL"]
    assert len(ParquetDataCatalog(str(out)).bars()) == len(get_bars(ctx, "ESU4", ESU4_DAY, ESU4_DAY, "time:1m"))
    names = zipfile.ZipFile(io.BytesIO(b"".join(zip_directory(out)))).namelist()
    assert any(n.startswith("data/bar/ESU4.GLBX-1-MINUTE-LAST-EXTERNAL/") for n in names)


def test_fixed_point_raw_values_are_nautilus_own():
    from nautilus_trader.model.objects import Price, Quantity

    from tickdeck.core.nautilus_export import fixed_binary

    prices = np.array([-37.63, 0.0, 0.01, 5528.75, 123456789.12])  # negative (CL, Apr 2020), past int64 at 1e16
    raw = [int.from_bytes(b, "little", signed=True) for b in fixed_binary(prices, 2).to_pylist()]
    assert raw == [Price(p, 2).raw for p in prices]
    sizes = np.array([0.000263, 1.5, 21.0])
    raw = [int.from_bytes(b, "little", signed=True) for b in fixed_binary(sizes, 8).to_pylist()]
    assert raw == [Quantity(x, 8).raw for x in sizes]
