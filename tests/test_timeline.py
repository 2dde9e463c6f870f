"""The trend timeline on both backends: counts recomputed from /v1/articles, filters, visibility, caching."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pytest

from api.ingest.loader import load_archive
from tests.conftest import ARCHIVE, CANARIES, copy_archive, make_app, walk

EMBARGO_END = dt.datetime(2099, 1, 1, 9, 0, tzinfo=dt.UTC)


def _all_articles(client, query: str) -> list[dict]:
    """Every public article matching `query`, walked by cursor through /v1/articles."""
    return walk(client, "/v1/articles?limit=100" + (f"&{query}" if query else ""))


def _story_versions(client) -> set[str]:
    """The slug of the one version that stands for each story: stories are translation groups (read from each
    article item), each represented by its earliest published public version, then the smallest slug."""
    stories: dict = defaultdict(list)
    for article in _all_articles(client, ""):
        key = client.get(f"/v1/articles/{article['slug']}?fields=translation_key").get_json()["data"]
        stories[key["translation_key"] or f"own:{article['slug']}"].append(article)
    return {min(group, key=lambda a: (a["published_at"], a["slug"]))["slug"] for group in stories.values()}


def _expected(client, query: str) -> list[dict]:
    """The timeline recomputed independently from the article list (one count per story), in chart order."""
    positions = {s["slug"]: s["position"] for s in client.get("/v1/sections?limit=100").get_json()["data"]}
    counted = _story_versions(client)
    article_query = "&".join(p for p in query.split("&") if p and not p.startswith("lang="))  # lang: labels only
    cells: dict = defaultdict(lambda: {"counts": {"worse": 0, "unchanged": 0, "better": 0}, "total": 0})
    for article in _all_articles(client, article_query):
        if article["issue"] is None or article["section"] is None or article["slug"] not in counted:
            continue
        cell = cells[(article["issue"], article["section"]["slug"])]
        cell["total"] += 1
        if article["trend"]:
            cell["counts"][article["trend"]["direction"]] += 1
    out = []
    for (issue, section), cell in sorted(cells.items(), key=lambda kv: (kv[0][0], positions[kv[0][1]])):
        net = round((cell["counts"]["better"] - cell["counts"]["worse"]) / cell["total"], 3)
        direction = "better" if net > 0 else "worse" if net < 0 else "unchanged"
        out.append({"issue": issue, "section": section, **cell, "net_index": net, "direction": direction})
    return out


def _simplified(body: dict) -> list[dict]:
    return [
        {
            "issue": c["issue"]["id"],
            "section": c["section"]["slug"],
            "counts": c["counts"],
            "total": c["total"],
            "net_index": c["net_index"],
            "direction": c["direction"],
        }
        for c in body["data"]
    ]


QUERIES = [
    "",
    "section=economy",
    "section=economy,security-issues",
    "from=2022-02-10&to=2022-02-20",
    "from=2022-02-21",
    "to=2022-02-06",
    "lang=en",
    "lang=ru",
    "lang=be&section=international-relations",
    "section=ruling-elite&from=2022-02-01&to=2022-02-28&lang=en",
]


@pytest.mark.parametrize("query", QUERIES)
def test_timeline_matches_counts_from_article_list(client, query):
    resp = client.get("/v1/trends/timeline" + (f"?{query}" if query else ""))
    assert resp.status_code == 200
    body = resp.get_json()
    expected = _expected(client, query)
    assert expected or query.startswith("section=ruling-elite&from=2022-02-01")  # every other query charts something
    assert _simplified(body) == expected
    assert body["meta"]["issues"] == sorted({c["issue"] for c in expected})
    assert set(body["meta"]["sections"]) == {c["section"] for c in expected}


def test_timeline_unfiltered_covers_every_public_story_once(client):
    body = client.get("/v1/trends/timeline").get_json()
    articles = client.get("/v1/articles").get_json()["meta"]["total"]
    # The sample holds two translated stories (en+ru budget deficit, en+be Vilnius rhetoric): one count each.
    assert sum(c["total"] for c in body["data"]) == articles - 2 == len(_story_versions(client))
    assert body["meta"]["issues"] == ["2022-01-31", "2022-02-07", "2022-02-14", "2022-02-21", "2022-02-28"]
    order = [s["slug"] for s in client.get("/v1/sections").get_json()["data"]]
    assert body["meta"]["sections"] == [s for s in order if s in body["meta"]["sections"]]


def test_timeline_cell_shape_and_links(client):
    body = client.get("/v1/trends/timeline?section=security-issues&from=2022-02-14&to=2022-02-20").get_json()
    assert body["data"] == [
        {
            "issue": {
                "id": "2022-02-14",
                "title": "February 14 – February 20, 2022",
                "url": "http://localhost/v1/issues/2022-02-14",
            },
            "section": {
                "slug": "security-issues",
                "name": "Security issues",
                "url": "http://localhost/v1/sections/security-issues",
            },
            "counts": {"worse": 1, "unchanged": 0, "better": 0},
            "total": 1,
            "net_index": -1.0,
            "direction": "worse",
            "articles_url": "http://localhost/v1/articles?issue=2022-02-14&section=security-issues",
        }
    ]
    assert body["meta"]["sections"] == ["security-issues"]
    assert body["meta"]["generation"]
    assert (
        body["links"]["self"]
        == "http://localhost/v1/trends/timeline?from=2022-02-14&section=security-issues&to=2022-02-20"
    )


def test_timeline_articles_url_lists_the_cell(client):
    counted = _story_versions(client)
    for cell in client.get("/v1/trends/timeline?lang=ru").get_json()["data"]:
        assert "lang=" not in cell["articles_url"]  # every language version of the cell's stories
        listed = walk(client, cell["articles_url"].replace("http://localhost", "") + "&limit=100")
        assert len([a for a in listed if a["slug"] in counted]) == cell["total"]
        assert {(a["issue"], a["section"]["slug"]) for a in listed} == {(cell["issue"]["id"], cell["section"]["slug"])}


def test_timeline_counts_a_translated_story_once(client):
    """The budget-deficit story is public in English and Russian: one `worse` in the 2022-02-14 economy cell."""
    listed = client.get("/v1/articles?issue=2022-02-14&section=economy").get_json()
    assert sorted(a["lang"] for a in listed["data"]) == ["en", "ru"]
    for query in ("", "?lang=ru", "?lang=en", "?lang=be"):
        cells = client.get(f"/v1/trends/timeline{query}").get_json()["data"]
        cell = next(c for c in cells if (c["issue"]["id"], c["section"]["slug"]) == ("2022-02-14", "economy"))
        assert (cell["counts"], cell["total"], cell["net_index"]) == (
            {"worse": 1, "unchanged": 0, "better": 0},
            1,
            -1.0,
        )
    vilnius = next(
        c
        for c in client.get("/v1/trends/timeline?section=international-relations").get_json()["data"]
        if c["issue"]["id"] == "2022-01-31"
    )
    assert vilnius["total"] == 1  # English and Belarusian versions, one story


def test_timeline_counts_do_not_depend_on_the_language(client):
    plain = _simplified(client.get("/v1/trends/timeline").get_json())
    for lang in ("en", "ru", "be"):
        assert _simplified(client.get(f"/v1/trends/timeline?lang={lang}").get_json()) == plain
        negotiated = client.get("/v1/trends/timeline", headers={"Accept-Language": lang})
        assert _simplified(negotiated.get_json()) == plain


def test_timeline_labels_follow_language(client):
    names = {"en": "Economy", "ru": "Экономика", "be": "Эканоміка"}
    for lang, name in names.items():
        for query, headers in ((f"&lang={lang}", {}), ("", {"Accept-Language": f"{lang};q=0.9, de"})):
            resp = client.get(f"/v1/trends/timeline?section=economy{query}", headers=headers)
            assert resp.headers["Content-Language"] == lang
            assert "Accept-Language" in resp.headers["Vary"]
            assert {c["section"]["name"] for c in resp.get_json()["data"]} == {name}


def test_timeline_is_not_taken_for_a_trend_slug(client):
    assert "data" in client.get("/v1/trends/worse").get_json()
    body = client.get("/v1/trends/timeline").get_json()
    assert isinstance(body["data"], list) and "counts" in body["data"][0]


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("colour=red", "colour"),
        ("limit=261", "limit"),
        ("limit=0", "limit"),
        ("cursor=bogus", "cursor"),
        ("trend=worse", "trend"),
        ("section=Economy!", "section"),
        ("from=2022-02-20&to=2022-02-01", "from"),
        ("to=2022-02-30", "to"),
        ("lang=de", "lang"),
        ("section=economy&section=security-issues", "section"),
    ],
)
def test_timeline_bad_parameters_are_400(client, query, param):
    resp = client.get(f"/v1/trends/timeline?{query}")
    assert resp.status_code == 400
    assert resp.mimetype == "application/problem+json"
    assert param in [p["name"] for p in resp.get_json()["invalid_params"]]


def test_timeline_never_counts_unpublished(client):
    resp = client.get("/v1/trends/timeline")
    blob = resp.get_data(as_text=True) + str(dict(resp.headers))
    assert not any(c in blob for c in CANARIES)
    cells = {(c["issue"]["id"], c["section"]["slug"]): c for c in resp.get_json()["data"]}
    # 2022-02-28 holds the draft (ruling-elite) and the embargoed article (society-and-politics) only there.
    assert ("2022-02-28", "ruling-elite") not in cells
    assert ("2022-02-28", "society-and-politics") not in cells


def test_timeline_counts_embargoed_article_exactly_from_its_embargo_end(client, frozen_clock):
    frozen_clock(EMBARGO_END - dt.timedelta(seconds=1))
    before = client.get("/v1/trends/timeline?section=society-and-politics&from=2022-02-28")
    assert before.get_json()["data"] == []
    assert "max-age=1," in before.headers["Cache-Control"]
    frozen_clock(EMBARGO_END)
    after = client.get("/v1/trends/timeline?section=society-and-politics&from=2022-02-28").get_json()
    assert [(c["issue"]["id"], c["counts"], c["total"], c["net_index"], c["direction"]) for c in after["data"]] == [
        ("2022-02-28", {"worse": 0, "unchanged": 0, "better": 1}, 1, 1.0, "better")
    ]
    assert _simplified(client.get("/v1/trends/timeline").get_json()) == _expected(client, "")


def test_timeline_etag_gives_304(client):
    resp = client.get("/v1/trends/timeline?section=economy")
    etag = resp.headers["ETag"]
    assert etag.startswith('W/"')
    assert resp.headers["Cache-Control"].startswith("public, max-age=")
    again = client.get("/v1/trends/timeline?section=economy", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.get_data() == b""
    other = client.get("/v1/trends/timeline?section=economy,ruling-elite", headers={"If-None-Match": etag})
    assert other.status_code == 200


# From the sample archive (public stories only; a story and its translations count once):
# security-issues  01-31 worse, 02-07 unchanged, 02-14 worse, 02-21 worse, 02-28 worse  → worse ×3
# ruling-elite     01-31 unchanged, 02-14 worse (02-28 holds only the draft canary)    → worse ×1
# society-and-politics 02-07 worse, 02-14 better, 02-21 worse+unchanged (−0.5); the 02-28 article is embargoed
# economy          01-31 better, 02-07 unchanged, 02-14 worse (en+ru: one story), 02-28 worse → worse ×2
# international-relations 01-31 worse (en+be: one story), 02-07 better, 02-14 worse, 02-28 worse → worse ×2
STREAKS = {
    "security-issues": ({"issue": "2022-02-28", "direction": "worse", "net_index": -1.0}, 3),
    "ruling-elite": ({"issue": "2022-02-14", "direction": "worse", "net_index": -1.0}, 1),
    "society-and-politics": ({"issue": "2022-02-21", "direction": "worse", "net_index": -0.5}, 1),
    "economy": ({"issue": "2022-02-28", "direction": "worse", "net_index": -1.0}, 2),
    "international-relations": ({"issue": "2022-02-28", "direction": "worse", "net_index": -1.0}, 2),
}


@pytest.mark.parametrize("slug", sorted(STREAKS))
def test_section_latest_trend_and_streak(client, slug):
    resp = client.get(f"/v1/sections/{slug}")
    assert resp.status_code == 200
    section = resp.get_json()["data"]
    assert (section["latest_trend"], section["streak"]) == STREAKS[slug]


def test_section_list_carries_the_same_streaks(client):
    body = client.get("/v1/sections?limit=2").get_json()
    seen = {}
    while True:
        seen.update({s["slug"]: (s["latest_trend"], s["streak"]) for s in body["data"]})
        if not body["links"]["next"]:
            break
        body = client.get(body["links"]["next"].replace("http://localhost", "")).get_json()
    assert seen == STREAKS


def test_section_streak_agrees_with_timeline(client):
    cells = client.get("/v1/trends/timeline").get_json()["data"]
    for slug, (latest, streak) in STREAKS.items():
        history = [c for c in cells if c["section"]["slug"] == slug]
        assert {
            "issue": history[-1]["issue"]["id"],
            "direction": history[-1]["direction"],
            "net_index": history[-1]["net_index"],
        } == latest
        directions = [c["direction"] for c in history]
        assert directions[-streak:] == [latest["direction"]] * streak
        assert len(directions) == streak or directions[-streak - 1] != latest["direction"]


def test_section_streak_changes_when_the_embargo_ends(client, frozen_clock):
    frozen_clock(EMBARGO_END - dt.timedelta(seconds=1))
    before = client.get("/v1/sections/society-and-politics").get_json()["data"]
    assert (before["latest_trend"], before["streak"]) == STREAKS["society-and-politics"]
    frozen_clock(EMBARGO_END)
    after = client.get("/v1/sections/society-and-politics").get_json()["data"]
    assert after["latest_trend"] == {"issue": "2022-02-28", "direction": "better", "net_index": 1.0}
    assert after["streak"] == 1


def test_trend_item_and_not_found_unchanged_by_refactor(client):
    assert client.get("/v1/trends/worse").get_json()["data"]["slug"] == "worse"
    assert client.get("/v1/trends/nope").get_json()["detail"] == "No trend tag 'nope'."
    assert client.get("/v1/sections/nope").get_json()["detail"] == "No section 'nope'."
    assert client.get("/v1/sections/economy/articles?section=ruling-elite").get_json()["meta"]["total"] == 0
    assert client.get("/v1/trends/worse/articles?trend=better").get_json()["meta"]["total"] == 0
    assert "streak" not in client.get("/v1/trends/worse").get_json()["data"]


def test_section_with_only_unpublished_articles_is_not_served(client):
    """The sample's canary sections and tags hold only a draft or a retracted article: like them, they are nowhere."""
    resp = client.get("/v1/sections/canarydraft-desk")
    missing = client.get("/v1/sections/no-such-desk")
    assert resp.status_code == missing.status_code == 404
    assert resp.get_json()["detail"].replace("canarydraft-desk", "X") == missing.get_json()["detail"].replace(
        "no-such-desk", "X"
    )
    assert client.get("/v1/sections/canarydraft-desk/articles").status_code == 404
    listed = [s["slug"] for s in client.get("/v1/sections?limit=100").get_json()["data"]]
    assert "canarydraft-desk" not in listed and "ruling-elite" in listed
    assert client.get("/v1/trends/timeline?section=canarydraft-desk").get_json()["data"] == []
    assert "canaryretract-desk" not in listed and client.get("/v1/sections/canaryretract-desk").status_code == 404
    trends = [t["slug"] for t in client.get("/v1/trends?limit=100").get_json()["data"]]
    for tag in ("canarydraft-tag", "canaryretract-tag"):
        assert tag not in trends and client.get(f"/v1/trends/{tag}").status_code == 404


