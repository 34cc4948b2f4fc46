"""Users, roles, password hashes (Argon2, old scrypt hashes upgraded at login) and API keys in ``tickdeck.core.users``,
on both SQL backends."""

from __future__ import annotations

import hashlib
import os

import argon2
import pytest
from sqlalchemy import select, update

from tickdeck.core import db, users
from tickdeck.core.errors import TickdeckError


def scrypt_hash(password: str) -> str:
    """A password hash as tickdeck stored them before Argon2 (``scrypt$n$r$p$salt$digest``, hashlib.scrypt)."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${2**14}$8$1${salt.hex()}${digest.hex()}"


def stored_hash(catalog, name: str) -> str:
    with catalog.Session() as s:
        return s.scalar(select(db.User.password_hash).where(db.User.username == name))


def set_stored_hash(catalog, name: str, value: str) -> None:
    with catalog.Session.begin() as s:
        s.execute(update(db.User).where(db.User.username == name).values(password_hash=value))


@pytest.fixture(autouse=True)
def fresh_caches():
    users._cache.clear()
    users._session_cache.clear()


def test_password_hash_is_salted_argon2id_with_the_documented_parameters():
    """Issue 12: passwords are hashed with Argon2id (argon2-cffi) with the parameters the module documents."""
    h1, h2 = users.hash_password("correct horse"), users.hash_password("correct horse")
    assert h1 != h2 and h1.startswith("$argon2id$")
    p = argon2.extract_parameters(h1)
    assert (p.time_cost, p.memory_cost, p.parallelism, p.hash_len, p.salt_len) == (
        users.ARGON2_TIME_COST, users.ARGON2_MEMORY_KIB, users.ARGON2_PARALLELISM, users.ARGON2_HASH_BYTES,
        users.ARGON2_SALT_BYTES)
    assert users.verify_password("correct horse", h1)
    assert not users.verify_password("correct horsf", h1)
    assert not users.verify_password("x", "garbage")
    assert not users.verify_password("x", "$argon2id$v=19$m=19456,t=2,p=1$broken")
    assert not users.needs_rehash(h1) and users.needs_rehash(scrypt_hash("correct horse"))


def test_scrypt_hash_becomes_argon2_at_the_next_successful_login(catalog):
    """Issue 12: a user whose stored hash is the old scrypt one signs in with their password; the hash is then
    Argon2 (audited), the same password still works and a wrong one still fails."""
    users.add_user(catalog, "old", "researcher", "placeholder-password")
    legacy = scrypt_hash("old-password")
    set_stored_hash(catalog, "old", legacy)

    assert users.authenticate(catalog, "old", "wrong-password") is None
    assert stored_hash(catalog, "old") == legacy  # a failed login changes nothing

    assert users.authenticate(catalog, "old", "old-password") == users.User("old", "researcher")
    upgraded = stored_hash(catalog, "old")
    assert upgraded.startswith("$argon2id$") and not users.needs_rehash(upgraded)
    assert [a.action for a in catalog.audit_log(limit=1)] == ["password_rehash"]

    assert users.authenticate(catalog, "old", "old-password") == users.User("old", "researcher")
    assert stored_hash(catalog, "old") == upgraded  # already current: not hashed again
    assert users.authenticate(catalog, "old", "wrong-password") is None
    assert users.authenticate(catalog, "old", "") is None


def test_argon2_hash_with_older_parameters_is_rehashed_at_login(catalog):
    """Issue 12: a hash made with other Argon2 parameters (e.g. a future change of them) is renewed at login."""
    users.add_user(catalog, "pat", "viewer", "placeholder-password")
    weaker = argon2.PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("pat-password")
    set_stored_hash(catalog, "pat", weaker)
    assert users.authenticate(catalog, "pat", "pat-password") is not None
    assert not users.needs_rehash(stored_hash(catalog, "pat"))


def test_users_roles_and_auth_switch_on_with_the_first_user(catalog):
    assert not users.auth_enabled(catalog)
    users.add_user(catalog, "ann", "researcher", "ann-password")
    users._cache.clear()
    assert users.auth_enabled(catalog)
    assert users.authenticate(catalog, "ann", "ann-password") == users.User("ann", "researcher")
    assert users.authenticate(catalog, "ann", "wrong-password") is None
    assert users.authenticate(catalog, "nobody", "ann-password") is None
    assert [u.name for u in users.list_users(catalog)] == ["ann"]
    users.set_role(catalog, "ann", "viewer")
    assert users.get_user(catalog, "ann").role == "viewer"
    actions = [a.action for a in catalog.audit_log()]
    assert actions[:2] == ["user_role", "user_add"]


@pytest.mark.parametrize("name,role,password,needle", [
    ("", "viewer", "long-enough", "invalid user name"),
    ("carl", "boss", "long-enough", "unknown role"),
    ("carl", "viewer", "short", "too short"),
])
def test_bad_user_input_is_refused_with_the_reason(catalog, name, role, password, needle):
    with pytest.raises(TickdeckError, match=needle):
        users.add_user(catalog, name, role, password)


def test_duplicate_user_is_refused(catalog):
    users.add_user(catalog, "dora", "viewer", "dora-password")
    with pytest.raises(users.AuthError, match="already exists"):
        users.add_user(catalog, "dora", "admin", "dora-password")


# -- API keys -----------------------------------------------------------------------------
def test_api_key_is_shown_once_stored_hashed_and_resolves_to_its_user(catalog):
    """Issue 12: create returns the secret once; only its SHA-256 and a short prefix are stored; verify finds
    the owner and records the use."""
    users.add_user(catalog, "ann", "researcher", "ann-password")
    new = users.create_api_key(catalog, "ann", "notebook", actor="ann")
    assert new.secret.startswith(users.API_KEY_MARK) and len(new.secret) > 40
    assert new.secret not in repr(new)
    assert new.key.prefix == new.secret[:users.API_KEY_PREFIX_CHARS] and new.key.user == "ann" and new.key.active
    with catalog.Session() as s:
        row = s.scalar(select(db.ApiKey))
    assert row.key_hash == hashlib.sha256(new.secret.encode()).hexdigest() and new.secret not in row.key_hash
    assert row.last_used_at is None

    assert users.verify_api_key(catalog, new.secret) == users.User("ann", "researcher")
    assert users.list_api_keys(catalog, "ann")[0].last_used_at is not None
    assert users.verify_api_key(catalog, new.secret[:-1] + ("A" if new.secret[-1] != "A" else "B")) is None
    assert users.verify_api_key(catalog, "") is None and users.verify_api_key(catalog, None) is None
    assert [a.action for a in catalog.audit_log(limit=1)] == ["api_key_create"]


def test_revoked_keys_and_keys_of_disabled_users_resolve_to_nobody(catalog):
    """Issue 12: revoking a key stops it at once; disabling its user stops it while disabled; a user may be
    limited to revoking their own keys."""
    users.add_user(catalog, "ann", "admin", "ann-password")
    users.add_user(catalog, "ben", "viewer", "ben-password")
    a1, a2 = users.create_api_key(catalog, "ann", "one"), users.create_api_key(catalog, "ann", "two")
    b1 = users.create_api_key(catalog, "ben")

    with pytest.raises(users.AuthError, match=f"no API key {a1.key.id} of 'ben'"):
        users.revoke_api_key(catalog, a1.key.id, user="ben")
    revoked = users.revoke_api_key(catalog, a1.key.id, user="ann", actor="ann")
    assert revoked.revoked_at is not None and not revoked.active
    assert users.verify_api_key(catalog, a1.secret) is None
    assert users.verify_api_key(catalog, a2.secret) == users.User("ann", "admin")
    assert users.revoke_api_key(catalog, a1.key.id).revoked_at == revoked.revoked_at  # idempotent
    with pytest.raises(users.AuthError, match="no API key 9999"):
        users.revoke_api_key(catalog, 9999)

    users.set_active(catalog, "ben", False)
    assert users.verify_api_key(catalog, b1.secret) is None
    users.set_active(catalog, "ben", True)
    assert users.verify_api_key(catalog, b1.secret) == users.User("ben", "viewer")

    assert [(k.user, k.name, k.active) for k in users.list_api_keys(catalog)] == [
        ("ann", "one", False), ("ann", "two", True), ("ben", "", True)]
    assert [k.id for k in users.list_api_keys(catalog, "ben")] == [b1.key.id]
    assert "api_key_revoke" in [a.action for a in catalog.audit_log()]


def test_api_key_for_an_unknown_user_or_with_a_bad_label_is_refused(catalog):
    users.add_user(catalog, "ann", "viewer", "ann-password")
    with pytest.raises(users.AuthError, match="no active user 'zed'"):
        users.create_api_key(catalog, "zed")
    with pytest.raises(users.AuthError, match="invalid API key name"):
        users.create_api_key(catalog, "ann", "x" * 65)
    with pytest.raises(users.AuthError, match="invalid API key name"):
        users.create_api_key(catalog, "ann", "bad\nlabel")
