"""The Panel-session glue in ``tickdeck.app.auth`` and the ``tickdeck users`` CLI (users themselves: test_users.py)."""

from __future__ import annotations

import pytest

from tickdeck.app import auth
from tickdeck.core.errors import PermissionDenied


def test_outside_a_session_the_local_user_is_admin():
    assert auth.current_user() == auth.User("local", "admin")
    assert auth.require_role("admin").name == "local"


def test_require_role_refuses_a_lower_role_naming_both(monkeypatch):
    monkeypatch.setattr(auth, "current_user", lambda: auth.User("vic", "viewer"))
    with pytest.raises(PermissionDenied, match="researcher role; vic is a viewer"):
        auth.require_role("researcher")
    assert auth.require_role("viewer").name == "vic"


def test_users_cli_adds_and_lists(tmp_path, monkeypatch, capsys):
    from tickdeck.app.cli import main

    monkeypatch.setenv("TICKDECK_DATA_DIR", str(tmp_path / "data"))
    assert main(["users", "add", "erin", "--role", "admin", "--password", "erin-password"]) == 0
    assert main(["users", "list"]) == 0
    out = capsys.readouterr().out
    assert "erin" in out and "admin" in out
    assert main(["users", "add", "erin", "--password", "erin-password"]) == 1
    assert "already exists" in capsys.readouterr().err
