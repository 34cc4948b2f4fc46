"""Issue 13: /admin and /pipeline over a real server on demo data collected from the emulator:
health check, data freshness, pipeline health, retention as a dry run then confirmed, a backfill
job, and the indicators placeholders (404 until the indicators engine stores series)."""

from __future__ import annotations

from api_ops import assert_audited_once, audit_rows, wait_job


def test_health_check_data_status_and_pipeline_health(api_server):
    """Issue 13: tickdeck.core.health, tickdeck.core.status and tickdeck.core.pipeline_health as JSON, for a viewer."""
    with api_server.client("viewer") as c:
        h = c.get("/api/v1/admin/health-check")
        assert h.status_code == 200, h.text
        checks = {x["name"]: x["status"] for x in h.json()["checks"]}
        assert {"arcticdb", "sql", "disk"} <= set(checks) and checks["sql"] == "ok"
        assert h.json()["library_bytes"]["ticks"] > 0

        d = c.get("/api/v1/admin/data-status").json()
        by = {x["symbol"]: x for x in d["datasets"]}
        assert set(api_server.symbols) <= set(by)
        assert by["AAPL"]["last_day"] == "2024-07-02" and by["AAPL"]["state"] in ("stale", "outdated")
        assert sum(d["counts"].values()) == len(d["datasets"])

        p = c.get("/api/v1/pipeline/health").json()
        assert set(p["jobs"]) >= {"pending", "running", "failed", "succeeded"}
        assert {"live", "alerts"} <= {s["name"] for s in p["services"]} and p["supervisor_alive"] is True
        written = {(d["symbol"], d["day"]) for d in p["last_days_written"]}
        assert {(s, str(day)) for s in api_server.symbols for day in api_server.days} <= written
        assert p["status"] in ("ok", "degraded") and isinstance(p["issues"], list)
        assert p["dead_letters_new"] >= 0


def test_indicators_are_not_found_until_stored(api_server):
    """Issue 13: placeholders answer 404 problem+json 'no indicators stored'."""
    with api_server.client("viewer") as c:
        for group in ("market-breadth", "options-flow", "derived-metrics"):
            r = c.get(f"/api/v1/indicators/{group}")
            assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
            assert r.json()["detail"].startswith(f"no indicators stored for {group}")


def test_backfill_is_a_job_and_admin_actions_need_the_admin_role(api_server):
    """Issue 13: POST /admin/backfill answers 202 with its job's Location; the job succeeds (the days
    are there, nothing to queue); viewers and researchers get 403; a half range is 422."""
    with api_server.client("admin") as c:
        r = c.post("/api/v1/admin/backfill", json={"symbols": ["AAPL"], "start": "2024-07-01", "end": "2024-07-02"})
        assert r.status_code == 202, r.text
        job = wait_job(c, r.headers["location"])
        assert job["kind"] == "backfill" and job["status"] == "succeeded", job
        assert c.post("/api/v1/admin/backfill", json={"start": "2024-07-01"}).status_code == 422
    assert_audited_once(api_server, "admin.backfill", symbols=["AAPL"])
    for who in ("viewer", "researcher"):
        with api_server.client(who) as c:
            assert c.post("/api/v1/admin/cleanup").status_code == 403
            assert c.post("/api/v1/admin/backfill", json={}).status_code == 403


def test_cleanup_is_a_dry_run_unless_confirmed(api_server):
    """Issue 13: with a one-day tick retention the dry run lists the demo days and deletes nothing;
    confirm=true deletes them; both audited once."""
    from tickdeck.core.catalog import Catalog
    from tickdeck.core.config import Settings

    catalog = Catalog(Settings(data_dir=api_server.data_dir).sql_url)
    try:
        catalog.set_config("retention", {"ticks": 1})
        days = {f"{s}/{d}" for s in api_server.symbols for d in api_server.days}
        with api_server.client("admin") as c:
            dry = c.post("/api/v1/admin/cleanup")
            assert dry.status_code == 200 and dry.json()["dry_run"] is True, dry.text
            assert days <= set(dry.json()["tick_days"]) and dry.json()["bytes_freed"] > 0
            assert {(r.symbol, str(r.day)) for r in catalog.tick_days()} >= {tuple(x.split("/")) for x in days}

            done = c.post("/api/v1/admin/cleanup", params={"confirm": "true"})
            assert done.status_code == 200 and done.json()["dry_run"] is False, done.text
            assert set(done.json()["tick_days"]) == set(dry.json()["tick_days"])
            left = {(r.symbol, str(r.day)) for r in catalog.tick_days()}
            assert not left & {tuple(x.split("/")) for x in days}
            assert c.post("/api/v1/admin/cleanup").json()["tick_days"] == []
    finally:
        catalog.engine.dispose()
    assert_audited_once(api_server, "admin.cleanup", dry_run=False)
    assert len(audit_rows(api_server, "admin.cleanup.dry_run")) == 2
