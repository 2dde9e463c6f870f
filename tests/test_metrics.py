"""Request ids, the JSON access line and /metrics, in process (the multi-worker scrape is tests/test_prometheus.py).

Counters live in the process-wide registry, so every assertion is on a difference before/after.
"""

from __future__ import annotations

import io
import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from api import logs, metrics
from api.extensions import cache
from tests.conftest import ARCHIVE, SEED_SLUG, copy_archive
from tests.test_query_timeout import add_expensive_view


def sample(name: str, **labels) -> float:
    metrics.flush()  # what a scrape of this process does first: the request samples are tallied, then flushed
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def json_log():
    """LOG_FORMAT=json apps log into this buffer; the `api` logger is put back to plain text afterwards."""
    buffer = io.StringIO()
    yield buffer
    logs.configure("text")


def make_json_app(new_app, loaded, buffer, **extra):
    app = new_app(loaded, LOG_FORMAT="json", **extra)
    logs.configure("json", stream=buffer)  # the same handler create_app installed, on our buffer
    return app


def lines(buffer) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def test_every_response_carries_a_fresh_request_id(client):
    seen = []
    for url in ("/v1/issues", "/v1/issues", "/v1/issues", "/v1/nope", "/v1/articles?limit=0", "/healthz"):
        resp = client.get(url)
        ids = resp.headers.getlist("X-Request-Id")
        assert len(ids) == 1, (url, ids)
        assert logs.REQUEST_ID.fullmatch(ids[0])
        seen.append(ids[0])
    assert len(set(seen)) == len(seen)  # hot-path replays included: the stored headers never keep an id


def test_incoming_request_id_only_from_a_trusted_proxy(loaded, new_app):
    untrusted = new_app(loaded).test_client()
    trusted = new_app(loaded, TRUSTED_PROXIES=1, PUBLIC_BASE_URL="https://api.example").test_client()
    good = "3f2a9c0d5e6b47a8b9c0d1e2f3a4b5c6"
    assert untrusted.get("/v1/issues", headers={"X-Request-Id": good}).headers["X-Request-Id"] != good
    assert trusted.get("/v1/issues", headers={"X-Request-Id": good}).headers["X-Request-Id"] == good
    for bad in ("short", "x" * 129, "has space inside it", "semi;colon-0123456", "<script>alert(1)</script>"):
        got = trusted.get("/v1/issues", headers={"X-Request-Id": bad}).headers["X-Request-Id"]
        assert got != bad and logs.REQUEST_ID.fullmatch(got), bad


def test_json_access_line_per_request_names_the_cache_that_answered(loaded, json_log, new_app):
    app = make_json_app(new_app, loaded, json_log)
    with app.app_context():  # Redis outlives apps and runs: start from an empty response cache
        cache.clear()
    client = app.test_client()
    ids = [client.get(f"/v1/articles/{SEED_SLUG}").headers["X-Request-Id"] for _ in range(2)]
    # Another encoding is another hot-path key, but the same response-cache entry.
    ids.append(client.get(f"/v1/articles/{SEED_SLUG}", headers={"Accept-Encoding": "gzip"}).headers["X-Request-Id"])
    ids.append(client.get("/v1/articles?limit=abc").headers["X-Request-Id"])
    access = [line for line in lines(json_log) if line["logger"] == "api.access"]
    assert [line["request_id"] for line in access] == ids
    first, replay, response, bad = access
    assert first["route"] == replay["route"] == "/v1/articles/<slug>"
    assert (first["cache"], replay["cache"], response["cache"]) == ("none", "hot", "response")
    assert first["status"] == replay["status"] == 200
    # A replay runs no query (on PostgreSQL at most the generation poll, every request with an interval of 0).
    assert first["db_queries"] > replay.get("db_queries", 0) and replay.get("db_queries", 0) <= 1
    assert first["generation"] == replay["generation"] == response["generation"]
    assert first["generation"].startswith(loaded["report"].generation[:20])
    assert bad["status"] == 400 and bad["problem"] == "invalid-request" and "traceback" not in bad
    assert all(line["duration_ms"] >= 0 for line in access)


