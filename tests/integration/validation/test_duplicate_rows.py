"""Exact duplicate rows in a file without trade ids are reported by validation.

Real importer (CSV → ``import_file`` → ``ingest_day``), real ArcticDB and SQLite in ``tmp_path``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tickdeck.core.sources.files import import_file
from tickdeck.core.validation import FAIL, HIGH, MEDIUM, PASS, WARN, validate_day

DAY = "2024-07-02"
UNIQUE = 1_000


def _csv(tmp_path, copies: int, seed: int = 3):
    """A CSV with no id column: ``UNIQUE`` trades plus ``copies`` of randomly chosen ones."""
    rng = np.random.default_rng(seed)
    ts = pd.Timestamp(f"{DAY} 09:31", tz="America/New_York") + pd.to_timedelta(
        np.sort(rng.choice(6 * 3600 * 1000, UNIQUE, replace=False)), unit="ms")
    price = np.round(100 + np.cumsum(rng.choice([-0.01, 0.0, 0.01], UNIQUE)), 2)
    df = pd.DataFrame({"timestamp": ts.strftime("%Y-%m-%dT%H:%M:%S.%f%z"), "price": price,
                       "size": rng.integers(1, 500, UNIQUE), "bid": price - 0.01, "ask": price + 0.01})
    dup_at = np.sort(rng.choice(UNIQUE, copies, replace=False))
    out = pd.concat([df, df.iloc[dup_at]]).sort_values("timestamp", kind="stable")
    path = tmp_path / "no_ids.csv"
    out.to_csv(path, index=False)
    return path, df.iloc[dup_at]


def test_five_hundred_copied_rows_without_ids_fail_validation_with_examples(ctx, tmp_path):
    """Issue 11 item 31: 500 duplicated rows of a CSV without an id column are reported (FAIL
    beyond 10% of the day) with their count and example rows."""
    path, copied = _csv(tmp_path, 500)
    rep = import_file(ctx, path, symbol="AAPL")
    assert rep.ticks == UNIQUE + 500  # nothing tells ingest they are copies: each got a row-number id

    report = validate_day(ctx, "AAPL", DAY)

    issue = next(i for i in report.issues if i.code == "DUPLICATE_ROWS")
    assert issue.severity == HIGH and report.status == FAIL
    assert issue.rows == 500 and "500 rows (33.3% of the day)" in issue.message
    assert report.result("rules").metrics["duplicate_rows"] == 500
    first = copied.iloc[0]
    ex = issue.examples[0]
    assert (ex["last"], ex["size"], ex["bid"], ex["ask"]) == (first["price"], first["size"], first["bid"], first["ask"])
    assert pd.Timestamp(ex["time"]) == pd.Timestamp(first["timestamp"])
    assert pd.Timestamp(issue.start) == pd.Timestamp(copied["timestamp"].iloc[0])
    assert pd.Timestamp(issue.end) == pd.Timestamp(copied["timestamp"].iloc[-1])


def test_a_small_share_of_duplicates_warns_and_none_passes(ctx, tmp_path):
    """Issue 11 item 31: 20 copies in 1,020 rows (2%) is a warning, not a failure; a clean file
    has no duplicate issue."""
    path, _ = _csv(tmp_path, 20)
    import_file(ctx, path, symbol="AAPL")
    report = validate_day(ctx, "AAPL", DAY)
    issue = next(i for i in report.issues if i.code == "DUPLICATE_ROWS")
    assert issue.severity == MEDIUM and issue.rows == 20
    assert report.result("rules").status == WARN

    clean, _ = _csv(tmp_path, 0)
    import_file(ctx, clean, symbol="MSFT")
    clean_report = validate_day(ctx, "MSFT", DAY)
    assert "DUPLICATE_ROWS" not in clean_report.codes()
    assert clean_report.result("rules").metrics["duplicate_rows"] == 0
    assert clean_report.result("rules").status == PASS
