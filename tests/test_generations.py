"""Store generations and the response cache: reloads seen without a restart, cache outages degrade, not fail."""

from __future__ import annotations

import shutil

from api.ingest.loader import load_archive
from tests.conftest import ARCHIVE, copy_archive, make_app


def test_reload_new_generation_served_without_restart(scratch_store, tmp_path):
    archive = copy_archive(tmp_path, ARCHIVE)
    load_archive(archive, scratch_store["DATABASE_URL"], schema=scratch_store["DATABASE_SCHEMA"])
    app = make_app(scratch_store)
    client = app.test_client()
    before = client.get("/v1/issues")
    assert before.status_code == 200
    assert before.get_json()["meta"]["total"] == 5
    shutil.rmtree(archive / "2022-01-31")
    load_archive(archive, scratch_store["DATABASE_URL"], schema=scratch_store["DATABASE_SCHEMA"])
    after = client.get("/v1/issues", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    assert after.get_json()["meta"]["total"] == 4
    assert after.headers["ETag"] != before.headers["ETag"]
    assert after.get_json()["meta"]["generation"] != before.get_json()["meta"]["generation"]
    app.extensions["store"].dispose()


def test_reload_same_archive_keeps_generation_and_etags(scratch_store):
    first = load_archive(ARCHIVE, scratch_store["DATABASE_URL"], schema=scratch_store["DATABASE_SCHEMA"])
    app = make_app(scratch_store)
    etags = {u: app.test_client().get(u).headers["ETag"] for u in ("/v1/issues", "/v1/articles?limit=3")}
    second = load_archive(ARCHIVE, scratch_store["DATABASE_URL"], schema=scratch_store["DATABASE_SCHEMA"])
    assert second.generation == first.generation
    assert {u: app.test_client().get(u).headers["ETag"] for u in etags} == etags
    app.extensions["store"].dispose()


def test_cache_redis_unreachable_serves_uncached(loaded):
    app = make_app(loaded, CACHE_REDIS_URL="redis://127.0.0.1:1/0")
    client = app.test_client()
    for _ in range(3):
        resp = client.get("/v1/articles?limit=2")
        assert resp.status_code == 200
        assert len(resp.get_json()["data"]) == 2
    app.extensions["store"].dispose()


def test_store_missing_is_503_problem(tmp_path):
    app = make_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'absent.sqlite'}", "CACHE_REDIS_URL": None})
    resp = app.test_client().get("/v1/issues")
    assert resp.status_code == 503
    assert resp.mimetype == "application/problem+json"
    assert resp.get_json()["status"] == 503
    assert resp.headers["Retry-After"]
    assert app.test_client().get("/readyz").status_code == 503
