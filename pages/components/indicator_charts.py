"""Charts of the Market indicators page: Bokeh line figures over column sources that live updates
extend with ``stream`` (never rebuilt per update), and inline SVG sparklines for table cells.

* :func:`et_ms` — UTC ns instants as Bokeh datetimes (ms of the ET wall clock, so the axis reads ET).
* :func:`frame_source` — a :class:`ColumnDataSource` of a stored indicator frame's columns.
* :func:`stream_rows` — append update rows to a source (only instants later than its last one).
* :func:`line_figure` — a time-axis figure with one line per (source, column), horizontal bands
  (TICK's ±600/±1000, TRIN's 1.0) and a legend that hides lines on click.
* :func:`sparkline_svg` — a tiny inline SVG polyline of a value series (NaN gaps skipped).
"""

from __future__ import annotations

import html
import math
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from bokeh.models import ColumnDataSource, HoverTool, Span
from bokeh.plotting import figure

ET = "America/New_York"
CHART_HEIGHT = 230  # px: six charts fit a laptop screen two by two, one by one on a phone
SPARK_W, SPARK_H = 72, 18  # px of a table cell's sparkline
# Okabe–Ito colours (told apart with colour-vision deficiencies); dashes also tell feed from local.
COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")


def et_ms(at_ns: np.ndarray) -> np.ndarray:
    """UTC ns as float ms of the ET wall clock (what a Bokeh datetime axis shows as ET)."""
    at_ns = np.asarray(at_ns, dtype=np.int64)
    if at_ns.size == 0:
        return np.empty(0, dtype=np.float64)
    idx = pd.DatetimeIndex(at_ns.astype("datetime64[ns]"), tz="UTC").tz_convert(ET).tz_localize(None)
    return idx.asi8.astype(np.float64) / 1e6


def frame_source(df: pd.DataFrame | None, columns: Iterable[str]) -> ColumnDataSource:
    """A source with ``x`` (ET ms) and ``columns`` of ``df`` (missing columns: NaN; ``df`` None: empty)."""
    columns = list(dict.fromkeys(columns))
    if df is None or not len(df):
        return ColumnDataSource({"x": np.empty(0), **{c: np.empty(0) for c in columns}})
    x = et_ms(df.index.asi8 if df.index.tz is not None else df.index.tz_localize(ET).asi8)
    data = {"x": x}
    for c in columns:
        data[c] = df[c].to_numpy(dtype=np.float64) if c in df.columns else np.full(len(df), np.nan)
    return ColumnDataSource(data)


def stream_rows(source: ColumnDataSource, rows: Sequence[tuple[int, dict[str, float]]]) -> int:
    """Append ``rows`` (``(at_ns, {name: value})`` in time order) to ``source``; rows at or before its
    last instant are dropped (a live update repeats a stored row). Returns how many were streamed."""
    if not rows:
        return 0
    xs = et_ms(np.fromiter((a for a, _ in rows), dtype=np.int64, count=len(rows)))
    last = source.data["x"][-1] if len(source.data["x"]) else -math.inf
    keep = [i for i in range(len(rows)) if xs[i] > last and (i == 0 or xs[i] > xs[i - 1])]
    if not keep:
        return 0
    new = {"x": xs[keep]}
    for c in source.data:
        if c != "x":
            new[c] = np.array([rows[i][1].get(c, np.nan) for i in keep], dtype=np.float64)
    source.stream(new)
    return len(keep)


def line_figure(title: str, lines: Sequence[tuple[ColumnDataSource, str, str]], *, y_label: str = "",
                bands: Sequence[tuple[float, str]] = (), height: int = CHART_HEIGHT):
    """A time-axis figure: ``lines`` are ``(source, column, legend label)``; a label ending in "(feed)"
    is drawn dashed. ``bands`` are horizontal lines ``(y, dash)`` (``solid`` or ``dashed``)."""
    fig = figure(title=title, x_axis_type="datetime", height=height, sizing_mode="stretch_width",
                 min_width=280, tools="xpan,xwheel_zoom,reset,save", toolbar_location="above",
                 y_axis_label=y_label)
    fig.toolbar.logo = None
    for y, dash in bands:
        fig.add_layout(Span(location=y, dimension="width", line_color="#57606a", line_dash=dash,
                            line_width=1, line_alpha=0.8))
    for i, (src, col, label) in enumerate(lines):
        fig.line("x", col, source=src, legend_label=label, color=COLORS[i % len(COLORS)], line_width=1.6,
                 line_dash="dashed" if label.endswith("(feed)") else "solid")
    fig.add_tools(HoverTool(tooltips=[("time", "@x{%H:%M:%S}"), ("value", "$y{0,0.00}")],
                            formatters={"@x": "datetime"}, mode="vline"))
    if lines:
        fig.legend.click_policy = "hide"
        fig.legend.location = "top_left"
        fig.legend.label_text_font_size = "8pt"
        fig.legend.background_fill_alpha = 0.6
    return fig


def sparkline_svg(values: np.ndarray, *, label: str = "") -> str:
    """An inline SVG polyline of ``values`` scaled to its own range (NaN: a gap; nothing finite: empty)."""
    v = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(v)
    if not ok.any():
        return ""
    lo, hi = float(v[ok].min()), float(v[ok].max())
    span = hi - lo or 1.0
    n = max(v.size - 1, 1)
    segs, cur = [], []
    for i in range(v.size):
        if ok[i]:
            cur.append(f"{i * SPARK_W / n:.1f},{SPARK_H - 1 - (v[i] - lo) / span * (SPARK_H - 2):.1f}")
        elif cur:
            segs.append(cur)
            cur = []
    if cur:
        segs.append(cur)
    lines = "".join(f'<polyline points="{" ".join(s)}" fill="none" stroke="#0072B2" stroke-width="1.2"/>'
                    for s in segs if len(s) > 1)
    title = f"<title>{html.escape(label)}</title>" if label else ""
    return (f'<svg width="{SPARK_W}" height="{SPARK_H}" viewBox="0 0 {SPARK_W} {SPARK_H}" role="img" '
            f'aria-label="{html.escape(label or "day trend")}">{title}{lines}</svg>')


def fmt(value: float) -> str:
    """A value as a table shows it: 4 significant digits, thousands separated, ``—`` for NaN."""
    if value is None or not math.isfinite(value):
        return "—"
    a = abs(value)
    if a >= 1000 or value == int(value):
        return f"{value:,.0f}"
    if a >= 1:
        return f"{value:,.2f}"
    return f"{value:.4g}"
