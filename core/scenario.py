"""Scenario replay: stored days of a symbol set played back through the live path.

A :class:`ScenarioPlayer` loads the stored ticks of ``symbols`` for the days of a window
(:func:`load_tape`: one ArcticDB read per symbol-day, merged by timestamp with one stable numpy
sort, so each symbol's ticks keep their stored order) and publishes them as live collection
does: each batch's ticks grouped by symbol as :class:`core.events.TicksAppended` on
``ticks.<SYM>`` (:func:`core.live_bars.publish_ticks`), then a :class:`core.events.LiveBatch` on
``collection`` — both with ``origin="scenario"`` (:data:`core.events.SCENARIO_ORIGIN`) — and hands
the batch to a :class:`core.live_bars.LiveBars` of its own, which publishes the bars of
:data:`core.live_bars.LIVE_BAR_SPECS` as they close (:class:`core.events.BarClosed`, origin ``scenario`` too). So the
indicators service (which keeps a replay's day apart from the live one and only publishes for it),
the pages and the ``/ws`` streams see a replay as they see a live session. A replay **writes
nothing** into the store: it only reads days.

Pacing is on an injectable :class:`Clock` (wall time by default, :class:`SimulatedClock` in
tests): at speed ``s`` a tick ``t`` of data time is published once ``(t - t0) / s`` seconds have
passed since the play position ``t0``, in batches every :data:`BATCH_S` (as the live collector
acknowledges every 50 ms); ``speed=None`` is "as fast as possible" (batches of
:data:`MAX_BATCH_TICKS`, no waits). A quiet spell longer than :data:`GAP_SKIP_S` of data time (a
night, a halt) is jumped over. Controls from any thread: :meth:`ScenarioPlayer.pause`,
:meth:`~ScenarioPlayer.resume`, :meth:`~ScenarioPlayer.set_speed`, :meth:`~ScenarioPlayer.seek`.
After a seek the bars start afresh from the ticks of that day before the new position (built,
not published), as live collection starts on a day with stored ticks. At the end of the window
the player closes the day's open bars (when the window reached the day's last tick) and waits,
``finished``, until it is stopped or sought back.

Inside the server a replay is the supervised ``replay`` service (:mod:`core.replay_service`);
``tickdeck replay`` runs a player in the foreground.

Warnings
--------
A replay publishes on the same topics as live collection. Its ticks, batches and
:class:`~core.events.BarClosed` events say ``origin="scenario"``: run it while live collection of the
same symbols runs and a ``bars.<SYM>.<spec>`` subscriber gets both streams' bars interleaved (each
stream's bars are built apart and are right), told apart by ``origin``. Subscribers' queues are bounded
(drop-oldest): at "as fast as possible" a slow page or stream client sees the present, not every
tick. Memory: the whole window's ticks are held in numpy columns (~100 bytes per tick).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Protocol

import numpy as np
import pandas as pd

from tickdeck.core.errors import DayNotFound, TickdeckError
from tickdeck.core.events import SCENARIO_ORIGIN, LiveBatch, ReplayChanged
from tickdeck.core.live_bars import LIVE_BAR_SPECS, LiveBars, publish_ticks
from tickdeck.core.naming import normalize_ticker
from tickdeck.core.schema import RAW_COLUMNS, TZ

SPEED_MIN, SPEED_MAX = 1.0, 100.0  # paced speeds; "max" (None) is as fast as possible
BATCH_S = 0.05  # paced replay publishes a batch this often (the live collector's flush_after)
MAX_BATCH_TICKS = 20_000  # one batch at most: bounds the bars thread's work per hand-over and an event's size
GAP_SKIP_S = 300.0  # a quiet spell of data time longer than this is jumped over (nights, halts)
MAX_WAIT_S = 0.25  # longest single wait, so pause/seek/stop act within it
STATE_EVERY_S = 1.0  # progress is reported at most this often (wall time) besides every state change
STATES = ("playing", "paused", "finished", "stopped")
_NS = 1_000_000_000


class ReplayError(TickdeckError, ValueError):
    """A replay request that cannot run (bad speed, window, symbols); the message says what to give."""


class Clock(Protocol):
    """What the player paces on: ``now()`` in seconds, ``sleep(seconds, wake)`` returns early when ``wake`` is set."""

    def now(self) -> float: ...

    def sleep(self, seconds: float, wake: threading.Event) -> None: ...


class WallClock:
    """Monotonic wall time."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float, wake: threading.Event) -> None:
        wake.wait(max(seconds, 0.0))


