"""Pydantic models of the core records the API returns, built from the core frozen dataclasses.

A model subclasses :class:`Record` (read from attributes: ``DatasetOut.model_validate(status)``
takes a core dataclass as it is) and names only what the API promises; one section per resource,
each stream appends its own. Problem documents (:mod:`app.api.errors`) are :class:`Problem`;
:data:`PROBLEM_RESPONSES` documents them on every route of ``/api/v1``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


# -- shared -----------------------------------------------------------------------------------
class Record(BaseModel):
    """Base of every response model: frozen, read from a core dataclass's attributes."""

    model_config = ConfigDict(from_attributes=True, frozen=True)


class Problem(BaseModel):
    """An error (RFC 9457 ``application/problem+json``); ``detail`` carries the core error's message."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str


def _problem(description: str) -> dict:
    schema = Problem.model_json_schema()
    return {"description": description, "content": {"application/problem+json": {"schema": schema}}}


PROBLEM_RESPONSES: dict = {
    401: _problem("no, an unknown, a revoked or an expired API key"),
    403: _problem("the caller's role is too low (or a cookie call without X-CSRF-Token)"),
    404: _problem("unknown symbol, day or record"),
    422: _problem("invalid parameter (symbol, bar spec, date, range, body)"),
    429: _problem("rate limit reached; see Retry-After"),
}


class Page(Record):
    """Paging of a list answer: pass ``next_cursor`` as ``cursor`` for the next page (``None``: the end)."""

    next_cursor: str | None = None
    limit: int


# -- health (outside /api/v1) -----------------------------------------------------------------
class Liveness(Record):
    """``GET /healthz``: the process answers."""

    status: Literal["ok"] = "ok"


class Readiness(Record):
    """``GET /readyz``: whether the process can serve (SQL, store and bus answer), with each check."""

    status: Literal["ready", "not ready"]
    checks: dict[str, str]


# -- auth and keys ---------------------------------------------------------------------------
class Me(Record):
    """``GET /api/v1/me``: who the call acts as, and the CSRF token for cookie calls that change things."""

    user: str
    role: Literal["viewer", "researcher", "admin"]
    via: Literal["key", "cookie", "local"]
    key_name: str | None = None
    csrf_token: str | None = Field(None, description="send as X-CSRF-Token on mutating calls made with the "
                                                     "session cookie; null for key and local calls")


class ApiKeyOut(Record):
    """A stored API key (never its secret)."""

    id: int
    user: str
    name: str
    prefix: str
    role: str | None = Field(None, description="the key's role (null: its user's role)")
    created_at: dt.datetime
    last_used_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None
    active: bool


class ApiKeyCreate(BaseModel):
    """``POST /api/v1/keys``: a key for ``user`` (default the caller) with a label, role and lifetime."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field("", max_length=64)
    user: str | None = Field(None, max_length=64, description="admins only: another user's key")
    role: Literal["viewer", "researcher", "admin"] | None = None
    expires: str | None = Field(None, max_length=12, description="a lifetime such as 90d, 12h, 2w, 1y",
                                examples=["90d"])


class ApiKeyCreated(Record):
    """A new key: the secret is in this answer and nowhere else."""

    key: ApiKeyOut
    secret: str


# -- datasets ----------------------------------------------------------------------------------
# Days the data routes accept (as OpsDay below): what the calendars and nanosecond timestamps cover.
DAY_MIN, DAY_MAX = dt.date(1970, 1, 1), dt.date(2199, 12, 31)


class DatasetStatusOut(Record):
    """A dataset's status (``tickdeck.core.status.DatasetStatus``): freshness, quality on the 0–100 scale,
    days failing validation and the last failed collection; ``label`` is what a badge says."""

    state: Literal["fresh", "stale", "outdated", "empty", "failing"]
    level: Literal["ok", "warn", "bad"]
    label: str
    detail: str
    quality: float | None = Field(None, description="mean day score, 0-100 (null: never scored)")
    quality_band: Literal["good", "fair", "poor"] | None = None
    expected_day: dt.date = Field(description="the calendar's last completed trading day")
    days_behind: int
    missing_days: int = Field(description="trading days between the first and last stored day with nothing stored")
    failing_days: int
    last_error: str | None = None
    last_error_job: int | None = None
    last_error_at: dt.datetime | None = None


