"""The cached response path: argument parsing, generation-keyed response cache, ETag/304, compression, headers."""

from __future__ import annotations

import datetime as dt
import gzip
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import format_datetime, parsedate_to_datetime
from functools import wraps

import brotli
import orjson
from flask import Response, current_app, request
from marshmallow import Schema, ValidationError
from werkzeug.datastructures import MultiDict

from api import clock, metrics
from api.context import RequestContext
from api.extensions import cache
from api.keys import cache_key
from api.languages import negotiate
from api.problems import BadRequest
from schemas.args import ignored_param
from schemas.compiled import dumper

log = logging.getLogger("api.cache")

MAX_QUERY_STRING = 2048
COMPRESS_MIN_BYTES = 512
VARY = "Accept-Encoding, Accept-Language, Origin"
#: The WSGI environ key a cached endpoint sets on a 200 that the hot path (api/hot.py) may replay: a Replayable.
REPLAYABLE = "bulletin.replayable"


@dataclass(frozen=True)
class Replayable:
    """What the hot path learns from a 200: its response-cache key and the (lower-case) names of the view's own
    headers (Link, Content-Security-Policy…), which its 304 does not carry."""

    key: str
    own_headers: frozenset[str]


class ResponseCache:
    """Flask-Caching with a circuit breaker: a cache outage costs one short timeout, then is skipped for a while."""

    def __init__(self, retry_after: float = 5.0, log_every: float = 30.0):
        self.retry_after, self.log_every = retry_after, log_every
        self._down_until = 0.0
        self._last_log = 0.0
        self.errors = 0

    def _failed(self, exc: Exception) -> None:
        self.errors += 1
        metrics.CACHE_ERRORS.inc()
        now = time.monotonic()
        self._down_until = now + self.retry_after
        if now - self._last_log > self.log_every:  # rate-limited: one line per interval, with the count
            self._last_log = now
            log.warning(
                "response cache unavailable (%s); serving uncached. errors so far: %d",
                exc.__class__.__name__,
                self.errors,
            )

    def get(self, key: str):
        if time.monotonic() < self._down_until:
            metrics.CACHE_BYPASSED.inc()
            return None
        try:
            return cache.get(key)
        except Exception as exc:  # noqa: BLE001 - any backend failure degrades to uncached
            self._failed(exc)
            return None

    def set(self, key: str, value) -> None:
        if time.monotonic() < self._down_until:
            metrics.CACHE_BYPASSED.inc()
            return
        try:
            cache.set(key, value)
        except Exception as exc:  # noqa: BLE001
            self._failed(exc)


response_cache = ResponseCache()


def query_args() -> MultiDict:
    """The request's query parameters without those a client adds for itself (utm_*, `_`: ignored_param), once per
    request: what validation, links and the cache key read, so `?utm_source=x` is the same request as none."""
    env = request.environ
    found = env.get("bulletin.query_args")
    if found is None:
        args = request.args
        if any(ignored_param(name) for name in args):
            args = MultiDict([(k, v) for k, v in args.items(multi=True) if not ignored_param(k)])
        found = env["bulletin.query_args"] = args
    return found


def _note_lookup(layer: str, hit: bool) -> None:
    """Leave a cache lookup's outcome for the request wrapper (api/metrics.py counts it)."""
    request.environ.setdefault("bulletin.lookups", []).append((layer, hit))


def parse_args(schema: Schema) -> dict:
    """Validate the query string with `schema`: one value per parameter, no unknown names, strict types."""
    if len(request.query_string) > MAX_QUERY_STRING:
        raise BadRequest(f"The query string is longer than {MAX_QUERY_STRING} bytes.", {"query": "too long"})
    raw = {}
    invalid = {}
    args = query_args()
    for name in args:
        values = args.getlist(name)
        if len(values) > 1:
            invalid[name] = "given more than once; use a comma-separated list where several values are allowed"
        raw[name] = values[0]
    if invalid:
        raise BadRequest("Some query parameters are invalid.", invalid)
    try:
        return schema.load(raw)
    except ValidationError as exc:
        messages = exc.normalized_messages()
        reasons = {
            name: ("unknown parameter" if msgs == ["Unknown field."] else " ".join(_flatten(msgs)))
            for name, msgs in messages.items()
        }
        raise BadRequest("Some query parameters are invalid.", reasons) from None


def _flatten(msgs) -> list[str]:
    if isinstance(msgs, dict):
        return [m for v in msgs.values() for m in _flatten(v)]
    if isinstance(msgs, list):
        return [m for v in msgs for m in _flatten(v)]
    return [str(msgs)]


