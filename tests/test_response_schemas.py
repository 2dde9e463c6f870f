"""Every endpoint dumps what its view returns through its declared response schema, the one the OpenAPI document
publishes for it; the compiled dumper gives exactly what that marshmallow schema gives, on requests generated over
every route (languages, body formats, sparse fieldsets, includes, searches, page sizes)."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api import http
from api.openapi import _schema_name, operations
from schemas.compiled import dumper as compiled_dumper


@pytest.fixture
def recorded(loaded, new_app, monkeypatch):
    """An app whose every request runs its view (no response cache, no hot path), with each dump the endpoint
    wrapper makes recorded as (schema, exclude, compiled dump, marshmallow dump)."""
    app = new_app(loaded, HOT_CACHE_MAX_BYTES=0)
    monkeypatch.setattr(http.response_cache, "get", lambda key: None)
    dumps: list[tuple] = []

    def dumper(schema, exclude=()):
        compiled = compiled_dumper(schema, exclude)

        def dump(value, ctx):
            got = compiled(value, ctx)
            dumps.append((schema, exclude, got, schema(context=ctx, exclude=exclude).dump(value), ctx.args))
            return got

        return dump

    monkeypatch.setattr(http, "dumper", dumper)
    return app, dumps


def _choices(field) -> list[str]:
    """The values a CsvList parameter's items may take (its item field's OneOf)."""
    return sorted(next(v.choices for v in field.item.validators if hasattr(v, "choices")))


def _query(draw, args_schema) -> dict:
    names = args_schema.fields
    query = {}
    if "lang" in names and draw(st.booleans()):
        query["lang"] = draw(st.sampled_from(["en", "ru", "be"]))
    if "format" in names and draw(st.booleans()):
        query["format"] = draw(st.sampled_from(["html", "text", "blocks"]))
    for name, key in (("fields_", "fields"), ("include", "include")):
        if name in names and draw(st.booleans()):
            picked = draw(st.lists(st.sampled_from(_choices(names[name])), min_size=1, max_size=5, unique=True))
            query[key] = ",".join(picked)
    if "q" in names and draw(st.integers(0, 3)) == 0:
        query["q"] = draw(st.sampled_from(["the", "budget", "pressure", "zzzz"]))
    if "limit" in names and draw(st.booleans()):
        query["limit"] = draw(st.integers(1, 4))
    return query


def _routes(app) -> list[tuple[str, str, object]]:
    """(path, URL with example path parameters, view) of every documented operation."""
    doc = app.test_client().get("/v1/openapi.json").get_json()
    found = []
    for path, _rule, view in operations(app):
        url = path
        for param in doc["paths"][path]["get"]["parameters"]:
            if param["in"] == "path":
                url = url.replace("{" + param["name"] + "}", param["example"])
        found.append((path, url, view))
    return found


@settings(max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_every_endpoint_dumps_through_its_declared_schema_and_compiled_equals_marshmallow(recorded, data):
    app, dumps = recorded
    client = app.test_client()
    for path, url, view in _routes(app):
        query = _query(data.draw, view.args_schema)
        dumps.clear()
        resp = client.get(url, query_string=query)
        assert resp.status_code == 200, (url, query, resp.get_data(as_text=True)[:300])
        if view.response_schema is None:  # a feed, a page or the OpenAPI document: bytes of their own
            assert dumps == [], path
            continue
        assert len(dumps) == 1, (path, len(dumps))
        schema, exclude, got, expected, args = dumps[0]
        assert schema is view.response_schema, path
        assert exclude == (view.exclude(args) if view.exclude else ()), path
        assert got == expected, (path, query)
        assert resp.get_json() == orjson.loads(orjson.dumps(got)), path  # the body is that dump


def test_the_openapi_response_schema_of_every_route_is_the_one_its_endpoint_dumps_with(app):
    doc = app.test_client().get("/v1/openapi.json").get_json()
    components = doc["components"]["schemas"]
    declared = 0
    for path, _rule, view in operations(app):
        content = doc["paths"][path]["get"]["responses"]["200"]["content"]
        (schema,) = [c["schema"] for c in content.values()]
        if view.response_schema is None:
            assert "$ref" not in schema or path == "/v1/openapi.json", path  # documented by hand: feeds, pages
            continue
        name = _schema_name(view.response_schema)
        assert schema == {"$ref": f"#/components/schemas/{name}"}, path
        fields = {f.data_key or n for n, f in view.response_schema().dump_fields.items()}
        assert set(components[name]["properties"]) == fields, path  # that very schema, not a namesake
        declared += 1
    assert declared >= 15, "every JSON resource declares its response schema"
