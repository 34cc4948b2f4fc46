"""Issue 13: API rate limits per key and route group — 429 with Retry-After — counted in memory, and in
Redis where they survive a restart of the server; stream connections have their own limit."""

from __future__ import annotations

import pytest

LIMIT = 5


def _calls(server, who: str, path: str, n: int) -> list:
    with server.client(who) as c:
        return [c.get(path) for _ in range(n)]


def _assert_limited(responses) -> None:
    assert [r.status_code for r in responses[:LIMIT]] == [200] * LIMIT, [r.text for r in responses[:LIMIT]]
    over = responses[LIMIT]
    assert over.status_code == 429
    assert over.headers["content-type"].startswith("application/problem+json")
    assert 1 <= int(over.headers["Retry-After"]) <= 60
    assert "rate limit" in over.json()["detail"] and over.json()["status"] == 429


def test_memory_limit_answers_429_with_retry_after_per_key_and_group(start_api_server):
    """Issue 13: past TICKDECK_API_LIMIT calls of one key in one route group the server answers 429
    with Retry-After; another key, and the same key in another group, are not held back."""
    server = start_api_server(env={"TICKDECK_API_LIMIT": f"{LIMIT} per minute"})
    _assert_limited(_calls(server, "viewer", "/api/v1/me", LIMIT + 1))
    assert _calls(server, "researcher", "/api/v1/me", 1)[0].status_code == 200  # another key
    assert _calls(server, "admin", "/api/v1/keys", 1)[0].status_code == 200
    assert _calls(server, "viewer", "/healthz", 1)[0].status_code == 200  # health checks are never limited


def test_stream_connections_are_limited_separately(start_api_server):
    """Issue 13: WebSocket connections count against TICKDECK_API_STREAM_LIMIT; past it the upgrade is
    answered 429 with Retry-After (skipped until a stream route exists)."""
    from tickdeck.app.api import api_routes, create_api
    from tickdeck.core.config import Settings

    streams = [p for m, p, _ in api_routes(create_api(Settings(data_dir="/nonexistent"), lambda: None))
               if m == "WS" and "{" not in p]
    assert streams, "the API has WebSocket streams without path parameters (/ws/v1, /ws/ticks, …)"
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    server = start_api_server(env={"TICKDECK_API_STREAM_LIMIT": "2 per minute"})
    url = server.url.replace("http://", "ws://") + streams[0]
    headers = {"Authorization": f"Bearer {server.keys['viewer']}"}
    for _ in range(2):
        with connect(url, additional_headers=headers, open_timeout=60):
            pass
    with pytest.raises(InvalidStatus) as refused:
        connect(url, additional_headers=headers, open_timeout=60)
    assert refused.value.response.status_code == 429 and int(refused.value.response.headers["Retry-After"]) >= 1


@pytest.mark.redis
def test_redis_limit_is_shared_and_survives_a_server_restart(start_api_server, redis_url):
    """Issue 13: with TICKDECK_REDIS_URL the counts live in Redis: a restarted server (a new process)
    still refuses the key that used up its limit, which a per-process memory count could not do."""
    import redis

    r = redis.Redis.from_url(redis_url)
    for key in r.scan_iter("*tickdeck-api*"):  # counts left by an earlier run of this test
        r.delete(key)
    env = {"TICKDECK_API_LIMIT": f"{LIMIT} per minute", "TICKDECK_REDIS_URL": redis_url}
    first = start_api_server(env=env)
    assert all(x.status_code == 200 for x in _calls(first, "viewer", "/api/v1/me", LIMIT))
    assert any(b"tickdeck-api" in k for k in r.scan_iter("*tickdeck-api*"))
    first.proc.terminate()
    first.proc.wait(timeout=30)
    second = start_api_server(env=env)
    refused = _calls(second, "viewer", "/api/v1/me", 1)[0]
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert _calls(second, "researcher", "/api/v1/me", 1)[0].status_code == 200
