"""Every file in shared/realdata imported through ingest_day into real ArcticDB + SQL.

Expected values are computed independently from each file with a plain reading (databento's
DataFrame, pandas, the csv module), never from the importer.
"""

from __future__ import annotations

import csv
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from tickdeck.core.sources.files import import_file

ET = "America/New_York"


def _dbn_df(path):
    import databento

    return databento.DBNStore.from_file(path).to_df(price_type="float")


def _assert_first_last(df, expected_ts):
    assert df.index[0] == expected_ts.min().tz_convert(ET)
    assert df.index[-1] == expected_ts.max().tz_convert(ET)


def test_esu4_trades_cross_midnight_utc_into_the_next_cmes_session_day(ctx, realdata):
    src = _dbn_df(realdata / "esu4-glbx-trades_2024-07-01T23-58.dbn.zst")
    rep = import_file(ctx, realdata / "esu4-glbx-trades_2024-07-01T23-58.dbn.zst", symbol="ESU4")
    assert (rep.calendar, rep.asset_class, rep.source) == ("CMES", "futures", "import:dbn-trades")
    assert [d.day for d in rep.days] == [dt.date(2024, 7, 2)] and rep.ticks == len(src) == 120
    assert ctx.store.list_days("ESU4") == [dt.date(2024, 7, 2)]
    df = ctx.store.read_day("ESU4", "2024-07-02")
    _assert_first_last(df, src["ts_event"])
    assert df.index[0] == pd.Timestamp("2024-07-01 19:58:01.218218853", tz=ET)  # evening of 1 Jul ET
    np.testing.assert_array_equal(df["last"].to_numpy(), src.sort_values("ts_event")["price"].to_numpy())
    assert int(df["last_sz"].sum()) == int(src["size"].sum()) and int(df["tot_vlm"].iloc[-1]) == int(src["size"].sum())
    assert df["bid"].isna().all()
    ds = ctx.catalog.dataset("ESU4")
    assert (ds.calendar, ds.asset_class, ds.venue) == ("CMES", "futures", "GLBX.MDP3")


def test_esu4_mbp1_trades_carry_the_prevailing_quote(ctx, realdata):
    src = _dbn_df(realdata / "esu4-glbx-mbp-1_2024-07-01T23-58.dbn.zst")
    trades = src[src["action"] == "T"]
    rep = import_file(ctx, realdata / "esu4-glbx-mbp-1_2024-07-01T23-58.dbn.zst", symbol="ESU4")
    assert rep.ticks == len(trades) == 120 and rep.rows_read == 120
    df = ctx.store.read_day("ESU4", "2024-07-02")
    _assert_first_last(df, trades["ts_event"])
    np.testing.assert_array_equal(df["last"].to_numpy(), trades["price"].to_numpy())
    np.testing.assert_array_equal(df["bid"].to_numpy(), trades["bid_px_00"].to_numpy())
    np.testing.assert_array_equal(df["ask"].to_numpy(), trades["ask_px_00"].to_numpy())
    assert (df["spread"] > 0).all() and (df["trade_sign"] != 0).any()


def test_esh4_mbo_on_christmas_lands_in_the_26_december_session(ctx, realdata):
    src = _dbn_df(realdata / "esh4-glbx-mdp3-20231225.mbo.dbn.zst")
    trades = src[src["action"] == "T"]
    rep = import_file(ctx, realdata / "esh4-glbx-mdp3-20231225.mbo.dbn.zst", symbol="ESH4")
    assert rep.rejected == 0 and rep.ticks == len(trades) == 2973
    assert ctx.store.list_days("ESH4") == [dt.date(2023, 12, 26)]  # 25 Dec has no CMES session
    df = ctx.store.read_day("ESH4", "2023-12-26")
    _assert_first_last(df, trades["ts_event"])
    assert df.index[0] == pd.Timestamp("2023-12-25 18:00", tz=ET)  # Globex reopens 17:00 CT
    order = np.argsort(trades["ts_event"].to_numpy(), kind="stable")
    np.testing.assert_array_equal(df["last"].to_numpy(), trades["price"].to_numpy()[order])
    assert int(df["last_sz"].sum()) == int(trades["size"].sum())
    assert df["bid"].notna().all() and df["ask"].notna().all()
    assert ((df["bid"] <= df["last"]) & (df["last"] <= df["ask"])).mean() > 0.95  # book-rebuilt quotes


def test_btcusdt_parquet_imports_as_24_7_crypto_with_1e8_size_units(ctx, realdata):
    src = pd.read_parquet(realdata / "btcusdt-trades.parquet")
    rep = import_file(ctx, realdata / "btcusdt-trades.parquet", symbol="BTCUSDT")
    assert (rep.calendar, rep.asset_class, rep.size_unit) == ("24/7", "crypto", 1e-8)
    assert [d.day for d in rep.days] == [dt.date(2021, 1, 8)] and rep.ticks == len(src) == 2001
    df = ctx.store.read_day("BTCUSDT", "2021-01-08")
    _assert_first_last(df, src["timestamp"])
    np.testing.assert_array_equal(df["last"].to_numpy(), src["price"].to_numpy())
    np.testing.assert_array_equal(df["tick_id"].to_numpy(), src["trade_id"].to_numpy())
    np.testing.assert_array_equal(df["last_sz"].to_numpy(), np.round(src["quantity"].to_numpy() * 1e8).astype(np.int64))
    assert (df["session"] == 1).all()


