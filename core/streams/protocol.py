"""Stream protocol: channel names, tick cursors (``since``), settings, and message encoding.

See :mod:`core.streams` for the protocol as a whole.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import msgspec
import numpy as np

from tickdeck.core import naming
from tickdeck.core.bars.spec import parse_spec
from tickdeck.core.errors import ConfigError, InvalidBarSpec, InvalidSymbol, TickdeckError
from tickdeck.core.events import TICK_ARRAYS, TOPICS, TicksAppended

CLOSE_TOO_SLOW = 4008  # the client did not read fast enough: its queue overflowed
CLOSE_BAD_REQUEST = 4400  # a path or query the stream cannot serve
HEARTBEAT_S = 10.0
BATCH_MS = 100  # default window: at most ~10 frames/s per client, each with every update of the window
MAX_BATCH_MS = 1000
# A client is too slow when, waiting to be sent, it has more than QUEUE_MESSAGES messages or
# QUEUE_BYTES of them, or the oldest has waited MAX_LAG_S. Messages are shared by every client of a
# window (one encoding), so the byte bound is about lag, not memory: a burst (the history fill at
# the start of live collection, tens of MB) passes; a client that stops reading is dropped.
QUEUE_MESSAGES = 20_000  # ~40 s of 50 busy channels at 10 windows/s
QUEUE_BYTES = 256 << 20
MAX_LAG_S = 10.0
CLOSE_TIMEOUT_S = 10.0  # how long the close frame to a dropped client may wait for it to read
REPLAY_MAX_DAYS = 3  # a since older than this many stored days is refused (use the ticks endpoint)
TICKS_PER_MESSAGE = 5_000  # a longer run of ticks is split (~0.5 MB of JSON per message)
FRAME_BYTES = 1 << 20  # messages are joined into one WebSocket frame up to this size (a bigger one goes alone)
MAX_CHANNELS = 500  # per connection
CONTROL_CHANNEL = None  # the channel of heartbeats and replies

_KINDS = ("tick", "bar")
CHANNEL_GRAMMAR = ("tick:<SYMBOL> | bar:<SYMBOL>:<SPEC> (e.g. bar:AAPL:time:1m) | " + " | ".join(TOPICS))


class StreamError(TickdeckError):
    """A stream request cannot be served."""


class InvalidChannel(StreamError, ValueError):
    """A channel name does not parse (the message gives the grammar)."""


class InvalidCursor(StreamError, ValueError):
    """A ``since`` cursor does not parse or reaches too far back."""


# -- channels and cursors -----------------------------------------------------------------------
@dataclass(frozen=True)
class Channel:
    """One stream: ``name`` (canonical), ``kind`` (tick | bar | topic), its bus ``topic`` and the
    event type it carries (None: every type of the topic)."""

    name: str
    kind: str
    topic: str
    event_type: str | None = None
    symbol: str | None = None
    spec: str | None = None


def parse_channel(text: str) -> Channel:
    """The :class:`Channel` of ``text``.

    Raises
    ------
    InvalidChannel
        Not ``tick:<SYMBOL>``, ``bar:<SYMBOL>:<SPEC>`` or a topic name; the message says why and
        gives the grammar.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidChannel(f"empty channel name; channels: {CHANNEL_GRAMMAR}")
    raw = text.strip()
    if raw in TOPICS:
        return Channel(raw, "topic", raw)
    kind, _, rest = raw.partition(":")
    kind = kind.lower()
    if kind not in _KINDS:
        raise InvalidChannel(f"unknown channel {raw!r}; channels: {CHANNEL_GRAMMAR}")
    sym_text, _, spec_text = rest.partition(":")
    try:
        sym = naming.normalize_ticker(sym_text)
    except InvalidSymbol as e:
        raise InvalidChannel(f"channel {raw!r}: {e}") from None
    if kind == "tick":
        if spec_text:
            raise InvalidChannel(f"channel {raw!r}: a tick channel is tick:<SYMBOL>; channels: {CHANNEL_GRAMMAR}")
        return Channel(f"tick:{sym}", "tick", f"ticks.{sym}", "TicksAppended", sym)
    try:
        spec = str(parse_spec(spec_text))
    except InvalidBarSpec as e:
        raise InvalidChannel(f"channel {raw!r}: {e}") from None
    return Channel(f"bar:{sym}:{spec}", "bar", f"bars.{sym}.{spec}", "BarClosed", sym, spec)


