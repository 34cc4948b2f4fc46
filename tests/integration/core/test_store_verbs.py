"""Store verbs that export, bars, validation and retention use instead of opening ArcticDB libraries
themselves (real ArcticDB on LMDB in tmp_path)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from builders import make_trades
from tickdeck.core import naming
from tickdeck.core.enrich import enrich
from tickdeck.core.schema import SESSION_BY_NAME


def _day(ctx, n=500, seed=0):
    return enrich(make_trades(n, seed), symbol="AAPL", source="test", ingest_id=f"i{seed}", calendar=ctx.calendar())


def _series(n: int) -> pd.DataFrame:
    idx = pd.date_range("2024-07-02 09:30", periods=n, freq="s", tz="America/New_York")
    return pd.DataFrame({"v": np.arange(n, dtype=np.int64)}, index=idx)


def test_series_verbs_answer_without_creating_libraries(ctx):
    """Issue 12: has_series, series_rows, series_bytes, series_metadata_batch and delete_series."""
    lib = naming.bar_library("time")
    assert not ctx.store.has_series(lib, "AAPL/2024-07-02/60s")
    assert lib not in ctx.store.library_names()  # asking did not create the library

    ctx.store.write_series(lib, "AAPL/2024-07-02/60s", _series(7), metadata={"ingest_id": "a", "spec": "60s"})
    ctx.store.write_series(lib, "AAPL/2024-07-02/300s", _series(3))
    assert ctx.store.has_series(lib, "AAPL/2024-07-02/60s")
    assert ctx.store.series_rows(lib, "AAPL/2024-07-02/60s") == 7
    assert ctx.store.series_bytes(lib, "AAPL/2024-07-02/60s") > 0
    assert ctx.store.series_metadata_batch(lib, ["AAPL/2024-07-02/60s", "AAPL/2024-07-02/300s"]) == [
        {"ingest_id": "a", "spec": "60s"}, None]
    assert ctx.store.series_metadata_batch(lib, []) == []

    ctx.store.delete_series(lib, "AAPL/2024-07-02/60s")
    ctx.store.compact_symbol_list(lib)
    assert not ctx.store.has_series(lib, "AAPL/2024-07-02/60s")
    assert ctx.store.list_series(lib) == ["AAPL/2024-07-02/300s"]


def test_read_day_arrow_slices_one_version_with_columns_and_session(ctx):
    """Issue 12: the export's Arrow read is a store verb: slices of at most N rows, timestamp first, the
    session filter and column choice applied, the same rows as the pandas read."""
    df = _day(ctx, 500)
    ctx.store.write_day("AAPL", "2024-07-02", df)
    slices = list(ctx.store.read_day_arrow("AAPL", "2024-07-02", columns=["last", "session"], slice_rows=97))
    assert len(slices) == 6 and max(t.num_rows for t in slices) <= 97
    assert all(t.schema.names == ["timestamp", "last", "session"] and not t.schema.metadata for t in slices)
    np.testing.assert_array_equal(np.concatenate([t.column("last").to_numpy() for t in slices]), df["last"].to_numpy())

    regular = pd.concat(t.to_pandas() for t in ctx.store.read_day_arrow("AAPL", "2024-07-02", session="regular"))
    assert len(regular) == int((df["session"] == SESSION_BY_NAME["regular"]).sum()) > 0
    assert set(regular["session"]) == {SESSION_BY_NAME["regular"]}
