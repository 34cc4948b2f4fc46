"""The demo's emulated clock is inside a trading session whatever the date, its history days are
complete days before it, and scripts/demo.sh only uses commands and options that exist."""

from __future__ import annotations

import datetime as dt
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from tickdeck.app.cli import main as tickdeck_main
from tickdeck.core.calendar import get_calendar
from tickdeck.core.demo_clock import demo_clock, main
from tickdeck.core.errors import ConfigError
from tickdeck.core.indicators.catalog import feed_statistics

ROOT = Path(__file__).resolve().parents[3]
XNYS = get_calendar("XNYS")


@pytest.mark.parametrize("today, day", [
    ("2024-07-06", "2024-07-05"),  # Saturday -> Friday
    ("2024-07-07", "2024-07-05"),  # Sunday -> Friday
    ("2024-07-04", "2024-07-03"),  # Independence Day -> the early-close day before it
    ("2024-12-25", "2024-12-24"),  # Christmas -> Christmas Eve (early close)
    ("2024-11-28", "2024-11-27"),  # Thanksgiving
    ("2024-07-08", "2024-07-08"),  # a Monday is its own demo day
])
def test_the_clock_is_inside_the_regular_session_of_the_latest_trading_day(today, day):
    clock = demo_clock(today, days=5)
    assert clock.day == dt.date.fromisoformat(day)
    assert XNYS.session_of(clock.now) == "regular"
    assert clock.now.time() == dt.time(9, 45)


def test_history_is_the_complete_trading_days_before_the_demo_day():
    clock = demo_clock("2024-07-07", days=5)
    assert clock.day == dt.date(2024, 7, 5)
    assert clock.history == (dt.date(2024, 6, 27), dt.date(2024, 6, 28), dt.date(2024, 7, 1),
                             dt.date(2024, 7, 2), dt.date(2024, 7, 3))
    assert all(XNYS.is_trading_day(d) for d in clock.history)
    # every history day's extended session has ended by the emulated clock: none is cut short
    assert XNYS.last_completed_trading_day(clock.now) == clock.history[-1]
    with pytest.raises(ConfigError, match="at least 1 day"):
        demo_clock("2024-07-07", days=0)


def test_shell_assignments_round_trip_through_bash(capsys):
    assert main(["--today", "2024-07-06", "--days", "3"]) == 0
    out = capsys.readouterr().out
    echo = subprocess.run(["bash", "-c", out + 'printf "%s|%s|%s|%s" "$DEMO_NOW" "$DEMO_START" "$DEMO_END" '
                                              '"$DEMO_STATISTICS"'], capture_output=True, text=True, check=True)
    now, start, end, stats = echo.stdout.split("|")
    assert (now, start, end) == ("2024-07-05 09:45:00", "2024-07-01", "2024-07-03")
    assert stats.split(",") == list(feed_statistics()) and stats.split(",")[0].endswith(".Z")


def test_demo_script_parses_and_every_tickdeck_command_it_runs_accepts_its_options(capsys):
    script = (ROOT / "scripts" / "demo.sh").read_text()
    subprocess.run(["bash", "-n", str(ROOT / "scripts" / "demo.sh")], check=True)
    assert "tickdeck.core.demo_clock" in script and '--now "$DEMO_NOW"' in script
    for svc in ("live", "indicators", "alerts"):
        assert re.search(rf"tickdeck service start {svc}\b", script), svc
    # each `$BIN/tickdeck VERB [SUBVERB] --opt …` line: the verb's --help lists every option used
    lines = re.sub(r"\\\n\s*", " ", script).splitlines()
    calls = [line.split("$BIN/tickdeck", 1)[1] for line in lines if "$BIN/tickdeck " in line]
    assert len(calls) >= 8, calls
    for call in calls:
        words = shlex.split(call.split("#")[0].split(">")[0], posix=True)
        verb = [w for w in words[:2] if not w.startswith("-") and not w.startswith("$")]
        if verb and verb[0] in ("collect", "serve", "catalog"):
            verb = verb[:1]
        options = {w.split("=")[0] for w in words if w.startswith("--")}
        with pytest.raises(SystemExit) as done:  # the command's own parser, in this process
            tickdeck_main([*verb, "--help"])
        shown = capsys.readouterr()
        assert done.value.code == 0, (verb, shown.err)
        missing = {o for o in options if o not in shown.out}
        assert not missing, (verb, missing)
