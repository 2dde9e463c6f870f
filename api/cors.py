"""CORS for a public, read-only, credential-free API: any origin may GET/HEAD, preflights are cheap and cached.

A dozen lines rather than flask-cors: with no credentials the answer is the same for every origin
(`Access-Control-Allow-Origin: *`), so nothing is echoed and shared caches stay correct (the cached
endpoints still send `Vary: Origin` for intermediaries that key on it). Preflights are answered in a
before_request hook, before any view, so they never touch the store.
"""

from __future__ import annotations

from flask import Flask, Response, request

ALLOW_METHODS = "GET, HEAD, OPTIONS"
ALLOW_HEADERS = "Accept, Accept-Language, If-None-Match, If-Modified-Since, Cache-Control"
EXPOSE_HEADERS = (
    "ETag, Link, Last-Modified, Retry-After, Content-Language, X-Request-Id, "
    "RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset"
)
MAX_AGE = 86400


def init_app(app: Flask) -> None:
    @app.before_request
    def _preflight():
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            resp = Response(status=204)
            if request.headers["Access-Control-Request-Method"].upper() in ("GET", "HEAD"):
                resp.headers["Access-Control-Allow-Methods"] = ALLOW_METHODS
                resp.headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
                resp.headers["Access-Control-Max-Age"] = str(MAX_AGE)
            resp.headers["Cache-Control"] = f"public, max-age={MAX_AGE}"
            return resp
        return None

    @app.after_request
    def _cors(resp):
        resp.headers["Access-Control-Allow-Origin"] = "*"
        if request.method != "OPTIONS":
            resp.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
        elif "Cache-Control" not in resp.headers:  # Flask's own answer to a plain OPTIONS (found by the live fuzz)
            resp.headers["Cache-Control"] = f"public, max-age={MAX_AGE}"
        return resp
