"""Helpers for tests that need a real service, importable by name from any test module.

(A test module must not ``import conftest``: with several conftest.py files the name is ambiguous.)
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess

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


def stop_group(proc: subprocess.Popen, fh=None, *, timeout: float = 15.0) -> None:
    """Stop a server started with ``start_new_session=True`` and every process of its group (the workers of
    ``--num-procs``, a worker's children): SIGTERM, up to ``timeout`` s for the leader to exit, then SIGKILL.
    Then close ``fh`` (the file its output went to), if given. A group that is already gone is no error."""
    try:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    finally:
        if fh is not None:
            fh.close()
