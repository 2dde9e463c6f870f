"""Two instances behind the shipped nginx (two upstream servers) on one private PostgreSQL and one private Redis:
a generation loaded once is served by both within GENERATION_CHECK_INTERVAL, and a response one instance cached is
a response-cache hit on the other. Bounded: one load, a few dozen requests."""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid

import pytest

from api.ingest.loader import load_archive
from tests.conftest import ARCHIVE, copy_archive
from tests.live import Gunicorn, Nginx, PrivatePostgres, PrivateRedis, get, nginx_binary, pg_bindir

pytestmark = pytest.mark.faults

CHECK_INTERVAL = 1.0
NEW_SLUG = "two-instances-see-one-new-generation"
NEW_DOCUMENT = f"""---
slug: {NEW_SLUG}
title: "Two instances see one new generation"
lang: en
issue: 2022-02-28
section: security-issues
position: 9
status: published
published_at: 2022-03-07T10:00:00Z
lead: "A document added to the archive between two loads."
---
Its body, loaded once and served by every instance.
"""


@pytest.fixture(scope="module")
def instances(tmp_path_factory):
    if not pg_bindir() or not shutil.which("redis-server") or not nginx_binary():
        if os.environ.get("REQUIRE_SERVICES"):
            pytest.fail("PostgreSQL binaries, redis-server or nginx missing, and REQUIRE_SERVICES=1 forbids skipping")
        pytest.skip("PostgreSQL server binaries, redis-server or nginx are not installed")
    pg, redis = PrivatePostgres(), PrivateRedis()
    servers: list = []
    proxy = None
    try:
        pg.start()
        redis.start()
        load_archive(ARCHIVE, pg.url, schema="bulletin")
        env = {
            "DATABASE_URL": pg.url,
            "DATABASE_SCHEMA": "bulletin",
            "CACHE_REDIS_URL": redis.url,
            "GENERATION_CHECK_INTERVAL": str(CHECK_INTERVAL),
            "LOG_FORMAT": "json",
            "PUBLIC_BASE_URL": "http://api.test",
        }  # fmt: skip  (one origin: the same links, the same keys)
        servers = [Gunicorn(env, workers=1), Gunicorn(env, workers=1)]
        proxy = Nginx([s.port for s in servers])
        yield {"servers": servers, "proxy": proxy, "pg": pg, "tmp": tmp_path_factory.mktemp("instances")}
    finally:
        if proxy:
            proxy.stop()
        for server in servers:
            server.stop()
        redis.close()
        pg.close()


def _request_lines(server: Gunicorn, query: str) -> list[dict]:
    """The server's JSON request lines (LOG_FORMAT=json) for this exact query string."""
    lines = [json.loads(line) for line in server.log_text().splitlines() if line.startswith("{")]
    return [r for r in lines if r.get("msg") == "request" and r.get("query") == query]


def test_a_response_cached_by_one_instance_is_a_cache_hit_on_the_other(instances):
    first, second = instances["servers"]
    query = f"limit=2&updated_since=2000-01-01T00:00:00.{uuid.uuid4().int % 10**6:06d}Z"  # a key new to Redis
    status, headers, body = get(first.port, f"/v1/articles?{query}")
    assert status == 200
    status2, headers2, body2 = get(second.port, f"/v1/articles?{query}")
    assert (status2, body2, headers2.get("etag")) == (200, body, headers.get("etag"))
    deadline = time.monotonic() + 5
    while not (_request_lines(first, query) and _request_lines(second, query)) and time.monotonic() < deadline:
        time.sleep(0.05)  # the log lines are written after the response
    assert [r["cache"] for r in _request_lines(first, query)] == ["none"]  # computed by the first instance
    assert [r["cache"] for r in _request_lines(second, query)] == ["response"]  # the second read it from Redis


def test_a_new_generation_is_served_by_both_within_the_check_interval(instances):
    servers, proxy, pg = instances["servers"], instances["proxy"], instances["pg"]
    before = {json.loads(get(s.port, "/readyz")[2])["generation"] for s in servers}
    assert len(before) == 1
    archive = copy_archive(instances["tmp"], ARCHIVE)
    (archive / "2022-02-28" / f"{NEW_SLUG}.en.md").write_text(NEW_DOCUMENT, encoding="utf-8")
    assert get(proxy.port, f"/v1/articles/{NEW_SLUG}")[0] == 404
    report = load_archive(archive, pg.url, schema="bulletin")
    loaded = time.monotonic()
    assert report.rejected == [] and report.generation[:20] not in before
    seen: dict[int, float] = {}
    while len(seen) < len(servers) and time.monotonic() - loaded < CHECK_INTERVAL + 2:
        for server in servers:
            if (
                server.port not in seen
                and json.loads(get(server.port, "/readyz")[2])["generation"] == (report.generation[:20])
            ):
                seen[server.port] = time.monotonic() - loaded
        time.sleep(0.02)
    assert len(seen) == len(servers), f"served the new generation: {seen}"
    # Within the interval, plus the time a poll takes on a shared machine.
    assert max(seen.values()) <= CHECK_INTERVAL + 0.5, seen
    for server in servers:
        assert get(server.port, f"/v1/articles/{NEW_SLUG}")[0] == 200
    # Through nginx (round robin over the two upstream servers): both instances answer the new article.
    shapes = [f"fields={f}" for f in ("title", "lead", "lang", "url")]  # four new cache keys
    statuses = [get(proxy.port, f"/v1/articles/{NEW_SLUG}?{q}")[0] for q in shapes]
    assert statuses == [200] * 4
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        answered = [[q for q in shapes if _request_lines(s, q)] for s in servers]
        if sum(map(len, answered)) == 4:
            break
        time.sleep(0.05)
    assert all(answered) and sum(map(len, answered)) == 4, answered
