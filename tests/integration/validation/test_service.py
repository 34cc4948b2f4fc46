"""Validation service on real ArcticDB + SQL: caching, history, ranges, storage checks, install()."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from tickdeck.core import db
from tickdeck.core.bars import build_default_bars, default_specs
from tickdeck.core.calendar import get_calendar
from tickdeck.core.config import Settings
from tickdeck.core.context import Context
from tickdeck.core.enrich import utc_ns_from_date_time
from tickdeck.core.errors import DayNotFound
from tickdeck.core.ingest import ingest_day
from tickdeck.core.sources.synthetic import generate_day, generate_into_store
from tickdeck.core.validation import (VALIDATORS, anomalies, flagged_ticks, history, install, quality_score,
                                      reconcile, validate_day, validate_range)
from tickdeck.core.validation.service import UnknownValidator

TICKS = 3_000  # small synthetic days keep this module fast


@pytest.fixture
def sctx(tmp_path, sql_url):
    """A context on LMDB plus the parametrised SQL backend (SQLite and PostgreSQL)."""
    c = Context.open(Settings(data_dir=tmp_path / "d", sql_url=sql_url))
    yield c
    c.close()


def test_second_validation_reuses_the_cached_result_until_the_data_changes(sctx):
    generate_into_store(sctx, ["AAPL"], "2024-07-02", "2024-07-02", ticks=TICKS)
    first = validate_day(sctx, "AAPL", "2024-07-02")
    again = validate_day(sctx, "AAPL", "2024-07-02")
    assert not first.cached and again.cached
    assert again.to_dict()["issues"] == first.to_dict()["issues"] and again.status == first.status
    generate_into_store(sctx, ["AAPL"], "2024-07-02", "2024-07-02", ticks=TICKS, faults=["gaps"])
    fresh = validate_day(sctx, "AAPL", "2024-07-02")
    assert not fresh.cached and "GAP" in fresh.codes()
    hist = history(sctx, "AAPL", "2024-07-02")
    # one row per validator per run that computed (the cached run stores none), one run per data version
    assert sorted((h.data_version, h.validator) for h in hist) == sorted(
        (r.data_version, v) for r in (first, fresh) for v in VALIDATORS)
    assert first.data_version != fresh.data_version


def test_cache_expires_after_the_configured_age(sctx):
    generate_into_store(sctx, ["AAPL"], "2024-07-02", "2024-07-02", ticks=TICKS)
    validate_day(sctx, "AAPL", "2024-07-02")
    sctx.catalog.set_config("validation.cache_hours", 0.0)
    assert not validate_day(sctx, "AAPL", "2024-07-02").cached


def test_range_reports_missing_trading_days_and_skips_holidays(sctx):
    generate_into_store(sctx, ["AAPL"], "2024-07-01", "2024-07-02", ticks=TICKS)
    reports = validate_range(sctx, "AAPL", "2024-07-01", "2024-07-08")
    days = [r.day.isoformat() for r in reports]
    assert days == ["2024-07-01", "2024-07-02", "2024-07-03", "2024-07-05", "2024-07-08"]  # no 4 July, no weekend
    missing = [r for r in reports if "MISSING_DAY" in r.codes()]
    assert [r.day.isoformat() for r in missing] == ["2024-07-03", "2024-07-05", "2024-07-08"]
    assert all(r.status == "FAIL" for r in missing)


def test_unknown_day_and_unknown_validator_raise(ctx):
    with pytest.raises(DayNotFound):
        validate_day(ctx, "AAPL", "2024-07-02")
    generate_into_store(ctx, ["AAPL"], "2024-07-02", "2024-07-02", ticks=TICKS)
    with pytest.raises(UnknownValidator, match="bogus"):
        validate_day(ctx, "AAPL", "2024-07-02", types=["bogus"])
    only = validate_day(ctx, "AAPL", "2024-07-02", types=["session"])
    assert [r.validator for r in only.results] == ["session"]


def test_storage_detects_a_catalog_row_that_disagrees_with_the_data(ctx):
    res = generate_into_store(ctx, ["AAPL"], "2024-07-02", "2024-07-02", ticks=TICKS)
    import dataclasses

    ctx.catalog.upsert_tick_day(dataclasses.replace(res[0].info, ticks=res[0].info.ticks + 7))
    st = validate_day(ctx, "AAPL", "2024-07-02", types=["storage"], use_cache=False).result("storage")
    issue = next(i for i in st.issues if i.code == "CATALOG_MISMATCH")
    assert "ticks" in issue.message and st.status == "FAIL"


def test_storage_reports_bars_not_built_then_checks_bar_counts(ctx):
    generate_into_store(ctx, ["AAPL"], "2024-07-02", "2024-07-02", ticks=TICKS)
    st = validate_day(ctx, "AAPL", "2024-07-02", types=["storage"]).result("storage")
    assert [i.code for i in st.issues] == ["BARS_NOT_BUILT"] and st.status == "PASS"

    built = build_default_bars(ctx, "AAPL", "2024-07-02")  # the bars service stores each series and its row
    st = validate_day(ctx, "AAPL", "2024-07-02", types=["storage"], use_cache=False).result("storage")
    assert st.issues == () and st.metrics["bar_series_stored"] == len(built) == len(default_specs(_day_row(ctx)))

    # faults no producer makes: a catalog count the stored series disagrees with, a row whose series is absent
    one = next(r for r in built if r.family == "time")
    ctx.catalog.upsert_bar_series([dataclasses.replace(one, bars=one.bars - 1),
                                   dataclasses.replace(one, family="volume", spec="volume:123457", bars=5)])
    codes = {i.code for i in validate_day(ctx, "AAPL", "2024-07-02", types=["storage"],
                                          use_cache=False).result("storage").issues}
    assert codes == {"BAR_METADATA_MISMATCH", "BAR_SERIES_MISSING"}


def _day_row(ctx):
    (row,) = ctx.catalog.tick_days("AAPL", "2024-07-02", "2024-07-02")
    return row


def test_regular_trades_after_an_early_close_are_reported(ctx):
    cal = get_calendar("XNYS")
    raw = generate_day("AAPL", "2024-07-03", calendar=cal, ticks=TICKS)
    late = (raw["time"] >= 13 * 3600 * 10**6) & (raw["time"] < 14 * 3600 * 10**6)
    raw["last_type"][late] = ord("C")
    ingest_day(ctx, "AAPL", "2024-07-03", raw, source="synthetic", calendar=cal)
    s = validate_day(ctx, "AAPL", "2024-07-03").result("session")
    issue = next(i for i in s.issues if i.code == "REGULAR_AFTER_EARLY_CLOSE")
    assert issue.rows == int(late.sum()) and s.status == "FAIL"


def test_index_an_hour_off_the_raw_wall_clock_is_reported_as_a_dst_error(ctx):
    cal = get_calendar("XNYS")
    raw = generate_day("AAPL", "2024-03-11", calendar=cal, ticks=TICKS)
    ns = utc_ns_from_date_time(raw["date"], raw["time"]) + 3600 * 10**9  # EST offset used on an EDT day
    ingest_day(ctx, "AAPL", "2024-03-11", raw, source="import:test", calendar=cal, timestamps_ns=ns)
    tz = validate_day(ctx, "AAPL", "2024-03-11").result("timezone")
    shifted = next(i for i in tz.issues if i.code == "TIME_COLUMNS_SHIFTED")
    assert "+1 h" in shifted.message and tz.metrics["dst_transition"]


def test_install_rejects_bad_rows_stores_flags_and_persists_the_quality_score(sctx):
    install(sctx)
    cal = get_calendar("XNYS")
    raw = generate_day("AAPL", "2024-07-02", calendar=cal, ticks=TICKS, faults=["crossed_quotes"])
    raw["last"][100] = np.nan
    raw["last_sz"][200] = -1
    kept = np.ones(raw["tick_id"].size, bool)
    kept[[100, 200]] = False
    crossed = int(((raw["bid"] > raw["ask"]) & kept).sum())  # the fault's crossed quotes among the stored ticks
    res = ingest_day(sctx, "AAPL", "2024-07-02", raw, source="synthetic", calendar=cal)
    assert res.rejected == 2 and res.info.ticks == raw["tick_id"].size - 2
    letters = sctx.catalog.dead_letters()
    assert sorted(d.reason for d in letters) == ["negative trade size", "price is not finite and positive"]

    flagged = flagged_ticks(sctx, "AAPL", "2024-07-02")
    assert (flagged["names"].str.contains("crossed")).sum() == crossed > 0

    with sctx.catalog.Session() as s:
        health = s.query(db.DataHealth).filter_by(symbol="AAPL").one()
    assert 0 <= health.score <= 100 and set(health.components) >= {"completeness", "accuracy", "timeliness",
                                                                   "consistency"}
    (row,) = sctx.catalog.tick_days("AAPL")
    assert row.quality_score == pytest.approx(health.score)
    assert sctx.catalog.datasets()[0].quality_score == pytest.approx(health.score)
    rep = validate_day(sctx, "AAPL", "2024-07-02")
    assert rep.cached and "REJECTED_ROWS" in rep.codes() and "CROSSED_QUOTES" in rep.codes()


def test_config_override_changes_a_threshold(sctx):
    generate_into_store(sctx, ["AAPL"], "2024-07-02", "2024-07-02", ticks=TICKS, faults=["gaps"])
    assert next(i for i in validate_day(sctx, "AAPL", "2024-07-02").issues if i.code == "GAP").severity == "HIGH"
    sctx.catalog.set_config("validation.gap_critical_s", 1000)
    rep = validate_day(sctx, "AAPL", "2024-07-02", use_cache=False)
    assert next(i for i in rep.issues if i.code == "GAP").severity == "CRITICAL"


def test_quality_is_lower_for_a_faulty_day_than_a_clean_one(ctx):
    generate_into_store(ctx, ["AAPL"], "2024-07-01", "2024-07-01", ticks=TICKS)
    generate_into_store(ctx, ["AAPL"], "2024-07-02", "2024-07-02", ticks=TICKS, faults=["gaps", "bad_prints"])
    clean, bad = quality_score(ctx, "AAPL", "2024-07-01"), quality_score(ctx, "AAPL", "2024-07-02")
    assert bad.score < clean.score
    assert bad.completeness < clean.completeness and bad.consistency < clean.consistency
    assert bad.accuracy < clean.accuracy == 100.0


def test_anomalies_single_out_a_day_with_a_bad_range_from_catalog_rows(ctx):
    generate_into_store(ctx, ["AAPL"], "2024-07-08", "2024-07-12", ticks=TICKS)
    generate_into_store(ctx, ["AAPL"], "2024-07-15", "2024-07-15", ticks=TICKS, faults=["bad_prints"])
    found = anomalies(ctx, "AAPL")
    assert found and found[0].day.isoformat() == "2024-07-15" and found[0].metric == "range_pct"
    assert anomalies(ctx, "MSFT") == []


def test_reconcile_matches_a_day_with_itself_and_shows_the_hole_of_a_gap(ctx):
    generate_into_store(ctx, ["AAPL"], "2024-07-02", "2024-07-02", ticks=TICKS)
    generate_into_store(ctx, ["AAPLX"], "2024-07-02", "2024-07-02", ticks=TICKS, faults=["gaps"])
    same = reconcile(ctx, "AAPL", "2024-07-02", "AAPL", "2024-07-02")
    assert same.matched and same.summary["count_a"] == same.summary["count_b"]
    diff = reconcile(ctx, "AAPL", "2024-07-02", "AAPLX", "2024-07-02", interval="10min")
    t = diff.table
    assert t.loc[pd.Timedelta("11:10:00"), "count_b"] == 0 and t.loc[pd.Timedelta("11:10:00"), "count_a"] > 0
    assert not diff.matched
