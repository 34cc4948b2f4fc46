"""Page objects without a browser: a real ctx (LMDB + SQLite), synthetic days, the Viewer's data."""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pandas as pd
import pytest
from builders import store_synthetic

from tickdeck.core.errors import InvalidBarSpec, InvalidDateRange, NotFound, PermissionDenied
from tickdeck.core.users import User
from tickdeck.pages.components.actions import ui_action
from tickdeck.pages.components.charts import binned


@pytest.fixture
def stored(ctx):
    store_synthetic(ctx, "AAPL", "2024-07-01", "2024-07-03", ticks=3000)
    store_synthetic(ctx, "MSFT", "2024-07-01", "2024-07-02", ticks=3000)
    return ctx


def test_home_filters_by_text_source_dates_and_quality(stored):
    from tickdeck.pages.home import HomePage

    page = HomePage(ctx=stored)
    assert [d.symbol for d in page.datasets()] == ["AAPL", "MSFT"]
    page.search = "msf"
    assert [d.symbol for d in page.datasets()] == ["MSFT"]
    page.search = ""
    page.covers_from = dt.date(2024, 7, 3)
    assert [d.symbol for d in page.datasets()] == ["AAPL"]
    page.covers_from = None
    stored.catalog.set_quality("MSFT", "2024-07-01", 95.0)
    stored.catalog.set_quality("MSFT", "2024-07-02", 85.0)
    stored.catalog.set_quality("AAPL", "2024-07-01", 1.0)  # 1 of 100: poor, not a 100 % fraction
    page.min_quality = 80
    assert [d.symbol for d in page.datasets()] == ["MSFT"]
    page.min_quality = 1
    assert [d.symbol for d in page.datasets()] == ["AAPL", "MSFT"]
    assert page.param.source.objects == ["(all)", "synthetic"]


def test_home_venue_filter_and_search_use_the_exchange_the_cards_show(stored):
    from tickdeck.pages.home import HomePage

    stored.catalog.upsert_dataset("ESU4", source="dbn-trades", venue="GLBX.MDP3", asset_class="futures",
                                  calendar="CMES")
    page = HomePage(ctx=stored)
    assert page.param.venue.objects == ["(all)", "CME", "XNAS"]  # not the vendor's "SIM"
    page.venue = "XNAS"
    assert [d.symbol for d in page.datasets()] == ["AAPL", "MSFT"]
    page.venue = "(all)"
    page.search = "cme"
    assert [d.symbol for d in page.datasets()] == ["ESU4"]
    html = page._cards()[0].object  # a dataset with no day yet still gets a card, on its exchange
    assert 'data-symbol="ESU4"' in html and ">CME</span>" in html and "Databento GLBX.MDP3" in html


def test_home_cards_update_in_one_batch_after_day_written_events(stored):
    from tickdeck.pages.home import HomePage

    page = HomePage(ctx=stored)
    page.start_live()
    rev = page.revision
    store_synthetic(stored, "NVDA", "2024-07-01", "2024-07-02", ticks=500)  # publishes day_written twice
    assert page.flush() == 1
    assert page.revision == rev + 1
    assert "NVDA" in [d.symbol for d in page.datasets()]
    assert page.flush() == 0  # nothing new: no re-render
    page.stop_live()


def test_explorer_loads_ticks_filters_sessions_and_names_exports(stored):
    from tickdeck.pages.explorer import ExplorerPage

    page = ExplorerPage(ctx=stored, symbol="AAPL", start=dt.date(2024, 7, 2))
    assert page.loaded.kind == "ticks" and page.last_error == ""
    n_all = len(page.loaded.frame)
    page.session = "regular"
    page.refresh()
    assert len(page.loaded.frame) == 3000 < n_all
    assert page._grid_holder.objects == []  # the grid is built only when its tab is opened
    page.tab = "table"
    assert page._grid_holder.objects[0].pagination == "remote"
    assert page.export_filename() == "AAPL_2024-07-02_regular_ticks.csv"
    csv = page.export_bytes().getvalue().decode()
    assert csv.count("\n") == 3001 and csv.startswith("timestamp,")
    page.export_format = "parquet"
    df = pd.read_parquet(io.BytesIO(page.export_bytes().getvalue()))
    assert len(df) == 3000 and "trade_sign" in df.columns
    entry = stored.catalog.audit_log()[0]
    assert (entry.actor, entry.action, entry.details["rows"]) == ("local", "export", 3000)


def test_explorer_refuses_export_to_a_viewer_and_reports_bad_ranges(stored):
    from tickdeck.pages.explorer import ExplorerPage

    page = ExplorerPage(ctx=stored, symbol="AAPL", user=User("vic", "viewer"))
    with pytest.raises(PermissionDenied, match="researcher role; vic is a viewer"):
        page.export_bytes()
    page.end = dt.date(2024, 7, 1)
    page.refresh()
    assert "before start" in page.last_error and page.loaded is None
    with pytest.raises(InvalidDateRange):
        page.load()
    page.param.update(start=dt.date(2024, 7, 6), end=None)
    page.refresh()
    assert "no ticks stored for AAPL" in page.last_error


