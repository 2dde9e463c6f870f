"""The OpenAPI 3.1 document, generated from the app's routes and the marshmallow schemas of each view.

Paths come from `app.url_map` (every rule whose view carries `args_schema`, i.e. every
`cached_endpoint`), so a new endpoint appears here without editing this file. Parameters and bodies come
from the same schemas that parse the query strings and serialise the responses (apispec's
MarshmallowPlugin), with extra converters for our strict fields (CsvList, IssueId, StrictInt).
"""

from __future__ import annotations

import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask, current_app

from schemas.args import ItemArgs
from schemas.fields import CsvList, IssueId, StrictInt
from schemas.output import ProblemSchema

OPENAPI_VERSION = "3.1.0"
ISSUE_ID_PATTERN = r"^[0-9]{4}-(W(0[1-9]|[1-4][0-9]|5[0-3])|(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01]))$"
SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
SKIP_ENDPOINTS = {"static", "pages.docs", "pages.index"}

HEADERS = {
    "ETag": {
        "description": "Weak validator of this representation; send it back in If-None-Match.",
        "schema": {"type": "string"},
    },
    "Last-Modified": {
        "description": "When the visible content last changed (HTTP date).",
        "schema": {"type": "string"},
    },
    "Cache-Control": {
        "description": "public, max-age / s-maxage, stale-while-revalidate; capped at the next embargo end.",
        "schema": {"type": "string"},
    },
    "Vary": {"description": "Accept-Encoding, Accept-Language, Origin.", "schema": {"type": "string"}},
    "Content-Language": {
        "description": "The negotiated language (en, ru, be).",
        "schema": {"type": "string", "enum": ["en", "ru", "be"]},
    },
    "Link": {
        "description": "RFC 8288 pagination links: first, prev, next (collections only).",
        "schema": {"type": "string"},
    },
    "RateLimit-Limit": {
        "description": "Requests allowed in the window (when rate limiting is on).",
        "schema": {"type": "integer"},
    },
    "RateLimit-Remaining": {"description": "Requests left in the window.", "schema": {"type": "integer"}},
    "RateLimit-Reset": {"description": "Seconds until the window resets.", "schema": {"type": "integer"}},
    "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}},
}

ERRORS = {
    "400": "Bad request: an unknown, repeated or malformed query parameter (see invalid_params).",
    "404": "Not found.",
    "405": "Method not allowed (the API is read-only: GET, HEAD, OPTIONS).",
    "410": "Gone: the resource existed and was removed.",
    "429": "Too many requests; see Retry-After.",
    "503": "The store is unavailable; retry after Retry-After seconds.",
}


def _list_pattern(item: str, max_items: int) -> str:
    return f"^(?:{item})(?:,(?:{item})){{0,{max_items - 1}}}$"


def _field2property(self, field, ret=None):
    """Extra converters for schemas/fields.py (bound as an apispec attribute function)."""
    if isinstance(field, CsvList):
        inner = self.field2property(field.item)
        out = {
            "type": "string",
            "description": (field.metadata.get("description", "") + f" At most {field.max_items} values.").strip(),
        }
        if inner.get("enum"):
            out["pattern"] = _list_pattern("|".join(re.escape(v) for v in inner["enum"]), field.max_items)
        elif inner.get("pattern"):
            item = inner["pattern"].removeprefix("^").removesuffix("$")
            out["pattern"] = f"^(?:{item})(?:,(?:{item})){{0,{field.max_items - 1}}}$"
        return out
    if isinstance(field, IssueId):
        return {"type": "string", "pattern": ISSUE_ID_PATTERN, "examples": ["2022-02-14", "2022-W07"]}
    if isinstance(field, StrictInt):
        return {"type": "integer"}
    return {}


