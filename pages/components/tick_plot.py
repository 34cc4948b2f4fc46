"""The explorer's tick chart: trade price, bid/ask band and volume on one time axis, in Bokeh.

Three Bokeh figures share one time range. They are built once per page; a new selection or a
zoom only swaps the data of their sources, so the browser keeps its views and receives numbers
only: an :data:`~pages.components.charts.IMAGE_WIDTH` x ``IMAGE_HEIGHT`` image of ticks per
pixel, histogram-equalised on the server into one byte per pixel (about 0.3 MB; the hover maps
a level back to its tick counts) or, with at most :data:`RAW_TICKS_LIMIT` visible ticks, the
ticks themselves as steps (a trade's price holds until the next trade) with markers and per-tick
hover, and the bid/ask band as the quotes' steps; plus :data:`~pages.components.charts.BAND_BINS`
buckets for the bid/ask band and the volume strip.

A multi-day selection can be drawn on *trading time* (``tick_chart(..., clock_for=...)``; a
:class:`~tickdeck.core.trading_time.TradingClock`): the arrays' times are mapped once so closed
periods take no width, a dashed line marks each seam, and the axis labels and hovers map the
trading axis back to real ET times in the browser (:data:`~pages.components.charts.REAL_TIME_TICKS`).
The price image is drawn at the plot's width as the browser reports it (``inner_width``).

Wheel zoom is active from the start (over the chart, the wheel zooms time, not the page) and
stops at :data:`~pages.components.charts.MIN_VIEW_NS`; a window without ticks keeps the price
of the trades around it on the axis and says "No ticks in view" above the chart.

:func:`tick_frame` computes what one view shows (numpy and datashader, no Bokeh: safe in any
thread). :meth:`TickPlot.show` applies a frame on the session's event loop. Zooms and pans
arrive as Bokeh ``RangesUpdate`` events; the visible range is re-computed in a worker thread
when served (synchronously in Jupyter), and requests that arrive meanwhile are coalesced into
the newest one, so a burst of wheel events costs one or two renders.

:func:`warm_up` compiles datashader's kernels and loads the plotting code (this chart and a
candlestick chart) on a tiny synthetic day, so the first real chart in a process does not pay for it.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

import numpy as np
import panel as pn
from bokeh.events import RangesUpdate
from bokeh.layouts import column, gridplot
from bokeh.models import (
    ColumnDataSource, CustomJSHover, CustomJSTickFormatter, DataRange1d, DatetimeTickFormatter, Div, HoverTool,
    LinearColorMapper, NoOverlap, Range1d, WheelZoomTool,
)
from bokeh.palettes import interp_palette
from bokeh.plotting import figure

from tickdeck.core.trading_time import TradingClock
from tickdeck.pages.components.charts import (
    AXIS_HEIGHT, BAND_BINS, ET, IMAGE_HEIGHT, IMAGE_WIDTH, LEVELS, MIN_VIEW_NS, PRICE_HEIGHT, REAL_TIME_HOVER,
    REAL_TIME_TICKS, SESSION_SHADES, SHADE_ALPHA, STRIP_HEIGHT,
    TickArrays, _readonly, binned, candle_chart, ensure_extension, equalised, price_counts, tick_arrays, visible,
)

MIN_IMAGE_WIDTH = 200  # px: narrower plots still get an image this wide
RAW_TICKS_LIMIT = 10_000  # at most this many visible ticks: send them (16 B each) and draw a line with hover
PRICE_COLOURS = ["#7aa7e8", "#0b3d91"]  # few ticks per pixel → many (equalised histogram)
COUNTS_HOVER = """const i = Math.round(value); if (!i) return "0";
const lo = src.data.level_lo[0][i], hi = src.data.level_hi[0][i];
return lo == hi ? lo.toLocaleString() : lo.toLocaleString() + "–" + hi.toLocaleString();"""
TOOLS = "xpan,xwheel_zoom,xbox_zoom,reset,save"  # tools move time; the price range follows the visible ticks
SETTLE_MS = 100  # a zoom/pan is announced this long after the last wheel or drag event (Bokeh's default: 500)
MS = 1_000_000  # ns per ms: Bokeh's datetime unit
MARKER_TICKS_LIMIT = 2_000  # up to this many visible trades, each is also a dot (more: the dots merge into a bar)
NO_TICKS = "No ticks in view — zoom out, pan, or reset the chart"
SEAM_COLOUR = "#57606a"  # the dashed line where trading time removed a closed period (night, weekend, holiday)
TIME_FORMATS = dict(milliseconds="%H:%M:%S.%3N", seconds="%H:%M:%S", minsec="%H:%M:%S", minutes="%H:%M",
                    hourmin="%H:%M", hours="%H:%M", days="%a %m/%d")


def time_format() -> DatetimeTickFormatter:
    """The time axis' labels, to the millisecond when zoomed in; a new model per plot (one per document)."""
    return DatetimeTickFormatter(**TIME_FORMATS, context=DatetimeTickFormatter(
        milliseconds="%F", seconds="%F", minsec="%F", minutes="%F", hourmin="%F", hours="%F", days="%Y"))