def test_explorer_bar_view_shows_bars_and_names_a_bad_spec(stored):
    from tickdeck.pages.explorer import ExplorerPage

    page = ExplorerPage(ctx=stored, symbol="AAPL", view="bars", bar_spec="time:60s", sma=5)
    assert page.loaded.kind == "bars" and len(page.loaded.frame) > 100, page.last_error
    page.bar_spec = "nonsense:??"
    page.refresh()
    assert page.loaded is None and "invalid bar spec 'nonsense:??'" in page.last_error
    with pytest.raises(InvalidBarSpec):
        page.load()


def test_explorer_family_menu_fills_in_cores_default_spec_for_the_day(stored):
    """Issue 12: per-family default specs come from tickdeck.core.bars.registry, scaled to the shown day."""
    from tickdeck.core.bars import build_default_bars, default_specs
    from tickdeck.core.bars.registry import family_default
    from tickdeck.pages.explorer import ExplorerPage

    page = ExplorerPage(ctx=stored, symbol="AAPL", start=dt.date(2024, 7, 2))
    page._family.value = "tick"
    row = stored.catalog.tick_days("AAPL", "2024-07-02", "2024-07-02")[0]
    assert page.bar_spec == str(family_default("tick", row)) and page.view == "bars"
    assert family_default("tick", row) in default_specs(row)  # one of the series built for stored days
    built = {r.spec for r in build_default_bars(stored, "AAPL", "2024-07-02")}
    assert str(family_default("tick", row)) in built
    assert page.loaded is not None and page.loaded.kind == "bars", page.last_error


def test_explorer_download_is_written_by_core_export(stored, tmp_path):
    """Issue 12: the explorer's file is byte-for-byte what tickdeck.core.export writes for the same selection."""
    from tickdeck.core.export import ExportRequest, export
    from tickdeck.pages.explorer import ExplorerPage

    page = ExplorerPage(ctx=stored, symbol="AAPL", start=dt.date(2024, 7, 2), session="regular")
    got = page.export_bytes().getvalue()
    out = tmp_path / "ref.csv"
    export(stored, ExportRequest(("AAPL",), "2024-07-02", "2024-07-02", out, session="regular", format="csv"))
    assert got == out.read_bytes()
    page.param.update(view="bars", bar_spec="time:5m")
    page.refresh()
    page.export_format = "parquet"
    bars = pd.read_parquet(io.BytesIO(page.export_bytes().getvalue()))
    assert len(bars) == len(page.loaded.frame) and set(bars["symbol"]) == {"AAPL"}


def test_catalog_page_tree_and_missing_day(stored):
    from tickdeck.pages.catalog_page import CatalogPage

    stored.store.delete_day("AAPL", "2024-07-02")
    stored.catalog.delete_tick_day("AAPL", "2024-07-02")
    page = CatalogPage(ctx=stored, symbol="AAPL")
    tree = page.tree()
    assert set(tree["XNAS"]) == {"AAPL", "MSFT"}  # the exchange, not the vendor's "SIM"
    assert tree["XNAS"]["AAPL"]["ticks"][0] == 2
    states = page.day_states()
    assert states[dt.date(2024, 7, 2)] == "missing" and states[dt.date(2024, 7, 3)] == "present"
    assert 'data-symbol="MSFT"' in page.tree_html()


def test_ui_action_turns_errors_into_messages(caplog):
    class P:
        last_error = ""

        @ui_action
        def bad(self):
            raise NotFound("no such day")

        @ui_action
        def crash(self):
            raise RuntimeError("boom")

    p = P()
    assert p.bad() is None and p.last_error == "no such day"
    p.crash()
    assert p.last_error.startswith("internal error, id ")
    assert "boom" in caplog.text


def test_binning_matches_pandas_resample():
    t = pd.date_range("2024-07-01 09:30", periods=10_000, freq="1s").values
    v = np.random.default_rng(1).random(10_000)
    starts, (mx, sm) = binned(t, None, 100, (v, "max"), (v, "sum"))
    assert len(starts) == 100
    assert np.isclose(sm.sum(), v.sum())
    assert np.isclose(mx.max(), v.max())
    lo, hi = pd.Timestamp("2024-07-01 10:00"), pd.Timestamp("2024-07-01 10:10")
    starts, (sm,) = binned(t, (lo, hi), 10, (v, "sum"))
    assert starts[0] == np.datetime64(lo) and np.isclose(sm.sum(), v[1800:2401].sum())
