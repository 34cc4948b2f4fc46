"""Users, roles and the login for the web app.

* Users live in the SQL ``users`` table; passwords are hashed with ``hashlib.scrypt`` and a
  random 16-byte salt (``scrypt$n$r$p$salt$hash``), compared in constant time.
* Roles: ``viewer`` (read), ``researcher`` (+ export), ``admin`` (+ jobs and cleanup).
* Auth is **on when at least one user exists**. With no users (a fresh laptop install) every
  visitor is the local user ``local`` with the admin role; ``tickdeck users add`` turns auth on
  without a restart (checked per request, cached :data:`USER_CACHE_S`).
* The login form is Panel's basic-auth page served by :class:`TickdeckAuthProvider`; the
  session cookie ``user`` is signed with ``settings.secret`` (Tornado secure cookie).
* :func:`current_user` / :func:`require_role` are what pages and routes call.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from dataclasses import dataclass

from sqlalchemy import func, select

from core import db
from core.catalog import Catalog
from core.errors import PermissionDenied, TickdeckError

ROLES = ("viewer", "researcher", "admin")
RANK = {r: i for i, r in enumerate(ROLES)}
LOCAL_USER = "local"  # who you are when no users exist (auth off)
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1  # ~16 MiB, ~50 ms per check: slows guessing, not logins
SALT_BYTES = 16
MIN_PASSWORD = 8  # characters; shorter passwords are refused
USER_CACHE_S = 2.0  # per-request user look-ups are cached this long (role changes apply within it)


class AuthError(TickdeckError, ValueError):
    """A user cannot be created or changed (bad name, role or password; duplicate)."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    active: bool = True

    def has(self, role: str) -> bool:
        return RANK[self.role] >= RANK[role]


# -- passwords ----------------------------------------------------------------------------
def hash_password(password: str) -> str:
    salt = os.urandom(SALT_BYTES)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


# -- the users table ----------------------------------------------------------------------
def _check_role(role: str) -> str:
    if role not in RANK:
        raise AuthError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    return role


def add_user(catalog: Catalog, name: str, role: str, password: str, *, actor: str = "cli") -> User:
    """Create a user and audit it.

    Raises
    ------
    AuthError
        Empty or taken name, unknown role, or a password shorter than :data:`MIN_PASSWORD`.
    """
    name = (name or "").strip()
    if not name or len(name) > 64 or name == LOCAL_USER:
        raise AuthError(f"invalid user name {name!r}: 1-64 characters, not {LOCAL_USER!r}")
    _check_role(role)
    if len(password or "") < MIN_PASSWORD:
        raise AuthError(f"password for {name} is too short: use at least {MIN_PASSWORD} characters")
    with catalog.Session.begin() as s:
        if s.scalar(select(db.User.id).where(db.User.username == name)) is not None:
            raise AuthError(f"user {name!r} already exists")
        s.add(db.User(username=name, password_hash=hash_password(password), role=role, active=True))
    catalog.audit(actor, "user_add", name, {"role": role})
    _cache.clear()
    return User(name, role)


def set_role(catalog: Catalog, name: str, role: str, *, actor: str = "cli") -> None:
    _check_role(role)
    with catalog.Session.begin() as s:
        u = s.scalar(select(db.User).where(db.User.username == name))
        if u is None:
            raise AuthError(f"no user {name!r}")
        u.role = role
    catalog.audit(actor, "user_role", name, {"role": role})
    _cache.clear()


def list_users(catalog: Catalog) -> list[User]:
    with catalog.Session() as s:
        return [User(u.username, u.role, bool(u.active)) for u in s.scalars(select(db.User).order_by(db.User.username))]


def get_user(catalog: Catalog, name: str) -> User | None:
    key = (id(catalog), name)
    hit = _cache.get(key)
    if hit is not None and time.monotonic() - hit[0] < USER_CACHE_S:
        return hit[1]
    with catalog.Session() as s:
        u = s.scalar(select(db.User).where(db.User.username == name))
    user = None if u is None or not u.active else User(u.username, u.role, True)
    _cache[key] = (time.monotonic(), user)
    return user


