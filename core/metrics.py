"""Prometheus metrics: every metric of tickdeck defined once, the hooks that update them, and the
text a ``GET /metrics`` scrape returns.

Two kinds of metric:

* **Process metrics** (counters, histograms, gauges below) are updated where things happen — live
  collection, the job runner, the API middleware, the bus, the stream hub, the frame cache. With
  ``PROMETHEUS_MULTIPROC_DIR`` set (``tickdeck serve`` and ``tickdeck worker`` set it to
  ``<data_dir>/run/prometheus`` through :func:`tickdeck.core.metrics_setup.enable_multiprocess`
  *before* this module is imported) each process writes its values to files there, and a scrape of
  any server process sums every process's (server forks, workers, the live materialiser).
* **State metrics** (:class:`StateCollector`: job queue depth, store sizes, free disk, the market
  session, services running) are read from SQL, the store and the disk when a scrape asks, by the
  scraped process only, so they are never counted twice.

Labels are bounded: no symbol or day label anywhere (``stage``, ``kind``, ``status``, a route
*template*, a validator name, a cache name).

Hooks take arrays where the caller has arrays: :func:`observe_many` adds a whole batch of Level 1
line latencies with one ``numpy`` bucket count, not one Python call per line.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time

import numpy as np
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics import MetricWrapperBase

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
STORE_SIZES_TTL_S = 60.0  # ArcticDB's size scan reads every key of a library: at most once a minute per process

# Level 1 line latency: receive -> journaled and published. Sub-millisecond to a minute (a stalled store).
LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
ROUND_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
JOB_BUCKETS_S = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 12 * 3600.0)
API_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# -- data flow --------------------------------------------------------------------------------------
TICKS = Counter("tickdeck_ingest_ticks", "Ticks by stage: acknowledged (live: journaled and published), "
                "stored (live: appended to their symbol-day), written (a whole day written: history, import, "
                "finalisation), dead_letter (refused ticks and lines kept as dead letters)", ["stage"])
TICK_STAGES = ("acknowledged", "stored", "written", "dead_letter")
LINE_LATENCY = Histogram("tickdeck_l1_line_latency_seconds", "Level 1 trade line: received -> journaled and "
                         "published (acknowledged), per line", buckets=LATENCY_BUCKETS_S)
JOURNAL_LAG = Gauge("tickdeck_journal_lag_seconds", "Oldest journal row the materialiser's last round moved: "
                    "acknowledged -> in its symbol-day (0 when the round found nothing)", multiprocess_mode="livemax")
MATERIALISER_ROUND = Histogram("tickdeck_materialiser_round_seconds", "One materialiser round: read the journal, "
                               "enrich, append to the days, catalog rows", buckets=ROUND_BUCKETS_S)

# -- jobs -------------------------------------------------------------------------------------------
JOBS_FINISHED = Counter("tickdeck_jobs_finished", "Jobs a runner finished, by kind and outcome "
                        "(succeeded, failed, cancelled, waiting: queued children)", ["kind", "status"])
JOB_DURATION = Histogram("tickdeck_job_duration_seconds", "Run time of a job in its runner, by kind and outcome",
                         ["kind", "status"], buckets=JOB_BUCKETS_S)

# -- quality ----------------------------------------------------------------------------------------
VALIDATION_RESULTS = Counter("tickdeck_validation_results", "Validator results of computed (not cached) "
                             "validations, by validator and status (PASS, WARN, FAIL)", ["validator", "status"])
VALIDATION_DAYS = Counter("tickdeck_validation_days", "Symbol-days validated, by overall status and whether the "
                          "stored result was reused", ["status", "cached"])

# -- serving ----------------------------------------------------------------------------------------
API_REQUESTS = Histogram("tickdeck_api_request_duration_seconds", "HTTP API requests by method, route template "
                         "(unmatched for 404s) and status code", ["method", "route", "status"],
                         buckets=API_BUCKETS_S)
WS_CLIENTS = Gauge("tickdeck_ws_clients", "WebSocket stream clients connected", multiprocess_mode="livesum")
WS_DROPPED_MESSAGES = Counter("tickdeck_ws_dropped_messages", "Stream messages discarded with a client dropped as "
                              "too slow")
WS_DROPPED_CLIENTS = Counter("tickdeck_ws_dropped_clients", "Stream clients dropped as too slow")
BUS_DROPPED = Counter("tickdeck_bus_dropped", "Bus messages dropped by full subscriber queues (drop-oldest)")
BUS_ERRORS = Counter("tickdeck_bus_errors", "Bus problems by kind: malformed, unknown (event type), "
                     "listener_errors, publish_errors", ["kind"])
BUS_ERROR_KINDS = ("malformed", "unknown", "listener_errors", "publish_errors")
CACHE_REQUESTS = Counter("tickdeck_cache_requests", "Cache lookups by cache (frames: the store's read cache; "
                         "validation: stored results reused) and result (hit, miss)", ["cache", "result"])

# -- state metrics (StateCollector, computed per scrape) ----------------------------------------------
STATE_METRICS = {
    "tickdeck_jobs": "Jobs in the queue by status and priority (0 high, 1 normal, 2 backfill)",
    "tickdeck_store_bytes": "Compressed bytes stored per ArcticDB library",
    "tickdeck_disk_free_ratio": "Free share (0-1) of the disk holding the data directory",
    "tickdeck_disk_free_bytes": "Free bytes on the disk holding the data directory",
    "tickdeck_market_session": "1 for the current session of the default calendar (pre, regular, after, closed)",
    "tickdeck_service_running": "1 when the supervised service runs (its state as the supervisor last wrote it)",
}

# Every metric name as a scrape shows it, without the sample suffixes (_total, _bucket, _count, _sum).
METRIC_NAMES: dict[str, str] = {}


def _register_names() -> None:
    for value in list(globals().values()):
        if isinstance(value, MetricWrapperBase):
            METRIC_NAMES[value._name] = value._type
    for name in STATE_METRICS:
        METRIC_NAMES[name] = "gauge"


_register_names()


# -- hooks --------------------------------------------------------------------------------------------
def observe_many(hist: Histogram, values) -> None:
    """Add every value of ``values`` (an array, seconds) to ``hist`` with one bucket count.

    Equivalent to ``for v in values: hist.observe(v)`` (a test checks it) at the cost of one call
    per non-empty bucket. It updates the histogram's bucket values directly (prometheus-client
    has no batch observe); ``observe`` keeps per-bucket, non-cumulative counts the same way.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        return
    bounds = np.asarray(hist._upper_bounds, dtype=np.float64)
    counts = np.bincount(np.searchsorted(bounds, v, side="left"), minlength=bounds.size)
    hist._sum.inc(float(v.sum()))
    for i in np.flatnonzero(counts[:bounds.size]):
        hist._buckets[i].inc(int(counts[i]))


