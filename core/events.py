"""Typed events: one frozen dataclass per event type, their topics, and the wire codec.

Every event a producer publishes is an instance of one :class:`Event` subclass, registered by
its class name in :data:`EVENT_TYPES`; its topic is a property of the event::

    collection     FeedStatusChanged, CollectionProgress, DayWritten, PostWriteFailed,
                   DayCollectionFailed, LiveBatch, DeadLettersReplayed, FeedSwitched
    ticks.<SYM>    TicksAppended (the batch's new ticks, columnar)
    bars.<SYM>.<spec>  BarClosed (one bar of a live stream), BarsBuilt (a stored series);
                   ``spec`` is the canonical spec string, e.g. ``time:1m``, ``tick:500``
    jobs           JobChanged, TriggerFired
    validation     ValidationDone
    health         QualityScored (0–100), HealthReported
    services       ServiceChanged
    replay         ReplayChanged (a scenario replay's state and position)
    indicators, alerts  (reserved for the indicators and alert engines)

A subscriber receives a :class:`Message` ``(topic, type, event, timestamp, sequence)`` whose
``event`` is the typed object. On the wire (Redis, later WebSockets) a message is one JSON
object ``{"type", "topic", "data", "timestamp", "sequence"}`` encoded with msgspec
(:func:`encode` / :func:`decode`): ``data`` holds the event's fields; numpy arrays travel as
lists and numpy scalars as numbers, and both come back as the declared types (arrays with
their declared dtypes); NaN travels as ``null``. :func:`decode` raises
:class:`UnknownEventType` or :class:`MalformedMessage`, which the bus counts and logs, never
passing them to a subscriber. The bus itself is :mod:`core.bus` (``LocalBus``, ``RedisBus``,
``make_bus`` stay importable from here). docs/events.md lists every type with its fields.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import msgspec
import numpy as np

from tickdeck.core.errors import TickdeckError

TOPICS = ("collection", "jobs", "validation", "health", "services", "indicators", "alerts", "replay")
FEED_KINDS = ("history", "level1")
FEED_STATES = ("connected", "reconnecting", "disconnected", "breaker_open")
# waiting: for child jobs
JOB_STATUSES = ("pending", "running", "waiting", "succeeded", "failed", "cancelled", "interrupted")
SERVICE_STATES = ("starting", "running", "stopping", "stopped", "failed", "restarting")
EVENT_TYPES: dict[str, type["Event"]] = {}


class EventError(TickdeckError):
    """An event or bus message is not usable."""


class UnknownEventType(EventError, KeyError):
    """A message names an event type this process does not know."""

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0] if self.args else "unknown event type"


class MalformedMessage(EventError, ValueError):
    """A message is not a well-formed event (not JSON, missing or mistyped fields)."""


@dataclass(frozen=True)
class Event:
    """Base of every event type: the subclass's name is its wire ``type``.

    Subclasses set ``TOPIC`` (or override :attr:`topic`), list array fields with their numpy
    dtypes in ``ARRAYS`` (converted on construction, so lists from the wire become arrays) and
    float fields that may be NaN in ``NAN_FIELDS`` (``None`` from the wire becomes NaN).
    """

    TOPIC: ClassVar[str] = ""
    ARRAYS: ClassVar[dict[str, str]] = {}
    NAN_FIELDS: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        EVENT_TYPES[cls.__name__] = cls

    @property
    def topic(self) -> str:
        return self.TOPIC

    def __post_init__(self) -> None:
        for name, dtype in self.ARRAYS.items():
            v = getattr(self, name)
            if not (isinstance(v, np.ndarray) and v.dtype == dtype):
                object.__setattr__(self, name, np.asarray(v, dtype=dtype))
        for name in self.NAN_FIELDS:
            if getattr(self, name) is None:
                object.__setattr__(self, name, math.nan)

    def to_dict(self) -> dict:
        """The fields as plain Python values (arrays as lists), as they are on the wire."""
        return msgspec.json.decode(msgspec.json.encode(self, enc_hook=_enc_hook))


def _one_of(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(allowed)}, got {value!r}")


def _day(day) -> str:
    return day.isoformat() if isinstance(day, dt.date) else str(day)


# -- collection ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class FeedStatusChanged(Event):
    """A feed client's connection state and counters (after every request or Level 1 batch).

    ``state``: connected | reconnecting | disconnected | breaker_open; ``breaker`` is the
    circuit breaker's own state (closed, open, half-open). ``latency_ms`` is the last request's
    time to first byte (history) or the last batch's oldest line → handed on (Level 1), None
    before the first one; ``updated_at`` is epoch seconds.
    """

    TOPIC: ClassVar[str] = "collection"
    host: str
    port: int
    kind: str  # history | level1
    state: str
    breaker: str
    lines: int
    ticks: int
    bad_lines: int
    errors: int
    reconnects: int
    latency_ms: float | None
    last_error: str
    updated_at: float

    def __post_init__(self) -> None:
        _one_of(self.kind, FEED_KINDS, "feed kind")
        _one_of(self.state, FEED_STATES, "feed state")
        super().__post_init__()


@dataclass(frozen=True)
class CollectionProgress(Event):
    """Progress of a collection run (``stage``, ``done`` of ``total``, ``percent`` 0–100)."""

    TOPIC: ClassVar[str] = "collection"
    stage: str
    done: int
    total: int
    message: str = ""
    job_id: int | None = None
    percent: float = 0.0

    @classmethod
    def from_progress(cls, p) -> "CollectionProgress":
        """From a :class:`tickdeck.core.progress.Progress`."""
        return cls(p.stage, int(p.done), int(p.total), p.message, p.job_id, float(p.percent))


@dataclass(frozen=True)
class DayWritten(Event):
    """A symbol-day's ticks were stored (whole-day write) and catalogued."""

    TOPIC: ClassVar[str] = "collection"
    symbol: str
    day: str  # YYYY-MM-DD
    ticks: int
    source: str
    ingest_id: str = ""


