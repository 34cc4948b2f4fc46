"""Market triggers: start live collection at the open, finalise the day at the close, stop
live collection after the extended session.

:meth:`MarketTriggers.check` is called every few seconds by the scheduler (or by a test with
a simulated clock). On a trading day, once the regular session has opened it asks for the
``live`` *service* (:mod:`core.services`) to run for the watchlist's IQFeed datasets — a
service, not a job, so it takes no worker slot and batch jobs keep running beside it — and the
``indicators`` service (:mod:`core.indicators.service`) beside it; once the regular session has
closed (the calendar's close, so 13:00 on early-close days) it submits a ``finalize`` job
(collect the whole day, default bars, validation, configured exports); once the extended
session has ended (plus :data:`core.live_service.STOP_GRACE_S` for late prints) it stops the
live and indicators services if a trigger started them (one started by hand keeps running). Each fires
at most once per trading day: the last fired day is kept in ``system_config['triggers.state']``
so restarts do not fire twice. Holidays and weekends fire nothing. A process that starts after
the close does not start live collection for that day but still finalises it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from tickdeck.core.backfill import feed_symbols
from tickdeck.core.calendar import ET
from tickdeck.core.demo_clock import market_now
from tickdeck.core.events import TriggerFired
from tickdeck.core.live_service import STOP_GRACE_S
from tickdeck.core.naming import as_date, format_day
from tickdeck.core.services import ServiceControl

STATE_KEY = "triggers.state"
LIVE = "live"  # the service the open starts
INDICATORS = "indicators"  # started with it (computes the indicators from its ticks), stopped with it


@dataclass(frozen=True)
class TriggerEvent:
    action: str  # open | close | end
    day: str
    at: str
    job_id: int | None
    service: str | None = None  # the service started (open) or stopped (end)


class MarketTriggers:
    """Open/close/end actions for the configured calendar.

    Parameters
    ----------
    queue
        A :class:`jobs.queue.JobQueue` (anything with ``submit(kind, params, priority=…, requested_by=…)``).
    clock
        Callable returning the current time; defaults to the demo feed's emulated clock when one is
        configured (``TICKDECK_DEMO_NOW``, :func:`core.demo_clock.market_now`), as freshness and the
        pages follow it, else the wall clock (ET).
    services
        A :class:`core.services.ServiceControl` (default: one on ``ctx``).
    """

    def __init__(self, ctx, queue, *, clock=None, services: ServiceControl | None = None):
        self.ctx = ctx
        self.queue = queue
        self.clock = clock or (lambda: market_now(getattr(ctx, "settings", None)) or pd.Timestamp.now(tz=ET))
        self.services = services or ServiceControl(ctx)

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
        if b.open <= now < b.close and state.get("open") != key:
            symbols = feed_symbols(self.ctx)
            started = None
            if symbols and self.services.desired(LIVE).state != "running":
                self.services.start(LIVE, by="trigger:open", params={"symbols": symbols, "day": key})
                started = LIVE
            if symbols and self.services.desired(INDICATORS).state != "running":
                self.services.start(INDICATORS, by="trigger:open", params={"day": key})
            state["open"] = key
            fired.append(TriggerEvent("open", key, now.isoformat(), None, started))
        if now >= b.close and state.get("close") != key:
            symbols = feed_symbols(self.ctx)
            jid = self.queue.submit("finalize", {"symbols": symbols, "day": key, "early_close": b.early_close},
                                    priority=0, requested_by="trigger:close") if symbols else None
            state["close"] = key
            fired.append(TriggerEvent("close", key, now.isoformat(), jid))
        if now >= b.after_close + pd.Timedelta(seconds=STOP_GRACE_S) and state.get("end") != key:
            want = self.services.desired(LIVE)
            if want.state == "running" and want.requested_by.startswith("trigger:"):
                self.services.stop(LIVE, by="trigger:end")
                fired.append(TriggerEvent("end", key, now.isoformat(), None, LIVE))
            ind = self.services.desired(INDICATORS)
            if ind.state == "running" and ind.requested_by.startswith("trigger:"):
                self.services.stop(INDICATORS, by="trigger:end")
            state["end"] = key
        if state != self._state():
            self.ctx.catalog.set_config(STATE_KEY, state)
        for ev in fired:
            self.ctx.bus.publish(TriggerFired(action=ev.action, day=ev.day, at=ev.at, job_id=ev.job_id))
        return fired
