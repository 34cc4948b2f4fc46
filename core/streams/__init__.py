"""Live streams: the bus fanned out to many clients, batched, bounded, resumable.

The WebSocket routes (``app/api/streams.py``) only adapt a socket to a :class:`StreamClient`;
everything else — channels, batching windows, per-client bounded queues, slow-client drops,
heartbeats and the tick replay since a cursor — is here, without FastAPI.

Channels (:func:`parse_channel`)::

    tick:<SYM>            ticks.<SYM>          TicksAppended, merged per window, columnar
    bar:<SYM>:<spec>      bars.<SYM>.<spec>    BarClosed (spec as core.bars.spec.parse_spec prints it)
    collection | jobs | services | health | validation | indicators | alerts   every event of that topic

Messages. A WebSocket frame is a JSON array of one or more messages, each
``{"type", "channel", "data", "timestamp", "sequence"}`` (msgspec-encoded once per window and
shared by every client of it; numpy arrays as lists, NaN as null, as on the bus's wire):

* ``type`` is the event type (``TicksAppended``, ``BarClosed``, ``FeedStatusChanged``, …) and
  ``data`` its fields, or a control type: ``heartbeat``, ``subscribed``, ``unsubscribed``,
  ``replayed``, ``error``.
* ``timestamp`` is the bus publish time (epoch s) of the oldest event in the message.
* ``sequence``: on a tick channel the **last tick id** of the message (the resume cursor,
  together with ``data.day``); elsewhere a counter that increases by one per message of that
  channel from this server.

Windows. The events of a channel are collected for ``batch_ms`` (default 100 ms; a client may
ask for 0–1000): an update after a quiet window goes out at once, later ones wait until
``batch_ms`` after the previous send (at most one frame per window per client). All of a
window's tick events of one symbol-day become one ``TicksAppended`` (arrays concatenated).
Clients with the same window share one encoding of every message (:class:`_Lane`).

Slow clients. Each client has a bounded queue (``queue_messages``, ``queue_bytes``). When it
would overflow, the client is dropped — its queue discarded, code :data:`CLOSE_TOO_SLOW`,
reason ``too slow: N messages dropped`` — and nobody else waits for it.

Resuming ticks. ``since`` (:func:`parse_since`) is ``<tick_id>`` or ``<YYYY-MM-DD>:<tick_id>``:
tick ids increase within a symbol's day, so (day, tick id) is a durable per-symbol cursor that
survives restarts of the server and of the collector (the bus sequence does neither). Without a
day, the symbol's latest day is meant. On subscribe the client is registered for live events
first, then :func:`read_ticks_since` reads what is stored after the cursor — the journal's not
yet materialised rows first, then the day (the materialiser appends to the day before it deletes
a journal segment, so a tick is in one or the other) — and sends it (``origin`` ``replay``),
then the live events, skipping every tick id at or below the last one sent: no gap, no
duplicate. At most ``replay_max_days`` days are replayed.
"""


from tickdeck.core.streams.hub import StreamClient, StreamHub, StreamStats, hub_for
from tickdeck.core.streams.protocol import (
    CHANNEL_GRAMMAR, CLOSE_BAD_REQUEST, CLOSE_TOO_SLOW, Channel, InvalidChannel, InvalidCursor, InvalidRequest,
    StreamConfig, StreamError, StreamRequest, TickCursor, close_reason, encode_message, parse_channel, parse_request,
    parse_since,
)
from tickdeck.core.streams.replay import read_ticks_since

__all__ = ["CHANNEL_GRAMMAR", "CLOSE_BAD_REQUEST", "CLOSE_TOO_SLOW", "Channel", "InvalidChannel", "InvalidCursor",
           "InvalidRequest", "StreamClient", "StreamConfig", "StreamError", "StreamHub", "StreamRequest", "StreamStats",
           "TickCursor", "close_reason", "encode_message", "hub_for", "parse_channel", "parse_request", "parse_since",
           "read_ticks_since"]
