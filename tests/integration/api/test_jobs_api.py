"""Issue 13: /api/v1/jobs over a real server whose embedded worker runs the jobs against the
emulator: list with filters, get, cancel a running job, retry it, retry a failed one; errors as
problem documents; every change audited with the key's name."""

from __future__ import annotations

from api_ops import assert_audited_once, job, wait_for, wait_job


def _collect(client, symbols, start, end) -> dict:
    r = client.post("/api/v1/collection/start", json={"mode": "history", "symbols": symbols, "start": start,
                                                       "end": end, "priority": 1})
    assert r.status_code == 202, r.text
    assert r.headers["location"] == r.json()["location"] == f"/api/v1/jobs/{r.json()['job']['id']}"
    return r.json()["job"]


def test_a_running_job_is_cancelled_and_retried_over_http(api_server):
    """Issue 13: cancel asks the running collect job to stop (cancelled at its next day); retry queues it
    again; the list filters by status and kind; both changes are audited once with the key's name."""
    with api_server.client("admin") as c:
        jid = _collect(c, ["AAPL"], "2024-03-01", "2024-06-28")["id"]  # ~85 days: runs long enough to cancel
        wait_for(lambda: job(c, jid)["status"] == "running" and job(c, jid)["progress"] > 0, "the job to run")
        r = c.post(f"/api/v1/jobs/{jid}/cancel")
        assert r.status_code == 200 and r.json()["cancel_requested"] is True, r.text
        done = wait_job(c, f"/api/v1/jobs/{jid}")
        assert done["status"] == "cancelled"
        assert "error" not in done  # tracebacks stay in the job table

        listed = c.get("/api/v1/jobs", params={"status": "cancelled", "kind": "collect"}).json()
        assert [j["id"] for j in listed] == [jid]
        assert jid not in [j["id"] for j in c.get("/api/v1/jobs", params={"status": ["running", "pending"]}).json()]
        assert c.get("/api/v1/jobs", params={"limit": 1}).json()[0]["id"] >= jid

        r = c.post(f"/api/v1/jobs/{jid}/retry")
        assert r.status_code == 200 and r.json()["status"] == "pending" and r.json()["retries"] == 1, r.text
        wait_for(lambda: job(c, jid)["status"] == "running", "the retried job to run")
        assert c.post(f"/api/v1/jobs/{jid}/cancel").status_code == 200
        assert wait_job(c, f"/api/v1/jobs/{jid}")["status"] == "cancelled"
    assert len([r for r in _audits(api_server, "job.cancel")]) == 2
    assert_audited_once(api_server, "job.retry", retries=1)


def _audits(server, action):
    from api_ops import audit_rows

    return audit_rows(server, action)


def test_a_failed_job_is_retried_and_fails_again_with_its_message(api_server):
    """Issue 13: a collect job for a symbol the feed does not know fails with the feed's message;
    retry runs it again (retries 1); retrying a running or finished-ok job is a 409 problem."""
    with api_server.client("admin") as c:
        jid = _collect(c, ["ZZZQ"], "2024-07-01", "2024-07-01")["id"]
        failed = wait_job(c, f"/api/v1/jobs/{jid}")
        assert failed["status"] == "failed" and "ZZZQ" in failed["message"], failed
        r = c.post(f"/api/v1/jobs/{jid}/retry")
        assert r.status_code == 200, r.text
        again = wait_job(c, f"/api/v1/jobs/{jid}", states=("failed",))
        assert again["retries"] == 1 and "ZZZQ" in again["message"]

        ok = _collect(c, ["MSFT"], "2024-07-01", "2024-07-01")["id"]
        assert wait_job(c, f"/api/v1/jobs/{ok}")["status"] == "succeeded"
        for verb in ("retry", "cancel"):
            r = c.post(f"/api/v1/jobs/{ok}/{verb}")
            assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json", r.text
            assert "succeeded" in r.json()["detail"]


def test_job_errors_are_problem_documents_and_changes_need_the_admin_role(api_server):
    """Issue 13: unknown job 404, bad filter 422, viewer/researcher may list but not cancel (403)."""
    with api_server.client("viewer") as c:
        assert c.get("/api/v1/jobs").status_code == 200
        r = c.get("/api/v1/jobs/999999")
        assert r.status_code == 404 and r.json()["detail"] == "no job with id 999999"
        assert c.get("/api/v1/jobs", params={"kind": "nope"}).status_code == 422
        assert c.get("/api/v1/jobs", params={"status": "nope"}).status_code == 422
        assert c.get("/api/v1/jobs/0").status_code == 422
        assert c.post("/api/v1/jobs/1/cancel").status_code == 403
    with api_server.client("researcher") as c:
        assert c.post("/api/v1/jobs/1/retry").status_code == 403
    with api_server.client(None) as c:
        assert c.get("/api/v1/jobs").status_code == 401
