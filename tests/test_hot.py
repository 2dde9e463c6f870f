"""The hot path (api/hot.py), on both backends: a replayed response is byte-for-byte the app's own answer, and
it never outlives its generation, an embargo end, the store, or the rate limiter."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest

from api.ingest.loader import load_archive
from tests.conftest import ARCHIVE, SEED_SLUG, copy_archive, make_app

EMBARGO_END = dt.datetime(2099, 1, 1, 9, 0, tzinfo=dt.UTC)

URLS = [
    "/v1",
    "/v1/issues",
    "/v1/issues/2022-02-14",
    "/v1/issues/latest",
    "/v1/articles?limit=3",
    "/v1/articles?section=economy&lang=en",
    "/v1/articles?q=sanctions&fields=title,snippet",
    f"/v1/articles/{SEED_SLUG}",
    f"/v1/articles/{SEED_SLUG}?format=blocks",
    "/v1/sections",
    "/v1/sections/economy/articles",
    "/v1/trends",
    "/v1/trends/timeline",
    "/v1/feed.atom",
    "/v1/feed.json",
    "/v1/changes",
    "/v1/openapi.json",
    "/",
]
HEADER_SETS = [
    {},
    {"Accept-Encoding": "gzip, deflate, br"},
    {"Accept-Encoding": "gzip"},
    {"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"},
    {"Accept-Language": "be", "Accept-Encoding": "br", "Origin": "https://partner.example"},
]


def _answer(resp) -> tuple:
    headers = sorted((k, v) for k, v in resp.headers.items() if k not in ("Date", "X-Request-Id"))  # per request
    return resp.status_code, headers, resp.get_data()


@pytest.fixture
def hot_app(app):
    """The app as configured by default, hot path on."""
    return app


@pytest.fixture
def plain_app(loaded):
    app = make_app(loaded, HOT_CACHE_MAX_BYTES=0)
    yield app
    app.extensions["store"].dispose()


def test_hot_replay_is_byte_identical_to_the_app(hot_app, plain_app):
    hot, plain = hot_app.test_client(), plain_app.test_client()
    assert "hot_path" not in plain_app.extensions
    for url in URLS:
        for headers in HEADER_SETS:
            first = hot.get(url, headers=headers)
            assert first.status_code == 200, url
            hits = hot_app.extensions["hot_path"].hits
            replayed = hot.get(url, headers=headers)
            assert hot_app.extensions["hot_path"].hits == hits + 1, (url, headers)
            assert _answer(replayed) == _answer(first) == _answer(plain.get(url, headers=headers)), (url, headers)
            head = hot.head(url, headers=headers)
            assert hot_app.extensions["hot_path"].hits == hits + 2
            assert (head.status_code, head.headers["Content-Length"]) == (200, first.headers["Content-Length"])
            assert head.get_data() == b""


def test_hot_304_matches_the_app_304(hot_app, plain_app):
    hot, plain = hot_app.test_client(), plain_app.test_client()
    for url in URLS:
        etag = hot.get(url).headers["ETag"]
        hits = hot_app.extensions["hot_path"].hits
        for inm in (etag, f'"other", {etag}', etag.removeprefix("W/")):
            replayed = hot.get(url, headers={"If-None-Match": inm})
            assert replayed.status_code == 304, url
            assert replayed.get_data() == b""
            assert _answer(replayed) == _answer(plain.get(url, headers={"If-None-Match": inm})), url
        assert hot_app.extensions["hot_path"].hits == hits + 3
        assert hot.get(url, headers={"If-None-Match": '"stale"'}).status_code == 200


def test_hot_conditional_forms_it_cannot_prove_go_to_the_app(hot_app):
    client = hot_app.test_client()
    first = client.get("/v1/issues")
    hits = hot_app.extensions["hot_path"].hits
    assert client.get("/v1/issues", headers={"If-Modified-Since": first.headers["Last-Modified"]}).status_code == 304
    assert client.get("/v1/issues", headers={"If-None-Match": "*"}).status_code == 304
    assert client.get("/v1/articles/no-such-slug", headers={"If-None-Match": "*"}).status_code == 404
    assert hot_app.extensions["hot_path"].hits == hits


def test_hot_errors_are_never_kept(hot_app):
    client = hot_app.test_client()
    for url in ("/v1/articles/no-such-slug", "/v1/articles?limit=0", "/v1/articles?nope=1", "/v1/nothing-here"):
        assert client.get(url).status_code in (400, 404)
        assert client.get(url).status_code in (400, 404)
    assert hot_app.extensions["hot_path"].hits == 0


def test_hot_new_generation_is_served_at_once(scratch_store, tmp_path):
    archive = copy_archive(tmp_path, ARCHIVE)
    load_archive(archive, scratch_store["DATABASE_URL"], schema=scratch_store["DATABASE_SCHEMA"])
    app = make_app(scratch_store)
    client = app.test_client()
    before = client.get("/v1/issues")
    assert client.get("/v1/issues").get_data() == before.get_data()
    assert app.extensions["hot_path"].hits == 1
    shutil.rmtree(archive / "2022-01-31")
    load_archive(archive, scratch_store["DATABASE_URL"], schema=scratch_store["DATABASE_SCHEMA"])
    after = client.get("/v1/issues", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    assert after.get_json()["meta"]["total"] == before.get_json()["meta"]["total"] - 1
    assert app.extensions["hot_path"].hits == 1
    app.extensions["store"].dispose()


def test_hot_store_gone_is_503_not_a_replay(tmp_path):
    path = tmp_path / "store.sqlite"
    load_archive(ARCHIVE, f"sqlite:///{path}")
    app = make_app({"DATABASE_URL": f"sqlite:///{path}", "CACHE_REDIS_URL": None})
    client = app.test_client()
    assert client.get("/v1/issues").status_code == 200
    path.unlink()
    resp = client.get("/v1/issues")
    assert resp.status_code == 503
    assert resp.mimetype == "application/problem+json"
    app.extensions["store"].dispose()


def test_hot_never_replays_near_an_embargo_end(hot_app, frozen_clock):
    client = hot_app.test_client()
    horizon = max(hot_app.config["CACHE_MAX_AGE"], hot_app.config["CACHE_S_MAXAGE"])
    frozen_clock(EMBARGO_END - dt.timedelta(seconds=horizon + 10))
    client.get("/v1/articles?limit=1")
    assert client.get("/v1/articles?limit=1").status_code == 200
    assert hot_app.extensions["hot_path"].hits == 1
    frozen_clock(EMBARGO_END - dt.timedelta(seconds=30))  # same generation, but lifetimes must shrink now
    resp = client.get("/v1/articles?limit=1")
    assert "max-age=30," in resp.headers["Cache-Control"] and "s-maxage=30," in resp.headers["Cache-Control"]
    assert client.get("/v1/articles?limit=1").headers["Cache-Control"] == resp.headers["Cache-Control"]
    assert hot_app.extensions["hot_path"].hits == 1


def test_hot_path_is_off_while_rate_limiting(loaded):
    app = make_app(loaded, RATELIMIT_ENABLED=True, RATELIMIT_DEFAULT="3 per minute")
    assert "hot_path" not in app.extensions
    client = app.test_client()
    statuses = [client.get("/v1/issues", environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    app.extensions["store"].dispose()


def test_hot_memory_is_bounded(loaded):
    budget = 64 * 1024
    app = make_app(loaded, HOT_CACHE_MAX_BYTES=budget)
    client = app.test_client()
    for limit in range(1, 60):
        assert client.get(f"/v1/articles?limit={limit}").status_code == 200
    stats = app.extensions["hot_path"].stats()
    assert 0 < stats["bytes"] <= budget
    assert stats["entries"] < 59
    app.extensions["store"].dispose()
