"""The core contract on both backends: content, pagination, caching, errors, visibility."""

from __future__ import annotations

import pytest

from tests.conftest import CANARIES, SEED_SLUG

COLLECTIONS = [
    "/v1/issues",
    "/v1/articles",
    "/v1/sections",
    "/v1/trends",
    "/v1/sections/economy/articles",
    "/v1/trends/worse/articles",
    "/v1/articles?section=economy,security-issues&trend=worse",
]


def test_issue_seed_week_served_with_its_article(client):
    resp = client.get("/v1/issues/2022-02-14")
    assert resp.status_code == 200
    issue = resp.get_json()["data"]
    assert issue["title"] == "February 14 – February 20, 2022"
    assert issue["iso_week"] == "2022-W07"
    security = next(g for g in issue["sections"] if g["section"]["slug"] == "security-issues")
    assert security["section"]["name"] == "Security issues"
    summary = security["articles"][0]
    assert summary["slug"] == SEED_SLUG
    assert summary["title"] == "Minsk sends conflicting signals about the expanding Russian military presence"
    assert summary["trend"] == {"slug": "worse", "label": "The situation got worse", "direction": "worse"}
    assert issue["previous"]["id"] == "2022-02-07"
    assert issue["next"]["id"] == "2022-02-21"


def test_issue_sections_follow_editorial_order(client):
    issue = client.get("/v1/issues/2022-02-14").get_json()["data"]
    positions = [g["section"]["slug"] for g in issue["sections"]]
    assert positions == [
        "security-issues",
        "ruling-elite",
        "society-and-politics",
        "economy",
        "international-relations",
    ]


def test_article_seed_body_has_paragraphs_and_bullets_without_chrome(client):
    resp = client.get(f"/v1/articles/{SEED_SLUG}")
    assert resp.status_code == 200
    article = resp.get_json()["data"]
    assert article["lead"].startswith("Belarusian sources issued contradictory statements")
    assert list(article["body"]) == ["html"]  # HTML unless another format is asked for
    assert "<ul><li>demonstrates" in article["body"]["html"]
    blocks = client.get(f"/v1/articles/{SEED_SLUG}?format=blocks").get_json()["data"]["body"]["blocks"]
    lists = [b for b in blocks if b["type"] == "list"]
    assert len(lists) == 1 and len(lists[0]["items"]) == 2
    assert lists[0]["items"][0].startswith("demonstrates to the Kremlin military-political loyalty")
    for fmt in ("html", "text", "blocks"):
        text = client.get(f"/v1/articles/{SEED_SLUG}?format={fmt}").get_data(as_text=True)
        for chrome in ("successfully subscribed", "Subscribe", "Read more", "March 13", "View all"):
            assert chrome not in text


def test_issue_by_iso_week_and_latest(client):
    by_week = client.get("/v1/issues/2022-W07")
    assert by_week.status_code == 200
    assert by_week.get_json()["data"]["id"] == "2022-02-14"
    latest = client.get("/v1/issues/latest").get_json()["data"]
    assert latest["id"] == "2022-02-28"
    assert latest["next"] is None


def test_issue_non_monday_is_404_pointing_to_covers(client):
    resp = client.get("/v1/issues/2022-02-16")
    assert resp.status_code == 404
    assert "covers" in resp.get_json()["detail"]


@pytest.mark.parametrize("url", COLLECTIONS)
def test_collection_walk_visits_each_item_once(client, url):
    first = client.get(url + ("&" if "?" in url else "?") + "limit=2")
    assert first.status_code == 200
    total = first.get_json()["meta"]["total"]
    seen, body = [], first.get_json()
    while True:
        seen += [item.get("slug") or item.get("id") for item in body["data"]]
        nxt = body["links"]["next"]
        if not nxt:
            break
        resp = client.get(nxt.replace("http://localhost", ""))
        assert resp.status_code == 200
        body = resp.get_json()
        # Each later page's Link header carries its own previous link, and a next link exactly when it has one.
        assert 'rel="prev' in resp.headers["Link"]
        assert ('rel="next"' in resp.headers["Link"]) == bool(body["links"]["next"])
        if body["links"]["next"]:
            assert f'<{body["links"]["next"]}>; rel="next"' in resp.headers["Link"]
    assert len(seen) == len(set(seen)) == total


