"""Storage validator: is the day stored where it belongs, and do the metadata mirrors agree?

Checks (codes in brackets):

* the day is in library ``ticks`` under ``<SYMBOL>/<YYYY-MM-DD>`` and its tier-1 metadata names
  the same symbol and day [MISSING_DAY, METADATA_MISSING, METADATA_MISPLACED];
* tier-1 metadata agrees with the data: tick count, first/last time, volume, session counts
  [METADATA_MISMATCH];
* the catalog row exists and agrees with the metadata [CATALOG_MISSING, CATALOG_MISMATCH];
* bar series: catalog rows (``ctx.catalog.bar_series``) and stored ``bars_<family>`` symbols
  match one to one, and each series' tier-2 metadata bar count agrees with the stored bars
  [BARS_NOT_BUILT (LOW), BAR_SERIES_UNCATALOGUED, BAR_SERIES_MISSING, BAR_METADATA_MISMATCH].
"""

from __future__ import annotations

import numpy as np

from tickdeck.core import naming
from tickdeck.core.validation.result import CRITICAL, HIGH, LOW, MEDIUM, DayData, Issue, ValidationResult

NAME = "storage"
CHECKS = ("location", "tier1_metadata", "catalog_row", "bar_series")
_COUNT_KEYS = ("bars", "count", "rows", "n_bars")  # tier-2 metadata names for the bar count


def validate_storage(ctx, data: DayData, config=None) -> ValidationResult:
    """Run the storage checks on one loaded day."""
    issues: list[Issue] = []
    metrics: dict = {}
    sym, day, info = data.symbol, data.day, data.info
    tick_sym = naming.tick_symbol(sym, day)
    metrics["library"], metrics["symbol"] = naming.TICKS_LIBRARY, tick_sym
    if info is None:
        issues.append(Issue(NAME, CRITICAL, "METADATA_MISSING", f"{tick_sym} has no tier-1 metadata; re-ingest the "
                            "day (or `tickdeck catalog --rebuild` after restoring it)."))
        return ValidationResult.build(NAME, sym, day, CHECKS, issues, metrics)
    if info.symbol != sym or info.day != day:
        issues.append(Issue(NAME, CRITICAL, "METADATA_MISPLACED",
                            f"{tick_sym} carries metadata of {info.symbol} {info.day}; the day was written under the "
                            "wrong name — delete it and re-ingest."))

    actual = {"ticks": data.n, "volume": int(data.size.sum()) if data.n else 0,
              "first": int(data.ns[0]) if data.n else None, "last": int(data.ns[-1]) if data.n else None}
    counts = np.bincount(data.session.astype(np.int64) + 1, minlength=4) if data.n else np.zeros(4, np.int64)
    actual.update(pre_ticks=int(counts[1]), regular_ticks=int(counts[2]), after_ticks=int(counts[3]))
    meta = {"ticks": info.ticks, "volume": info.volume,
            "first": None if info.first is None else int(info.first.value),
            "last": None if info.last is None else int(info.last.value),
            "pre_ticks": info.pre_ticks, "regular_ticks": info.regular_ticks, "after_ticks": info.after_ticks}
    diff = {k: (meta[k], actual[k]) for k in actual if meta[k] != actual[k]}
    metrics["tier1_mismatches"] = sorted(diff)
    if diff:
        issues.append(Issue(NAME, HIGH, "METADATA_MISMATCH",
                            "Tier-1 metadata disagrees with the stored ticks on " + ", ".join(
                                f"{k} (metadata {a}, data {b})" for k, (a, b) in diff.items())
                            + "; re-ingest the day so both are written together."))

    rows = ctx.catalog.tick_days(sym, day, day)
    if not rows:
        issues.append(Issue(NAME, HIGH, "CATALOG_MISSING", f"No catalog row for {sym} {day}; listings and cards will "
                            "not show it — run `tickdeck catalog --rebuild`."))
    else:
        row = rows[0]
        cat = {"ticks": row.ticks, "volume": row.volume,
               "first": None if row.first is None else int(row.first.value),
               "last": None if row.last is None else int(row.last.value)}
        cdiff = {k: (cat[k], meta[k]) for k in cat if cat[k] != meta[k]}
        metrics["catalog_mismatches"] = sorted(cdiff)
        if cdiff:
            issues.append(Issue(NAME, HIGH, "CATALOG_MISMATCH",
                                "Catalog row disagrees with the stored metadata on " + ", ".join(
                                    f"{k} (catalog {a}, metadata {b})" for k, (a, b) in cdiff.items())
                                + "; run `tickdeck catalog --rebuild`."))
    _check_bars(ctx, data, issues, metrics)
    return ValidationResult.build(NAME, sym, day, CHECKS, issues, metrics)


