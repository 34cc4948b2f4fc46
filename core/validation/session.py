"""Session-alignment validator: are the ticks where the calendar says trading happens?

Checks (codes in brackets):

* ticks per session (pre / regular / after) — metrics only;
* ticks outside the extended window 04:00–20:00 ET (or the calendar's open–close) [OUTSIDE_HOURS];
* ticks on a day the calendar says is closed [NON_TRADING_DAY];
* a trading day with no regular-session trade [NO_REGULAR_TRADES];
* on an early-close day, trades marked as regular (last_type ``C``) between the early close and
  16:00 [REGULAR_AFTER_EARLY_CLOSE];
* the first regular trade more than ``open_tolerance_s`` after the open [LATE_FIRST_TRADE] and the
  last more than ``close_tolerance_s`` before the close [EARLY_LAST_TRADE].
"""

from __future__ import annotations

import numpy as np

from tickdeck.core.validation.result import (CRITICAL, HIGH, LOW, MEDIUM, DayData, Issue, ValidationResult, ts_iso)

NAME = "session"
CHECKS = ("session_counts", "outside_hours", "non_trading_day", "regular_trades", "early_close",
          "first_last_regular_trade")
OUTSIDE_HIGH_SHARE = 0.01  # more than 1% of the day outside the window is a feed/timezone problem, not noise


def validate_session(data: DayData, config) -> ValidationResult:
    """Run the session-alignment checks on one day.

    Parameters
    ----------
    data
        The day's columns (see :func:`tickdeck.core.validation.service.load_day`).
    config
        :class:`core.validation.rules.ValidationConfig` (tolerances).
    """
    cal, n = data.calendar, data.n
    # one pass per code rather than an int64 copy of the column (40 MB for a 5,000,000-tick day)
    counts = [int(np.count_nonzero(data.session == code)) for code in (-1, 0, 1, 2)]
    metrics = {"ticks": n, "outside_ticks": int(counts[0]), "pre_ticks": int(counts[1]),
               "regular_ticks": int(counts[2]), "after_ticks": int(counts[3]), "calendar": cal.name}
    issues: list[Issue] = []
    if n == 0:
        issues.append(Issue(NAME, HIGH, "EMPTY_DAY", "The stored day holds no ticks; re-collect it."))
        return ValidationResult.build(NAME, data.symbol, data.day, CHECKS, issues, metrics)

    trading = cal.is_trading_day(data.day)
    metrics["trading_day"] = trading
    if not trading:
        name = cal.holiday_name(data.day) or "weekend/closed"
        issues.append(Issue(
            NAME, HIGH, "NON_TRADING_DAY",
            f"{data.day} is not a {cal.name} trading day ({name}) but {n:,} ticks are stored under it; "
            "check the day assignment of the source (the ticks may belong to the next session) and re-import.",
            ts_iso(data.ns[0]), ts_iso(data.ns[-1]), n, data.example_rows([0, n - 1])))

    outside = np.flatnonzero(data.session < 0)
    if outside.size:
        share = outside.size / n
        window = "04:00–20:00 ET" if cal.extended_hours else f"the {cal.name} session"
        issues.append(Issue(
            NAME, HIGH if share > OUTSIDE_HIGH_SHARE else MEDIUM, "OUTSIDE_HOURS",
            f"{outside.size:,} ticks ({share:.1%}) fall outside {window}; if the share is large the "
            "timestamps are probably in the wrong timezone — see the timezone report — otherwise drop them.",
            ts_iso(data.ns[outside[0]]), ts_iso(data.ns[outside[-1]]), int(outside.size),
            data.example_rows(outside)))

    if not trading:
        return ValidationResult.build(NAME, data.symbol, data.day, CHECKS, issues, metrics)

    b = cal.bounds(data.day)
    is_reg = data.session == 1
    first_reg = int(np.argmax(is_reg))
    reg = np.array([first_reg, n - 1 - int(np.argmax(is_reg[::-1]))]) if is_reg[first_reg] else np.empty(0, int)
    del is_reg  # the first and last regular ticks are all that is used
    if reg.size == 0:
        issues.append(Issue(NAME, CRITICAL, "NO_REGULAR_TRADES",
                            f"No trade in the regular session {b.open:%H:%M}–{b.close:%H:%M} of a trading day; "
                            "the collection probably stopped early or the wrong day was fetched — re-collect.",
                            rows=n))
    else:
        first, last = int(data.ns[reg[0]]), int(data.ns[reg[-1]])
        metrics["first_regular"], metrics["last_regular"] = ts_iso(first), ts_iso(last)
        late = (first - b.open.value) / 1e9
        early = (b.close.value - last) / 1e9
        metrics["first_regular_delay_s"], metrics["last_regular_lead_s"] = round(late, 3), round(early, 3)
        if late > config.open_tolerance_s:
            issues.append(Issue(NAME, MEDIUM, "LATE_FIRST_TRADE",
                                f"First regular trade at {ts_iso(first)}, {late:,.0f} s after the {b.open:%H:%M} open; "
                                "the start of the session is probably missing — backfill it.",
                                ts_iso(b.open.value), ts_iso(first), 0, data.example_rows(reg[:1])))
        if early > config.close_tolerance_s:
            issues.append(Issue(NAME, MEDIUM, "EARLY_LAST_TRADE",
                                f"Last regular trade at {ts_iso(last)}, {early:,.0f} s before the "
                                f"{b.close:%H:%M} close; the end of the session is probably missing — backfill it.",
                                ts_iso(last), ts_iso(b.close.value), 0, data.example_rows(reg[-1:])))

    if b.early_close and cal.extended_hours:
        four_pm = b.close.normalize() + np.timedelta64(16, "h")
        window = (data.ns >= b.close.value) & (data.ns < four_pm.value)
        bad = np.flatnonzero(window & (data.last_type == ord("C")))
        metrics["ticks_between_early_close_and_16"] = int(window.sum())
        if bad.size:
            issues.append(Issue(NAME, HIGH, "REGULAR_AFTER_EARLY_CLOSE",
                                f"{bad.size:,} trades marked regular (last_type C) after the "
                                f"{b.close:%H:%M} early close; the source ignores the half-day schedule — "
                                "check the calendar and re-collect.",
                                ts_iso(data.ns[bad[0]]), ts_iso(data.ns[bad[-1]]), int(bad.size),
                                data.example_rows(bad)))
    if metrics.get("pre_ticks", 0) == 0 and cal.extended_hours and trading:
        issues.append(Issue(NAME, LOW, "NO_PRE_MARKET", "No pre-market trades stored; fine for illiquid "
                            "symbols, otherwise check that the collection requested extended hours."))
    return ValidationResult.build(NAME, data.symbol, data.day, CHECKS, issues, metrics)