@dataclass(frozen=True, eq=False)
class TickFrame:
    """What the chart shows for one pair of visible ranges (arrays are read-only)."""

    x: tuple[int, int]  # visible time range, naive ET ns
    y: tuple[float, float]  # visible price range
    visible: int  # ticks inside the time range
    image: np.ndarray | None  # equalised ticks per pixel, uint8 [IMAGE_HEIGHT, IMAGE_WIDTH]; None: the line is used
    levels: tuple[np.ndarray, np.ndarray] | None  # lowest, highest tick count of each image level
    line: tuple[np.ndarray, np.ndarray, np.ndarray] | None  # time (ms), price, size of the visible ticks
    band: tuple[np.ndarray, np.ndarray, np.ndarray]  # bucket start or, with the line, tick time (ms); bid, ask
    volume: tuple[np.ndarray, np.ndarray]  # bucket start (ms), summed size

    @property
    def empty(self) -> bool:
        """No tick inside the time range (the chart says so)."""
        return self.visible == 0

    @property
    def nbytes(self) -> int:
        """Bytes of numbers this frame sends to the browser."""
        arrays = [*(self.line or ()), *(self.levels or ()), *self.band, *self.volume]
        arrays += [self.image] if self.image is not None else []
        return int(sum(a.nbytes for a in arrays))


def _ms(t_ns: np.ndarray, offset: int = 0) -> np.ndarray:
    return (t_ns.view("i8") + offset) / MS


def tick_frame(a: TickArrays, x_range=None, y_range=None, *, width: int = IMAGE_WIDTH,
               height: int = IMAGE_HEIGHT) -> TickFrame:
    """Everything the chart shows for the visible ranges (default: all ticks, their price extent).

    Costs what is visible: the time range is cut out of the sorted times with ``searchsorted``.
    Thread-safe (reads ``a`` only).
    """
    i0, i1, x, y = visible(a, x_range, y_range)
    image, levels, line = None, None, None
    xr = (np.datetime64(x[0], "ns"), np.datetime64(x[1], "ns"))
    if i1 - i0 <= RAW_TICKS_LIMIT:
        j0, j1 = max(i0 - 1, 0), min(i1 + 1, len(a))  # one tick either side: the steps run to the edges
        tms = _ms(a.t[j0:j1], a.offset)
        line = (tms, a.last[j0:j1], a.size[j0:j1])
        bid, ask = a.bid[j0:j1], a.ask[j0:j1]  # the quotes themselves: steps, not bucket extremes
        ok = np.isfinite(bid) & np.isfinite(ask)
        band = (tms[ok], bid[ok], ask[ok])
    else:
        image, lo, hi = equalised(price_counts(a, i0, i1, x, y, width=width, height=height))
        levels = (lo, hi)
        starts, (lo, hi) = binned(a.t, xr, BAND_BINS, (a.bid, "nanmin"), (a.ask, "nanmax"), offset=a.offset)
        ok = np.isfinite(lo) & np.isfinite(hi)
        band = (_ms(starts[ok]), lo[ok], hi[ok])
    vstarts, (vol,) = binned(a.t, xr, BAND_BINS, (a.size, "sum"), offset=a.offset)
    return TickFrame(x, y, i1 - i0, image, levels, line, band, (_ms(vstarts), vol))