def test_usdjpy_quotes_are_stored_as_midpoints_with_zero_size(ctx, realdata):
    with open(realdata / "usdjpy-ticks.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    bid = np.array([float(r["bid"]) for r in rows])
    ask = np.array([float(r["ask"]) for r in rows])
    rep = import_file(ctx, realdata / "usdjpy-ticks.csv", symbol="USDJPY")
    assert rep.quote_only and rep.source == "import:csv:quotes" and (rep.calendar, rep.asset_class) == ("24/7", "fx")
    assert [d.day for d in rep.days] == [dt.date(2013, 1, 1)] and rep.ticks == len(rows) == 1000
    df = ctx.store.read_day("USDJPY", "2013-01-01")
    assert df.index[0] == pd.Timestamp(rows[0]["timestamp"]).tz_convert(ET)
    assert df.index[-1] == pd.Timestamp(rows[-1]["timestamp"]).tz_convert(ET)
    np.testing.assert_allclose(df["last"].to_numpy(), (bid + ask) / 2, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(df["bid"].to_numpy(), bid)
    assert (df["last_sz"] == 0).all() and (df["last_type"] == ord("O")).all()
    assert (df["source"] == "import:csv:quotes").all()


def test_reimporting_a_file_replaces_its_days(ctx, realdata):
    for _ in range(2):
        rep = import_file(ctx, realdata / "usdjpy-ticks.csv", symbol="USDJPY")
    assert rep.ticks == 1000 and ctx.store.day_info("USDJPY", "2013-01-01").ticks == 1000


def test_missing_column_raises_and_stores_nothing(ctx, tmp_path):
    from tickdeck.core.errors import ImportFormatError

    p = tmp_path / "x.csv"
    p.write_text("timestamp,price\n2024-07-02T14:30:00Z,10\n")
    with pytest.raises(ImportFormatError, match="'size'"):
        import_file(ctx, p, symbol="AAPL")
    assert ctx.store.list_tickers() == [] and ctx.catalog.dead_letters() == [] and ctx.catalog.dataset("AAPL") is None


def test_xnys_file_groups_by_et_date_and_holiday_rows_become_dead_letters(sql_url, tmp_path):
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context

    ctx = Context.open(Settings(data_dir=tmp_path / "d", sql_url=sql_url))
    try:
        p = tmp_path / "aapl.csv"
        p.write_text("ts,last,qty\n"
                     "2024-07-02T13:30:05Z,190.1,100\n"   # 09:30:05 ET 2 Jul
                     "2024-07-03T00:10:00Z,190.3,5\n"     # 20:10 ET 2 Jul (outside sessions, same day)
                     "2024-07-03T15:00:00Z,191.0,50\n"    # 3 Jul
                     "2024-07-04T15:00:00Z,192.0,10\n"    # Independence Day: no session
                     "2024-07-03T15:00:01Z,oops,10\n")    # unparseable price
        rep = import_file(ctx, p, symbol="AAPL", source="broker")
        assert (rep.calendar, rep.asset_class) == ("XNYS", "equity")
        assert [(d.day, d.ticks) for d in rep.days] == [(dt.date(2024, 7, 2), 2), (dt.date(2024, 7, 3), 1)]
        assert rep.rejected == 2
        dead = {d.reason: d for d in ctx.catalog.dead_letters()}
        assert any("not in any XNYS trading session" in r for r in dead)
        bad_price = next(d for r, d in dead.items() if "price" in r)
        assert bad_price.raw == "2024-07-03T15:00:01Z,oops,10" and bad_price.source == "import:broker"
        assert ctx.store.read_day("AAPL", "2024-07-02")["session"].tolist() == [1, -1]
    finally:
        ctx.close()


def test_cli_import_prints_a_summary_and_fails_in_one_line(realdata, tmp_path, monkeypatch, capsys):
    from tickdeck.app.cli import main

    monkeypatch.setenv("TICKDECK_DATA_DIR", str(tmp_path / "cli"))
    assert main(["import", str(realdata / "esu4-glbx-mbp-1_2024-07-01T23-58.dbn.zst"), "--symbol", "ESU4",
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "ESU4 2024-07-02" in out and "imported 120 ticks into 1 CMES session day(s)" in out
    assert main(["import", str(realdata / "usdjpy-ticks.csv"), "--symbol", "USDJPY", "--map", "price=bid",
                 "--no-progress"]) == 1
    assert "missing required column 'size'" in capsys.readouterr().err
