"""Collection monitor: feed status, active collections, rates, dead letters, storage, session clock.

The page listens to the bus topics ``collection`` (:class:`~core.events.FeedStatusChanged`,
:class:`~core.events.CollectionProgress`, :class:`~core.events.DayWritten`), ``jobs``
(:class:`~core.events.JobChanged` of ``collect`` jobs: their progress bars) and ``bars.*``
(:class:`~core.events.BarClosed`, :class:`~core.events.BarsBuilt`); messages are buffered on the
bus thread and applied in ~100 ms batches on the session's event loop, and a 1 s periodic
callback turns counters into rates (ticks/s, bars/s sparklines: live only — a scenario replay's bars,
``BarClosed.origin == "scenario"``, are counted apart and shown in the player bar), re-renders the "3 s ago"
times and refreshes the session countdown. The feed panel is
:func:`pages.components.feed.feed_html` of the latest status of each feed client.
The "Scenario replay" player bar (:class:`~pages.components.player.PlayerBar`) starts and controls
a replay of stored days through the live path.
Start/stop collection in live mode asks the supervised live service (injected ``services=``)
to start or stop; history mode submits a ``collect`` job through the injected jobs facade (``jobs=``),
and without one runs
:func:`core.collect.collect_days` (days) or :func:`core.live.collect_live` (live) on a
background thread. Starting and stopping needs the admin role (the injected ``user``). The
session clock is :func:`core.session_status.session_status` on the demo feed's emulated clock when one
is configured (:func:`core.demo_clock.market_now`), else on the wall clock.

Layout: the Start/Stop controls come first (the mode toggle is labelled; "Completed days" shows in history
mode only), then the feed and session, services, the rate sparklines (:class:`~pages.components.sparkline.Sparkline`:
a y-scale and the peak, no percentage change), active collections named alike ("AAPL live since 09:30"),
recent days, dead letters and storage (human-readable sizes). Periodic updates do not mark the session
busy (:func:`~pages.components.ui.quiet_periodic`): the header spinner spins only while something loads.

Renders in Jupyter: ``MonitorPage(ctx=ctx)``.
"""

from __future__ import annotations

import collections
import datetime as dt
import html
import logging
import threading
import time
from functools import partial
from typing import Callable

import pandas as pd
import panel as pn
import param

from tickdeck.core import feed_status
from tickdeck.core.errors import TickdeckError
from tickdeck.core.events import (SCENARIO_ORIGIN, BarClosed, BarsBuilt, CollectionProgress, DayWritten,
                                   FeedStatusChanged, FeedSwitched, JobChanged, Message)
from tickdeck.core.demo_clock import market_now
from tickdeck.core.session_status import session_status
from tickdeck.core.users import User
from tickdeck.pages.components.feed import feed_html, feed_summary, primary
from tickdeck.pages.components.player import PlayerBar
from tickdeck.pages.components.safe import md_text
from tickdeck.pages.components.services import LOCAL_ADMIN, require
from tickdeck.pages.components.sparkline import Sparkline
from tickdeck.pages.components.ui import (  # noqa: F401
    STATUS_CSS, badge, countdown, empty_state, error_text, human_bytes, quiet_periodic, run_off_loop)

log = logging.getLogger(__name__)

FLUSH_MS = 100  # bus messages are applied in batches this often (the page's reaction time)
TICK_MS = 1000  # rates, sparklines and the countdown refresh once a second
SPARK_POINTS = 120  # two minutes of per-second samples: enough shape, little memory
SIZES_EVERY_S = 30  # ArcticDB size scans walk every symbol; once in 30 s is plenty
DEAD_LETTER_ROWS = 200  # the inspect table shows the newest rows only
MAX_BUFFER = 10_000  # if the page stalls, keep the newest messages rather than grow without bound
RECENT_WRITES = 12  # "day written" lines kept in the activity list
RECENT_SWITCHES = 8  # feed failover lines (FeedSwitched) kept under the feed panel
FINISHED_LINGER_S = 30  # a finished collection stays listed this long so the user sees it complete
JOB_FINISHED = ("succeeded", "failed", "cancelled", "interrupted")