@dataclass(frozen=True)
class PostWriteFailed(Event):
    """An ``after_write`` hook (default bars, validation, …) failed for a stored day."""

    TOPIC: ClassVar[str] = "collection"
    symbol: str
    day: str
    hook: str
    error: str


@dataclass(frozen=True)
class DayCollectionFailed(Event):
    """One symbol-day was not collected; ``error`` is the error class name (``InvalidFeedSymbol``,
    ``FeedTimeout``, ``MalformedReply``, …), ``reason`` one line."""

    TOPIC: ClassVar[str] = "collection"
    symbol: str
    day: str
    reason: str
    error: str


@dataclass(frozen=True)
class LiveBatch(Event):
    """One Level 1 batch of live collection was journaled (``appended`` new ticks).

    ``origin`` is ``live``, or ``scenario`` for a batch of a scenario replay (its ticks carry the
    same origin), so a consumer keeping per-stream state (the indicators service) never closes
    one stream's batch with the other's."""

    TOPIC: ClassVar[str] = "collection"
    symbols: tuple[str, ...]
    appended: int
    batch: int
    server_time: str  # the feed's clock (ET wall time, ISO)
    origin: str = "live"


FEED_ROLES = ("primary", "backup")
SWITCH_REASONS = ("disconnect", "breaker_open", "stale", "history_failed", "primary_healthy", "backup_failed")


@dataclass(frozen=True)
class FeedSwitched(Event):
    """Live collection switched feed endpoints (failover to the backup, or back to the primary).

    ``from_feed`` / ``to_feed`` are ``host:history_port/l1_port``; ``to_role`` is the role now
    active (primary | backup); ``reason``: disconnect | breaker_open | stale (no trade for the
    configured seconds in market hours) | history_failed | primary_healthy (switching back) |
    backup_failed; ``detail`` says what happened; ``at`` is epoch seconds on the market clock
    the collector runs on (the emulator's in tests), ``wall`` epoch seconds on the wall clock.
    """

    TOPIC: ClassVar[str] = "collection"
    from_feed: str
    to_feed: str
    to_role: str
    reason: str
    detail: str
    at: float
    wall: float

    def __post_init__(self) -> None:
        _one_of(self.to_role, FEED_ROLES, "feed role")
        _one_of(self.reason, SWITCH_REASONS, "switch reason")
        super().__post_init__()


@dataclass(frozen=True)
class DeadLettersReplayed(Event):
    """Dead letters were replayed into their days (``days`` as ``SYMBOL/YYYY-MM-DD``)."""

    TOPIC: ClassVar[str] = "collection"
    replayed: int
    failed: int
    days: tuple[str, ...] = ()


# -- streams ------------------------------------------------------------------------------------
SCENARIO_ORIGIN = "scenario"  # TicksAppended/LiveBatch origin of a scenario replay (core.scenario)
TICK_ARRAYS = {"tick_id": "int64", "timestamp": "int64", "date": "int32", "time": "int64", "last": "float64",
               "last_sz": "int64", "last_type": "uint8", "mkt_ctr": "int16", "tot_vlm": "int64",
               "bid": "float64", "ask": "float64", "cond1": "uint8", "cond2": "uint8", "cond3": "uint8",
               "cond4": "uint8"}