def _served() -> bool:
    doc = pn.state.curdoc
    return doc is not None and doc.session_context is not None


class TickPlot:
    """Price (image or line), bid/ask band and volume sharing one time axis; data swapped in place.

    ``TickPlot().pane`` is a Panel pane; ``plot.show(tick_chart(df))`` puts a selection on it.
    One instance per page (its Bokeh models belong to one document).
    """

    def __init__(self, *, width: int = IMAGE_WIDTH, height: int = IMAGE_HEIGHT):
        self.width, self.height = width, height
        self.arrays: TickArrays | None = None
        self.frame: TickFrame | None = None
        self.renders = 0  # frames applied (selections and zooms)
        self._pending: tuple | None = None
        self._asked: tuple | None = None  # the ranges of the newest zoom request
        self._busy = False
        self._lock = threading.Lock()
        self.x_range = Range1d(0, 1, min_interval=MIN_VIEW_NS / MS, name="td-x-range")
        self.y_range = Range1d(0, 1)
        common = dict(x_range=self.x_range, x_axis_type="datetime", tools=TOOLS, sizing_mode="stretch_width",
                      min_width=300, toolbar_location=None, lod_timeout=SETTLE_MS)
        self.price = figure(height=PRICE_HEIGHT, y_range=self.y_range, title="", y_axis_label="Price", **common)
        self.image_source = ColumnDataSource(self._no_image(), name="td-price-image")
        self.line_source = ColumnDataSource({"time": [], "price": [], "size": []}, name="td-price-line")
        mapper = LinearColorMapper(palette=interp_palette(PRICE_COLOURS, LEVELS), low=1, high=LEVELS,
                                   low_color=(0, 0, 0, 0))
        self.session_source = ColumnDataSource({"left": [], "right": [], "colour": []}, name="td-sessions")
        self.clock_source = ColumnDataSource({"ts": [], "rs": []}, name="td-clock")  # empty: wall-clock axis
        self.seam_source = ColumnDataSource({"x": []}, name="td-seams")
        real_time = CustomJSHover(args={"clock": self.clock_source}, code=REAL_TIME_HOVER)
        self.price.vstrip("left", "right", source=self.session_source, fill_color="colour", fill_alpha=SHADE_ALPHA,
                          line_alpha=0, level="underlay")
        self.image = self.price.image(image="image", x="x", y="y", dw="dw", dh="dh", source=self.image_source,
                                      color_mapper=mapper)
        self.line = self.price.step("time", "price", source=self.line_source, mode="after", color=PRICE_COLOURS[1],
                                    line_width=1)
        self.markers = self.price.scatter("time", "price", source=self.line_source, size=4, color=PRICE_COLOURS[1],
                                          alpha=0.0)  # shown (alpha 1) up to MARKER_TICKS_LIMIT; always hoverable
        self.price.add_tools(
            HoverTool(renderers=[self.image], tooltips=[("time", "$x{custom}"), ("price", "$y{0.00}"),
                                                        ("ticks", "@image{custom}")],
                      formatters={"$x": real_time,
                                  "@image": CustomJSHover(args={"src": self.image_source}, code=COUNTS_HOVER)}),
            HoverTool(renderers=[self.markers], tooltips=[("time", "@time{custom}"), ("price", "@price{0.00}"),
                                                       ("size", "@size{0,0}")], formatters={"@time": real_time}))
        self.band_source = ColumnDataSource({"time": [], "bid": [], "ask": []})
        self.band = figure(height=STRIP_HEIGHT, y_range=DataRange1d(), y_axis_label="bid / ask", **common)
        band = self.band.varea_step("time", "bid", "ask", source=self.band_source, step_mode="after",
                                    color="#8c959f", alpha=0.5)
        self.band.add_tools(HoverTool(renderers=[band], mode="vline", tooltips=[
            ("time", "@time{custom}"), ("bid", "@bid{0.00}"), ("ask", "@ask{0.00}")], formatters={"@time": real_time}))
        self.volume_source = ColumnDataSource({"time": [], "volume": []}, name="td-volume")
        self.volume = figure(height=STRIP_HEIGHT + AXIS_HEIGHT, y_range=DataRange1d(start=0), y_axis_label="volume",
                             x_axis_label="time (ET)", **common)
        spikes = self.volume.segment("time", 0, "time", "volume", source=self.volume_source, color="#57606a",
                                     line_width=2)
        self.volume.yaxis.formatter.use_scientific = False
        self.clock_format = time_format()
        self.trading_format = CustomJSTickFormatter(args={"clock": self.clock_source}, code=REAL_TIME_TICKS,
                                                    name="td-trading-format")
        self.volume.xaxis.formatter = self.clock_format
        self.volume.xaxis.major_label_policy = NoOverlap()
        self.volume.add_tools(HoverTool(renderers=[spikes], mode="vline", tooltips=[
            ("time", "@time{custom}"), ("volume", "@volume{0,0}")], formatters={"@time": real_time}))
        for fig in (self.price, self.band, self.volume):  # where a night, weekend or holiday was taken out
            fig.vspan(x="x", source=self.seam_source, line_color=SEAM_COLOUR, line_dash="dashed", line_width=1,
                      level="underlay")
        for fig in (self.price, self.band):
            fig.xaxis.visible = False
        for fig in (self.price, self.band, self.volume):
            fig.on_event(RangesUpdate, self._on_ranges)
        self.price.on_change("inner_width", self._on_width)  # the browser's plot width: the image matches it
        for fig in (self.price, self.band, self.volume):
            fig.toolbar.active_scroll = fig.select_one(WheelZoomTool)
        grid = gridplot([[self.price], [self.band], [self.volume]], merge_tools=True,
                        toolbar_location="above", sizing_mode="stretch_width")
        grid.toolbar.active_scroll = next(t for t in grid.toolbar.tools
                                          if isinstance(getattr(t, "tools", [None])[0], WheelZoomTool))
        self.note = Div(text="", name="td-chart-note", css_classes=["td-chart-note"], visible=False)
        self.layout = column([self.note, grid], sizing_mode="stretch_width")
        self.pane = pn.pane.Bokeh(self.layout, sizing_mode="stretch_width", css_classes=["td-tick-chart"])

    # -- data -----------------------------------------------------------------------------
    @staticmethod
    def _no_image() -> dict:
        return {"image": [], "x": [], "y": [], "dw": [], "dh": [], "level_lo": [], "level_hi": []}

    def compute(self, arrays: TickArrays, x_range=None, y_range=None) -> TickFrame:
        """The frame for ``arrays`` at the given ranges (any thread)."""
        return tick_frame(arrays, x_range, y_range, width=self.width, height=self.height)

    def show(self, chart: TickChart) -> None:
        """Put a selection on the chart (event loop): its data, title and full ranges."""
        with self._lock:
            self.arrays = chart.arrays
            self._pending = self._asked = None

        def change():
            self.session_source.data = chart.shades or {"left": [], "right": [], "colour": []}
            clock = chart.clock
            if clock is not None and clock.collapses:
                self.clock_source.data = {"ts": clock.trading_start / MS, "rs": clock.real_start / MS}
                self.seam_source.data = {"x": clock.seams / MS}
                self.volume.xaxis.formatter = self.trading_format
            else:
                self.clock_source.data = {"ts": [], "rs": []}
                self.seam_source.data = {"x": []}
                self.volume.xaxis.formatter = self.clock_format
            self._apply(chart.frame, reset=True, title=chart.title)
        self._on_document(change)

    def _on_document(self, change) -> None:
        """Run a model change and send it to the browser.

        Served, from the session's own callbacks on its event loop (the page's load, a zoom):
        applied at once in Panel's ``unlocked`` context, so it goes out with the page's other
        updates through Panel's writer. Elsewhere: on the session's next tick under the document
        lock. In Jupyter: now, then pushed.
        """
        doc = self.layout.document
        if doc is None or doc.session_context is None:
            change()
            if doc is not None:
                pn.io.push_notebook(self.pane)  # no-op unless shown in a notebook
        elif pn.state.curdoc is doc and threading.current_thread() is threading.main_thread():
            with pn.io.unlocked():
                change()
        else:
            doc.add_next_tick_callback(change)

    def _apply(self, frame: TickFrame, *, reset: bool = False, title: str | None = None) -> None:
        if title is not None:
            self.price.title.text = title
        x0, x1 = frame.x[0] / MS, frame.x[1] / MS
        y0, y1 = frame.y
        if frame.image is not None:
            lo, hi = frame.levels
            self.image_source.data = {"image": [frame.image], "x": [x0], "y": [y0], "dw": [x1 - x0], "dh": [y1 - y0],
                                      "level_lo": [lo], "level_hi": [hi]}
            self.line_source.data = {"time": [], "price": [], "size": []}
        else:
            self.image_source.data = self._no_image()
            t, p, s = frame.line
            self.line_source.data = {"time": t, "price": p, "size": s}
        dots = 1.0 if frame.line is not None and frame.visible <= MARKER_TICKS_LIMIT else 0.0
        if self.markers.glyph.fill_alpha != dots:
            self.markers.glyph.update(fill_alpha=dots, line_alpha=dots)
        self.note.update(text=NO_TICKS if frame.empty else "", visible=frame.empty)
        bt, lo, hi = frame.band
        self.band_source.data = {"time": bt, "bid": lo, "ask": hi}
        vt, vol = frame.volume
        self.volume_source.data = {"time": vt, "volume": vol}
        if reset:
            self.x_range.update(start=x0, end=x1, reset_start=x0, reset_end=x1)
            self.y_range.update(reset_start=y0, reset_end=y1)
        self.y_range.update(start=y0, end=y1)
        self.frame = frame
        self.renders += 1

    # -- zoom and pan ---------------------------------------------------------------------
    def _on_width(self, _attr, _old, new) -> None:
        """The price plot's width in the browser changed: draw the image at that many pixels.

        The browser draws the image without smoothing, so an image wider than the plot would lose
        whole columns of a thin line (a phone shows a 1,100 px image in ~270 px).
        """
        if not new:
            return
        width = int(min(max(new, MIN_IMAGE_WIDTH), IMAGE_WIDTH))
        if width == self.width:
            return
        self.width = width
        frame = self.frame
        with self._lock:
            self._asked = None  # the same ranges again, at the new width
        if frame is not None:
            self.zoom((frame.x[0] / MS, frame.x[1] / MS))

    def _on_ranges(self, event: RangesUpdate) -> None:
        if event.x0 is not None and event.x1 is not None:
            self.zoom((event.x0, event.x1))  # the tools move time only; the price range is fitted

    def zoom(self, x_range, y_range=None) -> None:
        """Show the given ranges (``x`` in Bokeh's epoch ms); coalesced with zooms still pending.

        The linked figures each announce the same change: a request for the ranges last asked
        for is dropped.
        """
        key = (tuple(x_range), None if y_range is None else tuple(y_range))
        with self._lock:
            if self.arrays is None or key == self._asked:
                return
            self._asked = key
            self._pending = (self.arrays, x_range, y_range)
            if self._busy:
                return
            self._busy = True
        if _served():
            pn.state.execute(self._drain_async)
        else:
            self._drain()

    def _next(self):
        with self._lock:
            job, self._pending = self._pending, None
            if job is None:
                self._busy = False
            return job

    def _drain(self) -> None:
        while (job := self._next()) is not None:
            arrays, x, y = job
            frame = self.compute(arrays, x, y)
            if arrays is self.arrays:
                self._on_document(lambda f=frame: self._apply(f))

    async def _drain_async(self) -> None:
        try:
            while (job := self._next()) is not None:
                arrays, x, y = job
                frame = await asyncio.to_thread(self.compute, arrays, x, y)
                if arrays is self.arrays:
                    self._on_document(lambda f=frame: self._apply(f))
        except Exception:
            with self._lock:
                self._busy = False
            raise


