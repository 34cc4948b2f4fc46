"""The store of this package's tests runs on LMDB and, for the tests selected here, on S3 too (the
local S3 emulator, tests/s3_emulator.py; docs/operations.md "Object storage (S3)")."""

from __future__ import annotations

import pytest
from s3_emulator import parametrize_backends

S3_TESTS = {  # modules, or module::test, run on both store backends (the S3 variants' time is bounded)
    "test_store.py",
    "test_store_verbs.py",
    "test_pipeline.py",
    "test_day_versions.py::test_a_forced_replace_keeps_the_old_version_and_restore_brings_it_back_with_its_catalog_row",
    "test_day_versions.py::test_replaced_versions_are_bounded_and_retention_deletes_old_ones",
    "test_export_integrity.py::test_hive_export_of_all_columns_reads_back_equal_in_pandas_pyarrow_polars_and_duckdb",
    "test_export_integrity.py::test_retention_sweeps_temporaries_of_killed_exports",
}


def pytest_generate_tests(metafunc):
    parametrize_backends(metafunc, S3_TESTS)


@pytest.fixture
def settings(tmp_path, arctic_uri):
    from tickdeck.core.config import Settings

    return Settings(data_dir=tmp_path / "data", arctic_uri=arctic_uri)
