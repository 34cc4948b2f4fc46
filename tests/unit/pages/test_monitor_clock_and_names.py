"""The monitor's session badge follows the demo feed's emulated clock, and collections are named alike."""

from __future__ import annotations

import pandas as pd
import pytest

from tickdeck.core.config import Settings
from tickdeck.core.demo_clock import market_now
from tickdeck.core.errors import ConfigError
from tickdeck.pages.monitor import collection_label


def test_market_now_runs_from_the_demo_start_at_its_speed(tmp_path):
    s = Settings.from_env({"TICKDECK_DATA_DIR": str(tmp_path), "TICKDECK_DEMO_NOW": "2024-07-03 09:45:00",
                           "TICKDECK_DEMO_SPEED": "60", "TICKDECK_DEMO_STARTED": "1000"})
    assert market_now(s, wall=1000) == pd.Timestamp("2024-07-03 09:45", tz="America/New_York")
    assert market_now(s, wall=1010) == pd.Timestamp("2024-07-03 09:55", tz="America/New_York")  # 10 s at 60×


def test_without_a_demo_clock_the_wall_clock_is_used(tmp_path):
    assert market_now(Settings.from_env({"TICKDECK_DATA_DIR": str(tmp_path)})) is None


def test_a_bad_demo_time_names_the_variable(tmp_path):
    s = Settings.from_env({"TICKDECK_DATA_DIR": str(tmp_path), "TICKDECK_DEMO_NOW": "soon"})
    with pytest.raises(ConfigError, match="TICKDECK_DEMO_NOW"):
        market_now(s)


def test_session_badge_on_the_demo_clock(tmp_path):
    from tickdeck.core.context import Context
    from tickdeck.pages.monitor import MonitorPage

    s = Settings.from_env({"TICKDECK_DATA_DIR": str(tmp_path), "TICKDECK_DEMO_NOW": "2024-07-03 10:00:00"})
    ctx = Context.open(s)
    try:
        page = MonitorPage(ctx=ctx, autostart=False)
        assert "Market: Regular session" in page.session_pane.object  # a Wednesday at 10:00 ET
        page.mode = "live"
        assert not page.days_input.visible and page.mode_input.value == "live"
        page.mode = "history"
        assert page.days_input.visible
    finally:
        ctx.close()


def test_collections_are_named_alike():
    assert collection_label(["AAPL"], "live", "since 09:30") == "AAPL live since 09:30"
    assert collection_label(["AAPL", "MSFT"], "history", "since 10:02") == "AAPL, MSFT history since 10:02"
