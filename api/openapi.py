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
from schemas.fields import CsvList, IssueId, OneOf, StrictInt
from schemas.output import ProblemSchema

OPENAPI_VERSION = "3.1.0"
ISSUE_ID_PATTERN = r"^[0-9]{4}-(W(0[1-9]|[1-4][0-9]|5[0-3])|(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01]))$"
SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
SKIP_ENDPOINTS = {"static", "pages.docs", "pages.index"}

HEADERS = {
    "ETag": {
        "description": "Weak validator of this representation; send it back in If-None-Match.",
        "schema": {"type": "string", "pattern": '^W/"[0-9a-f]+"$'},
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
        "description": "RFC 8288 links of this page: first, next and prev (the same URLs as the body's `links`).",
        "schema": {"type": "string"},
    },
    "Link-Canonical": {
        "description": 'RFC 8288 `<…>; rel="canonical"`: sent when the slug asked for is an alias of the article.',
        "schema": {"type": "string"},
    },
    "Link-Next": {
        "description": 'RFC 8288 `<…>; rel="next"`: the URL of `links.next`.',
        "schema": {"type": "string"},
    },
    "X-RateLimit-Limit": {
        "description": "Requests allowed in the window (only when rate limiting is on).",
        "schema": {"type": "integer"},
    },
    "X-RateLimit-Remaining": {"description": "Requests left in the window.", "schema": {"type": "integer"}},
    "X-RateLimit-Reset": {
        "description": "When the window resets, in seconds since the Unix epoch.",
        "schema": {"type": "integer"},
    },
    "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}},
}
#: Sent on every 200 of a documented operation.
ALWAYS = ("ETag", "Last-Modified", "Cache-Control", "Vary", "Content-Language")
#: Headers always there where documented (the 304 carries ETag and Cache-Control too).
REQUIRED_HEADERS = (*ALWAYS, "Link", "Link-Next")
RATE_LIMIT = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")

TAGS = [
    {"name": "issues", "description": "Weekly issues: the list, one issue with its articles by section, the latest."},
    {"name": "articles", "description": "Articles: filtered and searched lists, one article in a body format."},
    {"name": "sections", "description": "The sections of the bulletin, with counts and trend streaks."},
    {"name": "trends", "description": "Trend tags (worse / unchanged / better) and the timeline of sections."},
    {"name": "changes", "description": "The change feed: upserts and tombstones since a token, to keep a copy."},
    {"name": "feeds", "description": "Atom, RSS and JSON Feed syndication of the articles."},
    {"name": "meta", "description": "The API root and this document."},
    {"name": "media", "description": "Images of the archive: renditions under content-addressed URLs."},
]
#: Operation ids that the naming rule (see operation_id) would not give.
# Kept as published when a resource became paged (generated clients call these names).
OPERATION_IDS = {"openapi.openapi_json": "getOpenApi", "timeline.trend_timeline": "getTrendTimeline"}

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
    if isinstance(field, OneOf):
        refs = {value: self.resolve_nested_schema(schema) for value, schema in field.mapping.items()}
        return {
            "oneOf": list(refs.values()),
            "discriminator": {
                "propertyName": field.property_name,
                "mapping": {value: ref["$ref"] for value, ref in refs.items()},
            },
        }
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
            media = queries.example_rendition(session, clock.now())
        for key, value in (
            ("/v1/articles/{slug}", article), ("issue_id", issue), ("/v1/sections/{slug}", section),
            ("/v1/trends/{slug}", trend), ("media", media),
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


# JSON Feed 1.1 (https://jsonfeed.org/version/1.1): the top level and the fields its items carry here.
_AUTHORS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string"}, "url": {"type": "string"}, "avatar": {"type": "string"}},
    },
}
JSON_FEED = {
    "type": "object",
    "required": ["version", "title", "items"],
    "properties": {
        "version": {"type": "string", "const": "https://jsonfeed.org/version/1.1"},
        "title": {"type": "string"},
        "home_page_url": {"type": "string"},
        "feed_url": {"type": "string"},
        "next_url": {"type": "string"},
        "description": {"type": "string"},
        "language": {"type": "string"},
        "authors": _AUTHORS,
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id"],
                "properties": {
                    "id": {"type": "string"},
                    "url": {"type": "string", "description": "The article in the reader page (HTML)."},
                    "external_url": {"type": "string", "description": "Where the article was first published."},
                    "title": {"type": "string"},
                    "content_html": {"type": "string"},
                    "content_text": {"type": "string"},
                    "summary": {"type": "string"},
                    "date_published": {"type": "string", "format": "date-time"},
                    "date_modified": {"type": "string", "format": "date-time"},
                    "authors": _AUTHORS,
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "language": {"type": "string"},
                    "_bulletin": {
                        "type": "object",
                        "description": "This API's extension (JSON Feed custom fields start with an underscore).",
                        "properties": {
                            "api_url": {"type": "string", "description": "The article in this API (JSON)."},
                            "section": {"type": ["string", "null"]},
                            "trend": {"type": ["string", "null"]},
                            "issue": {"type": ["string", "null"]},
                            "rights": {"type": "string"},
                        },
                    },
                },
            },
        },
    },
}

