"""The current Panel session's user: who is signed in, role checks and audit records for pages.

Users, roles, password hashes, API keys and web-session rows live in :mod:`core.users`; the login
form, throttling and cookies (the Panel login provider) in :mod:`app.login`. This module is the
glue between a served Panel session and those: :func:`current_user` resolves the session cookie
to a :class:`~core.users.User`, :func:`require_role` checks its role, :func:`audit` records an
action under its name. Auth is on when at least one user exists; with none (a fresh laptop
install) every visitor is the local user ``local`` with the admin role.
"""

from __future__ import annotations

from typing import Callable

from tickdeck.core.catalog import Catalog
from tickdeck.core.errors import PermissionDenied
from tickdeck.core.users import LOCAL_USER, User, auth_enabled, check_role, session_user

__all__ = ["LOCAL_USER", "User", "audit", "current_user", "require_role", "use_catalog"]


_provider: dict = {"catalog": None}  # set by use_catalog (the login provider, when serving)


def use_catalog(get_catalog: Callable[[], Catalog]) -> None:
    """Where the served sessions' catalog comes from: ``get_catalog()`` returns the process's catalog.

    :func:`app.login.make_auth_provider` calls this when the server starts, so this module needs
    no import of the server.
    """
    _provider["catalog"] = get_catalog


def _catalog() -> Catalog:
    get_catalog = _provider["catalog"]
    if get_catalog is None:
        raise RuntimeError("tickdeck.app.auth has no catalog: app.login.make_auth_provider sets it at server start")
    return get_catalog()


def current_user() -> User:
    """The signed-in user of the current Panel session (the local admin when auth is off).

    Outside a served session (Jupyter, scripts) this is the local admin too.

    Raises
    ------
    PermissionDenied
        Auth is on and the session has no live sign-in (signed out, revoked or expired).
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
    check_role(role)
    user = current_user()
    if not user.has(role):
        raise PermissionDenied(f"this needs the {role} role; {user.name} is a {user.role}")
    return user


def audit(action: str, target: str = "", details: dict | None = None) -> None:
    """Record an action by the current user in the audit log (admin actions call this)."""
    _catalog().audit(current_user().name, action, target, details)
