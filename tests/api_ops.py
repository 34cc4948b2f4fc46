"""Helpers of the operations API tests in tests/integration/api (jobs, collection, exports and
imports, admin): waiting on a condition, following a job over HTTP, and reading the audit log of a
server's database."""

from __future__ import annotations

import time

TERMINAL = ("succeeded", "failed", "cancelled", "interrupted")


def wait_for(cond, what: str, timeout: float = 120.0, poll: float = 0.1):
    """``cond()``'s first truthy value; fails naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (v := cond()):
        assert time.monotonic() < deadline, f"timed out after {timeout:g} s waiting for {what}"
        time.sleep(poll)
    return v


def job(client, job_id: int) -> dict:
    r = client.get(f"/api/v1/jobs/{job_id}")
    assert r.status_code == 200, r.text
    return r.json()


def wait_job(client, location: str, states=TERMINAL, timeout: float = 300.0) -> dict:
    """Poll the job at ``location`` until its status is one of ``states``."""
    def done():
        r = client.get(location)
        assert r.status_code == 200, r.text
        return r.json() if r.json()["status"] in states else None

    return wait_for(done, f"job {location} to reach {states}", timeout)


def audit_rows(server, action: str) -> list:
    """The audit rows of ``action`` in the server's database."""
    from tickdeck.core.catalog import Catalog
    from tickdeck.core.config import Settings

    catalog = Catalog(Settings(data_dir=server.data_dir).sql_url)
    try:
        return [r for r in catalog.audit_log(limit=10_000) if r.action == action]
    finally:
        catalog.engine.dispose()


def assert_audited_once(server, action: str, who: str = "admin", **details) -> None:
    """Exactly one audit row of ``action``, with the key's name of ``who`` and ``details``."""
    rows = audit_rows(server, action)
    assert len(rows) == 1, f"{len(rows)} audit rows of {action}: {[(r.target, r.details) for r in rows]}"
    row = rows[0]
    assert row.details.get("key") == server.key_names[who] and row.details.get("via") == "key", row.details
    assert row.actor == server.users[who][0]
    for k, v in details.items():
        assert row.details.get(k) == v, (k, row.details)
