"""Explorer: one symbol over a day or a range — ticks or bars, chart, data grid and export.

``ExplorerPage(ctx=ctx)`` renders in Jupyter; the server adds URL syncing
(:meth:`ExplorerPage.sync_location`) so every selection is a bookmarkable link, and defers the
first load to the browser's ``onload`` so the page shell appears at once. Loading runs in a
worker thread — the read, the chart arrays and the first image of the chart — and the page
stays responsive and shows a spinner over the chart meanwhile.

The tick view reads only the columns the chart draws (:data:`CHART_COLUMNS`) through the
store's shared frame cache; the Table tab adds the other grid columns when it is opened. The
tick chart (:class:`~pages.components.tick_plot.TickPlot`) is built once per page: a new
selection only swaps its data, so the event loop and the browser do little per selection.

Bars come from the bars engine (:func:`core.bars.get_bars`); choosing a family fills in the
family's default spec from :func:`tickdeck.core.bars.registry.family_default` (a series pre-built for
stored days). The Export tab downloads the selection through :func:`core.export.export` — the
same writer, columns and timestamp format as ``tickdeck export`` — and is offered to users with
the researcher role (the page is given its user; see :mod:`pages.components.services`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import panel as pn
import param

from tickdeck.core.bars import FAMILIES, get_bars, parse_spec
from tickdeck.core.bars.registry import family_default
from tickdeck.core.errors import NotFound, TickdeckError
from tickdeck.core.export import ExportRequest, estimate_bytes, export, table_bytes
from tickdeck.core.naming import date_range, normalize_ticker
from tickdeck.core.tick_table import (
    DEFAULT_TICK_COLUMNS, TICK_COLUMNS, InvalidTimeOfDay, parse_time_of_day, time_window,
)
from tickdeck.core.trading_time import session_spans, trading_clock
from tickdeck.core.users import User
from tickdeck.pages.components.actions import ui_action
from tickdeck.pages.components.charts import candle_chart
from tickdeck.pages.components.inputs import DateInput
from tickdeck.pages.components.grid import data_grid, grid_frame
from tickdeck.pages.components.safe import describe_invalid, md_text, sync_url
from tickdeck.pages.components.services import LOCAL_ADMIN, require
from tickdeck.pages.components.tick_plot import TickPlot, tick_chart
from tickdeck.pages.components.ui import empty_state, human_bytes

EXPORT_ROLE = "researcher"  # the least role that may download a selection
CHART_COLUMNS = ["last", "bid", "ask", "last_sz"]  # what the tick chart draws: read on every selection
EXPORT_MAX_ROWS = 5_000_000  # one in-memory download; larger selections: narrow the dates or session
MAX_RANGE_DAYS = 31  # calendar days per selection: keeps a tick view within a few GB of RAM
TABS = ("chart", "table", "analysis", "export")
NARROW_PX = 760  # phones and narrow windows (as the page template): the controls fold behind a button
# the controls fold on a narrow screen until opened; the button that opens them shows only there
CONTROLS_CSS = f"@media (max-width: {NARROW_PX}px) {{ :host(:not(.td-open)) {{ display: none !important; }} }}"
TOGGLE_CSS = f"@media (min-width: {NARROW_PX + 1}px) {{ :host {{ display: none !important; }} }}"
SHOW_CONTROLS, HIDE_CONTROLS = "Show controls ▾", "Hide controls ▴"
SELECTION = ("symbol", "start", "end", "session", "view", "bar_spec", "sma", "ema", "bollinger", "axis")
AXES = {"Trading time": "trading", "Clock time": "clock"}  # the time axis toggle's labels


@dataclass(frozen=True)
class Loaded:
    """What a load produced: the frame on screen and its description."""

    kind: str  # "ticks" | "bars"
    frame: pd.DataFrame  # ticks: the CHART_COLUMNS of the selection (shared, read-only); bars: the bars
    summary: str
    chart: object  # ticks: a tick_plot.TickChart; bars: a HoloViews layout
    selection: tuple = ()  # (symbol, start, end, session) the frame was read for


class ExplorerPage(pn.viewable.Viewer):
    """Explore a symbol's ticks or bars. ``ExplorerPage(ctx=ctx, symbol="AAPL")`` in Jupyter."""

    ctx = param.Parameter(doc="tickdeck.core.context.Context (store, catalog, bus) — injected service")
    symbol = param.String(default="", doc="ticker shown (empty: the first dataset in the catalog)")
    start = param.CalendarDate(default=None, allow_None=True, doc="first day (default: last stored day)")
    end = param.CalendarDate(default=None, allow_None=True, doc="last day, inclusive (empty: same as start)")
    session = param.Selector(objects=["all", "pre", "regular", "after"], default="all", doc="session filter")
    view = param.Selector(objects=["ticks", "bars"], default="ticks", doc="raw ticks or bars")
    bar_spec = param.String(default="time:60s", doc="bar spec, e.g. time:60s, volume:10000, renko:0.25")
    sma = param.Integer(default=0, bounds=(0, 1000), doc="simple moving average window in bars (0: off)")
    ema = param.Integer(default=0, bounds=(0, 1000), doc="exponential moving average span in bars (0: off)")
    bollinger = param.Integer(default=0, bounds=(0, 1000), doc="Bollinger band window in bars, ±2σ (0: off)")
    axis = param.Selector(objects=list(AXES.values()), default="trading",
                          doc="time axis of a multi-day chart: trading (nights, weekends and holidays collapsed) "
                              "or clock (wall-clock time); one day reads the same on both")
    tab = param.Selector(objects=list(TABS), default="chart", doc="visible tab")
    columns = param.ListSelector(default=list(DEFAULT_TICK_COLUMNS), objects=list(TICK_COLUMNS),
                                 doc="tick columns the Table tab shows (any of the 42 stored; time always first)")
    from_time = param.String(default="", doc="Table tab: first time of day shown, ET, e.g. 09:30 (empty: open)")
    to_time = param.String(default="", doc="Table tab: time of day the rows stop before, ET (empty: open)")
    export_format = param.Selector(objects=["csv", "parquet"], default="csv", doc="download format")
    export_columns = param.ListSelector(default=[], objects=list(TICK_COLUMNS),
                                        doc="tick columns of a download (empty: every stored column)")
    user = param.ClassSelector(class_=User, default=LOCAL_ADMIN, instantiate=False,
                               doc="who is viewing (injected by the server): export needs the researcher role, "
                                   "the name is the audit log's actor")
    defer_load = param.Boolean(default=False, doc="do not load in the constructor (the server loads on page load)")
    summary = param.String(default="", doc="one line describing what is shown (read-only)")
    last_error = param.String(default="", doc="last error shown to the user (read-only)")

    def __init__(self, **params):
        super().__init__(**params)
        self.loaded: Loaded | None = None
        self._generation = 0
        self._ready = False
        self._fill_defaults()
        self._build_widgets()
        if not self.defer_load:
            self.refresh()

    # -- selection ------------------------------------------------------------------------
    def _fill_defaults(self) -> None:
        if not self.symbol:
            ds = self.ctx.catalog.datasets()
            self.symbol = ds[0].symbol if ds else ""
        if self.symbol and self.start is None:
            days = self.ctx.catalog.stored_days(self.symbol)
            self.start = days[-1] if days else None

    def _range(self) -> tuple[dt.date, dt.date]:
        if not self.symbol:
            raise NotFound("no datasets yet: generate or collect data first (tickdeck generate AAPL --start … --end …)")
        if self.start is None:
            raise NotFound(f"no days stored for {self.symbol}")
        start, end = date_range(self.start, self.end or self.start)
        if (end - start).days >= MAX_RANGE_DAYS:
            raise TickdeckError(f"{start}..{end} spans more than {MAX_RANGE_DAYS} days: narrow the range")
        return start, end

    def export_filename(self) -> str:
        start, end = (self.start, self.end or self.start)
        what = "ticks" if self.view == "ticks" else self.bar_spec.replace(":", "-")
        span = f"{start}" if str(start) == str(end) else f"{start}_{end}"
        return f"{self.symbol or 'none'}_{span}_{self.session}_{what}.{self.export_format}"

    # -- loading (runs in a worker thread when served) ---------------------------------------
    def load(self) -> Loaded:
        """Read the selection from core and build its chart. Safe to call from any thread.

        Raises
        ------
        TickdeckError
            Nothing stored for the selection, an invalid bar spec, or no bars engine.
        """
        if self.symbol:
            normalize_ticker(self.symbol)  # a ticker from a link is checked before anything uses it
        start, end = self._range()
        sym = normalize_ticker(self.symbol)
        span = f"{start}" if start == end else f"{start} → {end}"
        if self.view == "ticks":
            df = self.ctx.store.read_range(sym, start, end, columns=CHART_COLUMNS, session=self.session,
                                           cached=True)  # shared by sessions
            if df.empty:
                raise NotFound(f"no {self.session}-session ticks for {sym} on {span}")
            summary = f"{sym} · {span} · {self.session} session · {len(df):,} ticks"
            chart = tick_chart(df, title=f"{sym} trades", sessions=session_spans(start, end),
                               clock_for=self._clock_for(start, end))
            return Loaded("ticks", df, summary, chart,
                          (sym, start, end, self.session))
        spec = parse_spec(self.bar_spec)
        df = get_bars(self.ctx, sym, start, end, spec, session=self.session)
        if df is None or len(df) == 0:
            raise NotFound(f"no {spec} bars for {sym} on {span} ({self.session} session)")
        summary = f"{sym} · {span} · {self.session} session · {len(df):,} bars of {spec}"
        clock = None
        if (clock_for := self._clock_for(start, end)) is not None:
            from tickdeck.pages.components.charts import bar_times

            first, _ = bar_times(df)  # where bars start: the last bar of a day may end past the close
            clock = clock_for(np.sort(first.view("i8")))
        chart = candle_chart(df, title=f"{sym} {spec}", sma=self.sma, ema=self.ema, bollinger=self.bollinger,
                             clock=clock, sessions=session_spans(start, end))
        return Loaded("bars", df, summary, chart, (sym, start, end, self.session))

    def _clock_for(self, start: dt.date, end: dt.date):
        """Trading time for a multi-day range (``axis`` is ``trading``): the wall-clock times shown ->
        :func:`tickdeck.core.trading_time.trading_clock` of the range and session; else ``None``."""
        if self.axis != "trading" or start == end:
            return None
        session = self.session
        return lambda times: trading_clock(start, end, session, times=times)

    def table_frame(self, loaded: Loaded | None = None) -> pd.DataFrame:
        """The stored columns the Table tab shows: the chosen :attr:`columns` of the loaded ticks, or the bars.

        The chart columns are reused from the loaded frame; the other chosen columns are read
        (through the shared cache) and joined without copying. Safe to call from any thread.

        Raises
        ------
        NotFound
            Nothing is loaded.
        """
        loaded = loaded or self.loaded
        if loaded is None:
            raise NotFound("nothing loaded: choose a symbol and a day")
        if loaded.kind != "ticks":
            return loaded.frame
        sym, start, end, session = loaded.selection
        frame = loaded.frame
        wanted = list(self.columns)
        extra = [c for c in wanted if c not in frame.columns]
        if not extra:
            return frame[wanted] if wanted else frame.iloc[:, :0]
        more = self.ctx.store.read_range(sym, start, end, columns=extra, session=session, cached=True)
        if not more.index.equals(frame.index):  # the day was rewritten since the chart was read
            return self.ctx.store.read_range(sym, start, end, columns=wanted, session=session)
        cols = {c: (frame[c] if c in frame.columns else more[c]).to_numpy() for c in wanted}
        return pd.DataFrame(cols, index=frame.index, copy=False)

    def grid_view(self, loaded: Loaded | None = None) -> tuple[pd.DataFrame, str]:
        """What the Table tab shows and its row count line: the display frame (µs times, session
        names, integer volumes; :mod:`tickdeck.core.tick_table`) within the time-of-day filter.

        Raises
        ------
        InvalidTimeOfDay
            The from/to filter is not a time of day.
        """
        frame = self.table_frame(loaded)
        lo, hi = parse_time_of_day(self.from_time), parse_time_of_day(self.to_time)
        total = len(frame)
        noun = "ticks" if (loaded or self.loaded).kind == "ticks" else "bars"
        if lo is None and hi is None:
            return grid_frame(frame), f"{total:,} {noun}"
        index = frame.index if isinstance(frame.index, pd.DatetimeIndex) else pd.DatetimeIndex(frame["start"])
        mask = time_window(index, lo, hi)
        shown = int(mask.sum())
        window = f"{self.from_time.strip() or 'open'} – {self.to_time.strip() or 'close'} ET"
        return grid_frame(frame[mask]), f"{shown:,} of {total:,} {noun} ({window})"

    def _apply(self, loaded: Loaded) -> None:
        self.loaded = loaded
        self.summary = loaded.summary
        if loaded.kind == "ticks":
            if self._ticks is None:
                self._ticks = TickPlot()
            self._ticks.show(loaded.chart)
            self._show_chart(self._ticks.pane)
            self._chart.object = None
        else:
            self._chart.object = loaded.chart
            self._show_chart(self._chart)
        self._grid_holder.objects = []  # refilled by the caller when the Table tab is open
        self._columns.disabled = loaded.kind != "ticks"  # bars have their own fixed columns
        self._status.object = f"**{md_text(loaded.summary)}**"

    def _needs_grid(self) -> bool:
        return self.tab == "table" and self.loaded is not None and not self._grid_holder.objects

    def _grid(self, loaded: Loaded | None = None):
        """The grid and its row count line; an invalid time filter is explained instead (no grid)."""
        try:
            frame, count = self.grid_view(loaded)
        except InvalidTimeOfDay as e:
            return None, f"⚠ {md_text(str(e))}"
        return data_grid(frame), f"**{count}**"

    def _fill_grid(self) -> None:
        """Build the grid only while the Table tab is shown (it holds its own copy of the columns)."""
        if self._needs_grid():
            grid, count = self._grid()
            self._rows.object = count
            self._grid_holder.objects = [grid] if grid is not None else []

    @param.depends("tab", watch=True)
    async def _on_tab(self) -> None:
        if hasattr(self, "_grid_holder") and self._needs_grid():
            await self._fill_grid_async()
        if hasattr(self, "_analysis") and self.tab == "analysis":
            await self._fill_analysis()

    def analysis_views(self, loaded: Loaded | None = None) -> list:
        """The Analysis tab's panes: volume profile and spread analysis of the loaded ticks
        (:mod:`tickdeck.core.analysis`; the chart's own arrays, nothing read again)."""
        from tickdeck.core.analysis import spread_analysis, volume_profile
        from tickdeck.pages.components.analysis_charts import profile_chart, spread_charts

        loaded = loaded or self.loaded
        if loaded is None:  # still loading (a link straight to this tab), or the selection failed
            return [pn.pane.Markdown("Volume profile and spread analysis appear here once the selection has loaded.",
                                     css_classes=["td-analysis-note"])]
        if loaded.kind != "ticks":
            return [pn.pane.Markdown("Volume profile and spread analysis work on ticks: choose **ticks** under Show.",
                                     css_classes=["td-analysis-note"])]
        a = loaded.chart.arrays
        profile = volume_profile(a.last, a.size)
        spreads = spread_analysis(a.t, a.last, a.bid, a.ask)
        note = f"{spreads.without_quote:,} trades without a valid quote are left out of the spread figures." \
            if spreads.without_quote else ""
        return [pn.pane.Markdown(f"**{md_text(loaded.summary)}** {md_text(note)}", css_classes=["td-analysis-note"]),
                pn.pane.HoloViews(profile_chart(profile), sizing_mode="stretch_width"),
                pn.pane.HoloViews(spread_charts(spreads, loaded.chart.real_times(spreads.times + a.offset)),
                                  sizing_mode="stretch_width")]

    @ui_action
    async def _fill_analysis(self) -> None:
        loaded = self.loaded
        views = await asyncio.to_thread(self.analysis_views, loaded)
        if self.loaded is loaded and self.tab == "analysis":
            self._analysis.objects = views

    @param.depends("columns", "from_time", "to_time", watch=True)
    async def _on_table_choice(self) -> None:
        if hasattr(self, "_grid_holder"):
            self._grid_holder.objects = []
            if self._needs_grid():
                await self._fill_grid_async()

    @ui_action
    async def _fill_grid_async(self) -> None:
        """Read the grid columns and build the grid in a worker thread; drop it if the selection moved on."""
        key = self._grid_key()
        grid, count = await asyncio.to_thread(self._grid, self.loaded)
        if key == self._grid_key() and self.tab == "table":  # still what is asked for: the newest request wins
            self._rows.object = count
            self._grid_holder.objects = [grid] if grid is not None else []

    def _grid_key(self) -> tuple:
        return (id(self.loaded), tuple(self.columns), self.from_time, self.to_time)

    def _show_chart(self, pane) -> None:
        if not self._chart_box.objects or self._chart_box.objects[0] is not pane:
            self._chart_box.objects = [pane]

    def _show_failure(self, message: str) -> None:
        self.loaded = None
        self.summary = ""
        self._chart.object = None
        self._show_chart(self._chart)
        self._grid_holder.objects = []
        self._rows.object = ""
        self._status.object = f"⚠ {md_text(message)}"

    @property
    def is_empty(self) -> bool:
        """No dataset in the store and none asked for: the page shows its empty state instead of controls."""
        return not self.symbol and not self._symbol.options

    def refresh(self) -> None:
        """Load synchronously (Jupyter, tests); errors are shown on the page, not raised."""
        self._ready = True
        if self.is_empty:
            return
        try:
            self._apply(self.load())
            self._fill_grid()
            self.last_error = ""
        except TickdeckError as e:
            self.last_error = str(e)
            self._show_failure(str(e))

    @ui_action
    async def refresh_async(self) -> None:
        """Load in a worker thread, then swap the views in; only the newest request is applied."""
        self._ready = True
        if self.is_empty:
            return
        self._generation += 1
        gen = self._generation
        self._chart_box.loading = True
        try:
            loaded = await asyncio.to_thread(self.load)
        except TickdeckError as e:
            if gen == self._generation:
                self._show_failure(str(e))
            raise
        finally:
            if gen == self._generation:
                self._chart_box.loading = False
        if gen == self._generation:
            self._apply(loaded)
            if self._needs_grid():
                await self._fill_grid_async()
            if self.tab == "export" and self.can_export() and hasattr(self, "_export_info"):
                await self._fill_export_info()
            if self.tab == "analysis":
                await self._fill_analysis()

    @param.depends(*SELECTION, watch=True)
    async def _on_selection(self) -> None:
        if not hasattr(self, "_download"):  # defaults being filled in the constructor
            return
        self._download.filename = self.export_filename()
        if self._ready:
            await self.refresh_async()

    @param.depends("export_format", watch=True)
    def _on_format(self) -> None:
        self._download.filename = self.export_filename()
        self._download.label = f"Download {self.export_format.upper()}"

    def export_preview(self) -> str:
        """What a download would hold, before it is made: rows and about how many bytes.

        Rows come from the catalog (ticks) or the bars on screen; the size from encoding a
        sample with the export's own writer (:func:`tickdeck.core.export.estimate_bytes`).

        Raises
        ------
        TickdeckError
            Nothing is loaded.
        """
        if self.loaded is None:
            raise NotFound("nothing to export: the selection is empty")
        start, end = self._range()
        sym = normalize_ticker(self.symbol)
        rows = self._export_rows(sym, start, end)
        if self.view == "ticks":
            days = [r for r in self.ctx.catalog.tick_days(sym, start, end) if (r.ticks or 0) > 0]
            size = estimate_bytes(self.ctx, sym, days[0].day, rows, columns=self.export_columns or None,
                                  session=self.session, format=self.export_format) if days else 0
            chosen = set(self.export_columns or TICK_COLUMNS) | {"symbol"}  # the export always names the symbol
            cols = len(chosen) + 1  # and the timestamp
        else:
            import pyarrow as pa

            frame = self.loaded.frame
            size = table_bytes(pa.Table.from_pandas(frame, preserve_index=False), self.export_format)
            cols = frame.shape[1]
        limit = f" — over the {EXPORT_MAX_ROWS:,}-row limit: narrow the dates or session" \
            if rows > EXPORT_MAX_ROWS else ""
        return f"{rows:,} rows × {cols} columns · about {human_bytes(size)} as {self.export_format.upper()}{limit}"

    @param.depends("tab", "export_format", "export_columns", *SELECTION, watch=True)
    async def _on_export_choice(self) -> None:
        if hasattr(self, "_export_info") and self.tab == "export" and self.can_export() and self.loaded is not None:
            await self._fill_export_info()

    @ui_action
    async def _fill_export_info(self) -> None:
        key = (id(self.loaded), self.export_format, tuple(self.export_columns))
        self._export_info.object = "Counting rows…"
        try:
            text = await asyncio.to_thread(self.export_preview)
        except TickdeckError as e:
            text = f"⚠ {e}"
        if key == (id(self.loaded), self.export_format, tuple(self.export_columns)):
            self._export_info.object = f"**{md_text(text)}**"

    # -- export ---------------------------------------------------------------------------
    def can_export(self) -> bool:
        return self.user.has(EXPORT_ROLE)

    def export_bytes(self) -> io.BytesIO:
        """The current selection as a CSV or Parquet file, written by :func:`tickdeck.core.export.export`.

        Ticks carry every stored column, bars the bar rows; both add ``symbol`` and use the
        export's timestamp format. The file is written in a temporary directory, read back and
        removed. Audited as ``export``.

        Raises
        ------
        PermissionDenied
            The user's role is below researcher.
        TickdeckError
            Nothing loaded, or more than :data:`EXPORT_MAX_ROWS` rows.
        """
        require(self.user, EXPORT_ROLE, "export")
        if self.loaded is None:
            raise NotFound("nothing to export: the selection is empty")
        start, end = self._range()
        sym = normalize_ticker(self.symbol)
        rows = self._export_rows(sym, start, end)
        if rows > EXPORT_MAX_ROWS:
            raise TickdeckError(f"{rows:,} rows is more than the {EXPORT_MAX_ROWS:,}-row download limit: "
                                "narrow the dates or the session")
        spec = "ticks" if self.view == "ticks" else str(parse_spec(self.bar_spec))
        with tempfile.TemporaryDirectory(prefix="tickdeck-download-") as tmp:
            out = Path(tmp) / self.export_filename()
            columns = tuple(self.export_columns) or None if self.view == "ticks" else None
            manifest = export(self.ctx, ExportRequest((sym,), start, end, out, spec=spec, session=self.session,
                                                      columns=columns, format=self.export_format))
            buf = io.BytesIO(out.read_bytes())
        self.ctx.catalog.audit(self.user.name, "export", f"{sym} {start}..{end}",
                               {"rows": manifest.rows, "format": self.export_format, "view": self.view,
                                "session": self.session, "spec": spec if self.view == "bars" else "",
                                "sha256": manifest.sha256})
        return buf

    def _export_rows(self, sym: str, start: dt.date, end: dt.date) -> int:
        """Rows the download would hold: tick counts from the catalog (no read), or the bars on screen."""
        if self.view != "ticks":
            return len(self.loaded.frame)
        column = {"all": "ticks", "pre": "pre_ticks", "regular": "regular_ticks", "after": "after_ticks"}[self.session]
        return sum(int(getattr(r, column) or 0) for r in self.ctx.catalog.tick_days(sym, start, end))

    @ui_action
    def _download_callback(self):
        return self.export_bytes()

    # -- widgets --------------------------------------------------------------------------
    def _build_widgets(self) -> None:
        symbols = [d.symbol for d in self.ctx.catalog.datasets()]
        if self.symbol and self.symbol not in symbols:
            symbols.append(self.symbol)
        self._symbol = pn.widgets.Select.from_param(self.param.symbol, options=symbols, label="Symbol", width=160)
        self._start = DateInput.from_param(self.param.start, label="Start day", width=150)
        self._end = DateInput.from_param(self.param.end, label="End day (optional)", width=150)
        self._session = pn.widgets.RadioButtonGroup.from_param(self.param.session, label="Session",
                                                               color="light")
        self._view = pn.widgets.RadioButtonGroup.from_param(self.param.view, label="Show", color="light")
        self._axis = pn.widgets.RadioButtonGroup.from_param(self.param.axis, options=AXES, label="Time axis",
                                                            color="light")
        fam = self.bar_spec.split(":", 1)[0]
        self._family = pn.widgets.Select(label="Bar type", options=list(FAMILIES),
                                         value=fam if fam in FAMILIES else "time", width=170)
        self._family.param.watch(self._on_family, "value")
        self._spec = pn.widgets.TextInput.from_param(self.param.bar_spec, label="Bar spec", width=190)
        self._overlays = [pn.widgets.IntInput.from_param(self.param[p], label=label, width=90)
                          for p, label in (("sma", "SMA"), ("ema", "EMA"), ("bollinger", "Bollinger"))]
        self._spec_note = pn.pane.Markdown("", css_classes=["td-spec-note"], margin=(0, 10),
                                           sizing_mode="stretch_width")
        self._sync_bar_controls()
        self._status = pn.pane.Markdown("", css_classes=["td-summary"], sizing_mode="stretch_width")
        self._chart = pn.pane.HoloViews(None, sizing_mode="stretch_width")  # bars
        self._ticks: TickPlot | None = None  # built on the first tick view, then reused
        self._chart_box = pn.Column(self._chart, sizing_mode="stretch_width")
        self._grid_holder = pn.Column(sizing_mode="stretch_width")
        self._analysis = pn.Column(sizing_mode="stretch_width", css_classes=["td-analysis"])
        self._rows = pn.pane.Markdown("", css_classes=["td-row-count"], sizing_mode="stretch_width")
        self._columns = pn.widgets.MultiChoice.from_param(self.param.columns, name="Columns (ticks)",
                                                          sizing_mode="stretch_width", min_width=300)
        self._from = pn.widgets.TextInput.from_param(self.param.from_time, name="From (ET)", placeholder="09:30",
                                                     width=130)
        self._to = pn.widgets.TextInput.from_param(self.param.to_time, name="To, before (ET)", placeholder="16:00",
                                                   width=130)
        self._table = pn.Column(pn.FlexBox(self._from, self._to, self._columns, align_items="end",
                                           sizing_mode="stretch_width"),
                                self._rows, self._grid_holder, sizing_mode="stretch_width")
        self._download = pn.widgets.FileDownload(callback=self._download_callback, filename=self.export_filename(),
                                                 label=f"Download {self.export_format.upper()}",
                                                 color="primary", embed=False, width=220)
        self._format = pn.widgets.RadioButtonGroup.from_param(self.param.export_format, label="Format")
        self._tabs = pn.Tabs(("Chart", self._chart_box), ("Table", self._table), ("Analysis", self._analysis),
                             ("Export", self._export_view()), dynamic=False, sizing_mode="stretch_width")
        self._tabs.active = TABS.index(self.tab)
        self._tabs.param.watch(lambda e: setattr(self, "tab", TABS[e.new]), "active")
        self.param.watch(lambda e: setattr(self._tabs, "active", TABS.index(e.new)), "tab")

    def _export_view(self):
        if not self.can_export():
            return pn.pane.Markdown(
                f"**Export needs the {EXPORT_ROLE} role.** You are signed in as *{md_text(self.user.name)}* "
                f"({self.user.role}). "
                "Ask an admin to upgrade your role.", css_classes=["td-export-denied"])
        self._export_info = pn.pane.Markdown("", css_classes=["td-export-info"], sizing_mode="stretch_width")
        self._export_cols = pn.widgets.MultiChoice.from_param(
            self.param.export_columns, name="Tick columns (empty: all 43)", sizing_mode="stretch_width",
            min_width=300)
        return pn.Column(
            pn.pane.Markdown("Download exactly what is selected above: the chosen (default: every stored) column "
                             "for ticks, the bar rows for bars. The file name carries the symbol, days, session "
                             "and spec; times read the same as in `tickdeck export`."),
            self._export_cols, self._format, self._export_info, self._download, sizing_mode="stretch_width")

    def _on_family(self, event) -> None:
        if self._family_from_spec:  # the menu follows a spec from the URL or the spec box: keep that spec
            return
        self.param.update(bar_spec=str(self.family_spec(event.new)), view="bars")

    _family_from_spec = False

    @param.depends("bar_spec", "view", watch=True)
    def _sync_bar_controls(self) -> None:
        """The bar controls say what is shown: the family of the spec (from a link too), spec and
        overlay inputs disabled while ticks are shown, an invalid spec explained under them."""
        if not hasattr(self, "_spec_note"):
            return
        fam = self.bar_spec.split(":", 1)[0].strip().lower()
        if fam in FAMILIES and self._family.value != fam:
            self._family_from_spec = True
            try:
                self._family.value = fam
            finally:
                self._family_from_spec = False
        ticks = self.view == "ticks"
        for w in (self._spec, *self._overlays):
            w.disabled = ticks
        note = ""
        if ticks:
            note = "Bar spec and overlays apply to bars: choose **bars** under Show (or a bar type) to use them."
        else:
            try:
                parse_spec(self.bar_spec)
            except TickdeckError as e:  # the reason, not the whole grammar (the status line has it)
                note = f"⚠ {md_text(str(e).split('. Families:')[0])}"
        self._spec_note.object = note

    def family_spec(self, family: str):
        """The default spec of ``family`` for the shown day (scaled to its activity; core.bars.registry)."""
        info = None
        if self.symbol and self.start is not None:
            rows = self.ctx.catalog.tick_days(self.symbol, self.start, self.start)
            info = rows[0] if rows else None
        from tickdeck.core.instruments import EQUITY, stored_terms

        terms = stored_terms(self.ctx, self.symbol) if self.symbol else EQUITY  # volume in quantity, dollar in money
        return family_default(family, info, scale=terms.notional_scale, units=terms.size_units)

    def sync_location(self) -> None:
        """Mirror the selection in the URL query string (served pages only)."""
        sync_url(self, {"symbol": "symbol", "start": "start", "end": "end", "session": "session", "view": "view",
                        "bar_spec": "spec", "sma": "sma", "ema": "ema", "bollinger": "bollinger", "tab": "tab",
                        "axis": "axis"},
                 self._url_invalid)

    def _url_invalid(self, bad: dict) -> None:
        """Values in the link that the params reject: named in a notification, defaults kept."""
        from tickdeck.pages.components.actions import notify

        self.last_error = describe_invalid(bad)
        notify(self.last_error, "warning")

    def __panel__(self):
        if self.is_empty:  # a Select without options cannot render: show what to do instead
            return pn.Column(pn.pane.Markdown("## Explorer"), empty_state(
                "No tick data yet",
                "The explorer charts a symbol's ticks and bars once a day of it is stored. Add data one of "
                "these ways, then reload this page:"), sizing_mode="stretch_width")
        controls = pn.FlexBox(
            self._symbol, self._start, self._end,
            pn.Column(pn.pane.Markdown("Session", margin=(0, 5)), self._session),
            pn.Column(pn.pane.Markdown("Show", margin=(0, 5)), self._view),
            pn.Column(pn.pane.Markdown("Time axis", margin=(0, 5)), self._axis),
            self._family, self._spec, *self._overlays, align_items="end", sizing_mode="stretch_width")
        self._controls = pn.Column(controls, self._spec_note, sizing_mode="stretch_width",
                                   css_classes=["td-controls"], stylesheets=[CONTROLS_CSS])
        self._controls_toggle = pn.widgets.Button(name=SHOW_CONTROLS, button_type="default", width=170,
                                                  css_classes=["td-controls-toggle"], stylesheets=[TOGGLE_CSS])
        self._controls_toggle.on_click(self._toggle_controls)
        return pn.Column(pn.pane.Markdown("## Explorer"), self._controls_toggle, self._controls, self._status,
                         self._tabs, sizing_mode="stretch_width")

    def _toggle_controls(self, _event=None) -> None:
        """Open or fold the controls (phones: they start folded so the chart comes first)."""
        opened = "td-open" not in self._controls.css_classes
        self._controls.css_classes = ["td-controls", "td-open"] if opened else ["td-controls"]
        self._controls_toggle.name = HIDE_CONTROLS if opened else SHOW_CONTROLS
