"""Settings: one immutable object built from ``TICKDECK_*`` environment variables.

Defaults are the embedded deployment (ArcticDB on LMDB under the data directory, SQLite
catalog, no Redis). The object is passed down explicitly; nothing reads the environment
after start-up, so tests build their own ``Settings`` instead of patching globals.

========================== ======================================= ==========================
variable                   default                                 meaning
========================== ======================================= ==========================
TICKDECK_DATA_DIR          ./data                                  runtime data directory
TICKDECK_ARCTIC_URI        lmdb://<data_dir>/arctic                ArcticDB URI (lmdb, s3, …)
TICKDECK_SQL_URL           sqlite:///<data_dir>/tickdeck.db        SQLAlchemy URL
TICKDECK_REDIS_URL         (empty: in-process bus)                 Redis URL for the bus
TICKDECK_FEED_HOST         127.0.0.1                               IQFeed / emulator host
TICKDECK_FEED_PORT_HISTORY 9100                                    lookup/history port
TICKDECK_FEED_PORT_L1      5009                                    Level 1 streaming port
TICKDECK_FEED_BACKUP       (empty: no failover)                    backup feed host:history_port:l1_port
TICKDECK_FEED_STALE_S      30                                      no trade this long in market hours: fail over
TICKDECK_FEED_PROBE_S      5                                       on the backup, probe the primary this often
TICKDECK_CALENDAR          XNYS                                    default exchange calendar
TICKDECK_SECRET            (random per process)                    cookie-signing secret
TICKDECK_PRICE_MIN         0                                       imported prices must be above
TICKDECK_PRICE_MAX         1e9                                     imported prices/quotes at most
TICKDECK_SIZE_MAX          1e12                                    imported sizes at most
TICKDECK_COOKIE_SECURE     0                                       1: cookies only over HTTPS (TLS)
TICKDECK_LOGIN_LIMIT_USER  5 per 5 minutes                         login attempts per user name
TICKDECK_LOGIN_LIMIT_ADDR  30 per 5 minutes                        login attempts per client address
TICKDECK_API_LIMIT         10000 per hour                          API requests per key and route group
TICKDECK_API_STREAM_LIMIT  10 per minute                           stream connections per key
TICKDECK_DASK_ADDRESS      (empty: in the worker's own process)    Dask scheduler for bulk jobs (core/bulk.py)
========================== ======================================= ==========================
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

from tickdeck.core.errors import ConfigError

PREFIX = "TICKDECK_"


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(PREFIX + name, "")
    if raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(PREFIX + name, f"expected a number, got {raw!r}") from None


_RATE = re.compile(r"^\s*[1-9][0-9]*\s*(per|/)\s*([1-9][0-9]*)?\s*(second|minute|hour|day)s?\s*$")


def _rate(env: Mapping[str, str], name: str, default: str) -> str:
    """A rate such as ``5 per 5 minutes`` or ``30/hour`` (the notation of the ``limits`` library)."""
    raw = env.get(PREFIX + name, "")
    if raw == "":
        return default
    if not _RATE.match(raw):
        raise ConfigError(PREFIX + name, f"expected a rate such as '5 per 5 minutes', got {raw!r}")
    return raw.strip()


def _flag(env: Mapping[str, str], name: str, default: bool = False) -> bool:
    raw = env.get(PREFIX + name, "").strip().lower()
    if raw == "":
        return default
    if raw in ("0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(PREFIX + name, f"expected 1 or 0, got {raw!r}")


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(PREFIX + name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(PREFIX + name, f"expected a port number, got {raw!r}") from None
    if not 0 < value < 65536:
        raise ConfigError(PREFIX + name, f"port {value} is outside 1..65535")
    return value


def _slots(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(PREFIX + name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(PREFIX + name, f"expected a whole number of slots, got {raw!r}") from None
    if not 1 <= value <= 64:
        raise ConfigError(PREFIX + name, f"{value} slots is outside 1..64")
    return value


@dataclass(frozen=True)
class FeedEndpoint:
    """One IQFeed (or emulator) endpoint: a host with its lookup/history and Level 1 ports."""

    host: str
    port_history: int
    port_l1: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port_history}/{self.port_l1}"

    @classmethod
    def parse(cls, text: str, what: str = PREFIX + "FEED_BACKUP") -> "FeedEndpoint":
        """``host:history_port:l1_port`` (e.g. ``10.0.0.2:9100:5009``).

        Raises
        ------
        ConfigError
            Not of that form, or a port outside 1..65535 (the message names ``what``).
        """
        parts = (text or "").strip().rsplit(":", 2)
        if len(parts) != 3 or not parts[0]:
            raise ConfigError(what, f"expected host:history_port:l1_port (e.g. 10.0.0.2:9100:5009), got {text!r}")
        ports = []
        for name, raw in (("history port", parts[1]), ("Level 1 port", parts[2])):
            if not raw.isdigit() or not 0 < int(raw) < 65536:
                raise ConfigError(what, f"the {name} {raw!r} in {text!r} is not a port number 1..65535")
            ports.append(int(raw))
        return cls(parts[0], ports[0], ports[1])


def _endpoint(env: Mapping[str, str], name: str) -> str:
    """A feed endpoint ``host:history_port:l1_port`` (checked), or "" when unset."""
    raw = env.get(PREFIX + name, "").strip()
    if raw:
        FeedEndpoint.parse(raw, PREFIX + name)
    return raw


def _dask(env: Mapping[str, str]) -> str:
    v = env.get(PREFIX + "DASK_ADDRESS", "").strip()
    if v and not (v.startswith(("tcp://", "tls://", "inproc://")) or v == "local" or re.fullmatch(r"local:\d+", v)):
        raise ConfigError(PREFIX + "DASK_ADDRESS", f"not a Dask scheduler address: {v!r} (tcp://host:8786 or local:N)")
    return v


@dataclass(frozen=True)
class Settings:
    """All runtime settings. Build with :meth:`from_env` or directly in tests."""

    data_dir: Path = Path("data")
    arctic_uri: str = ""
    sql_url: str = ""
    redis_url: str = ""
    feed_host: str = "127.0.0.1"
    feed_port_history: int = 9100
    feed_port_l1: int = 5009
    # failover (core/failover.py): the backup endpoint "host:history_port:l1_port" ("" none), the seconds
    # without a trade in market hours that count as a failed primary, how often the backup probes the primary
    feed_backup: str = ""
    feed_stale_s: float = 30.0
    feed_probe_s: float = 5.0
    calendar: str = "XNYS"
    secret: str = field(default="", repr=False)
    price_min: float = 0.0  # plausibility bounds for imported ticks (core/plausibility.py)
    price_max: float = 1e9
    size_max: float = 1e12
    cookie_secure: bool = False  # web cookies carry Secure (set behind TLS); see app/login.py
    # alert webhooks may reach loopback, private and link-local addresses (off: a rule's URL cannot
    # make the server call its own network); see core/alert_service.py
    alert_webhook_allow_private: bool = False
    login_limit_user: str = "5 per 5 minutes"  # failed-login throttle per user name (limits notation)
    login_limit_address: str = "30 per 5 minutes"  # and per client address
    api_limit: str = "10000 per hour"  # HTTP API requests per key (or session, or address) and route group
    api_stream_limit: str = "10 per minute"  # WebSocket stream connections per key (or session, or address)
    worker_slots: int = 2  # batch jobs a worker (embedded or `tickdeck worker`) runs at once, beside the services
    # the emulated market clock of a demo feed (core/demo_clock.py market_now): its start (naive ET,
    # empty: none), its speed and when it started (epoch seconds); pages show the session on it
    demo_now: str = ""
    demo_speed: float = 1.0
    demo_started: float = 0.0
    dask_address: str = ""  # bulk jobs (build-bars, validate, indicators_build) run on this Dask cluster
    # the scheduler's market triggers (jobs/triggers.py: live collection at the open, finalize at the
    # close); off, live collection and the close's finalize are started by hand or by schedules only
    market_triggers: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        if not self.arctic_uri:
            object.__setattr__(self, "arctic_uri", f"lmdb://{self.data_dir.resolve() / 'arctic'}")
        if not self.sql_url:
            object.__setattr__(self, "sql_url", f"sqlite:///{self.data_dir.resolve() / 'tickdeck.db'}")
        if not self.secret:
            object.__setattr__(self, "secret", os.urandom(24).hex())

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        """Read ``TICKDECK_*`` variables; raise :class:`ConfigError` naming a bad one."""
        env = os.environ if env is None else env
        data_dir = Path(env.get(PREFIX + "DATA_DIR", "") or "data")
        arctic = env.get(PREFIX + "ARCTIC_URI", "")
        if arctic and "://" not in arctic:
            raise ConfigError(PREFIX + "ARCTIC_URI", f"not a URI: {arctic!r} (e.g. lmdb:///path)")
        sql = env.get(PREFIX + "SQL_URL", "")
        if sql and "://" not in sql:
            raise ConfigError(PREFIX + "SQL_URL", f"not a SQLAlchemy URL: {sql!r}")
        redis = env.get(PREFIX + "REDIS_URL", "")
        if redis and not redis.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(PREFIX + "REDIS_URL", f"not a redis:// URL: {redis!r}")
        return cls(
            data_dir=data_dir,
            arctic_uri=arctic,
            sql_url=sql,
            redis_url=redis,
            feed_host=env.get(PREFIX + "FEED_HOST", "") or "127.0.0.1",
            feed_port_history=_port(env, "FEED_PORT_HISTORY", 9100),
            feed_port_l1=_port(env, "FEED_PORT_L1", 5009),
            feed_backup=_endpoint(env, "FEED_BACKUP"),
            feed_stale_s=_float(env, "FEED_STALE_S", 30.0),
            feed_probe_s=_float(env, "FEED_PROBE_S", 5.0),
            calendar=env.get(PREFIX + "CALENDAR", "") or "XNYS",
            secret=env.get(PREFIX + "SECRET", ""),
            price_min=_float(env, "PRICE_MIN", 0.0),
            price_max=_float(env, "PRICE_MAX", 1e9),
            size_max=_float(env, "SIZE_MAX", 1e12),
            cookie_secure=_flag(env, "COOKIE_SECURE"),
            alert_webhook_allow_private=_flag(env, "ALERT_WEBHOOK_ALLOW_PRIVATE"),
            login_limit_user=_rate(env, "LOGIN_LIMIT_USER", "5 per 5 minutes"),
            login_limit_address=_rate(env, "LOGIN_LIMIT_ADDR", "30 per 5 minutes"),
            api_limit=_rate(env, "API_LIMIT", "10000 per hour"),
            api_stream_limit=_rate(env, "API_STREAM_LIMIT", "10 per minute"),
            worker_slots=_slots(env, "WORKER_SLOTS", 2),
            demo_now=env.get(PREFIX + "DEMO_NOW", ""),
            demo_speed=_float(env, "DEMO_SPEED", 1.0),
            demo_started=_float(env, "DEMO_STARTED", 0.0) or time.time(),
            dask_address=_dask(env),
            market_triggers=_flag(env, "MARKET_TRIGGERS", default=True),
        )

    def with_(self, **changes) -> "Settings":
        """A copy with some fields changed."""
        return replace(self, **changes)

    @property
    def primary_feed(self) -> FeedEndpoint:
        """The feed endpoint live collection uses first (``feed_host`` and its ports)."""
        return FeedEndpoint(self.feed_host, self.feed_port_history, self.feed_port_l1)

    @property
    def backup_feed(self) -> FeedEndpoint | None:
        """The endpoint live collection fails over to, or None (no failover)."""
        return FeedEndpoint.parse(self.feed_backup) if self.feed_backup else None

    @property
    def exports_dir(self) -> Path:
        return self.data_dir / "exports"
