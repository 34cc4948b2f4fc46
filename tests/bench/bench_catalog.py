"""Catalog listing speed: 10,000 symbol-days with stats, SQLite and (if reachable) PostgreSQL.

python tests/bench/bench_catalog.py — target < 100 ms per listing, no frame read.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
import uuid

import pandas as pd
import sqlalchemy as sa

from tickdeck.core.catalog import Catalog
from tickdeck.core.store import DayInfo

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def fill(cat: Catalog) -> None:
    t0 = pd.Timestamp("2024-01-02 09:30", tz="America/New_York")
    infos = [DayInfo(f"S{s:03d}", dt.date(2023, 1, 2) + dt.timedelta(days=d), 50_000, t0, t0, 1, 1.0, 1.0, 1.0, 1.0,
                     1.0, 1.0, 1.0, 1, 1, 1, 0, "bench", "b") for s in range(40) for d in range(250)]
    cat.upsert_tick_days(infos)
    for s in range(40):
        cat.upsert_dataset(f"S{s:03d}", source="bench")


def measure(name: str, cat: Catalog) -> None:
    fill(cat)
    for label, fn in (("tick_days() 10,000 rows", cat.tick_days), ("datasets() 40 cards", cat.datasets)):
        fn()
        ts = []
        for _ in range(7):
            t = time.perf_counter()
            rows = fn()
            ts.append(time.perf_counter() - t)
        print(f"{name:<11} {label:<26} {len(rows):>7,} rows {min(ts) * 1000:>8.1f} ms best "
              f"{sorted(ts)[3] * 1000:>8.1f} ms median")


def main() -> None:
    print("catalog listing (target < 100 ms; reads SQL rows only)")
    with tempfile.TemporaryDirectory() as d:
        measure("sqlite", Catalog(f"sqlite:///{d}/c.db"))
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    try:
        admin = sa.create_engine(PG)
        with admin.begin() as c:
            c.execute(sa.text(f"CREATE SCHEMA {schema}"))
    except Exception as e:  # noqa: BLE001
        print(f"postgresql  skipped ({type(e).__name__})")
        return
    try:
        measure("postgresql", Catalog(f"{PG}?options=-csearch_path%3D{schema}"))
    finally:
        with admin.begin() as c:
            c.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))


if __name__ == "__main__":
    main()
