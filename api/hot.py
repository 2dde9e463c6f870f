"""The hot path: an in-process front cache that replays prepared responses of cached endpoints without Flask.

The store changes only when the loader runs, so the complete answer to a GET (status, every header, the body
in the negotiated encoding) is a pure function of the response-cache key (api.keys.cache_key: content version,
base URL, path, validated arguments, language) and of the encoding. Entries are kept under that key and the
encoding; the app tells this middleware which key a request had (http.Replayable), and the middleware remembers
the raw request inputs that led to it (host and scheme, path, the raw query string, `Accept-Language`,
`Accept-Encoding`, under the same content version): the same raw inputs always validate to the same arguments,
so a hit is a stat (or poll) of the generation plus two dict lookups: no argument parsing, no cache round trip,
no database, no serialisation, no ETag hashing. Requests whose validated arguments differ never share an entry,
whatever their raw query strings look like. `If-None-Match` carrying the stored ETag is a 304 from the same
entry. Anything it cannot answer exactly (a miss, `If-Modified-Since`, `If-None-Match: *`, a method other than
GET/HEAD, a store that cannot be read) goes to the Flask app unchanged, which is the single source of truth:
an entry is only ever a copy of a 200 that the app produced and marked as cacheable (`cached_endpoint`).

Bounded in entries and bytes (LRU), so worker memory stays flat. Off while rate limiting is on (every request
must reach Flask-Limiter) and when `HOT_CACHE_MAX_BYTES` is 0.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from dataclasses import dataclass

from werkzeug.http import remove_entity_headers

from api import clock, http, keys
from api.store.db import Store, StoreUnavailable


def _not_modified_headers(headers: list[tuple[str, str]], own: frozenset[str]) -> list[tuple[str, str]]:
    """The 304 the app sends for the same request: without the view's own headers and (werkzeug) entity headers."""
    kept = [(k, v) for k, v in headers if k.lower() not in own]
    remove_entity_headers(kept)
    return kept


@dataclass(frozen=True)
class Entry:
    """One replayable response: the 200's header list and body, the 304's header list, and until when it holds."""

    headers: list[tuple[str, str]]
    body: bytes
    not_modified: list[tuple[str, str]]
    etag: str
    valid_until: dt.datetime | None  # None: until the generation changes
    route: str | None = None  # the route template that answered (metrics and logs label replays with it)

    def size(self) -> int:
        """Bytes it holds, counting a header pair as 64 (an estimate: what bounds memory is the body)."""
        return len(self.body) + 64 * len(self.headers)


class HotPath:
    """WSGI middleware in front of the Flask app; see the module docstring."""

    def __init__(self, wsgi_app, store: Store, max_bytes: int, horizon: int, max_entries: int = 20_000):
        self.wsgi_app, self.store = wsgi_app, store
        self.max_bytes, self.max_entries = max_bytes, max_entries
        # Cache-Control lifetimes are shortened near an embargo end; within `horizon` seconds (the longest lifetime)
        # of one, a replayed header could let a cache hold a page past the embargo, so the app recomputes it.
        self.horizon = dt.timedelta(seconds=horizon)
        self._entries: OrderedDict[tuple, Entry] = OrderedDict()  # (response key, content encoding) → Entry
        self._aliases: OrderedDict[tuple, tuple] = OrderedDict()  # raw request inputs → (response key, encoding)
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def __call__(self, environ, start_response):
        method = environ["REQUEST_METHOD"]
        if method not in ("GET", "HEAD") or "HTTP_IF_MODIFIED_SINCE" in environ:
            return self.wsgi_app(environ, start_response)
        inm = environ.get("HTTP_IF_NONE_MATCH")
        if inm is not None and inm.strip() == "*":
            return self.wsgi_app(environ, start_response)
        try:
            generation = self.store.current()
        except StoreUnavailable:
            return self.wsgi_app(environ, start_response)  # the app answers 503
        now = clock.now()
        raw = (
            keys.CODE_VERSION,
            generation.key(now),
            environ["wsgi.url_scheme"],
            environ.get("HTTP_HOST", ""),
            environ.get("SCRIPT_NAME", ""),
            environ.get("PATH_INFO", ""),
            environ.get("QUERY_STRING", ""),
            environ.get("HTTP_ACCEPT_LANGUAGE", ""),
            environ.get("HTTP_ACCEPT_ENCODING", ""),
        )
        key = self._aliases.get(raw)
        entry = self._entries.get(key) if key is not None else None
        if entry is not None and (entry.valid_until is None or now < entry.valid_until):
            self.hits += 1
            # Notes for the request wrapper (api/metrics.py): who answered, for which route and generation.
            environ["bulletin.cache"] = "hot"
            environ["bulletin.route"], environ["bulletin.generation"] = entry.route, raw[1]
            with self._lock:
                if key in self._entries:
                    self._entries.move_to_end(key)
            if inm is not None and http.etag_matches(inm, entry.etag):
                start_response("304 NOT MODIFIED", entry.not_modified)
                return []
            start_response("200 OK", entry.headers)
            return [] if method == "HEAD" else [entry.body]
        self.misses += 1
        environ["bulletin.hot_miss"] = True
        if method == "HEAD":
            return self.wsgi_app(environ, start_response)
        return self._fill(raw, generation, now, environ, start_response)

    def _fill(self, raw, generation, now, environ, start_response):
        """Run the app; keep a copy of its answer when it is a replayable 200."""
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return start_response(status, headers, exc_info)

        app_iter = self.wsgi_app(environ, capture)
        replayable = environ.get(http.REPLAYABLE)
        if replayable is None or not captured.get("status", "").startswith("200"):
            return app_iter
        try:
            body = b"".join(app_iter)
        finally:
            close = getattr(app_iter, "close", None)
            if close is not None:
                close()
        headers = captured["headers"]
        etag = next((v for k, v in headers if k.lower() == "etag"), None)
        if etag is not None:
            next_change = generation.next_change(now)
            valid_until = None if next_change is None else next_change - self.horizon
            if valid_until is None or now < valid_until:
                encoding = next((v for k, v in headers if k.lower() == "content-encoding"), None)
                not_modified = _not_modified_headers(headers, replayable.own_headers)
                route = environ.get("bulletin.route")
                entry = Entry(list(headers), body, not_modified, etag, valid_until, route)
                self._store(raw, (replayable.key, encoding), entry)
        return [body]

    def _store(self, raw: tuple, key: tuple, entry: Entry) -> None:
        size = entry.size()
        if size > self.max_bytes // 8:  # one entry never takes more than an eighth of the budget
            return
        with self._lock:
            self._aliases[raw] = key
            while len(self._aliases) > 4 * self.max_entries:
                self._aliases.popitem(last=False)
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.size()
            self._entries[key] = entry
            self._bytes += size
            while self._bytes > self.max_bytes or len(self._entries) > self.max_entries:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= dropped.size()

    def stats(self) -> dict:
        return {"entries": len(self._entries), "bytes": self._bytes, "hits": self.hits, "misses": self.misses}