class DatasetOut(Record):
    """One dataset (``tickdeck.core.catalog.DatasetSummary``) with its status."""

    symbol: str
    source: str
    venue: str
    asset_class: str
    calendar: str
    first_day: dt.date | None = None
    last_day: dt.date | None = None
    days: int
    ticks: int
    volume: int
    last_update: dt.datetime | None = None
    quality_score: float | None = Field(None, description="mean day score, 0-100")
    status: DatasetStatusOut


class DatasetList(Record):
    """``GET /datasets``: the datasets passing the filters, ``offset``/``limit`` of ``total``."""

    total: int
    offset: int
    limit: int
    items: list[DatasetOut]


# -- data: metadata, ticks, bars ------------------------------------------------------------------
class InstrumentTermsOut(Record):
    """How stored sizes become quantities and money (``tickdeck.core.instruments.InstrumentTerms``)."""

    asset_class: str
    multiplier: float
    size_decimals: int
    lot_size: float | None = None
    tick_size: float | None = None


class TickDayOut(Record):
    """Tier-1 metadata of one stored tick day (``tickdeck.core.catalog.TickDayRow``); ``first_ns``/``last_ns``
    are the first and last trade times in ns since the epoch (UTC)."""

    day: dt.date
    source: str
    ticks: int
    first_ns: int | None = None
    last_ns: int | None = None
    volume: int
    dollar_volume: float
    vwap: float | None = None
    open: float | None = None
    high: float | None = None
    low: float | None = None
    close: float | None = None
    avg_spread_bps: float | None = None
    pre_ticks: int
    regular_ticks: int
    after_ticks: int
    quality_score: float | None = None
    updated_at: dt.datetime


class BarSeriesOut(Record):
    """A stored bar series of a dataset over its days (``tickdeck.core.datasets.BarSeriesSummary``)."""

    family: str
    spec: str
    days: int
    bars: int
    first_day: dt.date
    last_day: dt.date
    source: str = "ticks"  # "ticks" (built from them) or the system imported series came from ("nautilus")


class DatasetMetadata(Record):
    """``GET /data/{symbol}/metadata``: the dataset, its instrument terms, per-day tier-1 metadata and
    the stored bar series (other specs are computed on demand by ``GET /data/{symbol}/bars/{spec}``)."""

    dataset: DatasetOut
    description: str
    terms: InstrumentTermsOut
    days: list[TickDayOut]
    bar_series: list[BarSeriesOut]


class TickPageOut(BaseModel):
    """``GET /data/{symbol}/ticks?format=json``: one page of rows (objects keyed by column; timestamps ISO
    8601 with nanoseconds and the ET offset; NaN as null). Pass ``next_cursor`` as ``cursor`` for the next
    page; ``null`` at the end."""

    symbol: str
    start: dt.date
    end: dt.date
    session: str
    columns: list[str]
    rows: int
    next_cursor: str | None = None
    data: list[dict]


class BarsOut(BaseModel):
    """``GET /data/{symbol}/bars/{spec}?format=json``: the bar rows (``start``/``end`` ISO 8601 with the
    ET offset)."""

    symbol: str
    spec: str
    start: dt.date
    end: dt.date
    session: str
    columns: list[str]
    rows: int
    data: list[dict]


# -- validation and quality ------------------------------------------------------------------------
Severity = Literal["CRITICAL", "HIGH", "MEDIUM", "LOW"]
CheckStatus = Literal["PASS", "WARN", "FAIL"]


class IssueOut(Record):
    """One finding (``tickdeck.core.validation.Issue``): what, how bad, where (ISO 8601, ET), how many rows."""

    validator: str
    severity: Severity
    code: str
    message: str
    start: str | None = None
    end: str | None = None
    rows: int = 0
    examples: list[dict] = Field(default_factory=list)


class ValidatorResultOut(Record):
    """What one validator found (``tickdeck.core.validation.ValidationResult``)."""

    validator: str
    status: CheckStatus
    checks: list[str]
    issues: list[IssueOut]
    metrics: dict
    data_version: str = ""
    created_at: dt.datetime | None = None


class DayReportOut(Record):
    """``GET /validate/{type}/{symbol}/{date}``: every asked validator's result for the day, the overall
    status and ``cached`` (true: stored results of the same data version were reused)."""

    symbol: str
    day: dt.date
    status: CheckStatus
    data_version: str = ""
    cached: bool = False
    results: list[ValidatorResultOut]


