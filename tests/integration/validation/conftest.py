"""The store of this package's tests runs on LMDB and, for the tests selected here, on S3 too (the
local S3 emulator, tests/s3_emulator.py; docs/operations.md "Object storage (S3)")."""

from __future__ import annotations

import pytest
from s3_emulator import parametrize_backends

S3_TESTS = {  # modules, or module::test, run on both store backends (the S3 variants' time is bounded)
    "test_faults.py::test_fault_kind_is_detected",
    "test_faults.py::test_wrong_timezone_is_critical_and_names_the_shift",
    "test_faults.py::test_gap_fault_reports_a_high_twenty_minute_gap_with_its_window",
    "test_service.py::test_quality_is_lower_for_a_faulty_day_than_a_clean_one",
    "test_service.py::test_storage_detects_a_catalog_row_that_disagrees_with_the_data",
    "test_service.py::test_reconcile_matches_a_day_with_itself_and_shows_the_hole_of_a_gap",
    "test_service.py::test_unknown_day_and_unknown_validator_raise",
    "test_service.py::test_anomalies_single_out_a_day_with_a_bad_range_from_catalog_rows",
}


def pytest_generate_tests(metafunc):
    parametrize_backends(metafunc, S3_TESTS)


@pytest.fixture
def settings(tmp_path, arctic_uri):
    from tickdeck.core.config import Settings

    return Settings(data_dir=tmp_path / "data", arctic_uri=arctic_uri)
