"""What pages are given instead of importing ``app`` or ``jobs``: the viewing user and a jobs facade.

The server's page factories (``app/routes.py``) inject both::

    AdminPage(ctx=ctx, user=current_user(), jobs=jobs_facade(ctx))

and a notebook does the same with its own objects (or leaves the defaults: the local admin,
and no jobs facade, in which case actions that need the job queue say so).

* ``user`` is a :class:`core.users.User` (name, role, ``has(role)``); pages check roles with
  :func:`require` — the server has already checked the route's least role.
* ``jobs`` is anything with the :class:`JobsFacade` methods (the server passes a thin wrapper
  of the SQL job queue). Records returned by ``list`` have the :class:`JobView` attributes.
"""

from __future__ import annotations

import datetime as dt
from typing import Iterable, Protocol, runtime_checkable

from tickdeck.core.errors import PermissionDenied
from tickdeck.core.users import LOCAL_USER, User

LOCAL_ADMIN = User(LOCAL_USER, "admin")  # a notebook's user: the same as a server with no users (auth off)


@runtime_checkable
class JobView(Protocol):
    """One job as pages show it (the job queue's record has at least these attributes)."""

    id: int
    kind: str
    params: dict
    priority: int  # 0 high, 1 normal, 2 backfill
    status: str  # pending | running | succeeded | failed | cancelled | interrupted
    progress: float  # 0–100
    message: str
    error: str
    retries: int
    max_retries: int
    created_at: dt.datetime


@runtime_checkable
class JobsFacade(Protocol):
    """Submit, cancel, retry and list jobs: all a page may do with the job queue."""

    def submit(self, kind: str, params: dict | None = None, *, priority: int = 1,
               requested_by: str = "system") -> int:
        """Queue a job; returns its id (errors: unknown kind, bad priority or params)."""
        ...

    def cancel(self, job_id: int) -> JobView:
        """Cancel a pending job or ask a running one to stop."""
        ...

    def retry(self, job_id: int) -> JobView:
        """Put a failed, cancelled or interrupted job back in the queue."""
        ...

    def retry_all_failed(self) -> list[int]:
        """Retry every failed job; returns their ids."""
        ...

    def list(self, status: str | Iterable[str] | None = None, kind: str | None = None,
             limit: int = 200) -> list[JobView]:
        """Jobs newest first, optionally filtered by status(es) and kind."""
        ...

    def counts(self) -> dict[str, int]:
        """Number of jobs per status."""
        ...


def require(user: User, role: str, action: str) -> None:
    """Raise :class:`PermissionDenied` naming ``action`` unless ``user`` has ``role`` (or higher).

    Raises
    ------
    PermissionDenied
        The user's role is below ``role``.
    """
    if not user.has(role):
        raise PermissionDenied(f"{action} needs the {role} role; {user.name} is a {user.role}")