class SimulatedClock:
    """A clock that only moves when the player sleeps (tests): ``sleep`` advances it at once."""

    def __init__(self, start: float = 0.0):
        self.t = float(start)
        self.slept = 0.0  # total simulated seconds slept

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float, wake: threading.Event) -> None:
        s = max(float(seconds), 0.0)
        self.t += s
        self.slept += s
        time.sleep(0)  # let other threads (controls, the bars thread) run


def parse_speed(value) -> float | None:
    """``"max"`` (or None) → None (as fast as possible); a number (``10``, ``"10x"``) within
    :data:`SPEED_MIN`–:data:`SPEED_MAX` → float.

    Raises
    ------
    ReplayError
        Not a number or "max", or out of range.
    """
    if value is None or (isinstance(value, str) and value.strip().lower() in ("max", "")):
        return None
    try:
        s = float(str(value).strip().lower().rstrip("x"))
    except ValueError:
        raise ReplayError(f"speed {value!r}: give a number from {SPEED_MIN:g} to {SPEED_MAX:g} or 'max'") from None
    if not SPEED_MIN <= s <= SPEED_MAX:
        raise ReplayError(f"speed {s:g} is out of range: give {SPEED_MIN:g} to {SPEED_MAX:g}, or 'max'")
    return s


def _et(value, day: dt.date | None, what: str) -> pd.Timestamp:
    """A time in ET from ``2024-07-02``, ``2024-07-02 09:30`` or (with ``day``) ``09:30``."""
    text = str(value).strip()
    try:
        if day is not None and len(text) <= 8 and ":" in text:
            ts = pd.Timestamp(f"{day.isoformat()} {text}")
        else:
            ts = pd.Timestamp(text)
        if ts is pd.NaT:
            raise ValueError("not a time")
        # a wall time the clock change skips or repeats: the next valid instant / the first of the two
        return ts.tz_localize(TZ, nonexistent="shift_forward", ambiguous=True) if ts.tzinfo is None \
            else ts.tz_convert(TZ)
    except (ValueError, TypeError, OverflowError):
        raise ReplayError(f"{what} {value!r}: give a date (2024-07-02), a date and time (2024-07-02 09:30) "
                          "or, with a date, a time (09:30)") from None


def window(date=None, start=None, end=None) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The replay window ``[start, end)`` in ET from a ``date`` and/or ``start``/``end``.

    ``date`` alone is that whole day; with ``date``, ``start``/``end`` may be times of day. A
    ``start``/``end`` that is only a date means that day's start (``end``: the next day's start,
    so the end day is included).

    Raises
    ------
    ReplayError
        Nothing given, an unreadable value, or an end not after the start.
    """
    day = None
    if date is not None and str(date).strip():
        try:
            day = dt.date.fromisoformat(str(date).strip()[:10])
        except ValueError:
            raise ReplayError(f"date {date!r}: give YYYY-MM-DD") from None
    if day is None and not start:
        raise ReplayError("say what to replay: a date (--date 2024-07-02) or a start (--start 2024-07-01)")
    lo = _et(start, day, "start") if start else pd.Timestamp(day.isoformat(), tz=TZ)
    if end:
        hi = _et(end, day, "end")
        if len(str(end).strip()) == 10:  # a date: include that day
            hi = hi + pd.Timedelta(days=1)
    else:
        base = day or lo.date()
        hi = pd.Timestamp((base + dt.timedelta(days=1)).isoformat(), tz=TZ)
    if hi <= lo:
        raise ReplayError(f"the end ({hi}) must be after the start ({lo})")
    return lo, hi


@dataclass(frozen=True)
class ReplayRequest:
    """What to replay: ``symbols`` in ``[start, end)`` (ET) at ``speed`` (None: as fast as possible)."""

    symbols: tuple[str, ...]
    start: pd.Timestamp
    end: pd.Timestamp
    speed: float | None = 10.0
    bar_specs: tuple[str, ...] = LIVE_BAR_SPECS

    @classmethod
    def make(cls, symbols, *, date=None, start=None, end=None, speed=10.0, bar_specs=LIVE_BAR_SPECS
             ) -> "ReplayRequest":
        """Checked request from user input (see :func:`window`, :func:`parse_speed`).

        Raises
        ------
        ReplayError
            No symbols, or a bad window or speed.
        """
        syms = tuple(dict.fromkeys(normalize_ticker(s) for s in symbols if str(s).strip()))
        if not syms:
            raise ReplayError("name at least one symbol to replay, e.g. AAPL")
        lo, hi = window(date, start, end)
        return cls(syms, lo, hi, parse_speed(speed), tuple(bar_specs))

    def to_params(self) -> dict:
        """Plain values for a service's params (JSON)."""
        return {"symbols": list(self.symbols), "start": self.start.isoformat(), "end": self.end.isoformat(),
                "speed": "max" if self.speed is None else self.speed, "bar_specs": list(self.bar_specs)}

    @property
    def days(self) -> tuple[dt.date, dt.date]:
        """The first and last day the window touches."""
        return self.start.date(), (self.end - pd.Timedelta(1, "ns")).date()

    @classmethod
    def from_params(cls, params: dict) -> "ReplayRequest":
        return cls.make(params.get("symbols") or (), start=params.get("start"), end=params.get("end"),
                        speed=params.get("speed", 10.0), bar_specs=params.get("bar_specs") or LIVE_BAR_SPECS)


