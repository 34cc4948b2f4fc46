"""DuckDB over the store and the exports: ``tickdeck sql "SELECT …"``.

Inside a query you can use

* ``ticks('AAPL', '2024-07-01', '2024-07-05' [, 'regular'])`` — the stored tick days of one
  symbol in a range (optionally one session), loaded as Arrow tables and registered as a view;
* ``bars('AAPL', '2024-07-01', '2024-07-05', 'time:60s')`` — bars from the bars service;
* ``days`` — the catalog's tier-1 rows (one per stored symbol-day), no frame loaded;
* ``export_<name>`` — a view over every Parquet export under ``<data_dir>/exports``
  (``<name>`` is the file or directory stem with non-alphanumerics as ``_``);
* ``archived_ticks`` — the tick days retention archived before deleting them (the hive
  Parquet cold tier ``<data_dir>/archive/ticks``, columns plus ``day`` and ``symbol``);
* any DuckDB function, e.g. ``read_parquet('data/exports/x.parquet')``.

Only the days a query names are loaded (one Arrow table per day, zero-copy into DuckDB).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from tickdeck.core.errors import TickdeckError
from tickdeck.core.naming import as_date

_CALL = re.compile(r"\b(ticks|bars)\s*\(\s*((?:'[^']*'\s*,?\s*)+)\)", re.IGNORECASE)
_ARG = re.compile(r"'([^']*)'")
MAX_DAYS_PER_CALL = 400  # ~1.5 years of one symbol: beyond this a query should use exports


class SqlError(TickdeckError, ValueError):
    """The query is invalid or names data that does not exist."""


@dataclass(frozen=True)
class SqlResult:
    columns: tuple[str, ...]
    table: pa.Table

    @property
    def rows(self) -> int:
        return self.table.num_rows

    def to_pandas(self):
        return self.table.to_pandas()


def _view_name(stem: str) -> str:
    return "export_" + re.sub(r"[^0-9A-Za-z]+", "_", stem).strip("_").lower()


class SqlSession:
    """One DuckDB connection with the store, catalog and exports attached."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.con = duckdb.connect()
        self.con.execute("SET TimeZone='America/New_York'")
        self._n = 0
        self._register_catalog()
        self._register_exports()
        self._register_archive()

    def _register_catalog(self) -> None:
        rows = self.ctx.catalog.tick_days()
        cols = {"symbol": [r.symbol for r in rows], "day": [r.day for r in rows], "ticks": [r.ticks for r in rows],
                "volume": [r.volume for r in rows], "vwap": [r.vwap for r in rows], "open": [r.open for r in rows],
                "high": [r.high for r in rows], "low": [r.low for r in rows], "close": [r.close for r in rows],
                "source": [r.source for r in rows], "quality_score": [r.quality_score for r in rows]}
        self.con.register("days", pa.table(cols))

    def _register_exports(self) -> None:
        root = self.ctx.settings.exports_dir
        if not root.exists():
            return
        for p in sorted(root.iterdir()):
            if p.name.startswith("."):
                continue
            if p.is_file() and p.suffix == ".parquet":
                src = f"read_parquet('{_q(p)}')"
            elif p.is_dir() and any(p.rglob("*.parquet")):
                src = f"read_parquet('{_q(p)}/**/*.parquet', hive_partitioning=true)"
            else:
                continue
            self.con.execute(f'CREATE OR REPLACE VIEW "{_view_name(p.stem)}" AS SELECT * FROM {src}')

    def _register_archive(self) -> None:
        root = self.ctx.settings.data_dir / "archive" / "ticks"  # core.retention.archive_root
        if root.is_dir() and any(root.rglob("part-0.parquet")):
            self.con.execute("CREATE OR REPLACE VIEW archived_ticks AS SELECT * FROM "
                             f"read_parquet('{_q(root)}/*/*/part-0.parquet', hive_partitioning=true)")

    def _load(self, fn: str, args: list[str]) -> str:
        fn = fn.lower()
        if fn == "ticks" and len(args) not in (3, 4) or fn == "bars" and len(args) not in (4, 5):
            spec = ", spec" if fn == "bars" else ""
            raise SqlError(f"{fn}() takes (symbol, start, end{spec}[, session]); got {len(args)} arguments")
        sym, start, end = args[0], as_date(args[1]), as_date(args[2])
        days = [d for d in self.ctx.store.list_days(sym) if start <= d <= end]
        if not days:
            raise SqlError(f"{fn}({sym!r}, '{start}', '{end}'): no stored days in that range")
        if len(days) > MAX_DAYS_PER_CALL:
            raise SqlError(f"{fn}() over {len(days)} days is too large; export to Parquet and query the export")
        tables = []
        if fn == "ticks":
            session = args[3] if len(args) == 4 else "all"
            for d in days:
                df = self.ctx.store.read_day(sym, d, session=session)
                tables.append(pa.Table.from_pandas(df.reset_index(), preserve_index=False))
        else:
            from tickdeck.core.bars import get_bars

            session = args[4] if len(args) == 5 else "regular"
            df = get_bars(self.ctx, sym, start, end, args[3], session=session)
            tables.append(pa.Table.from_pandas(df.reset_index() if df.index.name else df, preserve_index=False))
        table = pa.concat_tables(tables, promote_options="default") if len(tables) > 1 else tables[0]
        self._n += 1
        name = f"__{fn}_{self._n}"
        self.con.register(name, table)
        return name

    def query(self, sql: str, *, limit: int | None = None) -> SqlResult:
        """Run one query; ``ticks(…)``/``bars(…)`` calls are loaded first.

        Raises
        ------
        SqlError
            DuckDB rejected the query, or a ``ticks``/``bars`` call names no stored data.
        """
        rewritten = _CALL.sub(lambda m: self._load(m.group(1), _ARG.findall(m.group(2))), sql)
        try:
            rel = self.con.sql(rewritten)
            if rel is None:
                return SqlResult((), pa.table({}))
            if limit is not None:
                rel = rel.limit(limit)
            table = rel.arrow()
        except duckdb.Error as e:
            raise SqlError(f"query failed: {str(e).splitlines()[0]}") from None
        if hasattr(table, "read_all"):  # newer DuckDB returns a RecordBatchReader
            table = table.read_all()
        return SqlResult(tuple(table.column_names), table)

    def close(self) -> None:
        self.con.close()


def _q(p) -> str:
    return str(p).replace("'", "''")


def run_sql(ctx, sql: str, *, limit: int | None = None) -> SqlResult:
    """One-shot :meth:`SqlSession.query`."""
    s = SqlSession(ctx)
    try:
        return s.query(sql, limit=limit)
    finally:
        s.close()
