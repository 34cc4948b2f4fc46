"""The store of this package's tests runs on LMDB and on S3 (the
local S3 emulator, tests/s3_emulator.py; docs/operations.md "Object storage (S3)")."""

from __future__ import annotations

from s3_emulator import both_backends

pytest_generate_tests, settings = both_backends()  # every test taking `settings`: on LMDB and on S3
