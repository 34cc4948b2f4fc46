"""Home, admin and validation pages show tickdeck.core.status the same way, fed by the real producers.

Real ctx (LMDB + SQLite) with the validation pipeline installed, so quality scores come from
:func:`core.validation.quality_score` after each written day; jobs run on the real queue and
worker; pages get a real :class:`core.users.User` and the server's jobs facade.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from builders import store_synthetic

from tickdeck.app.routes import QueueJobs
from tickdeck.core.quality_scale import format_quality
from tickdeck.core.users import User
from tickdeck.pages.components.services import JobsFacade

# Every synthetic fault except the gap, on 100 trades: the validation pipeline scores this day 1/100.
BROKEN_FAULTS = ["bad_prints", "crossed_quotes", "decreasing_volume", "out_of_order", "wrong_timezone", "duplicates"]
BROKEN_DAY = dt.date(2024, 7, 5)
ADMIN = User("ops", "admin")


@pytest.fixture
def vctx(ctx):
    from tickdeck.core.validation import install

    install(ctx)  # quality scores from the real validation pipeline
    store_synthetic(ctx, "FAULTY", BROKEN_DAY, BROKEN_DAY, faults=BROKEN_FAULTS, ticks=100)
    store_synthetic(ctx, "AAPL", "2024-07-03", BROKEN_DAY, ticks=3000)
    return ctx


def _score(ctx, symbol: str) -> float:
    [row] = ctx.catalog.tick_days(symbol)[-1:]
    return row.quality_score


def test_home_card_of_a_day_scored_1_is_red_with_poor_quality_in_words(vctx):
    """Issue 12: a dataset stored with quality 1 shows a red badge on home (not "Fresh 100 %")."""
    from tickdeck.pages.home import HomePage

    score = _score(vctx, "FAULTY")
    assert score < 5  # 1.0 with today's validators

    html = HomePage(ctx=vctx)._cards()[0].object

    card = re.search(r'<article class="td-card" data-symbol="FAULTY".*?</article>', html).group(0)
    assert 'data-status="bad"' in card and "✕ Poor quality" in card
    assert f"{format_quality(score)} / 100 (poor)" in card and 'data-band="poor"' in card
    assert "100 %" not in card and "100%" not in card
    good = re.search(r'<article class="td-card" data-symbol="AAPL".*?</article>', html).group(0)
    assert 'data-band="poor"' not in good


def test_admin_freshness_row_of_a_day_scored_1_is_red_with_poor_quality(vctx):
    """Issue 12: the same dataset is red and poor on the admin page."""
    from tickdeck.pages.admin import AdminPage

    page = AdminPage(ctx=vctx, user=ADMIN, jobs=QueueJobs.for_context(vctx), autostart=False)

    rows = {re.search(r"data-symbol='(\w+)'", r.objects[0].object).group(1): r.objects[0].object
            for r in page.freshness_box.objects[1:]}
    assert "data-level='bad'" in rows["FAULTY"] and "Poor quality" in rows["FAULTY"]
    assert f"{format_quality(_score(vctx, 'FAULTY'))} / 100 (poor)" in rows["FAULTY"]


def test_validation_page_shows_the_dataset_red_and_the_days_score_poor(vctx):
    """Issue 12: and on the validation page, before and after validating the day again."""
    from tickdeck.pages.validation_page import ValidationPage

    page = ValidationPage(ctx=vctx, symbol="FAULTY", day=BROKEN_DAY)
    assert "data-level='bad'" in page.dataset_pane.object and "Poor quality" in page.dataset_pane.object

    page.run(wait=True)

    score = _score(vctx, "FAULTY")
    assert page.quality.score == pytest.approx(score)
    assert "data-band='poor'" in page.quality_pane.object and "td-bad" in page.quality_pane.object
    assert f"Quality {format_quality(score)} / 100 (poor)" in page.quality_pane.object
    assert "Poor quality" in page.dataset_pane.object


def test_a_failed_collection_is_shown_on_home_and_admin_with_its_message(vctx):
    """Issue 12: the dataset's freshness row shows the failure of its latest collecting job."""
    from tickdeck.jobs.worker import Worker
    from tickdeck.pages.admin import AdminPage
    from tickdeck.pages.home import HomePage

    jobs = QueueJobs.for_context(vctx)
    job_id = jobs.submit("generate", {"symbols": ["AAPL"], "start": "2024-07-06", "end": "2024-07-07"})
    assert Worker(vctx).run_once().status == "failed"  # a weekend has no trading days

    page = AdminPage(ctx=vctx, user=ADMIN, jobs=jobs, autostart=False)

    row = next(r.objects[0].object for r in page.freshness_box.objects[1:]
               if "data-symbol='AAPL'" in r.objects[0].object)
    assert "data-state='failing'" in row and "Collection failed" in row
    assert f"Job #{job_id} failed" in row and "no XNYS trading days" in row
    assert "1 with a failed collection" in page.freshness_box.objects[0].object
    card = re.search(r'<article class="td-card" data-symbol="AAPL".*?</article>', HomePage(ctx=vctx)._cards()[0].object)
    assert "Last collection failed" in card.group(0) and "no XNYS trading days" in card.group(0)


def test_admin_page_takes_its_user_and_refuses_a_viewer(vctx):
    """Issue 12: the role check uses the injected user (pages do not import tickdeck.app.auth)."""
    from tickdeck.pages.admin import AdminPage

    page = AdminPage(ctx=vctx, user=User("vic", "viewer"), jobs=QueueJobs.for_context(vctx), autostart=False)
    assert "needs the admin role; vic is a viewer" in page.denied
    assert "Admin only" in page.__panel__().objects[1].object
    assert AdminPage(ctx=vctx, autostart=False).denied == ""  # a notebook: the local admin


def test_the_servers_jobs_facade_is_what_pages_expect(vctx):
    """Issue 12: tickdeck.app.routes.QueueJobs satisfies tickdeck.pages.components.services.JobsFacade."""
    jobs = QueueJobs.for_context(vctx)
    assert isinstance(jobs, JobsFacade)
    job_id = jobs.submit("health", {}, priority=1, requested_by="ops")
    assert [j.id for j in jobs.list(status="pending")] == [job_id] and jobs.counts()["pending"] == 1
    jobs.cancel(job_id)
    assert jobs.retry(job_id).status == "pending" and not hasattr(jobs, "claim")
