"""The errors a request can end in, as exceptions any layer may raise (no Flask here: api.errors answers them)."""

from __future__ import annotations

PROBLEM_TYPES = "https://bulletin.example/problems/"


class Problem(Exception):
    """An error response: status, title and detail, plus per-parameter reasons for a 400."""

    status = 500
    title = "Internal Server Error"
    type_slug = "internal"

    def __init__(self, detail: str, invalid_params: dict[str, str] | None = None, headers: dict | None = None):
        super().__init__(detail)
        self.detail = detail
        self.invalid_params = invalid_params or {}
        self.headers = headers or {}


class BadRequest(Problem):
    status, title, type_slug = 400, "Bad Request", "invalid-request"


class NotFound(Problem):
    status, title, type_slug = 404, "Not Found", "not-found"


class Gone(Problem):
    status, title, type_slug = 410, "Gone", "gone"


class ServiceUnavailable(Problem):
    status, title, type_slug = 503, "Service Unavailable", "unavailable"
