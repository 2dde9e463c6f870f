"""Every error the API gives, in one shape: RFC 9457 application/problem+json, never a traceback."""

from __future__ import annotations

import logging
import sqlite3
import time

import orjson
from flask import Flask, Response, has_request_context, request
from werkzeug.exceptions import HTTPException

from api.problems import PROBLEM_TYPES, BadRequest, Gone, NotFound, Problem, ServiceUnavailable  # noqa: F401 - as before
from api.store.db import StoreRejected, StoreUnavailable

log = logging.getLogger("api")


def problem_response(status: int, title: str, detail: str, type_slug: str, invalid: dict | None = None, headers=None):
    """The one builder of error bodies; errors are never cached by anyone (no-store)."""
    body = {"type": PROBLEM_TYPES + type_slug, "title": title, "status": status, "detail": detail}
    if invalid:
        body["invalid_params"] = [{"name": k, "reason": v} for k, v in sorted(invalid.items())]
    if has_request_context():
        request.environ["bulletin.problem"] = type_slug  # for the access line (api/metrics.py)
    resp = Response(orjson.dumps(body), status=status, mimetype="application/problem+json")
    resp.headers["Cache-Control"] = "no-store"
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


class _EveryFewSeconds:
    """Log a recurring failure once per interval with a count, not once per request (an outage under load would
    otherwise write thousands of lines a second)."""

    def __init__(self, interval: float = 10.0):
        self.interval, self._last, self._count = interval, float("-inf"), 0

    def warning(self, message: str, reason: object) -> None:
        self._count += 1
        now = time.monotonic()
        if now - self._last >= self.interval:
            log.warning("%s: %s (%d times since the last report)", message, reason, self._count)
            self._last, self._count = now, 0


_store_unavailable_log = _EveryFewSeconds()


def is_query_deadline(exc: BaseException) -> bool:
    """Whether a StoreUnavailable comes from QUERY_TIMEOUT_MS cutting a statement, not from an outage: SQLite's
    progress handler interrupts it, PostgreSQL cancels it (statement_timeout: SQLSTATE 57014)."""
    cause = getattr(exc.__cause__, "orig", None)
    if cause is None:
        return False
    if getattr(cause, "sqlstate", None) == "57014":
        return True
    return isinstance(cause, sqlite3.OperationalError) and str(cause) == "interrupted"


def _slug(title: str) -> str:
    return title.lower().replace(" ", "-")


def init_app(app: Flask) -> None:
    @app.errorhandler(Problem)
    def _problem(exc: Problem):
        return problem_response(exc.status, exc.title, exc.detail, exc.type_slug, exc.invalid_params, exc.headers)

    @app.errorhandler(StoreUnavailable)
    def _unavailable(exc: StoreUnavailable):
        if is_query_deadline(exc):
            request.environ["bulletin.error"] = "query_deadline"
        _store_unavailable_log.warning("store unavailable", exc)
        return problem_response(
            503, "Service Unavailable", "The content store is temporarily unavailable; retry shortly.",
            "unavailable", headers={"Retry-After": "5"},
        )  # fmt: skip

    @app.errorhandler(StoreRejected)
    def _rejected(exc: StoreRejected):
        log.warning("the store refused a value of the request: %s", exc)  # one line, no traceback: not our fault
        return problem_response(
            400, "Bad Request", "A value in this request is outside what the API can look up.", "invalid-request"
        )

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        # Routing 404/405, 429 from the limiter, 414/431 from werkzeug: same shape, no HTML page.
        detail = {
            404: "No resource lives at this URL.",
            405: "This API is read-only: use GET, HEAD or OPTIONS.",
            429: "Too many requests; slow down and retry after the time given in Retry-After.",
        }.get(exc.code or 500, exc.description or exc.name)
        headers = dict(exc.get_headers()) if exc.code in (405, 429) else {}
        headers.pop("Content-Type", None)
        return problem_response(exc.code or 500, exc.name, detail, _slug(exc.name), headers=headers)

    @app.after_request
    def _redirect_as_problem(resp):
        # werkzeug's own redirects (a doubled slash merged: /v1//issues → 308 /v1/issues) carry an HTML page.
        if 300 <= resp.status_code < 400 and resp.status_code != 304 and resp.mimetype == "text/html":
            body = {
                "type": PROBLEM_TYPES + "moved",
                "title": "Permanent Redirect" if resp.status_code == 308 else "Redirect",
                "status": resp.status_code,
                "detail": f"This resource lives at {resp.headers.get('Location', '')}.",
            }
            resp.set_data(orjson.dumps(body))
            resp.mimetype = "application/problem+json"
            resp.headers["Cache-Control"] = "no-store"
        return resp

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return problem_response(500, "Internal Server Error", "An unexpected error occurred.", "internal")
