"""Collection monitor: feed status, active collections, rates, dead letters, storage, session clock.

The page listens to the bus topic ``collection`` (``progress``, ``day_written``,
``feed_status`` messages) and ``bars.*``; messages are buffered on the bus thread and applied
in ~100 ms batches on the session's event loop, and a 1 s periodic callback turns counters into
rates (ticks/s, bars/s sparklines) and refreshes the session countdown. Start/stop collection
submits a ``collect`` job through the injected jobs facade (``jobs=``), and without one runs
:func:`core.collect.collect_days` (days) or :func:`core.live.collect_live` (live) on a
background thread. Starting and stopping needs the admin role (the injected ``user``). The
session clock is :func:`core.session_status.session_status`.

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

from core.errors import TickdeckError
from core.session_status import session_status
from core.users import User
from pages.components.safe import md_text
from pages.components.services import LOCAL_ADMIN, require
from pages.components.ui import STATUS_CSS, badge, countdown, error_text, human_bytes, run_off_loop  # noqa: F401

log = logging.getLogger(__name__)

FLUSH_MS = 100  # bus messages are applied in batches this often (the page's reaction time)
TICK_MS = 1000  # rates, sparklines and the countdown refresh once a second
SPARK_POINTS = 120  # two minutes of per-second samples: enough shape, little memory
SIZES_EVERY_S = 30  # ArcticDB size scans walk every symbol; once in 30 s is plenty
DEAD_LETTER_ROWS = 200  # the inspect table shows the newest rows only
MAX_BUFFER = 10_000  # if the page stalls, keep the newest messages rather than grow without bound
RECENT_WRITES = 12  # "day written" lines kept in the activity list

_NEXT_EVENT = {"pre": "regular open", "regular": "close", "after": "after-hours end", "closed": "pre-market open"}


class MonitorPage(pn.viewable.Viewer):
    """Live view of collection: what the feed is doing and what landed in the store."""

    ctx = param.Parameter(doc="core.context.Context: bus, catalog, store and calendar")
    symbols = param.String(default="", doc="comma-separated tickers for Start/Stop collection")
    mode = param.Selector(default="history", objects=["history", "live"],
                          doc="history: last N completed days; live: stream the current session")
    days = param.Integer(default=1, bounds=(1, 60), doc="how many completed trading days (history mode)")
    autostart = param.Boolean(default=True, doc="start the bus listener and periodic updates on render")
    message = param.String(default="", doc="last action result or error shown to the user")
    actor = param.String(default="", doc="who is recorded as requesting jobs started here (default: the user)")
    user = param.ClassSelector(class_=User, default=LOCAL_ADMIN, instantiate=False,
                               doc="who is looking (injected by the server): start/stop needs the admin role")
    jobs = param.Parameter(default=None, doc="jobs facade (pages.components.services.JobsFacade); "
                                             "None: collections run in this process")

    def __init__(self, **params):
        super().__init__(**params)
        if self.ctx is None:
            raise TickdeckError("MonitorPage needs ctx=Context")
        self._lock = threading.Lock()
        self._buffer: collections.deque = collections.deque(maxlen=MAX_BUFFER)
        self._stops: list[Callable[[], None]] = []
        self._callbacks: list = []
        self.feed: dict = {}
        self.feed_seen_at: float | None = None
        self.active: dict[str, dict] = {}
        self.recent: collections.deque = collections.deque(maxlen=RECENT_WRITES)
        self.ticks_written = 0
        self._bars_seen = 0
        self._last_rate_sample: tuple[float, int, int] | None = None
        self._sizes_at = 0.0
        self._local_runs: dict[str, threading.Event] = {}

        self.feed_pane = pn.pane.HTML(stylesheets=[STATUS_CSS], sizing_mode="stretch_width")
        self.active_pane = pn.pane.HTML(stylesheets=[STATUS_CSS], sizing_mode="stretch_width")
        self.ticks_trend = pn.indicators.Trend(label="Ticks per second", data={"x": [0], "y": [0]},
                                               plot_type="area", width=260, height=120)
        self.bars_trend = pn.indicators.Trend(label="Bars per second", data={"x": [0], "y": [0]},
                                              plot_type="area", width=260, height=120)
        self.latency = pn.indicators.Number(label="Feed latency", value=0, format="{value:,.1f} ms",
                                            font_size="28pt", title_size="11pt")
        self.dead_count = pn.indicators.Number(label="Dead letters (new)", value=0, format="{value:,}",
                                               font_size="28pt", title_size="11pt",
                                               colors=[(0.5, "#116329"), (1e12, "#a40e26")])
        self.dead_table = pn.widgets.Tabulator(pd.DataFrame(columns=["id", "when", "source", "symbol", "reason", "raw"]),
                                               show_index=False, disabled=True, pagination="local", page_size=10,
                                               sizing_mode="stretch_width")
        self.dead_card = pn.Card(self.dead_table, title="Inspect dead letters", collapsed=True,
                                 sizing_mode="stretch_width")
        self.sizes_table = pn.widgets.Tabulator(pd.DataFrame(columns=["library", "size", "bytes"]), show_index=False,
                                                disabled=True, sizing_mode="stretch_width")
        self.session_pane = pn.pane.HTML(stylesheets=[STATUS_CSS], sizing_mode="stretch_width")
        self.recent_pane = pn.pane.HTML(stylesheets=[STATUS_CSS], sizing_mode="stretch_width")
        self.message_pane = pn.pane.Alert("", alert_type="info", visible=False, sizing_mode="stretch_width")

        self.symbols_input = pn.widgets.TextInput.from_param(self.param.symbols, label="Symbols (comma-separated)",
                                                             placeholder="AAPL, MSFT", width=260)
        self.mode_input = pn.widgets.RadioButtonGroup.from_param(self.param.mode, label="Mode")
        self.days_input = pn.widgets.IntInput.from_param(self.param.days, label="Completed days", width=120)
        self.start_button = pn.widgets.Button(label="Start collection", color="primary",
                                              description="collect the symbols above")
        self.stop_button = pn.widgets.Button(label="Stop collection", color="warning",
                                             description="stop collections started for these symbols")
        self.start_button.on_click(lambda _e: self.start_collection())
        self.stop_button.on_click(lambda _e: self.stop_collection())
        self.refresh(sizes=True)

    # -- bus ------------------------------------------------------------------------------
    def _on_bus(self, msg: dict) -> None:  # bus thread: never block, never touch widgets
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
            self._callbacks.append(pn.state.add_periodic_callback(self.flush, period=FLUSH_MS))
            self._callbacks.append(pn.state.add_periodic_callback(self.tick, period=TICK_MS))
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

    def _apply(self, msg: dict) -> None:
        topic, kind, data = msg.get("topic", ""), msg.get("type", ""), msg.get("data") or {}
        if topic.startswith("bars."):
            self._bars_seen += int(data.get("bars", 1)) if isinstance(data, dict) else 1
            return
        if not isinstance(data, dict):
            return
        if topic == "jobs":
            if str(data.get("kind", "")) == "collect":
                self._apply_progress(data, key=f"job {data.get('job_id', data.get('id', '?'))}")
            return
        if kind == "feed_status":
            self.feed = dict(data)
            self.feed_seen_at = time.time()
        elif kind == "progress":
            self._apply_progress(data)
        elif kind == "day_written":
            self.ticks_written += int(data.get("ticks", 0) or 0)
            self.recent.appendleft((msg.get("timestamp", time.time()), data))

    def _apply_progress(self, data: dict, key: str | None = None) -> None:
        if key is None:
            key = f"job {data['job_id']}" if data.get("job_id") is not None else str(
                data.get("symbol") or data.get("stage") or "collection")
        done, total = data.get("done"), data.get("total")
        pct = data.get("percent", data.get("progress"))
        if pct is None and done is not None and total:
            pct = 100.0 * float(done) / float(total)
        entry = {"key": key, "percent": float(pct or 0.0), "message": str(data.get("message", "")),
                 "status": str(data.get("status", "running")), "updated": time.time()}
        self.active[key] = entry
        if entry["percent"] >= 100.0 or entry["status"] in ("succeeded", "failed", "cancelled", "done"):
            entry["finished"] = True

    # -- periodic -------------------------------------------------------------------------
    def tick(self) -> None:
        """Once a second: rates into sparklines, countdown, dead letters; sizes every 30 s."""
        self.flush()
        now = time.time()
        feed_ticks = int(self.feed.get("ticks", 0) or 0)
        counter = feed_ticks if self.feed else self.ticks_written
        if self._last_rate_sample is not None:
            t0, c0, b0 = self._last_rate_sample
            dt_s = max(now - t0, 1e-3)
            self._push(self.ticks_trend, max(counter - c0, 0) / dt_s)
            self._push(self.bars_trend, max(self._bars_seen - b0, 0) / dt_s)
        self._last_rate_sample = (now, counter, self._bars_seen)
        # finished collections linger 30 s so the user sees them complete, then drop off
        for k in [k for k, v in self.active.items() if v.get("finished") and now - v["updated"] > 30]:
            del self.active[k]
        self.refresh(sizes=now - self._sizes_at >= SIZES_EVERY_S)
        self._render_feed()
        self._render_active()

    @staticmethod
    def _push(trend, value: float) -> None:
        x = list(trend.data.get("x", []))[-(SPARK_POINTS - 1):]
        y = list(trend.data.get("y", []))[-(SPARK_POINTS - 1):]
        x.append((x[-1] + 1) if x else 0)
        y.append(round(float(value), 1))
        trend.data = {"x": x, "y": y}
        trend.value = y[-1]

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
        """(badge kind, text) for the feed connection."""
        if not self.feed:
            return "idle", "No feed status yet (no collection running)"
        state = str(self.feed.get("state", "unknown"))
        low = state.lower()
        kind = ("ok" if low in ("connected", "streaming", "closed_breaker", "ok", "up")
                else "bad" if low in ("disconnected", "down", "open", "error", "failed")
                else "warn")
        return kind, f"Feed {state}"

    def _render_feed(self) -> None:
        kind, text = self.feed_state()
        f = self.feed
        lat = f.get("latency_ms", f.get("latency"))
        if lat is not None:
            try:
                self.latency.value = float(lat)
            except (TypeError, ValueError):
                pass
        rows = "".join(f"<dt>{html.escape(k)}</dt><dd>{v:,}</dd>" if isinstance(v, int) and not isinstance(v, bool)
                       else f"<dt>{html.escape(k)}</dt><dd>{html.escape(str(v))}</dd>"
                       for k, v in f.items() if k != "state")
        age = "" if self.feed_seen_at is None else f"updated {int(time.time() - self.feed_seen_at)} s ago"
        self.feed_pane.object = (f"{badge(kind, text, testid='feed-status')} <span class='td-muted'>{age}</span>"
                                 + (f"<dl class='td-kv' data-testid='feed-counters'>{rows}</dl>" if rows else ""))
        writes = "".join(
            f"<li>{html.escape(time.strftime('%H:%M:%S', time.localtime(ts)))} — "
            f"{html.escape(str(d.get('symbol', '?')))} {html.escape(str(d.get('day', '')))}: "
            f"{int(d.get('ticks', 0) or 0):,} ticks stored ({html.escape(str(d.get('source', '')))})</li>"
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
            pct = min(max(e["percent"], 0.0), 100.0)
            key = html.escape(e["key"])
            rows.append(
                f"<div class='td-active-row'><div class='td-active-label'><b>{key}</b> — {state}, {pct:.0f}%"
                f"<br><span class='td-muted'>{html.escape(e['message'])}</span></div>"
                f"<progress class='td-{state}' max='100' value='{pct:.0f}' aria-label='progress {key}'>"
                f"{pct:.0f}%</progress></div>")
        self.active_pane.object = ("".join(rows) if rows
                                   else "<p class='td-muted'>No active collections.</p>")

    def _render_session(self, now=None) -> None:
        st = session_status(self.ctx.calendar(), now)
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
        from core.naming import normalize_ticker

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
        queue = self.jobs
        if queue is None:
            self._start_local(syms, params)
            return
        try:
            job_id = queue.submit("collect", params, priority=0, requested_by=self.actor)
        except Exception as e:  # noqa: BLE001 - shown on the page
            self._notify(error_text(e), "danger")
            return
        self.active[f"job {job_id}"] = {"key": f"job {job_id}", "percent": 0.0, "status": "pending",
                                        "message": f"collect {', '.join(syms)} queued", "updated": time.time()}
        self._render_active()
        self._notify(f"Queued collect job {job_id} for {', '.join(syms)}", "success")

    def _start_local(self, syms: list[str], params: dict) -> None:
        from core import collect, live

        key = ",".join(syms)
        stop = threading.Event()
        self._local_runs[key] = stop
        self.active[key] = {"key": key, "percent": 0.0, "message": "starting…", "status": "running",
                            "updated": time.time()}
        self._render_active()
        if params["mode"] == "live":
            work = partial(live.collect_live, self.ctx, syms, stop_event=stop)
        else:
            work = partial(collect.collect_days, self.ctx, syms, [dt.date.fromisoformat(d) for d in params["days"]])
        run_off_loop(work, lambda _r: self._notify(f"Collection of {key} finished", "success"),
                     lambda e: self._notify(f"Collection of {key} failed: {error_text(e)}", "danger"))
        self._notify(f"Started {params['mode']} collection of {key}", "info")

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
    def __panel__(self):
        if self.autostart:
            self.start_updates()
        self.flush()
        self._render_feed()
        self._render_active()
        controls = pn.Column(
            pn.pane.Markdown("### Start / stop collection"),
            pn.Row(self.symbols_input, self.mode_input, self.days_input),
            pn.Row(self.start_button, self.stop_button), self.message_pane, sizing_mode="stretch_width")
        return pn.Column(
            pn.pane.Markdown("## Collection monitor"),
            pn.Row(
                pn.Column(pn.pane.Markdown("### Feed connection"), self.feed_pane, width=420),
                pn.Column(pn.pane.Markdown("### Market session"), self.session_pane, width=420),
            ),
            pn.Row(self.ticks_trend, self.bars_trend, self.latency, self.dead_count),
            pn.pane.Markdown("### Active collections"), self.active_pane,
            pn.pane.Markdown("### Recently stored days"), self.recent_pane,
            self.dead_card,
            pn.pane.Markdown("### Storage used per library"), self.sizes_table,
            controls,
            sizing_mode="stretch_width",
        )
