"""Continuity validator: holes in the tick stream, cumulative volume, duplicate and out-of-order ticks.

Gap severity scale (inter-trade time between consecutive ticks of the same session; the
thresholds are :class:`~core.validation.rules.ValidationConfig` fields):

============== =========== ============= ============ ==============
session        LOW         MEDIUM        HIGH         CRITICAL
============== =========== ============= ============ ==============
regular        ≥ 2 min     ≥ 5 min       ≥ 15 min     ≥ 60 min
pre / after    ≥ 30 min    ≥ 60 min      —            —
============== =========== ============= ============ ==============

Extended sessions are thin, so their gaps are at most MEDIUM. Calendars without extended
hours (CMES, 24/7) label the whole day regular and use the regular scale.

Duplicates and out-of-order rows are fixed by the write path before storing (dedupe on tick
id, stable time sort), so this validator reads the counts it recorded in the tier-1 metadata
(``extra``) and, independently, the stored ``tick_id`` order: after the time sort the ids
still run backwards where the feed delivered trades out of order.
"""

from __future__ import annotations

import numpy as np

from .result import CRITICAL, HIGH, LOW, MEDIUM, SEVERITY_RANK, DayData, Issue, ValidationResult, ts_iso

NAME = "continuity"
CHECKS = ("gaps", "cumulative_volume", "duplicate_tick_ids", "out_of_order", "dropped_at_ingest")
MAX_GAPS_LISTED = 20  # gaps kept in metrics; the count is always exact


def gap_severity(seconds: np.ndarray, regular: np.ndarray, config) -> np.ndarray:
    """Severity index per gap (0 CRITICAL … 3 LOW, 4 = not a gap) following the documented scale."""
    sev = np.full(seconds.shape, 4, dtype=np.int8)
    reg_t = (config.gap_low_s, config.gap_medium_s, config.gap_high_s, config.gap_critical_s)
    ext_t = (config.ext_gap_low_s, config.ext_gap_medium_s)
    for level, t in zip((3, 2, 1, 0), reg_t):
        sev[regular & (seconds >= t)] = level
    for level, t in zip((3, 2), ext_t):
        sev[~regular & (seconds >= t)] = level
    return sev


_SEV_NAMES = (CRITICAL, HIGH, MEDIUM, LOW)


def find_gaps(data: DayData, config) -> list[dict]:
    """Every gap at or above the LOW threshold of its session: start, end, seconds, session, severity."""
    if data.n < 2:
        return []
    d = np.diff(data.ns) / 1e9
    s0, s1 = data.session[:-1], data.session[1:]
    same = (s0 == s1) & (s0 >= 0)
    cand = np.flatnonzero(same & (d >= min(config.gap_low_s, config.ext_gap_low_s)))
    if not cand.size:
        return []
    sev = gap_severity(d[cand], s0[cand] == 1, config)
    keep = sev < 4
    cand, sev = cand[keep], sev[keep]
    names = {0: "pre", 1: "regular", 2: "after"}
    return [{"start": ts_iso(data.ns[i]), "end": ts_iso(data.ns[i + 1]), "seconds": round(float(d[i]), 3),
             "session": names[int(s0[i])], "severity": _SEV_NAMES[int(v)]} for i, v in zip(cand, sev)]


