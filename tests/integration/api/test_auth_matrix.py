"""Issue 13: the auth matrix — anonymous / viewer / researcher / admin / revoked key / expired key ×
every route of the API app → the status docs/api.md documents, against a real ``tickdeck serve``.

The routes come from the FastAPI app itself (:func:`app.api.api_routes`, so routers added later are
covered); each route's least role is read from its ``require_role`` dependency and must equal the
row of the "Endpoints and roles" table in docs/api.md — a route missing from the table fails.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tickdeck.app.api import PUBLIC, api_routes, create_api
from tickdeck.core.config import Settings

DOC = Path(__file__).resolve().parents[3] / "docs" / "api.md"
CALLERS = ("anonymous", "viewer", "researcher", "admin", "revoked", "expired")
RANK = {"viewer": 0, "researcher": 1, "admin": 2}
# Values for path parameters: real demo data where it matters, a missing record elsewhere.
PARAMS = {"symbol": "AAPL", "date": "2024-07-01", "day": "2024-07-01", "spec": "time:1m", "kind": "all",
          "name": "swagger-ui.css", "check": "all"}
MISSING_ID = "999999"


def documented_roles() -> dict[tuple[str, str], str]:
    """``(method, path) -> role`` from the table between the route-roles markers of docs/api.md."""
    text = DOC.read_text()
    block = text.split("<!-- route-roles", 1)[1].split("<!-- /route-roles -->", 1)[0]
    rows = {}
    for line in block.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] not in ("method", "") and not cells[0].startswith("-"):
            rows[(cells[0], cells[1].strip("`"))] = cells[2]
    return rows


def app_routes() -> list[tuple[str, str, str]]:
    app = create_api(Settings(data_dir=Path("/nonexistent-unused")), lambda: None)
    return api_routes(app)


ROUTES = app_routes()


def fill(path: str) -> str:
    def value(m: re.Match) -> str:
        name = m.group(1).split(":")[0]
        if name in PARAMS:
            return PARAMS[name]
        return MISSING_ID if name.endswith("id") else "x"

    return re.sub(r"\{([^}]+)\}", value, path)


def test_every_route_is_in_the_documented_role_table_with_its_role():
    """Issue 13: each route of the app has a row in docs/api.md's role table with the role its
    dependency enforces, and the table names no route the app lacks."""
    documented = documented_roles()
    actual = {(m, p): r for m, p, r in ROUTES}
    missing = sorted(f"| {m} | {p} | {r} |" for (m, p), r in actual.items() if (m, p) not in documented)
    wrong = sorted(f"{m} {p}: documented {documented[(m, p)]}, enforced {r}" for (m, p), r in actual.items()
                   if (m, p) in documented and documented[(m, p)] != r)
    stale = sorted(f"{m} {p}" for (m, p) in documented if (m, p) not in actual)
    assert not missing, "routes missing from the role table of docs/api.md; add:\n" + "\n".join(missing)
    assert not wrong, "\n".join(wrong)
    assert not stale, f"the role table names routes the app does not have: {stale}"


def expected(role: str, caller: str) -> str:
    """What a caller gets on a route whose least role is ``role``: ``401``, ``403`` or ``ok``."""
    if role == PUBLIC:
        return "ok"
    if caller in ("anonymous", "revoked", "expired"):
        return "401"
    return "ok" if RANK[caller] >= RANK[role] else "403"


def _http(server, method: str, path: str, caller: str):
    who = None if caller == "anonymous" else caller
    with server.client(who, timeout=120) as c:
        body = {} if method in ("POST", "PUT", "PATCH") else None
        return c.request(method, path, json=body).status_code


def _ws(server, path: str, caller: str) -> int:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    headers = {} if caller == "anonymous" else {"Authorization": f"Bearer {server.keys[caller]}"}
    url = server.url.replace("http://", "ws://") + path
    try:
        with connect(url, additional_headers=headers, open_timeout=60):
            return 101
    except InvalidStatus as e:
        return e.response.status_code


@pytest.mark.parametrize("method,path,role", ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_route_answers_each_caller_as_documented(api_server, method, path, role):
    """Issue 13: anonymous, revoked and expired keys get 401 on every non-public route; a role below
    the route's gets 403; the route's role and above get neither (and no server error)."""
    url_path = fill(path)
    wrong = []
    for caller in CALLERS:
        status = _ws(api_server, url_path, caller) if method == "WS" else _http(api_server, method, url_path, caller)
        want = expected(role, caller)
        ok = (status == int(want)) if want != "ok" else (status not in (401, 403) and status < 500)
        if not ok:
            wrong.append(f"{caller}: {status} (expected {want})")
    assert not wrong, f"{method} {url_path} (least role {role}): " + "; ".join(wrong)


def test_401_and_403_are_problem_documents_naming_the_cause(api_server):
    """Issue 13: refusals are application/problem+json saying why (no key, revoked, expired, role)."""
    cases = {None: "send an API key", "revoked": "was revoked", "expired": "expired at", "viewer": "admin role"}
    for who, words in cases.items():
        with api_server.client(who) as c:
            r = c.get("/api/v1/keys")
        assert r.headers["content-type"].startswith("application/problem+json")
        body = r.json()
        assert body["status"] == r.status_code and words in body["detail"], body
        assert set(body) >= {"type", "title", "status", "detail"}


def test_session_cookie_authorises_reads_and_needs_the_csrf_header_to_change_things(api_server):
    """Issue 13: the pages' session cookie works for same-origin calls; a mutating cookie call without
    (or with a wrong) X-CSRF-Token is 403, with the token from /api/v1/me it goes through, audited."""
    with api_server.client(None) as c:
        api_server.login(c, "admin")
        me = c.get("/api/v1/me").json()
        assert me["user"] == "adam" and me["via"] == "cookie" and me["csrf_token"]
        assert c.post("/api/v1/keys", json={"name": "from-page"}).status_code == 403
        assert c.post("/api/v1/keys", json={"name": "from-page"},
                      headers={"X-CSRF-Token": "0" * 40}).status_code == 403
        r = c.post("/api/v1/keys", json={"name": "from-page"}, headers={"X-CSRF-Token": me["csrf_token"]})
        assert r.status_code == 201 and r.json()["key"]["user"] == "adam"
    with api_server.client(None) as other:  # another session's token does not fit this one
        api_server.login(other, "admin")
        assert other.post("/api/v1/keys", json={"name": "x"},
                          headers={"X-CSRF-Token": me["csrf_token"]}).status_code == 403


def test_keys_made_through_the_api_carry_role_and_expiry_and_calls_are_audited_with_the_key_name(api_server):
    """Issue 13: an admin key creates a viewer key for another user with an expiry; the key works with
    the viewer role only; revoking it stops it at once; the audit log names the admin key."""
    with api_server.client("admin") as admin:
        r = admin.post("/api/v1/keys", json={"user": "rita", "name": "backtester", "role": "viewer",
                                             "expires": "30d"})
        assert r.status_code == 201, r.text
        made = r.json()
        assert made["key"]["role"] == "viewer" and made["key"]["expires_at"] and made["secret"].startswith("tdk_")
        bad = admin.post("/api/v1/keys", json={"user": "vera", "name": "up", "role": "admin"})
        assert bad.status_code == 422 and "cannot have the admin role" in bad.json()["detail"]
    import httpx

    headers = {"Authorization": f"Bearer {made['secret']}"}
    me = httpx.get(api_server.url + "/api/v1/me", headers=headers).json()
    assert (me["user"], me["role"], me["key_name"]) == ("rita", "viewer", "backtester")
    with api_server.client("admin") as admin:
        assert admin.delete(f"/api/v1/keys/{made['key']['id']}").status_code == 200
    assert httpx.get(api_server.url + "/api/v1/me", headers=headers).status_code == 401
    api = [(actor, action, details) for actor, action, _, details in api_server.audit_log()
           if action.startswith("api_keys_")]
    assert ("adam", "api_keys_revoke", {"key_id": made["key"]["id"], "via": "key", "key": "admin-key"}) in api
    assert any(a == "api_keys_create" and d.get("key") == "admin-key" for _, a, d in api)


def test_without_users_only_loopback_clients_are_answered(start_api_server):
    """Issue 13: with no users configured a loopback client acts as the local admin; a client behind a
    proxy (X-Forwarded-For from elsewhere) gets 401."""
    import httpx

    server = start_api_server(users=False)
    me = httpx.get(server.url + "/api/v1/me")
    assert me.status_code == 200 and me.json()["via"] == "local" and me.json()["role"] == "admin"
    far = httpx.get(server.url + "/api/v1/me", headers={"X-Forwarded-For": "203.0.113.9"})
    assert far.status_code == 401 and "loopback" in far.json()["detail"]
    # what docs/api.md and the README promise after `make demo`: plain curl on the pages' port
    import json
    import subprocess

    out = subprocess.run(["curl", "-s", "-f", server.url + "/api/v1/datasets"], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert {"AAPL", "MSFT"} <= {d["symbol"] for d in json.loads(out)["items"]}
