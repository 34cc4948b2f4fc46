"""Completeness from the calendar's session length and the gaps, on real stored days (ArcticDB).

Synthetic days come from the generator, which follows the XNYS calendar (2024-07-03 closes at
13:00); a busy history sits before them so a tick-count ratio would punish the short and the
quiet day. A day cut short or with a hole still loses completeness.
"""

from __future__ import annotations

import numpy as np
import pytest

from tickdeck.core.ingest import ingest_day
from tickdeck.core.sources.synthetic import generate_day, generate_into_store
from tickdeck.core.validation import quality_score, validate_day

BUSY = 12_000  # regular trades on an ordinary day of the history
EARLY_CLOSE = "2024-07-03"  # 13:00 close (Independence Day eve)


@pytest.fixture
def history(ctx):
    generate_into_store(ctx, ["AAPL"], "2024-06-24", "2024-07-02", ticks=BUSY)
    return ctx


def _passes(ctx, day):
    rep = validate_day(ctx, "AAPL", day)
    assert rep.status == "PASS", [(i.severity, i.code) for i in rep.issues]
    assert not [i for i in rep.issues if i.severity != "LOW"]
    return rep


def test_an_early_close_where_every_check_passes_is_complete(history):
    ctx = history
    generate_into_store(ctx, ["AAPL"], EARLY_CLOSE, EARLY_CLOSE, ticks=BUSY * 7 // 13)  # 3.5 h of 6.5 h
    _passes(ctx, EARLY_CLOSE)
    q = quality_score(ctx, "AAPL", EARLY_CLOSE)
    assert q.details["early_close"] and q.details["session_seconds"] == 3.5 * 3600
    assert q.details["ticks"] < 0.6 * q.details["median_ticks"]  # a ratio to earlier days would be ~50
    assert q.completeness == 100.0


def test_a_quiet_day_without_gaps_is_not_punished(history):
    ctx = history
    generate_into_store(ctx, ["AAPL"], "2024-07-08", "2024-07-08", ticks=BUSY // 4)  # a quiet Monday
    _passes(ctx, "2024-07-08")
    q = quality_score(ctx, "AAPL", "2024-07-08")
    assert q.details["ticks"] < 0.3 * q.details["median_ticks"]
    assert q.completeness == 100.0 and q.details["gap_seconds"] == 0.0


def test_an_early_close_cut_short_and_a_day_with_a_hole_lose_completeness(history):
    ctx = history
    cal = ctx.calendar()
    raw = generate_day("AAPL", EARLY_CLOSE, calendar=cal, ticks=BUSY * 7 // 13)
    keep = np.flatnonzero(raw["time"] < 12 * 3600 * 1_000_000)  # collection stopped at 12:00, an hour early
    ingest_day(ctx, "AAPL", EARLY_CLOSE, {k: v[keep] for k, v in raw.items()}, source="synthetic", calendar=cal)
    q = quality_score(ctx, "AAPL", EARLY_CLOSE)
    assert q.details["missing_close_s"] >= 3600 - 60
    assert q.completeness == pytest.approx(100 * (1 - q.details["missing_close_s"] / (3.5 * 3600)), abs=0.01)
    assert q.completeness < 72

    generate_into_store(ctx, ["AAPL"], "2024-07-08", "2024-07-08", ticks=BUSY, faults=["gaps"])  # 11:00–11:20
    holed = quality_score(ctx, "AAPL", "2024-07-08")
    assert 20 * 60 <= holed.details["gap_seconds"] < 21 * 60
    assert holed.completeness == pytest.approx(100 * (1 - holed.details["gap_seconds"] / 23_400), abs=0.01)
