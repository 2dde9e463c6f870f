"""Rate limiting (Flask-Limiter): off by default, per client when on, standard headers, 429 problem with Retry-After,
shared Redis storage across instances, and a limiter storage that is down or frozen fails open, logged once."""

from __future__ import annotations

import logging
import time
import uuid

import pytest
import redis as redis_lib

from tests.conftest import REDIS_ADDRESS, REDIS_URL, make_app, require_program, require_service
from tests.live import PrivateRedis

URL = "/v1/issues"


def limited(loaded, limit: str = "5 per minute", **extra):
    app = make_app(loaded, RATELIMIT_ENABLED=True, RATELIMIT_DEFAULT=limit, **extra)
    return app


def test_off_by_default(loaded):
    app = make_app(loaded)
    client = app.test_client()
    for _ in range(40):
        resp = client.get(URL)
        assert resp.status_code == 200
        assert not [k for k, _ in resp.headers.items() if "ratelimit" in k.lower()]
    app.extensions["store"].dispose()


def test_limit_headers_and_429_problem_with_retry_after(loaded):
    app = limited(loaded)
    client = app.test_client()
    now = time.time()
    for expected_remaining in (4, 3, 2, 1, 0):
        resp = client.get(URL)
        assert resp.status_code == 200
        assert resp.headers["X-RateLimit-Limit"] == "5"
        assert int(resp.headers["X-RateLimit-Remaining"]) == expected_remaining
        assert now < int(resp.headers["X-RateLimit-Reset"]) <= now + 61
    refused = client.get(URL)
    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    body = refused.get_json()
    assert body["status"] == 429 and body["title"] == "Too Many Requests"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert refused.headers["Cache-Control"] == "no-store"
    assert refused.headers["X-Content-Type-Options"] == "nosniff"
    # A revalidation is a request like any other: refused too (a 304 must not bypass the limit).
    assert client.get(URL, headers={"If-None-Match": "*"}).status_code == 429
    app.extensions["store"].dispose()


def test_limit_is_per_client_and_probes_are_exempt(loaded):
    app = limited(loaded, "2 per minute")
    client = app.test_client()
    a = {"REMOTE_ADDR": "192.0.2.1"}
    b = {"REMOTE_ADDR": "192.0.2.2"}
    assert [client.get(URL, environ_base=a).status_code for _ in range(3)] == [200, 200, 429]
    other = client.get(URL, environ_base=b)
    assert other.status_code == 200 and other.headers["X-RateLimit-Remaining"] == "1"
    # Load-balancer probes from the limited address are never refused.
    for _ in range(5):
        assert client.get("/healthz", environ_base=a).status_code == 200
        assert client.get("/readyz", environ_base=a).status_code == 200
    app.extensions["store"].dispose()


def test_behind_a_trusted_proxy_the_limit_is_per_forwarded_client(loaded):
    proxy = {"REMOTE_ADDR": "127.0.0.1"}
    a, b = {"X-Forwarded-For": "198.51.100.7"}, {"X-Forwarded-For": "198.51.100.8"}
    app = limited(loaded, "2 per minute", TRUSTED_PROXIES=1, TRUST_FORWARDED_HOST=True)
    client = app.test_client()
    assert [client.get(URL, headers=a, environ_base=proxy).status_code for _ in range(3)] == [200, 200, 429]
    assert client.get(URL, headers=b, environ_base=proxy).status_code == 200
    forwarded = client.get(URL, headers={**b, "X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.example"})
    assert forwarded.get_json()["links"]["first"].startswith("https://api.example/v1/issues")
    app.extensions["store"].dispose()
    # Without TRUSTED_PROXIES the forwarded header is ignored: every client behind the proxy shares one limit.
    app = limited(loaded, "2 per minute")
    client = app.test_client()
    assert client.get(URL, headers=a, environ_base=proxy).status_code == 200
    assert client.get(URL, headers=b, environ_base=proxy).status_code == 200
    assert client.get(URL, headers={"X-Forwarded-For": "198.51.100.9"}, environ_base=proxy).status_code == 429
    app.extensions["store"].dispose()


@pytest.mark.redis
def test_redis_storage_is_shared_by_instances(loaded):
    require_service("Redis", *REDIS_ADDRESS)
    prefix = f"rltest-{uuid.uuid4().hex[:10]}"
    settings = {"RATELIMIT_STORAGE_URI": REDIS_URL, "RATELIMIT_KEY_PREFIX": prefix}
    one, two = limited(loaded, "3 per minute", **settings), limited(loaded, "3 per minute", **settings)
    try:
        assert one.test_client().get(URL).headers["X-RateLimit-Remaining"] == "2"
        assert two.test_client().get(URL).headers["X-RateLimit-Remaining"] == "1"  # the count is shared
        assert one.test_client().get(URL).status_code == 200
        assert two.test_client().get(URL).status_code == 429
        keys = list(redis_lib.Redis.from_url(REDIS_URL).scan_iter(f"*{prefix}*"))
        assert keys, "the limiter wrote no key to Redis"
    finally:
        client = redis_lib.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"*{prefix}*"):  # only this test's keys; never a flush of the shared server
            client.delete(key)
        for app in (one, two):
            app.extensions["store"].dispose()


def test_storage_down_fails_open_and_logs_once(loaded, caplog):
    app = limited(loaded, "3 per minute", RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0")
    client = app.test_client()
    with caplog.at_level(logging.INFO):
        statuses = [client.get(URL).status_code for _ in range(6)]
    # Fail open: no error; the limit is still counted, per process, in memory until the storage returns.
    assert statuses == [200, 200, 200, 429, 429, 429]
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "falling back to in-memory" in warnings[0].getMessage()
    app.extensions["store"].dispose()


def test_storage_frozen_costs_a_short_timeout_not_a_stuck_worker(loaded):
    require_program("redis-server")
    server = PrivateRedis()
    server.start()
    try:
        app = limited(loaded, "100 per minute", RATELIMIT_STORAGE_URI=server.url)
        client = app.test_client()
        assert client.get(URL).headers["X-RateLimit-Remaining"] == "99"
        server.freeze()
        for _ in range(5):
            start = time.monotonic()
            resp = client.get(URL)
            assert resp.status_code == 200
            assert time.monotonic() - start < 1.0
        app.extensions["store"].dispose()
    finally:
        server.close()