def test_collection_prev_links_walk_back(client):
    page1 = client.get("/v1/articles?limit=3").get_json()
    page2 = client.get(page1["links"]["next"].replace("http://localhost", "")).get_json()
    back = client.get(page2["links"]["prev"].replace("http://localhost", "")).get_json()
    assert [a["slug"] for a in back["data"]] == [a["slug"] for a in page1["data"]]


def test_collection_page_numbers_shallow_only(client):
    by_page = client.get("/v1/articles?limit=5&page=2").get_json()
    by_cursor = client.get(
        client.get("/v1/articles?limit=5").get_json()["links"]["next"].replace("http://localhost", "")
    )
    assert [a["slug"] for a in by_page["data"]] == [a["slug"] for a in by_cursor.get_json()["data"]]
    deep = client.get("/v1/articles?limit=100&page=101")
    assert deep.status_code == 400
    assert deep.get_json()["invalid_params"][0]["name"] == "page"


def test_unpublished_samples_never_appear(client):
    urls = [
        "/v1", "/v1/issues", "/v1/issues/2022-02-28", "/v1/issues/2022-02-21", "/v1/issues/latest",
        "/v1/articles?limit=100", "/v1/sections", "/v1/trends", "/v1/sections/ruling-elite/articles",
        "/v1/trends/better/articles", "/v1/articles?issue=2022-02-28",
    ]  # fmt: skip
    for url in urls:
        resp = client.get(url)
        assert resp.status_code == 200, url
        blob = resp.get_data(as_text=True) + str(dict(resp.headers))
        assert not any(c in blob for c in CANARIES), url
    for slug in (
        "canarydraft-amended-constitution-and-the-nomenklatura",
        "canaryembargo-civic-solidarity-networks-expand",
    ):
        missing = client.get("/v1/articles/no-such-article")
        hidden = client.get(f"/v1/articles/{slug}")
        assert hidden.status_code == 404
        assert hidden.get_json()["detail"].replace(slug, "X") == missing.get_json()["detail"].replace(
            "no-such-article", "X"
        )


def test_counts_exclude_unpublished(client):
    sections = client.get("/v1/sections").get_json()
    # data/archive: 23 Markdown documents and 1 capture, less the draft, the retraction and the embargoed one
    public = 24 - 3
    assert sum(s["article_count"] for s in sections["data"]) == public
    assert client.get("/v1/articles").get_json()["meta"]["total"] == public
    issue = client.get("/v1/issues/2022-02-28").get_json()["data"]
    assert issue["article_count"] == 3


