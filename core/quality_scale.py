"""The one quality scale: scores are points out of 100, with three named bands.

Every quality number in tickdeck — a day's score and its four components
(:mod:`core.validation.quality`), the catalog's ``tick_days.quality_score`` and its mean per
dataset, the ``data_health`` rows, :class:`core.status.DatasetStatus` and every page — is on
this 0–100 scale. A stored ``1`` means 1 out of 100 (poor), never a 0–1 fraction of 100 %.
:func:`check_quality_score` is applied before a score is stored. This module imports nothing
else from tickdeck but the errors, so the catalog and the pages can use it.
"""

from __future__ import annotations

import math

from tickdeck.core.errors import TickdeckError

QUALITY_MAX = 100.0  # the one quality scale: 0–100 (not a 0–1 fraction) for scores, components and bands
QUALITY_GOOD = 90.0  # at or above: "good"
QUALITY_FAIR = 70.0  # at or above (below good): "fair"; below: "poor"
QUALITY_BANDS = ("good", "fair", "poor")


class InvalidQualityScore(TickdeckError, ValueError):
    """A quality score outside 0–100 (or not a number) was given to be stored."""


def check_quality_score(score, *, where: str = "") -> float:
    """``score`` as a float on the 0–100 scale.

    Raises
    ------
    InvalidQualityScore
        Not a finite number between 0 and :data:`QUALITY_MAX`.
    """
    try:
        value = float(score)
    except (TypeError, ValueError):
        value = float("nan")
    if not 0.0 <= value <= QUALITY_MAX:  # NaN fails too
        at = f" for {where}" if where else ""
        raise InvalidQualityScore(f"quality score {score!r}{at} is not on the 0–{QUALITY_MAX:g} scale; "
                                  f"scores are points out of {QUALITY_MAX:g}, not fractions")
    return value


def quality_band(score: float | None) -> str | None:
    """``good`` | ``fair`` | ``poor`` for a 0–100 score (``None`` when not scored yet)."""
    if score is None:
        return None
    if score >= QUALITY_GOOD:
        return "good"
    return "fair" if score >= QUALITY_FAIR else "poor"


def format_quality(score: float) -> str:
    """``score`` with one decimal, rounded down so the text never crosses a band edge (89.96 → 89.9)."""
    return f"{math.floor(score * 10 + 1e-9) / 10:.1f}"
