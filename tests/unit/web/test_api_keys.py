"""Issue 13: API keys with a role and an expiry (tickdeck.core.users), and the Admin page's keys section."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from tickdeck.core import db, users
from tickdeck.core.errors import PermissionDenied


def test_key_role_defaults_to_the_users_and_may_be_lower_never_higher(catalog):
    """Issue 13: a key acts with its own role when lower than its user's; above the user's is refused;
    lowering the user's role later lowers what the key can do."""
    users.add_user(catalog, "rita", "researcher", "rita-password")
    same = users.create_api_key(catalog, "rita", "nb")
    lower = users.create_api_key(catalog, "rita", "viewer-only", role="viewer")
    assert same.key.role == "researcher" and lower.key.role == "viewer"
    assert users.check_api_key(catalog, lower.secret).user == users.User("rita", "viewer")
    with pytest.raises(users.AuthError, match="cannot have the admin role: rita is a researcher"):
        users.create_api_key(catalog, "rita", "up", role="admin")
    users.set_role(catalog, "rita", "viewer")
    assert users.check_api_key(catalog, same.secret).user == users.User("rita", "viewer")


def test_expired_and_revoked_keys_say_why_they_do_not_resolve(catalog):
    """Issue 13: check_api_key tells unknown, revoked, expired and disabled apart (the API's 401 detail)."""
    users.add_user(catalog, "adam", "admin", "adam-password")
    k = users.create_api_key(catalog, "adam", "short", expires_in=dt.timedelta(hours=1))
    assert k.key.expires_at is not None and users.check_api_key(catalog, k.secret).ok
    with catalog.Session.begin() as s:
        s.execute(update(db.ApiKey).where(db.ApiKey.id == k.key.id)
                  .values(expires_at=db.utcnow() - dt.timedelta(seconds=1)))
    check = users.check_api_key(catalog, k.secret)
    assert check.status == "expired" and check.user is None and check.key.name == "short"
    assert not users.list_api_keys(catalog)[0].active
    r = users.create_api_key(catalog, "adam", "gone")
    users.revoke_api_key(catalog, r.key.id)
    assert users.check_api_key(catalog, r.secret).status == "revoked"
    assert users.check_api_key(catalog, "tdk_nothing").status == "unknown"


@pytest.mark.parametrize("text,delta", [("90d", dt.timedelta(days=90)), ("12h", dt.timedelta(hours=12)),
                                        ("2w", dt.timedelta(weeks=2)), (" 1y ", dt.timedelta(days=365))])
def test_durations_parse(text, delta):
    assert users.parse_duration(text) == delta


@pytest.mark.parametrize("text", ["", "90", "d", "0d", "-1d", "1.5d", "9000d", "3m"])
def test_bad_durations_are_refused_naming_the_form(text):
    with pytest.raises(users.AuthError, match="duration"):
        users.parse_duration(text)


def test_admin_page_keys_section_creates_shows_once_and_revokes(catalog):
    """Issue 13: the Admin page's API keys section creates a key through tickdeck.core.users (secret shown once,
    audited under the viewer's name), lists it without its secret and revokes it."""
    from tickdeck.pages.components.api_keys import ApiKeysPanel

    users.add_user(catalog, "adam", "admin", "adam-password")
    users.add_user(catalog, "vera", "viewer", "vera-password")
    panel = ApiKeysPanel(keys=users.ApiKeyControl(catalog, "adam"))
    assert panel.user_input.options == ["adam", "vera"]
    panel.user_input.value, panel.name_input.value, panel.expires_input.value = "vera", "notebook", "30d"
    panel.create()
    assert panel.secret.startswith("tdk_") and panel.secret in panel.secret_pane.object
    assert users.check_api_key(catalog, panel.secret).user == users.User("vera", "viewer")
    assert panel.secret not in panel.table.value.to_string()
    assert list(panel.table.value["state"]) == ["active"] and panel.table.value["expires"][0]
    panel.revoke_input.value = list(panel.revoke_input.options.values())[0]
    panel.revoke()
    assert "Revoked key" in panel.message and users.check_api_key(catalog, panel.secret).status == "revoked"
    assert {"api_key_create", "api_key_revoke"} <= {a.action for a in catalog.audit_log() if a.actor == "adam"}


def test_keys_section_refuses_a_viewer_through_the_injected_check(catalog):
    """Issue 13: the control's authorize check (the server passes the admin-role check) refuses a viewer."""
    from tickdeck.pages.components.api_keys import ApiKeysPanel
    from tickdeck.pages.components.services import require

    viewer = users.User("vera", "viewer")
    control = users.ApiKeyControl(catalog, "vera", authorize=lambda: require(viewer, "admin", "managing API keys"))
    panel = ApiKeysPanel(keys=control)
    assert "managing API keys needs the admin role" in panel.message
    with pytest.raises(PermissionDenied):
        control.create("vera", "x")
