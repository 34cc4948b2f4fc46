"""Issue 13: validation over HTTP on a real server with the collected demo data — GET /validate/… equals
core's validate_day, POST /quality/validate runs as a job (202 + Location) that scores the days,
GET /quality/{symbol} and GET /gaps/{symbol} equal core's reports."""

from __future__ import annotations

import pytest

from api_ops import wait_job
from tickdeck.core.validation import VALIDATORS

DAY = "2024-07-02"


@pytest.fixture(scope="module")
def store_ctx(api_server):
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context

    ctx = Context.open(Settings(data_dir=api_server.data_dir))
    yield ctx
    ctx.close()


def _summary(report: dict) -> list:
    return [(r["validator"], r["status"], [(i["severity"], i["code"], i["rows"]) for i in r["issues"]])
            for r in report["results"]]


def _core_summary(report) -> list:
    return [(r.validator, r.status, [(i.severity, i.code, i.rows) for i in r.issues]) for r in report.results]


@pytest.mark.parametrize("validator", ["session", "storage", "timezone", "continuity", "all"])
def test_validate_answers_what_core_validate_day_answers(api_server, store_ctx, validator):
    """Issue 13: GET /validate/{validator}/AAPL/{day} (fresh run, use_cache=false) has the same validators,
    statuses and issues as core.validation.validate_day on the same stored day."""
    from tickdeck.core.validation import validate_day

    with api_server.client("viewer") as c:
        r = c.get(f"/api/v1/validate/{validator}/AAPL/{DAY}", params={"use_cache": "false"})
    assert r.status_code == 200, r.text
    body = r.json()
    want = validate_day(store_ctx, "AAPL", DAY, types=None if validator == "all" else validator, use_cache=False)
    assert body["symbol"] == "AAPL" and body["day"] == DAY and body["cached"] is False
    assert body["status"] == want.status and body["data_version"] == want.data_version
    assert _summary(body) == _core_summary(want)
    if validator == "all":
        assert [x["validator"] for x in body["results"]] == list(VALIDATORS)
    else:
        assert [x["validator"] for x in body["results"]] == [validator]


def test_validate_reuses_stored_results_like_core(api_server, store_ctx):
    """Issue 13: with the cache (the default) the answer is the stored result core's cache returns."""
    from tickdeck.core.validation import validate_day

    with api_server.client("viewer") as c:
        body = c.get(f"/api/v1/validate/all/MSFT/{DAY}").json()
    want = validate_day(store_ctx, "MSFT", DAY)
    assert body["cached"] is True and want.cached is True
    assert _summary(body) == _core_summary(want)


def test_validate_problems(api_server):
    """Issue 13: an unknown validator or a bad date is 422, an unknown symbol or a day without data 404."""
    with api_server.client("viewer") as c:
        cases = [(f"/api/v1/validate/volume/AAPL/{DAY}", 422), ("/api/v1/validate/all/AAPL/2024-02-30", 422),
                 (f"/api/v1/validate/all/NOPE/{DAY}", 404), ("/api/v1/validate/all/AAPL/2024-07-05", 404)]
        for path, status in cases:
            r = c.get(path)
            assert r.status_code == status and r.headers["content-type"] == "application/problem+json", (path, r.text)


def test_quality_lists_each_stored_days_score_and_components(api_server, store_ctx):
    """Issue 13: GET /quality/AAPL gives every stored day's score (the catalog's quality_score) with its four
    components and band, and their mean."""
    from tickdeck.core.quality_scale import quality_band

    with api_server.client("viewer") as c:
        q = c.get("/api/v1/quality/AAPL").json()
        one = c.get("/api/v1/quality/AAPL", params={"start": DAY, "end": DAY}).json()
    rows = store_ctx.catalog.tick_days("AAPL")
    assert [(d["day"], d["score"]) for d in q["days"]] == [(r.day.isoformat(), r.quality_score) for r in rows]
    for d in q["days"]:
        assert d["score"] is not None and d["band"] == quality_band(d["score"])
        parts = [d[k] for k in ("completeness", "accuracy", "timeliness", "consistency")]
        assert all(0 <= p <= 100 for p in parts)
        assert d["score"] == pytest.approx(0.3 * parts[0] + 0.3 * parts[1] + 0.1 * parts[2] + 0.3 * parts[3],
                                           abs=0.05)
    assert q["mean"] == pytest.approx(sum(r.quality_score for r in rows) / len(rows), abs=0.01)
    assert [d["day"] for d in one["days"]] == [DAY]
    with api_server.client("viewer") as c:
        assert c.get("/api/v1/quality/NOPE").status_code == 404
        assert c.get("/api/v1/quality/AAPL", params={"start": DAY, "end": "2024-07-01"}).status_code == 422