@dataclass(frozen=True, order=True)
class TickCursor:
    """The last tick a client has of a symbol: ``day`` (``YYYY-MM-DD``; None = the symbol's
    latest day) and ``tick_id``. ``str`` gives the ``since`` form ``day:tick_id``."""

    day: str | None
    tick_id: int

    def __str__(self) -> str:
        return f"{self.day}:{self.tick_id}" if self.day else str(self.tick_id)


def parse_since(value) -> TickCursor:
    """A ``since`` value: ``<tick_id>``, ``<YYYY-MM-DD>:<tick_id>`` (or an int, or a :class:`TickCursor`).

    Raises
    ------
    InvalidCursor
    """
    if isinstance(value, TickCursor):
        return value
    if isinstance(value, bool):
        raise InvalidCursor(f"since must be <tick_id> or <YYYY-MM-DD>:<tick_id>, got {value!r}")
    if isinstance(value, int):
        day_text, tick_text = "", str(value)
    elif isinstance(value, str):
        day_text, _, tick_text = value.strip().rpartition(":")
    else:
        raise InvalidCursor(f"since must be <tick_id> or <YYYY-MM-DD>:<tick_id>, got {value!r}")
    try:
        tick = int(tick_text)
        day = dt.date.fromisoformat(day_text).isoformat() if day_text else None
    except ValueError:
        raise InvalidCursor(f"since must be <tick_id> or <YYYY-MM-DD>:<tick_id> (the sequence and data.day of "
                            f"the last tick message received), got {value!r}") from None
    if tick < -1:
        raise InvalidCursor(f"since: tick id must be >= -1, got {tick}")
    return TickCursor(day, tick)


# -- configuration ------------------------------------------------------------------------------
def _env_number(env: Mapping[str, str], name: str, default, lo, hi, kind=float):
    raw = env.get("TICKDECK_" + name, "")
    if raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError("TICKDECK_" + name, f"expected a number, got {raw!r}") from None
    if not lo <= value <= hi:
        raise ConfigError("TICKDECK_" + name, f"{value} is outside {lo}..{hi}")
    return value


