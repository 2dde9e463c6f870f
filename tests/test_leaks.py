"""Leak suite, on both backends: no draft, embargoed or retracted canary reaches any body or header of any GET
route (enumerated from the URL map, path parameters filled from real data), under every filter value, search,
feed, change-feed page, OpenAPI and the home page. A hidden article's URL answers exactly like a missing one,
and an embargoed article appears at its embargo time and not a second before."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import quote, quote_plus, urlsplit

import pytest

from tests.conftest import CANARIES, SEED_SLUG, record_figures, walk

HIDDEN_SLUGS = (
    "canarydraft-amended-constitution-and-the-nomenklatura",
    "canaryembargo-civic-solidarity-networks-expand",
    "canaryretract-minsk-announces-mediation-mission",
)
EMBARGO_SLUG = HIDDEN_SLUGS[1]
EMBARGO_SECTION = "society-and-politics"
EMBARGO_END = dt.datetime(2099, 1, 1, 9, 0, 0, tzinfo=dt.UTC)
CANARY_RE = re.compile("|".join(sorted({c.lower() for c in CANARIES})), re.IGNORECASE)


def assert_no_canary(response, url: str, echo: str | None = None, own: str | None = None) -> None:
    """No canary (case-insensitive) in the body or any header; `echo` (the client's own q value) may appear
    only as the echo of its query string inside links, `own` (a slug the client asked for) anywhere."""
    body = response.get_data(as_text=True)
    headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    if own is not None:
        body, headers = body.replace(own, "SLUG"), headers.replace(own, "SLUG")
    if echo is not None:
        for form in {echo, quote(echo, safe=""), quote(echo), quote_plus(echo)}:
            body = body.replace(f"q={form}", "q=")
            headers = headers.replace(f"q={form}", "q=")
    for where, text in (("body", body), ("headers", headers)):
        found = CANARY_RE.search(text)
        assert found is None, (
            f"{url}: canary {found[0]!r} in {where}: …{text[max(0, found.start() - 80) : found.end() + 80]}…"
        )


def _all_articles(client) -> list[dict]:
    return walk(client, "/v1/articles?limit=100")


@pytest.fixture
def real_values(client):
    """Path and filter values taken from the live data."""
    sections = [s["slug"] for s in client.get("/v1/sections?limit=100").get_json()["data"]]
    trends = [t["slug"] for t in client.get("/v1/trends?limit=100").get_json()["data"]]
    issues = [i["id"] for i in client.get("/v1/issues?limit=100").get_json()["data"]]
    articles = _all_articles(client)
    assert sections and trends and issues and articles
    return {
        "slug:articles": [a["slug"] for a in articles],
        "slug:sections": sections,
        "slug:trends": trends,
        "issue_id": issues,
        "filters": {
            "section": sections,
            "trend": trends,
            "issue": issues,
            "lang": ["en", "ru", "be"],
            "sort": ["newest", "oldest"],
            "from": ["2022-02-14", "2099-01-02"],
            "to": ["2022-02-14", "2099-01-02"],
            "updated_since": ["2000-01-01T00:00:00Z"],
            "covers": ["2022-02-16"],
            "year": ["2022"],
            "format": ["html", "text", "blocks"],
            "page": ["1", "2"],
            "limit": ["1", "100"],
        },
    }


def _urls(app, values) -> list[str]:
    """Every GET route, path parameters filled from real data."""
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        if not rule.arguments:
            urls.append(rule.rule)
            continue
        (arg,) = rule.arguments
        if arg == "slug":
            family = rule.rule.split("/")[2]
            fills = values[f"slug:{family}"]
        else:
            fills = values["issue_id"]
        urls += [rule.rule.replace(f"<{arg}>", quote(v, safe="")) for v in fills]
    return urls


def _schema_fields(app, url: str) -> set[str]:
    adapter = app.url_map.bind("localhost")
    endpoint, _ = adapter.match(urlsplit(url).path, method="GET")
    schema = getattr(app.view_functions[endpoint], "args_schema", None)
    if schema is None:
        return set()
    return {f.data_key or name for name, f in schema.fields.items()}


def _backend_name(app) -> str:
    return "sqlite" if app.config["DATABASE_URL"].startswith("sqlite") else "postgres"


def test_no_canary_on_any_route_with_any_filter(app, client, real_values):
    checked = 0
    for url in _urls(app, real_values):
        response = client.get(url)
        assert response.status_code < 500, url
        assert_no_canary(response, url)
        checked += 1
        params = _schema_fields(app, url)
        for name, fills in real_values["filters"].items():
            if name not in params:
                continue
            for value in fills:
                full = f"{url}?{name}={quote(value)}"
                response = client.get(full)
                assert response.status_code < 500, full
                assert_no_canary(response, full)
                checked += 1
    assert checked > 200
    record_figures("leaks", **{f"route_filter_responses_{_backend_name(app)}": checked})


# Requests that make each route answer with an error (400, 405) or a conditional answer (304 or its refusal).
ERROR_VARIANTS = (
    ("GET", "?nope=1", {}),
    ("GET", "?limit=0", {}),
    ("GET", "?limit=1&limit=2", {}),
    ("GET", "?cursor=bm90LWEtY3Vyc29y", {}),
    ("GET", "", {"If-None-Match": "*"}),
    ("GET", "", {"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"}),
    ("HEAD", "", {}),
    ("POST", "", {}),
    ("DELETE", "", {}),
)


def test_no_canary_in_any_error_body_or_etag(app, client, real_values):
    """Every route's error bodies (400, 404, 405, 410) and validators (ETag, Last-Modified, 304s): no canary."""
    checked, statuses, etags = 0, set(), set()
    urls = [(url, None) for url in _urls(app, real_values)] + [(f"/v1/articles/{s}", s) for s in HIDDEN_SLUGS]
    for url, own in urls:
        for method, query, headers in ERROR_VARIANTS:
            response = client.open(url + query, method=method, headers=headers)
            assert response.status_code < 500, (method, url + query, response.status_code)
            assert_no_canary(response, f"{method} {url}{query} {headers}", own=own)
            statuses.add(response.status_code)
            if response.headers.get("ETag"):
                etags.add(response.headers["ETag"])
            checked += 1
    assert {304, 400, 404, 405} <= statuses, statuses
    assert etags
    record_figures("leaks", **{f"error_and_conditional_responses_{_backend_name(app)}": checked})


@pytest.mark.parametrize("canary", sorted(set(CANARIES)) + ["canary", "nomenklatura CANARYDRAFT"])
def test_search_for_a_canary_finds_nothing(app, client, canary):
    for url in ("/v1/articles", "/v1/feed.atom", "/v1/feed.rss", "/v1/feed.json"):
        full = f"{url}?q={quote(canary)}"
        response = client.get(full)
        assert response.status_code == 200, full
        assert_no_canary(response, full, echo=canary)
        if url == "/v1/articles" and canary != "canary":
            assert response.get_json()["meta"]["total"] == 0


def test_feeds_changes_openapi_and_home_carry_no_canary(client):
    for url in ("/", "/v1", "/v1/", "/v1/openapi.json", "/docs", "/v1/feed.atom", "/v1/feed.rss", "/v1/feed.json"):
        response = client.get(url, follow_redirects=True)
        assert response.status_code == 200, url
        assert_no_canary(response, url)
    url, pages = "/v1/changes?limit=5", 0
    while url and pages < 200:
        response = client.get(url)
        assert response.status_code == 200, url
        assert_no_canary(response, url)
        pages += 1
        page = response.get_json()
        if not page["meta"]["has_more"]:
            break
        url = page["links"]["next"]
    assert pages >= 2 and not page["meta"]["has_more"], "the change feed was not walked to its end"


def _normalised(response, slug: str) -> tuple:
    headers = {k: v.replace(slug, "SLUG") for k, v in response.headers.items() if k not in ("Date", "X-Request-Id")}
    return response.status_code, headers, response.get_data(as_text=True).replace(slug, "SLUG")


@pytest.mark.parametrize("slug", HIDDEN_SLUGS)
@pytest.mark.parametrize("suffix", ["", "?lang=ru", "?format=text", "/related", "?include=related"])
def test_hidden_article_answers_like_a_missing_one(client, slug, suffix):
    missing = "absent" + slug.removeprefix("canary")  # same length, so Content-Length compares too
    hidden = client.get(f"/v1/articles/{slug}{suffix}")
    absent = client.get(f"/v1/articles/{missing}{suffix}")
    assert hidden.status_code == 404
    assert _normalised(hidden, slug) == _normalised(absent, missing)


@pytest.mark.parametrize("slug", HIDDEN_SLUGS)
def test_hidden_article_answers_like_a_missing_one_to_validators_errors_and_methods(client, slug):
    """Conditional requests (any ETag, `*`, a date), bad parameters and other methods cannot tell a hidden
    article from a missing one: the same status, headers and body, and never a 304 or an ETag."""
    missing = "absent" + slug.removeprefix("canary")
    public_etag = client.get(f"/v1/articles/{SEED_SLUG}").headers["ETag"]
    variants = [
        ("GET", "", {"If-None-Match": "*"}),
        ("GET", "", {"If-None-Match": public_etag}),
        ("GET", "", {"If-Modified-Since": "Mon, 01 Jan 1990 00:00:00 GMT"}),
        ("GET", "", {"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"}),
        ("HEAD", "", {}),
        ("POST", "", {}),
        ("OPTIONS", "", {}),
        ("GET", "?fields=nope", {}),
        ("GET", "?include=nope", {}),
        ("GET", "?format=bogus", {}),
        ("GET", "?lang=xx", {}),
        ("GET", "?nope=1", {}),
        ("GET", "?fields=title&include=section", {}),
    ]
    for method, query, headers in variants:
        hidden = client.open(f"/v1/articles/{slug}{query}", method=method, headers=headers)
        absent = client.open(f"/v1/articles/{missing}{query}", method=method, headers=headers)
        assert hidden.status_code != 304 and (method == "OPTIONS" or "ETag" not in hidden.headers)
        assert _normalised(hidden, slug) == _normalised(absent, missing), (method, query, headers)


def _visibility(client) -> tuple[bool, bool, int, int]:
    listed = any(a["slug"] == EMBARGO_SLUG for a in _all_articles(client))
    item = client.get(f"/v1/articles/{EMBARGO_SLUG}").status_code == 200
    total = client.get("/v1/articles?limit=1").get_json()["meta"]["total"]
    count = client.get(f"/v1/sections/{EMBARGO_SECTION}").get_json()["data"]["article_count"]
    return listed, item, total, count


def test_embargoed_article_appears_at_its_embargo_time_not_a_second_before(client, frozen_clock):
    frozen_clock(EMBARGO_END - dt.timedelta(seconds=1))
    listed, item, total_before, count_before = _visibility(client)
    assert not listed and not item
    frozen_clock(EMBARGO_END)
    listed, item, total_after, count_after = _visibility(client)
    assert listed and item
    assert total_after == total_before + 1 and count_after == count_before + 1
