"""Alert rules: the :class:`AlertRule` record, the grammar of what a rule watches, and validation.

A rule watches one signal (``watch``) and fires when its ``condition`` against ``threshold``
becomes true. The ``watch`` grammar::

    indicator:<NAME>[@<source>]           a market-wide indicator of IndicatorUpdate / StatisticUpdated,
                                          e.g. indicator:TICK.NYSE, indicator:TRIN.NYSE@local
    indicator:<SYMBOL>:<METRIC>[@source]  a derived metric of one symbol, e.g. indicator:AAPL:vwap_dev_bps.1min
    quality:<SYMBOL>|*                    a symbol-day's quality score 0–100 (QualityScored)
    validation:<SYMBOL>|*                 1.0 when a symbol-day's validation FAILs, else 0.0 (ValidationDone)
    deadletters                           dead letters written in the last minute
    feed:stale                            seconds since the last tick, during regular market hours
    feed:latency                          a feed client's latency in ms (FeedStatusChanged)
    feed:breaker                          1.0 while a feed client's circuit breaker is open, else 0.0
    feed:failover                         1.0 when live collection switched to the backup feed, 0.0 back on
                                          the primary (FeedSwitched)

``@source`` (feed, local, derived) restricts an indicator rule to one source; without it the
rule follows every source but ``reconciled``, each source as its own series (a feed and a local
TICK do not flap a crossing between them).

Conditions: ``above`` / ``below`` (fire on entering: value > / < threshold), ``crosses_up`` /
``crosses_down`` (need a previous value on the other side), ``change_pct`` (the change in percent
over ``window_s`` seconds reaches ``threshold``; a negative threshold watches falls). See
:mod:`core.alerts` for how they are evaluated.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import asdict, dataclass, replace
from urllib.parse import urlsplit

from tickdeck.core.errors import NotFound, TickdeckError

CONDITIONS = ("above", "below", "crosses_up", "crosses_down", "change_pct")
WATCH_KINDS = ("indicator", "quality", "validation", "deadletters", "feed")
FEED_SIGNALS = ("stale", "latency", "breaker", "failover")
INDICATOR_SOURCES = ("feed", "local", "derived")  # what @source may name (reconciled is a difference, not a value)
WEBHOOK_SCHEMES = ("http", "https")
STALE_DEFAULT_S = 30.0  # feed:stale: no ticks for this long in market hours (the 30 s)
MAX_NAME = 128  # alert_configs.name
MAX_WATCH = 200  # alert_configs.watch (0005)
MAX_URL = 2048  # alert_configs.webhook_url (0005)
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/ +-]*$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_PART_RE = re.compile(r"^[A-Za-z0-9$^*][A-Za-z0-9_.$^/=+-]*$")


class AlertRuleError(TickdeckError, ValueError):
    """A rule is not valid (the message names the field and what is allowed)."""


class AlertNotFound(NotFound):
    """No alert rule or alert history row with this id."""


@dataclass(frozen=True)
class Watch:
    """A parsed ``watch``: ``kind`` (WATCH_KINDS), ``symbol`` (``*`` any, "" market-wide),
    ``name`` (indicator or metric name, feed signal) and ``source`` ("" any but reconciled)."""

    kind: str
    symbol: str = ""
    name: str = ""
    source: str = ""

    def __str__(self) -> str:
        if self.kind == "indicator":
            body = f"{self.symbol}:{self.name}" if self.symbol else self.name
            return f"indicator:{body}" + (f"@{self.source}" if self.source else "")
        if self.kind in ("quality", "validation"):
            return f"{self.kind}:{self.symbol}"
        if self.kind == "feed":
            return f"feed:{self.name}"
        return self.kind


def parse_watch(text: str) -> Watch:
    """The :class:`Watch` of a ``watch`` string (see the module docstring for the grammar).

    Raises
    ------
    AlertRuleError
        Not of the grammar; the message lists the forms.
    """
    forms = ("indicator:<NAME>, indicator:<SYMBOL>:<METRIC> (optionally @feed|@local|@derived), "
             "quality:<SYMBOL>|*, validation:<SYMBOL>|*, deadletters, feed:stale, feed:latency, feed:breaker, "
             "feed:failover")
    t = (text or "").strip()
    if not t or len(t) > MAX_WATCH:
        raise AlertRuleError(f"watch must be 1–{MAX_WATCH} characters, one of: {forms}")
    kind, _, rest = t.partition(":")
    kind = kind.lower()
    if kind == "deadletters" and not rest:
        return Watch("deadletters")
    if kind == "feed":
        if rest.lower() not in FEED_SIGNALS:
            raise AlertRuleError(f"unknown feed signal {rest!r} in watch {t!r}; feed signals: "
                                 f"{', '.join(FEED_SIGNALS)}")
        return Watch("feed", name=rest.lower())
    if kind in ("quality", "validation"):
        sym = rest.strip().upper()
        if not sym or not (sym == "*" or _PART_RE.match(sym)):
            raise AlertRuleError(f"watch {t!r} needs a symbol or * after '{kind}:', e.g. {kind}:AAPL")
        return Watch(kind, symbol=sym)
    if kind == "indicator":
        body, _, source = rest.partition("@")
        if source and source not in INDICATOR_SOURCES:
            raise AlertRuleError(f"unknown indicator source {source!r} in watch {t!r}; sources: "
                                 f"{', '.join(INDICATOR_SOURCES)}")
        parts = body.split(":")
        if len(parts) == 1 and parts[0] and _PART_RE.match(parts[0]):
            return Watch("indicator", name=parts[0], source=source)
        if len(parts) == 2 and all(p and _PART_RE.match(p) for p in parts):
            return Watch("indicator", symbol=parts[0].upper(), name=parts[1], source=source)
        raise AlertRuleError(f"watch {t!r} is not indicator:<NAME> or indicator:<SYMBOL>:<METRIC>")
    raise AlertRuleError(f"unknown watch {t!r}; one of: {forms}")


@dataclass(frozen=True)
class AlertRule:
    """One alert rule. ``id`` is 0 until stored; ``cooldown_s`` suppresses repeats of one series;
    ``window_s`` is change_pct's window; ``webhook_url`` "" for none."""

    name: str
    owner: str
    watch: str
    condition: str
    threshold: float
    cooldown_s: float = 0.0
    window_s: float | None = None
    active: bool = True
    webhook_url: str = ""
    id: int = 0

    @property
    def target(self) -> Watch:
        return parse_watch(self.watch)

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        """One line: what it watches and when it fires."""
        if self.condition == "change_pct":
            return f"{self.watch} changes {self.threshold:+g}% within {self.window_s:g} s"
        words = {"above": "above", "below": "below", "crosses_up": "crosses up through",
                 "crosses_down": "crosses down through"}[self.condition]
        return f"{self.watch} {words} {self.threshold:g}"


