"""A real Prometheus (Debian's package) scraping gunicorn with two workers on loopback, on both backends.

After a known mix of requests, PromQL over the HTTP API gives the request counts summed over both workers and a
hot-path hit ratio within the bounds the mix allows; a reload (`flask archive load`, JSON log line) shows up as
the new generation and the last load's figures. About ten seconds per backend.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import orjson
import pytest

from api import metrics
from api.ingest.loader import load_archive
from tests.conftest import ARCHIVE, ROOT, SEED_SLUG, copy_archive
from tests.live import Gunicorn, Prometheus, get

ARTICLE = f"/v1/articles/{SEED_SLUG}"
# One round of the mix: url → (route template, times).
ROUND = {"/v1/issues": ("/v1/issues", 4), "/v1/sections": ("/v1/sections", 2), ARTICLE: ("/v1/articles/<slug>", 1),
         "/v1/no-such-route": ("<unmatched>", 1)}  # fmt: skip
REPLAYABLE = ("/v1/issues", "/v1/sections", ARTICLE)


def _require_prometheus() -> None:
    if shutil.which("prometheus") is None:
        if os.environ.get("REQUIRE_SERVICES") or os.environ.get("CI"):
            pytest.fail("prometheus is not installed (make test installs Debian's package)")
        pytest.skip("prometheus is not installed")


def access_lines(server: Gunicorn) -> list[dict]:
    found = []
    for line in server.log_text().splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("logger") == "api.access":
                found.append(record)
    return found


@pytest.fixture
def service(scratch_store, tmp_path):
    _require_prometheus()
    load_archive(ARCHIVE, scratch_store["DATABASE_URL"], schema=scratch_store["DATABASE_SCHEMA"])
    (tmp_path / "multiproc").mkdir()
    env = {
        "DATABASE_URL": scratch_store["DATABASE_URL"],
        "DATABASE_SCHEMA": scratch_store["DATABASE_SCHEMA"],
        "CACHE_REDIS_URL": scratch_store["CACHE_REDIS_URL"],
        "GENERATION_CHECK_INTERVAL": "0.2",
        "LOG_FORMAT": "json",
        "LOAD_REPORT_PATH": str(tmp_path / "load-report.json"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "multiproc"),
    }
    server = Gunicorn(env, workers=2)
    try:
        prometheus = Prometheus([f"127.0.0.1:{server.port}"])
    except Exception:
        server.stop()
        raise
    yield {"server": server, "prometheus": prometheus, "env": env}
    prometheus.stop()
    server.stop()


def test_prometheus_sums_both_workers_and_sees_a_new_generation(service, tmp_path):
    server, prom = service["server"], service["prometheus"]
    sent = dict.fromkeys(ROUND, 0)
    # Rounds until both workers have answered some of the mix (each request is a new connection), at most 30.
    for rounds in range(1, 31):
        for url, (_, times) in ROUND.items():
            for _ in range(times):
                assert get(server.port, url)[0] == (404 if url == "/v1/no-such-route" else 200), url
                sent[url] += 1
        pids = {line["pid"] for line in access_lines(server) if line["path"] in ROUND}
        if rounds >= 4 and len(pids) == 2:
            break
    assert pids == server.worker_pids()

    expected = {ROUND[url][0]: float(n) for url, n in sent.items()}
    prom.wait_for(
        'sum by (route) (bulletin_http_requests_total{route!~"/healthz|/readyz"})',
        lambda result: {r["metric"]["route"]: r["value"] for r in result} == expected,
    )
    assert (
        prom.scalar('sum(bulletin_http_requests_total{route="<unmatched>", status="404"})') == sent["/v1/no-such-route"]
    )
    # One flush writes a tally's count, latency and hot-path hit one after another: wait for the same scrape.
    prom.wait_for('sum(bulletin_http_request_duration_seconds_count{route="/v1/issues"})',
                  lambda result: bool(result) and result[0]["value"] == sent["/v1/issues"])  # fmt: skip

    # Each replayable URL misses once per worker at most, at least once in all: the ratio's bounds.
    replayable = sum(sent[url] for url in REPLAYABLE)
    ratio = prom.scalar(
        'sum(bulletin_cache_lookups_total{layer="hot", result="hit"}) / sum(bulletin_cache_lookups_total{layer="hot"})'
    )
    low, high = (replayable - 2 * len(REPLAYABLE)) / replayable, (replayable - len(REPLAYABLE)) / replayable
    assert low <= ratio <= high, (ratio, low, high)
    live = orjson.loads(get(server.port, "/readyz")[2])["generation"]
    info = prom.wait_for("bulletin_generation_info", lambda result: len(result) == 1)
    assert info[0]["metric"]["generation"] == live and info[0]["value"] == 1
    assert prom.query("bulletin_last_load_files") == []  # nothing loaded through the command yet

    smaller = copy_archive(tmp_path, ARCHIVE)
    shutil.rmtree(smaller / "2022-01-31")
    env = {k: v for k, v in os.environ.items() if k not in ("CACHE_REDIS_URL", "DATABASE_URL")}
    env.update({k: v for k, v in service["env"].items() if v is not None and k != "PROMETHEUS_MULTIPROC_DIR"})
    env.update({"FLASK_APP": "wsgi", "PYTHONPATH": str(ROOT)})
    done = subprocess.run([sys.executable, "-m", "flask", "archive", "load", str(smaller)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = next(json.loads(line) for line in done.stderr.splitlines() if line.startswith("{"))
    assert report["logger"] == "api.loader" and report["ok"] is True and report["files"] > 0

    new = prom.wait_for(f'bulletin_generation_info{{generation!="{live}"}}', lambda result: len(result) == 1)
    assert new[0]["metric"]["generation"] == report["generation"]
    assert orjson.loads(get(server.port, "/readyz")[2])["generation"] == report["generation"]
    files = prom.wait_for("bulletin_last_load_files", lambda result: len(result) == 1)
    assert files[0]["value"] == report["files"]
    assert prom.scalar("bulletin_last_load_success") == 1
    age = prom.scalar("time() - bulletin_last_successful_load_timestamp_seconds")
    assert 0 <= age < 60


def test_metrics_bind_serves_every_worker_apart_from_the_api(tmp_path):
    from prometheus_client.parser import text_string_to_metric_families

    from tests.live import free_port, wait_port

    path = tmp_path / "store.sqlite"
    load_archive(ARCHIVE, f"sqlite:///{path}")
    port = free_port()
    server = Gunicorn({"DATABASE_URL": f"sqlite:///{path}", "METRICS_BIND": f"127.0.0.1:{port}", "METRICS_ALLOW": "",
                       "LOAD_REPORT_PATH": "", "LOG_FORMAT": "json"}, workers=2)  # fmt: skip
    try:
        wait_port(port, 10)
        sent = 0
        while sent < 60 and len({line["pid"] for line in access_lines(server) if line["path"] == "/v1/issues"}) < 2:
            assert get(server.port, "/v1/issues")[0] == 200
            sent += 1
        assert get(server.port, "/metrics")[0] == 404  # METRICS_ALLOW empty: not on the API's port
        # Both workers' requests, summed by the master: each worker tallies and flushes every FLUSH_INTERVAL, also
        # when idle (its flusher thread), so the sum arrives within that lag and never overshoots.
        deadline, counted = time.monotonic() + 5 * metrics.FLUSH_INTERVAL, []
        while not counted or (counted[-1] < sent and time.monotonic() < deadline):
            status, _, body = get(port, "/metrics")
            assert status == 200
            families = {f.name: f for f in text_string_to_metric_families(body.decode())}
            issues = [s for s in families["bulletin_http_requests"].samples
                      if s.name.endswith("_total") and s.labels["route"] == "/v1/issues"]  # fmt: skip
            counted.append(sum(s.value for s in issues))
            time.sleep(0.1)
        assert counted[-1] == sent and max(counted) == sent
        live = orjson.loads(get(server.port, "/readyz")[2])["generation"]
        assert families["bulletin_generation_info"].samples[0].labels == {"generation": live}
    finally:
        server.stop()