@dataclass(frozen=True, eq=False)
class TickChart:
    """A selection ready for a :class:`TickPlot`: its arrays, first frame and title."""

    arrays: TickArrays
    frame: TickFrame
    title: str = ""
    shades: dict | None = None  # pre/after-hours spans to shade: left, right (ms), colour
    clock: TradingClock | None = None  # trading time: arrays.t are trading times (offset 0); None: the wall clock

    def real_times(self, x: np.ndarray) -> np.ndarray:
        """Chart times (``arrays.t + arrays.offset``, int64 ns) as naive-ET wall-clock ns."""
        return self.clock.to_real(x) if self.clock is not None else np.asarray(x, dtype=np.int64)


def session_shades(spans, x: tuple[int, int], clock: TradingClock | None = None) -> dict:
    """Pre-market and after-hours spans (a :class:`tickdeck.core.trading_time.SessionSpans`) inside ``x``,
    placed on ``clock``'s trading axis when given."""
    start, end = (spans.start, spans.end) if clock is None else (clock.to_trading(spans.start),
                                                                 clock.to_trading(spans.end))
    keep = (spans.kind != 1) & (end > x[0]) & (start < x[1]) & (end > start)
    colour = [SESSION_SHADES[int(k)] for k in spans.kind[keep]]  # a few per day: not per tick
    return {"left": start[keep] / MS, "right": end[keep] / MS, "colour": colour}