MODE_LABELS = {"History: completed days": "history", "Live: today's session": "live"}
_NEXT_EVENT = {"pre": "regular open", "regular": "close", "after": "after-hours end", "closed": "pre-market open"}


class MonitorPage(pn.viewable.Viewer):
    """Live view of collection: what the feed is doing and what landed in the store."""

    ctx = param.Parameter(doc="tickdeck.core.context.Context: bus, catalog, store and calendar")
    symbols = param.String(default="", doc="comma-separated tickers for Start/Stop collection")
    mode = param.Selector(default="history", objects=["history", "live"],
                          doc="history: last N completed days; live: stream the current session")
    days = param.Integer(default=1, bounds=(1, 60), doc="how many completed trading days (history mode)")
    autostart = param.Boolean(default=True, doc="start the bus listener and periodic updates on render")
    message = param.String(default="", doc="last action result or error shown to the user")
    actor = param.String(default="", doc="who is recorded as requesting jobs started here (default: the user)")
    user = param.ClassSelector(class_=User, default=LOCAL_ADMIN, instantiate=False,
                               doc="who is looking (injected by the server): start/stop needs the admin role")
    jobs = param.Parameter(default=None, doc="jobs facade (tickdeck.pages.components.services.JobsFacade); "
                                             "None: collections run in this process")
    services = param.Parameter(default=None, doc="services facade (tickdeck.core.services.ServiceControl, injected); "
                                                 "None: no services panel actions")

    def __init__(self, **params):
        super().__init__(**params)
        if self.ctx is None:
            raise TickdeckError("MonitorPage needs ctx=Context")
        self._lock = threading.Lock()
        self._buffer: collections.deque = collections.deque(maxlen=MAX_BUFFER)
        self._stops: list[Callable[[], None]] = []
        self._callbacks: list = []
        # feed client kind -> its latest status: what any process saw last, then the bus's updates
        self.feeds: dict[str, FeedStatusChanged] = feed_status.latest(self.ctx)
        self.active: dict[str, dict] = {}
        self.recent: collections.deque = collections.deque(maxlen=RECENT_WRITES)
        last = feed_status.last_switch(self.ctx)  # failovers of live collection: the last known one first
        self.switches: collections.deque = collections.deque([(last.wall, last)] if last else [],
                                                             maxlen=RECENT_SWITCHES)
        self.ticks_written = 0
        self._bars_seen = 0  # live bars (BarClosed of origin live, BarsBuilt): the bars/s sparkline
        self._last_rate_sample: tuple[float, int, int] | None = None
        self._sizes_at = 0.0
        self._local_runs: dict[str, threading.Event] = {}

        self.feed_pane = pn.pane.HTML(stylesheets=[STATUS_CSS], sizing_mode="stretch_width")
        self.switch_pane = pn.pane.HTML(stylesheets=[STATUS_CSS], sizing_mode="stretch_width")
        self.active_pane = pn.pane.HTML(stylesheets=[STATUS_CSS], sizing_mode="stretch_width")
        self.ticks_trend = Sparkline("Ticks per second", "/s", points=SPARK_POINTS)
        self.bars_trend = Sparkline("Live bars", "/s", points=SPARK_POINTS, colour="#1a7f37")
        self.latency = pn.indicators.Number(label="Feed latency", value=0, format="{value:,.1f} ms",
                                            font_size="28pt", title_size="11pt")
        self.dead_count = pn.indicators.Number(label="Dead letters (new)", value=0, format="{value:,}",
                                               font_size="28pt", title_size="11pt",
                                               colors=[(0.5, "#116329"), (1e12, "#a40e26")])
        dead_columns = ["id", "when", "source", "symbol", "reason", "raw"]
        self.dead_table = pn.widgets.Tabulator(pd.DataFrame(columns=dead_columns),
                                               show_index=False, disabled=True, pagination="local", page_size=10,
                                               sizing_mode="stretch_width")
        self.dead_card = pn.Card(self.dead_table, title="Inspect dead letters", collapsed=True,
                                 sizing_mode="stretch_width")
        self.sizes_table = pn.widgets.Tabulator(pd.DataFrame(columns=["library", "size", "bytes"]), show_index=False,
                                                disabled=True, sizing_mode="stretch_width", hidden_columns=["bytes"])
        self.session_pane = pn.pane.HTML(stylesheets=[STATUS_CSS], sizing_mode="stretch_width")
        self.recent_pane = pn.pane.HTML(stylesheets=[STATUS_CSS], sizing_mode="stretch_width")
        self.message_pane = pn.pane.Alert("", alert_type="info", visible=False, sizing_mode="stretch_width")

        self.symbols_input = pn.widgets.TextInput.from_param(self.param.symbols, label="Symbols (comma-separated)",
                                                             placeholder="AAPL, MSFT", width=260)
        self.mode_label = pn.pane.HTML("<span class='td-muted' id='td-mode-label'>What to collect</span>",
                                       stylesheets=[STATUS_CSS], margin=(0, 10))
        self.mode_input = pn.widgets.RadioBoxGroup(options=MODE_LABELS, value=self.mode, inline=True,
                                                   label="What to collect")
        self.mode_input.link(self, value="mode")
        self.days_input = pn.widgets.IntInput.from_param(self.param.days, label="Completed days", width=120,
                                                         visible=self.mode == "history")
        self.param.watch(self._mode_changed, "mode")
        self.start_button = pn.widgets.Button(label="Start collection", color="primary",
                                              description="collect the symbols above")
        self.stop_button = pn.widgets.Button(label="Stop collection", color="warning",
                                             description="stop collections started for these symbols")
        self.start_button.on_click(lambda _e: self.start_collection())
        self.stop_button.on_click(lambda _e: self.stop_collection())
        # the running live service's symbols, changed without a restart (ServiceControl.subscribe/unsubscribe)
        self.live_symbols_input = pn.widgets.TextInput(label="Live symbols to add or remove", placeholder="NVDA, TSLA",
                                                       width=260)
        self.subscribe_button = pn.widgets.Button(label="Add to live", description="watch these symbols too; "
                                                  "their day is filled in from history first")
        self.unsubscribe_button = pn.widgets.Button(label="Remove from live", description="stop storing these "
                                                    "symbols; their day is finalised")
        self.subscribe_button.on_click(lambda _e: self.change_live_symbols(add=True))
        self.unsubscribe_button.on_click(lambda _e: self.change_live_symbols(add=False))
        # stored days played through the live path: pages.components.player (the supervised replay service)
        self.player = PlayerBar(services=self.services, user=self.user, actor=self.actor or self.user.name,
                                autostart=self.autostart, bars_closed=0)  # counted in _apply
        self.refresh(sizes=True)
        self._render_feed()  # the feed's last known status before any bus update

    def _mode_changed(self, event) -> None:
        """Live collects today's session: the number of completed days applies to history only."""
        self.days_input.visible = event.new == "history"
        if self.mode_input.value != event.new:
            self.mode_input.value = event.new

    def market_now(self) -> pd.Timestamp:
        """The market's time (ET): the demo feed's emulated clock when configured, else the wall clock."""
        return market_now(self.ctx.settings) or pd.Timestamp.now(tz="America/New_York")

    # -- bus ------------------------------------------------------------------------------
    def _on_bus(self, msg: Message) -> None:  # bus thread: never block, never touch widgets
        with self._lock:
            self._buffer.append(msg)

    def start_updates(self) -> None:
        """Subscribe to the bus and start the 100 ms flush and 1 s tick (idempotent)."""
        if self._stops:
            return
        self._stops.append(self.ctx.bus.listen("collection", self._on_bus))
        self._stops.append(self.ctx.bus.listen("bars.*", self._on_bus))
        self._stops.append(self.ctx.bus.listen("jobs", self._on_bus))
        if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
            self._callbacks.append(quiet_periodic(self.flush, FLUSH_MS))
            self._callbacks.append(quiet_periodic(self.tick, TICK_MS))
            pn.state.on_session_destroyed(lambda _ctx: self.stop_updates())

    def stop_updates(self) -> None:
        for stop in self._stops:
            stop()
        self._stops.clear()
        for cb in self._callbacks:
            cb.stop()
        self._callbacks.clear()

    def flush(self) -> int:
        """Apply buffered bus messages to the page state; returns how many were applied."""
        with self._lock:
            batch = list(self._buffer)
            self._buffer.clear()
        if not batch:
            return 0
        for msg in batch:
            self._apply(msg)
        self._render_feed()
        self._render_active()
        return len(batch)

    def _apply(self, msg: Message) -> None:
        ev = msg.event
        if isinstance(ev, BarClosed):
            if ev.origin == SCENARIO_ORIGIN:
                self.player.bars_closed += 1
            else:
                self._bars_seen += 1
        elif isinstance(ev, BarsBuilt):
            self._bars_seen += ev.bars
        elif isinstance(ev, FeedStatusChanged):
            self.feeds[ev.kind] = ev
        elif isinstance(ev, FeedSwitched):
            self.switches.appendleft((ev.wall, ev))
        elif isinstance(ev, JobChanged):
            if ev.kind == "collect":
                self._set_active(f"job {ev.id}", ev.progress, ev.message or ev.change, ev.status,
                                 ev.status in JOB_FINISHED)
        elif isinstance(ev, CollectionProgress):
            if ev.job_id is not None:
                key = f"job {ev.job_id}"
            elif len(self._local_runs) == 1:  # the collection started on this page
                key = next(iter(self._local_runs))
            elif any(k.startswith("job ") and not v.get("finished") for k, v in self.active.items()):
                return  # a collect job is running: its JobChanged events carry the same progress
            else:
                key = "collection"
            self._set_active(key, ev.percent, ev.message, "running", ev.total > 0 and ev.done >= ev.total)
        elif isinstance(ev, DayWritten):
            self.ticks_written += ev.ticks
            self.recent.appendleft((msg.timestamp, ev))

    def _set_active(self, key: str, percent: float, message: str, status: str, finished: bool,
                    label: str = "") -> None:
        known = self.active.get(key)
        label = label or (known["label"] if known else self._label(key))
        self.active[key] = {"key": key, "label": label, "percent": float(percent), "message": message,
                            "status": status, "updated": time.time(), "finished": finished}

    def _since(self) -> str:
        return f"since {self.market_now():%H:%M}"

    def _label(self, key: str) -> str:
        """An active collection's name, the same way wherever it started: "AAPL, MSFT live since 09:30"."""
        if key.startswith("job ") and self.jobs is not None:
            try:
                job = next((j for j in self.jobs.list(kind="collect") if f"job {j.id}" == key), None)
            except Exception:  # noqa: BLE001 - a name only: fall back to the job number
                job = None
            if job is not None and job.params.get("symbols"):
                return collection_label(job.params["symbols"], job.params.get("mode", "history"), self._since())
        if key.startswith("job "):
            return f"collect {key} {self._since()}"
        if key == "collection":
            return f"collection {self._since()}"
        return collection_label(key.split(","), self.mode, self._since())

    # -- periodic -------------------------------------------------------------------------
    def tick(self) -> None:
        """Once a second: rates into sparklines, countdown, dead letters; sizes every 30 s."""
        self.flush()
        now = time.time()
        counter = sum(f.ticks for f in self.feeds.values()) if self.feeds else self.ticks_written
        if self._last_rate_sample is not None:
            t0, c0, b0 = self._last_rate_sample
            dt_s = max(now - t0, 1e-3)
            self._push(self.ticks_trend, max(counter - c0, 0) / dt_s)
            self._push(self.bars_trend, max(self._bars_seen - b0, 0) / dt_s)
        self._last_rate_sample = (now, counter, self._bars_seen)
        # finished collections linger 30 s so the user sees them complete, then drop off
        for k in [k for k, v in self.active.items() if v.get("finished") and now - v["updated"] > FINISHED_LINGER_S]:
            del self.active[k]
        self.refresh(sizes=now - self._sizes_at >= SIZES_EVERY_S)
        self._render_feed()
        self._render_active()

    @staticmethod
    def _push(trend: Sparkline, value: float) -> None:
        trend.push(value)

    def refresh(self, sizes: bool = False) -> None:
        """Re-read dead letters, the session clock and (optionally) storage sizes."""
        cat = self.ctx.catalog
        self.dead_count.value = cat.count_dead_letters()
        rows = cat.dead_letters(limit=DEAD_LETTER_ROWS)
        self.dead_table.value = pd.DataFrame(
            [{"id": r.id, "when": r.created_at.strftime("%Y-%m-%d %H:%M:%S"), "source": r.source, "symbol": r.symbol,
              "reason": r.reason, "raw": r.raw[:200]} for r in rows],
            columns=["id", "when", "source", "symbol", "reason", "raw"])
        if sizes:
            self._sizes_at = time.time()
            sz = self.ctx.store.sizes()
            self.sizes_table.value = pd.DataFrame(
                [{"library": k, "size": human_bytes(v), "bytes": v} for k, v in sorted(sz.items())],
                columns=["library", "size", "bytes"])
        self._render_session()

    # -- rendering ------------------------------------------------------------------------
    def feed_state(self) -> tuple[str, str]:
        """(badge kind, text) for the whole feed (the Level 1 client when there is one)."""
        return feed_summary(self.feeds)

    def _render_feed(self) -> None:
        now = time.time()
        main = primary(self.feeds)
        if main is not None and main.latency_ms is not None:
            self.latency.value = round(main.latency_ms, 1)
        self.feed_pane.object = feed_html(self.feeds, now)
        lines = "".join(
            f"<li>{html.escape(time.strftime('%H:%M:%S', time.localtime(ts)))} — switched to the "
            f"<b>{html.escape(e.to_role)}</b> feed {html.escape(e.to_feed)} ({html.escape(e.reason)}: "
            f"{html.escape(e.detail)})</li>" for ts, e in self.switches)
        self.switch_pane.object = f"<ul class='td-muted' data-testid='feed-switches'>{lines}</ul>" if lines else ""
        writes = "".join(
            f"<li>{html.escape(time.strftime('%H:%M:%S', time.localtime(ts)))} — "
            f"{html.escape(d.symbol)} {html.escape(d.day)}: {d.ticks:,} ticks stored ({html.escape(d.source)})</li>"
            for ts, d in self.recent)
        self.recent_pane.object = (f"<ul class='td-muted' data-testid='recent-writes'>{writes}</ul>" if writes
                                   else "<p class='td-muted'>No days written since this page opened.</p>")

    def _render_active(self) -> None:
        """Active collections as one HTML pane with ``<progress>`` bars.

        One pane whose text changes, not new Panel objects per update: swapping a layout's
        children every second built new Bokeh models each time, and under the page template
        Panel's design hooks then re-sent the stylesheets of other panes with references to
        models the browser never received ("reference … isn't known"), dropping that update.
        """
        rows = []
        for e in sorted(self.active.values(), key=lambda v: v["key"]):
            state = "finished" if e.get("finished") else "running"
            status = html.escape(e["status"] if e.get("finished") or e["status"] == "pending" else "running")
            pct = min(max(e["percent"], 0.0), 100.0)
            key = html.escape(e.get("label") or e["key"])
            rows.append(
                f"<div class='td-active-row' data-key='{html.escape(e['key'])}'>"
                f"<div class='td-active-label'><b>{key}</b> — {status}, {pct:.0f}%"
                f"<br><span class='td-muted'>{html.escape(e['message'])}</span></div>"
                f"<progress class='td-{state}' max='100' value='{pct:.0f}' data-status='{status}' "
                f"aria-label='progress {html.escape(e['key'])}'>{pct:.0f}%</progress></div>")
        self.active_pane.object = ("".join(rows) if rows
                                   else "<p class='td-muted'>No active collections.</p>")

    def _render_session(self, now=None) -> None:
        st = session_status(self.ctx.calendar(), now if now is not None else market_now(self.ctx.settings))
        kind = "ok" if st.is_open else ("warn" if st.session in ("pre", "after") else "idle")
        extra = f" — holiday: {html.escape(st.holiday_name)}" if st.holiday_name else ""
        extra += " — early close" if st.early_close else ""
        at = st.next_transition.strftime("%a %Y-%m-%d %H:%M ET")
        self.session_pane.object = (
            f"{badge(kind, 'Market: ' + st.label, testid='session-status')}{extra}"
            f"<p class='td-muted' data-testid='session-countdown'>{html.escape(_NEXT_EVENT[st.session])} in "
            f"<b>{countdown(st.countdown_s)}</b> ({html.escape(at)})</p>")

    # -- actions --------------------------------------------------------------------------
    def _symbols(self) -> list[str]:
        from tickdeck.core.naming import normalize_ticker

        syms = [normalize_ticker(s) for s in self.symbols.replace(" ", ",").split(",") if s.strip()]
        if not syms:
            raise TickdeckError("enter at least one symbol to collect, e.g. AAPL, MSFT")
        return syms

    def _check_operator(self) -> None:
        """Starting and stopping collections is an admin action (the injected user's role)."""
        require(self.user, "admin", "starting or stopping collection")
        if not self.actor:
            self.actor = self.user.name

    def _notify(self, text: str, kind: str = "info") -> None:
        self.message = text
        self.message_pane.object = md_text(text)  # an Alert renders Markdown: messages quote user input
        self.message_pane.alert_type = kind
        self.message_pane.visible = bool(text)

    def start_collection(self) -> None:
        """Queue (or start) collection for the symbol list; reports the outcome on the page."""
        try:
            self._check_operator()
            syms = self._symbols()
        except TickdeckError as e:
            self._notify(str(e), "danger")
            return
        params = {"symbols": syms, "mode": self.mode}
        if self.mode == "history":
            cal = self.ctx.calendar()
            params["days"] = [d.isoformat() for d in cal.previous_trading_days(cal.last_completed_trading_day(),
                                                                                   self.days)]
        if self.mode == "live" and self.services is not None:
            try:  # live collection runs all day: a supervised service, not a job on a worker slot
                self.services.start("live", by=self.actor, params={"symbols": syms})
            except Exception as e:  # noqa: BLE001 - shown on the page
                self._notify(error_text(e), "danger")
                return
            self._notify(f"Asked the live service to collect {', '.join(syms)}", "success")
            return
        queue = self.jobs
        if queue is None:
            self._start_local(syms, params)
            return
        try:
            job_id = queue.submit("collect", params, priority=0, requested_by=self.actor)
        except Exception as e:  # noqa: BLE001 - shown on the page
            self._notify(error_text(e), "danger")
            return
        self._set_active(f"job {job_id}", 0.0, f"collect {', '.join(syms)} queued", "pending", False,
                         label=collection_label(syms, self.mode, self._since()))
        self._render_active()
        self._notify(f"Queued collect job {job_id} for {', '.join(syms)}", "success")

    def _start_local(self, syms: list[str], params: dict) -> None:
        from tickdeck.core import collect, live

        key = ",".join(syms)
        stop = threading.Event()
        self._local_runs[key] = stop
        self._set_active(key, 0.0, "starting…", "running", False,
                         label=collection_label(syms, params["mode"], self._since()))
        self._render_active()
        if params["mode"] == "live":
            work = partial(live.collect_live, self.ctx, syms, stop_event=stop)
        else:
            work = partial(collect.collect_days, self.ctx, syms, [dt.date.fromisoformat(d) for d in params["days"]])
        run_off_loop(work, lambda _r: self._notify(f"Collection of {key} finished", "success"),
                     lambda e: self._notify(f"Collection of {key} failed: {error_text(e)}", "danger"))
        self._notify(f"Started {params['mode']} collection of {key}", "info")

    def change_live_symbols(self, *, add: bool) -> None:
        """Add (or remove) the symbols of the live-symbols box to (from) the running live service."""
        from tickdeck.core.naming import normalize_ticker

        try:
            self._check_operator()
            syms = [normalize_ticker(s) for s in self.live_symbols_input.value.replace(" ", ",").split(",")
                    if s.strip()]
            if not syms:
                raise TickdeckError("enter the symbols to add to or remove from live collection, e.g. NVDA")
            if self.services is None:
                raise TickdeckError("no live service here: start live collection with these symbols instead")
            want = (self.services.subscribe if add else self.services.unsubscribe)(syms, by=self.actor)
        except Exception as e:  # noqa: BLE001 - shown on the page
            self._notify(error_text(e), "danger")
            return
        self._notify(f"{'Added' if add else 'Removed'} {', '.join(syms)}: the live service collects "
                     f"{', '.join(want.params['symbols'])}", "success")

    def stop_collection(self) -> None:
        """Stop collections started here (local runs) or cancel running collect jobs."""
        try:
            self._check_operator()
        except TickdeckError as e:
            self._notify(str(e), "danger")
            return
        stopped = 0
        for key, ev in list(self._local_runs.items()):
            ev.set()
            del self._local_runs[key]
            stopped += 1
        if self.mode == "live" and self.services is not None:
            try:
                self.services.stop("live", by=self.actor)
                stopped += 1
            except Exception as e:  # noqa: BLE001
                self._notify(error_text(e), "danger")
                return
        queue = self.jobs
        if queue is not None:
            try:
                for job in queue.list(status=("pending", "running"), kind="collect"):
                    queue.cancel(job.id)
                    stopped += 1
            except Exception as e:  # noqa: BLE001
                self._notify(error_text(e), "danger")
                return
        self._notify(f"Asked {stopped} collection(s) to stop" if stopped else "No collection is running", "info")

    # -- layout ---------------------------------------------------------------------------
    def _empty_state(self) -> list:
        """A card saying how to get data in when nothing is stored yet (the start controls are below)."""
        if self.ctx.catalog.datasets():
            return []
        return [empty_state(
            "Nothing collected yet",
            "This page follows collections as they run. Start one with the controls under "
            "\"Start / stop collection\" below (admins), or from a terminal:",
            (("Collect history from IQFeed (or the bundled emulator)",
              "tickdeck collect AAPL --start 2024-07-01 --end 2024-07-03"),
             ("Collect live during market hours", "tickdeck collect AAPL --live"),
             ("Or generate synthetic days to try the app",
              "tickdeck generate AAPL MSFT --start 2024-07-01 --end 2024-07-03")))]

    def __panel__(self):
        if self.autostart:
            self.start_updates()
        self.flush()
        self._render_feed()
        self._render_active()
        controls = pn.Column(
            pn.pane.Markdown("### Start / stop collection"),
            pn.Row(self.symbols_input, pn.Column(self.mode_label, self.mode_input, margin=0), self.days_input),
            pn.Row(self.start_button, self.stop_button),
            pn.Row(self.live_symbols_input, self.subscribe_button, self.unsubscribe_button),
            self.message_pane, sizing_mode="stretch_width")
        from tickdeck.pages.components.service_panel import ServicesPanel

        return pn.Column(
            pn.pane.Markdown("## Collection monitor"), *self._empty_state(), controls,
            pn.Row(
                pn.Column(pn.pane.Markdown("### Feed connection"), self.feed_pane, self.switch_pane, width=420),
                pn.Column(pn.pane.Markdown("### Market session"), self.session_pane, width=420),
            ),
            pn.pane.Markdown("### Services"), ServicesPanel(services=self.services, actor=self.actor or self.user.name),
            pn.pane.Markdown("### Scenario replay"), self.player,
            pn.Row(self.ticks_trend.pane, self.bars_trend.pane, self.latency, self.dead_count),
            pn.pane.Markdown("### Active collections"), self.active_pane,
            pn.pane.Markdown("### Recently stored days"), self.recent_pane,
            self.dead_card,
            pn.pane.Markdown("### Storage used per library"), self.sizes_table,
            sizing_mode="stretch_width",
        )


def collection_label(symbols, mode: str, since: str) -> str:
    """``AAPL, MSFT live since 09:30``: how the page names a collection wherever it was started."""
    return f"{', '.join(symbols)} {mode} {since}"