class QualityValidateIn(BaseModel):
    """``POST /quality/validate``: validate and score ``symbol`` on its stored days in ``[start, end]``."""

    model_config = ConfigDict(extra="forbid")

    symbol: str = Field(max_length=32, examples=["AAPL"])
    start: dt.date = Field(ge=DAY_MIN, le=DAY_MAX)
    end: dt.date | None = Field(None, ge=DAY_MIN, le=DAY_MAX, description="default: start")


class DayQualityOut(Record):
    """A stored day's quality score (0–100) and components; all null when the day was never scored."""

    day: dt.date
    score: float | None = None
    band: Literal["good", "fair", "poor"] | None = None
    completeness: float | None = None
    accuracy: float | None = None
    timeliness: float | None = None
    consistency: float | None = None
    details: dict = Field(default_factory=dict)
    scored_at: dt.datetime | None = None


class QualityOut(Record):
    """``GET /quality/{symbol}``: the score of every stored day in the range and their mean."""

    symbol: str
    start: dt.date
    end: dt.date
    mean: float | None = None
    band: Literal["good", "fair", "poor"] | None = None
    days: list[DayQualityOut]


class GapOut(Record):
    """A hole in a day's ticks (``gap``) or a trading day with nothing stored (``missing_day``)."""

    day: dt.date
    kind: Literal["gap", "missing_day"]
    severity: Severity
    session: str | None = None
    start: str | None = None
    end: str | None = None
    seconds: float | None = None


class GapsOut(Record):
    """``GET /gaps/{symbol}``: gaps of ``min_severity`` or worse in the range, in time order."""

    symbol: str
    start: dt.date
    end: dt.date
    min_severity: Severity
    counts: dict[str, int]
    gaps: list[GapOut]


# -- catalog ---------------------------------------------------------------------------------------
class SpecNodeOut(Record):
    spec: str
    days: int
    bars: int


class FamilyNodeOut(Record):
    family: str
    specs: list[SpecNodeOut]


class InstrumentNodeOut(Record):
    """An instrument: its ticks (days, count, coverage) and stored bar families."""

    symbol: str
    asset_class: str
    source: str
    days: int
    ticks: int
    first_day: dt.date | None = None
    last_day: dt.date | None = None
    bars: list[FamilyNodeOut]


class VenueNodeOut(Record):
    venue: str
    instruments: list[InstrumentNodeOut]


class CatalogOut(Record):
    """``GET /catalog``: venue → instrument → data types (ticks; bar families and specs), with counts."""

    instruments: int
    ticks: int
    venues: list[VenueNodeOut]


# -- operations: jobs ---------------------------------------------------------------------------
# Days a request may name: the calendars and nanosecond timestamps cover these (year 1 or 9999 would not).
OpsDay = Annotated[dt.date, Field(ge=dt.date(1970, 1, 1), le=dt.date(2199, 12, 31))]
JobStatus = Literal["pending", "running", "waiting", "succeeded", "failed", "cancelled", "interrupted"]


class JobOut(Record):
    """A job (``tickdeck.jobs.queue.JobRecord``); ``message`` says how it ended (a failure's one-line error)."""

    id: int
    kind: str
    params: dict
    priority: int = Field(description="0 high, 1 normal, 2 backfill")
    status: JobStatus
    progress: float = Field(description="0-100")
    message: str
    created_at: dt.datetime
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    heartbeat_at: dt.datetime | None = None
    retries: int
    max_retries: int
    requested_by: str
    worker: str
    cancel_requested: bool
    result: dict
    parent_id: int | None = None


class JobAccepted(Record):
    """202 answer of long work: the queued job; ``location`` (also the Location header) is where to follow it."""

    job: JobOut
    location: str
    download: str | None = Field(None, description="exports: where the file is served once the job succeeded")


# -- operations: services, feeds, collection -------------------------------------------------------
class ServiceOut(Record):
    """A supervised service's status (``tickdeck.core.services.ServiceStatus``) with ``description`` in words."""

    name: str
    state: Literal["stopped", "starting", "running", "stopping", "restarting", "failed"]
    desired: Literal["running", "stopped"]
    description: str
    since: str | None = None
    restarts: int
    failures: int
    last_error: str
    detail: str
    next_start: str | None = None
    params: dict
    requested_by: str
    host: str
    beat_at: str | None = None
    stuck: bool