def trading_arrays(a: TickArrays, clock_for) -> tuple[TickArrays, TradingClock | None]:
    """``a`` on a trading axis: ``clock_for(times)`` gives the :class:`TradingClock` of the wall-clock
    times; when it removes a closed period the times are mapped (one vectorised pass; offset 0)."""
    real = a.t.astype(np.int64) + a.offset
    clock = clock_for(real)
    if not clock.collapses:
        return a, None
    return TickArrays(_readonly(clock.to_trading(real)), 0, a.last, a.bid, a.ask, a.size), clock


def tick_chart(df, *, title: str = "", width: int = IMAGE_WIDTH, height: int = IMAGE_HEIGHT,
               sessions=None, clock_for=None) -> TickChart:
    """Arrays and first frame of a tick frame (DatetimeIndex; ``last``, ``bid``, ``ask``, ``last_sz``).

    ``clock_for`` (wall-clock ns -> :class:`~tickdeck.core.trading_time.TradingClock`, e.g.
    ``lambda t: trading_clock(start, end, session, times=t)``) puts the chart on trading time:
    closed periods collapsed, labels and hovers still reading real times. The expensive part of
    showing a selection; call it off the event loop, then :meth:`TickPlot.show` it.
    """
    arrays, clock = tick_arrays(df), None
    if clock_for is not None and len(arrays):
        arrays, clock = trading_arrays(arrays, clock_for)
    frame = tick_frame(arrays, width=width, height=height)
    shades = session_shades(sessions, frame.x, clock) if sessions is not None else None
    return TickChart(arrays, frame, title, shades, clock)


