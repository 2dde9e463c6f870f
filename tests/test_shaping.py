"""Sparse fieldsets (`fields`) and embedding (`include`) on both backends, alone, together and across pagination."""

from __future__ import annotations

import pytest

from tests.conftest import SEED_SLUG, walk

LISTS = ["/v1/articles", "/v1/sections/economy/articles", "/v1/trends/worse/articles"]


@pytest.mark.parametrize("base", LISTS)
def test_fields_keep_only_what_is_asked_and_slug(client, base):
    full = walk(client, f"{base}?limit=100")
    sparse = walk(client, f"{base}?limit=3&fields=title,trend")
    assert [a["slug"] for a in sparse] == [a["slug"] for a in full]  # same items, same order, across pages
    for small, big in zip(sparse, full, strict=True):
        assert set(small) == {"slug", "title", "trend"}
        assert small == {k: big[k] for k in ("slug", "title", "trend")}


def test_fields_and_include_survive_cursor_links(client):
    url = "/v1/articles?limit=2&fields=title&include=section,trend,issue"
    pages = 0
    while url:
        body = client.get(url).get_json()
        pages += 1
        assert all(set(a) == {"slug", "title"} for a in body["data"])
        assert set(body["included"]) == {"section", "trend", "issue"}
        for rel in ("next", "prev"):
            if body["links"][rel]:
                assert "fields=title" in body["links"][rel] and "include=section%2Ctrend%2Cissue" in body["links"][rel]
        url = body["links"]["next"] and body["links"]["next"].replace("http://localhost", "")
    assert pages > 3


@pytest.mark.parametrize("base", ["/v1/articles", "/v1/articles?q=sanctions", "/v1/sections/security-issues/articles"])
def test_include_embeds_each_referenced_object_once(client, base):
    sep = "&" if "?" in base else "?"
    body = client.get(f"{base}{sep}limit=5&include=section,trend,issue").get_json()
    data = body["data"]
    inc = body["included"]
    assert [s["slug"] for s in inc["section"]] == sorted(
        {a["section"]["slug"] for a in data if a["section"]},
        key=lambda s: next(x["position"] for x in inc["section"] if x["slug"] == s),
    )
    assert {t["slug"] for t in inc["trend"]} == {a["trend"]["slug"] for a in data if a["trend"]}
    assert [i["id"] for i in inc["issue"]] == sorted({a["issue"] for a in data if a["issue"]}, reverse=True)
    for section in inc["section"]:  # the same object as the section item (counts, streak)
        assert section == client.get(f"/v1/sections/{section['slug']}").get_json()["data"]
    for trend in inc["trend"]:
        assert trend == client.get(f"/v1/trends/{trend['slug']}").get_json()["data"]
    for issue in inc["issue"]:
        item = client.get(f"/v1/issues/{issue['id']}").get_json()["data"]
        assert issue == {k: item[k] for k in issue}
    # without include there is no `included`, and include does not change `data`
    assert "included" not in client.get(f"{base}{sep}limit=5").get_json()
    assert client.get(f"{base}{sep}limit=5").get_json()["data"] == data


def test_include_only_what_is_asked(client):
    body = client.get("/v1/articles?limit=3&include=trend").get_json()
    assert set(body["included"]) == {"trend"}


def test_article_item_fields_and_include(client):
    full = client.get(f"/v1/articles/{SEED_SLUG}?format=text").get_json()
    body = client.get(f"/v1/articles/{SEED_SLUG}?fields=title,body,translations&format=text&include=issue").get_json()
    assert set(body["data"]) == {"slug", "title", "body", "translations"}
    assert body["data"]["body"] == {"text": full["data"]["body"]["text"]}
    assert [i["id"] for i in body["included"]["issue"]] == [full["data"]["issue"]]


def test_issue_item_fields_shape_its_articles(client):
    full = client.get("/v1/issues/2022-02-14").get_json()["data"]
    sparse = client.get("/v1/issues/2022-02-14?fields=title,trend").get_json()["data"]
    assert [s["section"] for s in sparse["sections"]] == [s["section"] for s in full["sections"]]
    for small, big in zip(sparse["sections"], full["sections"], strict=True):
        assert small["articles"] == [{k: a[k] for k in ("slug", "title", "trend")} for a in big["articles"]]


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("/v1/articles?fields=title,nope", "fields"),
        ("/v1/articles?include=author", "include"),
        ("/v1/articles?fields=", "fields"),
        ("/v1/articles/" + SEED_SLUG + "?fields=password", "fields"),
        ("/v1/articles/" + SEED_SLUG + "?include=sections", "include"),
        ("/v1/issues/2022-02-14?fields=body", "fields"),
        ("/v1/issues/2022-02-14?include=section", "include"),
        ("/v1/feed.json?fields=title", "fields"),
    ],
)
def test_unknown_names_are_400_listing_the_allowed_ones(client, url, name):
    response = client.get(url)
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    (param,) = response.get_json()["invalid_params"]
    assert param["name"] == name
    if "=" in url and url.split("=")[-1] and name == "fields" and "/issues/" not in url and "feed" not in url:
        assert "title" in param["reason"] and "trend" in param["reason"]  # the allowed values are listed
    if name == "include" and "/articles" in url:
        assert "section, trend, issue" in param["reason"]