def seek_time(request: ReplayRequest, to) -> pd.Timestamp:
    """``to`` (ET text — a time of day means on the window's first day — or a Timestamp) checked
    to lie in the window.

    Raises
    ------
    ReplayError
        Unreadable, or outside the window.
    """
    ts = to if isinstance(to, pd.Timestamp) else _et(to, request.start.date(), "seek time")
    ts = ts.tz_localize(TZ) if ts.tzinfo is None else ts.tz_convert(TZ)
    if not request.start <= ts <= request.end:
        raise ReplayError(f"seek time {ts} is outside the replay window {request.start} – {request.end}")
    return ts


def stored_days(ctx, request: ReplayRequest) -> list[tuple[int, str, dt.date]]:
    """(symbol's index, symbol, day) of every stored day the window touches (catalog reads only).

    Raises
    ------
    DayNotFound
        None of the symbols has a stored day in the window (the error names the symbols and days).
    """
    first, last = request.days
    out = [(code, symbol, d) for code, symbol in enumerate(request.symbols)
           for d in ctx.store.list_days(symbol) if first <= d <= last]
    if not out:
        raise DayNotFound(", ".join(request.symbols), f"{first}..{last}")
    return out


@dataclass
class Tape:
    """The merged ticks of whole stored days (time order; each symbol's ticks in stored order).

    ``lo``/``hi`` index the request's window; ``day_end[i]`` is the first row of the next day."""

    names: np.ndarray  # symbol names (object), indexed by ``sym``
    sym: np.ndarray  # int32 symbol code per row
    ts: np.ndarray  # int64 UTC ns
    day: np.ndarray  # int32 YYYYMMDD (ET day the row is stored under)
    cols: dict  # the 14 raw columns
    lo: int
    hi: int
    day_end: np.ndarray = field(repr=False, default=None)

    def __len__(self) -> int:
        return int(self.ts.shape[0])


def load_tape(ctx, request: ReplayRequest) -> Tape:
    """Read every stored day of ``request.symbols`` touching the window and merge them by time.

    Raises
    ------
    DayNotFound
        None of the symbols has a stored day in the window (the error names the symbols and days).
    """
    parts = []
    for code, symbol, d in stored_days(ctx, request):
        df = ctx.store.read_day(symbol, d, columns=RAW_COLUMNS)
        if len(df):
            parts.append((code, d, df))
    if not parts:
        raise DayNotFound(", ".join(request.symbols), "{}..{}".format(*request.days))
    n = sum(len(df) for _, _, df in parts)
    sym = np.concatenate([np.full(len(df), c, np.int32) for c, _, df in parts])
    day = np.concatenate([np.full(len(df), d.year * 10000 + d.month * 100 + d.day, np.int32) for _, d, df in parts])
    ts = np.concatenate([df.index.asi8 for _, _, df in parts])
    order = np.lexsort((ts, day))  # by day, then time; stable, so a symbol's equal times keep their stored order
    cols = {k: np.concatenate([df[k].to_numpy() for _, _, df in parts])[order] for k in RAW_COLUMNS}
    ts, day, sym = ts[order], day[order], sym[order]
    cuts = np.flatnonzero(day[1:] != day[:-1]) + 1
    day_end = np.repeat(np.append(cuts, n), np.diff(np.concatenate(([0], cuts, [n]))))
    lo = int(np.searchsorted(ts, request.start.value, "left"))
    hi = int(np.searchsorted(ts, request.end.value, "left"))
    return Tape(np.array(request.symbols, dtype=object), sym, ts, day, cols, lo, hi, day_end)


