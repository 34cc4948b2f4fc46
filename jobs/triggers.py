"""Market triggers: start live collection at the open, finalise the day at the close.

:meth:`MarketTriggers.check` is called every few seconds by the scheduler (or by a test with
a simulated clock). On a trading day, once the regular session has opened it submits a live
``collect`` job for the watchlist; once the regular session has closed (the calendar's close,
so 13:00 on early-close days) it submits a ``finalize`` job (collect the whole day, default
bars, validation, configured exports). Each fires at most once per trading day: the last
fired day is kept in ``system_config['triggers.state']`` so restarts do not fire twice.
Holidays and weekends fire nothing. A process that starts after the close does not start live
collection for that day but still finalises it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from core.backfill import watchlist
from core.calendar import ET
from core.naming import as_date, format_day

STATE_KEY = "triggers.state"


@dataclass(frozen=True)
class TriggerEvent:
    action: str  # open | close
    day: str
    at: str
    job_id: int | None


class MarketTriggers:
    """Open/close actions for the configured calendar.

    Parameters
    ----------
    queue
        A :class:`jobs.queue.JobQueue` (anything with ``submit(kind, params, priority=…, requested_by=…)``).
    clock
        Callable returning the current time; defaults to the wall clock (ET).
    """

    def __init__(self, ctx, queue, *, clock=None):
        self.ctx = ctx
        self.queue = queue
        self.clock = clock or (lambda: pd.Timestamp.now(tz=ET))

    def _state(self) -> dict:
        return dict(self.ctx.catalog.get_config(STATE_KEY, {}) or {})

    def check(self, now=None) -> list[TriggerEvent]:
        """Fire whatever is due at ``now``; returns what fired."""
        now = pd.Timestamp(now if now is not None else self.clock())
        now = now.tz_localize(ET) if now.tzinfo is None else now.tz_convert(ET)
        cal = self.ctx.calendar()
        day = as_date(now)
        if not cal.is_trading_day(day):
            return []
        b = cal.bounds(day)
        state, fired = self._state(), []
        key = format_day(day)
        symbols = watchlist(self.ctx)
        if b.open <= now < b.close and state.get("open") != key:
            jid = self.queue.submit("collect", {"mode": "live", "symbols": symbols, "day": key}, priority=0,
                                    requested_by="trigger:open") if symbols else None
            state["open"] = key
            fired.append(TriggerEvent("open", key, now.isoformat(), jid))
        if now >= b.close and state.get("close") != key:
            jid = self.queue.submit("finalize", {"symbols": symbols, "day": key, "early_close": b.early_close},
                                    priority=0, requested_by="trigger:close") if symbols else None
            state["close"] = key
            fired.append(TriggerEvent("close", key, now.isoformat(), jid))
        if fired:
            self.ctx.catalog.set_config(STATE_KEY, state)
            for ev in fired:
                self.ctx.bus.publish("jobs", {"trigger": ev.action, "day": ev.day, "job_id": ev.job_id}, type_="trigger")
        return fired
