"""Alert evaluation: :class:`AlertEngine`, a pure evaluator of :mod:`tickdeck.core.alert_rules` rules over typed events.

The engine is fed bus messages (or bare events) and returns the :class:`Firing` objects they
cause; it stores nothing and sends nothing (the alerts service, :mod:`core.alert_service`, does).
Rules, their SQL rows, history and acknowledgement are in :mod:`core.alert_store` (its verbs —
``add_rule``, ``list_rules``, ``remove_rule``, ``set_active``, ``history``, ``acknowledge`` — are
importable from here too).

Series
------
One rule may watch several series (``quality:*`` watches every symbol-day, ``feed:latency`` every
feed client, ``indicator:TICK.NYSE`` its feed and local values); each series keeps its own state:
its previous value, whether the condition holds, the time it last fired and, for ``change_pct``,
the samples of its window.

Firing
------
* ``above`` / ``below`` fire when the condition starts to hold — the first value above the
  threshold fires, the next ones do not until the value has gone back to or below it;
* ``crosses_up`` / ``crosses_down`` fire only when a previous value was on the other side
  (a first value never fires);
* ``change_pct`` compares a value with the latest value at least ``window_s`` older (none yet:
  nothing fires) and fires when the change in percent starts to reach ``threshold`` (a
  negative threshold: falls of that size);
* ``cooldown_s``: a firing of a series within the cooldown of its last firing is suppressed;
  the crossing is spent (one firing per crossing);
* inactive rules never fire; NaN values (not defined yet) are skipped.

Time comes from the events (``IndicatorUpdate.at``, ``StatisticUpdated.at``,
``FeedStatusChanged.updated_at``), else the message's publish time, else the injected
``clock``; ``feed:stale`` is measured on the injected clock (a simulated clock in tests, the
emulator's own). The engine never reads the wall clock itself.
"""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass, field
from typing import Callable, Iterable

import pandas as pd

from tickdeck.core.alert_rules import AlertRule, AlertRuleError, Watch, parse_watch, validate_rule  # noqa: F401
from tickdeck.core.alert_store import (  # noqa: F401 - the stored side is importable from here too
    AlertHistoryRow,
    acknowledge,
    add_rule,
    history,
    list_rules,
    remove_rule,
    set_active,
)
from tickdeck.core.calendar import MarketCalendar, get_calendar
from tickdeck.core.events import (
    SCENARIO_ORIGIN,
    Event,
    FeedStatusChanged,
    FeedSwitched,
    IndicatorUpdate,
    Message,
    QualityScored,
    StatisticUpdated,
    TicksAppended,
    ValidationDone,
)

FAILING_STATUSES = ("FAIL", "FAILED", "ERROR")  # as tickdeck.core.catalog: a validation status that fires validation:*
GROUP_PREFIXES = ("BREADTH.", "OPTIONS.", "DERIVED.")  # an indicator may be published with its group's prefix
ET = "America/New_York"


@dataclass(frozen=True)
class Firing:
    """A rule fired for ``series`` with ``value`` (for change_pct: the change in percent) at ``at``
    (epoch seconds of the observation)."""

    rule: AlertRule
    series: str
    value: float
    at: float
    message: str


@dataclass
class _SeriesState:
    prev: float | None = None
    on: bool = False
    last_fired: float | None = None
    samples: collections.deque = field(default_factory=collections.deque)


def _strip_group(name: str) -> str:
    for p in GROUP_PREFIXES:
        if name.startswith(p):
            return name[len(p):]
    return name