def test_a_story_counts_once_whichever_of_its_versions_are_public(scratch_store, tmp_path, frozen_clock):
    """A translation under embargo, or a draft one, neither adds a count nor takes the story away."""
    archive = copy_archive(tmp_path, ARCHIVE)
    english = archive / "2022-02-28" / "sanctions-shock-hits-rouble-banks-and-exports.en.md"
    text = english.read_text(encoding="utf-8")
    english.write_text(text.replace("lang: en\n", "lang: en\ntranslation_key: sanctions-shock\n", 1), encoding="utf-8")
    front = text.split("---\n")[1]
    for lang, slug, extra in (
        ("ru", "sanktsionnyi-shok", "embargo_until: 2099-01-01T09:00:00Z\n"),
        ("be", "sanktsyjny-shok", "status: draft\n"),
    ):
        meta = front.replace("slug: sanctions-shock-hits-rouble-banks-and-exports", f"slug: {slug}")
        meta = meta.replace("lang: en\n", f"lang: {lang}\ntranslation_key: sanctions-shock\n{extra}")
        meta = meta.replace("published_at: 2022-03-07T09:00:00Z", "published_at: 2022-03-06T09:00:00Z")
        if "status: draft" in extra:
            meta = meta.replace("status: published\n", "")
        (archive / "2022-02-28" / f"{slug}.{lang}.md").write_text(f"---\n{meta}---\nBody {lang}.\n", encoding="utf-8")
    load_archive(archive, scratch_store["DATABASE_URL"], schema=scratch_store["DATABASE_SCHEMA"])
    app = make_app(scratch_store)
    client = app.test_client()
    url = "/v1/trends/timeline?section=economy&from=2022-02-28"

    def cell():
        (only,) = client.get(url).get_json()["data"]
        listed = client.get(only["articles_url"].replace("http://localhost", "")).get_json()["data"]
        return only["counts"], only["total"], sorted(a["lang"] for a in listed)

    try:
        frozen_clock(EMBARGO_END - dt.timedelta(seconds=1))
        before = cell()
        assert before[2] == ["en"]  # the Russian version is embargoed, the Belarusian one a draft
        english = "/v1/articles/sanctions-shock-hits-rouble-banks-and-exports?fields=translations"
        assert client.get(english).get_json()["data"]["translations"] == {}
        frozen_clock(EMBARGO_END)
        after = cell()
        assert after[2] == ["en", "ru"]
        assert list(client.get(english).get_json()["data"]["translations"]) == ["ru"]  # never the draft
        assert after[:2] == before[:2]  # still one story
        assert _simplified(client.get("/v1/trends/timeline").get_json()) == _expected(client, "")
    finally:
        app.extensions["store"].dispose()
