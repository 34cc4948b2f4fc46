"""The store of this package's tests runs on LMDB and on S3 (the
local S3 emulator, tests/s3_emulator.py; docs/operations.md "Object storage (S3)")."""

from __future__ import annotations

from s3_emulator import both_backends

# every test whose store comes from `settings` runs on LMDB and on S3, except (with the reason):
pytest_generate_tests, settings = both_backends(skip=frozenset({
    # its child process opens the store from its own environment, on LMDB
    "test_export_integrity.py::test_a_killed_jsonl_export_leaves_no_temporaries_after_the_next_export",
}))
