"""Retention: delete tick and bar days older than each library's limit, prune history, compact.

Policy (``system_config['retention']``, overridable per call)::

    {"ticks": 365, "bars": 730, "bars_time": 1825, "validation_days": 180, "dead_letter_days": 90,
     "previous_versions_days": 30, "archive_ticks": true}

``archive_ticks`` (default false): a tick day due for deletion is first written to the cold tier,
hive-partitioned Parquet ``<data_dir>/archive/ticks/day=YYYY-MM-DD/symbol=SYM/part-0.parquet``
(every stored column, ``timestamp`` tz-aware; written under a temporary name and renamed), and
is deleted only once that file is complete; the catalog remembers each archived day
(:func:`archived_days`: path, rows, sha256, when). DuckDB reads the tier with
``read_parquet('<data_dir>/archive/ticks/**/*.parquet', hive_partitioning=true)``; ``tickdeck sql``
has it as the view ``archived_ticks``.

``ticks`` applies to the ``ticks`` library, ``bars`` to every ``bars_<family>`` library unless
that library has its own key; ``None`` (or a missing key) keeps everything — except
``previous_versions_days``: versions of tick days kept when the day was replaced (for
``tickdeck restore-day``, see :mod:`core.store`) are deleted this many days after they were
replaced, :data:`DEFAULT_PREVIOUS_VERSIONS_DAYS` unless set (``null`` keeps them; at most three
per day are kept in any case). The job also sweeps temporaries of killed exports from the
exports directory (:func:`core.export.sweep_export_temps`). Day age is counted
in calendar days from ``today``. Bytes freed are the compressed sizes ArcticDB reports for the
deleted symbols (measured before deletion, so a dry run reports the same number).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import delete, func, select

from tickdeck.core import db, naming
from tickdeck.core.errors import TickdeckError
from tickdeck.core.naming import as_date
from tickdeck.core.progress import Progress

log = logging.getLogger(__name__)

POLICY_KEY = "retention"
KNOWN_KEYS = ("ticks", "bars", "validation_days", "dead_letter_days", "previous_versions_days", "archive_ticks")
ARCHIVE_KEY = "archived_days"  # system_config: {symbol: {day: {path, rows, sha256, archived_at}}}
# A replaced day stays restorable for a month: long enough to notice a bad import, after which
# the old version only costs space.
DEFAULT_PREVIOUS_VERSIONS_DAYS = 30


@dataclass(frozen=True)
class RetentionPolicy:
    days: dict = field(default_factory=dict)  # library (or "bars") -> days to keep, None = forever
    validation_days: int | None = None
    dead_letter_days: int | None = None
    previous_versions_days: int | None = DEFAULT_PREVIOUS_VERSIONS_DAYS
    archive_ticks: bool = False  # write tick days to the Parquet cold tier before deleting them

    @classmethod
    def from_config(cls, ctx, overrides: dict | None = None) -> "RetentionPolicy":
        cfg = dict(ctx.catalog.get_config(POLICY_KEY, {}) or {})
        cfg.update(overrides or {})
        return cls.from_dict(cfg)

    @classmethod
    def from_dict(cls, cfg: dict) -> "RetentionPolicy":
        for k, v in cfg.items():
            if k not in KNOWN_KEYS and not k.startswith(naming.BARS_PREFIX):
                raise TickdeckError(f"retention policy: unknown key {k!r} (use ticks, bars, bars_<family>, "
                                    "validation_days, dead_letter_days)")
            if k == "archive_ticks":
                if not isinstance(v, bool):
                    raise TickdeckError(f"retention policy: archive_ticks must be true or false, got {v!r}")
                continue
            if v is not None and (not isinstance(v, int) or v < 1):
                raise TickdeckError(f"retention policy: {k} must be a positive number of days or null, got {v!r}")
        libs = {k: v for k, v in cfg.items() if k not in ("validation_days", "dead_letter_days",
                                                          "previous_versions_days", "archive_ticks")}
        return cls(libs, cfg.get("validation_days"), cfg.get("dead_letter_days"),
                   cfg.get("previous_versions_days", DEFAULT_PREVIOUS_VERSIONS_DAYS),
                   bool(cfg.get("archive_ticks", False)))

    def keep_days(self, library: str) -> int | None:
        if library in self.days:
            return self.days[library]
        if library.startswith(naming.BARS_PREFIX):
            return self.days.get("bars")
        return None


@dataclass(frozen=True)
class RetentionReport:
    dry_run: bool
    tick_days: tuple[str, ...]
    bar_series: tuple[str, ...]
    validation_rows: int
    dead_letters: int
    bytes_freed: int
    compacted: tuple[str, ...]
    export_temps: tuple[str, ...] = ()  # temporaries of killed exports removed from the exports directory
    previous_versions: tuple[str, ...] = ()  # "<symbol>@v<version>": replaced tick-day versions deleted
    archived: tuple[str, ...] = ()  # tick days written to the Parquet cold tier before deletion

    def to_dict(self) -> dict:
        d = asdict(self)
        d["tick_days"], d["bar_series"] = list(self.tick_days), list(self.bar_series)
        d["compacted"] = list(self.compacted)
        d["export_temps"] = list(self.export_temps)
        d["previous_versions"] = list(self.previous_versions)
        d["archived"] = list(self.archived)
        return d


def apply_retention(ctx, policy: RetentionPolicy | None = None, *, today=None, dry_run: bool = False,
                    progress=None) -> RetentionReport:
    """Delete what the policy says is too old (or only report it with ``dry_run``)."""
    policy = policy or RetentionPolicy.from_config(ctx)
    today = as_date(today or dt.date.today())
    store, catalog = ctx.store, ctx.catalog
    tick_gone, bar_gone, freed, compacted, archived = [], [], 0, [], []
    libs = [n for n in store.library_names() if n == naming.TICKS_LIBRARY or n.startswith(naming.BARS_PREFIX)]
    for i, name in enumerate(libs, 1):
        keep = policy.keep_days(name)
        if keep is None:
            continue
        cutoff = today - dt.timedelta(days=keep)
        old = []
        for sym in store.list_series(name):
            try:
                parse = naming.parse_tick_symbol if name == naming.TICKS_LIBRARY else naming.parse_bar_symbol
                day = parse(sym).day
            except Exception:  # noqa: BLE001 - foreign symbol in the library: not ours to delete
                continue
            if day < cutoff:
                old.append((sym, day))
        for sym, _day in sorted(old):
            freed += store.series_bytes(name, sym)  # informative: 0 when the backend cannot say
            if name == naming.TICKS_LIBRARY:
                tick_gone.append(sym)
            else:
                bar_gone.append(f"{name}:{sym}")
            if dry_run:
                continue
            if name == naming.TICKS_LIBRARY and policy.archive_ticks:
                key = naming.parse_tick_symbol(sym)
                archive_tick_day(ctx, key.ticker, key.day)  # raises: the day stays stored
                archived.append(sym)
            store.delete_series(name, sym)
            key = naming.parse_tick_symbol(sym) if name == naming.TICKS_LIBRARY else naming.parse_bar_symbol(sym)
            if name == naming.TICKS_LIBRARY:
                catalog.delete_tick_day(key.ticker, key.day)
            else:
                with catalog.Session.begin() as s:
                    s.execute(delete(db.BarSeries).where(db.BarSeries.symbol == key.ticker, db.BarSeries.day == key.day,
                                                         db.BarSeries.family == naming.parse_bar_library(name),
                                                         db.BarSeries.spec == key.spec))
        if old and not dry_run:
            try:
                store.compact_symbol_list(name)
                compacted.append(name)
            except Exception:  # noqa: BLE001 - compaction is an optimisation
                log.warning("compacting %s failed", name, exc_info=True)
        if progress:
            progress(Progress("retention", i, len(libs), name))
    v_rows = _prune(catalog, db.ValidationResult, db.ValidationResult.created_at, policy.validation_days, dry_run)
    d_rows = _prune(catalog, db.DeadLetter, db.DeadLetter.created_at, policy.dead_letter_days, dry_run)
    temps = _sweep_exports(ctx, dry_run)
    versions = []
    if policy.previous_versions_days is not None:
        cutoff = dt.datetime.combine(today - dt.timedelta(days=policy.previous_versions_days), dt.time(),
                                     tzinfo=dt.timezone.utc)
        versions = [f"{sym}@v{v}" for sym, v in store.prune_kept_versions(cutoff, dry_run=dry_run)]
    rep = RetentionReport(dry_run, tuple(tick_gone), tuple(bar_gone), v_rows, d_rows, freed, tuple(compacted),
                          tuple(temps), tuple(versions), tuple(archived))
    if not dry_run:
        catalog.audit("system", "retention", details={"tick_days": len(tick_gone), "bar_series": len(bar_gone),
                                                      "bytes_freed": freed, "archived": len(archived)})
    return rep


def _sweep_exports(ctx, dry_run: bool) -> list[str]:
    """Temporaries left in the exports directory by killed exports (see tickdeck.core.export.TEMP_NAME)."""
    from tickdeck.core.export import sweep_export_temps

    root = getattr(getattr(ctx, "settings", None), "exports_dir", None)
    return [p.name for p in sweep_export_temps(root, dry_run=dry_run)] if root is not None else []


def _prune(catalog, model, column, keep_days, dry_run: bool) -> int:
    if keep_days is None:
        return 0
    cutoff = db.utcnow() - dt.timedelta(days=keep_days)
    with catalog.Session.begin() as s:
        n = int(s.execute(select(func.count()).select_from(model).where(column < cutoff)).scalar_one())
        if n and not dry_run:
            s.execute(delete(model).where(column < cutoff))
    return n


# -- the Parquet cold tier -------------------------------------------------------------------------
def archive_root(ctx) -> Path:
    """``<data_dir>/archive/ticks``: the hive-partitioned tick archive."""
    return Path(ctx.settings.data_dir) / "archive" / "ticks"


def archive_tick_day(ctx, ticker: str, day) -> dict:
    """Write one stored tick day to the cold tier and remember it in the catalog; returns its entry.

    The file is written as ``.part-0.parquet.tmp-<pid>`` and renamed when complete, so the tier
    never holds a partial day; an earlier archive of the same day is replaced.

    Raises
    ------
    DayNotFound
        The day is not stored.
    """
    from tickdeck.core.export import tick_day_tables
    from tickdeck.core.export_formats import HashingFile, write_parquet

    day = as_date(day)
    folder = archive_root(ctx) / f"day={naming.format_day(day)}" / f"symbol={naming.normalize_ticker(ticker)}"
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / "part-0.parquet"
    tmp = folder / f".part-0.parquet.tmp-{os.getpid()}"
    rows = [0]

    def tables():
        for t in tick_day_tables(ctx, ticker, day, with_symbol=False):
            rows[0] += t.num_rows
            yield t

    sink = HashingFile(tmp)
    try:
        write_parquet(sink, tables())
        sink.close()
    except BaseException:
        sink.abort()
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, final)
    entry = {"path": final.relative_to(Path(ctx.settings.data_dir)).as_posix(), "rows": rows[0],
             "sha256": sink.sha256, "archived_at": db.utcnow().isoformat()}
    known = dict(ctx.catalog.get_config(ARCHIVE_KEY, {}) or {})
    known.setdefault(naming.normalize_ticker(ticker), {})[naming.format_day(day)] = entry
    ctx.catalog.set_config(ARCHIVE_KEY, known)
    return entry


def archived_days(ctx, symbol: str | None = None) -> dict:
    """The archived tick days the catalog remembers: ``{symbol: {day: {path, rows, sha256, archived_at}}}``
    (only ``symbol``'s when given)."""
    known = ctx.catalog.get_config(ARCHIVE_KEY, {}) or {}
    if symbol is None:
        return known
    sym = naming.normalize_ticker(symbol)
    return {sym: known[sym]} if sym in known else {}
