"""The `fallback` marker: each object says which of its own text fields are not in the response language."""

from __future__ import annotations

import yaml

from api.ingest.loader import load_archive
from api.ingest.vocabulary import DEFAULT_PATH, Vocabulary
from tests.conftest import ARCHIVE, SEED_SLUG, make_app, walk

RU_SLUG = "deficit-byudzheta-belarusi-rastet"
EN_TWIN = "belarus-budget-deficit-widens"


def test_an_article_in_another_language_says_so(client):
    for headers, query in (({}, "?lang=ru"), ({"Accept-Language": "ru"}, "")):
        response = client.get(f"/v1/articles/{EN_TWIN}{query}", headers=headers)
        assert response.headers["Content-Language"] == "ru"
        data = response.get_json()["data"]
        assert data["fallback"] == {"title": "en", "lead": "en", "body": "en"}
        assert data["translations"]["ru"]["slug"] == RU_SLUG  # where the requested language is
        assert data["section"]["name"] == "Экономика" and "fallback" not in data["section"]
    same = client.get(f"/v1/articles/{RU_SLUG}?lang=ru").get_json()["data"]
    assert "fallback" not in same
    assert client.get(f"/v1/articles/{RU_SLUG}").get_json()["data"]["fallback"] == {
        "title": "ru",
        "lead": "ru",
        "body": "ru",
    }  # the default response language is English


def test_lists_mark_exactly_the_articles_not_in_the_response_language(client):
    for lang in ("en", "ru", "be"):
        for article in walk(client, f"/v1/articles?limit=50&lang={lang}"):
            assert "fallback" not in article  # lang filters the articles too
        for article in walk(client, f"/v1/sections/economy/articles?limit=50&fields=lang,fallback&lang={lang}"):
            expected = None if article["lang"] == lang else {"title": article["lang"], "lead": article["lang"]}
            assert article.get("fallback") == expected
    mixed = walk(client, "/v1/articles?limit=50")  # English by default, every language listed
    assert {a["lang"] for a in mixed if "fallback" in a} == {a["lang"] for a in mixed} - {"en"}


def test_vocabulary_gaps_fall_back_to_english_and_say_so(scratch_store, tmp_path):
    data = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))
    economy = next(s for s in data["sections"] if s["slug"] == "economy")
    del economy["names"]["be"]
    better = next(t for t in data["trends"] if t["slug"] == "better")
    del better["labels"]["be"]
    path = tmp_path / "vocabulary.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    load_archive(
        ARCHIVE,
        scratch_store["DATABASE_URL"],
        schema=scratch_store["DATABASE_SCHEMA"],
        vocabulary=Vocabulary.load(path),
    )
    app = make_app(scratch_store)
    try:
        client = app.test_client()
        sections = client.get("/v1/sections?lang=be").get_json()["data"]
        for section in sections:
            if section["slug"] == "economy":
                assert section["name"] == "Economy" and section["fallback"] == {"name": "en"}
            else:
                assert "fallback" not in section and section["name"] == section["names"]["be"]
        assert "fallback" not in client.get("/v1/sections/economy?lang=ru").get_json()["data"]
        trend = client.get("/v1/trends/better?lang=be").get_json()["data"]
        assert trend["label"] == "The situation has gotten better" and trend["fallback"] == {"label": "en"}
        listed = client.get("/v1/articles?limit=100&fields=section", headers={"Accept-Language": "be"}).get_json()
        assert {a["section"]["slug"] for a in listed["data"] if a["section"]} >= {"economy", "security-issues"}
        for a in (a for a in listed["data"] if a["section"]):
            assert ("fallback" in a["section"]) == (a["section"]["slug"] == "economy")
        article = client.get(f"/v1/articles/{EN_TWIN}?lang=be&include=section").get_json()
        assert article["data"]["section"]["fallback"] == {"name": "en"}
        assert article["data"]["fallback"] == {"title": "en", "lead": "en", "body": "en"}
        assert article["included"]["section"][0]["fallback"] == {"name": "en"}
        timeline = client.get("/v1/trends/timeline?section=economy", headers={"Accept-Language": "be"}).get_json()[
            "data"
        ]
        assert timeline and all(cell["section"]["fallback"] == {"name": "en"} for cell in timeline)
        issue = client.get("/v1/issues/2022-02-14", headers={"Accept-Language": "be"}).get_json()["data"]
        refs = {g["section"]["slug"]: g["section"] for g in issue["sections"] if g["section"]}
        assert refs["economy"]["fallback"] == {"name": "en"}
        assert all("fallback" not in ref for slug, ref in refs.items() if slug != "economy")
    finally:
        app.extensions["store"].dispose()


def test_seed_article_in_english_has_no_fallback(client):
    assert "fallback" not in client.get(f"/v1/articles/{SEED_SLUG}?lang=en").get_json()["data"]
