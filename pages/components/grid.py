"""Data grid: a Panel Tabulator with remote pagination, sorting and header filters.

With ``pagination="remote"`` the frame stays on the server; the browser receives one page
(:data:`PAGE_SIZE` rows) at a time, and sorting/filtering run server-side on the frame. What
the frame holds — µs times, session names, integer volumes — is decided in
:mod:`tickdeck.core.tick_table`; this module only shows it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import panel as pn
from bokeh.models.widgets.tables import NumberFormatter

from tickdeck.core.tick_table import DEFAULT_TICK_COLUMNS, TIME_COLUMN, display_frame

PAGE_SIZE = 50  # rows per page sent to the browser
TICK_GRID_COLUMNS = DEFAULT_TICK_COLUMNS  # the columns shown until the user picks others
ID_COLUMNS = ("tick_id",)  # identifiers: digits as stored, no thousands separators
PRICE_FORMAT = "0.00[0000]"  # prices to the cent, sub-penny digits when there are any


def grid_frame(df: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """A display frame (:func:`tickdeck.core.tick_table.display_frame`): µs ET time first, no index."""
    return display_frame(df, columns)


def formatters(frame: pd.DataFrame) -> dict:
    """Per-column formatters: ids as plain digits, other integers grouped, floats to their precision."""
    out = {}
    for c in frame.columns:
        kind = frame[c].dtype.kind
        if c in ID_COLUMNS:
            out[c] = NumberFormatter(format="0")
        elif kind in "iu":
            out[c] = NumberFormatter(format="0,0")
        elif kind == "f":
            out[c] = NumberFormatter(format=PRICE_FORMAT, nan_format="")
    return out


def data_grid(frame: pd.DataFrame, **kwargs) -> pn.widgets.Tabulator:
    """A read-only, remote-paginated grid over a display frame with a header filter per column."""
    filters = {c: ("number" if np.issubdtype(frame[c].dtype, np.number) else "input") for c in frame.columns
               if c != TIME_COLUMN}
    return pn.widgets.Tabulator(
        frame, pagination="remote", page_size=PAGE_SIZE, disabled=True, show_index=False, formatters=formatters(frame),
        header_filters=filters, sizing_mode="stretch_width", layout="fit_data_table", css_classes=["td-grid"],
        **kwargs)