JSON_SCALARS = ({"type": "string"}, {"type": "number"}, {"type": "boolean"}, {"type": "null"})
#: Components written by hand: the blocks of `format=blocks`, and any JSON value (this document's own type).
COMPONENTS = {
    "Span": {
        "type": "object",
        "description": "A run of text; `marks` are decorators (strong, em, code) or keys of the block's markDefs.",
        "required": ["type", "text", "marks"],
        "properties": {
            "type": {"type": "string", "enum": ["span"]},
            "text": {"type": "string"},
            "marks": {"type": "array", "items": {"type": "string"}},
        },
        "additionalProperties": False,
    },
    "LinkMarkDef": {
        "type": "object",
        "required": ["key", "type", "href"],
        "properties": {
            "key": {"type": "string"},
            "type": {"type": "string", "enum": ["link"]},
            "href": {"type": "string"},
        },
        "additionalProperties": False,
    },
    "ParagraphBlock": {
        "type": "object",
        "required": ["type", "text", "children", "markDefs"],
        "properties": {
            "type": {"type": "string", "enum": ["paragraph"]},
            "text": {"type": "string", "description": "Plain text of the spans."},
            "children": {"type": "array", "items": {"$ref": "#/components/schemas/Span"}},
            "markDefs": {"type": "array", "items": {"$ref": "#/components/schemas/LinkMarkDef"}},
        },
        "additionalProperties": False,
    },
    "HeadingBlock": {
        "type": "object",
        "required": ["type", "level", "text", "children", "markDefs"],
        "properties": {
            "type": {"type": "string", "enum": ["heading"]},
            "level": {"type": "integer", "minimum": 1, "maximum": 6},
            "text": {"type": "string"},
            "children": {"type": "array", "items": {"$ref": "#/components/schemas/Span"}},
            "markDefs": {"type": "array", "items": {"$ref": "#/components/schemas/LinkMarkDef"}},
        },
        "additionalProperties": False,
    },
    "QuoteBlock": {
        "type": "object",
        "required": ["type", "blocks"],
        "properties": {
            "type": {"type": "string", "enum": ["quote"]},
            "blocks": {"type": "array", "items": {"$ref": "#/components/schemas/Block"}},
        },
        "additionalProperties": False,
    },
    "CodeBlock": {
        "type": "object",
        "required": ["type", "language", "text"],
        "properties": {
            "type": {"type": "string", "enum": ["code"]},
            "language": {"type": ["string", "null"]},
            "text": {"type": "string"},
        },
        "additionalProperties": False,
    },
    "Rendition": {
        "type": "object",
        "description": "One size and format of an image, served for a year under its content-addressed URL.",
        "required": ["url", "width", "height", "type"],
        "properties": {
            "url": {"type": "string", "description": "`…/media/<hash>-<width>.<ext>`"},
            "width": {"type": "integer", "minimum": 1},
            "height": {"type": "integer", "minimum": 1},
            "type": {"type": "string", "enum": ["image/webp", "image/jpeg", "image/png", "image/gif"]},
        },
        "additionalProperties": False,
    },
    "ImageBlock": {
        "type": "object",
        "description": "An image. One of the archive has `width`, `height` and `renditions` (a `srcset`); a link to "
        "an image elsewhere has its URL only (null sizes, no renditions).",
        "required": ["type", "src", "url", "alt", "width", "height", "caption", "credit", "renditions"],
        "properties": {
            "type": {"type": "string", "enum": ["image"]},
            "src": {"type": "string", "description": "The same as `url` (kept for older clients)."},
            "url": {"type": "string", "description": "The largest rendition in the image's own format."},
            "alt": {"type": "string"},
            "width": {"type": ["integer", "null"], "description": "Pixels, of the image at `url`."},
            "height": {"type": ["integer", "null"]},
            "caption": {"type": ["string", "null"]},
            "credit": {"type": ["string", "null"]},
            "renditions": {"type": "array", "items": {"$ref": "#/components/schemas/Rendition"}},
        },
        "additionalProperties": False,
    },
    "ListEntry": {
        "type": "object",
        "required": ["blocks"],
        "properties": {"blocks": {"type": "array", "items": {"$ref": "#/components/schemas/Block"}}},
        "additionalProperties": False,
    },
    "ListBlock": {
        "type": "object",
        "required": ["type", "ordered", "items", "entries"],
        "properties": {
            "type": {"type": "string", "enum": ["list"]},
            "ordered": {"type": "boolean", "description": "Numbered (true) or bulleted (false)."},
            "start": {"type": "integer", "description": "First number of an ordered list, when not 1."},
            "items": {"type": "array", "items": {"type": "string"}, "description": "Plain text of each entry."},
            "entries": {"type": "array", "items": {"$ref": "#/components/schemas/ListEntry"}},
        },
        "additionalProperties": False,
    },
    "TableCell": {
        "type": "object",
        "required": ["type", "text", "children", "markDefs"],
        "properties": {
            "type": {"type": "string", "enum": ["cell"]},
            "text": {"type": "string", "description": "Plain text of the spans (empty for an empty cell)."},
            "children": {"type": "array", "items": {"$ref": "#/components/schemas/Span"}},
            "markDefs": {"type": "array", "items": {"$ref": "#/components/schemas/LinkMarkDef"}},
        },
        "additionalProperties": False,
    },
    "TableRow": {
        "type": "object",
        "required": ["header", "cells"],
        "properties": {
            "header": {"type": "boolean", "description": "A head row (`<th>` cells)."},
            "cells": {"type": "array", "items": {"$ref": "#/components/schemas/TableCell"}},
        },
        "additionalProperties": False,
    },
    "TableBlock": {
        "type": "object",
        "required": ["type", "align", "rows"],
        "properties": {
            "type": {"type": "string", "enum": ["table"]},
            "align": {
                "type": "array",
                "description": "Each column's alignment, left to right (null: not set).",
                "items": {"type": ["string", "null"], "enum": ["left", "center", "right", None]},
            },
            "rows": {"type": "array", "items": {"$ref": "#/components/schemas/TableRow"}},
        },
        "additionalProperties": False,
    },
    "Block": {
        "description": "One block of an article body (`format=blocks`), after Portable Text.",
        "oneOf": [
            {"$ref": f"#/components/schemas/{name}Block"}
            for name in ("Paragraph", "Heading", "Quote", "List", "Code", "Image", "Table")
        ],
        "discriminator": {
            "propertyName": "type",
            "mapping": {
                kind: f"#/components/schemas/{name}Block"
                for kind, name in (
                    ("paragraph", "Paragraph"),
                    ("heading", "Heading"),
                    ("quote", "Quote"),
                    ("list", "List"),
                    ("code", "Code"),
                    ("image", "Image"),
                    ("table", "Table"),
                )
            },
        },
    },
    # Arrays hold scalars and objects only: TypeScript cannot name an array of itself through generated types.
    "JsonValue": {
        "description": "A JSON value (arrays hold scalars and objects).",
        "oneOf": [
            *JSON_SCALARS,
            {"$ref": "#/components/schemas/JsonObject"},
            {"type": "array", "items": {"oneOf": [*JSON_SCALARS, {"$ref": "#/components/schemas/JsonObject"}]}},
        ],
    },
    "JsonObject": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/JsonValue"}},
    "OpenApiDocument": {
        "type": "object",
        "description": "An OpenAPI 3.1 document (this one).",
        "required": ["openapi", "info", "paths", "components"],
        "properties": {
            "openapi": {"type": "string"},
            "info": {"$ref": "#/components/schemas/JsonObject"},
            "paths": {"$ref": "#/components/schemas/JsonObject"},
            "components": {"$ref": "#/components/schemas/JsonObject"},
        },
        "additionalProperties": {"$ref": "#/components/schemas/JsonValue"},
    },
}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def operation_id(endpoint: str, collection: bool, mimetype: str) -> str:
    """listArticles, getArticle, getLatestIssue, listSectionArticles, getAtomFeed…: the view's name, camelCase,
    prefixed with `list` (a JSON collection) or `get` unless it starts with one of them."""
    if endpoint in OPERATION_IDS:
        return OPERATION_IDS[endpoint]
    name = endpoint.rsplit(".", 1)[-1]
    if not name.startswith(("list_", "get_")):
        name = ("list_" if collection and mimetype == "application/json" else "get_") + name
    return _camel(name)