def known_indicator_names() -> set[str] | None:
    """Names in ``tickdeck.core.indicators.catalog.INDICATORS`` (None while that catalog does not exist)."""
    try:
        from tickdeck.core.indicators.catalog import INDICATORS  # noqa: PLC0415 - optional until the engine lands
    except ImportError:
        return None
    items = INDICATORS.values() if isinstance(INDICATORS, dict) else INDICATORS
    names = set(INDICATORS) if isinstance(INDICATORS, dict) else set()
    for it in items:
        for attr in ("name", "key", "id"):
            v = getattr(it, attr, None)
            if isinstance(v, str):
                names.add(v)
        if isinstance(it, str):
            names.add(it)
    return names


def _known_indicator(name: str, names: set[str]) -> bool:
    """A name, or a metric name with a window suffix (``vwap_dev_bps.1min``, ``vwap_dev_bps_5m``), or
    prefixed by its group."""
    candidates = {name, name.rsplit(".", 1)[0], name.rsplit("_", 1)[0]}
    candidates |= {f"{p}{c}" for c in set(candidates) for p in ("BREADTH.", "OPTIONS.", "DERIVED.")}
    return bool(candidates & names)


def validate_rule(rule: AlertRule, *, indicator_names: set[str] | None = None) -> AlertRule:
    """``rule`` normalised (watch canonical, numbers as floats), or the first thing wrong with it.

    ``indicator_names`` defaults to :func:`known_indicator_names`; when neither is known any
    well-formed indicator name is accepted.

    Raises
    ------
    AlertRuleError
        Empty or over-long name or owner, unknown watch or indicator, unknown condition, a threshold
        that is not a finite number, a negative cooldown, change_pct without a positive window,
        a webhook URL that is not http(s)://host/…
    """
    name = (rule.name or "").strip()
    if not name or len(name) > MAX_NAME or not _NAME_RE.match(name):
        raise AlertRuleError(f"alert name {rule.name!r} must be 1–{MAX_NAME} characters of letters, digits, "
                             "spaces and _ . : / + - (starting with a letter or digit)")
    owner = (rule.owner or "").strip()
    if not owner or len(owner) > 64 or _CONTROL_RE.search(owner):
        raise AlertRuleError(f"alert owner {rule.owner!r} must be a user name of 1–64 characters")
    w = parse_watch(rule.watch)
    if w.kind == "indicator":
        names = known_indicator_names() if indicator_names is None else indicator_names
        if names is not None and not _known_indicator(w.name, names):
            close = difflib.get_close_matches(w.name, sorted(names), n=3, cutoff=0.6)
            hint = f"did you mean {' or '.join(close)}? " if close else ""
            raise AlertRuleError(f"unknown indicator {w.name!r} in watch {rule.watch!r}; {hint}"
                                 f"{len(names)} indicators are listed in docs/indicators.md, Catalog")
    if rule.condition not in CONDITIONS:
        raise AlertRuleError(f"unknown condition {rule.condition!r}; conditions: {', '.join(CONDITIONS)}")
    try:
        threshold = float(rule.threshold)
    except (TypeError, ValueError):
        raise AlertRuleError(f"threshold must be a number, got {rule.threshold!r}") from None
    if not math.isfinite(threshold):
        raise AlertRuleError(f"threshold must be a finite number, got {rule.threshold!r}")
    try:
        cooldown = float(rule.cooldown_s)
    except (TypeError, ValueError):
        raise AlertRuleError(f"cooldown must be a number of seconds, got {rule.cooldown_s!r}") from None
    if not math.isfinite(cooldown) or cooldown < 0:
        raise AlertRuleError(f"cooldown must be 0 or more seconds, got {rule.cooldown_s!r}")
    window = rule.window_s
    if rule.condition == "change_pct":
        try:
            window = float(window) if window is not None else math.nan
        except (TypeError, ValueError):
            window = math.nan
        if not (math.isfinite(window) and window > 0):
            raise AlertRuleError(f"change_pct needs a window of more than 0 seconds, got {rule.window_s!r}")
        if threshold == 0:
            raise AlertRuleError("change_pct needs a non-zero threshold (percent; negative watches falls)")
    elif window is not None:
        raise AlertRuleError(f"a window only applies to change_pct, not {rule.condition}")
    if w.kind == "feed" and w.name == "stale" and rule.condition not in ("above", "crosses_up"):
        raise AlertRuleError("feed:stale is seconds without ticks: use above (or crosses_up) with the "
                             f"seconds, e.g. above {STALE_DEFAULT_S:g}")
    url = (rule.webhook_url or "").strip()
    if url:
        parts = urlsplit(url)
        if parts.scheme.lower() not in WEBHOOK_SCHEMES or not parts.hostname or len(url) > MAX_URL or \
                _CONTROL_RE.search(url):
            raise AlertRuleError(f"webhook URL {url!r} must be http:// or https:// with a host "
                                 f"(at most {MAX_URL} characters)")
    return replace(rule, name=name, owner=owner, watch=str(w), threshold=threshold, cooldown_s=cooldown,
                   window_s=window, active=bool(rule.active), webhook_url=url)
