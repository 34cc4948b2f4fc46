"""What every API route depends on: the context, who is calling (:class:`Principal`), role checks,
rate limits and the audit record.

Who is calling, in this order:

1. ``Authorization: Bearer tdk_…`` — an API key (:func:`core.users.check_api_key`): the key's user
   acting with the lower of the key's and the user's role. An unknown, revoked or expired key, or
   one whose user is disabled, is a 401 that says which.
2. The pages' session cookie (``user``, signed with ``TICKDECK_SECRET``; :mod:`tickdeck.app.login`) — for
   same-origin browser calls. A mutating call (anything but GET, HEAD, OPTIONS) with the cookie must
   send the header ``X-CSRF-Token`` with the value ``GET /api/v1/me`` returns (403 otherwise); a
   WebSocket opened with the cookie must come from the page's own origin.
3. Nothing: when no user exists (a fresh laptop install, pages open to everyone) a loopback client
   is the local admin; any other client gets 401. Once a user exists, 401.

:func:`require_role` gives a route its least role and counts the call against the caller's rate
limit for the route's group (the first path segment after ``/api/v1``): ``TICKDECK_API_LIMIT``
(default 10,000 per hour) per key — or per signed-in user, or per client address — and group; 429
with ``Retry-After`` beyond it. Stream connections count against ``TICKDECK_API_STREAM_LIMIT``
(default 10 per minute) through :func:`authorize_stream`. The counts live in Redis when
``TICKDECK_REDIS_URL`` is set (shared by every server process), else in the process's memory.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Annotated, Callable, Literal

from fastapi import Depends
from starlette.requests import HTTPConnection

from tickdeck.app.api.errors import ApiProblem
from tickdeck.core.context import Context
from tickdeck.core.users import RANK, SESSION_DAYS, User, auth_enabled, check_api_key, check_role, session_user

log = logging.getLogger("tickdeck.api")

SESSION_COOKIE = "user"  # the pages' session cookie (app.login.SESSION_COOKIE; not imported: app.login loads Panel)
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
API_PREFIX = "/api/v1"
LIMIT_NAMESPACE = "tickdeck-api"
STREAM_GROUP = "streams"
PEER_EXTENSION = "tickdeck.peer"  # the socket's own peer when X-Forwarded-For was applied (tickdeck.app.asgi_bridge)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user (with the role this call acts with), the key's name when a key was
    sent, and how they were recognised (``key``, ``cookie`` or ``local``)."""

    user: User
    key_name: str | None
    via: Literal["key", "cookie", "local"]
    key_id: int | None = None
    client: str = field(default="", compare=False)

    @property
    def limit_id(self) -> str:
        """Whose rate limit a call counts against."""
        if self.key_id is not None:
            return f"key:{self.key_id}"
        if self.via == "cookie":
            return f"user:{self.user.name}"
        return f"addr:{self.client}"


# -- context ---------------------------------------------------------------------------------
def get_ctx(conn: HTTPConnection) -> Context:
    """The process's context (``create_api``'s ``get_ctx``; opened on first use)."""
    return conn.app.state.get_ctx()


CtxDep = Annotated[Context, Depends(get_ctx)]


# -- who is calling ------------------------------------------------------------------------------
def _unauthenticated(detail: str) -> ApiProblem:
    return ApiProblem(401, detail=detail, headers={"WWW-Authenticate": 'Bearer realm="tickdeck"'})


def is_loopback(host: str | None) -> bool:
    """True for 127.0.0.0/8 and ::1 (the client address after uvicorn's trusted X-Forwarded-For)."""
    try:
        return ipaddress.ip_address((host or "").strip("[]")).is_loopback
    except ValueError:
        return False


def csrf_token(secret: str, session_token: str) -> str:
    """The ``X-CSRF-Token`` value of a session: an HMAC of its token, so only its own pages can know it."""
    return hmac.new(secret.encode(), b"tickdeck-api-csrf:" + session_token.encode(), hashlib.sha256).hexdigest()[:40]


def session_token(conn: HTTPConnection, secret: str) -> str | None:
    """The pages' session token from the signed ``user`` cookie, or ``None``."""
    raw = conn.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    from tornado.web import decode_signed_value

    value = decode_signed_value(secret, SESSION_COOKIE, raw, max_age_days=SESSION_DAYS)
    return value.decode("utf-8", "replace") if value else None