def test_server_error_line_has_the_request_id_and_the_traceback(loaded, json_log, new_app):
    app = make_json_app(new_app, loaded, json_log)

    @app.get("/test/boom")
    def boom():
        raise RuntimeError("boom")

    rid = app.test_client().get("/test/boom").headers["X-Request-Id"]
    error, access = lines(json_log)[-2:]
    assert error["request_id"] == access["request_id"] == rid
    assert error["level"] == "error" and "RuntimeError: boom" in error["traceback"]
    assert access["status"] == 500 and access["route"] == "/test/boom"


def test_metrics_path_only_for_allowed_addresses(loaded, new_app):
    client = new_app(loaded).test_client()
    resp = client.get("/metrics")
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    assert "bulletin_http_requests_total" in resp.get_data(as_text=True)
    remote = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert remote.status_code == 404 and remote.mimetype == "application/problem+json"
    # Behind a trusted proxy the client is the forwarded address, not the proxy's loopback one.
    proxied = new_app(loaded, TRUSTED_PROXIES=1, PUBLIC_BASE_URL="https://api.example").test_client()
    assert proxied.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 404
    assert proxied.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 200
    widened = new_app(loaded, METRICS_ALLOW="203.0.113.0/24").test_client()
    assert widened.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 200
    assert widened.get("/metrics").status_code == 404
    assert new_app(loaded, METRICS_ALLOW="").test_client().get("/metrics").status_code == 404
    assert new_app(loaded, METRICS_ENABLED=False).test_client().get("/metrics").status_code == 404


def test_requests_cache_layers_and_queries_are_counted(loaded, new_app):
    client = new_app(loaded).test_client()
    route = "/v1/articles/<slug>"
    before = {
        "ok": sample("bulletin_http_requests_total", route=route, method="GET", status="200"),
        "missing": sample("bulletin_http_requests_total", route=route, method="GET", status="404"),
        "unmatched": sample("bulletin_http_requests_total", route=metrics.UNMATCHED, method="GET", status="404"),
        "hot_hit": sample("bulletin_cache_lookups_total", layer="hot", result="hit"),
        "hot_miss": sample("bulletin_cache_lookups_total", layer="hot", result="miss"),
        "response_miss": sample("bulletin_cache_lookups_total", layer="response", result="miss"),
        "queries": sample("bulletin_db_queries_total"),
        "latency": sample("bulletin_http_request_duration_seconds_count", route=route),
    }
    url = f"/v1/articles/{SEED_SLUG}?lang=en&fields=slug"  # a key no other test uses: the first is a miss
    for _ in range(4):
        assert client.get(url).status_code == 200
    assert client.get("/v1/articles/no-such-article").status_code == 404
    assert client.get("/nowhere/at/all").status_code == 404
    assert sample("bulletin_http_requests_total", route=route, method="GET", status="200") == before["ok"] + 4
    assert sample("bulletin_http_requests_total", route=route, method="GET", status="404") == before["missing"] + 1
    unmatched = sample("bulletin_http_requests_total", route=metrics.UNMATCHED, method="GET", status="404")
    assert unmatched == before["unmatched"] + 1
    assert sample("bulletin_cache_lookups_total", layer="hot", result="hit") == before["hot_hit"] + 3
    assert sample("bulletin_cache_lookups_total", layer="hot", result="miss") == before["hot_miss"] + 1
    assert sample("bulletin_cache_lookups_total", layer="response", result="miss") >= before["response_miss"] + 1
    assert sample("bulletin_db_queries_total") > before["queries"]
    assert sample("bulletin_http_request_duration_seconds_count", route=route) == before["latency"] + 5


