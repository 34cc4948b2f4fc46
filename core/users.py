"""Users, roles, password hashes, API keys and web sessions, stored in SQL.

* **Users** live in the ``users`` table with a role: ``viewer`` (read), ``researcher``
  (+ export), ``admin`` (+ jobs and cleanup). Auth is on when at least one active user exists
  (:func:`auth_enabled`); with none, every visitor is the local admin :data:`LOCAL_USER`.
* **Passwords** are hashed with Argon2id through ``argon2-cffi``'s :class:`~argon2.PasswordHasher`
  with the parameters :data:`ARGON2_TIME_COST`, :data:`ARGON2_MEMORY_KIB`, :data:`ARGON2_PARALLELISM`
  (OWASP's 19 MiB / 2 passes / 1 lane profile: ~25 ms per check on one core), a random
  16-byte salt and a 32-byte tag, stored in the PHC string format (``$argon2id$v=19$m=…``).
  Hashes from before Argon2 (``scrypt$n$r$p$salt$hash``) still verify; the next successful
  login replaces such a hash — or an Argon2 hash made with other parameters — with a new one.
* :func:`authenticate` does the same work for every name: one user look-up and one password
  check, against :data:`dummy_hash` (current Argon2 parameters) when the name is unknown or
  disabled, with no early return — the response time does not tell which names exist. (A user
  whose stored hash is still scrypt is checked with scrypt, ~50 ms, until that first login.)
* **API keys** (``api_keys`` table) are random 256-bit secrets ``tdk_…`` shown once by
  :func:`create_api_key`; only their SHA-256 is stored (a fast hash is enough for a random
  secret of that size) with the first :data:`API_KEY_PREFIX_CHARS` characters to tell keys
  apart, a label, a role (never above the user's: a researcher may hold a viewer key) and an
  optional expiry. :func:`check_api_key` resolves a key to its active user acting with the
  lower of the key's and the user's role, or says why not (unknown, revoked, expired, user
  disabled); :func:`verify_api_key` is its yes/no form. A password change does not revoke
  keys; disabling does (while disabled).
* **Web sessions** are rows of ``web_sessions``: the browser's cookie holds a random token, the
  row its SHA-256, the user, expiry and revocation time. Logout revokes the row;
  :func:`set_password` and disabling a user (:func:`set_active`) revoke all of the user's rows.
  Look-ups are cached :data:`SESSION_CACHE_S` per process; a revocation drops this process's
  cache at once, other processes see it within :data:`SESSION_CACHE_S` seconds.

The Panel login form, throttling and cookies are in ``app.login``; the current page user is
``app.auth.current_user``.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import itertools
import logging
import re
import secrets
import time
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import Argon2Error
from sqlalchemy import delete, func, select, update

from tickdeck.core import db
from tickdeck.core.catalog import Catalog
from tickdeck.core.errors import TickdeckError

log = logging.getLogger(__name__)

ROLES = ("viewer", "researcher", "admin")
RANK = {r: i for i, r in enumerate(ROLES)}
LOCAL_USER = "local"  # who you are when no users exist (auth off)
MIN_PASSWORD = 8  # characters; shorter passwords are refused
NAME_RULE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")  # user names: plain text in HTML, logs and URLs
USER_CACHE_S = 2.0  # per-request user look-ups are cached this long (role changes apply within it)

# Argon2id, OWASP password-storage profile "m=19 MiB, t=2, p=1": ~25 ms and 19 MiB per check,
# which slows guessing, not logins (two checks at a time per server process, see app.login).
ARGON2_TIME_COST = 2  # passes over the memory
ARGON2_MEMORY_KIB = 19_456  # 19 MiB
ARGON2_PARALLELISM = 1  # lanes (one core per check)
ARGON2_HASH_BYTES = 32
ARGON2_SALT_BYTES = 16
_hasher = PasswordHasher(time_cost=ARGON2_TIME_COST, memory_cost=ARGON2_MEMORY_KIB, parallelism=ARGON2_PARALLELISM,
                         hash_len=ARGON2_HASH_BYTES, salt_len=ARGON2_SALT_BYTES)

SESSION_DAYS = 7  # a web session (and its cookie) lasts this long without a new login
SESSION_CACHE_S = 2.0  # session look-ups cached this long; other processes see a revocation within it
LAST_SEEN_EVERY_S = 60  # a session's (or API key's) last-use time is written at most this often
SESSION_CACHE_MAX = 20_000  # cached look-ups kept per process before the cache is emptied

API_KEY_MARK = "tdk_"  # every key starts with this, so a leaked one is recognisable in a scan
API_KEY_BYTES = 32  # random bytes per key (256 bits)
API_KEY_PREFIX_CHARS = 12  # characters stored in clear to tell keys apart ("tdk_" + 8)
API_KEY_NAME_MAX = 64
API_KEY_MAX_DAYS = 3650  # expiries further away than this are refused (a typo such as 9000d)
_DURATION = re.compile(r"^\s*([1-9][0-9]*)\s*([hdwy])\s*$")
_DURATION_UNIT = {"h": dt.timedelta(hours=1), "d": dt.timedelta(days=1), "w": dt.timedelta(weeks=1),
                  "y": dt.timedelta(days=365)}
_KEY_NAME = re.compile(r"^[^\x00-\x1f\x7f]*$")  # key labels: any text without control characters


class AuthError(TickdeckError, ValueError):
    """A user or key cannot be created or changed (bad name, role or password; duplicate; unknown)."""


@dataclass(frozen=True)
class User:
    """A user as pages and routes see it: name, role and whether they may sign in."""

    name: str
    role: str
    active: bool = True

    def has(self, role: str) -> bool:
        """True when this user's role is ``role`` or higher."""
        return RANK[self.role] >= RANK[role]


