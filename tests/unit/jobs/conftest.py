"""Fixtures for job tests: a context whose SQL store is SQLite or PostgreSQL."""

from __future__ import annotations

import pytest


@pytest.fixture
def jctx(tmp_path, sql_url):
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context

    c = Context.open(Settings(data_dir=tmp_path / "data", sql_url=sql_url))
    yield c
    c.close()


@pytest.fixture
def queue(jctx):
    from tickdeck.jobs.queue import JobQueue

    return JobQueue(jctx.catalog.engine, jctx.bus)
