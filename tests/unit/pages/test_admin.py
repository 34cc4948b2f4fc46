"""AdminPage without a browser: real ctx, real job queue and runner, real health probes.

The page gets what the server injects: a user and the jobs facade over the real queue.
"""

from __future__ import annotations

import datetime as dt
import re

from builders import store_synthetic

from tickdeck.app.routes import QueueJobs
from tickdeck.core.retention import RetentionReport
from tickdeck.core.users import User
from tickdeck.pages.components.ui import human_bytes
from tickdeck.pages.admin import (HEALTH_KIND, OVERALL_KIND, AdminPage, freshness_rows, retention_is_empty,
                                  retention_summary)


def _page(ctx):
    return AdminPage(ctx=ctx, autostart=False, user=User("ops", "admin"), jobs=QueueJobs.for_context(ctx))


def _run_next(ctx):
    from tickdeck.jobs.worker import Worker

    return Worker(ctx).run_once()


def test_stale_dataset_is_listed_behind_with_text_badge(ctx):
    store_synthetic(ctx, "AAPL", "2024-07-01", "2024-07-02", ticks=2000)
    [row] = freshness_rows(ctx)
    assert row.symbol == "AAPL" and row.last_day == dt.date(2024, 7, 2) and row.days_behind > 3
    page = _page(ctx)
    html = page.freshness_box.objects[1].objects[0].object
    assert "Outdated" in html and "trading days behind" in html and "data-level='bad'" in html
    assert "1 stale" in page.freshness_box.objects[0].object


def test_backfill_row_queues_backfill_job_and_audits(ctx):
    from tickdeck.jobs.queue import JobQueue

    store_synthetic(ctx, "AAPL", "2024-07-01", "2024-07-02", ticks=2000)
    page = _page(ctx)
    job_id = page.backfill("AAPL")
    job = JobQueue.for_context(ctx).get(job_id)
    assert job.kind == "backfill" and job.priority == 2 and job.params["symbols"] == ["AAPL"]
    assert job.params["start"] == "2024-07-03"
    entry = ctx.catalog.audit_log()[0]
    assert (entry.actor, entry.action, entry.target) == ("ops", "backfill", "AAPL")
    assert "Pending · backfill</dt><dd>1" in page.queue_pane.object
    assert "backfill" in set(page.audit_table.value["action"])


def test_backfill_all_with_nothing_stale_explains_why(ctx):
    page = _page(ctx)
    assert page.backfill_all() is None
    assert "nothing is stale" in page.message


def test_failed_job_shows_error_and_retry_requeues_it(ctx):
    from tickdeck.jobs.queue import JobQueue

    q = JobQueue.for_context(ctx)
    job_id = q.submit("generate", {"symbols": ["AAPL"], "start": "2024-07-06", "end": "2024-07-07"})
    assert _run_next(ctx).status == "failed"  # a weekend has no trading days
    page = _page(ctx)
    text = page.failed_box.objects[0].objects[0].object
    assert f"#{job_id} generate" in text and "no XNYS trading days" in text and "Failed" in text
    page.retry_job(job_id)
    assert q.get(job_id).status == "pending" and q.get(job_id).retries == 1
    assert ctx.catalog.audit_log()[0].action == "job_retry"
    assert "No failed jobs" in page.failed_box.objects[0].object


def test_retry_all_failed(ctx):
    from tickdeck.jobs.queue import JobQueue

    q = JobQueue.for_context(ctx)
    ids = [q.submit("generate", {"symbols": ["X"], "start": "2024-07-06", "end": "2024-07-06"}) for _ in range(2)]
    _run_next(ctx), _run_next(ctx)
    page = _page(ctx)
    page.retry_all()
    assert {q.get(i).status for i in ids} == {"pending"}
    assert "Queued 2 failed job(s)" in page.message


def test_health_cards_name_each_service_with_status_text(ctx):
    page = _page(ctx)
    page.refresh_health(wait=True)
    html, rep = page.health_pane.object, page.health
    cards = re.findall(r"data-check='(\w+)' data-status='(\w+)'><h4>[^<]*</h4><span[^>]*><span[^>]*>[^<]*</span> "
                       r"([^<]+)</span>", html)
    assert [name for name, _, _ in cards] == [c.name for c in rep.checks]  # one card per check, in order
    assert {name for name, _, _ in cards} >= {"feed", "arcticdb", "sql", "redis", "disk", "memory", "cpu"}
    for (name, status, label), check in zip(cards, rep.checks):
        assert (status, label) == (check.status, HEALTH_KIND[check.status][1]), name
    status = {n: st for n, st, _ in cards}
    assert status["sql"] == status["arcticdb"] == "ok"  # the real SQLite catalog and LMDB store answer
    overall = re.search(r'data-testid="health-overall"><span[^>]*>[^<]*</span> ([^<]+)</span>', html).group(1)
    assert overall == "System " + OVERALL_KIND[rep.status][1]


def test_arcticdb_health_card_shows_a_human_size_not_raw_bytes(ctx):
    """Issue 15: the ArcticDB card reads "2 libraries, 1.3 MB" (as the monitor's sizes), not a byte count."""
    store_synthetic(ctx, "AAPL", "2024-07-01", "2024-07-01", ticks=2000)
    page = _page(ctx)
    page.refresh_health(wait=True)
    arctic = page.health.check("arcticdb")
    assert re.search(r"[\d,]+ bytes", arctic.detail)  # core reports the exact count (the API keeps it)
    card = re.search(r"data-check='arcticdb'.*?<p>([^<]*)</p>", page.health_pane.object).group(1)
    assert "bytes" not in card and re.search(r"\d libraries, [\d.,]+ (KB|MB|GB)$", card), card
    assert card.endswith(human_bytes(arctic.value))


def test_retention_summary_formats_reports():
    rep = RetentionReport(True, ("AAPL/2020-01-02",), (), 0, 0, 4096, ())
    assert retention_summary(rep) == "would delete: 1 tick days; bytes freed: 4.0 KB"
    assert not retention_is_empty(rep)
    assert retention_is_empty(RetentionReport(True, (), (), 0, 0, 0, ()))


def test_renders_bare_layout(ctx):
    import panel as pn

    assert isinstance(_page(ctx).__panel__(), pn.Column)


def test_retention_previews_then_deletes_only_after_confirmation(ctx):
    from tickdeck.core.retention import POLICY_KEY

    store_synthetic(ctx, "AAPL", "2024-07-01", "2024-07-01", ticks=2000)
    ctx.catalog.set_config(POLICY_KEY, {"ticks": 30})
    page = _page(ctx)
    page.run_retention(wait=True)  # no preview yet: refused
    assert "Preview the cleanup first" in page.message and ctx.catalog.stored_days("AAPL")
    page.preview_retention(wait=True)
    assert "would delete: 1 tick days" in page.retention_pane.object
    assert page.confirm_button.visible and ctx.catalog.stored_days("AAPL")  # dry run deleted nothing
    page.run_retention(wait=True)
    assert not ctx.catalog.stored_days("AAPL")
    assert "deleted: 1 tick days" in page.retention_pane.object
    assert {"retention_run", "retention_preview"} <= {e.action for e in ctx.catalog.audit_log()}
