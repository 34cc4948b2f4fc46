"""Chart builders shared by pages: tick price (datashaded), bid/ask band, volume, candlesticks.

Everything works on numpy arrays. Above :data:`RAW_GLYPH_LIMIT` points the price is rasterised
by datashader on the server and re-aggregated on every zoom/pan, so the browser receives one
image per render, never the ticks. The bid/ask band and the volume strip are re-binned to
:data:`BAND_BINS` buckets of the visible range (``np.minimum.reduceat`` & co) on each zoom.
"""

from __future__ import annotations

import datashader as ds
import holoviews as hv
import numpy as np
import pandas as pd
from holoviews.operation.datashader import rasterize

RAW_GLYPH_LIMIT = 50_000  # beyond this, datashade: Bokeh slows to a crawl above ~50k glyphs
CANDLE_LIMIT = 3_000  # beyond this, candles are sub-pixel: draw a rasterised close line instead
BAND_BINS = 600  # buckets for the bid/ask band and volume strip: about one per 2 px at 1200 px
PRICE_HEIGHT, STRIP_HEIGHT, AXIS_HEIGHT = 320, 130, 60  # px; the bottom strip carries the time axis

UP, DOWN = "#1a7f37", "#cf222e"

_extension_loaded = False


def ensure_extension() -> None:
    """Load the HoloViews Bokeh backend once per process."""
    global _extension_loaded
    if not _extension_loaded:
        hv.extension("bokeh", logo=False)
        _extension_loaded = True


def naive_et(index) -> np.ndarray:
    """A tz-aware index as naive ET ``datetime64[ns]`` (what Bokeh shows as wall-clock time)."""
    idx = pd.DatetimeIndex(index)
    if idx.tz is not None:
        idx = idx.tz_convert("America/New_York").tz_localize(None)
    return idx.values.astype("datetime64[ns]")


def binned(t: np.ndarray, x_range, bins: int, *columns: tuple[np.ndarray, str]) -> tuple[np.ndarray, list]:
    """Aggregate sorted time series over ``bins`` equal buckets of the visible ``x_range``.

    ``columns`` are ``(values, how)`` pairs with ``how`` in ``min``/``max``/``sum``. Returns the
    bucket starts and one array per column (empty buckets dropped). Vectorised.
    """
    if t.size == 0:
        return t, [np.empty(0) for _ in columns]
    lo, hi = (t[0], t[-1]) if x_range is None or x_range[0] is None else (
        np.datetime64(pd.Timestamp(x_range[0]), "ns"), np.datetime64(pd.Timestamp(x_range[1]), "ns"))
    i0, i1 = int(np.searchsorted(t, lo, side="left")), int(np.searchsorted(t, hi, side="right"))
    if i1 <= i0:
        return t[:0], [np.empty(0) for _ in columns]
    tt = t[i0:i1].view("i8")
    edges = np.linspace(tt[0], tt[-1] + 1, bins + 1).astype("i8")
    starts = np.unique(np.searchsorted(tt, edges[:-1], side="left"))
    starts = starts[starts < tt.size]
    ops = {"min": np.minimum, "max": np.maximum, "sum": np.add}
    out = [ops[how].reduceat(v[i0:i1], starts) for v, how in columns]
    return tt[starts].view("datetime64[ns]"), out