class FeedStatusOut(Record):
    """A feed client's last known status (``tickdeck.core.events.FeedStatusChanged``) and its age in seconds."""

    kind: Literal["history", "level1"]
    host: str
    port: int
    state: Literal["connected", "reconnecting", "disconnected", "breaker_open"]
    breaker: str
    lines: int
    ticks: int
    bad_lines: int
    errors: int
    reconnects: int
    latency_ms: float | None = None
    last_error: str
    updated_at: float = Field(description="epoch seconds")
    age_s: float


class FeedSwitchOut(Record):
    """Live collection's newest feed switch (``tickdeck.core.events.FeedSwitched``): failover to the backup
    endpoint or back to the primary."""

    from_feed: str = Field(description="host:history_port/l1_port switched away from")
    to_feed: str
    to_role: Literal["primary", "backup"]
    reason: str = Field(description="disconnect | breaker_open | stale | history_failed | primary_healthy | "
                                    "backup_failed")
    detail: str
    at: float = Field(description="epoch seconds on the market clock the collector runs on")
    wall: float = Field(description="epoch seconds")


class FeedsStatus(Record):
    """``GET /feeds/status``: the last status of each feed client (empty before any feed was used) and live
    collection's newest failover switch (null when it never switched)."""

    feeds: list[FeedStatusOut]
    last_switch: FeedSwitchOut | None = None


class CollectionStart(BaseModel):
    """``POST /collection/start``.

    ``mode=live``: start the supervised live service with ``symbols`` (default: the watchlist's IQFeed
    datasets); ``mode=history``: queue a collect job for ``symbols`` over the trading days ``start``..``end``.
    """

    model_config = ConfigDict(extra="forbid")

    mode: Literal["live", "history"] = "live"
    symbols: list[str] = Field(default_factory=list, max_length=500, examples=[["AAPL", "MSFT"]])
    start: OpsDay | None = Field(None, description="history: first day")
    end: OpsDay | None = Field(None, description="history: last day")
    priority: int = Field(0, ge=0, le=2, description="history: job priority (0 high, 1 normal, 2 backfill)")


class CollectionStarted(Record):
    """What ``POST /collection/start`` asked for: the live service's status or the queued job."""

    mode: Literal["live", "history"]
    location: str
    service: ServiceOut | None = None
    job: JobOut | None = None


class CollectionStatus(Record):
    """``GET /collection/status``: the live service, unfinished collect jobs, the feed."""

    service: ServiceOut
    supervisor_alive: bool
    jobs: list[JobOut]
    feeds: list[FeedStatusOut]


class SymbolsChange(BaseModel):
    """``POST /feeds/subscribe``: symbols to add to the running live service."""

    model_config = ConfigDict(extra="forbid")

    symbols: list[str] = Field(min_length=1, max_length=500, examples=[["NVDA"]])


class SymbolsChanged(Record):
    """The live service's symbols as requested now (it applies them within about a second)."""

    symbols: list[str]
    added: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    service: ServiceOut


# -- operations: exports and imports ------------------------------------------------------------
class ExportIn(BaseModel):
    """``POST /exports``: what ``tickdeck export`` takes; the file is written in the exports directory
    under a generated name and served by ``GET /exports/{job id}/download``."""

    model_config = ConfigDict(extra="forbid")

    symbols: list[str] = Field(min_length=1, max_length=200, examples=[["AAPL"]])
    start: OpsDay
    end: OpsDay
    spec: str = Field("ticks", max_length=64, description="'ticks' or a bar spec such as time:1m")
    session: Literal["all", "pre", "regular", "after"] = "all"
    columns: list[str] | None = Field(None, max_length=100)
    format: Literal["csv", "parquet", "jsonl", "nautilus"] = Field(
        "parquet", description="nautilus: a NautilusTrader catalog directory (downloaded as a zip)")
    partition: bool = Field(False, description="hive-partitioned parquet (downloaded as a zip)")


# -- operations: admin ----------------------------------------------------------------------------
class HealthCheckOut(Record):
    name: str
    status: Literal["ok", "degraded", "down"]
    detail: str
    value: float | None = None
    elapsed_ms: float