def _bar_count(meta: dict | None) -> int | None:
    if not isinstance(meta, dict):
        return None
    for k in _COUNT_KEYS:
        if isinstance(meta.get(k), (int, np.integer)):
            return int(meta[k])
    return None


def _storage_name(spec_text: str) -> str:
    """Catalog rows hold the full spec (``volume:10000:split``); stored symbols its storage name."""
    try:
        from tickdeck.core.bars import parse_spec

        return parse_spec(spec_text).storage_name
    except Exception:  # noqa: BLE001 - an unparseable catalog spec is reported as missing below
        return spec_text


def _check_bars(ctx, data: DayData, issues: list, metrics: dict) -> None:
    sym, day = data.symbol, data.day
    rows = [r for r in ctx.catalog.bar_series(sym, day) if r.family != naming.IMPORTED_BARS_FAMILY]
    prefix = f"{naming.tick_symbol(sym, day)}/"
    catalogued = {(r.family, _storage_name(r.spec)): r for r in rows}
    stored: dict[tuple[str, str], str] = {}
    for lib in ctx.store.library_names():
        if not lib.startswith(naming.BARS_PREFIX):
            continue
        family = naming.parse_bar_library(lib)
        for s in ctx.store.list_series(lib, prefix):
            stored[(family, naming.parse_bar_symbol(s).spec)] = lib
    metrics["bar_series_catalogued"], metrics["bar_series_stored"] = len(catalogued), len(stored)
    if not catalogued and not stored:
        issues.append(Issue(NAME, LOW, "BARS_NOT_BUILT", f"No bar series exist for {sym} {day}; build the default "
                            "bars (charts and bar exports need them)."))
        return
    for key in sorted(set(stored) - set(catalogued)):
        issues.append(Issue(NAME, MEDIUM, "BAR_SERIES_UNCATALOGUED", f"Bar series {key[0]}/{key[1]} is stored but "
                            "has no catalog row; rebuild the bars or the catalog."))
    for key in sorted(set(catalogued) - set(stored)):
        issues.append(Issue(NAME, HIGH, "BAR_SERIES_MISSING", f"The catalog lists bar series {key[0]}/{key[1]} but "
                            "it is not stored; rebuild the bars for this day."))
    mismatched = []
    for key in sorted(set(catalogued) & set(stored)):
        lib = stored[key]
        bar_sym = naming.bar_symbol(sym, day, key[1])
        try:
            stored_rows = ctx.store.series_rows(lib, bar_sym)
            meta = ctx.store.series_metadata(lib, bar_sym)
        except Exception as e:  # noqa: BLE001 - an unreadable series is a finding, not a crash
            issues.append(Issue(NAME, HIGH, "BAR_SERIES_UNREADABLE",
                                f"{lib}/{bar_sym} cannot be read ({e}); rebuild it."))
            continue
        meta_n, cat_n = _bar_count(meta), catalogued[key].bars
        if (meta_n is not None and meta_n != stored_rows) or cat_n != stored_rows:
            mismatched.append(f"{key[0]}/{key[1]} (stored {stored_rows}, metadata {meta_n}, catalog {cat_n})")
    metrics["bar_series_mismatched"] = len(mismatched)
    if mismatched:
        issues.append(Issue(NAME, HIGH, "BAR_METADATA_MISMATCH", "Bar counts disagree: " + "; ".join(mismatched[:5])
                            + " — rebuild these bar series."))
