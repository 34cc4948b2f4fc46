"""Validation and data quality: validators per symbol-day, ingest rules, quality scores,
anomaly detection over a symbol's history, and reconciliation of two symbol-days.

Public API::

    validate_day(ctx, symbol, day, *, types=None, use_cache=True) -> DayReport
    validate_range(ctx, symbol, start, end, *, types=None, progress=None) -> list[DayReport]
    quality_score(ctx, symbol, day) -> QualityScore
    history(ctx, symbol, day) -> list[HistoryEntry]
    anomalies(ctx, symbol) -> list[Anomaly]
    reconcile(ctx, sym_a, day_a, sym_b, day_b, interval="5min") -> Reconciliation
    install(ctx)                      # ingest rules + after-write validation and scoring
    flagged_ticks(ctx, symbol, day)   # ticks flagged by the ingest rules
"""

from __future__ import annotations

from tickdeck.core.validation.after_write import install
from tickdeck.core.validation.anomaly import Anomaly, anomalies
from tickdeck.core.validation.quality import QualityScore, quality_score
from tickdeck.core.validation.reconcile import Reconciliation, reconcile
from .result import CRITICAL, FAIL, HIGH, LOW, MEDIUM, PASS, WARN, DayReport, Issue, ValidationResult
from tickdeck.core.validation.rules import ValidationConfig, flagged_ticks, load_config, make_ingest_rules
from tickdeck.core.validation.service import VALIDATORS, history, validate_day, validate_range

__all__ = ["validate_day", "validate_range", "quality_score", "history", "anomalies", "reconcile", "install",
           "flagged_ticks", "make_ingest_rules", "load_config", "ValidationConfig", "DayReport", "ValidationResult",
           "Issue", "QualityScore", "Anomaly", "Reconciliation", "VALIDATORS", "PASS", "WARN", "FAIL", "CRITICAL",
           "HIGH", "MEDIUM", "LOW"]
