"""URL slug → page factory. One line per page; the server and the navigation read this list.

A factory takes the per-process :class:`~core.context.Context` and returns a Panel viewable
(a fresh page instance per browser session). ``role`` is the least role that may open the
page (``viewer``, ``researcher`` or ``admin``; only enforced when auth is on).

Pages import neither ``app`` nor ``jobs``: the factories here inject what a page needs besides
``ctx`` — the session's user (:func:`tickdeck.app.auth.current_user`) and a jobs facade
(:class:`QueueJobs`, the :class:`pages.components.services.JobsFacade` over the SQL job queue).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable


@dataclass(frozen=True)
class Route:
    slug: str  # "" is the home page
    title: str
    factory: Callable  # factory(ctx) -> viewable
    role: str = "viewer"


class QueueJobs:
    """The jobs facade pages are given: submit, cancel, retry and list on the SQL job queue.

    Only these calls reach the queue (claiming, finishing and heartbeats stay with workers).
    """

    def __init__(self, queue):
        self._queue = queue

    @classmethod
    def for_context(cls, ctx) -> "QueueJobs":
        from tickdeck.jobs.queue import JobQueue

        return cls(JobQueue.for_context(ctx))

    def submit(self, kind: str, params: dict | None = None, *, priority: int = 1, requested_by: str = "system") -> int:
        return self._queue.submit(kind, params, priority=priority, requested_by=requested_by)

    def cancel(self, job_id: int):
        return self._queue.cancel(job_id)

    def retry(self, job_id: int):
        return self._queue.retry(job_id)

    def retry_all_failed(self) -> list[int]:
        return self._queue.retry_all_failed()

    def list(self, status: str | Iterable[str] | None = None, kind: str | None = None, limit: int = 200) -> list:
        return self._queue.list(status=status, kind=kind, limit=limit)

    def counts(self) -> dict[str, int]:
        return self._queue.counts()


def page_services(ctx) -> dict:
    """What every page factory injects: ``user`` (this session's), ``jobs`` (the facade) and
    ``services`` (start/stop/status of long-running services; start/stop need the admin role)."""
    from tickdeck.app.auth import current_user
    from tickdeck.core.services import ServiceControl
    from tickdeck.pages.components.services import require

    user = current_user()
    services = ServiceControl(ctx, authorize=lambda: require(user, "admin", "starting or stopping a service"))
    return {"user": user, "jobs": QueueJobs.for_context(ctx), "services": services}


def _home(ctx):
    from tickdeck.pages.home import HomePage

    page = HomePage(ctx=ctx)
    page.start_live()
    return page


def _explorer(ctx):
    import panel as pn

    from tickdeck.app.auth import current_user
    from tickdeck.pages.explorer import ExplorerPage

    page = ExplorerPage(ctx=ctx, defer_load=True, user=current_user())
    page.sync_location()
    pn.state.onload(page.refresh_async)
    return page


def _catalog(ctx):
    from tickdeck.pages.catalog_page import CatalogPage

    page = CatalogPage(ctx=ctx)
    page.sync_location()
    return page


def _validation(ctx):
    from tickdeck.pages.validation_page import ValidationPage

    return ValidationPage(ctx=ctx)


def _monitor(ctx):
    from tickdeck.pages.monitor import MonitorPage

    return MonitorPage(ctx=ctx, **page_services(ctx))


def _indicators(ctx):
    from tickdeck.pages.indicators import IndicatorsPage

    services = page_services(ctx)
    page = IndicatorsPage(ctx=ctx, user=services["user"], jobs=services["jobs"])
    page.sync_location()
    return page


def _deadletters(ctx):
    from tickdeck.app.auth import current_user
    from tickdeck.pages.deadletters import DeadLettersPage

    page = DeadLettersPage(ctx=ctx, user=current_user())
    page.sync_location()
    return page


def _admin(ctx):
    from tickdeck.core.users import ApiKeyControl
    from tickdeck.pages.admin import AdminPage
    from tickdeck.pages.components.services import require

    services = page_services(ctx)
    user = services["user"]
    keys = ApiKeyControl(ctx.catalog, user.name, authorize=lambda: require(user, "admin", "managing API keys"))
    return AdminPage(ctx=ctx, keys=keys, **services)


ROUTES: list[Route] = [
    Route("", "Home", _home),
    Route("explorer", "Explorer", _explorer),
    Route("catalog", "Catalog", _catalog),
    Route("validation", "Validation", _validation),
    Route("monitor", "Collection monitor", _monitor),
    Route("indicators", "Market indicators", _indicators),
    Route("deadletters", "Dead letters", _deadletters, role="admin"),
    Route("admin", "Admin", _admin, role="admin"),
]