def _operation_example(app: Flask, path: str, rule, examples: dict, collection: bool, mimetype: str):
    """A real 200 body for this operation (JSON, or the text of a feed), or None."""
    if path == "/v1/openapi.json":
        return {"openapi": OPENAPI_VERSION, "info": {"title": TITLE, "version": "1"}, "paths": {}, "components": {}}
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
    if resp.status_code != 200 or resp.mimetype != mimetype:
        return None
    return resp.get_json() if mimetype.endswith("json") else resp.get_data(as_text=True)


TITLE = "Bulletin Content API"


def build_spec(app: Flask) -> dict:
    plugin = MarshmallowPlugin(schema_name_resolver=_schema_name)
    base = app.config.get("PUBLIC_BASE_URL") or ""
    contact = {"name": "Bulletin Content API maintainers"} | ({"url": f"{base}/docs"} if base else {})
    spec = APISpec(
        title=TITLE,
        version="1",
        openapi_version=OPENAPI_VERSION,
        plugins=[plugin],
        info={
            "description": "Read-only API of a weekly analytical bulletin on Belarus: issues → sections → articles, "
            "each article tagged with a trend (worse / unchanged / better). Responses carry weak ETags, "
            "Last-Modified and Cache-Control; collections paginate with opaque cursors (RFC 8288 Link header). "
            "No authentication: every operation is public.",
            "contact": contact,
            "license": {"name": "Proprietary content; code MIT", "identifier": "MIT"},
        },
        servers=[{"url": base or "/"}],
        tags=TAGS,
        security=[],
    )
    plugin.converter.add_attribute_function(_field2property)
    for name, schema in COMPONENTS.items():
        spec.components.schema(name, schema)
    spec.components.schema("Problem", schema=ProblemSchema)
    for name, header in HEADERS.items():
        spec.components.header(name, header | ({"required": True} if name in REQUIRED_HEADERS else {}))
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
        if path == "/v1/openapi.json":
            content_schema = {"$ref": "#/components/schemas/OpenApiDocument"}
        elif response_schema is not None:
            content_schema = response_schema
        else:
            content_schema = JSON_FEED if mimetype.endswith("+json") else {"type": "string"}
        is_collection = "limit" in args.fields
        ok_headers = {h: {"$ref": f"#/components/headers/{h}"} for h in ALWAYS}
        # The Link header as each view sends it: collections (the envelope's links), the change feed (next), an
        # article asked for by an alias slug (canonical), the feeds (their paging links, also in the document).
        link = getattr(view, "link_header", "Link" if is_collection and mimetype == "application/json" else None)
        if link:
            ok_headers["Link"] = {"$ref": f"#/components/headers/{link}"}
        for h in RATE_LIMIT:
            ok_headers[h] = {"$ref": f"#/components/headers/{h}"}
        example = _operation_example(app, path, rule, examples, is_collection, mimetype)
        content = {"schema": content_schema} | ({"example": example} if example is not None else {})
        responses = {
            "200": {"description": "OK", "headers": ok_headers, "content": {mimetype: content}},
            "304": {
                "description": "Not modified (If-None-Match / If-Modified-Since matched).",
                "headers": {h: {"$ref": f"#/components/headers/{h}"} for h in ("ETag", "Cache-Control")},
            },
            "400": {"$ref": "#/components/responses/E400"},
            "405": {"$ref": "#/components/responses/E405"},
            "429": {"$ref": "#/components/responses/E429"},
            "503": {"$ref": "#/components/responses/E503"},
        }
        if rule.arguments or "latest" in path:
            responses["404"] = {"$ref": "#/components/responses/E404"}
        if getattr(view, "gone", False) or path.startswith("/v1/changes"):
            responses["410"] = {"$ref": "#/components/responses/E410"}
        params.append({"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"}})
        params.append({"name": "If-Modified-Since", "in": "header", "required": False, "schema": {"type": "string"}})
        doc = (view.__doc__ or "").strip()
        segment = path.split("/")[2] if path.count("/") >= 2 else "meta"
        tag = "feeds" if segment.startswith("feed.") else "meta" if "." in segment else segment
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
            "operationId": operation_id(rule.endpoint, is_collection, mimetype),
            "summary": doc.splitlines()[0] if doc else rule.endpoint,
            "description": (
                doc + ("\n\nConstraints across parameters (400 otherwise): " + "; ".join(rules) + "." if rules else "")
            ).strip(),
            "tags": [tag],
            "parameters": params,
            "responses": responses,
        }
        spec.path(path=path, operations={"get": operation})
    spec.path(path="/media/{name}", operations={"get": _media_operation(examples.get("media"))})
    return spec.to_dict()


