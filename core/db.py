"""SQL schema (SQLAlchemy 2) and engine set-up for the catalog, jobs, users and audit log.

Works on SQLite (default, ``<data_dir>/tickdeck.db``) and PostgreSQL. The schema is created and
upgraded only by Alembic migrations (``core/migrations``); :func:`open_engine` runs them to
head. Timestamps of data (first/last tick) are stored as UTC epoch nanoseconds (exact, fast to
compare); timestamps of events (created, started, …) as timezone-aware UTC datetimes.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from sqlalchemy import (
    JSON, BigInteger, Boolean, Date, DateTime, Float, ForeignKey, Index, Integer, String, Text,
    TypeDecorator, UniqueConstraint, create_engine, event, text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tickdeck.core.errors import ConfigError


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {dict: JSON, dt.datetime: UTCDateTime}


class Dataset(Base):
    __tablename__ = "datasets"
    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    source: Mapped[str] = mapped_column(String(64), default="")
    venue: Mapped[str] = mapped_column(String(32), default="")
    asset_class: Mapped[str] = mapped_column(String(16), default="equity")
    calendar: Mapped[str] = mapped_column(String(16), default="XNYS")
    description: Mapped[str] = mapped_column(Text, default="")
    # Instrument terms (see core.instruments): value of one unit of price × size, decimals of the
    # stored integer sizes (1e-8 units for fractional crypto/FX sizes), round lot, price increment.
    multiplier: Mapped[float] = mapped_column(Float, default=1.0, server_default="1")
    size_decimals: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    lot_size: Mapped[float | None] = mapped_column(Float, nullable=True)
    tick_size: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TickDay(Base):
    """Tier-1 row: one stored tick day (mirrors the ArcticDB version metadata)."""

    __tablename__ = "tick_days"
    __table_args__ = (UniqueConstraint("symbol", "day", name="uq_tick_days_symbol_day"),
                      Index("ix_tick_days_day", "day"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    symbol: Mapped[str] = mapped_column(String(32))
    day: Mapped[dt.date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(64), default="")
    ingest_id: Mapped[str] = mapped_column(String(64), default="")
    ticks: Mapped[int] = mapped_column(BigInteger, default=0)
    first_ns: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_ns: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    volume: Mapped[int] = mapped_column(BigInteger, default=0)
    dollar_volume: Mapped[float] = mapped_column(Float, default=0.0)
    vwap: Mapped[float | None] = mapped_column(Float, nullable=True)
    open: Mapped[float | None] = mapped_column(Float, nullable=True)
    high: Mapped[float | None] = mapped_column(Float, nullable=True)
    low: Mapped[float | None] = mapped_column(Float, nullable=True)
    close: Mapped[float | None] = mapped_column(Float, nullable=True)
    avg_spread_bps: Mapped[float | None] = mapped_column(Float, nullable=True)
    pre_ticks: Mapped[int] = mapped_column(BigInteger, default=0)
    regular_ticks: Mapped[int] = mapped_column(BigInteger, default=0)
    after_ticks: Mapped[int] = mapped_column(BigInteger, default=0)
    outside_ticks: Mapped[int] = mapped_column(BigInteger, default=0)
    quality_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    extra: Mapped[dict] = mapped_column(default=dict)
    # True from the day's write until its post-write step (default bars, validation) completed;
    # a worker or the next start completes pending days (core.ingest.complete_pending).
    post_write_pending: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class BarSeries(Base):
    """Tier-2 row: one stored bar series (symbol, day, family, spec)."""

    __tablename__ = "bar_series"
    __table_args__ = (UniqueConstraint("symbol", "day", "family", "spec", name="uq_bar_series"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    symbol: Mapped[str] = mapped_column(String(32))
    day: Mapped[dt.date] = mapped_column(Date)
    family: Mapped[str] = mapped_column(String(32))
    spec: Mapped[str] = mapped_column(String(64))
    bars: Mapped[int] = mapped_column(BigInteger, default=0)
    first_ns: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_ns: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    stats: Mapped[dict] = mapped_column(default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ValidationResult(Base):
    __tablename__ = "validation_results"
    __table_args__ = (Index("ix_validation_symbol_day", "symbol", "day", "validator"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    symbol: Mapped[str] = mapped_column(String(32))
    day: Mapped[dt.date] = mapped_column(Date)
    validator: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(8))
    issues: Mapped[dict] = mapped_column(default=dict)
    metrics: Mapped[dict] = mapped_column(default=dict)
    data_version: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class DataHealth(Base):
    __tablename__ = "data_health"
    __table_args__ = (UniqueConstraint("symbol", "day", name="uq_data_health"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    symbol: Mapped[str] = mapped_column(String(32))
    day: Mapped[dt.date] = mapped_column(Date)
    score: Mapped[float] = mapped_column(Float)
    components: Mapped[dict] = mapped_column(default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_priority", "status", "priority"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict] = mapped_column(default=dict)
    priority: Mapped[int] = mapped_column(Integer, default=1)  # 0 high, 1 normal, 2 backfill
    status: Mapped[str] = mapped_column(String(16), default="pending")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")
    retries: Mapped[int] = mapped_column(Integer, default=0)
    max_retries: Mapped[int] = mapped_column(Integer, default=2)
    requested_by: Mapped[str] = mapped_column(String(64), default="system")
    worker: Mapped[str] = mapped_column(String(128), default="")
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    result: Mapped[dict] = mapped_column(default=dict)
    # the job that queued this one (migration 0003); a parent's outcome follows its children's
    parent_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)


class DeadLetter(Base):
    __tablename__ = "dead_letters"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(32), default="")
    raw: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    line: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # line/row number in its file, 1-based
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    replayed_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="new")  # new | replayed | failed


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16), default="viewer")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class WebSession(Base):
    """A signed-in browser session; the cookie holds a random token, this row its SHA-256.

    Logout revokes the row; a password change or disabling the user revokes all of theirs.
    """

    __tablename__ = "web_sessions"
    __table_args__ = (UniqueConstraint("token_hash", name="uq_web_sessions_token"),
                      Index("ix_web_sessions_username", "username"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    username: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column()
    revoked_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    client: Mapped[str] = mapped_column(String(64), default="", server_default="")


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64), default="")
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    role: Mapped[str | None] = mapped_column(String(16), nullable=True)  # 0004: null = the user's role
    expires_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)  # 0004: null = never


class AlertConfig(Base):
    __tablename__ = "alert_configs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    symbol: Mapped[str] = mapped_column(String(32), default="")
    condition: Mapped[dict] = mapped_column(default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)  # the rule's active flag
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # 0005: the typed rule (core.alert_rules.AlertRule); kind/symbol/condition mirror it
    owner: Mapped[str] = mapped_column(String(64), default="", server_default="", index=True)
    watch: Mapped[str] = mapped_column(String(200), default="", server_default="")
    op: Mapped[str] = mapped_column(String(16), default="above", server_default="above")
    threshold: Mapped[float | None] = mapped_column(Float, nullable=True)
    window_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    cooldown_s: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    webhook_url: Mapped[str] = mapped_column(String(2048), default="", server_default="")
    updated_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)  # rules reload when it moves


class AlertHistory(Base):
    __tablename__ = "alert_history"
    __table_args__ = (Index("ix_alert_history_config_triggered", "config_id", "triggered_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    config_id: Mapped[int] = mapped_column(ForeignKey("alert_configs.id", ondelete="CASCADE"))
    triggered_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    message: Mapped[str] = mapped_column(Text, default="")
    # 0005: what fired, acknowledgement and webhook delivery (none | pending | delivered | failed)
    series: Mapped[str] = mapped_column(String(200), default="", server_default="")
    threshold: Mapped[float | None] = mapped_column(Float, nullable=True)
    acked_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    acked_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    delivery: Mapped[str] = mapped_column(String(16), default="none", server_default="none")
    delivery_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    delivery_error: Mapped[str] = mapped_column(Text, default="", server_default="")
    delivered_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)


class SystemConfig(Base):
    __tablename__ = "system_config"
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[dict] = mapped_column(default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AuditLog(Base):
    """Append-only: the migration installs triggers that reject UPDATE and DELETE."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(256), default="")
    details: Mapped[dict] = mapped_column(default=dict)


MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def open_engine(url: str, *, migrate: bool = True, variable: str = "TICKDECK_SQL_URL") -> Engine:
    """Create an engine, check it connects, and upgrade the schema to head.

    Raises
    ------
    ConfigError
        The URL is malformed or the database cannot be reached; names ``variable``.
    """
    try:
        if url.startswith("sqlite:///"):
            Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        kwargs = {"pool_pre_ping": True}
        if url.startswith("postgresql"):
            kwargs["connect_args"] = {"connect_timeout": 5}
        engine = create_engine(url, **kwargs)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        with engine.connect() as c:
            c.execute(text("SELECT 1"))
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConfigError(variable, f"cannot connect to {_redact(url)}: {first}") from None
    if migrate:
        upgrade(engine)
    return engine


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable URL>"


def alembic_config(engine: Engine):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = None
    cfg.attributes["engine"] = engine
    return cfg


_REVISION_LINE = re.compile(r"""^(down_)?revision\s*=\s*['"]?([^'"\s]+)""", re.MULTILINE)


def head_revision() -> str | None:
    """The newest migration's revision, read from the files in ``migrations/versions`` (the
    revision no other file names as its ``down_revision``) without importing Alembic; ``None``
    when it is not exactly one (Alembic then decides)."""
    revisions, downs = set(), set()
    for f in (MIGRATIONS_DIR / "versions").glob("*.py"):
        for down, rev in _REVISION_LINE.findall(f.read_text(encoding="utf-8")):
            (downs if down else revisions).add(rev)
    heads = revisions - downs
    return heads.pop() if len(heads) == 1 else None


def _at_head(engine: Engine) -> bool:
    """True when the database's ``alembic_version`` is the newest migration: nothing to upgrade."""
    head = head_revision()
    if head is None:
        return False
    try:
        with engine.connect() as c:
            return [r[0] for r in c.execute(text("SELECT version_num FROM alembic_version"))] == [head]
    except Exception:  # no alembic_version table yet: a new database
        return False


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run Alembic migrations up to ``revision`` on ``engine`` (to head: skipped, without importing
    Alembic, when the database is already there; a read-only CLI command starts ~0.4 s sooner)."""
    if revision == "head" and _at_head(engine):
        return
    from alembic import command

    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