def test_query_deadline_503_and_rate_limit_429_are_counted(loaded, new_app):
    app = add_expensive_view(new_app(loaded, QUERY_TIMEOUT_MS=100))
    before = sample("bulletin_query_deadline_exceeded_total", route="/test/expensive")
    assert app.test_client().get("/test/expensive").status_code == 503
    assert sample("bulletin_query_deadline_exceeded_total", route="/test/expensive") == before + 1

    limited = new_app(loaded, RATELIMIT_ENABLED=True, RATELIMIT_DEFAULT="2 per minute").test_client()
    before = sample("bulletin_rate_limited_total", route="/v1/sections")
    statuses = [limited.get("/v1/sections").status_code for _ in range(4)]
    assert statuses == [200, 200, 429, 429]
    assert sample("bulletin_rate_limited_total", route="/v1/sections") == before + 2


def test_store_unavailable_is_not_a_query_deadline(tmp_path, new_app):
    app = new_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'missing.sqlite'}"}, LOAD_REPORT_PATH="")
    before = sample("bulletin_query_deadline_exceeded_total", route="/v1/issues")
    assert app.test_client().get("/v1/issues").status_code == 503
    assert sample("bulletin_query_deadline_exceeded_total", route="/v1/issues") == before
    families = {f.name: f for f in text_string_to_metric_families(app.test_client().get("/metrics").text)}
    assert families["bulletin_store_up"].samples[0].value == 0
    assert "bulletin_generation_info" not in families


def test_scrape_shows_the_live_generation_and_the_last_load(loaded, tmp_path, new_app):
    report_path = tmp_path / "load-report.json"
    app = new_app(loaded, LOAD_REPORT_PATH=str(report_path))
    client = app.test_client()

    def scrape() -> dict:
        return {f.name: f for f in text_string_to_metric_families(client.get("/metrics").text)}

    families = scrape()
    assert "bulletin_last_load_files" not in families  # no report written yet
    live = client.get("/readyz").get_json()["generation"]
    assert [(s.labels, s.value) for s in families["bulletin_generation_info"].samples] == [({"generation": live}, 1)]
    assert families["bulletin_generation_age_seconds"].samples[0].value >= 0
    report = loaded["report"]
    failed = metrics.load_summary(
        report, False, "1 file(s) rejected", 1.5, {"last_success_at": "2026-01-05T00:00:00+00:00"}
    )
    metrics.write_load_report(report_path, failed)
    families = scrape()
    assert families["bulletin_last_load_success"].samples[0].value == 0
    assert families["bulletin_last_load_files"].samples[0].value == report.files_read
    assert families["bulletin_last_load_articles"].samples[0].value == report.articles_loaded
    assert families["bulletin_last_load_duration_seconds"].samples[0].value == 1.5
    success = families["bulletin_last_successful_load_timestamp_seconds"].samples[0].value
    assert success == 1767571200.0  # 2026-01-05T00:00:00Z: a failed load keeps the last success


def test_load_command_leaves_its_report_and_a_json_line(scratch_store, tmp_path, new_app):
    report_path = tmp_path / "load-report.json"
    app = new_app(scratch_store, LOAD_REPORT_PATH=str(report_path))
    runner = app.test_cli_runner()
    try:
        ok = runner.invoke(args=["archive", "load", str(ARCHIVE), "--log-format", "json"])
        assert ok.exit_code == 0, ok.output
        first = metrics.read_load_report(report_path)
        assert first["ok"] is True and first["files"] > 0 and first["last_success_at"] == first["finished_at"]
        broken = copy_archive(tmp_path, ARCHIVE)
        (broken / "2022-02-28" / "broken.en.md").write_text("---\ntitle: [unclosed\n---\nbody\n")
        failed = runner.invoke(args=["archive", "load", str(broken), "--log-format", "json"])
        assert failed.exit_code == 1
        second = metrics.read_load_report(report_path)
        assert second["ok"] is False and second["rejected"] == 1 and "rejected" in second["error"]
        assert second["last_success_at"] == first["finished_at"]  # the failure keeps the last success
        line = json.loads([ln for ln in failed.stderr.splitlines() if ln.startswith("{")][-1])
        assert line["logger"] == "api.loader" and line["level"] == "error" and line["ok"] is False
        assert len(line["rejected_files"]) == 1 and "broken.en.md" in line["rejected_files"][0]
    finally:
        logs.configure("text")