def _clean_none(obj):
    if isinstance(obj, dict):
        return {k: _clean_none(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [_clean_none(v) for v in obj]
    return obj


def _schema_name(resolver_schema) -> str:
    cls = resolver_schema if isinstance(resolver_schema, type) else type(resolver_schema)
    name = cls.__name__
    return name[:-6] if name.endswith("Schema") and len(name) > 6 else name


def _examples(app: Flask) -> dict[str, str]:
    """Path-parameter examples taken from the live store (the sample archive in development)."""
    found: dict[str, str] = {}
    try:
        from api import clock
        from api.store import queries

        store = app.extensions["store"]
        with store.session(store.current()) as session:
            article, issue, section, trend = queries.examples(session, clock.now())
        for key, value in (
            ("/v1/articles/{slug}", article), ("issue_id", issue), ("/v1/sections/{slug}", section),
            ("/v1/trends/{slug}", trend),
        ):  # fmt: skip
            if value is not None:
                found[key] = value
    except Exception:  # noqa: BLE001 - examples are a nicety; the document must build without a store
        pass
    return found


def _example_key(path: str, arg: str) -> str:
    """/v1/sections/{slug}/articles → /v1/sections/{slug}: the key under which _examples stores a value."""
    if arg == "issue_id":
        return "issue_id"
    marker = "{" + arg + "}"
    return path[: path.index(marker) + len(marker)]


def _response_example(app: Flask, path: str, rule, examples: dict, collection: bool):
    """A real 200 body for this operation, fetched from the app itself (sample archive), or None."""
    if path == "/v1/openapi.json":
        return None
    url = path
    for arg in rule.arguments:
        value = examples.get(_example_key(path, arg))
        if not value:
            return None
        url = url.replace("{" + arg + "}", value)
    if collection:
        url += "?limit=2"
    try:
        resp = app.test_client().get(url)
    except Exception:  # noqa: BLE001 - an example is optional
        return None
    if resp.status_code != 200 or resp.mimetype != "application/json":
        return None
    return resp.get_json()


def openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[a-z_]+:)?([a-z_]+)>", r"{\1}", rule)


def operations(app: Flask):
    """(path, rule, view) for every documented route, i.e. every view with an args schema."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint in SKIP_ENDPOINTS:
            continue
        view = app.view_functions[rule.endpoint]
        if getattr(view, "args_schema", None) is None:
            continue
        if rule.rule.endswith("/") and rule.rule != "/":
            continue  # trailing-slash aliases (/v1/) are the same operation
        yield openapi_path(rule.rule), rule, view


# JSON Feed 1.1 (https://jsonfeed.org/version/1.1): the top level and the fields every item carries.
JSON_FEED = {
    "type": "object",
    "required": ["version", "title", "items"],
    "properties": {
        "version": {"const": "https://jsonfeed.org/version/1.1"},
        "title": {"type": "string"},
        "home_page_url": {"type": "string"},
        "feed_url": {"type": "string"},
        "next_url": {"type": "string"},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id"],
                "properties": {"id": {"type": "string"}, "url": {"type": "string"}, "title": {"type": "string"}},
            },
        },
    },
}


def build_spec(app: Flask) -> dict:
    plugin = MarshmallowPlugin(schema_name_resolver=_schema_name)
    spec = APISpec(
        title="Bulletin Content API",
        version="1",
        openapi_version=OPENAPI_VERSION,
        plugins=[plugin],
        info={
            "description": "Read-only API of a weekly analytical bulletin on Belarus: issues → sections → articles, "
            "each article tagged with a trend (worse / unchanged / better). Responses carry weak ETags, "
            "Last-Modified and Cache-Control; collections paginate with opaque cursors (RFC 8288 Link header).",
            "license": {"name": "Proprietary content; code MIT", "identifier": "MIT"},
        },
        servers=[{"url": app.config.get("PUBLIC_BASE_URL") or "/"}],
    )
    plugin.converter.add_attribute_function(_field2property)
    spec.components.schema("Problem", schema=ProblemSchema)
    for name, header in HEADERS.items():
        spec.components.header(name, header)
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for status, text in ERRORS.items():
        headers = {"Retry-After": {"$ref": "#/components/headers/Retry-After"}} if status in ("429", "503") else {}
        spec.components.response(f"E{status}", {"description": text, "content": problem, "headers": headers})
    examples = _examples(app)

    for path, rule, view in operations(app):
        args = view.args_schema
        params = plugin.converter.schema2parameters(type(args), location="query")
        params = [_clean_none(p) for p in params]
        for p in params:
            p.setdefault("required", False)
        for arg in rule.arguments:
            schema = {"type": "string"}
            if arg == "issue_id":
                schema |= {"pattern": ISSUE_ID_PATTERN}
                example = examples.get("issue_id")
            else:
                schema |= {"pattern": SLUG_PATTERN, "maxLength": 200}
                example = examples.get(_example_key(path, arg))
            param = {"name": arg, "in": "path", "required": True, "schema": schema}
            if example:
                param["example"] = example
            params.append(param)
        mimetype = getattr(view, "mimetype", "application/json")
        response_schema = getattr(view, "response_schema", None)
        content_schema = response_schema if response_schema is not None else {"type": "object"}
        if mimetype != "application/json" and response_schema is None:
            content_schema = JSON_FEED if mimetype.endswith("+json") else {"type": "string"}
        is_collection = "limit" in args.fields
        ok_headers = {
            h: {"$ref": f"#/components/headers/{h}"}
            for h in ("ETag", "Last-Modified", "Cache-Control", "Vary", "Content-Language")
        }
        if is_collection:
            ok_headers["Link"] = {"$ref": "#/components/headers/Link"}
        for h in ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"):
            ok_headers[h] = {"$ref": f"#/components/headers/{h}"}
        example = (
            _response_example(app, path, rule, examples, is_collection) if mimetype == "application/json" else None
        )
        responses = {
            "200": {"description": "OK", "headers": ok_headers, "content": {mimetype: {"schema": content_schema}}},
            "304": {
                "description": "Not modified (If-None-Match / If-Modified-Since matched).",
                "headers": {h: ok_headers[h] for h in ("ETag", "Cache-Control")},
            },
            "400": {"$ref": "#/components/responses/E400"},
            "405": {"$ref": "#/components/responses/E405"},
            "429": {"$ref": "#/components/responses/E429"},
            "503": {"$ref": "#/components/responses/E503"},
        }
        if example is not None:
            responses["200"]["content"][mimetype]["example"] = example
        if rule.arguments or "latest" in path:
            responses["404"] = {"$ref": "#/components/responses/E404"}
        if getattr(view, "gone", False) or path.startswith("/v1/changes"):
            responses["410"] = {"$ref": "#/components/responses/E410"}
        params.append({"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"}})
        params.append({"name": "If-Modified-Since", "in": "header", "required": False, "schema": {"type": "string"}})
        doc = (view.__doc__ or "").strip()
        segment = path.split("/")[2] if path.count("/") >= 2 else "meta"
        tag = "meta" if "." in segment else segment
        rules = []
        if "cursor" in args.fields and "page" in args.fields:
            rules.append("`cursor` and `page` are mutually exclusive")
        if "from_" in args.fields and "to" in args.fields:
            rules.append("`from` must not be after `to`")
        if "sort" in args.fields and "relevance" in str(args.fields["sort"].validate):
            rules.append("`sort=relevance` needs `q`")
        if "issue" in args.fields or "issue_id" in rule.arguments:
            rules.append("an issue id names the Monday that starts the week")
        operation = {
            "operationId": rule.endpoint.replace(".", "_"),
            "summary": doc.splitlines()[0] if doc else rule.endpoint,
            "description": (
                doc + ("\n\nConstraints across parameters (400 otherwise): " + "; ".join(rules) + "." if rules else "")
            ).strip(),
            "tags": [tag],
            "parameters": params,
            "responses": responses,
        }
        spec.path(path=path, operations={"get": operation})
    return spec.to_dict()


def openapi_document() -> dict:
    app = current_app._get_current_object()
    key = "openapi_document"
    if key not in app.extensions:
        app.extensions[key] = build_spec(app)
    return app.extensions[key]


def register(app: Flask) -> None:
    from api.http import cached_endpoint

    @cached_endpoint(ItemArgs())
    def openapi_json(session, ctx):
        """The OpenAPI 3.1 description of this API."""
        import orjson

        return orjson.dumps(openapi_document())

    app.add_url_rule("/v1/openapi.json", "openapi.openapi_json", openapi_json, methods=["GET"])
