"""Helpers for tests that need a real service, importable by name from any test module.

(A test module must not ``import conftest``: with several conftest.py files the name is ambiguous.)
"""

from __future__ import annotations

import os
import socket

import pytest

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing_service(what: str) -> None:
    """Fail under CI, skip otherwise."""
    if CI:
        pytest.fail(f"{what} is required under CI=true but is not available", pytrace=False)
    pytest.skip(f"{what} not available")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
