"""Store generations and the response cache: reloads seen without a restart, cache outages degrade, not fail."""

from __future__ import annotations

import datetime as dt
import shutil

from api import clock
from api.ingest.loader import load_archive
from tests.conftest import ARCHIVE, copy_archive, make_app
from tests.test_rules import BASE, WEEKS, Doc, load_generation, own_store, path_examples


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


def test_stores_whose_change_logs_differ_share_no_generation_nor_cached_changes(backend, tmp_path):
    """Two stores end with the same articles, but the article each removed was Russian in one and Belarusian in the
    other: their logs differ in one tombstone's language. One shared cache (Redis on PostgreSQL) must not serve
    one store's change feed for the other's: the generation, which keys every cached response, differs."""
    served = {}
    for lang in ("ru", "be"):
        archive = tmp_path / lang
        archive.mkdir()
        with own_store(backend, archive) as settings:
            try:
                load_generation([Doc(0), Doc(1, lang=lang)], archive, settings, BASE)
                report = load_generation([Doc(0, words=4)], archive, settings, BASE + dt.timedelta(days=1))
            finally:
                clock.freeze(None)
            app = make_app(settings)
            body = app.test_client().get("/v1/changes?lang=ru").get_json()
            served[lang] = (report.generation, [(c["type"], c.get("tombstone", {}).get("slug")) for c in body["data"]])
            app.extensions["store"].dispose()
    assert served["ru"][1] == [("delete", "article-1")]
    assert served["be"][1] == []  # on PostgreSQL, one Redis: not the Russian store's feed
    assert served["ru"][0] != served["be"][0]


def test_openapi_document_follows_the_live_generation(backend, tmp_path):
    """The document's examples (path parameters, real response bodies) come from the generation served: an
    article withdrawn by a reload leaves it, in the same running process, as it leaves every other endpoint."""
    archive = tmp_path / "archive"
    archive.mkdir()
    with own_store(backend, archive) as settings:
        app = None
        try:
            for n, docs in enumerate(([Doc(0, week=WEEKS[1], section="economy", trend="worse")],
                                      [Doc(0, status="retracted"), Doc(1, week=WEEKS[2])])):  # fmt: skip
                load_generation(docs, archive, settings, BASE + dt.timedelta(days=n))
                app = app or make_app(settings)
                resp = app.test_client().get("/v1/openapi.json")
                text, examples = resp.get_data(as_text=True), path_examples(resp.get_json())
                docs_page = app.test_client().get("/docs").get_data(as_text=True)
                if n == 0:
                    assert docs[0].token in text
                    assert examples == {"/v1/articles/{slug}": {"article-0"}, "/v1/issues/{issue_id}": {WEEKS[1].isoformat()},
                                        "/v1/sections/{slug}": {"economy"}, "/v1/trends/{slug}": {"worse"}}  # fmt: skip
                else:  # the withdrawn article's text, issue, desk and tag are gone (its tombstone stays)
                    assert docs[0].token not in text and docs[0].token not in docs_page
                    assert docs[1].token in text
                    assert examples == {
                        "/v1/articles/{slug}": {"article-1"},
                        "/v1/issues/{issue_id}": {WEEKS[2].isoformat()},
                    }
        finally:
            clock.freeze(None)
            if app is not None:
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
