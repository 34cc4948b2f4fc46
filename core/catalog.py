"""The catalog: SQL mirror of what is stored, plus dead letters, audit log and system config.

Listings (datasets, tick days, bar series) are single SQL queries over tier-1/tier-2 rows and
never load a data frame; 10,000 symbol-days list in a few milliseconds
(``tests/bench/bench_catalog.py``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from tickdeck.core import db, metrics
from tickdeck.core.naming import as_date, normalize_ticker
from tickdeck.core.quality_scale import check_quality_score

if TYPE_CHECKING:  # only annotations: the catalog is read without importing ArcticDB (or pandas)
    import pandas as pd

    from tickdeck.core.store import DayInfo

TZ = "America/New_York"
FAILING_STATUSES = ("FAIL", "FAILED", "ERROR")  # validation statuses that make a day "failing"


@dataclass(frozen=True)
class TickDayRow:
    """Tier-1 row. ``first``/``last`` are derived lazily from the stored nanoseconds so listing
    thousands of rows costs no timestamp construction."""

    symbol: str
    day: dt.date
    source: str
    ticks: int
    first_ns: int | None
    last_ns: int | None
    volume: int
    dollar_volume: float
    vwap: float | None
    open: float | None
    high: float | None
    low: float | None
    close: float | None
    avg_spread_bps: float | None
    pre_ticks: int
    regular_ticks: int
    after_ticks: int
    quality_score: float | None
    updated_at: dt.datetime

    @property
    def first(self) -> pd.Timestamp | None:
        return _ts(self.first_ns)

    @property
    def last(self) -> pd.Timestamp | None:
        return _ts(self.last_ns)


@dataclass(frozen=True)
class DatasetSummary:
    """One dataset card: a stored ticker and what is known about it."""

    symbol: str
    source: str
    venue: str
    asset_class: str
    calendar: str
    first_day: dt.date | None
    last_day: dt.date | None
    days: int
    ticks: int
    volume: int
    last_update: dt.datetime | None
    quality_score: float | None


@dataclass(frozen=True)
class DeadLetterRow:
    id: int
    source: str
    symbol: str
    raw: str
    reason: str
    created_at: dt.datetime
    status: str
    line: int | None = None  # line/row number in the file it came from (1-based), when known


@dataclass(frozen=True)
class BarSeriesRow:
    symbol: str
    day: dt.date
    family: str
    spec: str
    bars: int
    first: pd.Timestamp | None
    last: pd.Timestamp | None
    stats: dict


def _ts(ns):
    if ns is None:
        return None
    import pandas as pd  # here, not at import: `tickdeck catalog` lists from the nanoseconds without it

    return pd.Timestamp(int(ns), tz="UTC").tz_convert(TZ)


def _ns(ts):
    if ts is None:
        return None
    import pandas as pd

    return int(pd.Timestamp(ts).value)


class Catalog:
    """SQL catalog service. One instance per process; thread-safe (one session per call).

    Parameters
    ----------
    engine_or_url
        A SQLAlchemy engine or URL; a URL is opened with :func:`core.db.open_engine`, which
        migrates the schema to head.
    """

    def __init__(self, engine_or_url: Engine | str):
        self.engine = db.open_engine(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
        self.Session = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def _upsert(self, session: Session, model, values: dict | list[dict], keys: list[str]) -> None:
        if isinstance(values, list):  # one statement may not touch a row twice: last value wins
            values = list({tuple(v[k] for k in keys): v for v in values}.values())
        ins = (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(model)
        stmt = ins.values(values)
        sample = values[0] if isinstance(values, list) else values
        cols = {k: getattr(stmt.excluded, k) for k in sample if k not in keys}
        session.execute(stmt.on_conflict_do_update(index_elements=keys, set_=cols))

    # -- datasets -------------------------------------------------------------------------
    def upsert_dataset(self, symbol: str, *, source: str = "", venue: str = "", asset_class: str = "equity",
                       calendar: str = "XNYS", description: str = "", multiplier: float | None = None,
                       size_decimals: int | None = None, lot_size: float | None = None,
                       tick_size: float | None = None) -> None:
        """Insert or update a dataset row. Instrument terms (see :mod:`tickdeck.core.instruments`) left
        ``None`` keep the row's stored value (column defaults on insert)."""
        now = db.utcnow()
        values = dict(symbol=normalize_ticker(symbol), source=source, venue=venue, asset_class=asset_class,
                      calendar=calendar, description=description, updated_at=now, created_at=now)
        terms = dict(multiplier=multiplier, size_decimals=size_decimals, lot_size=lot_size, tick_size=tick_size)
        values.update({k: v for k, v in terms.items() if v is not None})
        with self.Session.begin() as s:
            self._upsert(s, db.Dataset, values, ["symbol"])

    def dataset(self, symbol: str) -> db.Dataset | None:
        with self.Session() as s:
            return s.get(db.Dataset, normalize_ticker(symbol))

    def datasets(self) -> list[DatasetSummary]:
        """Every dataset with its coverage, in one aggregate query (no frames read)."""
        t = db.TickDay
        agg = (
            select(t.symbol, func.min(t.day), func.max(t.day), func.count(t.id), func.sum(t.ticks),
                   func.sum(t.volume), func.max(t.updated_at), func.avg(t.quality_score))
            .group_by(t.symbol)
            .subquery()
        )
        d = db.Dataset
        stmt = (
            select(d.symbol, d.source, d.venue, d.asset_class, d.calendar, *list(agg.c)[1:])
            .join(agg, agg.c.symbol == d.symbol, isouter=True)
            .order_by(d.symbol)
        )
        out = []
        with self.Session() as s:
            for r in s.execute(stmt):
                upd = r[10]
                if isinstance(upd, dt.datetime) and upd.tzinfo is None:
                    upd = upd.replace(tzinfo=dt.timezone.utc)
                out.append(DatasetSummary(r[0], r[1], r[2], r[3], r[4], _date(r[5]), _date(r[6]), int(r[7] or 0),
                                          int(r[8] or 0), int(r[9] or 0), upd,
                                          None if r[11] is None else float(r[11])))
        return out

    def delete_dataset(self, symbol: str) -> None:
        sym = normalize_ticker(symbol)
        with self.Session.begin() as s:
            s.execute(delete(db.TickDay).where(db.TickDay.symbol == sym))
            s.execute(delete(db.BarSeries).where(db.BarSeries.symbol == sym))
            s.execute(delete(db.Dataset).where(db.Dataset.symbol == sym))

    # -- tick days (tier 1) ---------------------------------------------------------------
    def upsert_tick_days(self, infos: Iterable[DayInfo]) -> int:
        rows = [_tick_day_values(i) for i in infos]
        if not rows:
            return 0
        with self.Session.begin() as s:
            for chunk in range(0, len(rows), 500):
                self._upsert(s, db.TickDay, rows[chunk:chunk + 500], ["symbol", "day"])
        return len(rows)

    def upsert_tick_day(self, info: DayInfo) -> None:
        self.upsert_tick_days([info])

    def delete_tick_day(self, symbol: str, day) -> None:
        with self.Session.begin() as s:
            s.execute(delete(db.TickDay).where(db.TickDay.symbol == normalize_ticker(symbol),
                                               db.TickDay.day == as_date(day)))
            s.execute(delete(db.BarSeries).where(db.BarSeries.symbol == normalize_ticker(symbol),
                                                 db.BarSeries.day == as_date(day)))

    def set_quality(self, symbol: str, day, score: float | None) -> None:
        """Store a day's quality score on the 0–100 scale (``None`` clears it).

        Raises
        ------
        InvalidQualityScore
            ``score`` is not a number between 0 and 100 (nothing is written).
        """
        if score is not None:
            score = check_quality_score(score, where=f"{normalize_ticker(symbol)} {as_date(day)}")
        with self.Session.begin() as s:
            s.execute(update(db.TickDay).where(db.TickDay.symbol == normalize_ticker(symbol),
                                               db.TickDay.day == as_date(day)).values(quality_score=score))

    def tick_days(self, symbol: str | None = None, start=None, end=None) -> list[TickDayRow]:
        """Tier-1 rows, optionally filtered; ordered by symbol then day."""
        t = db.TickDay
        cols = (t.symbol, t.day, t.source, t.ticks, t.first_ns, t.last_ns, t.volume, t.dollar_volume, t.vwap,
                t.open, t.high, t.low, t.close, t.avg_spread_bps, t.pre_ticks, t.regular_ticks, t.after_ticks,
                t.quality_score, t.updated_at)
        stmt = select(*cols).order_by(t.symbol, t.day)
        if symbol:
            stmt = stmt.where(t.symbol == normalize_ticker(symbol))
        if start is not None:
            stmt = stmt.where(t.day >= as_date(start))
        if end is not None:
            stmt = stmt.where(t.day <= as_date(end))
        with self.engine.connect() as c:
            rows = c.execute(stmt).all()
        utc = dt.timezone.utc
        return [TickDayRow(r[0], _date(r[1]), *r[2:18],
                           r[18].replace(tzinfo=utc) if r[18] is not None and r[18].tzinfo is None else r[18])
                for r in rows]

    def stored_days(self, symbol: str) -> list[dt.date]:
        t = db.TickDay
        with self.engine.connect() as c:
            rows = c.execute(select(t.day).where(t.symbol == normalize_ticker(symbol)).order_by(t.day))
            return [_date(r[0]) for r in rows]

    def failing_days(self, symbol: str, start=None, end=None) -> set[dt.date]:
        """Days whose latest result of some validator is FAIL (older FAILs since fixed don't count)."""
        v = db.ValidationResult
        where = [v.symbol == normalize_ticker(symbol)]
        if start is not None:
            where.append(v.day >= as_date(start))
        if end is not None:
            where.append(v.day <= as_date(end))
        latest = select(func.max(v.id)).where(*where).group_by(v.day, v.validator).scalar_subquery()
        stmt = select(v.day).where(v.id.in_(latest), func.upper(v.status).in_(FAILING_STATUSES)).distinct()
        with self.engine.connect() as c:
            return {_date(r[0]) for r in c.execute(stmt)}

    # -- bar series (tier 2) --------------------------------------------------------------
    def upsert_bar_series(self, rows: Iterable[BarSeriesRow]) -> int:
        now = db.utcnow()
        vals = [dict(symbol=r.symbol, day=r.day, family=r.family, spec=r.spec, bars=r.bars, first_ns=_ns(r.first),
                     last_ns=_ns(r.last), stats=r.stats, updated_at=now) for r in rows]
        if not vals:
            return 0
        with self.Session.begin() as s:
            for i in range(0, len(vals), 500):
                self._upsert(s, db.BarSeries, vals[i:i + 500], ["symbol", "day", "family", "spec"])
        return len(vals)

    def bar_series(self, symbol: str | None = None, day=None, family: str | None = None) -> list[BarSeriesRow]:
        b = db.BarSeries
        stmt = select(b.symbol, b.day, b.family, b.spec, b.bars, b.first_ns, b.last_ns, b.stats).order_by(
            b.symbol, b.day, b.family, b.spec)
        if symbol:
            stmt = stmt.where(b.symbol == normalize_ticker(symbol))
        if day is not None:
            stmt = stmt.where(b.day == as_date(day))
        if family:
            stmt = stmt.where(b.family == family)
        with self.engine.connect() as c:
            return [BarSeriesRow(r[0], _date(r[1]), r[2], r[3], r[4], _ts(r[5]), _ts(r[6]), r[7] or {})
                    for r in c.execute(stmt)]

    # -- dead letters ---------------------------------------------------------------------
    def add_dead_letters(self, items: Iterable[tuple]) -> int:
        """Store ``(source, symbol, raw, reason)`` or ``(source, symbol, raw, reason, line)`` tuples
        (``line``: the 1-based line or row number in its file); returns how many."""
        now = db.utcnow()
        vals = [dict(source=it[0], symbol=it[1], raw=it[2], reason=it[3], line=it[4] if len(it) > 4 else None,
                     created_at=now, status="new") for it in items]
        if vals:
            with self.Session.begin() as s:
                s.execute(db.DeadLetter.__table__.insert(), vals)
            metrics.ticks("dead_letter", len(vals))
        return len(vals)

    def dead_letters(self, status: str | None = None, limit: int = 1000,
                     source: str | None = None) -> list[DeadLetterRow]:
        d = db.DeadLetter
        stmt = select(d.id, d.source, d.symbol, d.raw, d.reason, d.created_at, d.status, d.line
                      ).order_by(d.id.desc()).limit(limit)
        if status:
            stmt = stmt.where(d.status == status)
        if source:
            stmt = stmt.where(d.source == source)
        with self.Session() as s:
            return [DeadLetterRow(*r) for r in s.execute(stmt)]

    def count_dead_letters(self, status: str | None = "new") -> int:
        d = db.DeadLetter
        stmt = select(func.count(d.id))
        if status:
            stmt = stmt.where(d.status == status)
        with self.engine.connect() as c:
            return int(c.execute(stmt).scalar_one())

    def mark_dead_letters(self, ids: Iterable[int], status: str) -> None:
        ids = list(ids)
        if ids:
            with self.Session.begin() as s:
                s.execute(update(db.DeadLetter).where(db.DeadLetter.id.in_(ids)).values(
                    status=status, replayed_at=db.utcnow()))

    def update_dead_letter(self, id_: int, raw: str) -> None:
        with self.Session.begin() as s:
            s.execute(update(db.DeadLetter).where(db.DeadLetter.id == id_).values(raw=raw))

    # -- audit log and config -------------------------------------------------------------
    def audit(self, actor: str, action: str, target: str = "", details: dict | None = None) -> None:
        with self.Session.begin() as s:
            s.add(db.AuditLog(actor=actor, action=action, target=target, details=details or {}))

    def audit_log(self, limit: int = 200) -> list[db.AuditLog]:
        with self.Session() as s:
            return list(s.scalars(select(db.AuditLog).order_by(db.AuditLog.id.desc()).limit(limit)))

    def get_config(self, key: str, default=None):
        with self.Session() as s:
            row = s.get(db.SystemConfig, key)
            return default if row is None else row.value.get("v", default)

    def set_config(self, key: str, value) -> None:
        with self.Session.begin() as s:
            self._upsert(s, db.SystemConfig, dict(key=key, value={"v": value}, updated_at=db.utcnow()), ["key"])


def _date(v):
    if v is None or isinstance(v, dt.date) and not isinstance(v, dt.datetime):
        return v
    if isinstance(v, dt.datetime):
        return v.date()
    return dt.date.fromisoformat(str(v))


def _tick_day_values(i: DayInfo) -> dict:
    return dict(
        symbol=i.symbol, day=i.day, source=i.source, ingest_id=i.ingest_id, ticks=i.ticks,
        first_ns=_ns(i.first), last_ns=_ns(i.last), volume=i.volume, dollar_volume=i.dollar_volume,
        vwap=i.vwap, open=i.open, high=i.high, low=i.low, close=i.close, avg_spread_bps=i.avg_spread_bps,
        pre_ticks=i.pre_ticks, regular_ticks=i.regular_ticks, after_ticks=i.after_ticks,
        outside_ticks=i.outside_ticks, extra=i.extra or {}, updated_at=db.utcnow(),
    )
