"""The clock ``make demo`` runs its IQFeed emulator on, so that live pages move at any hour.

At night, on a weekend or a holiday a real-time emulator has no trades to stream: live collection
sits at 0 ticks. The demo instead starts the emulator (``tickdeck iqfeed-sim --now``) inside a
trading session: the most recent trading day of the calendar on or before today (ET) at 09:45,
15 minutes into the regular session, running at real speed from there. The history the demo
collects is the ``days`` complete trading days before that day, so no collected day is cut short
by the emulated clock (ticks after it do not exist yet).

:func:`market_now` is that emulated clock as the server sees it (``TICKDECK_DEMO_NOW``, ``_SPEED``,
``_STARTED``, exported by ``scripts/demo.sh`` when it starts the emulator): the monitor's session badge
and countdown follow it, so the demo shows the session its feed is in, not the wall clock's "Closed".

``python -m tickdeck.core.demo_clock [--days N] [--today YYYY-MM-DD]`` prints the choice as shell
assignments for ``scripts/demo.sh``: ``DEMO_NOW``, ``DEMO_START``, ``DEMO_END`` and
``DEMO_STATISTICS`` (the DTN statistic symbols of the indicator catalog, which live collection
subscribes to beside the watchlist so the breadth indicators are fed).
"""

from __future__ import annotations

import argparse
import datetime as dt
import shlex
import sys
import time
from dataclasses import dataclass

import pandas as pd

from tickdeck.core.calendar import ET, get_calendar
from tickdeck.core.errors import ConfigError
from tickdeck.core.naming import as_date

SESSION_TIME = dt.time(9, 45)  # ET: inside the regular session of every day, early closes included


@dataclass(frozen=True)
class DemoClock:
    now: dt.datetime  # naive ET: where the emulated clock starts
    history: tuple[dt.date, ...]  # complete trading days before ``now``'s day, oldest first

    @property
    def day(self) -> dt.date:
        return self.now.date()


def demo_clock(today=None, *, days: int = 5, at: dt.time = SESSION_TIME, calendar: str = "XNYS") -> DemoClock:
    """The demo's emulated start time and the history days to collect before it.

    Raises
    ------
    ConfigError
        ``days`` below 1, or no trading day on or before ``today`` in the calendar.
    """
    if days < 1:
        raise ConfigError("DEMO_DAYS", f"the demo collects at least 1 day, got {days}")
    cal = get_calendar(calendar)
    today = as_date(today) if today is not None else pd.Timestamp.now(tz=ET).date()
    sessions = cal.previous_trading_days(today, days + 1)
    if len(sessions) < 2:
        raise ConfigError("calendar", f"{cal.name} has no trading day on or before {today} to run the demo in")
    day, history = sessions[-1], tuple(sessions[:-1])
    return DemoClock(dt.datetime.combine(day, at), history)


def market_now(settings, wall: float | None = None) -> pd.Timestamp | None:
    """The demo feed's emulated time (tz-aware ET) at epoch ``wall`` (default now), or None without one.

    The clock starts at ``settings.demo_now`` when ``settings.demo_started`` and runs ``demo_speed``×,
    as the emulator's does (``tickdeck iqfeed-sim --now --speed``).

    Raises
    ------
    ConfigError
        ``demo_now`` is not a date and time.
    """
    if not getattr(settings, "demo_now", ""):
        return None
    try:
        start = pd.Timestamp(settings.demo_now)
    except ValueError as e:
        raise ConfigError("TICKDECK_DEMO_NOW", f"not a date and time: {settings.demo_now!r}") from e
    start = start.tz_localize(ET) if start.tzinfo is None else start.tz_convert(ET)
    wall = time.time() if wall is None else wall
    return start + pd.Timedelta(seconds=max(wall - settings.demo_started, 0.0) * settings.demo_speed)


def _shell(clock: DemoClock) -> str:
    from tickdeck.core.indicators.catalog import feed_statistics

    values = {"DEMO_NOW": f"{clock.now:%Y-%m-%d %H:%M:%S}", "DEMO_START": clock.history[0].isoformat(),
              "DEMO_END": clock.history[-1].isoformat(), "DEMO_STATISTICS": ",".join(feed_statistics())}
    return "".join(f"{k}={shlex.quote(v)}\n" for k, v in values.items())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tickdeck.core.demo_clock", description=__doc__.split("\n\n")[0])
    p.add_argument("--days", type=int, default=5, help="history days to collect before the demo day")
    p.add_argument("--today", default=None, help="ET date to count back from (default: today)")
    args = p.parse_args(argv)
    sys.stdout.write(_shell(demo_clock(args.today, days=args.days)))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
