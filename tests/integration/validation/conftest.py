"""The store of this package's tests runs on LMDB and on S3 (the
local S3 emulator, tests/s3_emulator.py; docs/operations.md "Object storage (S3)")."""

from __future__ import annotations

import pytest
from s3_emulator import parametrize_backends

S3_TESTS = {"*"}  # every test whose store comes from `settings` runs on LMDB and on S3


def pytest_generate_tests(metafunc):
    parametrize_backends(metafunc, S3_TESTS)


@pytest.fixture
def settings(tmp_path, arctic_uri):
    from tickdeck.core.config import Settings

    return Settings(data_dir=tmp_path / "data", arctic_uri=arctic_uri)