def tick_chart(df: pd.DataFrame, *, title: str = "") -> hv.Layout:
    """Price over time (rasterised when large) with the bid/ask band and volume below, x-linked.

    ``df`` needs a DatetimeIndex and ``last``, ``bid``, ``ask``, ``last_sz`` columns.
    """
    ensure_extension()
    t = naive_et(df.index)
    last = df["last"].to_numpy(np.float64)
    bid = df["bid"].to_numpy(np.float64)
    ask = df["ask"].to_numpy(np.float64)
    size = df["last_sz"].to_numpy(np.float64)
    frame = pd.DataFrame({"time": t, "price": last})
    curve = hv.Curve(frame, "time", ("price", "Price"), label="last trade")
    common = dict(responsive=True, min_width=300, show_grid=True, xlabel="time (ET)")
    if len(frame) > RAW_GLYPH_LIMIT:
        price = rasterize(curve, aggregator=ds.count(), line_width=1, pixel_ratio=1).opts(
            cmap=["#7aa7e8", "#0b3d91"], cnorm="eq_hist", tools=["hover"], height=PRICE_HEIGHT,
            colorbar=False, title=title, clabel="ticks", **{**common, "xaxis": None})
    else:
        price = curve.opts(tools=["hover"], height=PRICE_HEIGHT, title=title, color="#0b3d91",
                           **{**common, "xaxis": None})

    def band(x_range=None):
        starts, (lo, hi) = binned(t, x_range, BAND_BINS, (np.where(np.isfinite(bid), bid, np.inf), "min"),
                                  (np.where(np.isfinite(ask), ask, -np.inf), "max"))
        ok = np.isfinite(lo) & np.isfinite(hi)
        return hv.Area((starts[ok], lo[ok], hi[ok]), "time", ["bid", "ask"], label="bid/ask range").opts(
            color="#8c959f", alpha=0.5, line_width=0, height=STRIP_HEIGHT, ylabel="bid / ask", tools=["hover"],
            **{**common, "xaxis": None})

    def volume(x_range=None):
        starts, (vol,) = binned(t, x_range, BAND_BINS, (size, "sum"))
        return hv.Spikes((starts, vol), "time", "volume").opts(
            color="#57606a", line_width=2, height=STRIP_HEIGHT + AXIS_HEIGHT, ylabel="volume", tools=["hover"], yformatter="%.0f",
            **common)

    rx = hv.streams.RangeX(source=price)
    return (price + hv.DynamicMap(band, streams=[rx]) + hv.DynamicMap(volume, streams=[rx])).cols(1).opts(
        shared_axes=True)


def with_overlays(bars: pd.DataFrame, *, sma: int = 0, ema: int = 0, bollinger: int = 0) -> pd.DataFrame:
    """Add ``sma``, ``ema``, ``bb_upper``/``bb_lower`` columns on ``close`` (vectorised pandas)."""
    out = bars.copy()
    close = out["close"].astype(float)
    if sma:
        out["sma"] = close.rolling(sma, min_periods=1).mean()
    if ema:
        out["ema"] = close.ewm(span=ema, adjust=False).mean()
    if bollinger:
        mid = close.rolling(bollinger, min_periods=1).mean()
        sd = close.rolling(bollinger, min_periods=1).std().fillna(0.0)
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


def candle_chart(bars: pd.DataFrame, *, title: str = "", sma: int = 0, ema: int = 0, bollinger: int = 0) -> hv.Layout:
    """Candlesticks (or a rasterised close line above :data:`CANDLE_LIMIT`) with VWAP, overlays, volume."""
    ensure_extension()
    b = with_overlays(bars, sma=sma, ema=ema, bollinger=bollinger)
    start, end = bar_times(b)
    mid = start + (end - start) // 2
    o, h, lo, c = (b[k].to_numpy(np.float64) for k in ("open", "high", "low", "close"))
    vol = b["volume"].to_numpy(np.float64) if "volume" in b else np.zeros(len(b))
    common = dict(responsive=True, min_width=300, show_grid=True, xlabel="time (ET)")
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
            (start + pad, np.minimum(o, c), end - pad, np.maximum(o, c), colour, o, h, lo, c, vol),
            ["time", "price", "time2", "price2"], ["colour", "open", "high", "low", "close", "volume"]).opts(
            color="colour", line_color="colour", tools=["hover"])
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
    overlay = hv.Overlay([price, *lines]).opts(legend_position="top_left", height=PRICE_HEIGHT, ylabel="price", **{**common, "xaxis": None})
    volume = hv.Spikes((mid, vol), "time", "volume").opts(color="#57606a", line_width=2,
                                                         height=STRIP_HEIGHT + AXIS_HEIGHT, yformatter="%.0f",
                                                         tools=["hover"], **common)
    return (overlay + volume).cols(1).opts(shared_axes=True)