def auth_enabled(catalog: Catalog) -> bool:
    """True when at least one active user exists."""
    key = (id(catalog), "\0enabled")
    hit = _cache.get(key)
    if hit is not None and time.monotonic() - hit[0] < USER_CACHE_S:
        return hit[1]
    with catalog.engine.connect() as c:
        on = bool(c.execute(select(func.count(db.User.id)).where(db.User.active.is_(True))).scalar_one())
    _cache[key] = (time.monotonic(), on)
    return on


def authenticate(catalog: Catalog, name: str, password: str) -> User | None:
    """The user when the password matches, else ``None`` (same cost either way)."""
    with catalog.Session() as s:
        u = s.scalar(select(db.User).where(db.User.username == (name or "")))
    stored = u.password_hash if u is not None and u.active else hash_password("\0dummy")
    ok = verify_password(password or "", stored)
    return User(u.username, u.role, True) if ok and u is not None and u.active else None


_cache: dict = {}  # (catalog id, name) -> (monotonic time, value); dict ops are atomic under the GIL


# -- the current session --------------------------------------------------------------------
def _catalog() -> Catalog:
    from app.server import context

    return context().catalog


def current_user() -> User:
    """The signed-in user of the current Panel session (the local admin when auth is off).

    Outside a served session (Jupyter, scripts) this is the local admin too.
    """
    import panel as pn

    if pn.state.curdoc is None or pn.state.curdoc.session_context is None:
        return User(LOCAL_USER, "admin")
    catalog = _catalog()
    if not auth_enabled(catalog):
        return User(LOCAL_USER, "admin")
    name = pn.state.user
    user = get_user(catalog, name) if name else None
    if user is None:
        raise PermissionDenied("not signed in: open the login page")
    return user


def require_role(role: str) -> User:
    """The current user if their role is at least ``role``.

    Raises
    ------
    PermissionDenied
        The user's role is lower (the message names both roles).
    """
    _check_role(role)
    user = current_user()
    if not user.has(role):
        raise PermissionDenied(f"this needs the {role} role; {user.name} is a {user.role}")
    return user


def audit(action: str, target: str = "", details: dict | None = None) -> None:
    """Record an action by the current user in the audit log (admin actions call this)."""
    _catalog().audit(current_user().name, action, target, details)


# -- Panel / Bokeh hooks --------------------------------------------------------------------
def make_auth_provider(get_catalog):
    """A Panel basic-auth provider validating against the ``users`` table.

    ``get_catalog()`` returns the process's catalog (opened lazily after ``--num-procs`` forks).
    """
    import tornado.escape
    from panel.auth import BasicAuthProvider, BasicLoginHandler, _validate_next_url
    from panel.io.resources import CDN_DIST

    class LoginHandler(BasicLoginHandler):
        """Panel's login form; ``next`` defaults to the app root *under the prefix* (``./``)."""

        def get(self):
            nxt = _validate_next_url(self.get_argument("next", "") or None)
            if nxt:
                self.set_cookie("next_url", nxt)
            else:
                self.clear_cookie("next_url")
            self.write(self._login_template.render(login_endpoint=self._login_endpoint,
                                                   errormessage=self.get_argument("error", ""), PANEL_CDN=CDN_DIST))

        def post(self):
            username = self.get_argument("username", "")
            if self._validate(username, self.get_argument("password", "")):
                self.set_current_user(username)
                nxt = _validate_next_url(self.get_cookie("next_url", None) or None) or "./"
                self.clear_cookie("next_url")
                self.redirect(nxt)
            else:
                self.redirect("./login?error=" + tornado.escape.url_escape("Invalid username or password!"))

        def _validate(self, username, password):
            catalog = get_catalog()
            user = authenticate(catalog, username, password)
            catalog.audit(username or "?", "login" if user else "login_failed", "web",
                          {"ip": self.request.remote_ip})
            return user is not None

    class TickdeckAuthProvider(BasicAuthProvider):
        @property
        def get_user(self):
            def _get_user(handler):
                catalog = get_catalog()
                if not auth_enabled(catalog):
                    return LOCAL_USER
                raw = handler.get_secure_cookie("user", max_age_days=7)
                name = raw.decode("utf-8") if raw else None
                return name if name and get_user(catalog, name) is not None else None

            return _get_user

        @property
        def login_handler(self):
            LoginHandler._login_endpoint = self._login_endpoint
            LoginHandler._login_template = self._login_template
            return LoginHandler

    return TickdeckAuthProvider()