def request_context(args: dict) -> RequestContext:
    """What this request decided, read from Flask once: the time, the store generation, the language (`lang`, else
    Accept-Language), the base URL (PUBLIC_BASE_URL, else the request's own scheme and host), the path and the
    validated arguments. Everything below the wrapper takes it from here."""
    generation = current_app.extensions["store"].current()
    now = clock.now()
    return RequestContext(
        now=now, generation=generation, content_key=generation.key(now),
        lang=args.get("lang") or negotiate(request.headers.get("Accept-Language")),
        base=current_app.config["PUBLIC_BASE_URL"] or request.host_url.rstrip("/"), path=request.path, args=args,
        query=dict(query_args().items()), signer=current_app.extensions["signer"],
    )  # fmt: skip


class Values:
    """The per-generation values an app (one per process) used last, in front of the response cache: at most
    `entries` values and `items` in all, a list or tuple counting one item per element besides itself (a feed's
    archive weeks are a list as long as the archive's weeks, so a client asking for many filter sets must not hold
    a worker's memory); the least recently used dropped first."""

    def __init__(self, entries: int = 1024, items: int = 16384):
        self.entries, self.items = entries, items
        self._values: OrderedDict[str, tuple[object, int]] = OrderedDict()  # key → (value, its items)
        self._items = 0
        self._lock = threading.Lock()

    def get(self, key: str):
        with self._lock:
            found = self._values.get(key)
            if found is None:
                return None
            self._values.move_to_end(key)
            return found[0]

    def put(self, key: str, value) -> None:
        weight = 1 + (len(value) if isinstance(value, list | tuple) else 0)
        if weight > self.items:
            return
        with self._lock:
            old = self._values.pop(key, None)
            self._items += weight - (old[1] if old else 0)
            self._values[key] = (value, weight)
            while len(self._values) > self.entries or self._items > self.items:
                _, (_, dropped) = self._values.popitem(last=False)
                self._items -= dropped

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._items = 0

    def __len__(self) -> int:
        return len(self._values)


def per_generation(ctx: RequestContext, kind: str, compute: Callable, **parts):
    """A value that depends on the visible content and `parts` alone (a count, a facet): computed once per
    generation and embargo epoch, and kept in the response cache beside the responses (Redis at scale: shared by
    every instance).

    The app also keeps the values it used last (`Values`, app.extensions["values"], bounded in values and list
    elements) under the same key: they never change under it (it carries the content version), so a list page
    whose total this process has seen costs no cache round trip for it. Callers treat a value as read-only: later
    requests share it.
    """
    key = cache_key(kind, content=ctx.content_key, **parts)
    front = current_app.extensions["values"]
    value = front.get(key)
    if value is not None:
        _note_lookup("value", True)
        return value
    value = response_cache.get(key)
    _note_lookup("value", value is not None)
    if value is None:
        value = compute()
        response_cache.set(key, value)
    front.put(key, value)
    return value


@dataclass
class Cached:
    """What the response cache holds: prepared body bytes, the headers that belong to them, and the body compressed
    in each encoding a client has asked for so far (one entry per response: one lookup serves any encoding)."""

    body: bytes
    headers: dict
    mimetype: str
    encoded: dict[str, bytes] = field(default_factory=dict)


def etag_matches(header: str | None, etag: str) -> bool:
    """If-None-Match `header` names `etag` (weak comparison, `*` included)."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    tag = etag.removeprefix("W/")
    return any(t.strip().removeprefix("W/") == tag for t in header.split(","))


def _not_modified_since(header: str | None, last_modified) -> bool:
    """If-Modified-Since names a time at or after the last modification. An HTTP-date is GMT in each of its three
    formats (RFC 9110 5.6.7): asctime's, which names no zone, is read as GMT too; an invalid date is ignored."""
    if not header:
        return False
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)
    return last_modified.replace(microsecond=0) <= since


def _fresh_for(generation, now) -> int | None:
    """Seconds until the next embargo of this generation ends (None: none pending): no cache may hold a page past it."""
    next_change = generation.next_change(now)
    return None if next_change is None else max(0, int((next_change - now).total_seconds()))


def _tag_proves_current(inm: str | None, etag: str) -> bool:
    """If-None-Match names the tag we issued for this very key: the resource exists in this (immutable) generation,
    so a 304 needs no lookup. `*` proves nothing before the resource is found (a missing one stays a 404)."""
    wildcard = inm is not None and inm.strip() == "*"
    return not wildcard and etag_matches(inm, etag)


def _not_modified(inm: str | None, ims: str | None, last_modified) -> bool:
    """The existing resource's 304 (RFC 9110 13.2.2): `If-None-Match: *` matches it; If-Modified-Since counts only
    when If-None-Match is absent (a tag that did not match is never overruled by a date)."""
    wildcard = inm is not None and inm.strip() == "*"
    return wildcard or (inm is None and _not_modified_since(ims, last_modified))


def cache_control(limit: int | None) -> str:
    """Cache-Control of a 200; `limit` (seconds until an embargo ends) caps both lifetimes so no cache shows stale visibility."""
    cfg = current_app.config
    max_age, s_maxage = cfg["CACHE_MAX_AGE"], cfg["CACHE_S_MAXAGE"]
    if limit is not None:
        max_age, s_maxage = min(max_age, limit), min(s_maxage, limit)
    return (
        f"public, max-age={max_age}, s-maxage={s_maxage}, "
        f"stale-while-revalidate={cfg['CACHE_STALE_WHILE_REVALIDATE']}, stale-if-error={cfg['CACHE_STALE_IF_ERROR']}"
    )