def validate_continuity(data: DayData, config) -> ValidationResult:
    """Run the continuity checks on one day (see the module docstring)."""
    issues: list[Issue] = []
    extra = dict(getattr(data.info, "extra", None) or {})
    gaps = find_gaps(data, config)
    metrics: dict = {"gaps": len(gaps), "gap_seconds_regular": round(sum(g["seconds"] for g in gaps
                                                                       if g["session"] == "regular"), 3),
                     "longest_gap_s": max((g["seconds"] for g in gaps), default=0.0),
                     "gap_list": sorted(gaps, key=lambda g: -g["seconds"])[:MAX_GAPS_LISTED]}
    for sev in _SEV_NAMES:
        these = [g for g in gaps if g["severity"] == sev]
        if not these:
            continue
        longest = max(these, key=lambda g: g["seconds"])
        total = sum(g["seconds"] for g in these)
        issues.append(Issue(
            NAME, sev, "GAP",
            f"{len(these)} {sev} gap(s) totalling {total / 60:,.1f} min; longest {longest['seconds'] / 60:,.1f} min "
            f"in the {longest['session']} session {longest['start'][11:19]}–{longest['end'][11:19]}. "
            "Backfill that window from the source; if the source has no trades there, the symbol was halted.",
            longest["start"], longest["end"], 0, tuple(sorted(these, key=lambda g: -g["seconds"])[:5])))

    if data.n >= 2 and data.tot_vlm.any():
        dec = np.flatnonzero(data.tot_vlm[1:] < data.tot_vlm[:-1]) + 1
        metrics["volume_decreases"] = int(dec.size)
        if dec.size:
            note = (" Some may come from rows the write path re-sorted." if extra.get("out_of_order_fixed") else "")
            issues.append(Issue(
                NAME, HIGH, "VOLUME_DECREASED",
                f"Volume decreased {dec.size:,} times: cumulative volume (tot_vlm) steps backwards; the feed "
                f"restarted its counter or rows are corrupt — re-collect the day.{note}",
                ts_iso(data.ns[dec[0]]), ts_iso(data.ns[dec[-1]]), int(dec.size), data.example_rows(dec)))

    dups = int(extra.get("duplicates_dropped", 0) or 0)
    ids = data.tick_id
    inversions = int(np.count_nonzero(ids[1:] < ids[:-1])) if data.n >= 2 else 0
    strictly = data.n < 2 or bool((ids[1:] > ids[:-1]).all())
    stored_dups = 0 if strictly else int(data.n - np.unique(ids).size)
    metrics.update(duplicates_dropped=dups, duplicates_stored=stored_dups, tick_id_inversions=inversions,
                   out_of_order_fixed=int(extra.get("out_of_order_fixed", 0) or 0))
    if dups:
        issues.append(Issue(NAME, MEDIUM, "DUPLICATE_TICK_IDS",
                            f"{dups:,} rows repeated an earlier tick id and were dropped at ingest; the source "
                            "re-sent data (reconnect/replay) — the stored day is deduplicated, check the collector.",
                            rows=dups))
    if stored_dups:
        issues.append(Issue(NAME, HIGH, "DUPLICATES_STORED",
                            f"{stored_dups:,} stored ticks share a tick id; re-ingest the day through the write path "
                            "(it dedupes).", rows=stored_dups))
    ooo = metrics["out_of_order_fixed"]
    if ooo or inversions:
        first_inv = np.flatnonzero(ids[1:] < ids[:-1]) + 1 if inversions else np.empty(0, int)
        issues.append(Issue(
            NAME, MEDIUM, "OUT_OF_ORDER",
            f"The feed delivered trades out of order: {ooo:,} rows were re-sorted at ingest and tick ids run "
            f"backwards {inversions:,} times in time order. Stored data is sorted; check the collector's clock/merge.",
            ts_iso(data.ns[first_inv[0]]) if first_inv.size else None,
            ts_iso(data.ns[first_inv[-1]]) if first_inv.size else None, max(ooo, inversions),
            data.example_rows(first_inv)))

    wrong_day = int(extra.get("wrong_day_dropped", 0) or 0)
    if wrong_day:
        issues.append(Issue(NAME, MEDIUM, "WRONG_DAY_DROPPED",
                            f"{wrong_day:,} ticks stamped on another day were dropped at ingest (see dead letters); "
                            "the source's day boundary or timezone is off.", rows=wrong_day))
    issues.sort(key=lambda i: SEVERITY_RANK[i.severity])
    return ValidationResult.build(NAME, data.symbol, data.day, CHECKS, issues, metrics)