def test_cache_keys_differ_by_fields_and_include(client):
    a = client.get("/v1/articles?limit=2&fields=title")
    b = client.get("/v1/articles?limit=2&fields=lead")
    c = client.get("/v1/articles?limit=2&fields=title&include=trend")
    assert len({a.headers["ETag"], b.headers["ETag"], c.headers["ETag"]}) == 3
    assert set(a.get_json()["data"][0]) == {"slug", "title"} and set(b.get_json()["data"][0]) == {"slug", "lead"}
    assert "included" in c.get_json() and "included" not in a.get_json()
    assert client.get("/v1/articles?limit=2&fields=title").get_json() == a.get_json()  # a cache hit, same body


def test_article_body_is_html_by_default_and_in_the_format_asked_for(client):
    default = client.get(f"/v1/articles/{SEED_SLUG}").get_json()["data"]["body"]
    assert list(default) == ["html"] and default["html"].startswith("<p>Although it was initially stated")
    forms = {fmt: client.get(f"/v1/articles/{SEED_SLUG}?format={fmt}").get_json()["data"]["body"] for fmt in FORMATS}
    assert forms["html"] == default
    assert list(forms["text"]) == ["text"] and forms["text"]["text"].startswith("Although it was initially stated")
    assert "<" not in forms["text"]["text"]
    assert list(forms["blocks"]) == ["blocks"]
    assert [b["type"] for b in forms["blocks"]["blocks"]] == ["paragraph"] * 3 + ["list"] + ["paragraph"] * 2


FORMATS = ("html", "text", "blocks")


@pytest.mark.parametrize("base", [*LISTS, "/v1/articles?q=sanctions", "/v1/articles?section=economy,security-issues"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_lists_carry_the_body_in_the_format_asked_for_across_pages(client, base, fmt):
    sep = "&" if "?" in base else "?"
    plain = walk(client, f"{base}{sep}limit=100")
    assert plain and all("body" not in a for a in plain)  # no body unless asked for: pages stay light
    shaped = walk(client, f"{base}{sep}limit=3&format={fmt}")
    assert [a["slug"] for a in shaped] == [a["slug"] for a in plain]
    for article, summary in zip(shaped, plain, strict=True):
        item = client.get(f"/v1/articles/{article['slug']}?format={fmt}").get_json()["data"]
        assert article["body"] == item["body"] and list(article["body"]) == [fmt]
        assert {k: v for k, v in article.items() if k != "body"} == summary


def test_list_body_through_fields_defaults_to_html_and_fields_still_rule(client):
    body = client.get("/v1/articles?limit=3&fields=title,body").get_json()
    assert all(set(a) == {"slug", "title", "body"} and list(a["body"]) == ["html"] for a in body["data"])
    assert "format" not in body["links"]["next"]
    blocks = client.get("/v1/articles?limit=3&fields=title,body&format=blocks").get_json()["data"]
    assert all(list(a["body"]) == ["blocks"] for a in blocks)
    # a sparse fieldset without body drops it even when a format is given
    assert all(
        set(a) == {"slug", "title"}
        for a in client.get("/v1/articles?limit=3&fields=title&format=text").get_json()["data"]
    )
    cursor = client.get("/v1/articles?limit=2&format=text").get_json()["links"]["next"]
    assert "format=text" in cursor


@pytest.mark.parametrize(
    "url",
    [
        "/v1/articles?format=markdown",
        f"/v1/articles/{SEED_SLUG}?format=HTML",
        "/v1/sections/economy/articles?format=",
        "/v1/feed.json?format=text",  # the feeds' formats are fixed
        "/v1/feed.atom?format=html",
    ],
)
def test_bad_or_misplaced_format_is_400(client, url):
    response = client.get(url)
    assert response.status_code == 400
    assert [p["name"] for p in response.get_json()["invalid_params"]] == ["format"]


def test_cache_keys_differ_by_format(client):
    tags = {client.get(f"/v1/articles?limit=2&format={fmt}").headers["ETag"] for fmt in FORMATS}
    tags |= {client.get("/v1/articles?limit=2").headers["ETag"]}
    assert len(tags) == 4


def test_links_are_this_requests_own_even_when_one_app_context_spans_requests(app):
    """The base URL and the encoded query are worked out once per request, not once per app context: the OpenAPI
    examples, a shell or a test may hold one app context over several requests (a `g` memo once leaked
    `?limit=2` from one request into the next one's links)."""
    client = app.test_client()
    with app.app_context():
        first = client.get("/v1/articles?limit=2", base_url="https://one.example").get_json()["links"]
        second = client.get("/v1/trends/timeline").get_json()["links"]
    assert first["self"] == "https://one.example/v1/articles?limit=2"
    assert second["self"] == "http://localhost/v1/trends/timeline"
