"""Market indicators: market breadth, options flow, per-symbol derived metrics and alerts, live and by day.

Tabs (``tab``):

* **Market breadth** — TICK with the ±600/±1000 bands, TRIN with the 1.0 line, the A/D line, up/down
  volume and new highs/lows of one listing exchange (``exchange``), the feed's values (dashed) beside
  the ones computed over the collected universe, and the stored difference local − feed
  (:func:`core.indicators.store.read_breadth` of ``local``, ``feed`` and ``diff``).
* **Options flow** — put/call ratios (equity, index, total) and the put and call volumes over the day
  (:func:`core.indicators.store.read_options`).
* **Derived metrics** — symbols × the 20 metrics of one window (``window``), each cell the latest value
  with a sparkline of the day (:func:`core.indicators.overview.derived_overview`); clicking a cell
  charts that metric over the day (``symbol``, ``metric``; :func:`core.indicators.store.read_derived`).
* **Alerts** — :class:`pages.components.alerts_panel.AlertsPanel`.

``day`` picks any day with stored indicators (:func:`core.indicators.overview.stored_days`; default
the latest). Live: the page listens to the bus topics ``indicators``
(:class:`~core.events.IndicatorUpdate` of the indicators service) and ``alerts``; messages are buffered
on the bus thread and applied at most once a second (:data:`LIVE_MS`): every row of the shown day is
streamed into the charts' sources (``ColumnDataSource.stream``), the derived table's changed cells
are patched, the latest-value strips re-rendered — nothing is rebuilt. A fired alert shows a toast.
With nothing stored the page says how to get data (live collection with the indicators service, or
building history from stored tick days — a button submits the ``indicators_build`` job through the
injected jobs facade).

Renders in Jupyter: ``IndicatorsPage(ctx=ctx)``.
"""

from __future__ import annotations

import collections
import html
import threading
import time
from typing import Callable

import numpy as np
import pandas as pd
import panel as pn
import param

from tickdeck.core import naming
from tickdeck.core.errors import TickdeckError
from tickdeck.core.events import AlertAcknowledged, AlertFired, IndicatorUpdate, Message
from tickdeck.core.indicators import overview
from tickdeck.core.indicators import store as istore
from tickdeck.core.indicators.derived import METRIC_INFO, WINDOWS
from tickdeck.core.users import User
from tickdeck.pages.components import indicator_charts as ic
from tickdeck.pages.components.alerts_panel import CODE_CSS, AlertsPanel
from tickdeck.pages.components.safe import describe_invalid, md_text, sync_url
from tickdeck.pages.components.services import LOCAL_ADMIN
from tickdeck.pages.components.ui import STATUS_CSS, badge, error_text, quiet_periodic

LIVE_MS = 1000  # live updates are applied at most once a second (the "within one second")
MAX_BUFFER = 20_000  # a stalled page keeps the newest bus messages rather than grow without bound
TABLE_RELOAD_S = 30  # a derived update for a symbol not in the table reloads it, at most this often
TABS = ("breadth", "options", "derived", "alerts")
TAB_TITLES = {"breadth": "Market breadth", "options": "Options flow", "derived": "Derived metrics",
              "alerts": "Alerts"}
EXCHANGES = ("NYSE", "NASDAQ")
BREADTH_KINDS = ("TICK", "TRIN", "AD_LINE", "ADV", "DEC", "ADV_VOL", "DEC_VOL", "NEW_HIGHS", "NEW_LOWS",
                 "PCT_ABOVE_VWAP", "MCCLELLAN", "UPDOWN_VOL_RATIO")
FEED_KINDS = ("TICK", "TRIN", "ADV", "DEC", "ADV_VOL", "DEC_VOL", "NEW_HIGHS", "NEW_LOWS")
DIFF_KINDS = ("TICK", "TRIN", "ADV_VOL", "DEC_VOL", "NEW_HIGHS", "NEW_LOWS")
OPTION_CLASSES = ("EQUITY", "INDEX", "TOTAL")
OPTION_COLUMNS = tuple(f"{k}.{c}" for k in ("PCR", "CALL_VOL", "PUT_VOL") for c in OPTION_CLASSES)
SOURCE_OF = {("breadth", "local"): "local", ("breadth", "feed"): "feed", ("breadth", "reconciled"): "diff",
             ("options", "feed"): "options"}
