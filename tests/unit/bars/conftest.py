"""Fixtures for bar tests: small hand-made tick frames (helpers live in ``bar_ticks.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from bar_ticks import random_ticks, ticks_frame  # noqa: E402


@pytest.fixture
def make_ticks():
    return ticks_frame


@pytest.fixture
def make_random_ticks():
    return random_ticks
