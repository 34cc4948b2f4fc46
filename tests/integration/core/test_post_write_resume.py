"""kill -9 during the post-write step (default bars, validation) is completed later (issue 11 item 23).

A real child process writes a day with the pipeline installed plus one test hook, registered by
the child script only, that signals it was reached (a file) and then waits for a file that never
comes; the test SIGKILLs it there. Real ArcticDB in ``tmp_path``; SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from tickdeck.core import db

ROOT = Path(__file__).resolve().parents[3]
DAY = dt.date(2024, 7, 2)
REACH_HOOK_S = 180  # bound for the child to write the day (first numba compile included)

CHILD = """
import sys
from pathlib import Path
from builders import make_trades
from tickdeck.core import pipeline
from tickdeck.core.config import Settings
from tickdeck.core.context import Context
from tickdeck.core.ingest import ingest_day

data_dir, sql_url, reached, release = sys.argv[1:5]
ctx = Context.open(Settings(data_dir=data_dir, sql_url=sql_url))
pipeline.install(ctx)

def blocking_hook(ctx, symbol, day):  # the test's own hook, first: nothing is built when it is killed
    Path(reached).write_text("in the post-write step")
    while not Path(release).exists():
        import time
        time.sleep(0.05)

ctx.extras["after_write"].insert(0, blocking_hook)
ingest_day(ctx, "AAPL", "2024-07-02", make_trades(2_000, seed=5), source="iqfeed")
"""


def _kill_in_post_write(tmp_path, sql_url) -> None:
    reached, release = tmp_path / "reached", tmp_path / "release-never-created"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path / "data"), sql_url, str(reached),
                              str(release)], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + REACH_HOOK_S
        while not reached.exists():  # wait on the condition the child signals
            assert child.poll() is None, "the child ended before reaching the post-write step"
            assert time.monotonic() < deadline, "the child never reached the post-write step"
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
        assert child.wait(30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


@pytest.fixture
def killed(tmp_path, sql_url):
    """A context on the data the killed child left, with the pipeline installed."""
    from tickdeck.core import pipeline
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context

    _kill_in_post_write(tmp_path, sql_url)
    c = Context.open(Settings(data_dir=tmp_path / "data", sql_url=sql_url))
    pipeline.install(c)
    yield c
    c.close()


def _pending(ctx) -> list[tuple]:
    t = db.TickDay
    with ctx.catalog.engine.connect() as c:
        return c.execute(select(t.symbol, t.day).where(t.post_write_pending.is_(True))).all()


def _assert_completed(ctx) -> None:
    from tickdeck.core.validation import VALIDATORS, history

    info = ctx.store.day_info("AAPL", DAY)
    series = ctx.catalog.bar_series("AAPL", DAY)
    assert len(series) > 0
    for r in series:
        assert r.bars > 0
    runs = history(ctx, "AAPL", DAY)
    assert {r.validator for r in runs[:len(VALIDATORS)]} == set(VALIDATORS)  # the latest run: every validator
    assert {r.data_version for r in runs[:len(VALIDATORS)]} == {info.ingest_id}
    assert ctx.catalog.tick_days("AAPL")[0].quality_score is not None
    assert _pending(ctx) == []


@pytest.mark.parametrize("completer", ["worker", "next write"])
def test_a_day_killed_in_its_post_write_step_gets_bars_and_validation_later(killed, completer):
    """Issue 11 item 23: after kill -9 in the post-write hook the day is stored, marked pending,
    with no bar series and no validation; the job worker at start (or the next process that
    writes, as ``tickdeck collect``/``import`` do) completes it."""
    from tickdeck.core.validation import history

    assert killed.store.day_info("AAPL", DAY).ticks == 2_000
    assert _pending(killed) == [("AAPL", DAY)]
    assert killed.catalog.bar_series("AAPL", DAY) == [] and history(killed, "AAPL", DAY) == []

    if completer == "worker":
        from tickdeck.jobs.worker import Worker

        Worker(killed).run(once=True)
    else:
        from builders import make_trades
        from tickdeck.core.ingest import ingest_day

        ingest_day(killed, "MSFT", DAY, make_trades(500, seed=6), source="iqfeed")
        assert killed.catalog.bar_series("MSFT", DAY)

    _assert_completed(killed)


def test_pending_days_of_a_running_writer_are_left_to_it(ctx):
    """Issue 11 item 23: a day marked by a live process (this one) is not taken by another
    completer until the grace period passes; a write killed before its catalog upsert (the row
    still shows the previous version) is refreshed from the store and completed."""
    from builders import make_trades
    from tickdeck.core import pipeline
    from tickdeck.core.ingest import _mark_pending, complete_pending, ingest_day

    pipeline.install(ctx)
    ingest_day(ctx, "AAPL", DAY, make_trades(1_000, seed=1), source="iqfeed")
    old_row = ctx.catalog.tick_days("AAPL")[0]
    _mark_pending(ctx, "AAPL", DAY)  # as ingest_day does just before replacing a day ...
    rewrite = ctx.store.read_day("AAPL", DAY).iloc[:800].assign(ingest_id="iqfeed-rewritten")
    new = ctx.store.write_day("AAPL", DAY, rewrite)  # ... then "dies" before the catalog upsert

    assert complete_pending(ctx) == []  # marked by a running process (ours): not taken
    done = complete_pending(ctx, grace_s=0)

    assert [(d.symbol, d.day, d.ingest_id) for d in done] == [("AAPL", DAY, new.ingest_id)]
    row = ctx.catalog.tick_days("AAPL")[0]
    assert (old_row.ticks, row.ticks) == (1_000, 800)
    _assert_completed(ctx)
