"""Chart data and builders shared by pages: tick arrays and their aggregations, candlesticks.

Everything works on numpy arrays. The tick chart itself (Bokeh figures updated in place) is
:mod:`pages.components.tick_plot`; this module computes what it draws:

* :func:`tick_arrays` — the arrays of a tick frame (times, prices, sizes) as read-only views:
  frames from the store's shared cache serve every session looking at the same day, and their
  chart arrays cost no memory of their own (the ET wall clock is the UTC index plus one offset).
* :func:`visible` / :func:`price_counts` — the visible time range is sliced out of the sorted
  times with ``searchsorted`` (a zoom costs what it shows, not the day) and aggregated by
  datashader into an :data:`IMAGE_WIDTH` x :data:`IMAGE_HEIGHT` image of ticks per pixel (a
  line up to :data:`LINE_TICKS_LIMIT` visible ticks, points beyond).
* :func:`binned` — the bid/ask band and the volume strip re-binned to :data:`BAND_BINS`
  buckets of the visible range (``np.fmin.reduceat`` & co).

:func:`pages.components.tick_plot.warm_up` compiles datashader's kernels and loads the plotting
code on a tiny synthetic day, so the first real chart in a process does not pay for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import datashader as ds
import holoviews as hv
import numpy as np
import pandas as pd
from holoviews.operation.datashader import rasterize

from tickdeck.core.trading_time import TradingClock

CANDLE_LIMIT = 3_000  # beyond this, candles are sub-pixel: draw a rasterised close line instead
BAND_BINS = 600  # buckets for the bid/ask band and volume strip: about one per 2 px at 1200 px
PRICE_HEIGHT, STRIP_HEIGHT, AXIS_HEIGHT = 320, 130, 60  # px; the bottom strip carries the time axis
IMAGE_WIDTH, IMAGE_HEIGHT = 1100, 280  # price image pixels: about the plot area at a 1400 px window
LINE_TICKS_LIMIT = 300_000  # up to this many visible ticks, aggregate a connected line (~20 ms); beyond, points
MAX_COUNT = np.iinfo(np.uint16).max  # ticks per pixel saturate here
LEVELS = 255  # colour levels of an equalised image: sent as uint8 (1 byte/px: ~0.3 MB per render)
MIN_VIEW_NS = 10_000_000  # zoom floor, 10 ms: below it the time axis cannot label its ticks usefully

ET = "America/New_York"
ONE_OFFSET_DAYS = 90  # DST changes are >= ~4 months apart: equal offsets at both ends of a shorter span hold

UP, DOWN = "#1a7f37", "#cf222e"
SESSION_SHADES = {0: "#f5d76e", 2: "#7aa7e8"}  # pre-market, after-hours; the regular session is unshaded
SHADE_ALPHA = 0.18
SEAM_COLOUR = "#57606a"  # the dashed line where trading time removed a closed period (night, weekend, holiday)

# Trading time -> the ET wall clock in the browser (ms): clock.data.ts / rs are the trading / real start of each
# open segment (empty: the axis is the wall clock). Shared by the axis labels and every hover.
REAL_MS_JS = """const ts = clock.data.ts, rs = clock.data.rs;
function real(v) { if (!ts.length) return v; let lo = 0, hi = ts.length - 1;
  if (v < ts[0]) return rs[0] + (v - ts[0]);
  while (lo < hi) { const m = (lo + hi + 1) >> 1; if (ts[m] <= v) lo = m; else hi = m - 1; }
  return rs[lo] + (v - ts[lo]); }