class HealthOut(Record):
    """``GET /admin/health-check`` (``tickdeck.core.health``): each part's check and the overall status."""

    status: Literal["healthy", "degraded", "unhealthy"]
    at: dt.datetime
    checks: list[HealthCheckOut]
    library_bytes: dict[str, int]


class DataStatusOut(Record):
    """One dataset's freshness and quality (``tickdeck.core.status.DatasetStatus``)."""

    symbol: str
    state: Literal["fresh", "stale", "outdated", "empty", "failing"]
    level: Literal["ok", "warn", "bad"]
    label: str
    detail: str
    quality: float | None = None
    quality_band: str | None = None
    first_day: dt.date | None = None
    last_day: dt.date | None = None
    expected_day: dt.date
    days_behind: int
    missing_days: int
    failing_days: int
    last_error: str | None = None
    last_error_job: int | None = None
    last_error_at: dt.datetime | None = None


class DataStatus(Record):
    """``GET /admin/data-status``: every dataset's status, and how many are in each state."""

    datasets: list[DataStatusOut]
    counts: dict[str, int]


class CleanupOut(Record):
    """``POST /admin/cleanup`` (``tickdeck.core.retention``): what was (dry run: would be) deleted."""

    dry_run: bool
    tick_days: list[str]
    bar_series: list[str]
    validation_rows: int
    dead_letters: int
    bytes_freed: int
    compacted: list[str]
    export_temps: list[str]
    previous_versions: list[str]


class BackfillIn(BaseModel):
    """``POST /admin/backfill``: fill missing days of ``symbols`` (default: the watchlist) over
    ``start``..``end``; without a range, every stale dataset up to the last completed day."""

    model_config = ConfigDict(extra="forbid")

    symbols: list[str] | None = Field(None, max_length=500)
    start: OpsDay | None = None
    end: OpsDay | None = None


class DayWrittenOut(Record):
    symbol: str
    day: dt.date
    ticks: int
    source: str
    updated_at: dt.datetime


class PipelineHealthOut(Record):
    """``GET /pipeline/health`` (``tickdeck.core.pipeline_health``)."""

    status: Literal["ok", "degraded"]
    issues: list[str]
    jobs: dict[str, int]
    oldest_pending_s: float | None = None
    services: list[ServiceOut]
    supervisor_alive: bool
    feeds: list[FeedStatusOut]
    dead_letters_new: int
    last_days_written: list[DayWrittenOut]


# -- indicators ------------------------------------------------------------------------------------
class IndicatorColumns(Record):
    """One day of an indicator group as JSON columns (``tickdeck.core.indicator_series.json_columns``)."""

    group: str = Field(description="market-breadth, options-flow or derived-metrics")
    day: dt.date
    source: str = Field(description="local, feed or diff (breadth); feed (options); derived")
    symbol: str = Field(description="the symbol of derived series; empty for market-wide series or the table")
    window: str = Field(description="the window asked for (derived metrics), or empty")
    days: list[dt.date] = Field(description="every day stored for the group")
    symbols: list[str] = Field(description="derived metrics: the symbols stored that day")
    rows: int
    names: list[str] = Field(description="the series (columns) in order, after the index column")
    columns: dict[str, list[float | str | None]] = Field(
        description="index column first (timestamp as ISO 8601 text with the ET offset, or symbol), then a "
                    "list per series; NaN (not defined yet) is null")


# -- streams (/ws/...) -------------------------------------------------------------------------------
class StreamStatsOut(Record):
    """``GET /api/v1/streams``: this server process's live streams (``tickdeck.core.streams.StreamStats``)."""

    clients: int = Field(description="WebSocket stream connections open now")
    channels: int = Field(description="channels at least one of them is subscribed to")
    frames_sent: int = Field(description="WebSocket frames sent (each a JSON array of messages)")
    messages_sent: int
    dropped_clients: int = Field(description="clients closed with 4008 because they did not read fast enough")
    dropped_messages: int = Field(description="messages those clients had waiting when they were dropped")
    replays: int = Field(description="tick replays served to clients resuming with since")
    replayed_ticks: int
    send_latency_p50_ms: float | None = Field(None, description="bus publish (the oldest event of a frame) to the "
                                              "frame written to its socket, over the last 20,000 frames")
    send_latency_p99_ms: float | None = None
