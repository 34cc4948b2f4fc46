"""Login work per name, server-side web sessions and their revocation, login throttling, the users CLI.

Real SQL catalogs (SQLite and PostgreSQL), the real Argon2 (and scrypt for old hashes), real ``limits``
storages (memory and Redis).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import uuid

import argon2
import pytest
from sqlalchemy import update

from tickdeck.app.login import LoginThrottle, check_login
from tickdeck.core import db
from tickdeck.core import users as auth


@pytest.fixture
def kdf_calls(monkeypatch):
    """Every password check, made through the real hashers: an Argon2 check's parameters (read from the
    hash it checks against), or ``("scrypt", n, r, p)`` for a call of ``hashlib.scrypt``."""
    calls: list = []
    real_verify, real_scrypt = argon2.PasswordHasher.verify, hashlib.scrypt

    def verify(self, hash, password):
        calls.append(argon2.extract_parameters(hash))
        return real_verify(self, hash, password)

    def scrypt(password, **params):
        calls.append(("scrypt", params["n"], params["r"], params["p"]))
        return real_scrypt(password, **params)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", verify)
    monkeypatch.setattr(hashlib, "scrypt", scrypt)
    return calls


def current_argon2() -> argon2.Parameters:
    return argon2.extract_parameters(auth.hash_password("any-password"))


@pytest.fixture
def users(catalog):
    auth._cache.clear()
    auth.add_user(catalog, "ann", "admin", "ann-password")
    auth.add_user(catalog, "ben", "viewer", "ben-password")
    auth.set_active(catalog, "ben", False)
    return catalog


def test_known_unknown_and_disabled_names_cost_the_same_one_hash(users, kdf_calls):
    """Issue 11 item 10 (kept by issue 12 with Argon2): a wrong password for a known user, an unknown name and a
    disabled user each run exactly one Argon2 check with the current parameters (no extra hash for unknown
    names, no early return)."""
    params = current_argon2()
    assert (params.time_cost, params.memory_cost, params.parallelism) == (
        auth.ARGON2_TIME_COST, auth.ARGON2_MEMORY_KIB, auth.ARGON2_PARALLELISM)
    for name, password in (("ann", "wrong-password"), ("nobody", "wrong-password"), ("ben", "ben-password"),
                           ("", ""), ("x" * 500, "ann-password")):
        kdf_calls.clear()
        assert auth.authenticate(users, name, password) is None
        assert kdf_calls == [params], name[:20]
    kdf_calls.clear()
    assert auth.authenticate(users, "ann", "ann-password") == auth.User("ann", "admin")
    assert kdf_calls == [params]


def test_logout_revokes_the_session_at_once_even_when_cached(users):
    """Issue 11 item 9: a revoked token stops resolving immediately in this process (the cache is dropped)."""
    token = auth.create_session(users, "ann", client="127.0.0.1")
    assert auth.session_user(users, token) == auth.User("ann", "admin")
    assert auth.session_user(users, token) is not None  # now cached
    assert auth.revoke_session(users, token) == "ann"
    assert auth.session_user(users, token) is None
    assert auth.revoke_session(users, token) is None  # already revoked
    assert auth.session_user(users, "not-a-token") is None


def test_password_change_and_disabling_revoke_every_session_of_the_user(users):
    """Issue 11 item 9: passwd and disable sign the user out everywhere; enable lets them sign in again."""
    t1, t2 = auth.create_session(users, "ann"), auth.create_session(users, "ann")
    auth.add_user(users, "cat", "viewer", "cat-password")
    other = auth.create_session(users, "cat")
    assert auth.live_sessions(users, "ann") == 2
    assert auth.set_password(users, "ann", "new-ann-password") == 2
    assert auth.session_user(users, t1) is None and auth.session_user(users, t2) is None
    assert auth.session_user(users, other) == auth.User("cat", "viewer")
    assert auth.authenticate(users, "ann", "ann-password") is None
    assert auth.authenticate(users, "ann", "new-ann-password") is not None

    t3 = auth.create_session(users, "cat")
    assert auth.set_active(users, "cat", False) == 2
    assert auth.session_user(users, t3) is None and auth.authenticate(users, "cat", "cat-password") is None
    auth.set_active(users, "cat", True)
    assert auth.authenticate(users, "cat", "cat-password") == auth.User("cat", "viewer")
    assert auth.session_user(users, t3) is None  # re-enabling does not revive old sessions
    actions = [a.action for a in users.audit_log()]
    assert {"user_passwd", "user_disable", "user_enable"} <= set(actions)


def test_expired_session_does_not_resolve(users):
    """Issue 11 item 9: a session past its expiry is dead even if never revoked."""
    token = auth.create_session(users, "ann")
    with users.Session.begin() as s:
        s.execute(update(db.WebSession).values(expires_at=db.utcnow() - dt.timedelta(seconds=1)))
    auth._session_cache.clear()
    assert auth.session_user(users, token) is None


def test_changing_an_unknown_user_names_it(users):
    with pytest.raises(auth.AuthError, match="no user 'zed'"):
        auth.set_password(users, "zed", "long-enough")
    with pytest.raises(auth.AuthError, match="no user 'zed'"):
        auth.set_active(users, "zed", False)
    with pytest.raises(auth.AuthError, match="too short"):
        auth.set_password(users, "ann", "short")


@pytest.mark.parametrize("name", ["<img src=x>", "a b", "-lead", "ünï", "x" * 65])
def test_user_names_are_plain_ascii_words(catalog, name):
    """Issue 11 item 1: a user name is shown in pages and logs; markup or spaces are refused when it is made."""
    with pytest.raises(auth.AuthError, match="invalid user name"):
        auth.add_user(catalog, name, "viewer", "long-enough")


def test_throttle_refuses_after_the_limit_per_user_and_per_address():
    """Issue 11 item 8: N attempts per user name and per address, then a wait; a success clears the name."""
    t = LoginThrottle("3 per 1 minute", "5 per 1 minute")
    assert [t.attempt("ann", "10.0.0.1") for _ in range(3)] == [None, None, None]
    wait = t.attempt("ann", "10.0.0.2")  # another address does not help the name
    assert wait is not None and 1.0 <= wait <= 60.0
    assert t.attempt("bob", "10.0.0.1") is None and t.attempt("bob", "10.0.0.1") is None
    assert t.attempt("cid", "10.0.0.1") is not None  # the address has had its 5
    t.succeeded("ann")
    assert t.attempt("ann", "10.0.0.3") is None


def test_throttle_in_redis_is_shared_between_processes(redis_url):
    """Issue 11 item 8: with Redis, attempts counted by one server process count in every other."""
    name = f"user-{uuid.uuid4().hex[:8]}"
    first, second = LoginThrottle("2 per 1 minute", "100 per 1 minute", redis_url), \
        LoginThrottle("2 per 1 minute", "100 per 1 minute", redis_url)
    assert first.attempt(name, "10.1.0.1") is None
    assert second.attempt(name, "10.1.0.2") is None
    assert first.attempt(name, "10.1.0.3") is not None
    second.succeeded(name)
    assert first.attempt(name, "10.1.0.4") is None


def test_unreachable_redis_falls_back_to_memory_and_still_throttles(caplog):
    t = LoginThrottle("1 per 1 minute", "100 per 1 minute", "redis://127.0.0.1:1/0")
    assert t.attempt("ann", "10.0.0.1") is None
    assert t.attempt("ann", "10.0.0.1") is not None
    assert "login throttle storage failed" in caplog.text


def test_throttled_login_is_audited_and_does_not_check_the_password(users, kdf_calls):
    """Issue 11 item 8: a throttled attempt is refused before any hash and recorded as login_throttled."""
    throttle = LoginThrottle("2 per 1 minute", "100 per 1 minute")
    assert check_login(users, throttle, "ann", "bad-password-1", "10.0.0.9").status == "invalid"
    assert check_login(users, throttle, "ann", "bad-password-2", "10.0.0.9").status == "invalid"
    kdf_calls.clear()
    out = check_login(users, throttle, "ann", "ann-password", "10.0.0.9")
    assert out.status == "throttled" and out.retry_after >= 1.0 and out.token == ""
    assert kdf_calls == []
    assert [a.action for a in users.audit_log(limit=3)] == ["login_throttled", "login_failed", "login_failed"]


def test_successful_login_starts_a_session_and_forgives_the_name(users):
    throttle = LoginThrottle("2 per 1 minute", "100 per 1 minute")
    assert check_login(users, throttle, "ann", "bad-password", "10.0.0.8").status == "invalid"
    ok = check_login(users, throttle, "ann", "ann-password", "10.0.0.8")
    assert ok.status == "ok" and auth.session_user(users, ok.token) == auth.User("ann", "admin")
    assert check_login(users, throttle, "ann", "bad-password", "10.0.0.8").status == "invalid"  # count restarted


def test_users_cli_passwd_from_stdin_disable_and_enable(tmp_path, monkeypatch, capsys):
    """Issue 11 item 9: `tickdeck users passwd NAME --password-stdin`, `disable`, `enable`."""
    from tickdeck.app.cli import main
    from tickdeck.app.wiring import open_context

    monkeypatch.setenv("TICKDECK_DATA_DIR", str(tmp_path / "data"))
    assert main(["users", "add", "erin", "--role", "admin", "--password", "erin-password"]) == 0
    ctx = open_context(pipeline=False)
    token = auth.create_session(ctx.catalog, "erin")
    monkeypatch.setattr("sys.stdin", io.StringIO("erin-new-password\n"))
    assert main(["users", "passwd", "erin", "--password-stdin"]) == 0
    assert "1 web session(s) signed out" in capsys.readouterr().out
    auth._cache.clear()
    assert auth.session_user(ctx.catalog, token) is None
    assert auth.authenticate(ctx.catalog, "erin", "erin-new-password") is not None
    assert main(["users", "disable", "erin"]) == 0
    assert main(["users", "list"]) == 0
    assert "disabled" in capsys.readouterr().out
    auth._cache.clear()
    assert auth.authenticate(ctx.catalog, "erin", "erin-new-password") is None
    assert main(["users", "enable", "erin"]) == 0
    auth._cache.clear()
    assert auth.authenticate(ctx.catalog, "erin", "erin-new-password") is not None
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["users", "passwd", "erin", "--password-stdin"]) == 1
    assert "standard input is empty" in capsys.readouterr().err
    assert main(["users", "disable", "nobody"]) == 1
    ctx.close()
