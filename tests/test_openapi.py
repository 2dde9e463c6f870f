"""The OpenAPI document: generated from the app, matches its routes, validates, and describes limits and errors."""

from __future__ import annotations

import re

from jsonschema import Draft202012Validator, FormatChecker
from openapi_spec_validator import validate

from api.openapi import SKIP_ENDPOINTS, openapi_path
from tests.conftest import SEED_SLUG


def _spec(client):
    resp = client.get("/v1/openapi.json")
    assert resp.status_code == 200
    assert resp.mimetype == "application/json"
    assert resp.headers["ETag"]
    return resp.get_json()


def test_routes_equal_spec_paths(app, client):
    spec = _spec(client)
    routes = {
        openapi_path(r.rule)
        for r in app.url_map.iter_rules()
        if r.endpoint not in SKIP_ENDPOINTS
        and r.rule not in ("/healthz", "/readyz")
        and not (r.rule.endswith("/") and r.rule != "/")
    }
    assert routes == set(spec["paths"])
    assert "/v1/articles/{slug}" in spec["paths"]


def test_document_validates(client):
    spec = _spec(client)
    assert spec["openapi"] == "3.1.0"
    validate(spec)


def test_parameters_carry_limits_and_errors(client):
    spec = _spec(client)
    op = spec["paths"]["/v1/articles"]["get"]
    params = {p["name"]: p for p in op["parameters"]}
    assert params["limit"]["schema"]["minimum"] == 1 and params["limit"]["schema"]["maximum"] == 100
    assert params["q"]["schema"]["maxLength"] == 200
    assert params["lang"]["schema"]["enum"] == ["en", "ru", "be"]
    assert "pattern" in params["issue"]["schema"]
    assert set(op["responses"]) >= {"200", "304", "400", "405", "429", "503"}
    assert "Link" in op["responses"]["200"]["headers"] and "ETag" in op["responses"]["200"]["headers"]
    item = spec["paths"]["/v1/articles/{slug}"]["get"]
    assert "404" in item["responses"]
    slug = next(p for p in item["parameters"] if p["name"] == "slug")
    # the example is a real public article of the loaded archive
    assert slug["example"] and client.get(f"/v1/articles/{slug['example']}").status_code == 200
    problem = spec["components"]["responses"]["E400"]["content"]["application/problem+json"]["schema"]
    assert problem == {"$ref": "#/components/schemas/Problem"}


def test_examples_come_from_the_archive(client):
    spec = _spec(client)
    with_examples = [
        path
        for path, ops in spec["paths"].items()
        if "example" in ops["get"]["responses"]["200"]["content"].get("application/json", {})
    ]
    assert "/v1/sections/{slug}/articles" in with_examples and "/v1/issues/latest" in with_examples
    latest = spec["paths"]["/v1/issues/latest"]["get"]["responses"]["200"]["content"]["application/json"]["example"]
    assert latest == client.get("/v1/issues/latest").get_json()


def test_new_code_is_not_served_old_cached_bodies(client, monkeypatch):
    """The generation is a content digest; the cache key also carries the code version, so a deploy revalidates."""
    import api.keys

    before = client.get("/v1/openapi.json").headers["ETag"]
    monkeypatch.setattr(api.keys, "CODE_VERSION", "another-build")
    after = client.get("/v1/openapi.json")
    assert after.status_code == 200 and after.headers["ETag"] != before


# --------------------------------------------------------------------------- typed to the last field