@dataclass(frozen=True)
class ApiKey:
    """A stored API key (never the secret): its id, owner, label, clear prefix, role and times (UTC).

    ``role`` is the key's own role (``None`` for keys made before keys had one: the user's role);
    a request with the key acts with the lower of it and the user's current role.
    """

    id: int
    user: str
    name: str
    prefix: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None
    role: str | None = None
    expires_at: dt.datetime | None = None

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= db.utcnow()

    @property
    def active(self) -> bool:
        """Neither revoked nor expired."""
        return self.revoked_at is None and not self.expired


@dataclass(frozen=True)
class KeyCheck:
    """What presenting an API key came to.

    ``status`` is ``ok`` (``user`` is set, with the role the request acts with), ``unknown`` (no
    such key), ``revoked``, ``expired`` or ``disabled`` (its user is disabled or gone); ``key`` is
    the stored key whenever one matched.
    """

    status: str
    user: User | None = None
    key: ApiKey | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class NewApiKey:
    """A key just created: the stored record and the secret, which is shown this once only."""

    key: ApiKey
    secret: str = field(repr=False)


# -- passwords ----------------------------------------------------------------------------
def hash_password(password: str) -> str:
    """An Argon2id hash of ``password`` (PHC string) with the current parameters and a fresh salt."""
    return _hasher.hash(password)


def _verify_scrypt(password: str, stored: str) -> bool:
    """The hashes made before Argon2: ``scrypt$n$r$p$salt-hex$digest-hex`` (hashlib.scrypt)."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(digest) // 2)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored`` (an Argon2 PHC string or a legacy scrypt hash)."""
    if stored.startswith("$argon2"):
        try:
            return _hasher.verify(stored, password)
        except (Argon2Error, ValueError):  # mismatch, or a damaged hash
            return False
    return _verify_scrypt(password, stored)


def needs_rehash(stored: str) -> bool:
    """True when ``stored`` is not an Argon2 hash with the current parameters (rehash it at login)."""
    if not stored.startswith("$argon2"):
        return True
    try:
        return _hasher.check_needs_rehash(stored)
    except (Argon2Error, ValueError):
        return True