@dataclass(frozen=True, eq=False)
class TicksAppended(Event):
    """New ticks of one symbol-day, columnar: the 14 raw fields plus ``timestamp`` (UTC ns).

    Only ticks not published before; in tick-id order. ``origin`` is ``live`` (a Level 1
    batch), ``history`` (a gap filled from history), ``scenario`` (:data:`SCENARIO_ORIGIN`: a
    scenario replay of stored days, :mod:`core.scenario`) or, only in a ``/ws`` resume,
    ``replay``. Arrays in process, lists on the wire.
    """

    TOPIC: ClassVar[str] = "ticks"
    ARRAYS: ClassVar[dict[str, str]] = TICK_ARRAYS
    symbol: str
    day: str
    origin: str
    tick_id: np.ndarray
    timestamp: np.ndarray
    date: np.ndarray
    time: np.ndarray
    last: np.ndarray
    last_sz: np.ndarray
    last_type: np.ndarray
    mkt_ctr: np.ndarray
    tot_vlm: np.ndarray
    bid: np.ndarray
    ask: np.ndarray
    cond1: np.ndarray
    cond2: np.ndarray
    cond3: np.ndarray
    cond4: np.ndarray

    @property
    def topic(self) -> str:
        return f"ticks.{self.symbol}"

    def __len__(self) -> int:
        return int(self.tick_id.shape[0])

    @classmethod
    def from_columns(cls, symbol: str, day, origin: str, columns: dict, timestamp: np.ndarray) -> "TicksAppended":
        """From raw columns (a mapping holding at least the 14 raw fields) and UTC ns times."""
        return cls(symbol, _day(day), origin, timestamp=timestamp,
                   **{k: columns[k] for k in TICK_ARRAYS if k != "timestamp"})

    def columns(self) -> dict[str, np.ndarray]:
        return {k: getattr(self, k) for k in TICK_ARRAYS}


@dataclass(frozen=True)
class BarClosed(Event):
    """One bar of a live stream closed: the bar row (``start``/``end`` UTC ns) plus symbol and spec.

    ``avg_spread_bps`` is NaN when no trade of the bar had a valid quote. ``origin`` is the origin of
    the batches the bar was built from: ``live`` (live collection), or ``scenario``
    (:data:`SCENARIO_ORIGIN`: a scenario replay's bar builder), so a consumer can keep a replay's bars
    apart from live bars of the same symbol and spec.
    """

    NAN_FIELDS: ClassVar[tuple[str, ...]] = ("avg_spread_bps",)
    symbol: str
    spec: str  # canonical spec string, e.g. time:1m
    start: int
    end: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    dollar_volume: float
    vwap: float
    trade_count: int
    buy_volume: float
    sell_volume: float
    avg_spread_bps: float | None
    session: int
    spread_count: int
    origin: str = "live"  # live | scenario: the batches the bar was built from

    @property
    def topic(self) -> str:
        return f"bars.{self.symbol}.{self.spec}"


BAR_FIELDS = tuple(f.name for f in dataclasses.fields(BarClosed) if f.name not in ("symbol", "spec", "origin"))


@dataclass(frozen=True)
class BarsBuilt(Event):
    """A stored bar series of one symbol-day was (re)built with ``bars`` bars."""

    symbol: str
    day: str
    spec: str
    family: str
    bars: int

    @property
    def topic(self) -> str:
        return f"bars.{self.symbol}.{self.spec}"


# -- jobs ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class JobChanged(Event):
    """A job's state changed. ``change`` says what happened: submitted, started, progress,
    cancel_requested, cancelled, retried, reprioritised, succeeded, failed or interrupted;
    ``progress`` is 0–100; ``error`` the last line of a failure."""

    TOPIC: ClassVar[str] = "jobs"
    id: int
    kind: str
    status: str
    progress: float
    message: str
    parent_id: int | None = None
    priority: int = 1
    error: str = ""
    change: str = ""
    worker: str = ""

    def __post_init__(self) -> None:
        _one_of(self.status, JOB_STATUSES, "job status")
        if not 0.0 <= self.progress <= 100.0:
            raise ValueError(f"job progress must be 0–100, got {self.progress!r}")
        super().__post_init__()


