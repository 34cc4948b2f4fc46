"""Users, roles, passwords and server-side web sessions.

* Users live in the SQL ``users`` table; passwords are hashed with ``hashlib.scrypt`` and a
  random 16-byte salt (``scrypt$n$r$p$salt$hash``), compared in constant time.
* :func:`authenticate` does the same work for every name: one scrypt with the current
  parameters, against the user's hash or against :data:`DUMMY_HASH` when the name is unknown or
  disabled, and no early return — the response time does not tell which names exist.
* Roles: ``viewer`` (read), ``researcher`` (+ export), ``admin`` (+ jobs and cleanup).
* Auth is **on when at least one user exists**. With no users (a fresh laptop install) every
  visitor is the local user ``local`` with the admin role; ``tickdeck users add`` turns auth on
  without a restart (checked per request, cached :data:`USER_CACHE_S`).
* Web sessions are rows of ``web_sessions``: the browser's ``user`` cookie holds a random token
  (signed by Tornado with ``settings.secret``), the row its SHA-256, the user, expiry and
  revocation time. Logout revokes the row; :func:`set_password` and disabling a user
  (:func:`set_active`) revoke all of the user's rows. Look-ups are cached
  :data:`SESSION_CACHE_S` per process; a revocation drops this process's cache at once, other
  server processes see it within :data:`SESSION_CACHE_S` seconds.
* The login form, throttling and cookies are in :mod:`app.login`.
* :func:`current_user` / :func:`require_role` are what pages and routes call.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import itertools
import os
import re
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update

from core import db
from core.catalog import Catalog
from core.errors import PermissionDenied, TickdeckError

ROLES = ("viewer", "researcher", "admin")
RANK = {r: i for i, r in enumerate(ROLES)}
LOCAL_USER = "local"  # who you are when no users exist (auth off)
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1  # ~16 MiB, ~50 ms per check: slows guessing, not logins
SALT_BYTES = 16
DIGEST_BYTES = 64  # hashlib.scrypt's default dklen
MIN_PASSWORD = 8  # characters; shorter passwords are refused
USER_CACHE_S = 2.0  # per-request user look-ups are cached this long (role changes apply within it)
SESSION_DAYS = 7  # a web session (and its cookie) lasts this long without a new login
SESSION_CACHE_S = 2.0  # session look-ups cached this long; other processes see a revocation within it
LAST_SEEN_EVERY_S = 60  # a session's last_seen_at is written at most this often
SESSION_CACHE_MAX = 20_000  # cached look-ups kept per process before the cache is emptied
NAME_RULE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")  # user names: plain text in HTML, logs and URLs


def _kdf(password: bytes, **params) -> bytes:
    """The one key-derivation call (``hashlib.scrypt``, looked up per call so tests can count it)."""
    return hashlib.scrypt(password, **params)


# Verified against when the name is unknown or disabled: same parameters as a real hash, so the
# same ~50 ms; its digest (zeros) is not the scrypt of any password, so it never matches.
DUMMY_HASH = f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${os.urandom(SALT_BYTES).hex()}${'0' * 2 * DIGEST_BYTES}"


class AuthError(TickdeckError, ValueError):
    """A user cannot be created or changed (bad name, role or password; duplicate; unknown user)."""


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
    digest = _kdf(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = _kdf(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


def _check_password(name: str, password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise AuthError(f"password for {name} is too short: use at least {MIN_PASSWORD} characters")


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
        Invalid or taken name, unknown role, or a password shorter than :data:`MIN_PASSWORD`.
    """
    name = (name or "").strip()
    if not NAME_RULE.match(name) or name == LOCAL_USER:
        raise AuthError(f"invalid user name {name!r}: 1-64 of A-Z a-z 0-9 . _ @ - starting with a letter "
                        f"or digit, not {LOCAL_USER!r}")
    _check_role(role)
    _check_password(name, password)
    with catalog.Session.begin() as s:
        if s.scalar(select(db.User.id).where(db.User.username == name)) is not None:
            raise AuthError(f"user {name!r} already exists")
        s.add(db.User(username=name, password_hash=hash_password(password), role=role, active=True))
    catalog.audit(actor, "user_add", name, {"role": role})
    _cache.clear()
    return User(name, role)


def _change_user(catalog: Catalog, name: str, **values) -> None:
    with catalog.Session.begin() as s:
        if s.execute(update(db.User).where(db.User.username == name).values(**values)).rowcount == 0:
            raise AuthError(f"no user {name!r}: see `tickdeck users list`")
    _cache.clear()


def set_role(catalog: Catalog, name: str, role: str, *, actor: str = "cli") -> None:
    _check_role(role)
    _change_user(catalog, name, role=role)
    catalog.audit(actor, "user_role", name, {"role": role})


def set_password(catalog: Catalog, name: str, password: str, *, actor: str = "cli") -> int:
    """Change a user's password and revoke all their web sessions; returns how many were revoked.

    Raises
    ------
    AuthError
        No such user, or a password shorter than :data:`MIN_PASSWORD`.
    """
    _check_password(name, password)
    _change_user(catalog, name, password_hash=hash_password(password))
    revoked = revoke_user_sessions(catalog, name)
    catalog.audit(actor, "user_passwd", name, {"sessions_revoked": revoked})
    return revoked


