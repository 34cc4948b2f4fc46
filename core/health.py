"""System health: feed port, ArcticDB, SQL, Redis, disk, memory and CPU in one report.

Each check is ``ok``, ``degraded`` or ``down``. The overall status is ``unhealthy`` when a
required part (ArcticDB, SQL, disk) is down, ``degraded`` when anything else is not ok
(feed unreachable, Redis down, disk or memory nearly full), otherwise ``healthy``.
"""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import time
from dataclasses import asdict, dataclass

from core.errors import TickdeckError
from core.events import HealthCheck, HealthReported

FEED_TIMEOUT_S = 1.0  # a local IQConnect answers in milliseconds; 1 s tolerates a remote one
DISK_DEGRADED_FREE = 0.10  # warn below 10 % free: a day of ticks for a large watchlist is GBs
DISK_DOWN_FREE = 0.02  # below 2 % ArcticDB/LMDB writes start failing
MEMORY_DEGRADED_PCT = 90.0  # above this, day-sized frames risk swapping
CPU_DEGRADED_PCT = 95.0  # sustained saturation delays live collection
REQUIRED = ("arcticdb", "sql", "disk")


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | degraded | down
    detail: str
    value: float | None = None
    elapsed_ms: float = 0.0


@dataclass(frozen=True)
class HealthReport:
    status: str  # healthy | degraded | unhealthy
    checks: tuple[Check, ...]
    at: dt.datetime
    library_bytes: dict

    def check(self, name: str) -> Check:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def to_dict(self) -> dict:
        return {"status": self.status, "at": self.at.isoformat(), "library_bytes": dict(self.library_bytes),
                "checks": [asdict(c) for c in self.checks]}

    def event(self) -> HealthReported:
        """This report as the bus event."""
        return HealthReported(self.status, self.at.isoformat(), tuple(HealthCheck(**asdict(c)) for c in self.checks),
                              {str(k): int(v) for k, v in self.library_bytes.items()})


def _timed(name: str, fn) -> Check:
    t0 = time.perf_counter()
    try:
        status, detail, value = fn()
    except Exception as e:  # noqa: BLE001 - a failing probe is a result, not an error
        status, detail, value = "down", f"{type(e).__name__}: {e}".splitlines()[0][:300], None
    return Check(name, status, detail, value, round((time.perf_counter() - t0) * 1000, 2))


def check_feed(host: str, port: int, timeout: float = FEED_TIMEOUT_S) -> Check:
    """TCP connect to the feed's history port."""

    def probe():
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return "ok", f"connected to {host}:{port}", None
        except OSError as e:
            return "degraded", f"cannot connect to {host}:{port}: {e.strerror or e}", None

    return _timed("feed", probe)


def check_health(ctx, *, publish: bool = False, feed_timeout: float = FEED_TIMEOUT_S) -> HealthReport:
    """Probe every part of the deployment; never raises for a failing part."""
    s = ctx.settings
    sizes: dict = {}

    def arctic():
        sizes.update(ctx.store.sizes())
        return "ok", f"{len(sizes)} libraries, {sum(sizes.values()):,} bytes", float(sum(sizes.values()))

    def sql():
        from sqlalchemy import text

        with ctx.catalog.engine.connect() as c:
            c.execute(text("SELECT 1"))
        return "ok", f"{ctx.catalog.dialect} reachable", None

    def redis():
        if not s.redis_url:
            return "ok", "not configured (in-process bus)", None
        import redis as redis_mod

        r = redis_mod.Redis.from_url(s.redis_url, socket_connect_timeout=feed_timeout)
        try:
            r.ping()
        except Exception as e:  # noqa: BLE001
            return "degraded", f"Redis unreachable: {e}", None
        finally:
            r.close()
        return "ok", "Redis reachable", None

    def disk():
        path = s.data_dir if s.data_dir.exists() else s.data_dir.parent
        u = shutil.disk_usage(path)
        free = u.free / u.total
        st = "down" if free < DISK_DOWN_FREE else "degraded" if free < DISK_DEGRADED_FREE else "ok"
        return st, f"{u.free / 2**30:.1f} GiB free of {u.total / 2**30:.1f} GiB ({free:.0%})", round(100 * free, 2)

    def memory():
        import psutil

        vm = psutil.virtual_memory()
        st = "degraded" if vm.percent > MEMORY_DEGRADED_PCT else "ok"
        return st, f"{vm.percent:.0f}% used of {vm.total / 2**30:.1f} GiB", float(vm.percent)

    def cpu():
        import psutil

        pct = psutil.cpu_percent(interval=0.1)
        st = "degraded" if pct > CPU_DEGRADED_PCT else "ok"
        return st, f"{pct:.0f}% over {psutil.cpu_count()} cores", float(pct)

    checks = (
        check_feed(s.feed_host, s.feed_port_history, feed_timeout),
        _timed("arcticdb", arctic), _timed("sql", sql), _timed("redis", redis),
        _timed("disk", disk), _timed("memory", memory), _timed("cpu", cpu),
    )
    rep = HealthReport(overall(checks), checks, dt.datetime.now(dt.timezone.utc), sizes)
    if publish:
        try:
            ctx.bus.publish(rep.event())
        except Exception:  # noqa: BLE001 - the bus being down is already in the report
            pass
    return rep


def overall(checks) -> str:
    if any(c.status == "down" and c.name in REQUIRED for c in checks):
        return "unhealthy"
    if any(c.status != "ok" for c in checks):
        return "degraded"
    return "healthy"


class HealthError(TickdeckError):
    """Raised by callers that require a healthy system (``tickdeck health --strict``)."""