def _media_operation(example: str | None) -> dict:
    """The image route (api/media.py): bytes, not JSON, and no query parameters at all."""
    from api.media import IMMUTABLE, NAME

    name = {"name": "name", "in": "path", "required": True, "schema": {"type": "string", "pattern": NAME.pattern}}
    if example:
        name["example"] = example
    fixed = {"ETag": {"description": "Strong validator of the bytes.", "schema": {"type": "string"}},
             "Cache-Control": {"description": f"`{IMMUTABLE}`", "schema": {"type": "string"}}}  # fmt: skip
    binary = {"schema": {"type": "string", "format": "binary", "description": ", ".join(MEDIA_TYPES) + "."}}
    return {
        "operationId": "getMediaRendition",
        "summary": "One rendition of an image of the archive.",
        "description": "The `url` of an image or of one of its `renditions` (`<hash>-<width>.<ext>`): immutable, "
        "cached for a year. A 404, exactly as for a missing one, unless an article showing the image is public.",
        "tags": ["media"],
        "parameters": [
            name,
            {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"}},
        ],
        "responses": {
            "200": {"description": "OK", "headers": fixed, "content": {"image/*": binary}},
            "304": {"description": "Not modified (If-None-Match matched).", "headers": fixed},
            "404": {"$ref": "#/components/responses/E404"},
            "405": {"$ref": "#/components/responses/E405"},
            "429": {"$ref": "#/components/responses/E429"},
            "503": {"$ref": "#/components/responses/E503"},
        },
    }


MEDIA_TYPES = ("image/webp", "image/jpeg", "image/png", "image/gif")


def openapi_document() -> dict:
    """The document of the content served now: its examples (path parameters, real response bodies) are read
    from the live generation's public content, so it is built again when that content version changes (a reload,
    an embargo's end): an article a reload withdraws leaves the document as it leaves every other endpoint."""
    from api import clock

    app = current_app._get_current_object()
    try:
        version = app.extensions["store"].current().key(clock.now())
    except Exception:  # noqa: BLE001 - no store: the document is built without examples
        version = None
    built = app.extensions.get("openapi_document")
    if built is None or built[0] != version:
        built = (version, build_spec(app))
        app.extensions["openapi_document"] = built
    return built[1]


def register(app: Flask) -> None:
    from api.http import cached_endpoint

    @cached_endpoint(ItemArgs())
    def openapi_json(session, ctx):
        """The OpenAPI 3.1 description of this API.

        Generated from the routes and the schemas that parse requests and shape responses; the linters and
        client generators of the test suite read this very document.
        """
        import orjson

        return orjson.dumps(openapi_document())

    app.add_url_rule("/v1/openapi.json", "openapi.openapi_json", openapi_json, methods=["GET"])
