"""``GET /api/v1/me``: who a call acts as, and the CSRF token cookie calls that change things must send."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.requests import HTTPConnection
from typing import Annotated

from tickdeck.app.api.deps import Principal, csrf_token, require_role, session_token
from tickdeck.app.api.schemas import Me

router = APIRouter(tags=["auth"])


@router.get("/me", response_model=Me, summary="the caller: user, role, how recognised, CSRF token")
def me(conn: HTTPConnection, principal: Annotated[Principal, Depends(require_role("viewer"))]) -> Me:
    token = None
    if principal.via == "cookie":
        session = session_token(conn, conn.app.state.settings.secret)
        token = csrf_token(conn.app.state.settings.secret, session) if session else None
    return Me(user=principal.user.name, role=principal.user.role, via=principal.via, key_name=principal.key_name,
              csrf_token=token)