def _bearer(conn: HTTPConnection) -> str | None:
    header = conn.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise _unauthenticated("the Authorization header must be 'Bearer <API key>'")
    return value.strip()


KEY_REFUSED = {
    "unknown": "unknown API key",
    "revoked": "API key {prefix}… ({name}) was revoked",
    "expired": "API key {prefix}… ({name}) expired at {expires}",
    "disabled": "the user of API key {prefix}… is disabled",
}


def authenticate(conn: HTTPConnection) -> Principal:
    """The caller of this request or WebSocket (see the module docstring); raises 401 or 403.

    Blocking (SQL): FastAPI runs it, as a plain function dependency, in its thread pool.
    """
    ctx: Context = conn.app.state.get_ctx()
    client = conn.client.host if conn.client else ""
    peer = (conn.scope.get("extensions") or {}).get(PEER_EXTENSION, {}).get("address", client)
    secret = _bearer(conn)
    if secret is not None:
        check = check_api_key(ctx.catalog, secret)
        if not check.ok:
            key = check.key
            raise _unauthenticated(KEY_REFUSED[check.status].format(
                prefix=key.prefix if key else "", name=key.name if key else "",
                expires=key.expires_at.isoformat(timespec="seconds") if key and key.expires_at else ""))
        return Principal(check.user, check.key.name, "key", check.key.id, client)
    settings = ctx.settings
    token = session_token(conn, settings.secret)
    if token is not None and auth_enabled(ctx.catalog):
        user = session_user(ctx.catalog, token)
        if user is None:
            raise _unauthenticated("the session has ended (signed out or expired): sign in again or use an API key")
        _check_cookie_call(conn, settings.secret, token)
        return Principal(user, None, "cookie", None, client)
    if not auth_enabled(ctx.catalog):
        if is_loopback(client) and is_loopback(peer):
            return Principal(User("local", "admin"), None, "local", None, client)
        raise _unauthenticated("no users are configured, so the API answers only this machine (loopback); "
                               "add a user (`tickdeck users add`) and a key (`tickdeck keys create`)")
    raise _unauthenticated("send an API key as 'Authorization: Bearer <key>' (`tickdeck keys create`)")


def _check_cookie_call(conn: HTTPConnection, secret: str, token: str) -> None:
    if conn.scope["type"] == "websocket":
        origin = conn.headers.get("origin", "")
        host = conn.headers.get("x-forwarded-host") or conn.headers.get("host", "")
        if origin.split("://", 1)[-1].rstrip("/") != host:
            raise ApiProblem(403, detail=f"a stream opened with the session cookie must come from this site's "
                                         f"pages (origin {origin[:80]!r} is not {host!r})")
        return
    if conn.scope.get("method", "GET") in SAFE_METHODS:
        return
    sent = conn.headers.get(CSRF_HEADER, "")
    if not sent or not hmac.compare_digest(sent, csrf_token(secret, token)):
        raise ApiProblem(403, detail=f"a call that changes something with the session cookie needs the "
                                     f"{CSRF_HEADER} header (its value is csrf_token of GET {API_PREFIX}/me)")


PrincipalDep = Annotated[Principal, Depends(authenticate)]


# -- roles and rate limits -----------------------------------------------------------------------
def route_group(path: str) -> str:
    """The rate-limit group of a route path: the first segment after ``/api/v1`` (``/ws/…``: streams)."""
    if path.startswith("/ws"):
        return STREAM_GROUP
    rest = path[len(API_PREFIX):] if path.startswith(API_PREFIX) else path
    return rest.strip("/").split("/", 1)[0] or "root"


def require_role(role: str) -> Callable[..., Principal]:
    """A dependency: the caller when their role is at least ``role`` (401 unauthenticated, 403 lower
    role), after counting the call against their rate limit (429 with ``Retry-After``).

    Use as ``principal: Annotated[Principal, Depends(require_role("researcher"))]`` or in a router's
    ``dependencies=[Depends(require_role("viewer"))]``. The route's role is read back from the
    dependency (``tickdeck_role``) by the auth-matrix test.
    """
    check_role(role)

    def dependency(conn: HTTPConnection, principal: PrincipalDep) -> Principal:
        if RANK[principal.user.role] < RANK[role]:
            who = principal.user.name
            if principal.via == "key":
                who = f"key {principal.key_name!r} of {who}"
            raise ApiProblem(403, detail=f"this needs the {role} role; {who} acts as a {principal.user.role}")
        route = conn.scope.get("route")
        path = getattr(route, "path", None) or conn.url.path
        limiter: RateLimiter = conn.app.state.limiter
        limiter.hit(limiter.api, route_group(path), principal.limit_id)
        return principal

    dependency.tickdeck_role = role
    dependency.__name__ = f"require_{role}"
    return dependency