@functools.cache
def dummy_hash() -> str:
    """Checked against when the name is unknown or disabled: a real Argon2 hash (current
    parameters, so the same work) of a random password nobody knows, made once per process."""
    return _hasher.hash(secrets.token_urlsafe(32))


def _check_password(name: str, password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise AuthError(f"password for {name} is too short: use at least {MIN_PASSWORD} characters")


# -- the users table ----------------------------------------------------------------------
def check_role(role: str) -> str:
    """``role`` when it is one of :data:`ROLES`.

    Raises
    ------
    AuthError
        Unknown role (the message lists the roles).
    """
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
    check_role(role)
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
    """Change a user's role (applies within :data:`USER_CACHE_S` in every process)."""
    check_role(role)
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

    A disabled user cannot sign in and their API keys resolve to nobody; their name stays in
    the audit log.
    """
    _change_user(catalog, name, active=bool(active))
    revoked = 0 if active else revoke_user_sessions(catalog, name)
    catalog.audit(actor, "user_enable" if active else "user_disable", name, {"sessions_revoked": revoked})
    return revoked


def remove_user(catalog: Catalog, name: str, *, actor: str = "cli") -> int:
    """Delete a user with their API keys, revoking their web sessions (returns how many).

    When no active user is left, auth is off again (the web app is open as the local admin).
    The name stays in the audit log.

    Raises
    ------
    AuthError
        No such user.
    """
    with catalog.Session.begin() as s:
        u = s.scalar(select(db.User).where(db.User.username == name))
        if u is None:
            raise AuthError(f"no user {name!r}: see `tickdeck users list`")
        s.execute(delete(db.ApiKey).where(db.ApiKey.user_id == u.id))
        s.delete(u)
    _cache.clear()
    revoked = revoke_user_sessions(catalog, name)
    catalog.audit(actor, "user_remove", name, {"sessions_revoked": revoked})
    return revoked


def list_users(catalog: Catalog) -> list[User]:
    """Every user, active or not, by name."""
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
    """True when at least one active user exists (cached :data:`USER_CACHE_S`)."""
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

    Every call does the same work: one user look-up and one password check with the current
    parameters (against :func:`dummy_hash` for an unknown or disabled name), with no early
    return, so timing does not reveal which names exist. After a match, a hash that is not
    Argon2 with the current parameters (:func:`needs_rehash`) is replaced by one that is —
    unless the password was changed meanwhile — and audited as ``password_rehash``.

    Warnings
    --------
    Blocking (one ~25 ms hash, SQL): call it off an event loop.
    """
    with catalog.Session() as s:
        u = s.scalar(select(db.User).where(db.User.username == (name or "")))
    known = u is not None and bool(u.active)
    stored = u.password_hash if known else dummy_hash()
    ok = verify_password(password or "", stored)
    if not (ok and known):
        return None
    if needs_rehash(stored):
        _rehash(catalog, u.id, u.username, stored, password)
    return User(u.username, u.role, True)


def _rehash(catalog: Catalog, user_id: int, name: str, stored: str, password: str) -> None:
    """Replace ``stored`` by a current hash of ``password`` (compare-and-set: a password changed
    meanwhile is left alone). A failure is logged; the login still succeeds."""
    old = stored.lstrip("$").split("$", 1)[0]  # "scrypt" or "argon2id"/"argon2i"
    try:
        with catalog.Session.begin() as s:
            done = s.execute(update(db.User).where(db.User.id == user_id, db.User.password_hash == stored)
                             .values(password_hash=hash_password(password))).rowcount
        if done:
            catalog.audit(name, "password_rehash", name, {"from": old, "to": "argon2id"})
    except Exception:  # noqa: BLE001 - the old hash still works; the next login tries again
        log.exception("could not rehash the password of %s; it stays %s until the next login", name, old)


_cache: dict = {}  # (catalog id, name) -> (monotonic time, value); dict ops are atomic under the GIL


# -- API keys -------------------------------------------------------------------------------
def _key_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _api_key(row: db.ApiKey, user: str) -> ApiKey:
    return ApiKey(row.id, user, row.name, row.prefix, row.created_at, row.last_used_at, row.revoked_at,
                  row.role, row.expires_at)


def parse_duration(text: str) -> dt.timedelta:
    """A lifetime such as ``90d``, ``12h``, ``2w`` or ``1y`` (days of 24 h, years of 365 days).

    Raises
    ------
    AuthError
        Not of that form, or longer than :data:`API_KEY_MAX_DAYS` days.
    """
    m = _DURATION.match(text or "")
    if not m:
        raise AuthError(f"invalid duration {str(text)[:40]!r}: write a whole number and a unit, h d w or y "
                        "(e.g. 90d)")
    delta = int(m.group(1)) * _DURATION_UNIT[m.group(2)]
    if delta > dt.timedelta(days=API_KEY_MAX_DAYS):
        raise AuthError(f"duration {text.strip()} is longer than {API_KEY_MAX_DAYS} days")
    return delta


def create_api_key(catalog: Catalog, user: str, name: str = "", *, role: str | None = None,
                   expires_in: dt.timedelta | None = None, actor: str = "cli") -> NewApiKey:
    """Create an API key for an active user; the secret is in the result and nowhere else.

    Parameters
    ----------
    role
        The key's role; default the user's. It may be lower than the user's, never higher.
    expires_in
        The key stops working this long from now; default never.

    Raises
    ------
    AuthError
        No active user of that name; a label longer than :data:`API_KEY_NAME_MAX` characters or
        with control characters; an unknown role or one above the user's; a lifetime that is not
        positive or longer than :data:`API_KEY_MAX_DAYS` days.
    """
    name = (name or "").strip()
    if len(name) > API_KEY_NAME_MAX or not _KEY_NAME.match(name):
        raise AuthError(f"invalid API key name {name[:80]!r}: at most {API_KEY_NAME_MAX} characters, "
                        "no control characters")
    if role is not None:
        check_role(role)
    if expires_in is not None and not dt.timedelta(0) < expires_in <= dt.timedelta(days=API_KEY_MAX_DAYS):
        raise AuthError(f"an API key's lifetime must be positive and at most {API_KEY_MAX_DAYS} days")
    secret = API_KEY_MARK + secrets.token_urlsafe(API_KEY_BYTES)
    now = db.utcnow()
    with catalog.Session.begin() as s:
        u = s.scalar(select(db.User).where(db.User.username == user))
        if u is None or not u.active:
            raise AuthError(f"no active user {user!r}: see `tickdeck users list`")
        role = role or u.role
        if RANK[role] > RANK[u.role]:
            raise AuthError(f"a key of {user} cannot have the {role} role: {user} is a {u.role}")
        row = db.ApiKey(user_id=u.id, name=name, prefix=secret[:API_KEY_PREFIX_CHARS], key_hash=_key_hash(secret),
                        created_at=now, role=role, expires_at=now + expires_in if expires_in is not None else None)
        s.add(row)
        s.flush()
        key = _api_key(row, u.username)
    catalog.audit(actor, "api_key_create", user, {"key_id": key.id, "prefix": key.prefix, "name": name, "role": role,
                                                  "expires_at": key.expires_at.isoformat() if key.expires_at else None})
    return NewApiKey(key, secret)


def list_api_keys(catalog: Catalog, user: str | None = None) -> list[ApiKey]:
    """The stored keys (revoked ones too), of one user or of everyone, oldest first."""
    q = select(db.ApiKey, db.User.username).join(db.User, db.User.id == db.ApiKey.user_id).order_by(db.ApiKey.id)
    if user is not None:
        q = q.where(db.User.username == user)
    with catalog.Session() as s:
        return [_api_key(row, name) for row, name in s.execute(q).all()]


def revoke_api_key(catalog: Catalog, key_id: int, *, user: str | None = None, actor: str = "cli") -> ApiKey:
    """Revoke a key at once (it stops resolving in every process); returns it as now stored.

    ``user`` limits the revocation to that user's own keys. Revoking a revoked key changes nothing.

    Raises
    ------
    AuthError
        No key ``key_id`` (of ``user``, when given).
    """
    with catalog.Session.begin() as s:
        found = s.execute(select(db.ApiKey, db.User.username).join(db.User, db.User.id == db.ApiKey.user_id)
                          .where(db.ApiKey.id == int(key_id))).first()
        if found is None or (user is not None and found[1] != user):
            owner = f" of {user!r}" if user is not None else ""
            raise AuthError(f"no API key {key_id}{owner}: see the list of keys")
        row, owner_name = found
        changed = row.revoked_at is None
        if changed:
            row.revoked_at = db.utcnow()
        key = _api_key(row, owner_name)
    if changed:
        catalog.audit(actor, "api_key_revoke", owner_name, {"key_id": key.id, "prefix": key.prefix})
    return key


def check_api_key(catalog: Catalog, secret: str | None) -> KeyCheck:
    """Resolve the key ``secret``: its user acting with the lower of the key's and the user's role,
    or why it does not resolve (see :class:`KeyCheck`).

    One SHA-256 and one indexed look-up; the key's ``last_used_at`` is written at most every
    :data:`LAST_SEEN_EVERY_S` seconds.
    """
    if not secret or len(secret) > 200:
        return KeyCheck("unknown")
    with catalog.Session.begin() as s:
        found = s.execute(select(db.ApiKey, db.User).join(db.User, db.User.id == db.ApiKey.user_id)
                          .where(db.ApiKey.key_hash == _key_hash(secret))).first()
        if found is None:
            return KeyCheck("unknown")
        row, u = found
        key = _api_key(row, u.username)
        if row.revoked_at is not None:
            return KeyCheck("revoked", key=key)
        if key.expired:
            return KeyCheck("expired", key=key)
        if not u.active:
            return KeyCheck("disabled", key=key)
        now = db.utcnow()
        if row.last_used_at is None or (now - row.last_used_at).total_seconds() > LAST_SEEN_EVERY_S:
            row.last_used_at = now
        role = u.role if row.role is None or RANK[row.role] > RANK[u.role] else row.role
        return KeyCheck("ok", User(u.username, role, True), key)


def verify_api_key(catalog: Catalog, secret: str | None) -> User | None:
    """The active user of the live key ``secret`` (acting with the key's role), else ``None``."""
    return check_api_key(catalog, secret).user


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


class ApiKeyControl:
    """What a page is given to manage API keys: list, create and revoke through this module.

    ``actor`` is recorded in the audit log; ``authorize()`` runs before every call and raises
    :class:`~core.errors.PermissionDenied` when the viewer may not manage keys (the server passes
    an admin-role check). A page that is given no control shows no keys section.
    """

    def __init__(self, catalog: Catalog, actor: str, authorize=None):
        self._catalog = catalog
        self.actor = actor
        self._authorize = authorize or (lambda: None)

    def users(self) -> list[User]:
        self._authorize()
        return [u for u in list_users(self._catalog) if u.active]

    def list(self, user: str | None = None) -> list[ApiKey]:
        self._authorize()
        return list_api_keys(self._catalog, user)

    def create(self, user: str, name: str, *, role: str | None = None, expires: str = "") -> NewApiKey:
        """A new key (``expires`` as in :func:`parse_duration`, empty: never); its secret is shown once."""
        self._authorize()
        lifetime = parse_duration(expires) if (expires or "").strip() else None
        return create_api_key(self._catalog, user, name, role=role or None, expires_in=lifetime, actor=self.actor)

    def revoke(self, key_id: int) -> ApiKey:
        self._authorize()
        return revoke_api_key(self._catalog, key_id, actor=self.actor)