NOTHING_STORED = (
    "No indicators are stored yet. To see them:\n\n"
    "* **Live**: start live collection with the statistic symbols (e.g. `JTNT.Z`, `RINT.Z`, `VCOET.Z`, `VPOET.Z`) "
    "beside your symbols, and the `indicators` service (Collection monitor → Services, or "
    "`tickdeck service start indicators`; `alerts` for alerts); values appear here within a second.\n"
    "* **History**: build the series from stored tick days with `tickdeck indicators build --start … --end …`, "
    "the button below, or Admin → Build indicators history.")


STRIP_CSS = """
.td-ind-strip { display:flex; flex-wrap:wrap; gap:8px 18px; font-family:system-ui,sans-serif; }
.td-ind { min-width:96px; }
.td-ind-v { font-size:1.35em; font-weight:600; font-variant-numeric:tabular-nums; color:#1f2328; }
"""


def _columns(kinds, exchanges=EXCHANGES, suffix: str = "") -> list[str]:
    return [f"{k}.{ex}{suffix}" for k in kinds for ex in exchanges]


class IndicatorsPage(pn.viewable.Viewer):
    """The Market indicators dashboard (see the module docstring)."""

    ctx = param.Parameter(doc="tickdeck.core.context.Context: store (indicators library), catalog (alerts) and bus")
    day = param.String(default="", doc="the day shown, YYYY-MM-DD ('' the latest day with stored indicators)")
    tab = param.Selector(default="breadth", objects=list(TABS), doc="the tab shown")
    exchange = param.Selector(default="NYSE", objects=list(EXCHANGES), doc="listing exchange of the breadth charts")
    window = param.Selector(default="5min", objects=list(WINDOWS), doc="derived metrics' rolling window")
    symbol = param.String(default="", doc="derived metrics: the symbol charted over the day")
    metric = param.String(default="", doc="derived metrics: the metric charted over the day")
    autostart = param.Boolean(default=True, doc="listen to the bus and apply live updates once rendered")
    user = param.ClassSelector(class_=User, default=LOCAL_ADMIN, instantiate=False,
                               doc="who is looking (injected by the server): alert actions need the researcher role")
    jobs = param.Parameter(default=None, doc="jobs facade (injected): the 'Build indicators history' button")
    last_error = param.String(default="", doc="the last error shown on the page ('' none)")

    def __init__(self, **params):
        super().__init__(**params)
        if self.ctx is None:
            raise TickdeckError("IndicatorsPage needs ctx=Context")
        self._lock = threading.Lock()
        self._buffer: collections.deque = collections.deque(maxlen=MAX_BUFFER)
        self._stops: list[Callable[[], None]] = []
        self._callbacks: list = []
        self._table_loaded_at = 0.0
        self.applied = 0  # live rows streamed into the charts since the page opened
        self.sources: dict[str, object] = {}
        self.latest: dict[str, tuple[int, dict[str, float]]] = {}  # source -> (at, values) shown
        self.ov: overview.DerivedOverview | None = None

        self.day_select = pn.widgets.Select(label="Day", width=150)
        self.exchange_input = pn.widgets.RadioButtonGroup.from_param(self.param.exchange, label="Exchange")
        self.window_input = pn.widgets.RadioButtonGroup.from_param(self.param.window, label="Window")
        self.status_pane = pn.pane.HTML(stylesheets=[STATUS_CSS], sizing_mode="stretch_width")
        self.empty_pane = pn.pane.Alert(NOTHING_STORED, alert_type="info", visible=False, sizing_mode="stretch_width",
                                        stylesheets=[CODE_CSS])
        self.build_button = pn.widgets.Button(label="Build indicators history", color="primary", width=230,
                                              visible=False)
        self.build_button.on_click(lambda _e: self.build_history())
        self.message_pane = pn.pane.Alert("", alert_type="info", visible=False, sizing_mode="stretch_width")
        self.breadth_latest = pn.pane.HTML(stylesheets=[STATUS_CSS, STRIP_CSS], sizing_mode="stretch_width")
        self.options_latest = pn.pane.HTML(stylesheets=[STATUS_CSS, STRIP_CSS], sizing_mode="stretch_width")
        self.breadth_box = pn.Column(sizing_mode="stretch_width")
        self.options_box = pn.Column(sizing_mode="stretch_width")
        self.derived_box = pn.Column(sizing_mode="stretch_width")
        self.detail_box = pn.Column(sizing_mode="stretch_width")
        self.table = pn.widgets.Tabulator(pd.DataFrame(), show_index=False, disabled=True, selectable=False,
                                          sizing_mode="stretch_width", layout="fit_data_table", height=420,
                                          frozen_columns=["symbol"])
        self.table.on_click(self._on_cell)
        self.alerts = AlertsPanel(ctx=self.ctx, user=self.user)
        # Tabs as a button group over one body: Bokeh's Tabs keep hidden panels focusable under
        # aria-hidden (axe "aria-hidden-focus"), and its dynamic mode loads a stylesheet from a CDN.
        self.tab_input = pn.widgets.RadioButtonGroup(options={TAB_TITLES[t]: t for t in TABS}, value=self.tab,
                                                     label="Section", sizing_mode="stretch_width", margin=(10, 5))
        self.tab_content = {
            "breadth": pn.Column(self.breadth_latest, self.breadth_box, sizing_mode="stretch_width"),
            "options": pn.Column(self.options_latest, self.options_box, sizing_mode="stretch_width"),
            "derived": pn.Column(pn.Row(pn.pane.Markdown("Window:", margin=(12, 5)), self.window_input),
                                 self.derived_box, self.detail_box, sizing_mode="stretch_width"),
            "alerts": pn.Column(self.alerts, sizing_mode="stretch_width"),
        }
        self.body = pn.Column(self.tab_content[self.tab], sizing_mode="stretch_width")
        self.tab_input.param.watch(lambda e: setattr(self, "tab", e.new), "value")
        self.day_select.param.watch(lambda e: setattr(self, "day", e.new or ""), "value")
        self.load()

    # -- loading a day ------------------------------------------------------------------------------
    def days(self) -> list[str]:
        return [naming.format_day(d) for d in overview.stored_days(self.ctx)]

    def load(self) -> None:
        """Read the shown day's series from the store and build the tabs (a day change, not live updates)."""
        days = self.days()
        if self.day and self.day not in days:
            self._notify(f"no indicators stored on {self.day}; showing the latest stored day", "warning")
            with param.parameterized.discard_events(self):
                self.day = ""
        if not self.day and days:
            with param.parameterized.discard_events(self):
                self.day = days[-1]
        self.day_select.options = list(reversed(days))
        self.day_select.value = self.day or None
        self.empty_pane.visible = not days
        self.build_button.visible = not days and self.jobs is not None
        self._read_sources()
        self._render_breadth()
        self._render_options()
        self._load_derived()
        self._render_status()

    def _read(self, reader, *args) -> pd.DataFrame | None:
        if not self.day:
            return None
        try:
            return reader(self.ctx, self.day, *args)
        except istore.IndicatorsNotStored:
            return None

    def _read_sources(self) -> None:
        frames = {"local": self._read(istore.read_breadth, "local"), "feed": self._read(istore.read_breadth, "feed"),
                  "diff": self._read(istore.read_breadth, "diff"), "options": self._read(istore.read_options)}
        wanted = {"local": _columns(BREADTH_KINDS), "feed": _columns(FEED_KINDS),
                  "diff": _columns(DIFF_KINDS, suffix=".diff"), "options": list(OPTION_COLUMNS)}
        self.stored = {k: v is not None and len(v) > 0 for k, v in frames.items()}
        self.latest = {}
        for k, df in frames.items():
            self.sources[k] = ic.frame_source(df, wanted[k])
            if df is not None and len(df):
                self.latest[k] = (int(df.index[-1].value), {c: float(df[c].iloc[-1]) for c in df.columns})

    # -- breadth ------------------------------------------------------------------------------------
    @param.depends("exchange", watch=True)
    def _render_breadth(self) -> None:
        ex, s = self.exchange, self.sources
        if not (self.stored.get("local") or self.stored.get("feed")):
            self.breadth_box.objects = [self._nothing("market breadth")]
            self._render_breadth_latest()
            return
        loc, feed, diff = s["local"], s["feed"], s["diff"]

        def both(kind, what):
            return [(loc, f"{kind}.{ex}", f"{what} (local)"), (feed, f"{kind}.{ex}", f"{what} (feed)")]

        figs = [
            ic.line_figure(f"TICK {ex}", both("TICK", "TICK"), y_label="issues",
                           bands=[(600, "dashed"), (-600, "dashed"), (1000, "solid"), (-1000, "solid")]),
            ic.line_figure(f"TRIN {ex}", both("TRIN", "TRIN"), y_label="ratio", bands=[(1.0, "solid")]),
            ic.line_figure(f"Advance/decline line {ex}", [(loc, f"AD_LINE.{ex}", "A/D line (local)")],
                           y_label="issues", bands=[(0.0, "dotted")]),
            ic.line_figure(f"Up / down volume {ex}", both("ADV_VOL", "up") + both("DEC_VOL", "down"),
                           y_label="shares"),
            ic.line_figure(f"New highs / new lows {ex}", both("NEW_HIGHS", "highs") + both("NEW_LOWS", "lows"),
                           y_label="issues"),
            ic.line_figure(f"Local − feed {ex}", [(diff, f"{k}.{ex}.diff", k) for k in ("TICK", "TRIN")],
                           y_label="difference", bands=[(0.0, "dotted")]),
        ]
        self.breadth_box.objects = [pn.FlexBox(*[pn.pane.Bokeh(f, min_width=300, sizing_mode="stretch_width",
                                                               styles={"flex": "1 1 460px"}) for f in figs],
                                               sizing_mode="stretch_width")]
        self._render_breadth_latest()

    def _value(self, source: str, name: str) -> tuple[str, str]:
        at, vals = self.latest.get(source, (0, {}))
        return ic.fmt(vals.get(name, float("nan"))), str(at)

    def _strip(self, items: list[tuple[str, str, str]], at_source: str) -> str:
        cells = []
        for label, source, name in items:
            text, at = self._value(source, name)
            cells.append(f"<div class='td-ind'><div class='td-muted'>{html.escape(label)}</div>"
                         f"<div class='td-ind-v' data-testid='v-{html.escape(name)}-{source}' data-at='{at}'>"
                         f"{html.escape(text)}</div></div>")
        at = self.latest.get(at_source, (0, {}))[0]
        when = pd.Timestamp(at, tz="UTC").tz_convert(ic.ET).strftime("%H:%M:%S ET") if at else "—"
        return (f"<div class='td-ind-strip'>{''.join(cells)}</div>"
                f"<p class='td-muted' data-testid='as-of-{at_source}'>as of {html.escape(when)}</p>")

    def _render_breadth_latest(self) -> None:
        ex = self.exchange
        items = [("TICK feed", "feed", f"TICK.{ex}"), ("TICK local", "local", f"TICK.{ex}"),
                 ("TICK local − feed", "diff", f"TICK.{ex}.diff"), ("TRIN feed", "feed", f"TRIN.{ex}"),
                 ("TRIN local", "local", f"TRIN.{ex}"), ("TRIN local − feed", "diff", f"TRIN.{ex}.diff"),
                 ("A/D line", "local", f"AD_LINE.{ex}"), ("Up/down volume", "local", f"UPDOWN_VOL_RATIO.{ex}"),
                 ("% above VWAP", "local", f"PCT_ABOVE_VWAP.{ex}"), ("McClellan", "local", f"MCCLELLAN.{ex}")]
        self.breadth_latest.object = self._strip(items, "local" if "local" in self.latest else "feed")
        self.breadth_latest.visible = bool(self.stored.get("local") or self.stored.get("feed"))

    # -- options ------------------------------------------------------------------------------------
    def _render_options(self) -> None:
        if not self.stored.get("options"):
            self.options_box.objects = [self._nothing("options flow")]
            self.options_latest.visible = False
            return
        src = self.sources["options"]
        figs = [ic.line_figure("Put/call volume ratio", [(src, f"PCR.{c}", c.lower()) for c in OPTION_CLASSES],
                               y_label="puts / calls", bands=[(1.0, "dotted")]),
                ic.line_figure("Option volume", [(src, f"{k}_VOL.{c}", f"{k.lower()} {c.lower()}")
                                                 for c in OPTION_CLASSES for k in ("PUT", "CALL")],
                               y_label="contracts")]
        self.options_box.objects = [pn.FlexBox(*[pn.pane.Bokeh(f, min_width=300, sizing_mode="stretch_width",
                                                               styles={"flex": "1 1 460px"}) for f in figs],
                                               sizing_mode="stretch_width")]
        self._render_options_latest()

    def _render_options_latest(self) -> None:
        items = [(f"Put/call {c.lower()}", "options", f"PCR.{c}") for c in OPTION_CLASSES]
        items += [(f"Puts {c.lower()}", "options", f"PUT_VOL.{c}") for c in OPTION_CLASSES]
        self.options_latest.object = self._strip(items, "options")
        self.options_latest.visible = True

    # -- derived metrics ----------------------------------------------------------------------------
    @param.depends("window", watch=True)
    def _load_derived(self) -> None:
        self._table_loaded_at = time.monotonic()
        self.ov = None
        if self.day:
            try:
                self.ov = overview.derived_overview(self.ctx, self.day, self.window)
            except istore.IndicatorsNotStored:
                pass
        if self.ov is None:
            self.derived_box.objects = [self._nothing("derived metrics")]
            self.detail_box.objects = []
            return
        ov = self.ov
        # the day's shape is drawn once per load; a live update changes a cell's value text only
        self._svg = [[ic.sparkline_svg(ov.sparks[i, j], label=f"{ov.symbols[i]} {m}") for j, m in enumerate(ov.metrics)]
                     for i in range(len(ov.symbols))]
        rows = {"symbol": list(ov.symbols)}
        for j, m in enumerate(ov.metrics):
            rows[m] = [self._cell(ov.last[i, j], self._svg[i][j]) for i in range(len(ov.symbols))]
        self.table.formatters = {m: {"type": "html"} for m in ov.metrics}
        self.table.header_tooltips = {m: f"{METRIC_INFO[m].meaning} ({METRIC_INFO[m].unit})" for m in ov.metrics}
        self.table.value = pd.DataFrame(rows)
        self.table.height = min(60 + 34 * len(ov.symbols), 620)
        self.derived_box.objects = [pn.pane.Markdown(
            f"Latest value and the day's shape, {self.window} window — click a cell to chart it over the day.",
            styles={"font-size": "0.9em"}), self.table]
        self._render_detail()

    @staticmethod
    def _cell(value: float, svg: str) -> str:
        return (f"<span class='td-cell'><span style='display:inline-block;min-width:4.5em;text-align:right'>"
                f"{html.escape(ic.fmt(value))}</span> {svg}</span>")

    def _on_cell(self, event) -> None:
        if self.ov is None or event.column not in METRIC_INFO or event.row is None or event.row >= len(self.ov.symbols):
            return
        self.param.update(symbol=self.ov.symbols[event.row], metric=event.column)

    @param.depends("symbol", "metric", watch=True)
    def _render_detail(self) -> None:
        if self.ov is None or not self.symbol or self.metric not in METRIC_INFO:
            self.detail_box.objects = []
            self.sources.pop("detail", None)
            return
        col = f"{self.metric}.{self.window}"
        try:
            df = istore.read_derived(self.ctx, self.symbol, self.day, [self.metric], self.window)
        except TickdeckError as e:
            self.detail_box.objects = [pn.pane.Alert(md_text(error_text(e)), alert_type="warning")]
            return
        src = ic.frame_source(df, [col])
        self.sources["detail"] = src
        info = METRIC_INFO[self.metric]
        fig = ic.line_figure(f"{self.symbol} {self.metric} ({self.window})", [(src, col, self.metric)],
                             y_label=info.unit, height=300)
        self.detail_box.objects = [pn.pane.Markdown(f"**{md_text(self.symbol)} — {md_text(info.meaning)}** "
                                                    f"({md_text(info.unit)}; {md_text(info.reference)})"),
                                   pn.pane.Bokeh(fig, sizing_mode="stretch_width")]

    # -- live ---------------------------------------------------------------------------------------
    def _on_bus(self, msg: Message) -> None:  # bus thread: never block, never touch widgets
        if isinstance(msg.event, (IndicatorUpdate, AlertFired, AlertAcknowledged)):
            with self._lock:
                self._buffer.append(msg.event)

    def start_updates(self) -> None:
        """Listen to the bus and apply what arrived once a second (idempotent)."""
        if self._stops:
            return
        self._stops.append(self.ctx.bus.listen("indicators", self._on_bus))
        self._stops.append(self.ctx.bus.listen("alerts", self._on_bus))
        if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
            self._callbacks.append(quiet_periodic(self.flush, LIVE_MS))
            pn.state.on_session_destroyed(lambda _ctx: self.stop_updates())

    def stop_updates(self) -> None:
        for stop in self._stops:
            stop()
        self._stops.clear()
        for cb in self._callbacks:
            cb.stop()
        self._callbacks.clear()

    def flush(self) -> int:
        """Apply the buffered bus events (coalesced: one stream per source, one patch of the table);
        returns how many events were taken."""
        with self._lock:
            batch = list(self._buffer)
            self._buffer.clear()
        if not batch:
            return 0
        alerts = [e for e in batch if not isinstance(e, IndicatorUpdate)]
        if alerts:
            self.alerts.on_events(alerts)
        updates = [e for e in batch if isinstance(e, IndicatorUpdate)]
        if updates:
            self._apply_updates(updates)
        return len(batch)

    def _apply_updates(self, updates: list[IndicatorUpdate]) -> None:
        if not self.day or any(u.day not in self.day_select.options for u in updates):
            days = self.days()
            self.day_select.options = list(reversed(days))
            if not self.day and days:  # the first live values of an empty page: show their day
                self.day = updates[-1].day if updates[-1].day in days else days[-1]
                return
        rows: dict[str, list] = collections.defaultdict(list)
        derived: dict[str, IndicatorUpdate] = {}
        for u in updates:
            if u.day != self.day:
                continue
            if u.group == "derived":
                derived[u.symbol] = u
                if u.symbol == self.symbol and "detail" in self.sources:
                    rows["detail"].append((u.at, u.as_dict()))
                continue
            src = SOURCE_OF.get((u.group, u.source))
            if src is not None:
                rows[src].append((u.at, u.as_dict()))
        redraw = set()
        for src, rs in rows.items():
            rs.sort(key=lambda r: r[0])
            if src != "detail" and not self.stored.get(src):
                self.stored[src] = True
                redraw.add(src)
            self.applied += ic.stream_rows(self.sources[src], rs)
            if src != "detail":
                at, vals = rs[-1]
                if at >= self.latest.get(src, (0, {}))[0]:
                    self.latest[src] = (at, vals)
        if redraw & {"local", "feed", "diff"}:
            self._render_breadth()
        elif rows.keys() & {"local", "feed", "diff"}:
            self._render_breadth_latest()
        if "options" in redraw:
            self._render_options()
        elif "options" in rows:
            self._render_options_latest()
        if derived:
            self._patch_table(derived)
        self._render_status()

    def _patch_table(self, derived: dict[str, IndicatorUpdate]) -> None:
        ov = self.ov
        if ov is None or any(s not in ov.symbols for s in derived):
            if time.monotonic() - self._table_loaded_at >= TABLE_RELOAD_S or ov is None:
                self._load_derived()
            return
        patch: dict[str, list] = collections.defaultdict(list)
        for sym, u in derived.items():
            i = ov.symbols.index(sym)
            vals = u.as_dict()
            for j, m in enumerate(ov.metrics):
                v = vals.get(ov.column(m))
                if v is None or (np.isnan(v) and np.isnan(ov.last[i, j])) or v == ov.last[i, j]:
                    continue
                ov.last[i, j] = v
                patch[m].append((i, self._cell(v, self._svg[i][j])))
        if patch:
            self.table.patch(dict(patch), as_index=False)

    # -- status, empty states and actions -----------------------------------------------------------
    def _nothing(self, what: str):
        day = f" on {self.day}" if self.day else ""
        return pn.pane.Alert(f"No {what} stored{day}. " + (
            "Start live collection with the indicators service, or build history for the day "
            "(`tickdeck indicators build`)." if self.day else "See above for how to collect or build indicators."),
            alert_type="light", sizing_mode="stretch_width")

    def _render_status(self) -> None:
        if not self.day:
            self.status_pane.object = badge("idle", "No indicators stored", testid="indicators-status")
            return
        live = any(at for at, _ in self.latest.values()) and self.applied > 0
        kind, text = ("ok", f"{self.day} — live") if live else ("idle", f"{self.day} — stored history")
        self.status_pane.object = badge(kind, text, testid="indicators-status")

    def _notify(self, text: str, kind: str = "info") -> None:
        self.message_pane.object = md_text(text)
        self.message_pane.alert_type = kind
        self.message_pane.visible = bool(text)
        if kind in ("danger", "warning"):
            self.last_error = text

    def build_history(self) -> int | None:
        """Submit the ``indicators_build`` job for every stored tick day (through the jobs facade)."""
        from tickdeck.core.indicators.build import all_days

        try:
            if self.jobs is None:
                raise TickdeckError("no job queue here: run `tickdeck indicators build --start … --end …`")
            days = all_days(self.ctx)
            if not days:
                raise TickdeckError("no tick days are stored: collect or import some first (Collection monitor)")
            job = self.jobs.submit("indicators_build", {"start": days[0].isoformat(), "end": days[-1].isoformat()},
                                   requested_by=self.user.name)
        except Exception as e:  # noqa: BLE001 - shown on the page
            self._notify(error_text(e), "danger")
            return None
        self._notify(f"Queued indicators build job {job} for {days[0]} … {days[-1]}; reload when it finishes",
                     "success")
        return job

    @param.depends("day", watch=True)
    def _day_changed(self) -> None:
        self.load()

    @param.depends("tab", watch=True)
    def _tab_changed(self) -> None:
        self.tab_input.value = self.tab
        self.body.objects = [self.tab_content[self.tab]]

    def sync_location(self) -> None:
        """Mirror ``day``, ``tab``, ``symbol`` and ``metric`` in the URL (served pages)."""
        sync_url(self, {"day": "day", "tab": "tab", "symbol": "symbol", "metric": "metric"},
                 lambda bad: self._notify(describe_invalid(bad), "warning"))

    def __panel__(self):
        if self.autostart:
            self.start_updates()
        header = pn.FlexBox(pn.pane.Markdown("## Market indicators", margin=(0, 20, 0, 5)), self.day_select,
                            pn.Column(pn.pane.Markdown("Exchange", margin=(0, 5)), self.exchange_input),
                            self.status_pane, align_items="center", sizing_mode="stretch_width")
        return pn.Column(header, self.empty_pane, self.build_button, self.message_pane, self.tab_input, self.body,
                         sizing_mode="stretch_width")