def test_gaps_equal_the_continuity_validators_and_name_missing_days(api_server, store_ctx):
    """Issue 13: GET /gaps/AAPL lists the continuity validator's gaps (same start, end, severity) and a
    trading day with nothing stored as a HIGH missing_day; min_severity keeps only worse ones."""
    from tickdeck.core.validation import validate_day

    start, end = "2024-06-28", DAY  # 06-28 is a trading day nothing was collected for
    with api_server.client("viewer") as c:
        body = c.get("/api/v1/gaps/AAPL", params={"start": start, "end": end}).json()
        high = c.get("/api/v1/gaps/AAPL", params={"start": start, "end": end, "min_severity": "HIGH"}).json()
    missing = [g for g in body["gaps"] if g["kind"] == "missing_day"]
    assert [(g["day"], g["severity"]) for g in missing] == [("2024-06-28", "HIGH")]
    for day in ("2024-07-01", DAY):
        listed = validate_day(store_ctx, "AAPL", day).result("continuity").metrics["gap_list"]
        got = [(g["start"], g["end"], g["severity"], g["session"]) for g in body["gaps"] if g["day"] == day]
        assert sorted(got) == sorted((g["start"], g["end"], g["severity"], g["session"]) for g in listed)
    assert sum(body["counts"].values()) == len(body["gaps"])
    assert all(g["severity"] in ("CRITICAL", "HIGH") for g in high["gaps"]) and missing[0] in high["gaps"]
    assert set(high["counts"]) == {"CRITICAL", "HIGH"}


def test_quality_validate_runs_a_scoring_job_and_follows_its_location(api_server, store_ctx):
    """Issue 13: POST /quality/validate (researcher) answers 202 with Location of a validate job over the
    stored days of the range; the job validates and scores them (GET /quality shows the new scoring time);
    the call is audited with the key's name. A viewer is refused (403); an unknown symbol is 404."""
    from api_ops import assert_audited_once

    with api_server.client("viewer") as c:
        before = {d["day"]: d["scored_at"] for d in c.get("/api/v1/quality/MSFT").json()["days"]}
        assert c.post("/api/v1/quality/validate", json={"symbol": "MSFT", "start": "2024-06-01",
                                                        "end": DAY}).status_code == 403
    with api_server.client("researcher") as c:
        r = c.post("/api/v1/quality/validate", json={"symbol": "msft", "start": "2024-06-01", "end": DAY})
        assert r.status_code == 202, r.text
        location = r.headers["location"]
        assert location == r.json()["location"] == f"/api/v1/jobs/{r.json()['job']['id']}"
        assert r.json()["job"]["params"] == {"symbol": "MSFT", "days": ["2024-07-01", DAY], "score": True}
        done = wait_job(c, location)
        assert done["status"] == "succeeded", done
        assert set(done["result"]["scores"]) == {"MSFT/2024-07-01", f"MSFT/{DAY}"}
        after = {d["day"]: d for d in c.get("/api/v1/quality/MSFT").json()["days"]}
        assert c.post("/api/v1/quality/validate", json={"symbol": "NOPE", "start": DAY}).status_code == 404
        assert c.post("/api/v1/quality/validate", json={"symbol": "MSFT", "start": DAY, "end": "2024-07-01"}
                      ).status_code == 422
    for day, d in after.items():
        assert d["scored_at"] > before[day]
        assert d["score"] == pytest.approx(done["result"]["scores"][f"MSFT/{day}"])
    assert_audited_once(api_server, "quality.validate", "researcher", days=2, start="2024-07-01", end=DAY)
