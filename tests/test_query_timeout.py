"""QUERY_TIMEOUT_MS: a query that runs too long is cut (SQLite progress handler, PostgreSQL statement_timeout) and
the request gets a 503 problem quickly; the worker is not stuck and answers the next request.

The sample archive is too small for any API query to be slow, so the expensive query runs in a view added to the
test app only, through the same Store.session the API's views use (and the same error handler)."""

from __future__ import annotations

import time

import orjson
from sqlalchemy import text

from api.http import cached_endpoint
from api.ingest.loader import load_archive
from schemas.args import ItemArgs
from tests.conftest import ARCHIVE, make_app
from tests.live import Gunicorn, get

# Counts to a billion: minutes of work on either backend unless the deadline stops it.
EXPENSIVE = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) SELECT count(*) FROM c"
)


def add_expensive_view(app):
    """`/test/expensive`: a cached endpoint whose query runs for minutes unless the deadline cuts it."""

    @cached_endpoint(ItemArgs())
    def expensive(session, ctx):
        return {"count": session.execute(text(EXPENSIVE)).scalar()}

    app.add_url_rule("/test/expensive", "expensive", expensive)
    return app


def app_with_expensive_view(loaded, timeout_ms: int):
    return add_expensive_view(make_app(loaded, QUERY_TIMEOUT_MS=timeout_ms))


def test_expensive_query_is_cut_503_quickly_and_worker_answers_next(loaded):
    app = app_with_expensive_view(loaded, timeout_ms=200)
    client = app.test_client()
    for _ in range(3):  # repeatedly: the connection returned to the pool must stay usable
        start = time.monotonic()
        resp = client.get("/test/expensive")
        elapsed = time.monotonic() - start
        assert resp.status_code == 503
        assert resp.mimetype == "application/problem+json"
        assert resp.get_json()["status"] == 503
        assert int(resp.headers["Retry-After"]) > 0
        assert resp.headers["Cache-Control"] == "no-store"
        assert elapsed < 1.5, elapsed  # 200 ms deadline plus overhead, not minutes
        after = client.get("/v1/articles?limit=2&from=2000-01-01")  # uncached: reaches the database
        assert after.status_code == 200 and len(after.get_json()["data"]) == 2
    app.extensions["store"].dispose()


def test_normal_queries_are_not_cut_by_the_deadline(loaded):
    app = make_app(loaded, QUERY_TIMEOUT_MS=200)
    client = app.test_client()
    for url in ("/v1/issues", "/v1/articles?q=military", "/v1/trends/timeline", "/v1/changes", "/v1/feed.atom"):
        assert client.get(url).status_code == 200, url
    app.extensions["store"].dispose()


def test_expensive_query_through_gunicorn_is_a_503_and_the_one_worker_is_not_stuck(tmp_path):
    """On the real server (one sync worker, SQLite): the cut query is a 503 problem well before gunicorn's 30 s worker
    timeout, and the same worker process answers the next requests; nothing is restarted."""
    store = tmp_path / "store.sqlite"
    load_archive(ARCHIVE, f"sqlite:///{store}")
    server = Gunicorn({"DATABASE_URL": f"sqlite:///{store}", "QUERY_TIMEOUT_MS": "200"}, workers=1,
                      app="tests.slow_app:app")  # fmt: skip
    try:
        pids = server.worker_pids()
        for _ in range(3):
            start = time.monotonic()
            status, headers, body = get(server.port, "/test/expensive", timeout=10)
            elapsed = time.monotonic() - start
            assert status == 503 and headers["content-type"] == "application/problem+json"
            assert orjson.loads(body)["status"] == 503 and int(headers["retry-after"]) > 0
            assert elapsed < 1.5, elapsed
            assert get(server.port, "/v1/articles?limit=2&from=2000-01-01")[0] == 200
        assert server.worker_pids() == pids
        assert "WORKER TIMEOUT" not in server.log_text()
    finally:
        server.stop()
