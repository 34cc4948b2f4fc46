"""The bars engine: 13 bar families over tick days, streaming and batch, stored per symbol-day.

Public API::

    parse_spec(text) -> BarSpec          FAMILIES
    compute_bars(ticks_df, spec) -> DataFrame
    BarBuilder(spec).update(batch) / .flush()
    aggregate_time_bars(bars, spec_from, spec_to) -> DataFrame
    build_default_bars(ctx, symbol, day, *, specs=None, progress=None) -> list[BarSeriesRow]
    get_bars(ctx, symbol, start, end=None, spec="time:1m", *, session="all") -> DataFrame
    install(ctx)                          build default bars after every ingested day

See ``docs/bars.md``.
"""

from __future__ import annotations

from tickdeck.core.bars.aggregate import BAR_COLUMNS, BarIntegrityError
from tickdeck.core.bars.arrays import BarInputError, TickArrays, tick_arrays
from tickdeck.core.bars.builder import BarBuilder, compute_bars
from tickdeck.core.bars.registry import default_specs
from tickdeck.core.bars.resample import aggregate_time_bars
from tickdeck.core.bars.service import build_default_bars, get_bars, install
from tickdeck.core.bars.spec import FAMILIES, BarSpec, parse_spec

__all__ = ["BAR_COLUMNS", "BarBuilder", "BarInputError", "BarIntegrityError", "BarSpec", "FAMILIES", "TickArrays",
           "aggregate_time_bars", "build_default_bars", "compute_bars", "default_specs", "get_bars", "install",
           "parse_spec", "tick_arrays"]
