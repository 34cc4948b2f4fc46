"""Bulk rebuilds on a real Dask cluster (``distributed.LocalCluster``, 2 worker processes) write exactly what
the serial paths write: bars (``build_default_bars``), indicators (``build_indicators``) and validation.

One cluster and one generated data directory (3 symbols × 3 days) for the module; each test deletes what the
serial path wrote before the cluster rebuilds it, so an equal frame can only come from the cluster's workers.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest

from tickdeck.core import bulk, naming
from tickdeck.core.bulk import BulkError, run_bulk
from tickdeck.core.config import Settings
from tickdeck.core.context import Context
from tickdeck.core.errors import InvalidBarSpec
from tickdeck.core.sources.synthetic import generate_into_store
from tests.services_needed import free_port

SYMBOLS = ["AAA", "BBB", "CCC"]
SPECS = ["time:60s", "tick:100", "volume:5000:split", "renko:0.05", "tick_imbalance:ewma10:t50"]  # five families
START, END = "2024-03-04", "2024-03-06"


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    c = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    yield c.scheduler_address
    c.close()


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    c = Context.open(Settings(data_dir=tmp_path_factory.mktemp("bulk")))
    generate_into_store(c, SYMBOLS, START, END, seed=3, ticks=3000)
    yield c
    c.close()


def _bar_frames(c) -> dict[str, pd.DataFrame]:
    out = {}
    for lib in c.store.library_names():
        if lib.startswith(naming.BARS_PREFIX):
            for sym in c.store.list_series(lib):
                out[f"{lib}:{sym}"] = c.store.read_series(lib, sym)[0]
    return out


def _indicator_frames(c) -> dict[str, pd.DataFrame]:
    lib = naming.INDICATORS_LIBRARY
    return {sym: c.store.read_series(lib, sym)[0] for sym in c.store.list_series(lib)}


def _delete(c, frames: dict[str, pd.DataFrame], lib: str | None = None) -> None:
    for key in frames:
        library, sym = (lib, key) if lib else key.split(":", 1)
        c.store.delete_series(library, sym)


def _assert_same(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    assert sorted(a) == sorted(b)
    for key in a:
        pd.testing.assert_frame_equal(a[key], b[key], check_exact=True, obj=key)


def test_bars_rebuilt_on_the_cluster_equal_the_serial_build(ctx, cluster):
    from tickdeck.core.bars import build_default_bars

    for sym in SYMBOLS:
        for day in ctx.store.list_days(sym):
            build_default_bars(ctx, sym, day, specs=SPECS)
    serial = _bar_frames(ctx)
    assert len(serial) == 9 * len(SPECS)  # every symbol-day, every spec
    _delete(ctx, serial)
    assert _bar_frames(ctx) == {}

    out = run_bulk(ctx, "bars", SYMBOLS, START, END, specs=SPECS, dask=cluster)

    assert out.engine == cluster and not out.failed
    assert [(r.symbol, r.day) for r in out.results] == [(s, d) for s in SYMBOLS for d in ("2024-03-04", "2024-03-05",
                                                                                          "2024-03-06")]
    _assert_same(serial, _bar_frames(ctx))


def test_indicators_rebuilt_on_the_cluster_equal_the_serial_build(ctx, cluster):
    from tickdeck.core.indicators.build import build_indicators

    build_indicators(ctx, START, END)
    serial = _indicator_frames(ctx)
    assert any(k.startswith("DERIVED.CCC/") for k in serial) and any(k.startswith("BREADTH.LOCAL/") for k in serial)
    _delete(ctx, serial, naming.INDICATORS_LIBRARY)

    out = run_bulk(ctx, "indicators", None, START, END, dask=cluster)

    assert not out.failed and out.symbol_days == 9
    assert [r.day for r in out.results if not r.symbol] == ["2024-03-04", "2024-03-05", "2024-03-06"]  # the chain
    _assert_same(serial, _indicator_frames(ctx))


def test_validation_on_the_cluster_gives_the_serial_statuses_and_stores_them(ctx, cluster):
    from tickdeck.core.validation import history, validate_day

    serial = {(s, d): validate_day(ctx, s, d, use_cache=False).status for s in SYMBOLS
              for d in ("2024-03-04", "2024-03-05", "2024-03-06")}
    before = len(history(ctx, "BBB", "2024-03-05", full=True))

    out = run_bulk(ctx, "validate", SYMBOLS, START, END, dask=cluster)

    assert {(r.symbol, r.day): r.detail for r in out.results} == serial
    assert len(history(ctx, "BBB", "2024-03-05", full=True)) > before  # the worker stored its results


def test_a_job_uses_the_cluster_of_the_setting(ctx, cluster):
    from tickdeck.jobs.kinds import KINDS

    c = Context(ctx.settings.with_(dask_address=cluster), ctx.store, ctx.catalog, ctx.bus)
    seen = []
    res = KINDS["build-bars"](c, {"symbols": ["BBB"], "start": START, "end": END, "specs": ["tick:500"]},
                              progress=seen.append)
    assert res["bulk"]["engine"] == cluster and res["built"] == ["BBB/2024-03-04", "BBB/2024-03-05", "BBB/2024-03-06"]
    assert [p.done for p in seen] == [1, 2, 3]


def test_the_cli_rebuilds_on_a_cluster(ctx, cluster):
    env = {**os.environ, "TICKDECK_DATA_DIR": str(ctx.settings.data_dir), "TICKDECK_PIPELINE": "off"}
    r = subprocess.run([sys.executable, "-m", "tickdeck", "bars", "rebuild", "--symbols", "CCC", "--start", START,
                        "--end", "2024-03-05", "--spec", "tick:100", "--dask", cluster],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert f"bars: 2 symbol-days on {cluster}" in r.stdout


def test_bad_input_is_refused_before_any_task(ctx, cluster, monkeypatch):
    with pytest.raises(InvalidBarSpec):
        run_bulk(ctx, "bars", ["AAA"], START, END, specs=["tick:-5"], dask=cluster)
    with pytest.raises(BulkError, match="unknown bulk operation 'resample'"):
        run_bulk(ctx, "resample", ["AAA"], START, END)
    monkeypatch.setattr(bulk, "CONNECT_TIMEOUT_S", 1)
    with pytest.raises(BulkError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:\d+"):
        run_bulk(ctx, "bars", ["AAA"], START, END, dask=f"tcp://127.0.0.1:{free_port()}")
