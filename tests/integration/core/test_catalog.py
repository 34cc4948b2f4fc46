import datetime as dt

import pytest
import sqlalchemy as sa

from builders import store_synthetic
from tickdeck.core.catalog import BarSeriesRow
from tickdeck.core.context import Context
from tickdeck.core.store import DayInfo

D = dt.date


def _info(sym, day, ticks=100):
    import pandas as pd

    t0 = pd.Timestamp(f"{day} 09:30", tz="America/New_York")
    return DayInfo(sym, day, ticks, t0, t0 + pd.Timedelta(hours=6), ticks * 100, ticks * 1e4, 100.0, 99.0, 101.0,
                   98.0, 100.5, 1.2, 5, ticks - 10, 5, 0, "test", "ing")


def test_migrations_create_every_table(catalog):
    names = set(sa.inspect(catalog.engine).get_table_names())
    assert {"datasets", "tick_days", "bar_series", "validation_results", "data_health", "jobs", "dead_letters",
            "users", "api_keys", "alert_configs", "alert_history", "system_config", "audit_log",
            "alembic_version"} <= names


def test_upsert_and_list_tick_days(catalog):
    catalog.upsert_dataset("AAPL", source="test", venue="SIM")
    catalog.upsert_tick_days([_info("AAPL", D(2024, 7, 1)), _info("AAPL", D(2024, 7, 2), 50)])
    catalog.upsert_tick_day(_info("AAPL", D(2024, 7, 2), 70))  # replaces, no duplicate row
    rows = catalog.tick_days("AAPL")
    assert [(r.day, r.ticks) for r in rows] == [(D(2024, 7, 1), 100), (D(2024, 7, 2), 70)]
    assert rows[0].first.tz is not None and rows[0].first.hour == 9
    (ds,) = catalog.datasets()
    assert (ds.symbol, ds.days, ds.ticks, ds.first_day, ds.last_day) == ("AAPL", 2, 170, D(2024, 7, 1), D(2024, 7, 2))
    assert ds.last_update.tzinfo is not None


def test_bar_series_rows(catalog):
    row = BarSeriesRow("AAPL", D(2024, 7, 1), "time", "60s", 390, None, None, {"vwap": 1.0})
    catalog.upsert_bar_series([row, row])
    assert catalog.bar_series("AAPL") == [row]


def test_dead_letters_and_audit_log_is_append_only(catalog):
    catalog.add_dead_letters([("iqfeed", "AAPL", "1,LH,bad", "unparseable price 'x'")])
    (dl,) = catalog.dead_letters()
    assert dl.reason.startswith("unparseable") and dl.status == "new" and catalog.count_dead_letters() == 1
    catalog.audit("admin", "delete_day", "AAPL/2024-07-01", {"why": "test"})
    assert catalog.audit_log()[0].action == "delete_day"
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        with catalog.engine.begin() as c:
            c.execute(sa.text("DELETE FROM audit_log"))
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        with catalog.engine.begin() as c:
            c.execute(sa.text("UPDATE audit_log SET actor = 'x'"))


def test_system_config(catalog):
    assert catalog.get_config("watchlist", []) == []
    catalog.set_config("watchlist", ["AAPL", "MSFT"])
    assert catalog.get_config("watchlist") == ["AAPL", "MSFT"]


def test_listing_ten_thousand_days_reads_no_frames(catalog):
    syms = [f"S{i:03d}" for i in range(40)]
    days = [D(2024, 1, 2) + dt.timedelta(days=i) for i in range(250)]
    catalog.upsert_tick_days(_info(s, d) for s in syms for d in days)
    for s in syms:
        catalog.upsert_dataset(s)
    rows = catalog.tick_days()
    assert len(rows) == 10_000
    assert sum(d.days for d in catalog.datasets()) == 10_000


def test_ingest_mirrors_store_metadata_in_catalog(settings, sql_url):
    ctx = Context.open(settings.with_(sql_url=sql_url))
    try:
        res = store_synthetic(ctx, "NVDA", "2024-07-01", "2024-07-02")
        rows = ctx.catalog.tick_days("NVDA")
        infos = ctx.store.day_infos("NVDA")
        assert [(r.day, r.ticks, r.volume, r.first, r.last) for r in rows] == \
               [(i.day, i.ticks, i.volume, i.first, i.last) for i in infos]
        assert [r.info.ticks for r in res] == [r.ticks for r in rows]
        (ds,) = ctx.catalog.datasets()
        assert ds.source == "synthetic" and ds.venue == "SIM"
    finally:
        ctx.close()


def test_failing_days_uses_the_latest_result_per_validator(catalog):
    from tickdeck.core import db

    with catalog.Session.begin() as s:
        for day, validator, status in [(D(2024, 7, 1), "continuity", "FAIL"), (D(2024, 7, 1), "continuity", "PASS"),
                                       (D(2024, 7, 2), "session", "PASS"), (D(2024, 7, 2), "timezone", "FAIL"),
                                       (D(2024, 7, 3), "session", "WARN")]:
            s.add(db.ValidationResult(symbol="AAPL", day=day, validator=validator, status=status))
    assert catalog.failing_days("AAPL") == {D(2024, 7, 2)}