@dataclass(frozen=True)
class TriggerFired(Event):
    """A market trigger (``open``/``close``) fired for ``day``; ``job_id`` is the job it queued."""

    TOPIC: ClassVar[str] = "jobs"
    action: str
    day: str
    at: str  # ISO time (ET) the trigger saw
    job_id: int | None = None


# -- validation and health ----------------------------------------------------------------------
@dataclass(frozen=True)
class ValidationDone(Event):
    """A symbol-day was validated: overall ``status`` and number of issues."""

    TOPIC: ClassVar[str] = "validation"
    symbol: str
    day: str
    status: str
    issues: int
    ingest_id: str = ""


@dataclass(frozen=True)
class QualityScored(Event):
    """A symbol-day's quality score, on the 0–100 scale."""

    TOPIC: ClassVar[str] = "health"
    symbol: str
    day: str
    score: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.score <= 100.0:
            raise ValueError(f"quality score must be 0–100, got {self.score!r}")
        super().__post_init__()


@dataclass(frozen=True)
class HealthCheck:
    """One check of a health report (not an event by itself)."""

    name: str
    status: str  # ok | degraded | down
    detail: str
    value: float | None = None
    elapsed_ms: float = 0.0


@dataclass(frozen=True)
class HealthReported(Event):
    """A system health report: overall ``status`` (healthy | degraded | unhealthy) and its checks."""

    TOPIC: ClassVar[str] = "health"
    status: str
    at: str  # ISO time (UTC)
    checks: tuple[HealthCheck, ...]
    library_bytes: dict[str, int]


@dataclass(frozen=True)
class ServiceChanged(Event):
    """A long-running service (live collection, indicators, alerts) changed state.

    ``since`` is epoch seconds of the current state; ``restarts`` counts crash restarts."""

    TOPIC: ClassVar[str] = "services"
    name: str
    state: str
    restarts: int = 0
    last_error: str = ""
    since: float = 0.0
    message: str = ""

    def __post_init__(self) -> None:
        _one_of(self.state, SERVICE_STATES, "service state")
        super().__post_init__()


# -- scenario replay ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ReplayChanged(Event):
    """A scenario replay (:mod:`core.scenario`) changed state or moved on: ``state`` is playing,
    paused, finished or stopped; ``position`` the data time of the next tick (UTC ns); ``speed``
    -1 for "as fast as possible"; ``delivered`` of ``total`` ticks published in ``batches``."""

    TOPIC: ClassVar[str] = "replay"
    state: str
    symbols: tuple[str, ...]
    start: str
    end: str
    speed: float
    position: int
    delivered: int
    total: int
    batches: int


# -- indicators and alerts ----------------------------------------------------------------------
INDICATOR_GROUPS = ("breadth", "options", "derived")
INDICATOR_SOURCES = ("feed", "local", "derived", "reconciled")


@dataclass(frozen=True, eq=False)
class StatisticUpdated(Event):
    """A DTN calculated statistic's new value from the feed: a Level 1 update of a statistic
    symbol (``JTNT.Z`` …), routed to the indicator path instead of a tick day.

    ``indicator`` is its name in :mod:`core.indicators.catalog` (e.g. ``TICK.NYSE``); ``at`` is the
    feed's time of the update (UTC ns); ``value`` is NaN when the feed sent none."""

    TOPIC: ClassVar[str] = "indicators"
    NAN_FIELDS: ClassVar[tuple[str, ...]] = ("value",)
    dtn_symbol: str
    indicator: str
    day: str
    at: int
    value: float | None


@dataclass(frozen=True, eq=False)
class IndicatorUpdate(Event):
    """New values of indicator series at one instant, published by the indicators service.

    ``names`` and ``values`` are parallel (a value may be NaN: not defined yet). ``group`` is one of
    :data:`INDICATOR_GROUPS`; ``symbol`` is empty for market-wide series and the symbol for derived
    metrics; ``source`` is ``feed`` (a DTN statistic), ``local`` (computed over the collected
    universe), ``derived`` (per-symbol metrics) or ``reconciled`` (local minus feed)."""

    TOPIC: ClassVar[str] = "indicators"
    ARRAYS: ClassVar[dict[str, str]] = {"values": "float64"}
    group: str
    source: str
    day: str
    at: int
    names: tuple[str, ...]
    values: np.ndarray
    symbol: str = ""

    def __post_init__(self) -> None:
        _one_of(self.group, INDICATOR_GROUPS, "indicator group")
        _one_of(self.source, INDICATOR_SOURCES, "indicator source")
        object.__setattr__(self, "names", tuple(self.names))
        super().__post_init__()
        if len(self.names) != self.values.shape[0]:
            raise ValueError(f"IndicatorUpdate has {len(self.names)} names but {self.values.shape[0]} values")

    def as_dict(self) -> dict[str, float]:
        """``{name: value}``."""
        return dict(zip(self.names, self.values.tolist()))


