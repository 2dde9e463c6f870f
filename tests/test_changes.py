"""The change feed on both backends: A→B sync ends with exactly B's public content, tombstones included."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3

from api.ingest.loader import load_archive
from api.resources.changes import encode_token
from tests.conftest import ARCHIVE, CANARIES, copy_archive, make_app


def _sync(client, state: dict, query: str = "", token: str | None = None) -> str | None:
    while True:
        url = "/v1/changes?" + "&".join(p for p in (query, f"since={token}" if token else "", "limit=5") if p)
        resp = client.get(url)
        assert resp.status_code == 200, resp.get_json()
        text = resp.get_data(as_text=True) + str(resp.headers)
        for canary in CANARIES:
            assert canary not in text
        body = resp.get_json()
        for change in body["data"]:
            if change["type"] == "upsert":
                state[change["article"]["slug"]] = change["article"]
            else:
                assert change["tombstone"]["removed_at"]
                # the tombstone's id is the article's stable id: the URL its upserts and feed entries carry
                assert change["tombstone"]["id"].endswith(f"/v1/articles/{change['tombstone']['slug']}")
                state.pop(change["tombstone"]["slug"], None)
        token = body["meta"]["next"] or token
        if not body["meta"]["has_more"]:
            return token


def _public(client, query: str = "") -> dict:
    body = client.get("/v1/articles?limit=100" + (f"&{query}" if query else "")).get_json()
    assert body["meta"]["total"] < 100
    return {a["slug"]: a for a in body["data"]}


def _edited_archive(tmp_path):
    archive = copy_archive(tmp_path, ARCHIVE)
    held = tmp_path / "held"
    shutil.move(archive / "2022-02-28", held)  # B adds these
    return archive, held


def test_sync_a_to_b_ends_with_public_content_of_b(scratch_store, tmp_path):
    archive, held = _edited_archive(tmp_path)
    url, schema = scratch_store["DATABASE_URL"], scratch_store["DATABASE_SCHEMA"]
    load_archive(archive, url, schema=schema)
    app = make_app(scratch_store)
    client = app.test_client()
    full, by_section = {}, {}
    token = _sync(client, full)
    section_token = _sync(client, by_section, "section=economy")
    assert set(full) == set(_public(client))
    assert set(by_section) == set(_public(client, "section=economy"))
    removed = {p.stem.split(".")[0] for p in (archive / "2022-01-31").glob("*.md")} - {""}
    assert removed and removed <= set(full)
    shutil.rmtree(archive / "2022-01-31")
    shutil.move(held, archive / "2022-02-28")
    edited = next(p for p in (archive / "2022-02-14").glob("*.md") if "canary" not in p.name)
    edited.write_text(edited.read_text() + "\n\nEDITEDPARAGRAPH added in archive B.\n")
    retracted = archive / "2022-02-21" / "anti-war-protests-met-with-mass-detentions.en.md"
    retracted.write_text(retracted.read_text().replace("status: published\n", "status: retracted\n", 1))
    load_archive(archive, url, schema=schema)
    page = client.get(f"/v1/changes?since={token}&limit=1000").get_json()
    assert "data" in page, (page, token)
    page = page["data"]
    assert {c["tombstone"]["slug"] for c in page if c["type"] == "delete"} == removed | {
        "anti-war-protests-met-with-mass-detentions"
    }
    _sync(client, full, token=token)
    _sync(client, by_section, "section=economy", token=section_token)
    public = _public(client)
    assert full == {slug: full[slug] for slug in public} and set(full) == set(public)
    assert not removed & set(full)
    assert "anti-war-protests-met-with-mass-detentions" not in full
    assert sum("EDITEDPARAGRAPH" in a["body"]["html"] for a in full.values()) == 1
    assert set(by_section) == set(_public(client, "section=economy"))
    app.extensions["store"].dispose()


def test_an_article_moved_out_of_a_section_is_a_tombstone_for_that_section(scratch_store, tmp_path):
    archive = copy_archive(tmp_path, ARCHIVE)
    moved = archive / "2022-02-14" / "belarus-budget-deficit-widens.en.md"
    assert "section: economy\n" in moved.read_text()
    url, schema = scratch_store["DATABASE_URL"], scratch_store["DATABASE_SCHEMA"]
    load_archive(archive, url, schema=schema)
    app = make_app(scratch_store)
    client = app.test_client()
    full, economy, english = {}, {}, {}
    token, economy_token = _sync(client, full), _sync(client, economy, "section=economy")
    english_token = _sync(client, english, "lang=en")
    assert "belarus-budget-deficit-widens" in economy and "belarus-budget-deficit-widens" in english
    moved.write_text(moved.read_text().replace("section: economy\n", "section: ruling-elite\n").replace(
        "lang: en\n", "lang: be\n"))  # fmt: skip
    load_archive(archive, url, schema=schema)
    page = client.get(f"/v1/changes?since={economy_token}&section=economy").get_json()["data"]
    assert [(c["type"], c["tombstone"]["slug"], c["tombstone"]["section"]) for c in page] == [
        ("delete", "belarus-budget-deficit-widens", "economy")
    ]
    _sync(client, full, token=token)
    _sync(client, economy, "section=economy", token=economy_token)
    _sync(client, english, "lang=en", token=english_token)
    assert set(full) == set(_public(client))
    assert full["belarus-budget-deficit-widens"]["section"]["slug"] == "ruling-elite"
    assert set(economy) == set(_public(client, "section=economy")) and "belarus-budget-deficit-widens" not in economy
    assert set(english) == set(_public(client, "lang=en")) and "belarus-budget-deficit-widens" not in english
    app.extensions["store"].dispose()


def test_old_or_foreign_token_is_gone(client, app):
    old = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    token = encode_token(app.extensions["signer"], old, "a", old)
    resp = client.get("/v1/changes?since=" + token)
    assert resp.status_code == 410
    assert resp.mimetype == "application/problem+json"
    assert "Resync" in resp.get_json()["detail"]
    assert client.get("/v1/changes?since=garbage!").status_code == 400


def test_embargoed_article_enters_the_feed_when_its_embargo_passes(scratch_store, frozen_clock):
    frozen_clock(dt.datetime(2098, 12, 31, 12, 0, tzinfo=dt.UTC))
    load_archive(ARCHIVE, scratch_store["DATABASE_URL"], schema=scratch_store["DATABASE_SCHEMA"])
    app = make_app(scratch_store)
    client = app.test_client()
    before: dict = {}
    token = client.get("/v1/changes?limit=1000").get_json()["meta"]["next"]
    _sync(client, before)
    assert not any(slug.startswith("canaryembargo") for slug in before)
    assert client.get(f"/v1/changes?since={token}").get_json()["data"] == []
    frozen_clock(dt.datetime(2099, 1, 1, 9, 0, 1, tzinfo=dt.UTC))
    late = client.get(f"/v1/changes?since={token}").get_json()["data"]
    assert [c["article"]["slug"] for c in late] == ["canaryembargo-civic-solidarity-networks-expand"]
    assert late[0]["at"] == "2099-01-01T09:00:00+00:00"
    app.extensions["store"].dispose()


def test_history_of_a_store_written_before_the_moved_from_columns_is_carried(tmp_path):
    store = tmp_path / "store.sqlite"
    url = f"sqlite:///{store}"
    load_archive(ARCHIVE, url)
    with sqlite3.connect(store) as db:  # what the previous release wrote
        db.execute("ALTER TABLE change DROP COLUMN previous_section_slug")
        db.execute("ALTER TABLE change DROP COLUMN previous_lang")
        before = db.execute("SELECT seq, slug, kind, visible_at FROM change ORDER BY seq").fetchall()
    load_archive(ARCHIVE, url)
    with sqlite3.connect(store) as db:
        after = db.execute("SELECT seq, slug, kind, visible_at FROM change ORDER BY seq").fetchall()
    assert before and after == before  # same archive: nothing new, and the old log carried whole