def set_active(catalog: Catalog, name: str, active: bool, *, actor: str = "cli") -> int:
    """Enable or disable a user; disabling revokes all their web sessions (returns how many).

    A disabled user cannot sign in; their name stays in the audit log.
    """
    _change_user(catalog, name, active=bool(active))
    revoked = 0 if active else revoke_user_sessions(catalog, name)
    catalog.audit(actor, "user_enable" if active else "user_disable", name, {"sessions_revoked": revoked})
    return revoked


def list_users(catalog: Catalog) -> list[User]:
    with catalog.Session() as s:
        return [User(u.username, u.role, bool(u.active)) for u in s.scalars(select(db.User).order_by(db.User.username))]


def get_user(catalog: Catalog, name: str) -> User | None:
    """The active user of that name (cached :data:`USER_CACHE_S`), else ``None``."""
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
    """The user when the password matches, else ``None``.

    Every call does the same work: one user look-up and one scrypt verification with the
    current parameters (against :data:`DUMMY_HASH` for an unknown or disabled name), with no
    early return, so timing does not reveal which names exist.
    """
    with catalog.Session() as s:
        u = s.scalar(select(db.User).where(db.User.username == (name or "")))
    known = u is not None and bool(u.active)
    stored = u.password_hash if known else DUMMY_HASH
    ok = verify_password(password or "", stored)
    return User(u.username, u.role, True) if ok and known else None


_cache: dict = {}  # (catalog id, name) -> (monotonic time, value); dict ops are atomic under the GIL


# -- web sessions ---------------------------------------------------------------------------
def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_session(catalog: Catalog, name: str, *, client: str = "") -> str:
    """Start a web session for ``name``; returns the random token the cookie carries.

    Rows that expired more than a day ago are deleted on the way (the table stays small).
    """
    token = secrets.token_urlsafe(32)
    now = db.utcnow()
    with catalog.Session.begin() as s:
        s.execute(delete(db.WebSession).where(db.WebSession.expires_at < now - dt.timedelta(days=1)))
        s.add(db.WebSession(token_hash=_token_hash(token), username=name, created_at=now, last_seen_at=now,
                            expires_at=now + dt.timedelta(days=SESSION_DAYS), client=(client or "")[:64]))
    return token


def session_user(catalog: Catalog, token: str | None) -> User | None:
    """The active user of a live (not revoked, not expired) session token, else ``None``.

    Cached :data:`SESSION_CACHE_S`; a revocation in this process takes effect at once.
    """
    if not token:
        return None
    key = (id(catalog), _token_hash(token))
    hit = _session_cache.get(key)
    if hit is not None and time.monotonic() - hit[0] < SESSION_CACHE_S:
        name = hit[1]
    else:
        generation = _revocations["n"]
        name = None
        now = db.utcnow()
        with catalog.Session.begin() as s:
            row = s.scalar(select(db.WebSession).where(db.WebSession.token_hash == key[1]))
            if row is not None and row.revoked_at is None and row.expires_at > now:
                name = row.username
                if (now - row.last_seen_at).total_seconds() > LAST_SEEN_EVERY_S:
                    row.last_seen_at = now
        if generation == _revocations["n"]:  # no revocation ran meanwhile: the answer may be cached
            if len(_session_cache) > SESSION_CACHE_MAX:
                _session_cache.clear()
            _session_cache[key] = (time.monotonic(), name)
    return get_user(catalog, name) if name else None


def _revoked() -> None:
    _revocations["n"] = next(_counter)
    _session_cache.clear()


def revoke_session(catalog: Catalog, token: str) -> str | None:
    """Revoke one session (logout); returns its user name, or ``None`` when it was not live."""
    th = _token_hash(token)
    with catalog.Session.begin() as s:
        row = s.scalar(select(db.WebSession).where(db.WebSession.token_hash == th,
                                                   db.WebSession.revoked_at.is_(None)))
        name = None
        if row is not None:
            row.revoked_at = db.utcnow()
            name = row.username
    _revoked()
    return name


def revoke_user_sessions(catalog: Catalog, name: str) -> int:
    """Revoke every live session of a user; returns how many."""
    with catalog.Session.begin() as s:
        n = s.execute(update(db.WebSession).where(db.WebSession.username == name, db.WebSession.revoked_at.is_(None))
                      .values(revoked_at=db.utcnow())).rowcount
    _revoked()
    return int(n or 0)


def live_sessions(catalog: Catalog, name: str) -> int:
    """How many unrevoked, unexpired sessions a user has."""
    with catalog.Session() as s:
        return int(s.scalar(select(func.count(db.WebSession.id)).where(
            db.WebSession.username == name, db.WebSession.revoked_at.is_(None),
            db.WebSession.expires_at > db.utcnow())) or 0)


_session_cache: dict = {}  # (catalog id, token hash) -> (monotonic time, user name or None)
_counter = itertools.count(1)
_revocations = {"n": 0}  # bumped by every revocation: look-ups that overlapped one are not cached


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
    token = pn.state.user  # Panel decodes the signed "user" cookie: the session token
    user = session_user(catalog, token) if token else None
    if user is None:
        raise PermissionDenied("not signed in (or signed out): open the login page")
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
