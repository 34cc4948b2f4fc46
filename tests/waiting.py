"""Waiting on a condition in tests (never a fixed sleep): ``wait_for(cond, what)`` polls ``cond`` until
it returns something true and returns that, or fails naming ``what`` after ``timeout`` seconds."""

from __future__ import annotations

import time


def wait_for(cond, what: str, timeout: float = 60.0, poll: float = 0.02):
    deadline = time.monotonic() + timeout
    while not (v := cond()):
        assert time.monotonic() < deadline, f"timed out after {timeout:g} s waiting for {what}"
        time.sleep(poll)
    return v
