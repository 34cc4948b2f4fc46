"""Bars of a catalog written by NautilusTrader itself: imported as external series and exported back equal.

The bars are made from the real BTCUSDT trades (``shared/realdata``) and written with Nautilus's
own ``Bar`` objects and ``ParquetDataCatalog.write_data``; the exported catalog is read with
Nautilus's ``ParquetDataCatalog`` and compared raw value by raw value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

# nautilus_trader is in the test extras: a missing package fails these imports, it never skips

from nautilus_trader.model.data import Bar, BarType, TradeTick  # noqa: E402
from nautilus_trader.model.identifiers import InstrumentId  # noqa: E402
from nautilus_trader.persistence.catalog import ParquetDataCatalog  # noqa: E402

from tickdeck.core import naming  # noqa: E402
from tickdeck.core.bars import get_bars  # noqa: E402
from tickdeck.core.bars.service import build_default_bars, invalidate_day_bars  # noqa: E402
from tickdeck.core.config import Settings  # noqa: E402
from tickdeck.core.context import Context  # noqa: E402
from tickdeck.core.datasets import dataset_metadata  # noqa: E402
from tickdeck.core.errors import ImportFormatError  # noqa: E402
from tickdeck.core.export import ExportRequest, export  # noqa: E402
from tickdeck.core.sources.files import import_file  # noqa: E402

MINUTE = "BTCUSDT.BINANCE-1-MINUTE-LAST-EXTERNAL"
TICKS = "BTCUSDT.BINANCE-100-TICK-LAST-INTERNAL"
QUOTE_BARS = "BTCUSDT.BINANCE-1-MINUTE-BID-EXTERNAL"  # bars of quotes: tickdeck cannot map them
INIT_LAG = 1_500  # ns between a bar's ts_event and its ts_init, so both are checked


def _bars(bar_type: str, ts: np.ndarray, px: np.ndarray, qty: np.ndarray, groups: np.ndarray) -> list:
    """Nautilus bars of the trades grouped by ``groups``, ts_event = the group's last trade."""
    df = pd.DataFrame({"px": px, "qty": qty, "ts": ts, "g": groups}).groupby("g", sort=True)
    o, h, lo, c = df["px"].first(), df["px"].max(), df["px"].min(), df["px"].last()
    v, ev = df["qty"].sum().round(6), df["ts"].last().to_numpy(np.uint64)
    return Bar.from_raw_arrays_to_list(BarType.from_str(bar_type), 2, 6, o.to_numpy(), h.to_numpy(), lo.to_numpy(),
                                       c.to_numpy(), v.to_numpy(), ev, ev + np.uint64(INIT_LAG))


