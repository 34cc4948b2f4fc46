"""``/api/v1/keys``: list, create and revoke API keys (admin role), through :mod:`tickdeck.core.users`.

The same verbs as ``tickdeck keys`` and the Admin page's keys section. A new key's secret is in the
creation answer only.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from tickdeck.app.api.deps import CtxDep, Principal, audit, require_role
from tickdeck.app.api.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut
from tickdeck.core.users import create_api_key, list_api_keys, parse_duration, revoke_api_key

router = APIRouter(tags=["keys"])
Admin = Annotated[Principal, Depends(require_role("admin"))]


def _out(key) -> ApiKeyOut:
    return ApiKeyOut(id=key.id, user=key.user, name=key.name, prefix=key.prefix, role=key.role,
                     created_at=key.created_at, last_used_at=key.last_used_at, expires_at=key.expires_at,
                     revoked_at=key.revoked_at, active=key.active)


@router.get("/keys", response_model=list[ApiKeyOut], summary="API keys (revoked and expired ones too)")
def list_keys(ctx: CtxDep, principal: Admin,
              user: Annotated[str | None, Query(max_length=64, description="only this user's keys")] = None
              ) -> list[ApiKeyOut]:
    return [_out(k) for k in list_api_keys(ctx.catalog, user)]


@router.post("/keys", response_model=ApiKeyCreated, status_code=201, summary="create a key (its secret is shown once)")
def create_key(ctx: CtxDep, principal: Admin, body: ApiKeyCreate) -> ApiKeyCreated:
    owner = body.user or principal.user.name
    lifetime = parse_duration(body.expires) if body.expires else None
    new = create_api_key(ctx.catalog, owner, body.name, role=body.role, expires_in=lifetime,
                         actor=principal.user.name)
    audit(principal, ctx, "api_keys_create", owner, {"key_id": new.key.id, "name": new.key.name})
    return ApiKeyCreated(key=_out(new.key), secret=new.secret)


@router.delete("/keys/{key_id}", response_model=ApiKeyOut, summary="revoke a key at once")
def revoke_key(ctx: CtxDep, principal: Admin, key_id: int) -> ApiKeyOut:
    key = revoke_api_key(ctx.catalog, key_id, actor=principal.user.name)
    audit(principal, ctx, "api_keys_revoke", key.user, {"key_id": key.id})
    return _out(key)
