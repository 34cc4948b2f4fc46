"""The store of this package's tests runs on LMDB and, for the tests selected here, on S3 too (the
local S3 emulator, tests/s3_emulator.py; docs/operations.md "Object storage (S3)")."""

from __future__ import annotations

import pytest
from s3_emulator import parametrize_backends

S3_TESTS = {  # modules, or module::test, run on both store backends (the S3 variants' time is bounded)
    "test_rewrite_invalidates_series.py",
    "test_service.py::test_build_default_bars_stores_every_series_with_tier2_metadata",
    "test_service.py::test_get_bars_computes_on_demand_when_not_stored",
    "test_service.py::test_get_bars_over_several_days_concatenates_per_day",
    "test_service.py::test_reingested_day_is_never_served_from_a_stale_cache",
    "test_service.py::test_missing_day_and_bad_spec_raise_clear_errors",
}


def pytest_generate_tests(metafunc):
    parametrize_backends(metafunc, S3_TESTS)


@pytest.fixture
def settings(tmp_path, arctic_uri):
    from tickdeck.core.config import Settings

    return Settings(data_dir=tmp_path / "data", arctic_uri=arctic_uri)
