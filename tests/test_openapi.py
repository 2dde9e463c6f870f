"""The OpenAPI document: generated from the app, matches its routes, validates, and describes limits and errors."""

from __future__ import annotations

from openapi_spec_validator import validate

from api.openapi import SKIP_ENDPOINTS, openapi_path


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
