"""The history build from stored tick days (real ArcticDB in tmp_path, SQLite): the store layout,
McClellan and relative volume from the days before, idempotent rebuilds, the symbols filter, the
``indicators_build`` job and the ``tickdeck indicators`` CLI."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from tickdeck.core.indicators import store as istore
from tickdeck.core.indicators.breadth import breadth_series, mcclellan
from tickdeck.core.indicators.build import build_indicators, day_columns
from tickdeck.core.indicators.catalog import exchange_map
from tickdeck.core.indicators.derived import SERIES, compute_derived, metric_grid
from tests.builders import store_synthetic

DAYS = ("2024-07-01", "2024-07-02", "2024-07-03")
SYMS = ("AAPL", "MSFT", "SPY")


@pytest.fixture
def stored(tmp_path):
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context

    ctx = Context.open(Settings(data_dir=tmp_path / "data"))
    for i, s in enumerate(SYMS):
        store_synthetic(ctx, s, DAYS[0], DAYS[-1], seed=i, ticks=1500)
    yield ctx
    ctx.close()


def test_build_stores_derived_metrics_and_local_breadth_per_day(stored):
    """Issue 14: one DERIVED.<SYMBOL> series per symbol-day (60 columns on the symbol's 1 s grid) and
    BREADTH.LOCAL per day (every symbol stored, on the union of the grids), equal to the engine's
    functions on the stored ticks; relative volume needs earlier days; McClellan runs over the days."""
    progress = []
    out = build_indicators(stored, DAYS[0], DAYS[-1], progress=progress.append)

    assert out.days == list(DAYS) and out.derived == 9 and out.skipped == []
    assert [p.done for p in progress] == [1, 2, 3] and progress[-1].total == 3
    assert istore.days(stored, "derived") == istore.days(stored, "breadth") == [np.datetime64(d).item() for d in DAYS]
    for day in DAYS:
        universe = {s: day_columns(stored, s, day) for s in SYMS}
        grid = np.unique(np.concatenate([metric_grid(c["timestamp"]) for c in universe.values()]))
        local = istore.read_breadth(stored, day)
        assert_array_equal(local.index.asi8, grid)
        want = breadth_series(universe, grid, exchange_map(SYMS))
        for k, v in want.items():
            assert_allclose(local[k].to_numpy(), v, rtol=0, atol=0, equal_nan=True, err_msg=k)
        d = istore.read_derived(stored, "AAPL", day)
        assert list(d.columns) == list(SERIES)
        assert_array_equal(d.index.asi8, metric_grid(universe["AAPL"]["timestamp"]))
    first = istore.read_derived(stored, "AAPL", DAYS[0], metrics=["relative_volume"])
    later = istore.read_derived(stored, "AAPL", DAYS[2], metrics=["relative_volume"])
    assert first.shape[1] == 3 and np.isnan(first.to_numpy()).all()  # no earlier day: no profile
    assert np.isfinite(later.to_numpy()).any()

    net = [float((lambda r: r["ADV.ALL"] - r["DEC.ALL"])(istore.read_breadth(stored, d).iloc[-1])) for d in DAYS]
    closing = [float(istore.read_breadth(stored, d)["MCCLELLAN.ALL"].iloc[-1]) for d in DAYS]
    assert_allclose(closing, mcclellan(np.asarray(net)), rtol=1e-12, atol=1e-12)
    assert (istore.read_breadth(stored, DAYS[0])["MCCLELLAN.ALL"] == 0).all()


def test_rebuild_replaces_a_day_and_symbols_limit_only_the_derived_metrics(stored):
    """Issue 14: building again gives the same series (a day is written whole, not appended); with
    symbols, derived metrics are built for those only while breadth still covers every stored symbol."""
    build_indicators(stored, DAYS[1], DAYS[1], symbols=["aapl"])
    assert istore.symbols(stored, DAYS[1]) == ["AAPL"]
    first = istore.read_breadth(stored, DAYS[1])
    assert first["ISSUES.ALL"].iloc[-1] == len(SYMS)
    d1 = istore.read_derived(stored, "AAPL", DAYS[1])
    build_indicators(stored, DAYS[1], DAYS[1])
    assert istore.symbols(stored, DAYS[1]) == list(SYMS)
    again = istore.read_derived(stored, "AAPL", DAYS[1])
    assert again.shape == d1.shape
    assert_allclose(again.to_numpy(), d1.to_numpy(), rtol=0, atol=0, equal_nan=True)
    assert_allclose(istore.read_breadth(stored, DAYS[1]).to_numpy(), first.to_numpy(), rtol=0, atol=0, equal_nan=True)


def test_derived_table_has_the_latest_value_per_symbol(stored):
    """The page's table: the last stored row of every symbol's derived metrics."""
    build_indicators(stored, DAYS[0], DAYS[0])
    t = istore.derived_table(stored, DAYS[0], window="1min")
    assert t.symbols == SYMS and len(t.columns) == 20 and all(c.endswith(".1min") for c in t.columns)
    for i, s in enumerate(SYMS):
        cols = day_columns(stored, s, DAYS[0])
        g = metric_grid(cols["timestamp"])[-1:]
        want = compute_derived(cols, g)
        assert t.at_ns[i] == g[0]
        assert_allclose(t.values[i], [want[c][0] for c in t.columns], rtol=0, atol=0, equal_nan=True)


def test_reads_name_what_is_missing(stored):
    from tickdeck.core.errors import NotFound

    with pytest.raises(istore.IndicatorsNotStored, match="no indicators stored for BREADTH.LOCAL on 2024-07-01"):
        istore.read_breadth(stored, DAYS[0])
    build_indicators(stored, DAYS[0], DAYS[0])
    with pytest.raises(NotFound, match="no indicator NOPE.NYSE stored"):
        istore.read_breadth(stored, DAYS[0], names=["NOPE.NYSE"])
    with pytest.raises(NotFound, match="no breadth source 'x'"):
        istore.read_breadth(stored, DAYS[0], "x")


def test_indicators_build_job_runs_in_a_worker(stored):
    """Issue 14: the build is a job kind (typed params), run by the worker like the other kinds."""
    from tickdeck.jobs.kinds import IndicatorsBuildParams
    from tickdeck.jobs.queue import JobQueue
    from tickdeck.jobs.worker import Worker

    assert IndicatorsBuildParams.parse({"days": ["2024-07-02", "2024-07-01"], "symbols": "aapl,msft"}) == \
        IndicatorsBuildParams("2024-07-01", "2024-07-02", ("AAPL", "MSFT"))
    q = JobQueue(stored.catalog.engine, stored.bus)
    jid = q.submit("indicators_build", {"start": DAYS[0], "end": DAYS[1]})
    bad = q.submit("indicators_build", {"start": DAYS[1], "end": DAYS[0]})
    Worker(stored, slots=1).run(once=True)
    job = q.get(jid)
    assert job.status == "succeeded", job.error
    assert job.result["days"] == [DAYS[0], DAYS[1]] and job.result["derived"] == 6
    assert istore.days(stored, "breadth") == [np.datetime64(d).item() for d in DAYS[:2]]
    failed = q.get(bad)
    assert failed.status == "failed" and "end 2024-07-01 is before start 2024-07-02" in failed.error


def test_cli_builds_and_shows(stored, monkeypatch, capsys):
    from tickdeck.app.cli import main

    monkeypatch.setenv("TICKDECK_DATA_DIR", str(stored.settings.data_dir))
    monkeypatch.setenv("TICKDECK_PIPELINE", "off")
    assert main(["indicators", "build", "--start", DAYS[0], "--end", "2024-07-06", "--symbols", "AAPL"]) == 0
    out = capsys.readouterr().out
    assert "built indicators for 3 day(s): 3 symbol-days of derived metrics" in out
    assert "no ticks on 2024-07-05" in out
    assert main(["indicators", "show", "breadth", DAYS[2], "--tail", "3"]) == 0
    out = capsys.readouterr().out
    assert "TICK.NYSE" in out and "columns" in out
    assert main(["indicators", "show", "derived", DAYS[2], "AAPL", "--metric", "vpin", "--window", "5min"]) == 0
    assert "vpin.5min" in capsys.readouterr().out
    assert main(["indicators", "show", "derived", DAYS[2], "MSFT"]) == 1
    assert "no indicators stored for DERIVED.MSFT on 2024-07-03" in capsys.readouterr().err
    assert main(["indicators", "build", "--days", "2"]) == 0
    assert "built indicators for 2 day(s): 6 symbol-days" in capsys.readouterr().out
    assert main(["indicators", "show", "derived", DAYS[2], "MSFT", "--tail", "1"]) == 0


def test_market_triggers_run_the_indicators_service_beside_live_collection(stored):
    """Issue 14: the open asks for the indicators service with the live one (on a simulated clock),
    the end of the extended session stops it; one started by hand keeps running."""
    import pandas as pd

    from tickdeck.core.services import ServiceControl
    from tickdeck.jobs.queue import JobQueue
    from tickdeck.jobs.triggers import MarketTriggers

    stored.catalog.set_config("watchlist", ["AAPL"])
    stored.catalog.upsert_dataset("AAPL", source="iqfeed")
    trig, control = MarketTriggers(stored, JobQueue(stored.catalog.engine, stored.bus)), ServiceControl(stored)
    trig.check(pd.Timestamp("2024-07-02 09:31", tz="America/New_York"))
    want = control.desired("indicators")
    assert (want.state, want.requested_by, want.params) == ("running", "trigger:open", {"day": "2024-07-02"})
    trig.check(pd.Timestamp("2024-07-02 20:05", tz="America/New_York"))
    assert (control.desired("indicators").state, control.desired("indicators").requested_by) == \
        ("stopped", "trigger:end")
    control.start("indicators", by="cli")
    trig.check(pd.Timestamp("2024-07-03 09:31", tz="America/New_York"))
    trig.check(pd.Timestamp("2024-07-03 17:05", tz="America/New_York"))
    assert control.desired("indicators").requested_by == "cli" and control.desired("indicators").state == "running"