@pytest.fixture(scope="module")
def source(tmp_path_factory, realdata):
    """A Nautilus catalog: the BTCUSDT instrument, its trades, 1-minute and 100-tick bars, and BID bars."""
    from nautilus_trader.model.currencies import USDT
    from nautilus_trader.model.identifiers import Symbol
    from nautilus_trader.model.instruments import CurrencyPair
    from nautilus_trader.model.objects import Currency, Price, Quantity

    src = pd.read_parquet(realdata / "btcusdt-trades.parquet")
    iid = InstrumentId.from_str("BTCUSDT.BINANCE")
    ts = pd.DatetimeIndex(src["timestamp"]).as_unit("ns").asi8.astype(np.uint64)
    px, qty = src["price"].to_numpy(np.float64), src["quantity"].to_numpy(np.float64)
    side = np.where(src["buyer_maker"].to_numpy(dtype=bool), 2, 1).astype(np.uint8)
    root = tmp_path_factory.mktemp("naut_bars") / "src"
    cat = ParquetDataCatalog(str(root))
    cat.write_data([CurrencyPair(iid, Symbol("BTCUSDT"), Currency.from_str("BTC"), USDT, 2, 6, Price.from_str("0.01"),
                                 Quantity.from_str("0.000001"), 0, 0)])
    cat.write_data(TradeTick.from_raw_arrays_to_list(iid, 2, 6, px, qty, side, [str(i) for i in src["trade_id"]],
                                                     ts, ts))
    minute = (ts.astype(np.int64) - 1) // 60_000_000_000  # bars close on the minute: (t0, t0 + 1m]
    bars = {MINUTE: _bars(MINUTE, ts, px, qty, minute),
            TICKS: _bars(TICKS, ts, px, qty, np.arange(ts.size) // 100),
            QUOTE_BARS: _bars(QUOTE_BARS, ts, px, qty, minute)}
    for b in bars.values():
        cat.write_data(b)
    return root, bars


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    c = Context.open(Settings(data_dir=tmp_path_factory.mktemp("naut_bars_data") / "data"))
    yield c
    c.close()


def _fields(bars) -> list[tuple]:
    return [(str(b.bar_type), b.open.raw, b.high.raw, b.low.raw, b.close.raw, b.volume.raw, b.ts_event, b.ts_init)
            for b in bars]


def test_catalog_bars_import_as_external_series_and_export_back_equal(ctx, source, tmp_path):
    root, bars = source
    rep = import_file(ctx, root, symbol="BTCUSDT")

    assert rep.ticks == 2001  # the trades as before
    assert {(b.bar_type, b.spec, b.bars) for b in rep.bars} == {(MINUTE, "time:1m", len(bars[MINUTE])),
                                                               (TICKS, "tick:100", len(bars[TICKS]))}
    (refused,) = rep.bars_refused  # reported, with why, and recorded as a dead letter; not silently dropped
    assert refused[0] == QUOTE_BARS and "quotes" in refused[1]
    assert any(d.raw == QUOTE_BARS and d.symbol == "BTCUSDT" for d in ctx.catalog.dead_letters())

    days = ctx.store.list_days("BTCUSDT")
    imported = get_bars(ctx, "BTCUSDT", days[0], days[-1], "time:1m", source="imported")
    np.testing.assert_array_equal(imported["close"].to_numpy(), [b.close.as_double() for b in bars[MINUTE]])
    built = get_bars(ctx, "BTCUSDT", days[0], days[-1], "time:1m")  # days with ticks: built from the ticks
    assert built["trade_count"].sum() == 2001 and imported["trade_count"].sum() == 0

    build_default_bars(ctx, "BTCUSDT", days[0], specs=["time:1m"])  # a built series of the same spec, same day
    meta = dataset_metadata(ctx, "BTCUSDT")  # catalogued apart from the built series, with their source
    rows = [r for r in ctx.catalog.bar_series("BTCUSDT") if r.family == naming.IMPORTED_BARS_FAMILY]
    assert {(r.spec, r.stats["source"], r.stats["bar_type"]) for r in rows} == {("time:1m", "nautilus", MINUTE),
                                                                               ("tick:100", "nautilus", TICKS)}
    assert {(s.family, s.spec, s.source) for s in meta.bar_series} >= {("imported", "time:1m", "nautilus"),
                                                                       ("imported", "tick:100", "nautilus")}
    assert [(s.family, s.spec, s.source) for s in meta.bar_series if s.family != "imported"] == \
        [("time", "time:1m", "ticks")]

    for d in days:  # what the ingest path runs when a day's ticks are rewritten: imported series stay
        invalidate_day_bars(ctx, "BTCUSDT", d)
    assert len(get_bars(ctx, "BTCUSDT", days[0], days[-1], "time:1m", source="imported")) == len(bars[MINUTE])
    assert len([r for r in ctx.catalog.bar_series("BTCUSDT") if r.family == "imported"]) == len(rows)

    out = tmp_path / "out"
    for spec in ("time:1m", "tick:100"):
        man = export(ctx, ExportRequest(("BTCUSDT",), days[0], days[-1], out, spec=spec, format="nautilus"))
        assert man.request["bar_types"] == [MINUTE if spec == "time:1m" else TICKS]
    back = ParquetDataCatalog(str(out))
    for bt in (MINUTE, TICKS):
        assert _fields(back.bars(bar_types=[bt])) == _fields(bars[bt])


def test_a_catalog_of_bars_only_imports_and_reads_as_bars_of_days_without_ticks(tmp_path):
    bt = "AAPL.XNAS-5-MINUTE-LAST-EXTERNAL"
    ts = (np.arange(1, 4, dtype=np.uint64) * 300 + 1_719_840_600) * np.uint64(1_000_000_000)  # 2024-07-01 09:35 ET
    bars = Bar.from_raw_arrays_to_list(BarType.from_str(bt), 2, 0, np.array([10.0, 10.5, 10.25]),
                                       np.array([11.0, 10.75, 10.5]), np.array([9.5, 10.25, 10.0]),
                                       np.array([10.5, 10.25, 10.5]), np.array([100.0, 250.0, 75.0]), ts, ts)
    imb = Bar.from_raw_arrays_to_list(BarType.from_str("AAPL.XNAS-50-TICK_IMBALANCE-LAST-EXTERNAL"), 2, 0,
                                      np.array([10.0]), np.array([11.0]), np.array([9.5]), np.array([10.5]),
                                      np.array([5.0]), ts[:1], ts[:1])
    cat = ParquetDataCatalog(str(tmp_path / "src"))
    for b in (bars, imb):
        cat.write_data(b)
    c = Context.open(Settings(data_dir=tmp_path / "data"))
    try:
        rep = import_file(c, tmp_path / "src", symbol="AAPL")
        assert (rep.ticks, rep.calendar, [b.spec for b in rep.bars]) == (0, "XNYS", ["time:5m"])
        refused = dict(rep.bars_refused)
        assert "EWMA" in refused["AAPL.XNAS-50-TICK_IMBALANCE-LAST-EXTERNAL"]
        assert c.store.list_days("AAPL") == [] and c.catalog.dataset("AAPL").venue == "XNAS"
        got = get_bars(c, "AAPL", "2024-07-01", spec="time:5m")  # no ticks that day: the imported series
        np.testing.assert_array_equal(got["high"].to_numpy(), [11.0, 10.75, 10.5])
        np.testing.assert_array_equal(pd.DatetimeIndex(got["end"]).asi8, ts.astype(np.int64))
        assert (got.index == pd.DatetimeIndex(got["end"]) - pd.Timedelta("5min")).all()
        export(c, ExportRequest(("AAPL",), "2024-07-01", "2024-07-01", tmp_path / "out", spec="time:5m",
                                format="nautilus"))
        assert _fields(ParquetDataCatalog(str(tmp_path / "out")).bars()) == _fields(bars)
    finally:
        c.close()


def test_a_catalog_whose_bars_cannot_be_mapped_is_refused_whole(tmp_path, monkeypatch, capsys):
    from tickdeck.app.cli import main

    ts = np.array([1_719_840_900_000_000_000], dtype=np.uint64)
    for bt in ("AAPL.XNAS-1-MINUTE-MID-EXTERNAL", "AAPL.XNAS-1-MINUTE-LAST-EXTERNAL",
               "AAPL.XNAS-60-SECOND-LAST-INTERNAL"):  # quote bars; two bar types both meaning time:1m
        ParquetDataCatalog(str(tmp_path / "src")).write_data(Bar.from_raw_arrays_to_list(
            BarType.from_str(bt), 2, 0, np.array([10.0]), np.array([11.0]), np.array([9.5]), np.array([10.5]),
            np.array([5.0]), ts, ts))
    c = Context.open(Settings(data_dir=tmp_path / "data"))
    try:
        with pytest.raises(ImportFormatError, match="no bars of AAPL can be imported") as e:
            import_file(c, tmp_path / "src", symbol="AAPL")
        assert "AAPL.XNAS-1-MINUTE-MID-EXTERNAL: MID bars are bars of quotes" in str(e.value)
        assert "AAPL.XNAS-1-MINUTE-LAST-EXTERNAL: maps to time:1m, as AAPL.XNAS-60-SECOND-LAST-INTERNAL does" \
            in str(e.value)  # which of the two to keep would be a guess: neither is imported
        assert c.catalog.dataset("AAPL") is None and c.catalog.bar_series("AAPL") == []  # nothing stored
    finally:
        c.close()
    monkeypatch.setenv("TICKDECK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TICKDECK_PIPELINE", "off")
    assert main(["import", str(tmp_path / "src"), "--symbol", "AAPL", "--no-progress"]) == 1
    assert "AAPL.XNAS-1-MINUTE-MID-EXTERNAL: MID bars are bars of quotes" in capsys.readouterr().err
