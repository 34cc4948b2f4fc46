"""Alert rules: the watch grammar round-trips and validation names what is wrong."""

from __future__ import annotations

import pytest

from tickdeck.core.alert_rules import AlertRule, AlertRuleError, parse_watch, validate_rule
from tickdeck.core.indicators.catalog import INDICATORS


@pytest.mark.parametrize("text", ["indicator:TICK.NYSE", "indicator:TRIN.NASDAQ@local",
                                  "indicator:AAPL:vwap_dev_bps.1min", "indicator:AAPL:ofi@derived",
                                  "quality:AAPL", "quality:*", "validation:*",
                                  "deadletters", "feed:stale", "feed:latency", "feed:breaker"])
def test_watch_round_trips(text):
    assert str(parse_watch(text)) == text


def make(**kw) -> AlertRule:
    base = dict(name="tick high", owner="ana", watch="indicator:TICK.NYSE", condition="above", threshold=1000)
    return AlertRule(**{**base, **kw})


def test_valid_rule_is_normalised():
    r = validate_rule(make(watch="quality:aapl", threshold="80", condition="below", cooldown_s="60"))
    assert (r.watch, r.threshold, r.cooldown_s) == ("quality:AAPL", 80.0, 60.0)


def test_known_indicators_come_from_the_catalog():
    assert "TICK.NYSE" in INDICATORS
    validate_rule(make(watch="indicator:AAPL:vwap_dev_bps.1min"))
    with pytest.raises(AlertRuleError, match="unknown indicator 'TICK.NYSEX'"):
        validate_rule(make(watch="indicator:TICK.NYSEX"))


@pytest.mark.parametrize("kw, message", [
    (dict(condition="over"), "unknown condition 'over'"),
    (dict(cooldown_s=-1), "cooldown must be 0 or more"),
    (dict(webhook_url="ftp://example.org/x"), "must be http:// or https://"),
    (dict(webhook_url="http:///nohost"), "must be http:// or https://"),
    (dict(watch="feed:nope"), "unknown feed signal 'nope'"),
    (dict(watch="price:AAPL"), "unknown watch 'price:AAPL'"),
    (dict(watch="indicator:TICK.NYSE@reconciled"), "unknown indicator source"),
    (dict(condition="change_pct"), "change_pct needs a window"),
    (dict(window_s=60), "a window only applies to change_pct"),
    (dict(threshold=float("nan")), "finite number"),
    (dict(name=""), "alert name"),
    (dict(owner=""), "alert owner"),
    (dict(watch="feed:stale", condition="below", threshold=30), "feed:stale is seconds without ticks"),
])
def test_invalid_rules_are_refused_with_the_reason(kw, message):
    with pytest.raises(AlertRuleError, match=message):
        validate_rule(make(**kw))
