"""Pydantic models of the core records the API returns, built from the core frozen dataclasses.

A model subclasses :class:`Record` (read from attributes: ``DatasetOut.model_validate(status)``
takes a core dataclass as it is) and names only what the API promises; one section per resource,
each stream appends its own. Problem documents (:mod:`app.api.errors`) are :class:`Problem`;
:data:`PROBLEM_RESPONSES` documents them on every route of ``/api/v1``.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


# -- shared -----------------------------------------------------------------------------------
class Record(BaseModel):
    """Base of every response model: frozen, read from a core dataclass's attributes."""

    model_config = ConfigDict(from_attributes=True, frozen=True)


class Problem(BaseModel):
    """An error (RFC 9457 ``application/problem+json``); ``detail`` carries the core error's message."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str


def _problem(description: str) -> dict:
    schema = Problem.model_json_schema()
    return {"description": description, "content": {"application/problem+json": {"schema": schema}}}


PROBLEM_RESPONSES: dict = {
    401: _problem("no, an unknown, a revoked or an expired API key"),
    403: _problem("the caller's role is too low (or a cookie call without X-CSRF-Token)"),
    404: _problem("unknown symbol, day or record"),
    422: _problem("invalid parameter (symbol, bar spec, date, range, body)"),
    429: _problem("rate limit reached; see Retry-After"),
}


class Page(Record):
    """Paging of a list answer: pass ``next_cursor`` as ``cursor`` for the next page (``None``: the end)."""

    next_cursor: str | None = None
    limit: int


# -- health (outside /api/v1) -----------------------------------------------------------------
class Liveness(Record):
    """``GET /healthz``: the process answers."""

    status: Literal["ok"] = "ok"


class Readiness(Record):
    """``GET /readyz``: whether the process can serve (SQL, store and bus answer), with each check."""

    status: Literal["ready", "not ready"]
    checks: dict[str, str]


# -- auth and keys ---------------------------------------------------------------------------
class Me(Record):
    """``GET /api/v1/me``: who the call acts as, and the CSRF token for cookie calls that change things."""

    user: str
    role: Literal["viewer", "researcher", "admin"]
    via: Literal["key", "cookie", "local"]
    key_name: str | None = None
    csrf_token: str | None = Field(None, description="send as X-CSRF-Token on mutating calls made with the "
                                                     "session cookie; null for key and local calls")


class ApiKeyOut(Record):
    """A stored API key (never its secret)."""

    id: int
    user: str
    name: str
    prefix: str
    role: str | None = Field(None, description="the key's role (null: its user's role)")
    created_at: dt.datetime
    last_used_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None
    active: bool


class ApiKeyCreate(BaseModel):
    """``POST /api/v1/keys``: a key for ``user`` (default the caller) with a label, role and lifetime."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field("", max_length=64)
    user: str | None = Field(None, max_length=64, description="admins only: another user's key")
    role: Literal["viewer", "researcher", "admin"] | None = None
    expires: str | None = Field(None, max_length=12, description="a lifetime such as 90d, 12h, 2w, 1y",
                                examples=["90d"])


class ApiKeyCreated(Record):
    """A new key: the secret is in this answer and nowhere else."""

    key: ApiKeyOut
    secret: str