def _encoding(entry: Cached) -> str | None:
    """The best encoding the client accepts for this body (None: identity, and always for a small body)."""
    if len(entry.body) < COMPRESS_MIN_BYTES:
        return None
    accept = request.accept_encodings
    return "br" if accept["br"] else "gzip" if accept["gzip"] else None


def _compress(body: bytes, encoding: str) -> bytes:
    return brotli.compress(body, quality=5) if encoding == "br" else gzip.compress(body, 6, mtime=0)


def cached_endpoint(
    args_schema: Schema,
    response: type[Schema] | None = None,
    mimetype: str = "application/json",
    exclude: Callable[[dict], tuple[str, ...]] | None = None,
):
    """Wrap a view `view(session, ctx, **path) -> value | (value, headers)` in the cached response path; `ctx` is
    the request's api.context.RequestContext, built here once and passed explicitly.

    The view returns objects or a page; the wrapper dumps `value` through `response`, the schema the OpenAPI
    document publishes for this operation (its compiled dumper, schemas/compiled.py, with the same output), without
    the fields `exclude(args)` names (the sparse fieldset and opt-in fields the arguments ask for). A view of
    another representation (a feed, a page, the OpenAPI document) declares no schema and returns bytes.

    The cache key (api.keys.cache_key) covers the store generation with its embargo epoch, the base URL, the path,
    the validated arguments and the negotiated language; the ETag is a MAC of the key under the server secret
    (api.signing), so a 304 costs no cache or database work and only a tag this API issued for a 200 gets one.
    """

    def dump(value, ctx: RequestContext) -> dict:
        if response is None:
            raise TypeError("a view without a response schema returns bytes")
        return dumper(response, exclude(ctx.args) if exclude else ())(value, ctx)

    def decorator(view: Callable):
        @wraps(view)
        def wrapper(**path):
            args = parse_args(args_schema)
            ctx = request_context(args)
            generation, now, signer, lang = ctx.generation, ctx.now, ctx.signer, ctx.lang
            request.environ["bulletin.generation"] = ctx.content_key  # for the request wrapper (api/metrics.py)
            key = cache_key(
                "response", content=ctx.content_key, secret=signer.scope, base=ctx.base, path=ctx.path,
                args=args, lang=lang,
            )  # fmt: skip
            etag = signer.etag(key)  # keyed: a client cannot make one up
            last_modified = generation.last_modified(now)
            limit = _fresh_for(generation, now)  # never let a cache hold a page past the moment an embargo ends
            headers = {
                "ETag": etag,
                "Last-Modified": format_datetime(last_modified, usegmt=True),
                "Cache-Control": cache_control(limit),
                "Vary": VARY,
                "Content-Language": lang,
            }
            inm = request.headers.get("If-None-Match")
            if _tag_proves_current(inm, etag):  # `*` and If-Modified-Since wait for the resource (404 if missing)
                return Response(status=304, headers=headers)
            entry = response_cache.get(key)
            _note_lookup("response", entry is not None)
            request.environ["bulletin.cache"] = "none" if entry is None else "response"
            fresh = entry is None  # to be written: a new entry, or one with a new encoding (one write either way)
            if entry is None:
                with current_app.extensions["store"].session(generation) as session:
                    result = view(session=session, ctx=ctx, **path)
                    value, extra = result if isinstance(result, tuple) else (result, {})
                    # dumped in the session: a dump may load what the view left lazy (an article's aliases)
                    body = value if isinstance(value, bytes) else orjson.dumps(dump(value, ctx))
                entry = Cached(body, extra, mimetype)
            if _not_modified(inm, request.headers.get("If-Modified-Since"), last_modified):
                if fresh:
                    response_cache.set(key, entry)
                return Response(status=304, headers=headers)
            encoding = _encoding(entry)
            if encoding is not None and encoding not in entry.encoded:
                entry.encoded[encoding] = _compress(entry.body, encoding)
                fresh = True
            if fresh:
                response_cache.set(key, entry)
            body = entry.encoded[encoding] if encoding else entry.body
            resp = Response(body, mimetype=entry.mimetype, headers={**headers, **entry.headers})
            if encoding:
                resp.headers["Content-Encoding"] = encoding
            # The hot path (api/hot.py) may replay this exact answer; the view's own headers are not in a 304.
            request.environ[REPLAYABLE] = Replayable(key, frozenset(h.lower() for h in entry.headers))
            return resp

        wrapper.args_schema = args_schema  # the OpenAPI document is generated from these two
        wrapper.response_schema = response  # …and the body is dumped by the second
        wrapper.exclude = exclude
        wrapper.mimetype = mimetype
        return wrapper

    return decorator
