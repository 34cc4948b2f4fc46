"""Password hashing, users and roles on both SQL backends."""

from __future__ import annotations

import pytest

from app import auth
from core.errors import PermissionDenied, TickdeckError


def test_password_hash_verifies_only_the_right_password_and_is_salted():
    h1, h2 = auth.hash_password("correct horse"), auth.hash_password("correct horse")
    assert h1 != h2 and h1.startswith("scrypt$")
    assert auth.verify_password("correct horse", h1)
    assert not auth.verify_password("correct horsf", h1)
    assert not auth.verify_password("x", "garbage")


def test_users_roles_and_auth_switch_on_with_the_first_user(catalog):
    auth._cache.clear()
    assert not auth.auth_enabled(catalog)
    auth.add_user(catalog, "ann", "researcher", "ann-password")
    auth._cache.clear()
    assert auth.auth_enabled(catalog)
    assert auth.authenticate(catalog, "ann", "ann-password") == auth.User("ann", "researcher")
    assert auth.authenticate(catalog, "ann", "wrong-password") is None
    assert auth.authenticate(catalog, "nobody", "ann-password") is None
    assert [u.name for u in auth.list_users(catalog)] == ["ann"]
    auth.set_role(catalog, "ann", "viewer")
    assert auth.get_user(catalog, "ann").role == "viewer"
    actions = [a.action for a in catalog.audit_log()]
    assert actions[:2] == ["user_role", "user_add"]


@pytest.mark.parametrize("name,role,password,needle", [
    ("", "viewer", "long-enough", "invalid user name"),
    ("carl", "boss", "long-enough", "unknown role"),
    ("carl", "viewer", "short", "too short"),
])
def test_bad_user_input_is_refused_with_the_reason(catalog, name, role, password, needle):
    with pytest.raises(TickdeckError, match=needle):
        auth.add_user(catalog, name, role, password)


def test_duplicate_user_is_refused(catalog):
    auth.add_user(catalog, "dora", "viewer", "dora-password")
    with pytest.raises(auth.AuthError, match="already exists"):
        auth.add_user(catalog, "dora", "admin", "dora-password")


def test_outside_a_session_the_local_user_is_admin():
    assert auth.current_user() == auth.User("local", "admin")
    assert auth.require_role("admin").name == "local"


def test_require_role_refuses_a_lower_role_naming_both(monkeypatch):
    monkeypatch.setattr(auth, "current_user", lambda: auth.User("vic", "viewer"))
    with pytest.raises(PermissionDenied, match="researcher role; vic is a viewer"):
        auth.require_role("researcher")
    assert auth.require_role("viewer").name == "vic"


def test_users_cli_adds_and_lists(tmp_path, monkeypatch, capsys):
    from app.cli import main

    monkeypatch.setenv("TICKDECK_DATA_DIR", str(tmp_path / "data"))
    assert main(["users", "add", "erin", "--role", "admin", "--password", "erin-password"]) == 0
    assert main(["users", "list"]) == 0
    out = capsys.readouterr().out
    assert "erin" in out and "admin" in out
    assert main(["users", "add", "erin", "--password", "erin-password"]) == 1
    assert "already exists" in capsys.readouterr().err
