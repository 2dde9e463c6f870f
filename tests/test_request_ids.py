"""One request id end to end: nginx (deploy/nginx.conf) logs $request_id, passes it upstream as X-Request-Id, the
API (TRUSTED_PROXIES=1, LOG_FORMAT=json) keeps it, returns it and writes it in its own JSON line."""

from __future__ import annotations

import json
import os
import shutil
import time

import pytest

from api.ingest.loader import load_archive
from tests.conftest import ARCHIVE
from tests.live import Gunicorn, Nginx, get


def _app_lines(server: Gunicorn) -> list[dict]:
    lines = [json.loads(line) for line in server.log_text().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("logger") == "api.access"]


def _wait(read, predicate, limit: float = 5.0):
    deadline = time.monotonic() + limit
    while True:
        found = [line for line in read() if predicate(line)]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    if shutil.which("nginx") is None and not os.path.exists("/usr/sbin/nginx"):
        if os.environ.get("REQUIRE_SERVICES") or os.environ.get("CI"):
            pytest.fail("nginx is not installed (make test installs Debian's nginx-light)")
        pytest.skip("nginx is not installed")
    path = tmp_path_factory.mktemp("ids") / "store.sqlite"
    load_archive(ARCHIVE, f"sqlite:///{path}")
    server = Gunicorn({"DATABASE_URL": f"sqlite:///{path}", "TRUSTED_PROXIES": "1", "PUBLIC_BASE_URL": "https://api.example", "LOG_FORMAT": "json",
                       "LOAD_REPORT_PATH": ""}, workers=2)  # fmt: skip
    try:
        nginx = Nginx(server.port)
    except Exception:
        server.stop()
        raise
    yield server, nginx
    nginx.stop()
    server.stop()


def test_one_request_id_from_nginx_log_to_app_log(proxied):
    server, nginx = proxied
    # The client's own X-Request-Id is replaced by nginx's: a client cannot pick the id it is logged under.
    status, headers, _ = get(nginx.port, "/v1/issues?limit=2", headers={"X-Request-Id": "client-chosen-id-1234"})
    assert status == 200
    rid = headers["x-request-id"]
    assert rid != "client-chosen-id-1234" and len(rid) == 32
    at_nginx = _wait(nginx.log_lines, lambda line: line["request_id"] == rid)
    at_app = _wait(lambda: _app_lines(server), lambda line: line["request_id"] == rid)
    assert len(at_nginx) == 1 and len(at_app) == 1
    assert at_nginx[0]["uri"] == "/v1/issues?limit=2" and at_nginx[0]["status"] == 200
    assert at_nginx[0]["cache"] == "MISS"
    assert at_app[0]["route"] == "/v1/issues" and at_app[0]["status"] == 200 and at_app[0]["query"] == "limit=2"


def test_a_cached_copy_carries_the_id_of_the_request_that_got_it(proxied):
    server, nginx = proxied
    first = get(nginx.port, "/v1/sections")[1]["x-request-id"]
    second = get(nginx.port, "/v1/sections")[1]
    assert second["x-cache-status"] == "HIT"
    assert second["x-request-id"] != first
    hit = _wait(nginx.log_lines, lambda line: line["request_id"] == second["x-request-id"])
    assert len(hit) == 1 and hit[0]["cache"] == "HIT"
    assert not [line for line in _app_lines(server) if line["request_id"] == second["x-request-id"]]


def test_metrics_never_through_nginx(proxied):
    server, nginx = proxied
    assert get(server.port, "/metrics")[0] == 200  # loopback, straight to the API's listener
    status, headers, _ = get(nginx.port, "/metrics")
    assert status == 404
    assert "x-cache-status" not in headers