def ticks(stage: str, n: int) -> None:
    """Count ``n`` ticks at ``stage`` (one of :data:`TICK_STAGES`)."""
    if n:
        TICKS.labels(stage).inc(int(n))


def live_acknowledged(n: int, line_latency_s) -> None:
    """A live batch of ``n`` ticks was acknowledged; ``line_latency_s``: each trade line's latency."""
    ticks("acknowledged", n)
    observe_many(LINE_LATENCY, line_latency_s)


def materialiser_round(seconds: float, received=None) -> None:
    """A materialiser round took ``seconds``; ``received`` (epoch seconds) of the journal rows it moved."""
    MATERIALISER_ROUND.observe(seconds)
    oldest = None if received is None or len(received) == 0 else float(np.min(received))
    JOURNAL_LAG.set(max(time.time() - oldest, 0.0) if oldest is not None else 0.0)


def job_finished(kind: str, status: str, seconds: float) -> None:
    JOBS_FINISHED.labels(kind, status).inc()
    JOB_DURATION.labels(kind, status).observe(seconds)


def validation_report(report) -> None:
    """Count a :class:`core.validation.result.DayReport` (computed results only, per validator)."""
    VALIDATION_DAYS.labels(report.status, "yes" if report.cached else "no").inc()
    if not report.cached:
        for r in report.results:
            VALIDATION_RESULTS.labels(r.validator, r.status).inc()


def api_request(method: str, route: str, status: int, seconds: float) -> None:
    API_REQUESTS.labels(method, route, str(status)).observe(seconds)


def cache_lookup(cache: str, hit: bool) -> None:
    CACHE_REQUESTS.labels(cache, "hit" if hit else "miss").inc()


def bus_count(what: str, n: int = 1) -> None:
    """A bus counter moved (:meth:`core.bus.LocalBus._count`): drops and problems are exported."""
    if what == "dropped":
        BUS_DROPPED.inc(n)
    elif what in BUS_ERROR_KINDS:
        BUS_ERRORS.labels(what).inc(n)


def ws_clients(delta: int) -> None:
    WS_CLIENTS.inc(delta)


def ws_dropped(messages: int) -> None:
    WS_DROPPED_CLIENTS.inc()
    WS_DROPPED_MESSAGES.inc(messages)


