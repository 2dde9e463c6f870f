"""Hostile input: every query parameter of every GET endpoint (enumerated from the URL map and each view's
args_schema, so endpoints added later are covered) answers 200 or 400 — 404 for path parameters — never 500.
Every error is problem+json whose `status` equals the HTTP status; every response carries nosniff."""

from __future__ import annotations

import base64
import json
import logging
import re
import uuid
from pathlib import Path
from urllib.parse import quote

import orjson
import pytest

from api.http import MAX_QUERY_STRING
from api.ingest.loader import load_archive
from tests.conftest import ARCHIVE, make_app, record_figures
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
    # The edges of the calendar, with offsets that carry them past it once in UTC or once a week is subtracted.
    "0001-01-01",
    "0001-01-07",
    "9999-12-31",
    "0001-W01",
    "9999-W52",
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+00:01",
    "0001-01-01T00:00:00+23:59",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-00:01",
    "9999-12-31T23:59:59.999999999-23:59",
    "9999-12-31 23:59:59 00:01",
    str(2**63),
    "9" * 400,
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


def _no_traceback_logged(caplog) -> None:
    logged = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert logged == [], [r.getMessage() for r in logged]


def test_every_parameter_survives_hostile_values(client, app, backend, caplog):
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
    _no_traceback_logged(caplog)
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


def _sorts(schema) -> list[str | None]:
    field = schema.fields.get("sort")
    return [None] if field is None else [None, *next(v.choices for v in field.validators if hasattr(v, "choices"))]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


OVERSIZED = [1e308, -1e308, 2**70, -(2**70), 2**64, True, None, [], {}]
FORGED_TIMES = ["2022-02-14T09:00:00", "0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59-00:01", "9999-99-99", ""]


def _forgeries(payload: dict) -> list[dict]:
    """Edits of an issued cursor payload: each key value (or position) made oversized, zone-less or wrongly typed."""
    found = []
    for i, _ in enumerate(payload.get("k", [])):
        for value in [*OVERSIZED, *FORGED_TIMES, "x" * 300]:
            found.append({**payload, "k": [*payload["k"][:i], value, *payload["k"][i + 1 :]]})
    if "n" in payload:
        found += [{**payload, "n": value} for value in [*OVERSIZED, -1, "1", 2**62]]
    found += [{**payload, "k": []}, {**payload, "k": "x"}, {k: v for k, v in payload.items() if k != "o"}]
    return found


def test_forged_cursors_of_every_collection_and_sort(client, app, caplog):
    """A cursor of every collection and sort, edited: unsigned (as a client can), it is a 400; signed with the
    server's own secret (as if it had leaked), it is still a 200 or a 400, never a 5xx."""
    signer = app.extensions["signer"]
    tried = 0
    for rule, schema in endpoints(app):
        if "cursor" not in schema.fields:
            continue
        for sort in _sorts(schema):
            query = "limit=1" + (f"&sort={sort}" if sort else "") + ("&q=military" if "q" in schema.fields else "")
            path = concrete(rule)
            body = client.get(f"{path}?{query}")
            check(body, {200, 404} if rule.arguments else {200})
            nxt = body.status_code == 200 and body.get_json() and (body.get_json().get("links") or {}).get("next")
            if not nxt:
                continue
            cursor = re.search(r"cursor=([^&]+)", nxt)[1]
            payload_b64, _, mac = cursor.partition(".")
            payload = orjson.loads(base64.urlsafe_b64decode(payload_b64 + "=" * (-len(payload_b64) % 4)))
            for forged in _forgeries(payload):
                try:
                    raw = orjson.dumps(forged)
                except TypeError:  # past 64 bits: orjson refuses, the standard library writes it
                    raw = json.dumps(forged).encode()
                check(client.get(f"{path}?{query}&cursor={_b64(raw)}.{mac}"), {400})
                check(client.get(f"{path}?{query}&cursor={_b64(raw)}"), {400})
                check(client.get(f"{path}?{query}&cursor={signer.sign('cursor', raw)}"), {200, 400})
                tried += 3
            tampered = cursor[:-2] + ("AB" if cursor.endswith("AA") else "AA")  # a MAC may itself end in AA
            check(client.get(f"{path}?{query}&cursor={tampered}"), {400})
    assert tried > 200
    _no_traceback_logged(caplog)


def test_forged_change_tokens_are_400(client, app, caplog):
    signer = app.extensions["signer"]
    forms = (b"v3:" + b"9" * 40 + b":a", b"v3:1e308:a", b"v3:-99999999999999999:a", b"v3:x:a", b"v3", b"\xff",
             b"v4:0:" + b"9" * 40 + b":a", b"v4:0:-99999999999999999:a", b"v4:0:1e308:a", b"v4:0", b"v4:0:0")  # fmt: skip
    for raw in forms:
        check(client.get("/v1/changes?since=" + _b64(raw)), {400})
        check(client.get("/v1/changes?since=" + signer.sign("changes", raw)), {400})
    check(client.get("/v1/changes?since=" + signer.sign("changes", b"v3:253402300799999999:a")), {400})
    check(client.get("/v1/changes?since=" + signer.sign("changes", b"v4:0:253402300799999999:a")), {400})
    _no_traceback_logged(caplog)


def test_a_value_the_database_refuses_is_a_400_not_an_outage(loaded, monkeypatch, caplog):
    """DataError (a value out of the column's range) is the request's fault: 400, one warning, no traceback; the
    503 "store unavailable" stays for real store faults."""
    from sqlalchemy.exc import DataError

    from api.store import queries

    def refuse(*args, **kwargs):
        raise DataError("SELECT …", {}, ValueError("integer out of range"))

    monkeypatch.setattr(queries, "latest_issue", refuse)
    app = make_app(loaded, SIGNING_SECRET=uuid.uuid4().hex)  # a secret of its own: nothing cached answers for it
    check(app.test_client().get("/v1/issues/latest"), {400})
    app.extensions["store"].dispose()
    _no_traceback_logged(caplog)
