"""Admin page in Chromium: backfill a stale symbol → the jobs complete → its freshness badge turns green.

The collection runs for real: an in-process IQFeed emulator on free ports serves the missing
days, the queued jobs run on a job worker in the test (the same code as ``tickdeck worker``) or on
the server's embedded one, against the server's data directory, and the server's page hears the
job events over Redis.
"""

from __future__ import annotations

import datetime as dt

import pytest

from waiting import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.redis]

# The server's and the emulator's clock (TICKDECK_DEMO_NOW, speed 0: it stands still), so "behind" and the
# missing days do not depend on the day the test runs. The emulator's three days before it score 90 ("good");
# some emulated days score 89.8 ("fair": the badge would say "Check quality" instead of "Fresh").
DEMO_NOW = "2024-08-22 10:00:00"


def test_backfill_stale_symbol_job_completes_card_turns_green(app_server, page, shot, redis_url):
    from tickdeck.core.calendar import get_calendar
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context
    from tickdeck.core.sources.iqfeed_emulator import EmulatorThread, IQFeedEmulator
    from tickdeck.jobs.queue import JobQueue
    from tickdeck.jobs.worker import Worker

    cal = get_calendar("XNYS")
    done = cal.last_completed_trading_day(DEMO_NOW)
    first, *missing = cal.previous_trading_days(done, 3)
    assert [first, *missing] == [dt.date(2024, 8, 19), dt.date(2024, 8, 20), dt.date(2024, 8, 21)]
    with EmulatorThread(IQFeedEmulator(now=DEMO_NOW, port_history=0, port_l1=0, ticks=2000)) as emu:
        env = {"TICKDECK_REDIS_URL": redis_url, "TICKDECK_FEED_PORT_HISTORY": str(emu.port_history),
               "TICKDECK_DEMO_NOW": DEMO_NOW, "TICKDECK_DEMO_SPEED": "0"}
        app = app_server(data=False, env=env)
        # the first day from the feed too: an IQFeed dataset, whose backfill goes to the feed
        app.cli("collect", "AAPL", "--start", first.isoformat(), "--end", first.isoformat(),
                "--port-history", str(emu.port_history))
        page.goto(app.url + "admin")
        row = page.locator(".td-frow[data-symbol='AAPL']")
        row.wait_for()
        assert row.get_attribute("data-level") == "warn" and "Stale" in row.inner_text()
        assert "2 trading days behind" in row.inner_text()
        page.locator("[data-check='sql'][data-status='ok']").wait_for()  # health cards rendered
        shot(page, "admin-stale")

        page.get_by_role("button", name="Backfill AAPL").click()
        page.locator("text=Queued backfill job").wait_for()

        ctx = Context.open(Settings(data_dir=app.data_dir, redis_url=redis_url, feed_port_history=emu.port_history))
        try:
            # The backfill, then the collect job it queues, run on this worker or on the server's
            # embedded one, whichever claims them first.
            worker, queue = Worker(ctx), JobQueue.for_context(ctx)

            def settled():
                ended = {j.kind: j for j in queue.list() if j.status in ("succeeded", "failed")}
                if ended.keys() == {"backfill", "collect"}:
                    return ended
                worker.run_once()  # None while the job runs on the server's worker: polled again
                return None

            done = wait_for(settled, "the backfill and the collect job it queues", timeout=120, poll=0.2)
            assert all(j.status == "succeeded" for j in done.values()), [(j.kind, j.status, j.error[-300:])
                                                                         for j in done.values()]
            assert done["collect"].id > done["backfill"].id  # queued by the backfill
            assert ctx.catalog.stored_days("AAPL") == [first, *missing]
            assert JobQueue.for_context(ctx).counts()["succeeded"] == 2
        finally:
            ctx.close()
        page.locator(".td-frow[data-symbol='AAPL'][data-level='ok']").wait_for()
        assert "Fresh" in page.locator(".td-frow[data-symbol='AAPL']").inner_text()
        page.locator(".tabulator-row", has_text="backfill").first.wait_for()  # the action is in the audit log
        shot(page, "admin-backfilled")
