import datetime as dt
import subprocess
import sys

import pytest

from tickdeck.core import naming
from tickdeck.core.config import Settings
from tickdeck.core.errors import ConfigError, InvalidSymbol


def test_settings_defaults_are_embedded(tmp_path):
    s = Settings.from_env({"TICKDECK_DATA_DIR": str(tmp_path)})
    assert s.arctic_uri == f"lmdb://{tmp_path.resolve() / 'arctic'}"
    assert s.sql_url == f"sqlite:///{tmp_path.resolve() / 'tickdeck.db'}"
    assert s.redis_url == ""
    assert (s.feed_host, s.feed_port_history, s.feed_port_l1) == ("127.0.0.1", 9100, 5009)


def test_settings_read_every_variable(tmp_path):
    env = {"TICKDECK_DATA_DIR": str(tmp_path), "TICKDECK_ARCTIC_URI": "lmdb:///x/y",
           "TICKDECK_SQL_URL": "postgresql+psycopg://u@h/db", "TICKDECK_REDIS_URL": "redis://h:1/0",
           "TICKDECK_FEED_HOST": "10.0.0.5", "TICKDECK_FEED_PORT_HISTORY": "19100",
           "TICKDECK_FEED_PORT_L1": "15009", "TICKDECK_CALENDAR": "CMES"}
    s = Settings.from_env(env)
    assert (s.arctic_uri, s.sql_url, s.redis_url) == ("lmdb:///x/y", "postgresql+psycopg://u@h/db", "redis://h:1/0")
    assert (s.feed_host, s.feed_port_history, s.feed_port_l1, s.calendar) == ("10.0.0.5", 19100, 15009, "CMES")


@pytest.mark.parametrize("var,value", [("TICKDECK_FEED_PORT_L1", "abc"), ("TICKDECK_FEED_PORT_HISTORY", "70000"),
                                       ("TICKDECK_SQL_URL", "not-a-url"), ("TICKDECK_REDIS_URL", "http://x"),
                                       ("TICKDECK_ARCTIC_URI", "/no/scheme")])
def test_invalid_setting_names_the_variable(var, value):
    with pytest.raises(ConfigError) as e:
        Settings.from_env({var: value})
    assert str(e.value).startswith(var)


def test_unreachable_sql_url_is_one_line_error_naming_variable(tmp_path):
    env = {"TICKDECK_DATA_DIR": str(tmp_path), "TICKDECK_SQL_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
           "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-m", "tickdeck", "catalog"], env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "TICKDECK_SQL_URL" in lines[0]


@pytest.mark.parametrize("ticker,day", [("AAPL", dt.date(2024, 7, 1)), ("BRK.B", dt.date(2023, 12, 29)),
                                        ("ES=F", dt.date(2024, 1, 2)), ("JTNT.Z", dt.date(2024, 2, 29))])
def test_tick_symbol_round_trips(ticker, day):
    assert naming.parse_tick_symbol(naming.tick_symbol(ticker, day)) == (ticker, day)


def test_bar_symbol_and_library_round_trip():
    name = naming.bar_symbol("msft", "2024-07-01", "60s")
    assert name == "MSFT/2024-07-01/60s"
    assert naming.parse_bar_symbol(name) == ("MSFT", dt.date(2024, 7, 1), "60s")
    assert naming.parse_bar_library(naming.bar_library("tick_imbalance")) == "tick_imbalance"


@pytest.mark.parametrize("bad", ["", "a/b", "TOO LONG NAME", "-X", "x" * 40])
def test_invalid_tickers_are_rejected(bad):
    with pytest.raises(InvalidSymbol):
        naming.normalize_ticker(bad)


def test_core_does_not_import_ui_libraries():
    code = ("import sys, tickdeck.core.store, tickdeck.core.catalog, tickdeck.core.enrich, tickdeck.core.ingest;"
            "import tickdeck.core.context, tickdeck.core.sources.synthetic;"
            "bad=[m for m in ('panel','bokeh','holoviews','datashader','tickdeck.app','tickdeck.pages','tickdeck.jobs')"
            " if m in sys.modules];"
            "print(','.join(bad))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ""


def test_date_range_accepts_dates_and_strings_and_rejects_reversed_ranges():
    from tickdeck.core.errors import InvalidDateRange

    assert naming.date_range("2024-07-01", dt.date(2024, 7, 3)) == (dt.date(2024, 7, 1), dt.date(2024, 7, 3))
    with pytest.raises(InvalidDateRange, match="end 2024-07-01 is before start 2024-07-03"):
        naming.date_range("2024-07-03", "2024-07-01")


def test_journal_symbol_round_trips_and_rejects_bad_segments():
    name = naming.journal_symbol("2024-07-03", "4242-1732190000123456789")
    assert name == "2024-07-03/4242-1732190000123456789"
    key = naming.parse_journal_symbol(name)
    assert key == (dt.date(2024, 7, 3), "4242-1732190000123456789")
    assert (key.pid, key.created_ns) == (4242, 1732190000123456789)
    with pytest.raises(InvalidSymbol):
        naming.journal_symbol("2024-07-03", "1732190000123456789")  # no writer pid
    with pytest.raises(InvalidSymbol):
        naming.parse_journal_symbol("AAPL/2024-07-03")
