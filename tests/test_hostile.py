"""Hostile input: every query parameter of every GET endpoint (enumerated from the URL map and each view's
args_schema, so endpoints added later are covered) answers 200 or 400 — 404 for path parameters — never 500.
Every error is problem+json whose `status` equals the HTTP status; every response carries nosniff."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import orjson
import pytest

from api.http import MAX_QUERY_STRING
from api.ingest.loader import load_archive
from tests.conftest import ARCHIVE, record_figures
from tests.live import Gunicorn, get

GUNICORN_CONF = Path(__file__).resolve().parents[1] / "deploy" / "gunicorn.conf.py"

SAMPLE_PATH_VALUES = {"slug": "security-issues", "id": "2022-02-14", "start": "2022-02-14"}

HOSTILE_VALUES = [
    "%00",
    "a%00b",
    "%FF%FE",
    "%C0%AF",
    "%ED%A0%80",
    "x" * 1500,
    "x" * 10_000,  # 10 000 characters: past the app's query-string limit (400), a 10 000-character path segment
    "\u044f" * 10_000,  # 10 000 Cyrillic characters (20 000 bytes of UTF-8, 60 000 percent-encoded)
    str(2**70),
    str(-(2**70)),
    "-1",
    "+5",
    "1_000",
    "0x10",
    "1e3",
    "\u0661\u0662",  # Arabic-Indic digits
    "\uff11\uff12",  # full-width digits
    "\u202eevil\u202c",  # RTL override
    "\u200f2022-02-14",  # RTL mark before a date
    "",
    " ",
    "'; DROP TABLE article; --",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "2022-02-30",
    "9999-12-31T23:59:59Z",
    "0000-00-00",
    "NaN",
    "inf",
    ",,,",
    "%",
]


def _encode(value: str) -> str:
    # Values that already are percent-escapes go raw (invalid UTF-8 escapes must reach the app as such).
    if re.fullmatch(r"(%[0-9A-Fa-f]{2}|[a-z])*", value) and "%" in value:
        return value
    return quote(value, safe="")


def endpoints(app):
    """(rule, args_schema) for every GET rule whose view is a cached_endpoint."""
    found = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        view = app.view_functions[rule.endpoint]
        schema = getattr(view, "args_schema", None)
        if schema is None:
            continue
        found.append((rule, schema))
    return found


def concrete(rule) -> str:
    path = rule.rule
    for arg in rule.arguments:
        path = re.sub(rf"<(?:[^:<>]+:)?{arg}>", SAMPLE_PATH_VALUES.get(arg, "x"), path)
    return path


def check(response, allowed):
    assert response.status_code in allowed, (response.status_code, response.get_data(as_text=True)[:300])
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    if response.status_code >= 400:
        assert response.mimetype == "application/problem+json"
        body = response.get_json()
        assert body["status"] == response.status_code
        text = response.get_data(as_text=True)
        assert "Traceback" not in text and "sqlalchemy" not in text.lower()


def test_enumerates_endpoints(app):
    rules = {rule.rule for rule, _ in endpoints(app)}
    assert "/v1/articles" in rules and any("<" in r for r in rules)


def _backend_name(backend) -> str:
    return "sqlite" if backend["DATABASE_URL"].startswith("sqlite") else "postgres"


def test_every_parameter_survives_hostile_values(client, app, backend):
    tried = 0
    for rule, schema in endpoints(app):
        path = concrete(rule)
        for name in list(schema.fields) + ["unknown_param"]:
            for value in HOSTILE_VALUES:
                response = client.get(f"{path}?{quote(name)}={_encode(value)}")
                check(response, {200, 400, 404} if rule.arguments else {200, 400})
                tried += 1
            # repeated parameter
            response = client.get(f"{path}?{name}=1&{name}=2")
            check(response, {400})
            tried += 1
    assert tried > 100
    record_figures("hostile", **{f"query_parameter_requests_{_backend_name(backend)}": tried})


def test_hostile_path_parameters(client, app, backend):
    tried = 0
    for rule, _ in endpoints(app):
        if not rule.arguments:
            continue
        for value in HOSTILE_VALUES:
            if not value.strip():
                continue
            path = rule.rule
            for arg in rule.arguments:
                path = re.sub(rf"<(?:[^:<>]+:)?{arg}>", _encode(value).replace("%2F", "_"), path)
            check(client.get(path), {200, 400, 404})
            tried += 1
    record_figures("hostile", **{f"path_parameter_requests_{_backend_name(backend)}": tried})


@pytest.mark.parametrize("size", [MAX_QUERY_STRING + 1, 10_000, 8_000])
def test_over_long_query_string_is_a_400_before_gunicorns_414(client, app, size):
    conf = GUNICORN_CONF.read_text()
    limit_line = int(re.search(r"limit_request_line\s*=\s*(\d+)", conf).group(1))
    assert MAX_QUERY_STRING + len("GET /v1/articles? HTTP/1.1") < limit_line
    for rule, _ in endpoints(app):
        response = client.get(f"{concrete(rule)}?q={'a' * size}")
        check(response, {400})


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory):
    store = tmp_path_factory.mktemp("hostile-live") / "store.sqlite"
    load_archive(ARCHIVE, f"sqlite:///{store}")
    server = Gunicorn({"DATABASE_URL": f"sqlite:///{store}"}, workers=1)
    yield server
    server.stop()


def test_over_long_query_string_is_the_apps_400_through_gunicorn(gunicorn):
    """Through the real server: every query string from just past the app's limit up to gunicorn's request-line
    limit is the app's 400 problem (not gunicorn's 414); a longer line is gunicorn's 414; the worker lives on."""
    limit_line = int(re.search(r"limit_request_line\s*=\s*(\d+)", GUNICORN_CONF.read_text()).group(1))
    path = "/v1/articles?q="
    longest = limit_line - len(f"GET {path} HTTP/1.1")
    for size in (MAX_QUERY_STRING - len("q=") + 1, 4000, 8000, longest):
        status, headers, body = get(gunicorn.port, path + "a" * size)
        assert status == 400, (size, status, body[:200])
        assert headers["content-type"] == "application/problem+json"
        assert orjson.loads(body)["invalid_params"] == [{"name": "query", "reason": "too long"}]
    for size in (longest + 1, 10_000, 20_000):
        status, _, _ = get(gunicorn.port, path + "a" * size)
        assert status == 414, (size, status)  # gunicorn's own, before the app; never a 500 or a dead worker
    pids = gunicorn.worker_pids()
    assert get(gunicorn.port, "/v1/issues")[0] == 200
    assert gunicorn.worker_pids() == pids