@dataclass(frozen=True)
class ReplayState:
    """Where a replay is: ``state`` (:data:`STATES`), the data time of the next tick
    (``position``, UTC ns; the window's end when finished), ticks delivered, batches published."""

    state: str
    symbols: tuple[str, ...]
    start: str
    end: str
    speed: float | None
    position: int
    delivered: int
    total: int
    batches: int
    error: str = ""

    @property
    def position_et(self) -> str:
        return pd.Timestamp(self.position, tz="UTC").tz_convert(TZ).isoformat() if self.position else ""

    def to_dict(self) -> dict:
        d = asdict(self)
        d["symbols"] = list(self.symbols)
        d["position_et"] = self.position_et
        return d

    def event(self) -> ReplayChanged:
        return ReplayChanged(self.state, self.symbols, self.start, self.end, -1.0 if self.speed is None else self.speed,
                             self.position, self.delivered, self.total, self.batches)


class ScenarioPlayer:
    """Plays a :class:`ReplayRequest` through the live path (see the module docstring).

    Parameters
    ----------
    ctx
        The context whose bus receives the replay (and whose store it reads).
    request
        What to replay.
    clock
        Pacing clock (default :class:`WallClock`).
    on_state
        Called with a :class:`ReplayState` on every state change and at most every
        :data:`STATE_EVERY_S` while playing (from the playing thread).
    paused
        Start paused (at the window's start).
    """

    def __init__(self, ctx, request: ReplayRequest, *, clock: Clock | None = None,
                 on_state: Callable[[ReplayState], None] | None = None, paused: bool = False,
                 tape: Tape | None = None):
        self.ctx, self.request = ctx, request
        self.clock = clock or WallClock()
        self.on_state = on_state
        self.tape = tape if tape is not None else load_tape(ctx, request)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._paused = paused
        self._speed = request.speed
        self._seek: int | None = None
        self._i = self.tape.lo
        self.delivered = 0
        self.batches = 0
        self.idle_rounds = 0  # waits while paused or finished (a test waits on these, not on time)
        self._state = "paused" if paused else "playing"
        self._shown: tuple | None = None  # what _set_state last reported
        self._reported = 0.0

    # -- controls (any thread) -------------------------------------------------------------
    def pause(self) -> None:
        with self._lock:
            self._paused = True
        self._wake.set()

    def resume(self) -> None:
        with self._lock:
            self._paused = False
        self._wake.set()

    def set_speed(self, speed) -> None:
        """``speed`` as :func:`parse_speed` takes it; pacing continues from the current position."""
        s = parse_speed(speed)
        with self._lock:
            self._speed = s
        self._wake.set()

    def seek(self, to) -> None:
        """Continue from the first tick at or after ``to`` (ET text or a Timestamp) within the window.

        Raises
        ------
        ReplayError
            ``to`` is outside the window.
        """
        ts = seek_time(self.request, to)
        i = int(np.searchsorted(self.tape.ts, ts.value, "left"))
        with self._lock:
            self._seek = min(max(i, self.tape.lo), self.tape.hi)
        self._wake.set()

    def state(self) -> ReplayState:
        with self._lock:
            i, speed, st = self._i, self._speed, self._state
        t = self.tape
        pos = int(t.ts[i]) if i < t.hi else self.request.end.value
        return ReplayState(st, self.request.symbols, self.request.start.isoformat(), self.request.end.isoformat(),
                           speed, pos, self.delivered, t.hi - t.lo, self.batches)

    # -- the playing thread ----------------------------------------------------------------
    def run(self, stop: threading.Event) -> ReplayState:
        """Play until ``stop`` is set (blocks; at the end of the window it waits, ``finished``)."""
        cal = self.ctx.calendar()
        bars = LiveBars(self.ctx, cal, self.request.bar_specs, SCENARIO_ORIGIN)
        t = self.tape
        cur_day = None  # the day whose builders run
        anchor = None  # (clock time, data time) the pacing counts from
        try:
            self._report(force=True)
            while not stop.is_set():
                self._wake.clear()
                with self._lock:
                    seek, self._seek = self._seek, None
                    paused, speed = self._paused, self._speed
                if seek is not None:
                    bars.close()
                    bars, cur_day, anchor = LiveBars(self.ctx, cal, self.request.bar_specs, SCENARIO_ORIGIN), None, None
                    with self._lock:
                        self._i = seek
                i = self._i
                if i >= t.hi:
                    if cur_day is not None:
                        if t.hi == t.day_end[i - 1]:  # the window reached the day's last tick: close its bars
                            bars.end_day()
                        cur_day = None
                    self._set_state("finished")
                    self._wait(stop, MAX_WAIT_S)
                    continue
                if paused:
                    self._set_state("paused")
                    anchor = None
                    self._wait(stop, MAX_WAIT_S)
                    continue
                self._set_state("playing")
                if cur_day != t.day[i]:
                    if cur_day is not None:
                        bars.end_day()
                    cur_day = int(t.day[i])
                    bars.start_day(self._before(i))
                end = min(int(t.day_end[i]), t.hi, i + MAX_BATCH_TICKS)
                if speed is not None:
                    now = self.clock.now()
                    if anchor is None or anchor[2] != speed:
                        anchor = (now, int(t.ts[i]), speed)
                    due = anchor[1] + int((now - anchor[0]) * speed * _NS)
                    if t.ts[i] > due:
                        ahead = (int(t.ts[i]) - due) / _NS
                        if ahead > GAP_SKIP_S:
                            anchor = (now, int(t.ts[i]), speed)
                        else:
                            self.clock.sleep(min(ahead / speed, MAX_WAIT_S), self._wake)
                        continue
                    end = min(end, i + int(np.searchsorted(t.ts[i:end], due, "right")))
                self._publish(bars, i, end)
                with self._lock:
                    if self._seek is None:
                        self._i = end
                self._report()
                if speed is not None:
                    self.clock.sleep(BATCH_S, self._wake)
        finally:
            bars.close()
            self._set_state("stopped")
        return self.state()

    def _wait(self, stop: threading.Event, seconds: float) -> None:
        if not stop.is_set():
            self._wake.wait(seconds)
        self.idle_rounds += 1

    def _before(self, i: int) -> dict:
        """Each symbol's ticks of row ``i``'s day before ``i`` (what the bars start from, not published)."""
        t = self.tape
        a = int(np.searchsorted(t.day, t.day[i], "left"))
        out = {}
        for code, name in enumerate(t.names):
            rows = a + np.flatnonzero(t.sym[a:i] == code)
            out[str(name)] = (t.ts[rows], t.cols["last"][rows].astype(np.float64),
                              t.cols["last_sz"][rows].astype(np.float64), t.cols["bid"][rows].astype(np.float64),
                              t.cols["ask"][rows].astype(np.float64))
        return out

    def _publish(self, bars: LiveBars, i: int, j: int) -> None:
        """Rows ``[i, j)`` as live collection publishes a batch: grouped by symbol (time order within)."""
        t = self.tape
        order = i + np.argsort(t.sym[i:j], kind="stable")
        symbols = t.names[t.sym[order]]
        cols = {k: v[order] for k, v in t.cols.items()}
        ts = t.ts[order]
        d = int(t.day[i])
        day = f"{d // 10000:04d}-{d // 100 % 100:02d}-{d % 100:02d}"
        bus = self.ctx.bus
        publish_ticks(bus, day, SCENARIO_ORIGIN, symbols, cols, ts)
        self.batches += 1
        self.delivered += j - i
        server_time = pd.Timestamp(int(t.ts[j - 1]), tz="UTC").tz_convert(TZ).tz_localize(None).isoformat()
        bus.publish(LiveBatch(self.request.symbols, j - i, self.batches, server_time, origin=SCENARIO_ORIGIN))
        bars.feed(symbols, cols, ts)

    def _set_state(self, state: str) -> None:
        """Report at once when the state changes, and while paused or finished also when the speed or
        the position does (a control applied while nothing plays is shown without waiting for play)."""
        with self._lock:
            self._state = state
            key = (state,) if state == "playing" else (state, self._speed, self._i)
            changed, self._shown = key != self._shown, key
        if changed:
            self._report(force=True)

    def _report(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._reported < STATE_EVERY_S:
            return
        self._reported = now
        st = self.state()
        self.ctx.bus.publish(st.event())
        if self.on_state is not None:
            self.on_state(st)