# -- state metrics ------------------------------------------------------------------------------------
class StateCollector:
    """The state metrics of :data:`STATE_METRICS` for one context, read when a scrape asks.

    A source that fails (SQL down, the store unreachable) leaves its metric out of that scrape
    instead of failing the scrape (the counters still answer); the failure is logged.
    """

    def __init__(self, ctx, *, clock=time.monotonic):
        self.ctx = ctx
        self.clock = clock
        self._sizes: tuple[float, dict] | None = None
        self._lock = threading.Lock()

    def collect(self):
        for part in (self._jobs, self._store, self._disk, self._session, self._services):
            try:
                yield from part()
            except Exception:  # noqa: BLE001 - see the class docstring
                log.warning("metrics: %s failed", part.__name__, exc_info=True)

    def _jobs(self):
        from sqlalchemy import func, select

        from tickdeck.core import db

        g = GaugeMetricFamily("tickdeck_jobs", STATE_METRICS["tickdeck_jobs"], labels=["status", "priority"])
        with self.ctx.catalog.engine.connect() as c:
            rows = c.execute(select(db.Job.status, db.Job.priority, func.count(db.Job.id))
                             .group_by(db.Job.status, db.Job.priority)).all()
        for status, priority, n in rows:
            g.add_metric([str(status), str(priority)], float(n))
        yield g

    def _store(self):
        with self._lock:  # sizes are read again after the TTL, or at once when a library was added or dropped
            now, names = self.clock(), sorted(self.ctx.store.library_names())
            if self._sizes is None or now - self._sizes[0] > STORE_SIZES_TTL_S or sorted(self._sizes[1]) != names:
                self._sizes = (now, self.ctx.store.sizes())
            sizes = self._sizes[1]
        g = GaugeMetricFamily("tickdeck_store_bytes", STATE_METRICS["tickdeck_store_bytes"], labels=["library"])
        for lib, n in sorted(sizes.items()):
            g.add_metric([lib], float(n))
        yield g

    def _disk(self):
        d = self.ctx.settings.data_dir
        u = shutil.disk_usage(d if d.exists() else d.parent)
        yield GaugeMetricFamily("tickdeck_disk_free_ratio", STATE_METRICS["tickdeck_disk_free_ratio"],
                                value=u.free / u.total if u.total else 0.0)
        yield GaugeMetricFamily("tickdeck_disk_free_bytes", STATE_METRICS["tickdeck_disk_free_bytes"], value=u.free)

    def _session(self):
        from tickdeck.core.demo_clock import market_now
        from tickdeck.core.session_status import session_status

        st = session_status(self.ctx.calendar(), market_now(self.ctx.settings))
        g = GaugeMetricFamily("tickdeck_market_session", STATE_METRICS["tickdeck_market_session"], labels=["session"])
        for s in ("pre", "regular", "after", "closed"):
            g.add_metric([s], 1.0 if st.session == s else 0.0)
        yield g

    def _services(self):
        from tickdeck.core.services import ServiceControl

        g = GaugeMetricFamily("tickdeck_service_running", STATE_METRICS["tickdeck_service_running"],
                              labels=["service"])
        for st in ServiceControl(self.ctx).statuses():
            g.add_metric([st.name], 1.0 if st.state == "running" and not st.stale() else 0.0)
        yield g


class _Chain:
    def __init__(self, *sources):
        self.sources = sources

    def collect(self):
        for s in self.sources:
            yield from s.collect()


def multiprocess_dir() -> str | None:
    """The directory every process writes its metrics to, or None (this process's metrics only)."""
    return os.environ.get(MULTIPROC_ENV) or None


def render(state: StateCollector | None = None) -> tuple[bytes, str]:
    """(body, content type) of a scrape: every process's metrics (multiprocess mode) or this
    process's (default registry), plus ``state``'s."""
    path = multiprocess_dir()
    if path:
        from prometheus_client.multiprocess import MultiProcessCollector

        from tickdeck.core.metrics_setup import forget_dead_processes

        forget_dead_processes(path)
        sources = [MultiProcessCollector(None, path=path)]
    else:
        sources = [REGISTRY]
    if state is not None:
        sources.append(state)
    return generate_latest(_Chain(*sources)), CONTENT_TYPE_LATEST


def start_exporter(port: int, address: str = "127.0.0.1"):
    """Serve this deployment's process metrics on ``http://address:port/metrics`` from a thread (a
    worker without a web server, e.g. one container of ``deploy/compose.yaml``); returns the server.

    Only process metrics: the state metrics come from the web server's ``/metrics``. Bind to a
    private address: this endpoint has no authentication.
    """
    from prometheus_client import CollectorRegistry, start_http_server

    path = multiprocess_dir()
    registry = REGISTRY
    if path:
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=path)
    server, _thread = start_http_server(port, addr=address, registry=registry)
    return server
