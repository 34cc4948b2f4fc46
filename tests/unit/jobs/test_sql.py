"""DuckDB over the store (ticks(), days) and over Parquet exports."""

from __future__ import annotations

import datetime as dt

import pytest

from builders import store_synthetic
from tickdeck.core.export import ExportRequest, export
from tickdeck.core.sql import SqlError, SqlSession, run_sql


@pytest.fixture
def stored(ctx):
    store_synthetic(ctx, "AAPL", "2024-07-01", "2024-07-03", ticks=300)
    return ctx


def test_ticks_function_loads_only_the_named_days(stored):
    res = run_sql(stored, "SELECT count(*) AS n, min(timestamp)::DATE AS d0 "
                          "FROM ticks('AAPL','2024-07-02','2024-07-03')")
    rows = {r.day: r.ticks for r in stored.catalog.tick_days("AAPL")}
    n, d0 = res.table.to_pylist()[0].values()
    assert n == rows[dt.date(2024, 7, 2)] + rows[dt.date(2024, 7, 3)]
    assert str(d0) == "2024-07-02"


def test_ticks_session_argument_filters_the_session(stored):
    res = run_sql(stored, "SELECT count(*) n FROM ticks('AAPL','2024-07-01','2024-07-03','regular') "
                          "WHERE NOT is_regular")
    assert res.table.column("n")[0].as_py() == 0


def test_days_view_lists_the_catalog(stored):
    res = run_sql(stored, "SELECT symbol, count(*) n, sum(ticks) t FROM days GROUP BY 1")
    assert res.table.to_pylist() == [{"symbol": "AAPL", "n": 3, "t": sum(r.ticks for r in stored.catalog.tick_days())}]


def test_parquet_exports_are_views(stored):
    export(stored, ExportRequest(("AAPL",), "2024-07-01", "2024-07-03",
                                 stored.settings.exports_dir / "aapl week.parquet"))
    res = SqlSession(stored).query("SELECT count(*) n FROM export_aapl_week")
    assert res.table.column("n")[0].as_py() == sum(r.ticks for r in stored.catalog.tick_days())


def test_bad_queries_raise_sql_errors(stored):
    with pytest.raises(SqlError, match="no stored days"):
        run_sql(stored, "SELECT * FROM ticks('AAPL','2023-01-01','2023-01-05')")
    with pytest.raises(SqlError, match="query failed"):
        run_sql(stored, "SELEKT 1")
