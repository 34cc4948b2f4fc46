"""core.dataset_cards: what a home card and the catalog say beyond the catalog row (real SQLite catalog)."""

from __future__ import annotations

import datetime as dt

from tickdeck.core.catalog import DatasetSummary
from tickdeck.core.calendar import get_calendar
from tickdeck.core.dataset_cards import (card_facts, coverage_strip, exchange_of, full_spec, group_specs,
                                         price_summary, source_of, spec_label, update_frequency)

D = dt.date


def _ds(symbol="AAPL", source="iqfeed", venue="IQFEED", asset_class="equity", calendar="XNYS", first=None,
        last=None, days=0):
    return DatasetSummary(symbol, source, venue, asset_class, calendar, first, last, days, 0, 0, None, None)


class Row:  # the tier-1 row attributes the functions read
    def __init__(self, day, close, ticks=100, written=None):
        self.day, self.close, self.ticks = day, close, ticks
        self.updated_at = dt.datetime.combine(written or day, dt.time(22), tzinfo=dt.timezone.utc)


def test_price_summary_is_the_last_close_and_the_change_against_the_previous_stored_day():
    p = price_summary([Row(D(2024, 7, 1), 100.0), Row(D(2024, 7, 2), 102.0), Row(D(2024, 7, 3), 99.45)])
    assert (p.last, p.last_day, p.previous, p.previous_day) == (99.45, D(2024, 7, 3), 102.0, D(2024, 7, 2))
    assert round(p.change, 6) == -2.55 and round(p.change_pct, 4) == -2.5
    assert p.closes == (100.0, 102.0, 99.45) and len(p.days) == 3
    one = price_summary([Row(D(2024, 7, 1), 100.0)])
    assert one.change is None and one.change_pct is None and one.last == 100.0
    assert price_summary([]).last is None


def test_daily_only_when_recent_days_were_written_day_after_day():
    days = [D(2024, 7, 1), D(2024, 7, 2), D(2024, 7, 3), D(2024, 7, 5), D(2024, 7, 8)]
    in_one_go = [Row(d, 1.0, written=D(2024, 7, 9)) for d in days]
    day_by_day = [Row(d, 1.0, written=d) for d in days]
    twice = in_one_go[:3] + [Row(d, 1.0, written=D(2024, 7, 10)) for d in days[3:]]
    ds = _ds()
    assert update_frequency(ds, in_one_go) == "one-off"
    assert update_frequency(ds, day_by_day) == "daily"
    assert update_frequency(ds, twice) == "occasional"
    assert update_frequency(ds, day_by_day[:2]) == "occasional"  # too few days to show a rhythm
    assert update_frequency(_ds(source="iqfeed-live"), in_one_go) == "live (streaming)"


def test_coverage_strip_marks_missing_and_failing_trading_days_and_skips_the_holiday():
    cal = get_calendar("XNYS")
    stored = {D(2024, 7, 1), D(2024, 7, 3), D(2024, 7, 5)}
    strip = coverage_strip(stored, {D(2024, 7, 5)}, cal, D(2024, 7, 5), n=4)
    assert strip == [(D(2024, 7, 1), "present"), (D(2024, 7, 2), "missing"), (D(2024, 7, 3), "present"),
                     (D(2024, 7, 5), "failing")]  # July 4th is not a trading day: not a gap
    assert coverage_strip(stored, set(), cal, None) == []


def test_exchange_is_the_market_and_the_vendor_is_the_source():
    assert exchange_of(_ds("AAPL")) == "XNAS" and source_of(_ds("AAPL")) == "IQFeed"
    assert exchange_of(_ds("SPY", source="synthetic", venue="SIM")) == "XNYS"
    assert source_of(_ds("SPY", source="synthetic", venue="SIM")) == "synthetic"
    assert exchange_of(_ds("ESU4", source="dbn-trades", venue="GLBX.MDP3", asset_class="futures",
                           calendar="CMES")) == "CME"
    dbn = _ds("AAPL", source="dbn-trades", venue="XNAS.ITCH")
    assert exchange_of(dbn) == "XNAS" and source_of(dbn) == "Databento XNAS.ITCH"
    assert exchange_of(_ds("BTCUSDT", source="nautilus", venue="BINANCE", asset_class="crypto",
                           calendar="24/7")) == "BINANCE"
    assert exchange_of(_ds("ZZQX", source="csv", venue="")) == "XNYS"  # unknown listing: its calendar
    assert exchange_of(_ds("ZZQX", source="csv", venue="NASDAQ")) == "XNAS"


def test_specs_sort_numerically_and_keep_their_family_prefix_once():
    assert group_specs(["time:15m", "time:1m", "time:30s", "time:5m"]) == ["time:30s", "time:1m", "time:5m",
                                                                          "time:15m"]
    assert group_specs(["tick:50", "tick:5", "tick:20"]) == ["tick:5", "tick:20", "tick:50"]
    assert spec_label("time", "time:1m") == "1m" and full_spec("time", "1m") == "time:1m"
    assert full_spec("renko", "renko:0.25") == "renko:0.25"


def test_card_facts_read_the_catalog_rows_of_the_dataset(ctx):
    from tests.builders import store_synthetic

    store_synthetic(ctx, "AAPL", start="2024-07-01", end="2024-07-03", ticks=300)
    [ds] = ctx.catalog.datasets()
    rows = ctx.catalog.tick_days("AAPL")
    facts = card_facts(ctx.catalog, ctx.calendar(), ds)
    last = ctx.store.read_day("AAPL", "2024-07-03", columns=["last"])["last"]
    assert facts.price.last == float(last.iloc[-1]) == rows[-1].close  # the last stored trade
    assert facts.price.previous == rows[-2].close
    assert [s for _, s in facts.strip] == ["present"] * 3
    assert facts.frequency == "one-off"  # written in one go


def test_cards_facts_for_many_datasets_equal_one_by_one(ctx):
    from tests.builders import store_synthetic
    from tickdeck.core.dataset_cards import cards_facts

    store_synthetic(ctx, "AAPL", start="2024-07-01", end="2024-07-03", ticks=200)
    store_synthetic(ctx, "MSFT", start="2024-07-02", end="2024-07-05", ticks=200)
    ctx.catalog.upsert_dataset("NVDA", source="csv")  # no day yet
    cal = ctx.calendar()
    items = ctx.catalog.datasets()
    many = cards_facts(ctx.catalog, lambda d: cal, items)
    assert many == {d.symbol: card_facts(ctx.catalog, cal, d) for d in items}
    assert many["NVDA"].price.last is None and many["NVDA"].strip == ()
    assert [s for _, s in many["MSFT"].strip] == ["present"] * 3  # 2, 3 and 5 July: the 4th is a holiday
