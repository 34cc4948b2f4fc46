"""Errors of the HTTP API as ``application/problem+json`` (RFC 9457): ``{type, title, status, detail}``.

Routes raise core errors (or call :func:`problem`); the handlers installed by :func:`install` turn
them into problem documents. Which core error gives which status:

===================================================================== ======
core error                                                            status
===================================================================== ======
``NotFound`` (``SymbolNotFound``, ``DayNotFound``, ``VersionNotFound``) 404
``InvalidSymbol``, ``InvalidBarSpec`` (the detail lists the grammar),   422
``InvalidDateRange``, ``SchemaError``, ``ImportFormatError``,
``AuthError`` and any other ``TickdeckError`` that is a ``ValueError``
request parameters FastAPI could not parse (bad dates, numbers, …)     422
``PermissionDenied``                                                   403
``ReplaceRefused``, ``JobError``                                       409
``FeedError``, ``StorageError``, ``CatalogError``                       503
any other ``TickdeckError``                                            400
anything else                                                         500
===================================================================== ======

401 (no or bad credentials) and 429 (rate limit, with ``Retry-After``) come from
:mod:`app.api.deps`. A 500 never shows a traceback: its detail is ``internal error, id …`` and the
traceback is logged under that id (logger ``tickdeck.api``).
"""

from __future__ import annotations

import logging
import secrets
from typing import NoReturn

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tickdeck.core.errors import (
    CatalogError, FeedError, JobError, NotFound, PermissionDenied, ReplaceRefused, StorageError, TickdeckError,
)

log = logging.getLogger("tickdeck.api")

PROBLEM_TYPE = "application/problem+json"
TITLES = {400: "Bad request", 401: "Unauthenticated", 403: "Forbidden", 404: "Not found",
          405: "Method not allowed", 406: "Not acceptable", 409: "Conflict", 413: "Too large",
          415: "Unsupported media type", 422: "Invalid request", 429: "Too many requests",
          500: "Internal error", 503: "Unavailable"}


class ApiProblem(Exception):
    """An HTTP error a route raises on purpose; rendered as a problem document.

    Parameters
    ----------
    status, title, detail
        The problem's fields; ``title`` defaults to the status's name.
    headers
        Extra response headers (``Retry-After``, ``WWW-Authenticate``, ``Location``).
    extra
        Further members of the problem document (e.g. ``errors`` or ``formats``).
    """

    def __init__(self, status: int, title: str = "", detail: str = "", *, headers: dict | None = None,
                 extra: dict | None = None):
        self.status = int(status)
        self.title = title or TITLES.get(self.status, "Error")
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})
        super().__init__(f"{self.status} {self.title}: {detail}")


def problem(status: int, title: str = "", detail: str = "", *, headers: dict | None = None,
            extra: dict | None = None) -> NoReturn:
    """Raise an :class:`ApiProblem` (write ``raise problem(...)`` or just ``problem(...)`` in a route)."""
    raise ApiProblem(status, title, detail, headers=headers, extra=extra)


def problem_response(status: int, title: str = "", detail: str = "", *, headers: dict | None = None,
                     extra: dict | None = None) -> JSONResponse:
    """The problem document as a response (for middleware, which cannot raise into the handlers)."""
    title = title or TITLES.get(status, "Error")
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **(extra or {})}
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_TYPE)


def status_of(exc: TickdeckError) -> int:
    """The HTTP status a core error maps to (see the module's table)."""
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, (ReplaceRefused, JobError)):
        return 409
    if isinstance(exc, (FeedError, StorageError, CatalogError)):
        return 503
    if isinstance(exc, ValueError):
        return 422
    return 400


def internal_error(exc: BaseException, where: str) -> JSONResponse:
    """Log ``exc`` with its traceback under a fresh id; a 500 problem naming only that id."""
    ident = secrets.token_hex(4)
    log.error("internal error, id %s, in %s: %s: %s", ident, where, type(exc).__name__, exc, exc_info=exc)
    return problem_response(500, detail=f"internal error, id {ident}")


def install(app: FastAPI) -> None:
    """Install the handlers that render every error of ``app`` as a problem document."""

    @app.exception_handler(ApiProblem)
    async def _api_problem(request: Request, exc: ApiProblem):
        return problem_response(exc.status, exc.title, exc.detail, headers=exc.headers, extra=exc.extra)

    @app.exception_handler(TickdeckError)
    async def _core_error(request: Request, exc: TickdeckError):
        status = status_of(exc)
        if status >= 500:
            log.warning("%s %s: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
        return problem_response(status, detail=str(exc), extra={"error": type(exc).__name__})

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        errors = [{"where": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
                  for e in exc.errors()]
        detail = "; ".join(f"{e['where']}: {e['message']}" for e in errors) or "invalid request"
        return problem_response(422, detail=detail, extra={"errors": errors})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return problem_response(exc.status_code, detail=detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        return internal_error(exc, f"{request.method} {request.url.path}")
