"""Store verbs that backups use instead of opening ArcticDB libraries themselves: snapshots, reads at a
version or snapshot, and appends that set metadata (real ArcticDB on LMDB in tmp_path)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tickdeck.core import naming
from tickdeck.core.errors import StorageError
from tickdeck.core.store import Store

S60, S300 = "AAPL/2024-07-02/60s", "AAPL/2024-07-02/300s"


def _series(n: int, start: int = 0) -> pd.DataFrame:
    idx = pd.date_range("2024-07-02 09:30", periods=n, freq="s", tz="America/New_York")
    return pd.DataFrame({"v": np.arange(start, start + n, dtype=np.int64)}, index=idx)


def test_a_snapshot_pins_what_a_replace_or_delete_would_remove_until_it_is_dropped(tmp_path):
    store = Store(f"lmdb://{tmp_path / 'arctic'}")
    lib, empty, missing = naming.bar_library("time"), naming.bar_library("volume"), naming.bar_library("tick")
    store.write_series(lib, S60, _series(7), metadata={"spec": "60s"})
    store.write_series(lib, S300, _series(3))
    store.write_series(empty, "X/2024-07-02/1000", _series(1))
    store.delete_series(empty, "X/2024-07-02/1000")

    assert store.snapshot("s1", [lib, empty, missing]) == [lib]  # nothing to pin in the other two
    assert store.list_snapshots(lib) == ["s1"] and store.list_snapshots(empty) == []
    assert store.list_snapshots(missing) == [] and missing not in store.library_names()  # never created

    store.write_series(lib, S60, _series(2, start=100))  # a replace prunes the previous version...
    store.delete_series(lib, S300)
    assert store.snapshot_symbols(lib, "s1") == [S300, S60]  # ...but the snapshot still holds both
    assert store.series_rows_at(lib, S60, "s1") == 7 and store.series_rows_at(lib, S60) == 2
    part = store.read_series_at(lib, S60, "s1", row_range=(2, 5))
    assert part.data["v"].tolist() == [2, 3, 4] and part.metadata == {"spec": "60s"} and part.version == 0
    pd.testing.assert_frame_equal(store.read_series_at(lib, S300, "s1").data, _series(3), check_freq=False)
    latest = store.read_series_at(lib, S60)
    assert latest.data["v"].tolist() == [100, 101] and latest.version == 1 and latest.metadata is None

    assert store.drop_snapshot("s1", [lib]) == [] and store.list_snapshots(lib) == []
    assert store.drop_snapshot("s1", [lib]) == [lib]  # already gone: reported, never raised
    with pytest.raises(StorageError, match="2024-07-02/60s"):
        store.series_rows_at(lib, S60, "s1")
    with pytest.raises(StorageError, match="s1"):
        store.snapshot_symbols(lib, "s1")


def test_a_snapshot_that_fails_in_one_library_leaves_none_behind(tmp_path):
    store = Store(f"lmdb://{tmp_path / 'arctic'}")
    first, second = naming.bar_library("time"), naming.bar_library("volume")
    store.write_series(first, S60, _series(3))
    store.write_series(second, "AAPL/2024-07-02/1000", _series(2))
    assert store.snapshot("taken", [second]) == [second]

    with pytest.raises(StorageError, match="taken"):
        store.snapshot("taken", [first, second])
    assert store.list_snapshots(first) == []  # the snapshot this call made in `first` was removed
    assert store.list_snapshots(second) == ["taken"]  # the one that was there before is untouched


def test_append_series_sets_the_new_versions_metadata_and_prunes_the_old(tmp_path):
    store = Store(f"lmdb://{tmp_path / 'arctic'}")
    lib = naming.bar_library("time")
    store.write_series(lib, S60, _series(3), metadata={"spec": "60s"})
    later = _series(5).iloc[3:]
    store.append_series(lib, S60, later, metadata={"spec": "60s", "part": 2})
    got = store.read_series_at(lib, S60)
    assert got.data["v"].tolist() == [0, 1, 2, 3, 4] and got.metadata == {"spec": "60s", "part": 2}
    with pytest.raises(StorageError):
        store.read_series_at(lib, S60, 0)  # the version appended to is pruned
    store.append_series(lib, S60, _series(6).iloc[5:])  # without metadata, as the live journal appends
    assert store.series_rows_at(lib, S60) == 6