def _untyped(node, where="#") -> list[str]:
    """Every schema property (anywhere in the document) with no type, reference or composition."""
    found = []
    if isinstance(node, dict):
        for name, prop in node.get("properties", {}).items():
            if isinstance(prop, dict) and not ({"type", "$ref", "oneOf", "anyOf", "allOf", "const"} & set(prop)):
                found.append(f"{where}/properties/{name}")
        for key, value in node.items():
            if key not in ("example", "examples"):
                found += _untyped(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _untyped(value, f"{where}/{i}")
    return found


def test_every_property_is_typed_and_objects_say_what_is_required(client):
    spec = _spec(client)
    assert _untyped(spec) == []
    schemas = spec["components"]["schemas"]
    for name, schema in schemas.items():
        if schema.get("type") == "object" and schema.get("additionalProperties") is False:
            assert "required" in schema or name == "Included", name  # include=… names which lists come
    for envelope in ("ArticleList", "IssueList", "SectionList", "TrendList", "Timeline", "ChangeFeed"):
        assert {"data", "meta", "links"} <= set(schemas[envelope]["required"]), envelope
    for item in ("ArticleItem", "IssueItem", "SectionItem", "TrendItem"):
        assert "data" in schemas[item]["required"], item
    assert set(schemas["PageLinks"]["required"]) == {"self", "first", "next", "prev"}
    assert schemas["PageLinks"]["properties"]["next"]["type"] == ["string", "null"]
    # the change feed of a client that never asks for `fields`: every article field is there
    assert {"title", "lead", "body", "section", "trend", "issue", "url"} <= set(schemas["ArticleFull"]["required"])
    invalid = schemas["Problem"]["properties"]["invalid_params"]["items"]
    assert invalid == {"$ref": "#/components/schemas/InvalidParam"}
    assert set(schemas["InvalidParam"]["required"]) == {"name", "reason"}


def test_change_feed_items_are_upserts_or_tombstones(client):
    spec = _spec(client)
    schemas = spec["components"]["schemas"]
    items = schemas["ChangeFeed"]["properties"]["data"]["items"]
    assert items["discriminator"] == {
        "propertyName": "type",
        "mapping": {"upsert": "#/components/schemas/ChangeUpsert", "delete": "#/components/schemas/ChangeDelete"},
    }
    assert [s["$ref"] for s in items["oneOf"]] == list(items["discriminator"]["mapping"].values())
    assert schemas["ChangeUpsert"]["properties"]["type"]["enum"] == ["upsert"]
    assert schemas["ChangeDelete"]["properties"]["tombstone"] == {"$ref": "#/components/schemas/Tombstone"}
    ok = spec["paths"]["/v1/changes"]["get"]["responses"]["200"]["content"]["application/json"]
    assert ok["schema"] == {"$ref": "#/components/schemas/ChangeFeed"}


def test_one_direction_type_everywhere(client):
    """A trend tag, a section's latest trend and a timeline cell name a direction with the same three words."""
    spec = _spec(client)
    schemas = spec["components"]["schemas"]
    words = ["worse", "unchanged", "better"]
    for name in ("TrendRef", "Trend", "LatestTrend", "TimelineCell"):
        prop = schemas[name]["properties"]["direction"]
        assert (prop["type"], prop["enum"]) == ("string", words), name
    trend = client.get("/v1/trends/worse").get_json()["data"]
    timeline = client.get("/v1/trends/timeline").get_json()["data"]
    section = client.get("/v1/sections").get_json()["data"][0]
    assert trend["direction"] == "worse"
    assert {c["direction"] for c in timeline} <= set(words) and section["latest_trend"]["direction"] in words


READABLE_IDS = {
    "/v1/articles": "listArticles",
    "/v1/articles/{slug}": "getArticle",
    "/v1/issues": "listIssues",
    "/v1/issues/{issue_id}": "getIssue",
    "/v1/issues/latest": "getLatestIssue",
    "/v1/sections": "listSections",
    "/v1/sections/{slug}": "getSection",
    "/v1/sections/{slug}/articles": "listSectionArticles",
    "/v1/trends": "listTrends",
    "/v1/trends/{slug}": "getTrend",
    "/v1/trends/{slug}/articles": "listTrendArticles",
    "/v1/trends/timeline": "getTrendTimeline",
    "/v1/changes": "listChanges",
    "/v1/feed.atom": "getAtomFeed",
    "/v1/feed.rss": "getRssFeed",
    "/v1/feed.json": "getJsonFeed",
    "/v1": "getRoot",
    "/v1/openapi.json": "getOpenApi",
}


def test_operations_are_named_tagged_described_and_exemplified(client):
    spec = _spec(client)
    ops = {path: item["get"] for path, item in spec["paths"].items()}
    assert {p: ops[p]["operationId"] for p in READABLE_IDS if p in ops} == READABLE_IDS
    ids = [op["operationId"] for op in ops.values()]
    assert len(set(ids)) == len(ids) and all(re.fullmatch(r"(list|get)[A-Z][A-Za-z]+", i) for i in ids), ids
    declared = [t["name"] for t in spec["tags"]]
    assert all(t.get("description") for t in spec["tags"])
    for path, op in ops.items():
        assert op["tags"] and set(op["tags"]) <= set(declared), path
        assert op["description"] and op["summary"], path
        (content,) = op["responses"]["200"]["content"].values()
        if path == "/media/{name}":  # image bytes: the example is the path parameter's, a real rendition
            assert content["schema"]["format"] == "binary" and op["parameters"][0]["example"], path
            continue
        assert "example" in content, f"{path} has no example"
    assert {ops[p]["tags"][0] for p in ("/v1/feed.atom", "/v1/feed.rss", "/v1/feed.json")} == {"feeds"}
    assert spec["security"] == [] and spec["info"]["contact"]["name"]


def _operation(spec: dict, path: str) -> dict:
    """The operation that serves a concrete path (concrete paths before templated ones, as OpenAPI matches)."""
    templates = sorted(spec["paths"], key=lambda p: p.count("{"))
    for template in templates:
        pattern = "^" + re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            return spec["paths"][template]["get"]
    raise AssertionError(f"no operation serves {path}")


def _header_schema(spec: dict, ref: dict) -> dict:
    return spec["components"]["headers"][ref["$ref"].rsplit("/", 1)[-1]]


SAMPLE_URLS = (
    "/v1", "/v1/articles", "/v1/articles?fields=title&limit=3", "/v1/articles?include=section,trend,issue&limit=3",
    "/v1/articles?format=blocks&limit=3", "/v1/articles?format=text&limit=2&lang=ru", "/v1/articles?q=minsk",
    "/v1/articles?page=2&limit=2", "/v1/issues", "/v1/issues/latest", "/v1/issues/latest?lang=be&fields=title",
    "/v1/sections", "/v1/trends", "/v1/trends/worse", "/v1/trends/worse/articles?limit=2", "/v1/trends/timeline",
    "/v1/changes?limit=3", "/v1/changes", "/v1/changes?section=economy", "/v1/feed.json?limit=2",
    "/v1/openapi.json", f"/v1/articles/{SEED_SLUG}", f"/v1/articles/{SEED_SLUG}?format=blocks&include=issue",
    f"/v1/articles/{SEED_SLUG}?lang=ru", "/v1/articles?lang=ru&limit=2", "/v1/articles/belarus-budget-deficit-widens",
)  # fmt: skip


def test_responses_match_the_document_body_and_headers(client):
    """What is sent is what is documented: each body validates against its 200 schema (formats checked), each
    header documented as required is there and matches its schema, and the Link header is sent where documented."""
    spec = _spec(client)
    seen = set()
    for url in SAMPLE_URLS + tuple(f"/v1/sections/{s['slug']}" for s in client.get("/v1/sections").get_json()["data"]):
        resp = client.get(url)
        assert resp.status_code == 200, url
        path = url.split("?")[0]
        op = _operation(spec, path)
        seen.add(op["operationId"])
        ok = op["responses"]["200"]
        schema = {**ok["content"][resp.mimetype]["schema"], "components": spec["components"]}
        errors = list(Draft202012Validator(schema, format_checker=FormatChecker()).iter_errors(resp.get_json()))
        assert not errors, f"{url}: {errors[0].message} at {list(errors[0].absolute_path)}"
        for name, ref in ok["headers"].items():
            header = _header_schema(spec, ref)
            if header.get("required"):
                assert name in resp.headers, f"{url}: {name} documented as always sent"
            if name in resp.headers and header["schema"]["type"] == "integer":
                assert resp.headers[name].isdigit(), (url, name)
        assert ("Link" in resp.headers) <= ("Link" in ok["headers"]), f"{url}: undocumented Link header"
    assert len(seen) >= 12


def test_link_headers_are_sent_as_documented(client):
    spec = _spec(client)
    changes = client.get("/v1/changes?limit=2")
    body = changes.get_json()
    assert changes.headers["Link"] == f'<{body["links"]["next"]}>; rel="next"'
    listing = client.get("/v1/articles?limit=2")
    links = listing.get_json()["links"]
    assert f'<{links["next"]}>; rel="next"' in listing.headers["Link"]
    for feed in ("/v1/feed.atom", "/v1/feed.rss", "/v1/feed.json"):  # the feeds' paging links, as collections send
        assert spec["paths"][feed]["get"]["responses"]["200"]["headers"]["Link"] == {
            "$ref": "#/components/headers/Link"
        }
        sent = client.get(f"{feed}?limit=2").headers["Link"]
        assert 'rel="first"' in sent and 'rel="next"' in sent


def test_rate_limit_headers_are_documented_by_the_names_sent(client):
    spec = _spec(client)
    documented = set(spec["paths"]["/v1/articles"]["get"]["responses"]["200"]["headers"])
    assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= documented
    assert not any(h.startswith("RateLimit-") for h in spec["components"]["headers"])