def authorize_stream(conn: HTTPConnection, role: str = "viewer") -> Principal:
    """For a WebSocket route: authenticate, check ``role`` and count one stream connection.

    Call it before ``websocket.accept()`` (it raises :class:`ApiProblem`: the client gets the 401,
    403 or 429 as the HTTP answer to its upgrade request).
    """
    principal = authenticate(conn)
    if RANK[principal.user.role] < RANK[check_role(role)]:
        raise ApiProblem(403, detail=f"this stream needs the {role} role; {principal.user.name} is a "
                                     f"{principal.user.role}")
    limiter: RateLimiter = conn.app.state.limiter
    limiter.hit(limiter.stream, STREAM_GROUP, principal.limit_id)
    return principal


class RateLimiter:
    """Sliding-window counters (``limits``) per caller and route group; Redis or this process's memory.

    Parameters
    ----------
    api_rate, stream_rate
        Rates in the ``limits`` notation (``Settings.api_limit``, ``Settings.api_stream_limit``).
    storage_uri
        ``memory://`` or a Redis URL. When Redis fails a call, that call is counted in memory (and a
        warning is logged) rather than let through uncounted.
    """

    def __init__(self, api_rate: str, stream_rate: str, storage_uri: str = "memory://"):
        from limits import parse, storage, strategies

        self.api = parse(api_rate)
        self.stream = parse(stream_rate)
        self._memory = strategies.SlidingWindowCounterRateLimiter(storage.MemoryStorage())
        self._shared = None
        self.storage = "memory"
        if storage_uri and not storage_uri.startswith("memory"):
            uri = "redis+unix://" + storage_uri[len("unix://"):] if storage_uri.startswith("unix://") else storage_uri
            try:
                self._shared = strategies.SlidingWindowCounterRateLimiter(storage.storage_from_string(uri))
                self.storage = "redis"
            except Exception as e:  # noqa: BLE001 - e.g. an unsupported URL: count per process instead
                log.warning("API rate limits cannot use %s (%s: %s); counting in this process's memory",
                            storage_uri.split("@")[-1], type(e).__name__, e)

    def _call(self, verb: str, *args):
        if self._shared is not None:
            try:
                return getattr(self._shared, verb)(*args)
            except Exception as e:  # noqa: BLE001 - an unreachable Redis must not lift the limits
                log.warning("API rate-limit storage failed (%s: %s); using this process's memory", type(e).__name__, e)
        return getattr(self._memory, verb)(*args)

    def hit(self, limit, group: str, who: str) -> None:
        """Count one call; raise 429 (with ``Retry-After`` in whole seconds) when over ``limit``."""
        if self._call("hit", limit, LIMIT_NAMESPACE, group, who):
            return
        stats = self._call("get_window_stats", limit, LIMIT_NAMESPACE, group, who)
        wait = max(1, math.ceil(float(stats.reset_time) - time.time()))
        raise ApiProblem(429, detail=f"rate limit of {limit} for {group} reached: retry in {wait} s",
                         headers={"Retry-After": str(wait)})


# -- audit -------------------------------------------------------------------------------------
def audit(principal: Principal, ctx: Context, action: str, target: str = "", details: dict | None = None) -> None:
    """Record a mutating call in the audit log under the user's name, with the key's name and how
    the caller was recognised (call it from every route that changes something)."""
    extra = {"via": principal.via, **({"key": principal.key_name} if principal.key_name is not None else {})}
    ctx.catalog.audit(principal.user.name, action, target, {**(details or {}), **extra})


__all__ = ["CSRF_HEADER", "CtxDep", "Principal", "PrincipalDep", "RateLimiter", "audit", "authenticate",
           "authorize_stream", "csrf_token", "get_ctx", "require_role", "route_group"]
