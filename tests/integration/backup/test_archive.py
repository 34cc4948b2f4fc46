"""Retention archives tick days to hive Parquet before deleting them; DuckDB and ``tickdeck sql`` read them."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from builders import store_synthetic
from tickdeck.core.retention import RetentionPolicy, apply_retention, archived_days
from tickdeck.core.sql import run_sql

DAYS = ("2024-07-01", "2024-07-02")


def test_expired_tick_days_go_to_the_parquet_cold_tier_before_deletion(ctx):
    store_synthetic(ctx, "AAPL", DAYS[0], DAYS[1], ticks=600)
    stored = {d: ctx.store.read_day("AAPL", d) for d in DAYS}
    rep = apply_retention(ctx, RetentionPolicy.from_dict({"ticks": 30, "archive_ticks": True}), today="2024-08-15")
    assert rep.archived == rep.tick_days == ("AAPL/2024-07-01", "AAPL/2024-07-02")
    assert ctx.store.list_days("AAPL") == [] and ctx.catalog.tick_days("AAPL") == []

    known = archived_days(ctx, "AAPL")["AAPL"]
    assert sorted(known) == list(DAYS) and [known[d]["rows"] for d in DAYS] == [len(stored[d]) for d in DAYS]
    root = ctx.settings.data_dir / "archive" / "ticks"
    got = duckdb.sql(f"SELECT *, epoch_ns(timestamp) AS ns FROM read_parquet('{root}/**/*.parquet', "
                     "hive_partitioning=true) ORDER BY day, timestamp").df()
    for d in DAYS:
        part = got[got["day"].astype(str) == d]
        want = stored[d]
        np.testing.assert_array_equal(part["last"].to_numpy(), want["last"].to_numpy())
        np.testing.assert_array_equal(part["tick_id"].to_numpy(), want["tick_id"].to_numpy())
        np.testing.assert_array_equal(part["ns"].to_numpy(), want.index.asi8)  # the same nanoseconds
    assert set(got["symbol"]) == {"AAPL"}
    res = run_sql(ctx, "SELECT day, count(*) AS n FROM archived_ticks WHERE symbol = 'AAPL' GROUP BY day ORDER BY day")
    assert res.table.column("n").to_pylist() == [len(stored[d]) for d in DAYS]


def test_a_day_that_cannot_be_archived_stays_stored(ctx):
    store_synthetic(ctx, "MSFT", DAYS[0], DAYS[0], ticks=300)
    (ctx.settings.data_dir / "archive").write_text("a file where the archive folder should be")
    with pytest.raises(OSError):
        apply_retention(ctx, RetentionPolicy.from_dict({"ticks": 30, "archive_ticks": True}), today="2024-08-15")
    assert ctx.store.list_days("MSFT") == [pd.Timestamp(DAYS[0]).date()]
    assert archived_days(ctx) == {}


def test_archive_flag_must_be_a_boolean():
    from tickdeck.core.errors import TickdeckError

    with pytest.raises(TickdeckError, match="archive_ticks must be true or false"):
        RetentionPolicy.from_dict({"archive_ticks": "yes"})