@dataclass(frozen=True)
class AlertFired(Event):
    """An alert rule fired: its ``alert_history`` row ``history_id``. ``at`` is epoch seconds of the
    observation that fired it (the feed's or the simulated clock's time, not the wall clock)."""

    TOPIC: ClassVar[str] = "alerts"
    NAN_FIELDS: ClassVar[tuple[str, ...]] = ("value", "threshold")
    alert_id: int
    history_id: int
    name: str
    owner: str
    watch: str  # what the rule watches, e.g. indicator:TICK.NYSE, quality:AAPL, feed:stale (core.alert_rules)
    condition: str  # above | below | crosses_up | crosses_down | change_pct | …
    value: float | None
    threshold: float | None
    message: str
    at: float


@dataclass(frozen=True)
class AlertAcknowledged(Event):
    """A fired alert (its ``alert_history`` row) was acknowledged by ``by``."""

    TOPIC: ClassVar[str] = "alerts"
    alert_id: int
    history_id: int
    by: str
    at: float


# -- messages and the codec ---------------------------------------------------------------------
@dataclass(frozen=True)
class Message:
    """What a subscriber receives: the typed ``event`` with its topic, type name, publish time
    (epoch seconds) and the publisher's sequence number (increasing per publisher)."""

    topic: str
    type: str
    event: Event
    timestamp: float
    sequence: int


class _Wire(msgspec.Struct):
    type: str
    topic: str
    data: msgspec.Raw
    timestamp: float
    sequence: int


def _enc_hook(obj: Any):
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    raise NotImplementedError(f"cannot encode {type(obj).__name__} in an event")


def _dec_hook(type_, obj):
    if type_ is np.ndarray:  # the event's __post_init__ applies the declared dtype
        if not isinstance(obj, list):
            raise ValueError(f"expected a list for an array field, got {type(obj).__name__}")
        arr = np.asarray(obj)
        if arr.dtype == object:  # null (NaN on the wire) among numbers
            arr = np.array([math.nan if v is None else v for v in obj], dtype=np.float64)
        return arr
    raise NotImplementedError(f"cannot decode {type_!r}")


_encoder = msgspec.json.Encoder(enc_hook=_enc_hook)
_wire_decoder = msgspec.json.Decoder(_Wire)
_decoders: dict[str, msgspec.json.Decoder] = {}


def encode(message: Message) -> bytes:
    """The wire form of ``message``: JSON ``{"type", "topic", "data", "timestamp", "sequence"}``.

    Raises
    ------
    EventError
        A field holds a value that has no wire form.
    """
    try:
        return _encoder.encode({"type": message.type, "topic": message.topic, "data": message.event,
                                "timestamp": message.timestamp, "sequence": message.sequence})
    except (TypeError, NotImplementedError) as e:
        raise EventError(f"{message.type} on {message.topic} cannot be encoded: {e}") from None


def decode(raw: bytes | str) -> Message:
    """The :class:`Message` of one wire message.

    Raises
    ------
    UnknownEventType
        ``type`` is not a registered event type.
    MalformedMessage
        Not JSON, not the envelope, or ``data`` does not fit the type's fields.
    """
    try:
        wire = _wire_decoder.decode(raw)
    except (msgspec.DecodeError, ValueError) as e:
        raise MalformedMessage(f"not an event message: {e}") from None
    cls = EVENT_TYPES.get(wire.type)
    if cls is None:
        raise UnknownEventType(f"unknown event type {wire.type!r} on {wire.topic!r}")
    dec = _decoders.get(wire.type)
    if dec is None:
        dec = _decoders[wire.type] = msgspec.json.Decoder(cls, dec_hook=_dec_hook)
    try:
        event = dec.decode(wire.data)
    except (msgspec.DecodeError, ValueError, TypeError) as e:
        raise MalformedMessage(f"{wire.type} on {wire.topic!r}: {e}") from None
    return Message(wire.topic, wire.type, event, wire.timestamp, wire.sequence)


def event_type(name: str) -> type[Event]:
    """The event class registered as ``name``.

    Raises
    ------
    UnknownEventType
    """
    try:
        return EVENT_TYPES[name]
    except KeyError:
        raise UnknownEventType(f"unknown event type {name!r}; known: {', '.join(sorted(EVENT_TYPES))}") from None