def test_etag_revalidation_gives_empty_304(client):
    resp = client.get("/v1/articles?limit=5")
    etag = resp.headers["ETag"]
    assert resp.headers["Cache-Control"].startswith("public, max-age=")
    assert "stale-while-revalidate=" in resp.headers["Cache-Control"]
    assert resp.headers["Last-Modified"]
    again = client.get("/v1/articles?limit=5", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.get_data() == b""
    assert again.headers["ETag"] == etag
    since = client.get("/v1/articles?limit=5", headers={"If-Modified-Since": resp.headers["Last-Modified"]})
    assert since.status_code == 304
    assert client.get("/v1/articles?limit=5", headers={"If-None-Match": "*"}).status_code == 304


@pytest.mark.parametrize("header", [{"If-None-Match": "*"}, {"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"}])
def test_conditional_requests_never_turn_a_missing_resource_into_304(client, header):
    for path in ("/v1/articles/no-such-article", "/v1/issues/2001-01-01", "/v1/sections/nope"):
        assert client.get(path, headers=header).status_code == 404


def test_head_matches_get_without_body(client):
    get, head = client.get("/v1/issues"), client.head("/v1/issues")
    assert head.status_code == 200
    assert head.get_data() == b""
    assert head.headers["ETag"] == get.headers["ETag"]


@pytest.mark.parametrize(
    ("url", "status", "param"),
    [
        ("/v1/articles?limit=0", 400, "limit"),
        ("/v1/articles?limit=101", 400, "limit"),
        ("/v1/articles?limit=%205", 400, "limit"),
        ("/v1/articles?limit=1_0", 400, "limit"),
        ("/v1/articles?limit=%D9%A5", 400, "limit"),
        ("/v1/articles?limit=1&limit=2", 400, "limit"),
        ("/v1/articles?colour=red", 400, "colour"),
        ("/v1/articles?cursor=garbage", 400, "cursor"),
        ("/v1/articles?section=Economy!", 400, "section"),
        ("/v1/issues?covers=2022-13-01", 400, "covers"),
        ("/v1/articles?q=a%00b", 400, "q"),
    ],
)
def test_errors_bad_parameters_are_problem_json(client, url, status, param):
    resp = client.get(url)
    assert resp.status_code == status
    assert resp.mimetype == "application/problem+json"
    body = resp.get_json()
    assert body["status"] == status
    assert {"type", "title", "detail"} <= body.keys()
    assert param in [p["name"] for p in body["invalid_params"]]
    assert resp.headers["Cache-Control"] == "no-store"


def test_errors_routing_404_and_405_are_problem_json(client):
    missing = client.get("/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.mimetype == "application/problem+json"
    post = client.post("/v1/articles")
    assert post.status_code == 405
    assert post.get_json()["status"] == 405
    assert "GET" in post.headers["Allow"]


def test_cursor_from_other_filters_is_refused(client):
    nxt = client.get("/v1/articles?limit=2").get_json()["links"]["next"]
    cursor = nxt.split("cursor=")[1].split("&")[0]
    resp = client.get(f"/v1/articles?limit=2&section=economy&cursor={cursor}")
    assert resp.status_code == 400


def test_article_alias_slug_resolves_to_canonical(client):
    # data/archive/2022-02-14/belarus-budget-deficit-widens.en.md lists this slug under `aliases:`
    resp = client.get("/v1/articles/budget-deficit-grows-as-exports-fall")
    assert resp.status_code == 200
    data = resp.get_json()["data"]
    assert data["slug"] == "belarus-budget-deficit-widens"
    assert data["requested_slug"] == "budget-deficit-grows-as-exports-fall"
    assert resp.headers["Link"] == '<http://localhost/v1/articles/belarus-budget-deficit-widens>; rel="canonical"'
    own = client.get("/v1/articles/belarus-budget-deficit-widens")
    assert own.get_json()["data"]["requested_slug"] == "belarus-budget-deficit-widens"
    assert "Link" not in own.headers or 'rel="canonical"' not in own.headers["Link"]


@pytest.mark.parametrize(
    "alias", ["canarydraft-constitution-and-the-nomenklatura", "canaryembargo-solidarity-networks-expand"]
)
def test_alias_of_a_hidden_article_is_not_found(client, alias):
    # the draft's and the embargoed article's `aliases:` (data/archive/2022-02-28/canary*.md)
    resp = client.get(f"/v1/articles/{alias}")
    assert resp.status_code == 404
    assert "canary" not in resp.get_data(as_text=True).replace(alias, "")


def test_translations_link_languages(client):
    article = client.get("/v1/articles/belarus-budget-deficit-widens").get_json()["data"]
    assert article["translations"]["ru"]["slug"] == "deficit-byudzheta-belarusi-rastet"
    russian = client.get("/v1/articles/deficit-byudzheta-belarusi-rastet?lang=ru").get_json()["data"]
    assert russian["section"]["name"] == "Экономика"
    assert russian["translations"]["en"]["slug"] == "belarus-budget-deficit-widens"


def test_security_headers_on_every_response(client):
    for url in ("/v1/issues", "/v1/nope", "/healthz"):
        assert client.get(url).headers["X-Content-Type-Options"] == "nosniff"


def test_readyz_reports_generation(client, loaded):
    resp = client.get("/readyz")
    assert resp.status_code == 200
    assert resp.get_json()["generation"] == loaded["report"].generation[:20]


def test_cache_lifetime_capped_before_embargo_ends(client, frozen_clock):
    import datetime as dt

    frozen_clock(dt.datetime(2099, 1, 1, 8, 59, 30, tzinfo=dt.UTC))
    resp = client.get("/v1/articles")
    assert resp.status_code == 200
    assert "max-age=30, s-maxage=30," in resp.headers["Cache-Control"]