class AlertEngine:
    """Evaluate ``rules`` over events (see the module docstring).

    Parameters
    ----------
    rules
        :class:`AlertRule` objects (validated; ``id`` distinguishes them).
    clock
        Epoch seconds now: the time of events that carry none and of ``feed:stale`` checks.
    calendar
        Market hours for ``feed:stale`` (default XNYS).

    Warnings
    --------
    Not thread-safe: one thread feeds it (the alerts service's loop).
    """

    def __init__(self, rules: Iterable[AlertRule] = (), clock: Callable[[], float] | None = None, *,
                 calendar: MarketCalendar | None = None):
        if clock is None:
            raise TypeError("AlertEngine needs a clock (epoch seconds): the service's or a simulated one")
        self.clock = clock
        self._calendar = calendar
        self._states: dict[tuple[int, str], _SeriesState] = {}
        self._rules: dict[int, AlertRule] = {}
        self._started = clock()
        self._last_tick: float | None = None
        self.set_rules(rules)

    @property
    def calendar(self) -> MarketCalendar:
        """Loaded on first use (only ``feed:stale`` needs it; loading XNYS takes seconds)."""
        if self._calendar is None:
            self._calendar = get_calendar("XNYS")
        return self._calendar

    # -- rules ------------------------------------------------------------------------------
    @property
    def rules(self) -> list[AlertRule]:
        return list(self._rules.values())

    def set_rules(self, rules: Iterable[AlertRule]) -> None:
        """Replace the rules; a rule whose definition is unchanged keeps its series' state."""
        new = {r.id: r for r in rules}
        for key in list(self._states):
            old, cur = self._rules.get(key[0]), new.get(key[0])
            if cur is None or old is None or _definition(old) != _definition(cur):
                del self._states[key]
        self._rules = new
        self._ind: dict[str, dict[str, list[tuple[AlertRule, Watch]]]] = {}
        self._sym: dict[str, dict[str, list[AlertRule]]] = {"quality": {}, "validation": {}}
        self._feed: dict[str, list[AlertRule]] = {}
        self._dead: list[AlertRule] = []
        for r in new.values():
            w = parse_watch(r.watch)
            if w.kind == "indicator":
                by_name = self._ind.setdefault(w.symbol, {})
                for n in (w.name, *(p + w.name for p in GROUP_PREFIXES)):
                    by_name.setdefault(n, []).append((r, w))
            elif w.kind in self._sym:
                self._sym[w.kind].setdefault(w.symbol, []).append(r)
            elif w.kind == "feed":
                self._feed.setdefault(w.name, []).append(r)
            else:
                self._dead.append(r)

    @property
    def watches_ticks(self) -> bool:
        """Whether a ``feed:stale`` rule needs the tick topics."""
        return bool(self._feed.get("stale"))

    @property
    def watches_dead_letters(self) -> bool:
        """Whether a ``deadletters`` rule needs the dead-letter count."""
        return bool(self._dead)

    # -- feeding ------------------------------------------------------------------------------
    def feed(self, item: Message | Event) -> list[Firing]:
        """The firings one message (or event) causes."""
        if isinstance(item, Message):
            ev, at = item.event, item.timestamp
        else:
            ev, at = item, None
        if isinstance(ev, IndicatorUpdate):
            return self._indicator(ev)
        if isinstance(ev, StatisticUpdated):
            rules = self._ind.get("", {}).get(ev.indicator)
            if not rules:
                return []
            return self._eval_all([r for r, w in rules if w.source in ("", "feed")],
                                  f"{_strip_group(ev.indicator)}@feed", ev.value, ev.at / 1e9)
        if isinstance(ev, TicksAppended):
            if len(ev) and ev.origin != SCENARIO_ORIGIN:  # a replay's ticks are not the feed speaking
                self._last_tick = self.clock()
            return []
        at = self.clock() if at is None else at
        if isinstance(ev, QualityScored):
            return self._symbol_rules("quality", ev.symbol, f"{ev.symbol}/{ev.day}", float(ev.score), at)
        if isinstance(ev, ValidationDone):
            failed = 1.0 if ev.status.upper() in FAILING_STATUSES else 0.0
            return self._symbol_rules("validation", ev.symbol, f"{ev.symbol}/{ev.day}", failed, at)
        if isinstance(ev, FeedStatusChanged):
            series, at = f"{ev.host}:{ev.port}/{ev.kind}", float(ev.updated_at)
            out = []
            if ev.latency_ms is not None and self._feed.get("latency"):
                out += self._eval_all(self._feed["latency"], series, float(ev.latency_ms), at)
            if self._feed.get("breaker"):
                is_open = 1.0 if ev.state == "breaker_open" or ev.breaker == "open" else 0.0
                out += self._eval_all(self._feed["breaker"], series, is_open, at)
            return out
        if isinstance(ev, FeedSwitched):  # 1.0 on the backup, 0.0 back on the primary: "above 0.5" fires per failover
            rules = self._feed.get("failover")
            on_backup = 1.0 if ev.to_role == "backup" else 0.0
            return self._eval_all(rules, "live feed", on_backup, float(ev.at)) if rules else []
        return []

    def dead_letters(self, per_minute: float, at: float | None = None) -> list[Firing]:
        """Observe the number of dead letters written in the minute up to ``at``."""
        return self._eval_all(self._dead, "dead letters per minute", float(per_minute),
                              self.clock() if at is None else at)

    def check(self, now: float | None = None) -> list[Firing]:
        """Time-driven rules (``feed:stale``) at ``now`` (default: the clock).

        During the regular session of a trading day the stale value is the seconds since the last
        tick, the session's open or the engine's start, whichever is latest; outside it is 0 (so
        an outage that spans the close fires again at the next session only if it lasts).
        """
        rules = self._feed.get("stale")
        if not rules:
            return []
        now = self.clock() if now is None else now
        return self._eval_all(rules, "feed", self.stale_seconds(now), now)

    def stale_seconds(self, now: float) -> float:
        """Seconds without ticks at ``now`` in market hours (0 outside them)."""
        ts = pd.Timestamp(int(now * 1e9), tz="UTC").tz_convert(ET)
        day = ts.date()
        if not self.calendar.is_trading_day(day):
            return 0.0
        b = self.calendar.bounds(day)
        if not (b.open <= ts < b.close):
            return 0.0
        ref = max(b.open.timestamp(), self._started, self._last_tick if self._last_tick is not None else -math.inf)
        return max(now - ref, 0.0)

    # -- evaluation ---------------------------------------------------------------------------
    def _indicator(self, ev: IndicatorUpdate) -> list[Firing]:
        if ev.source == "reconciled":
            return []
        by_name = self._ind.get(ev.symbol)
        if not by_name:
            return []
        at = ev.at / 1e9
        out = []
        prefix = f"{ev.symbol}:" if ev.symbol else ""
        if len(by_name) < len(ev.names):
            pairs = [(n, ev.names.index(n)) for n in by_name if n in ev.names]
        else:
            pairs = [(n, i) for i, n in enumerate(ev.names) if n in by_name]
        for name, i in pairs:
            rules = [r for r, w in by_name[name] if w.source in ("", ev.source)]
            if rules:
                out += self._eval_all(rules, f"{prefix}{_strip_group(name)}@{ev.source}", float(ev.values[i]), at)
        return out

    def _symbol_rules(self, kind: str, symbol: str, series: str, value: float, at: float) -> list[Firing]:
        idx = self._sym[kind]
        rules = idx.get(symbol, []) + idx.get("*", [])
        return self._eval_all(rules, series, value, at) if rules else []

    def _eval_all(self, rules, series: str, value, at: float) -> list[Firing]:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return []
        out = []
        for r in rules:
            f = self._evaluate(r, series, float(value), at)
            if f is not None:
                out.append(f)
        return out

    def _evaluate(self, rule: AlertRule, series: str, value: float, at: float) -> Firing | None:
        if not rule.active:
            return None
        st = self._states.get((rule.id, series))
        if st is None:
            st = self._states[(rule.id, series)] = _SeriesState()
        thr, cond, shown = rule.threshold, rule.condition, value
        if cond == "change_pct":
            w = float(rule.window_s)
            s = st.samples
            s.append((at, value))
            while len(s) >= 2 and s[1][0] <= at - w:
                s.popleft()
            ref = s[0][1] if s[0][0] <= at - w else None
            if ref is None or ref == 0:
                now_on, fire = False, False
            else:
                shown = (value - ref) / abs(ref) * 100.0
                now_on = shown >= thr if thr > 0 else shown <= thr
                fire = now_on and not st.on
        elif cond in ("above", "crosses_up"):
            now_on = value > thr
            fire = now_on and (not st.on if cond == "above" else st.prev is not None and st.prev <= thr)
        else:  # below, crosses_down
            now_on = value < thr
            fire = now_on and (not st.on if cond == "below" else st.prev is not None and st.prev >= thr)
        st.on, st.prev = now_on, value
        if not fire or (st.last_fired is not None and at - st.last_fired < rule.cooldown_s):
            return None
        st.last_fired = at
        what = f"{rule.watch} [{series}]" if series not in rule.watch else rule.watch
        unit = "%" if cond == "change_pct" else ""
        return Firing(rule, series, shown, at, f"{rule.name}: {what} = {shown:.6g}{unit} ({rule.describe()})")


def _definition(r: AlertRule) -> tuple:
    """What a series' state depends on: a renamed rule keeps its state; a new threshold does not, nor
    a rule switched off and on again (it starts afresh: a value already above fires)."""
    return (r.watch, r.condition, r.threshold, r.window_s, r.active)
