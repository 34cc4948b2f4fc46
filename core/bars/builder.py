"""Streaming bar builders and the one-shot :func:`compute_bars`.

A :class:`BarBuilder` takes ticks in batches of any size (``update``) and returns the bars that
closed; ``flush`` closes the open bar at the end of the data. Over any split of a stream,
``concat(update(b) for b in batches) + flush()`` equals ``compute_bars`` on the whole stream,
bit for bit (property-tested for every family): the kernels carry their state in two small
arrays, and the ticks of the open bar are kept and re-aggregated from the bar's first tick.

Warnings
--------
A builder is not thread-safe; use one per stream. The open bar's ticks are buffered, so memory
grows with the longest bar (a 15m bar of a busy stock: a few thousand ticks).

Units: a builder takes the instrument's ``scale`` and ``units`` (see :mod:`core.bars.arrays`)
from the first batch that has ticks and keeps them for the stream: ``flush`` closes the open bar
with them (its volume in quantity, its dollar volume in currency, as every earlier bar), and a
later batch with other terms raises :class:`BarInputError`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tickdeck.core.bars.aggregate import CLOSED_AT_SESSION, aggregate, bars_frame, check_integrity
from tickdeck.core.bars.arrays import TickArrays, empty_arrays, session_boundaries, tick_arrays
from tickdeck.core.bars.heikin_ashi import heikin_ashi, new_ha_state
from tickdeck.core.bars.registry import BOUNDARIES
from tickdeck.core.bars.spec import TIME_FAMILIES, BarSpec, parse_spec
from tickdeck.core.bars.state import F_A, F_B, F_RUN, F_SUMV, I_B0, I_N, I_OPENED, new_state
from tickdeck.core.bars.threshold import new_split_state, split_run
from tickdeck.core.bars.time_bars import time_labels


class BarBuilder:
    """Incremental builder of one bar spec.

    Parameters
    ----------
    spec
        A :class:`BarSpec` or spec string.
    calendar
        Calendar name whose session boundaries clip time-bar labels (``None``: no clipping).
    """

    def __init__(self, spec: BarSpec | str, *, calendar: str | None = "XNYS"):
        self.spec = parse_spec(spec)
        self.calendar = calendar
        self._fused = self.spec.split
        if self._fused:
            self._fs, self._ist = new_split_state()
        else:
            self._st_i, self._st_f = new_state()
            self._pending = empty_arrays()
        self._ha = new_ha_state() if self.spec.family == "heikin_ashi" else None
        self._terms: tuple[float, float] | None = None  # (scale, units) of the stream, from its first ticks

    def update(self, ticks: pd.DataFrame | TickArrays) -> pd.DataFrame:
        """Feed a batch of ticks (later than any fed before); returns the bars that closed."""
        return bars_frame(self.update_columns(ticks), str(self.spec))

    def flush(self) -> pd.DataFrame:
        """Close the open bar (end of data); returns it (or no rows)."""
        return bars_frame(self.flush_columns(), str(self.spec))

    def update_columns(self, ticks, flush: bool = False) -> dict[str, np.ndarray]:
        x = ticks if isinstance(ticks, TickArrays) else tick_arrays(ticks)
        x = self._with_terms(x)
        cols = self._step(x, flush)
        check_integrity(cols, str(self.spec))
        return cols

    def flush_columns(self) -> dict[str, np.ndarray]:
        return self.update_columns(empty_arrays(), flush=True)

    def _with_terms(self, x: TickArrays) -> TickArrays:
        """``x`` with the stream's scale and units (an empty batch takes them; others must match)."""
        terms = (x.scale, x.units)
        if self._terms is None:
            if len(x):
                self._terms = terms
            return x
        if terms == self._terms:
            return x
        if len(x):
            from tickdeck.core.bars.arrays import BarInputError

            raise BarInputError("terms", f"batch has scale/units {terms}, the stream {self._terms}", row=0)
        return empty_arrays(*self._terms)

    def _step(self, x: TickArrays, flush: bool) -> dict[str, np.ndarray]:
        spec = self.spec
        if self._fused:
            return split_run(x, spec, self._fs, self._ist, flush)
        if len(self._pending):
            pend = self._pending
            if len(x) and x.ts[0] < pend.ts[-1]:
                from tickdeck.core.bars.arrays import BarInputError

                raise BarInputError("timestamp", "batch starts before the previous batch ended", row=0)
            big = TickArrays.concat(pend, x)
        else:
            big = x
        resume = len(self._pending)
        st_i, st_f = self._st_i, self._st_f
        ends, flags, labels = BOUNDARIES[spec.family](big, resume, spec, st_i, st_f)
        if flush and st_i[I_N] > 0:
            ends = np.append(ends, len(big))
            flags = np.append(flags, np.int8(st_i[I_OPENED] | CLOSED_AT_SESSION))
            if labels is not None:
                labels = np.append(labels, st_i[I_B0])
            st_i[I_N] = 0
            st_f[F_RUN] = st_f[F_A] = st_f[F_B] = st_f[F_SUMV] = 0.0
        starts = np.empty_like(ends)
        if ends.size:
            starts[0] = 0
            starts[1:] = ends[:-1]
            self._pending = big.take(int(ends[-1]))
        else:
            self._pending = big
        cols = aggregate(big, starts, ends)
        if spec.family in TIME_FAMILIES and ends.size:
            bounds = None
            if self.calendar and not spec.cross:
                bounds = session_boundaries(self.calendar, int(big.ts[0]), int(big.ts[-1]))
            cols["start"], cols["end"] = time_labels(big.ts[starts], big.wall[starts], labels, flags,
                                                     spec.interval_s * 10**9, bounds)
        if self._ha is not None:
            heikin_ashi(cols, self._ha)
        return cols


def compute_columns(ticks: pd.DataFrame | TickArrays, spec: BarSpec | str, *, calendar: str | None = "XNYS"):
    """Bar columns (start/end UTC ns) of the whole tick stream ``ticks``."""
    return BarBuilder(spec, calendar=calendar).update_columns(ticks, flush=True)


def compute_bars(ticks: pd.DataFrame | TickArrays, spec: BarSpec | str, *,
                 calendar: str | None = "XNYS") -> pd.DataFrame:
    """Bars of ``spec`` over a tick frame (stored schema, or any frame with ``last``/``last_sz``).

    Returns
    -------
    DataFrame indexed by ``start`` (tz-aware ET) with the columns of
    :data:`core.bars.aggregate.BAR_COLUMNS`; the last bar is closed by the end of the data.

    Raises
    ------
    InvalidBarSpec
        ``spec`` does not parse.
    BarInputError
        A price or size is not finite (or a price not positive), or timestamps go backwards.
    """
    spec = parse_spec(spec)
    return bars_frame(compute_columns(ticks, spec, calendar=calendar), str(spec))
