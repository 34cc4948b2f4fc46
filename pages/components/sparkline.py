"""A rate sparkline with a y-scale: the last samples of one number as a small Bokeh line chart.

Panel's ``Trend`` indicator draws a bare area without any axis and prints the change against the
first sample, so a rate falling to zero reads "▼-100 %". :class:`Sparkline` keeps a y-axis (a few
ticks, starting at 0), names the value and its unit in the title with the window's peak, and has no
percentage change. Samples are appended to one ``ColumnDataSource`` (``stream`` with a rollover),
so an update sends only the new point.
"""

from __future__ import annotations

import panel as pn
from bokeh.models import ColumnDataSource, Range1d
from bokeh.plotting import figure


class Sparkline:
    """``label`` over the last ``points`` samples (one per :meth:`push`), e.g. ticks per second."""

    def __init__(self, label: str, unit: str, *, points: int = 120, width: int = 280, height: int = 130,
                 colour: str = "#2563eb"):
        self.label, self.unit, self.points = label, unit, points
        self.x = 0
        self.values: list[float] = []
        self.source = ColumnDataSource({"x": [], "y": []})
        fig = figure(width=width, height=height, toolbar_location=None, tools="", title=self._title(),
                     y_range=Range1d(0, 1), x_range=Range1d(0, points))
        fig.varea(x="x", y1=0, y2="y", source=self.source, fill_color=colour, fill_alpha=0.2)
        fig.line(x="x", y="y", source=self.source, line_color=colour, line_width=2)
        fig.xaxis.visible = False
        fig.yaxis.ticker.desired_num_ticks = 3
        fig.grid.grid_line_alpha = 0.3
        fig.title.text_font_size = "10.5pt"
        fig.min_border_left = 36
        self.figure = fig
        self.pane = pn.pane.Bokeh(fig, width=width, height=height, margin=(4, 8))

    def _title(self) -> str:
        if not self.values:
            return f"{self.label}: —"
        now, peak = self.values[-1], max(self.values)
        return f"{self.label}: {now:,.1f} {self.unit} (peak {peak:,.1f})"

    def push(self, value: float) -> None:
        """Append one sample; the x-window slides once it holds ``points`` samples."""
        v = round(float(value), 1)
        self.values = [*self.values[-(self.points - 1):], v]
        self.source.stream({"x": [self.x], "y": [v]}, rollover=self.points)
        self.x += 1
        fig = self.figure
        fig.x_range.start, fig.x_range.end = max(0, self.x - self.points), max(self.points, self.x)
        top = max(self.values) or 1.0
        fig.y_range.end = top * 1.15
        fig.title.text = self._title()

    @property
    def value(self) -> float:
        return self.values[-1] if self.values else 0.0

    def __panel__(self):
        return self.pane