const p = (n, w) => String(n).padStart(w || 2, "0");
function ymd(d) { return d.getUTCFullYear() + "-" + p(d.getUTCMonth() + 1) + "-" + p(d.getUTCDate()); }
function hms(d) { return p(d.getUTCHours()) + ":" + p(d.getUTCMinutes()) + ":" + p(d.getUTCSeconds()); }
"""
REAL_TIME_HOVER = REAL_MS_JS + """const d = new Date(real(value));
return ymd(d) + " " + hms(d) + "." + p(d.getUTCMilliseconds(), 3);"""
REAL_TIME_TICKS = REAL_MS_JS + """const step = ticks.length > 1 ? Math.abs(ticks[1] - ticks[0]) : 3.6e6;
const d = new Date(real(tick));
let s = step < 1000 ? hms(d) + "." + p(d.getUTCMilliseconds(), 3) : step < 60000 ? hms(d) : hms(d).slice(0, 5);
const day = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][d.getUTCDay()];
const before = index > 0 ? new Date(real(ticks[index - 1])) : null;
const days = ymd(new Date(real(ticks[0]))) !== ymd(new Date(real(ticks[ticks.length - 1])));
if (!before) return day + " " + p(d.getUTCMonth() + 1) + "/" + p(d.getUTCDate()) + " " + s;
// hours apart over several days: every label names its weekday (a narrow axis hides some labels)
if (step >= 3.6e6 && days) return day + " " + s;
if (ymd(before) !== ymd(d)) return day + " " + p(d.getUTCMonth() + 1) + "/" + p(d.getUTCDate()) + " " + s;
return s;"""

_extension_loaded = False


def ensure_extension() -> None:
    """Load the HoloViews Bokeh backend once per process."""
    global _extension_loaded
    if not _extension_loaded:
        hv.extension("bokeh", logo=False)
        _extension_loaded = True


def et_offset(index) -> int | None:
    """The one UTC offset (ns) of a tz-aware index's ET wall clock, or ``None`` when it changes.

    One offset holds when the first and last times share it and lie less than
    :data:`ONE_OFFSET_DAYS` apart (no DST change in between). A naive index has offset 0.
    """
    idx = pd.DatetimeIndex(index)
    if idx.tz is None or not len(idx):
        return 0
    first, last = idx[0].tz_convert(ET), idx[-1].tz_convert(ET)
    offset = first.utcoffset()
    if offset == last.utcoffset() and (last - first).days < ONE_OFFSET_DAYS:
        return int(offset // pd.Timedelta(1, "ns"))
    return None


def naive_et(index) -> np.ndarray:
    """A tz-aware index as naive ET ``datetime64[ns]`` (what Bokeh shows as wall-clock time).

    With one UTC offset over the index (:func:`et_offset`) this is one vectorised add;
    otherwise pandas converts.
    """
    idx = pd.DatetimeIndex(index)
    if idx.tz is None:
        return idx.values.astype("datetime64[ns]")
    offset = et_offset(idx)
    if offset is not None:
        return (idx.asi8 + offset).view("datetime64[ns]")
    return idx.tz_convert(ET).tz_localize(None).values.astype("datetime64[ns]")


def _ns(v) -> int:
    """A range end from a stream (datetime64, Timestamp, datetime or Bokeh's epoch ms) as ns."""
    if isinstance(v, (int, float, np.integer, np.floating)):
        return int(v * 1_000_000)  # Bokeh sends datetime ranges as milliseconds since the epoch
    return int(pd.Timestamp(v).value)


def binned(t: np.ndarray, x_range, bins: int, *columns: tuple[np.ndarray, str],
           offset: int = 0) -> tuple[np.ndarray, list]:
    """Aggregate sorted time series over ``bins`` equal buckets of the visible ``x_range``.

    ``columns`` are ``(values, how)`` pairs with ``how`` in ``min``/``max``/``sum``, or
    ``nanmin``/``nanmax`` (NaN ignored; a bucket of only NaN stays NaN). Times are ``t + offset``
    (ns; e.g. UTC times plus the ET offset): ``x_range`` and the returned bucket starts are on
    that clock. Returns the bucket starts and one array per column (empty buckets dropped).
    Vectorised.
    """
    if t.size == 0:
        return t.view("datetime64[ns]"), [np.empty(0) for _ in columns]
    tt = t.view("i8")
    if x_range is None or x_range[0] is None:
        i0, i1 = 0, tt.size
    else:
        lo, hi = (_ns(x) - offset for x in x_range)
        i0, i1 = int(np.searchsorted(tt, lo, side="left")), int(np.searchsorted(tt, hi, side="right"))
    if i1 <= i0:
        return tt[:0].view("datetime64[ns]"), [np.empty(0) for _ in columns]
    tt = tt[i0:i1]
    edges = np.linspace(tt[0], tt[-1] + 1, bins + 1).astype("i8")
    starts = np.unique(np.searchsorted(tt, edges[:-1], side="left"))
    starts = starts[starts < tt.size]
    ops = {"min": np.minimum, "max": np.maximum, "sum": np.add, "nanmin": np.fmin, "nanmax": np.fmax}
    out = [ops[how].reduceat(v[i0:i1], starts) for v, how in columns]
    return (tt[starts] + offset).view("datetime64[ns]"), out


@dataclass(frozen=True, eq=False)
class TickArrays:
    """What a tick chart draws, as sorted numpy arrays (read-only views of the frame).

    ``t`` holds int64 ns times such that ``t + offset`` is the naive ET wall clock Bokeh shows:
    the frame's UTC index itself with the ET offset when one offset holds for the span (no
    copy), else naive ET times with ``offset`` 0. ``last``, ``bid``, ``ask`` are float64 prices,
    ``size`` the trade sizes.
    """

    t: np.ndarray
    offset: int
    last: np.ndarray
    bid: np.ndarray
    ask: np.ndarray
    size: np.ndarray

    def __len__(self) -> int:
        return int(self.t.size)


def _readonly(v: np.ndarray) -> np.ndarray:
    v = v.view()
    v.flags.writeable = False
    return v


def tick_arrays(df: pd.DataFrame) -> TickArrays:
    """The chart arrays of ``df`` (DatetimeIndex; ``last``, ``bid``, ``ask``, ``last_sz`` columns).

    Views, not copies, for float64 prices and a span with one ET offset: sessions showing the
    same cached frame share its memory. Warnings: do not mutate ``df`` while it is charted.
    """
    idx = pd.DatetimeIndex(df.index)
    offset = et_offset(idx)
    if offset is None:  # a DST change inside the span: materialise the wall clock
        t, offset = naive_et(idx).view("i8"), 0
    else:
        t = idx.asi8
    return TickArrays(_readonly(t), offset, *(_readonly(df[c].to_numpy(np.float64)) for c in ("last", "bid", "ask")),
                      _readonly(df["last_sz"].to_numpy()))


def visible(a: TickArrays, x_range=None, y_range=None) -> tuple[int, int, tuple[int, int], tuple[float, float]]:
    """The ticks inside ``x_range`` as ``(i0, i1, (x0, x1), (y0, y1))``, x in naive ET ns.

    ``x_range`` / ``y_range`` default to all ticks and the visible prices' extent (2 % padding);
    ``x_range`` may hold datetimes or Bokeh's epoch milliseconds; a range narrower than
    :data:`MIN_VIEW_NS` is widened to it around its centre. With no tick inside, the price
    extent is that of the trades just before and after. Found with ``searchsorted``.
    """
    t = a.t
    if x_range is None or x_range[0] is None or x_range[1] is None:
        x0, x1 = (int(t[0]) + a.offset, int(t[-1]) + a.offset + 1) if t.size else (0, 1)
    else:
        x0, x1 = _ns(x_range[0]), _ns(x_range[1])
    if x1 - x0 < MIN_VIEW_NS and x_range is not None:  # the zoom floor, kept centred
        mid = (x0 + x1) // 2
        x0, x1 = mid - MIN_VIEW_NS // 2, mid + MIN_VIEW_NS // 2
    x1 = max(x1, x0 + 1)
    i0 = int(np.searchsorted(t, x0 - a.offset, side="left"))
    i1 = int(np.searchsorted(t, x1 - a.offset, side="right"))
    if y_range is None or y_range[0] is None or y_range[1] is None:
        # nothing inside: the trades either side (the price in force) keep the price axis meaningful
        vis = a.last[i0:i1] if i1 > i0 else a.last[max(i0 - 1, 0):min(i1 + 1, t.size)]
        lo, hi = (float(np.fmin.reduce(vis)), float(np.fmax.reduce(vis))) if vis.size else (np.nan, np.nan)
        if not (np.isfinite(lo) and np.isfinite(hi)):  # nothing visible, or only NaN prices
            lo, hi = 0.0, 1.0
        pad = (hi - lo) * 0.02 or max(abs(hi) * 1e-4, 1e-6)
        y0, y1 = lo - pad, hi + pad
    else:
        y0, y1 = float(y_range[0]), float(y_range[1])
    return i0, i1, (x0, x1), (y0, max(y1, y0 + 1e-9))


def price_counts(a: TickArrays, i0: int, i1: int, x: tuple[int, int], y: tuple[float, float], *,
                 width: int = IMAGE_WIDTH, height: int = IMAGE_HEIGHT, line: bool | None = None) -> np.ndarray:
    """Ticks per pixel of ``a[i0:i1]`` over ranges ``x`` (naive ET ns) and ``y``: uint16 ``[height, width]``.

    Up to :data:`LINE_TICKS_LIMIT` ticks are aggregated as a connected line that also runs to the
    ticks just outside the range; more as points — at that density the same pixels a line lights,
    many times faster (a line over 5,000,000 ticks takes ~0.4 s, points ~15 ms). ``line`` forces
    one or the other. Counts above :data:`MAX_COUNT` saturate.
    """
    t = a.t
    counts = np.zeros((height, width), np.uint16)
    j0, j1 = max(i0 - 1, 0), min(i1 + 1, t.size)
    if j1 - j0 < 2 and i1 <= i0:
        return counts
    cvs = ds.Canvas(plot_width=width, plot_height=height, x_range=(x[0] - a.offset, x[1] - a.offset), y_range=y)
    if not (i1 - i0 <= LINE_TICKS_LIMIT if line is None else line):
        agg = cvs.points(pd.DataFrame({"t": t[i0:i1], "price": a.last[i0:i1]}, copy=False), "t", "price", ds.count())
    else:
        agg = cvs.line(pd.DataFrame({"t": t[j0:j1], "price": a.last[j0:j1]}, copy=False), "t", "price", ds.count())
    np.minimum(agg.data, MAX_COUNT, out=counts, casting="unsafe")
    return counts


def equalised(counts: np.ndarray, levels: int = LEVELS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Histogram-equalise a count image into ``uint8`` colour levels (0: empty, 1..``levels`` by rank).

    Like datashader's ``eq_hist`` shading, done on the server so that the browser receives one
    byte per pixel. Returns the level image and, per level, the lowest and highest count mapped
    to it (index 0 is empty), which the hover uses to show tick counts. Vectorised: one
    ``bincount`` over the count values.
    """
    hist = np.bincount(counts.ravel(), minlength=1)
    hist[0] = 0
    lo = np.zeros(levels + 1, np.int64)
    hi = np.zeros(levels + 1, np.int64)
    total = int(hist.sum())
    if total == 0:
        return np.zeros(counts.shape, np.uint8), lo, hi
    present = np.flatnonzero(hist)
    cdf = np.cumsum(hist) / total
    first = cdf[present[0]]  # the lowest count gets the lightest colour, the highest the darkest
    span = (cdf - first) / (1.0 - first) if first < 1.0 else np.zeros_like(cdf)
    level_of = (1 + np.floor(np.clip(span, 0.0, 1.0) * (levels - 1) + 1e-9)).astype(np.uint8)
    level_of[0] = 0
    lo[:] = np.iinfo(np.int64).max
    np.minimum.at(lo, level_of[present], present)
    np.maximum.at(hi, level_of[present], present)
    lo[lo == np.iinfo(np.int64).max] = 0
    return level_of[counts], lo, hi


def with_overlays(bars: pd.DataFrame, *, sma: int = 0, ema: int = 0, bollinger: int = 0) -> pd.DataFrame:
    """Add ``sma``, ``ema``, ``bb_upper``/``bb_lower`` columns on ``close`` (vectorised pandas).

    Each starts once its window is full (NaN before: no overlay drawn over the first bars from a
    partial window). Bollinger uses the population σ of the window (±2σ), as Bollinger defines it.
    """
    out = bars.copy()
    close = out["close"].astype(float)
    if sma:
        out["sma"] = close.rolling(sma, min_periods=sma).mean()
    if ema:
        out["ema"] = close.ewm(span=ema, adjust=False, min_periods=ema).mean()
    if bollinger:
        mid = close.rolling(bollinger, min_periods=bollinger).mean()
        sd = close.rolling(bollinger, min_periods=bollinger).std(ddof=0)
        out["bb_upper"], out["bb_lower"] = mid + 2 * sd, mid - 2 * sd
    return out


def bar_times(bars: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Start and end times of each bar (naive ET), from ``start``/``end`` columns or the index."""
    start = naive_et(bars["start"]) if "start" in bars.columns else naive_et(bars.index)
    if "end" in bars.columns:
        end = naive_et(bars["end"])
    else:  # no end column: a bar ends where the next starts
        end = np.concatenate([start[1:], start[-1:] + np.timedelta64(1, "s")]) if len(start) else start
    return start, end


def trading_time_axis(clock: TradingClock):
    """A Bokeh tick formatter labelling a trading-time axis (``clock``'s) with real ET times and dates.

    One new model per chart (a model belongs to one document).
    """
    from bokeh.models import ColumnDataSource, CustomJSTickFormatter, NoOverlap

    src = ColumnDataSource({"ts": clock.trading_start / 1e6, "rs": clock.real_start / 1e6})
    return CustomJSTickFormatter(args={"clock": src}, code=REAL_TIME_TICKS), NoOverlap()


def candle_chart(bars: pd.DataFrame, *, title: str = "", sma: int = 0, ema: int = 0, bollinger: int = 0,
                 clock: TradingClock | None = None, sessions=None) -> hv.Layout:
    """Candlesticks (or a rasterised close line above :data:`CANDLE_LIMIT`) with VWAP, overlays, volume.

    With a ``clock`` that removes closed periods (:func:`tickdeck.core.trading_time.trading_clock`),
    bars are placed in trading time: nights, weekends and holidays take no width, a dashed line
    marks each, and the axis and hovers read real ET times. ``sessions``
    (:class:`~tickdeck.core.trading_time.SessionSpans`) shades pre-market and after-hours as the
    tick chart does.
    """
    ensure_extension()
    b = with_overlays(bars, sma=sma, ema=ema, bollinger=bollinger)
    start, end = bar_times(b)
    real_start = start
    clock = clock if clock is not None and clock.collapses else None
    if clock is not None:
        start = clock.to_trading(start.view("i8")).view("datetime64[ns]")
        end = clock.to_trading(end.view("i8")).view("datetime64[ns]")
    mid = start + (end - start) // 2
    o, h, lo, c = (b[k].to_numpy(np.float64) for k in ("open", "high", "low", "close"))
    vol = b["volume"].to_numpy(np.float64) if "volume" in b else np.zeros(len(b))
    common = dict(responsive=True, min_width=300, show_grid=True, xlabel="time (ET)")
    if len(b):
        common["xlim"] = (start.min(), end.max())  # the bars, not padding before the first and after the last
    at = pd.DatetimeIndex(real_start).strftime("%Y-%m-%d %H:%M:%S").to_numpy()  # real starts, for the hovers
    axis = {}
    if clock is not None:
        formatter, policy = trading_time_axis(clock)
        axis = dict(xformatter=formatter, hooks=[lambda plot, _: setattr(plot.state.xaxis[0], "major_label_policy",
                                                                          policy)])
    if len(b) > CANDLE_LIMIT:
        price = rasterize(hv.Curve((mid, c), "time", "close"), line_width=1).opts(
            cmap=["#7aa7e8", "#0b3d91"], cnorm="eq_hist", colorbar=False, tools=["hover"], height=PRICE_HEIGHT,
            title=f"{title} (close, {len(b):,} bars rasterised)", **common)
    else:
        up = c >= o
        colour = np.where(up, UP, DOWN)
        wicks = hv.Segments((mid, lo, mid, h, colour), ["time", "low", "time2", "high"], "colour").opts(
            color="colour", line_width=1)
        pad = (end - start) // 10
        bodies = hv.Rectangles(
            (start + pad, np.minimum(o, c), end - pad, np.maximum(o, c), colour, o, h, lo, c, vol, at),
            ["time", "price", "time2", "price2"], ["colour", "open", "high", "low", "close", "volume", "start"]).opts(
            color="colour", line_color="colour", tools=["hover"], hover_tooltips=[
                ("start (ET)", "@{start}"), ("open", "@{open}{0.00}"), ("high", "@{high}{0.00}"),
                ("low", "@{low}{0.00}"), ("close", "@{close}{0.00}"), ("volume", "@{volume}{0,0}")])
        price = (wicks * bodies).opts(height=PRICE_HEIGHT, title=title, ylabel="price", **common)
    lines = []
    if "vwap" in b:
        lines.append(hv.Curve((mid, b["vwap"].to_numpy(np.float64)), "time", "price", label="VWAP").opts(
            color="#8250df", line_dash="dashed", line_width=1.5))
    for col, label, colour in (("sma", f"SMA {sma}", "#bf8700"), ("ema", f"EMA {ema}", "#0969da"),
                               ("bb_upper", f"Bollinger {bollinger} upper", "#57606a"),
                               ("bb_lower", f"Bollinger {bollinger} lower", "#57606a")):
        if col in b:
            lines.append(hv.Curve((mid, b[col].to_numpy(np.float64)), "time", "price", label=label).opts(
                color=colour, line_width=1.2))
    overlay = price
    for line in lines:  # `*` (not hv.Overlay) also overlays the rasterised close line, a DynamicMap
        overlay = overlay * line
    if sessions is not None and len(b):
        lo_t, hi_t = start.min().astype("i8"), end.max().astype("i8")
        s0, s1 = sessions.start, sessions.end
        if clock is not None:
            s0, s1 = clock.to_trading(s0), clock.to_trading(s1)
        for kind, shade in SESSION_SHADES.items():
            keep = (sessions.kind == kind) & (s1 > lo_t) & (s0 < hi_t) & (s1 > s0)
            if keep.any():
                spans = hv.VSpans((s0[keep].view("datetime64[ns]"), s1[keep].view("datetime64[ns]"))).opts(
                    color=shade, alpha=SHADE_ALPHA, line_alpha=0)
                overlay = spans * overlay
    if clock is not None:
        seams = hv.VLines(clock.seams.view("datetime64[ns]")).opts(color=SEAM_COLOUR, line_dash="dashed",
                                                                   line_width=1)
        overlay = overlay * seams
    overlay = overlay.opts(legend_position="top", height=PRICE_HEIGHT, ylabel="price",
                                               **{**common, "xaxis": None})
    volume = hv.Spikes((mid, vol, at), "time", ["volume", "start"]).opts(
        color="#57606a", line_width=2, height=STRIP_HEIGHT + AXIS_HEIGHT, yformatter="%.0f", tools=["hover"],
        hover_tooltips=[("start (ET)", "@{start}"), ("volume", "@{volume}{0,0}")], **common, **axis)
    return (overlay + volume).cols(1).opts(shared_axes=True)
