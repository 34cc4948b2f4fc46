"""Rewriting a day leaves no bar series built from its earlier version (issue 11 item 25).

Real ArcticDB and SQLite in ``tmp_path``, the post-ingest pipeline installed.
"""

from __future__ import annotations

import datetime as dt

import pytest

from builders import make_trades
from tickdeck.core.bars import build_default_bars, get_bars, parse_spec
from tickdeck.core.bars.arrays import COLUMNS, tick_arrays
from tickdeck.core.bars.aggregate import bars_frame
from tickdeck.core.bars.builder import compute_columns
from tickdeck.core.bars.service import _stats
from tickdeck.core.ingest import ingest_day
from tickdeck.core.naming import bar_library, bar_symbol

DAY = dt.date(2024, 7, 2)
EXTRA = ["time:7s", "time:13m", "tick:33", "tick:777", "volume:12345", "dollar:2500000", "range:0.07",
         "renko:0.11", "heikin_ashi:90s", "tick_imbalance:ewma7", "volume_runs:ewma9", "dollar_imbalance:ewma11",
         "tick_runs:ewma13"]


@pytest.fixture
def pctx(ctx):
    from tickdeck.core import pipeline

    pipeline.install(ctx)
    return ctx


def _expected(ctx, spec):
    x = tick_arrays(ctx.store.read_day("AAPL", DAY, columns=COLUMNS))
    return bars_frame(compute_columns(x, parse_spec(spec), calendar="XNYS"), str(spec))


def test_rewriting_a_day_leaves_only_series_built_from_the_new_ticks(pctx):
    """Issue 11 item 25: 13 extra specs built on a day, then the day is re-collected with other
    ticks: every series still stored or catalogued matches bars built from the new ticks; the
    extra specs are gone (computed afresh on demand)."""
    ingest_day(pctx, "AAPL", DAY, make_trades(3_000, seed=1), source="iqfeed")
    build_default_bars(pctx, "AAPL", DAY, specs=EXTRA)
    defaults = len(pctx.catalog.bar_series("AAPL", DAY)) - len(EXTRA)
    assert defaults > 0

    res = ingest_day(pctx, "AAPL", DAY, make_trades(2_500, seed=2), source="iqfeed")

    rows = pctx.catalog.bar_series("AAPL", DAY)
    assert len(rows) == defaults and not {r.spec for r in rows} & set(EXTRA)
    for r in rows:
        exp = _expected(pctx, r.spec)
        assert r.bars == len(exp) and r.stats == _stats(exp), f"{r.spec} is stale"
        meta = pctx.store.series_metadata(bar_library(r.family),
                                          bar_symbol("AAPL", DAY, parse_spec(r.spec).storage_name))
        assert meta["ingest_id"] == res.info.ingest_id and meta["ticks"] == 2_500
    for spec in EXTRA:
        s = parse_spec(spec)
        assert bar_symbol("AAPL", DAY, s.storage_name) not in pctx.store.list_series(bar_library(s.family))
    got = get_bars(pctx, "AAPL", DAY, spec="tick:33")
    assert len(got) == len(_expected(pctx, "tick:33")) and int(got["trade_count"].sum()) == 2_500