def test_an_invented_method_is_counted_as_other(loaded, new_app):
    app = new_app(loaded)
    client = app.test_client()
    before = sample("bulletin_http_requests_total", route=metrics.UNMATCHED, method="OTHER", status="405")
    for verb in ("BREW", "PROPFIND", "X-ANYTHING"):
        assert client.open("/v1/issues", method=verb).status_code == 405
    assert sample("bulletin_http_requests_total", route=metrics.UNMATCHED, method="OTHER", status="405") == before + 3
    kept = len(
        metrics.PENDING._local.slots
    )  # this thread's tallies (one per label set) must not grow per invented method
    for verb in ("MKCOL", "UNLOCK", "Y-OTHER"):
        client.open("/v1/issues", method=verb)
    assert len(metrics.PENDING._local.slots) == kept


# --- the tallies behind the request samples (api.metrics.Pending) ------------------------------------------------


_routes = itertools.count()


def _bucket(route: str, le: str) -> float:
    return REGISTRY.get_sample_value("bulletin_http_request_duration_seconds_bucket", {"route": route, "le": le}) or 0


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 20, allow_nan=False), st.booleans()), max_size=30))
def test_a_flush_writes_what_one_observe_per_request_would(samples):
    """Count, sum, every cumulative bucket and the hot-path hits equal what prometheus_client's own observe() and
    inc() per request give, whatever the latencies (bucket bounds included)."""
    route = f"/t/{next(_routes)}"  # a label set of its own per example: the registry is process-wide
    pending = metrics.Pending(interval=3600)
    hot_before = sample("bulletin_cache_lookups_total", layer="hot", result="hit")
    for elapsed, hot in samples:
        pending.add((route, "GET", "200", hot), elapsed, now=0.0)
    for bound in metrics.LATENCY_BUCKETS:  # exactly on a bound counts in that bucket (le is <=)
        pending.add((route, "GET", "200", False), bound, now=0.0)
    pending.flush()
    values = [e for e, _ in samples] + list(metrics.LATENCY_BUCKETS)
    assert sample("bulletin_http_requests_total", route=route, method="GET", status="200") == len(values)
    count = REGISTRY.get_sample_value("bulletin_http_request_duration_seconds_count", {"route": route})
    total = REGISTRY.get_sample_value("bulletin_http_request_duration_seconds_sum", {"route": route})
    assert count == len(values) and total == pytest.approx(sum(values))
    for bound in metrics.LATENCY_BUCKETS:
        assert _bucket(route, str(float(bound))) == sum(1 for v in values if v <= bound), bound
    assert _bucket(route, "+Inf") == len(values)
    hot_after = REGISTRY.get_sample_value("bulletin_cache_lookups_total", {"layer": "hot", "result": "hit"}) or 0
    assert hot_after - hot_before == sum(1 for _, hot in samples if hot)
    pending.flush()  # nothing is written twice
    assert sample("bulletin_http_requests_total", route=route, method="GET", status="200") == len(values)


def test_tallies_from_many_threads_lose_nothing():
    import threading

    route, pending = "/t/threads", metrics.Pending(interval=0.001)  # flushes race with the adds too
    before = sample("bulletin_http_requests_total", route=route, method="GET", status="200")

    def worker():
        for _ in range(3000):
            pending.add((route, "GET", "200", False), 0.001, now=metrics.perf_counter())

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    pending.flush()
    assert sample("bulletin_http_requests_total", route=route, method="GET", status="200") == before + 18000


def test_an_idle_process_still_flushes_within_the_interval():
    """The flusher thread writes a tally that no later request or scrape of this process would flush."""
    import time

    route, pending = "/t/idle", metrics.Pending(interval=0.05)
    pending.flush()  # starts this process's flusher, as the first request of a worker does
    pending.add((route, "GET", "200", False), 0.002, now=pending._flushed)  # within the interval: not flushed now

    def written():
        return REGISTRY.get_sample_value("bulletin_http_requests_total", {"route": route, "method": "GET",
                                                                          "status": "200"})  # fmt: skip

    assert written() in (None, 0.0)
    deadline = time.monotonic() + 5
    while written() != 1.0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert written() == 1.0
