"""IndicatorsPage without a browser: a real ctx (LMDB + SQLite) whose indicators library is filled by the
batch build of generated tick days (the real producer of stored history)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from builders import store_synthetic
from tickdeck.core import alerts
from tickdeck.core.indicators import store as istore
from tickdeck.core.indicators.build import build_indicators
from tickdeck.core.indicators.derived import METRICS
from tickdeck.pages.indicators import IndicatorsPage

DAYS = ("2024-07-01", "2024-07-02")


@pytest.fixture
def built(ctx):
    for i, sym in enumerate(("AAPL", "MSFT", "SPY")):
        store_synthetic(ctx, sym, *DAYS, seed=i, ticks=2000)
    build_indicators(ctx, *DAYS)
    return ctx


def test_page_shows_the_latest_stored_day_with_its_breadth_and_derived_metrics(built):
    """Issue 14: the day selector lists every day with stored indicators (latest first, shown by
    default); the breadth charts' sources hold the stored series and the latest-value strip its last row."""
    page = IndicatorsPage(ctx=built, autostart=False)
    assert page.day == DAYS[-1] and page.day_select.options == list(reversed(DAYS))
    local = istore.read_breadth(built, DAYS[-1], "local")
    src = page.sources["local"].data
    assert len(src["x"]) == len(local)
    np.testing.assert_array_equal(src["TICK.NYSE"], local["TICK.NYSE"].to_numpy())
    strip = page.breadth_latest.object
    last = local["TICK.NYSE"].iloc[-1]
    assert f"data-testid='v-TICK.NYSE-local' data-at='{local.index[-1].value}'>{last:,.0f}<" in strip
    assert not page.empty_pane.visible
    table = page.table.value
    assert list(table["symbol"]) == ["AAPL", "MSFT", "SPY"] and list(table.columns[1:]) == list(METRICS)
    assert "<svg" in table.loc[0, "vpin"] and "<polyline" in table.loc[0, "vpin"]

    page.day_select.value = DAYS[0]  # history of another day
    assert page.day == DAYS[0]
    assert len(page.sources["local"].data["x"]) == len(istore.read_breadth(built, DAYS[0], "local"))


def test_clicking_a_cell_charts_that_metric_over_the_day_in_the_chosen_window(built):
    page = IndicatorsPage(ctx=built, autostart=False)
    page._on_cell(SimpleNamespace(row=1, column="vwap_dev_bps"))
    assert (page.symbol, page.metric) == ("MSFT", "vwap_dev_bps")
    want = istore.read_derived(built, "MSFT", DAYS[-1], ["vwap_dev_bps"], "5min")["vwap_dev_bps.5min"].to_numpy()
    np.testing.assert_array_equal(page.sources["detail"].data["vwap_dev_bps.5min"], want)
    page.window = "1min"
    got = page.sources["detail"].data["vwap_dev_bps.1min"]
    assert np.array_equal(got, istore.read_derived(built, "MSFT", DAYS[-1], ["vwap_dev_bps"], "1min")
                          ["vwap_dev_bps.1min"].to_numpy(), equal_nan=True)


def test_an_empty_store_says_how_to_get_indicators_and_draws_no_chart(ctx):
    """Issue 14: nothing stored: no placeholder charts, the page says what to do."""
    import panel as pn

    page = IndicatorsPage(ctx=ctx, autostart=False)
    assert page.day == "" and page.empty_pane.visible
    assert "indicators" in page.empty_pane.object and "tickdeck indicators build" in page.empty_pane.object
    for box in (page.breadth_box, page.options_box, page.derived_box):
        assert not any(isinstance(o, pn.pane.Bokeh) for o in box.objects)
        assert "No " in box.objects[0].object
    assert "No indicators stored" in page.status_pane.object
    assert page.build_history() is None and "no job queue" in page.last_error


def test_build_button_submits_the_indicators_build_job_for_the_stored_tick_days(ctx):
    submitted = []

    class Jobs:
        def submit(self, kind, params=None, **kw):
            submitted.append((kind, params))
            return 7

    store_synthetic(ctx, "AAPL", *DAYS, ticks=500)
    page = IndicatorsPage(ctx=ctx, autostart=False, jobs=Jobs())
    assert page.build_button.visible
    assert page.build_history() == 7
    assert submitted == [("indicators_build", {"start": DAYS[0], "end": DAYS[1]})]


def test_rules_form_shows_validation_errors_and_adds_toggles_and_removes_rules(ctx):
    page = IndicatorsPage(ctx=ctx, autostart=False)
    panel = page.alerts
    panel.name_input.value, panel.watch_input.value = "tick high", "indicator:NOT_AN_INDICATOR"
    panel.threshold_input.value = "1000"
    assert panel.add_rule() is None
    assert "unknown indicator 'NOT_AN_INDICATOR'" in panel.last_error and panel.form_message.visible
    panel.watch_input.value = "indicator:TICK.NYSE"
    panel.threshold_input.value = "lots"
    assert panel.add_rule() is None and "threshold must be a number, got 'lots'" in panel.last_error

    panel.threshold_input.value = "1000"
    rule = panel.add_rule()
    assert rule is not None and panel.last_error == ""
    assert list(panel.rules_table.value["name"]) == ["tick high"]
    assert alerts.list_rules(ctx.catalog)[0].watch == "indicator:TICK.NYSE"

    panel.rules_table.selection = [0]
    panel.toggle_selected()
    assert alerts.list_rules(ctx.catalog)[0].active is False and list(panel.rules_table.value["active"]) == ["off"]
    panel.remove_selected()
    assert alerts.list_rules(ctx.catalog) == [] and panel.rules_table.value.empty
    panel.acknowledge_selected()
    assert "select a fired alert" in panel.last_error


def test_a_viewer_cannot_add_rules(ctx):
    from tickdeck.core.users import User

    page = IndicatorsPage(ctx=ctx, autostart=False, user=User("vic", "viewer"))
    panel = page.alerts
    panel.name_input.value, panel.watch_input.value, panel.threshold_input.value = "x", "indicator:TICK.NYSE", "1"
    assert panel.add_rule() is None and "researcher" in panel.last_error
    assert alerts.list_rules(ctx.catalog) == []