def warm_up() -> float:
    """Compile and load what the first chart of a process needs, on a tiny synthetic day.

    Runs datashader's point and line kernels (numba, compiled on first use: seconds) with the
    dtypes real days have, puts the day on a :class:`TickPlot`
    (image and line views) and builds the Bokeh models of a candlestick chart once. Returns the
    seconds it took. Run it before sessions start (see :mod:`app.server`): imports from two threads at
    once can deadlock.
    """
    import time

    import holoviews as hv
    import pandas as pd

    t0 = time.perf_counter()
    ensure_extension()
    n = 64
    index = pd.date_range("2024-07-02 09:30", periods=n, freq="s", tz=ET)
    price = 100.0 + np.cumsum(np.random.default_rng(0).normal(0, 0.01, n))
    ticks = pd.DataFrame({"last": price, "bid": price - 0.01, "ask": price + 0.01,
                          "last_sz": np.full(n, 100, np.int64)}, index=index)
    a = tick_arrays(ticks)
    i0, i1, x, y = visible(a)
    price_counts(a, i0, i1, x, y, width=8, height=8, line=False)  # datashader's point kernel
    price_counts(a, i0, i1, x, y, width=64, height=8, line=True)  # and its line kernel
    plot = TickPlot()
    plot.show(tick_chart(ticks, title="warm-up"))
    plot.zoom((x[0] / 1e6, x[1] / 1e6))
    start = index[::8]
    bars = pd.DataFrame({"start": start, "end": start + pd.Timedelta(seconds=8), "open": price[::8],
                         "high": price[::8] + 0.02, "low": price[::8] - 0.02, "close": price[::8],
                         "volume": np.full(start.size, 800.0), "vwap": price[::8]})
    hv.renderer("bokeh").get_plot(candle_chart(bars, title="warm-up", sma=2))
    return time.perf_counter() - t0
