"""Data grid: a Panel Tabulator with remote pagination, sorting and header filters.

With ``pagination="remote"`` the frame stays on the server; the browser receives one page
(:data:`PAGE_SIZE` rows) at a time, and sorting/filtering run server-side on the frame.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import panel as pn

from tickdeck.pages.components.charts import naive_et

PAGE_SIZE = 50  # rows per page sent to the browser
TICK_GRID_COLUMNS = ["last", "last_sz", "bid", "ask", "trade_sign", "session", "tick_id"]


def grid_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A display frame: wall-clock ET time first, no tz-aware values, no index."""
    out = {}
    if isinstance(df.index, pd.DatetimeIndex):
        out["time (ET)"] = naive_et(df.index)
    for c in df.columns:
        s = df[c]
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            out[c] = naive_et(s)
        else:
            out[c] = s.to_numpy()
    return pd.DataFrame(out, copy=False)


def data_grid(df: pd.DataFrame, **kwargs) -> pn.widgets.Tabulator:
    """A read-only, remote-paginated grid over ``df`` with a header filter per column."""
    frame = grid_frame(df)
    filters = {c: ("number" if np.issubdtype(frame[c].dtype, np.number) else "input") for c in frame.columns
               if not np.issubdtype(frame[c].dtype, np.datetime64)}
    return pn.widgets.Tabulator(
        frame, pagination="remote", page_size=PAGE_SIZE, disabled=True, show_index=False,
        header_filters=filters, sizing_mode="stretch_width", layout="fit_data_table", **kwargs)
