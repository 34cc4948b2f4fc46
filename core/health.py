"""System health: feed port, ArcticDB, SQL, Redis, disk, memory and CPU in one report.

Each check is ``ok``, ``degraded`` or ``down``. The overall status is ``unhealthy`` when a
required part (ArcticDB, SQL, disk) is down, ``degraded`` when anything else is not ok
(feed unreachable, Redis down, disk or memory nearly full, CPU saturated for a minute), otherwise
``healthy``; :func:`degraded_checks` names the checks behind a non-healthy status.

CPU is judged over a sustained window, not one reading: :class:`CpuWindow` keeps the samples of
the last :data:`CPU_WINDOW_S` seconds (one per health check, each the CPU use since the
previous check) and reports ``degraded`` only when the samples cover a whole window and every
one is above :data:`CPU_DEGRADED_PCT`. One 100 % reading (a page render, a
compile) leaves the check ``ok`` with the reading in its detail. The sampler and the clock are
injectable (``check_health(ctx, cpu=CpuWindow(sampler, clock))``) so tests are deterministic.
"""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass

from tickdeck.core.errors import TickdeckError
from tickdeck.core.events import HealthCheck, HealthReported

FEED_TIMEOUT_S = 1.0  # a local IQConnect answers in milliseconds; 1 s tolerates a remote one
DISK_DEGRADED_FREE = 0.10  # warn below 10 % free: a day of ticks for a large watchlist is GBs
DISK_DOWN_FREE = 0.02  # below 2 % ArcticDB/LMDB writes start failing
MEMORY_DEGRADED_PCT = 90.0  # above this, day-sized frames risk swapping
CPU_DEGRADED_PCT = 95.0  # sustained saturation delays live collection
CPU_WINDOW_S = 60.0  # CPU must stay above CPU_DEGRADED_PCT for this long (every sample) to degrade
CPU_SAMPLE_S = 0.1  # the first sample's interval (later ones cover the time since the previous)
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


class _PsutilCpu:
    """CPU use since the previous call (``psutil.cpu_percent(None)``); the first call measures
    :data:`CPU_SAMPLE_S`. Each sample therefore covers the whole time since the one before."""

    def __init__(self):
        self.started = False

    def __call__(self) -> float:
        import psutil

        if not self.started:
            self.started = True
            return float(psutil.cpu_percent(interval=CPU_SAMPLE_S))
        return float(psutil.cpu_percent(interval=None))


class CpuWindow:
    """CPU samples over a sliding window; degraded only when saturation is sustained.

    ``sampler()`` returns the CPU percentage since its previous call (the first call: over
    ``first_s``), ``clock()`` monotonic seconds. :meth:`check` takes one sample and judges the
    window ``[now − window_s, now]``: ``degraded`` when the samples cover all of it and every one
    of them is above ``threshold``. A dip anywhere in the last ``window_s`` keeps it ``ok``.
    Thread-safe (health checks run off the event loop).
    """

    def __init__(self, sampler=None, clock=time.monotonic, *, window_s: float = CPU_WINDOW_S,
                 threshold: float = CPU_DEGRADED_PCT, first_s: float = CPU_SAMPLE_S):
        self.sampler = sampler or _PsutilCpu()
        self.clock = clock
        self.window_s = float(window_s)
        self.threshold = float(threshold)
        self.first_s = float(first_s)
        self._samples: deque[tuple[float, float, float]] = deque()  # (covers from, to, percent)
        self._lock = threading.Lock()

    def check(self) -> tuple[str, str, float]:
        """Sample once; (status, detail, this sample's percentage)."""
        with self._lock:
            pct = float(self.sampler())
            now = float(self.clock())
            begin = self._samples[-1][1] if self._samples else now - self.first_s
            self._samples.append((begin, now, pct))
            start = now - self.window_s
            while self._samples and self._samples[0][1] <= start:  # ended before the window
                self._samples.popleft()
            window = list(self._samples)
        full = window[0][0] <= start
        above = [p > self.threshold for _, _, p in window]
        cores = _cpu_count()
        if full and all(above):
            return ("degraded", f"{pct:.0f}% now; above {self.threshold:.0f}% for the last {self.window_s:.0f} s "
                                f"({len(window)} samples) over {cores} cores", pct)
        if above[-1]:
            return ("ok", f"{pct:.0f}% now over {cores} cores (a spike: degraded only after "
                          f"{self.window_s:.0f} s above {self.threshold:.0f}%)", pct)
        return "ok", f"{pct:.0f}% over {cores} cores", pct


def _cpu_count() -> int:
    import os

    return os.cpu_count() or 1


CPU = CpuWindow()  # the process's window: every health check adds one sample


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


def check_health(ctx, *, publish: bool = False, feed_timeout: float = FEED_TIMEOUT_S,
                 cpu: CpuWindow | None = None) -> HealthReport:
    """Probe every part of the deployment; never raises for a failing part.

    ``cpu`` is the window the CPU sample joins (default: the process's :data:`CPU`).
    """
    window = cpu or CPU
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

    checks = (
        check_feed(s.feed_host, s.feed_port_history, feed_timeout),
        _timed("arcticdb", arctic), _timed("sql", sql), _timed("redis", redis),
        _timed("disk", disk), _timed("memory", memory), _timed("cpu", window.check),
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


def degraded_checks(report: HealthReport) -> list[Check]:
    """The checks that are not ok, the down ones first (what made the status degraded or unhealthy)."""
    bad = [c for c in report.checks if c.status != "ok"]
    return sorted(bad, key=lambda c: (c.status != "down", c.name not in REQUIRED))


class HealthError(TickdeckError):
    """Raised by callers that require a healthy system (``tickdeck health --strict``)."""
