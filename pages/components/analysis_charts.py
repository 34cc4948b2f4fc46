"""The explorer's Analysis tab: volume profile and spread analysis charts (HoloViews).

The numbers come from :mod:`tickdeck.core.analysis`; this module only draws them.
"""

from __future__ import annotations

import holoviews as hv
import numpy as np

from tickdeck.core.analysis import SpreadAnalysis, VolumeProfile
from tickdeck.pages.components.charts import ensure_extension

VALUE_COLOUR, OUTSIDE_COLOUR, POC_COLOUR = "#0b3d91", "#9db8e6", "#cf222e"
QUOTED_COLOUR, EFFECTIVE_COLOUR = "#57606a", "#bf8700"


def profile_chart(p: VolumeProfile, *, title: str = "") -> hv.Overlay:
    """Volume per price level as horizontal bars; the value area dark, the point of control in red."""
    ensure_extension()
    inside = (p.levels >= p.value_low - 1e-12) & (p.levels < p.value_high - 1e-12)
    colour = np.where(p.levels == p.poc, POC_COLOUR, np.where(inside, VALUE_COLOUR, OUTSIDE_COLOUR))
    bars = hv.Rectangles((np.zeros(p.levels.size), p.levels, p.volume, p.levels + p.step, colour, p.volume),
                         ["volume", "price", "volume2", "price2"], ["colour", "traded"]).opts(
        color="colour", line_color="white", line_width=0.5, tools=["hover"], responsive=True, min_width=300,
        height=420, xlabel="volume", ylabel="price", show_grid=True, xformatter="%.0f",
        title=title or f"Volume profile · POC {p.poc:.2f} · value area {p.value_low:.2f}–{p.value_high:.2f}")
    return bars


def spread_charts(a: SpreadAnalysis, times_ns: np.ndarray) -> hv.Layout:
    """Quoted and effective spread medians over time (ET) and the two distributions."""
    ensure_extension()
    t = times_ns.view("datetime64[ns]")
    common = dict(responsive=True, min_width=300, show_grid=True)
    over_time = (hv.Curve((t, a.quoted), "time", "spread", label="quoted (ask − bid)").opts(color=QUOTED_COLOUR)
                 * hv.Curve((t, a.effective), "time", "spread", label="effective (2 × |last − mid|)").opts(
                     color=EFFECTIVE_COLOUR)).opts(
        height=300, title=f"Spread over time (median per bucket) · mean quoted {a.quoted_mean:.4f}, "
                          f"effective {a.effective_mean:.4f}", legend_position="top", xlabel="time (ET)", **common)
    qc, qe = a.quoted_hist
    ec, ee = a.effective_hist
    quoted = hv.Histogram((qe, qc), kdims="spread", vdims="trades", label="quoted")
    effective = hv.Histogram((ee, ec), kdims="spread", vdims="trades", label="effective")
    dist = (quoted.opts(color=QUOTED_COLOUR, alpha=0.6) * effective.opts(color=EFFECTIVE_COLOUR, alpha=0.6)).opts(
        height=260, title="Spread distribution", legend_position="top", **common)
    return (over_time + dist).cols(1)