@dataclass(frozen=True)
class StreamConfig:
    """Stream settings (environment: ``TICKDECK_WS_HEARTBEAT_S``, ``TICKDECK_WS_BATCH_MS``,
    ``TICKDECK_WS_QUEUE_MESSAGES``, ``TICKDECK_WS_QUEUE_BYTES``, ``TICKDECK_WS_MAX_LAG_S``)."""

    heartbeat_s: float = HEARTBEAT_S
    batch_ms: int = BATCH_MS
    queue_messages: int = QUEUE_MESSAGES
    queue_bytes: int = QUEUE_BYTES
    max_lag_s: float = MAX_LAG_S
    close_timeout_s: float = CLOSE_TIMEOUT_S
    replay_max_days: int = REPLAY_MAX_DAYS
    ticks_per_message: int = TICKS_PER_MESSAGE
    frame_bytes: int = FRAME_BYTES
    max_channels: int = MAX_CHANNELS
    # how long a client's oldest message has waited is measured on this clock (tests use a simulated one)
    clock: Callable[[], float] = field(default=time.monotonic, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.heartbeat_s <= 0 or self.max_lag_s <= 0:
            raise ValueError(f"heartbeat_s and max_lag_s must be > 0, got {self.heartbeat_s}, {self.max_lag_s}")
        if not 0 <= self.batch_ms <= MAX_BATCH_MS:
            raise ValueError(f"batch_ms must be 0..{MAX_BATCH_MS}, got {self.batch_ms}")
        if min(self.queue_messages, self.queue_bytes, self.ticks_per_message, self.frame_bytes) < 1:
            raise ValueError("queue_messages, queue_bytes, ticks_per_message and frame_bytes must be >= 1")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "StreamConfig":
        """Read the ``TICKDECK_WS_*`` variables; raise :class:`ConfigError` naming a bad one."""
        env = os.environ if env is None else env
        return cls(heartbeat_s=_env_number(env, "WS_HEARTBEAT_S", HEARTBEAT_S, 0.01, 3600.0),
                   batch_ms=_env_number(env, "WS_BATCH_MS", BATCH_MS, 0, MAX_BATCH_MS, int),
                   queue_messages=_env_number(env, "WS_QUEUE_MESSAGES", QUEUE_MESSAGES, 1, 10**7, int),
                   queue_bytes=_env_number(env, "WS_QUEUE_BYTES", QUEUE_BYTES, 1, 1 << 34, int),
                   max_lag_s=_env_number(env, "WS_MAX_LAG_S", MAX_LAG_S, 0.01, 3600.0))


def close_reason(text: str, limit: int = 123) -> str:
    """``text`` cut to what a WebSocket close frame carries (123 bytes of UTF-8)."""
    raw = text.encode()
    return text if len(raw) <= limit else raw[:limit - 3].decode("utf-8", "ignore") + "..."


# -- encoding -----------------------------------------------------------------------------------
def _enc_hook(obj: Any):
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    raise NotImplementedError(f"cannot encode {type(obj).__name__} in a stream message")


_encoder = msgspec.json.Encoder(enc_hook=_enc_hook)


def encode_message(type_: str, channel: str | None, data: Any, timestamp: float, sequence: int) -> str:
    """One message ``{"type", "channel", "data", "timestamp", "sequence"}`` as JSON text."""
    return _encoder.encode({"type": type_, "channel": channel, "data": data, "timestamp": timestamp,
                            "sequence": sequence}).decode()


@dataclass(frozen=True, eq=False)
class Frame:
    """One encoded message of a channel; tick messages carry their day and tick-id range (and
    the merged event, to cut the part a resuming client already has)."""

    channel: str
    text: str
    control: bool = False  # a heartbeat or reply: sent whatever the client is subscribed to
    day: str | None = None
    first_tick: int = 0
    last_tick: int = 0
    event: TicksAppended | None = None
    timestamp: float = 0.0


def tick_frame(channel: str, event: TicksAppended, timestamp: float) -> Frame:
    last = int(event.tick_id[-1])
    return Frame(channel, encode_message("TicksAppended", channel, event, timestamp, last), False, event.day,
                 int(event.tick_id[0]), last, event, timestamp)


def tick_frames(channel: str, event: TicksAppended, timestamp: float, per_message: int) -> list[Frame]:
    """``event`` as messages of at most ``per_message`` ticks."""
    n = len(event)
    if n <= per_message:
        return [tick_frame(channel, event, timestamp)]
    return [tick_frame(channel, sliced(event, slice(lo, lo + per_message)), timestamp)
            for lo in range(0, n, per_message)]


def merge_ticks(events: list[TicksAppended]) -> TicksAppended:
    if len(events) == 1:
        return events[0]
    e0 = events[0]
    return TicksAppended(e0.symbol, e0.day, e0.origin,
                         **{k: np.concatenate([getattr(e, k) for e in events]) for k in TICK_ARRAYS})


def sliced(event: TicksAppended, keep) -> TicksAppended:
    return TicksAppended(event.symbol, event.day, event.origin, **{k: getattr(event, k)[keep] for k in TICK_ARRAYS})


# -- client requests (/ws/v1) -------------------------------------------------------------------
MAX_REQUEST_BYTES = 65_536  # a subscribe naming hundreds of channels fits


class InvalidRequest(StreamError, ValueError):
    """A client message is not a valid subscribe / unsubscribe request."""


class StreamRequest(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """``{"type": "subscribe" | "unsubscribe", "channels": [...], "since": {"tick:SYM": cursor}}``."""

    type: str
    channels: list[str] = []
    since: dict[str, int | str] = {}


_request_decoder = msgspec.json.Decoder(StreamRequest)
REQUEST_TYPES = ("subscribe", "unsubscribe")


def parse_request(text: str | bytes) -> StreamRequest:
    """The :class:`StreamRequest` of one client message.

    Raises
    ------
    InvalidRequest
        Too long, not JSON, unknown fields or types, or an unknown ``type``; the message says
        what was wrong and the expected form.
    """
    form = '{"type": "subscribe", "channels": ["tick:AAPL", "bar:AAPL:time:1m", "collection"]}'
    if len(text) > MAX_REQUEST_BYTES:
        raise InvalidRequest(f"request of {len(text)} bytes is over {MAX_REQUEST_BYTES}")
    try:
        req = _request_decoder.decode(text)
    except msgspec.DecodeError as e:
        raise InvalidRequest(f"not a stream request ({e}); send e.g. {form}") from None
    if req.type not in REQUEST_TYPES:
        raise InvalidRequest(f"unknown request type {req.type!r}: use subscribe or unsubscribe, e.g. {form}")
    if not req.channels:
        raise InvalidRequest(f"{req.type} names no channels, e.g. {form}")
    return req
