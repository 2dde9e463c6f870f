"""Fault injection under load: gunicorn (2 workers) on loopback, private PostgreSQL and Redis, bounded client threads.

Faults: PostgreSQL stopped (FAULTS_PG_OUTAGE seconds, default 15), Redis stopped and frozen (SIGSTOP), the SQLite
file removed and corrupted, 20 archive reloads during the load, a worker SIGKILLed. `make faults` runs only these;
`make test` (so CI) runs them too. The shared servers on 5432/6379 are never touched.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import shutil
import signal
import time
from pathlib import Path

import orjson
import pytest

from api.ingest.loader import load_archive
from bench.provenance import provenance
from tests.conftest import ARCHIVE, SEED_SLUG, copy_archive, make_app
from tests.live import Gunicorn, Load, PrivatePostgres, PrivateRedis, get, pg_bindir

pytestmark = pytest.mark.faults

PG_OUTAGE = float(os.environ.get("FAULTS_PG_OUTAGE", "15"))
REDIS_OUTAGE = float(os.environ.get("FAULTS_REDIS_OUTAGE", "4"))
RELOADS = 20
CHECK_INTERVAL = 1.0  # GENERATION_CHECK_INTERVAL of the PostgreSQL gunicorn
WARM = [
    "/v1/issues",
    "/v1/articles?limit=5",
    "/v1/sections",
    "/v1/trends",
    "/v1/issues/2022-02-14",
    f"/v1/articles/{SEED_SLUG}",
    "/v1/feed.atom",
]
STATS: dict = {}  # figures of this run, written to test-artifacts/faults.json for docs/reliability.md


def cold_url(n: int) -> str:
    """A valid list URL never requested before in this run (a new cache key): it must reach the database."""
    day = dt.date(1900, 1, 1) + dt.timedelta(days=(n * 7919 + int(time.monotonic() * 1000)) % 40000)
    return f"/v1/articles?limit=3&from={day.isoformat()}"


def mixed(n: int) -> str:
    return cold_url(n) if n % 3 == 0 else WARM[n % len(WARM)]


def _skip_or_fail(message: str) -> None:
    if os.environ.get("REQUIRE_SERVICES"):
        pytest.fail(f"{message}, and REQUIRE_SERVICES=1 forbids skipping the fault suite")
    pytest.skip(message)


def _is_problem(s, status: int) -> bool:
    if s.status != status or s.headers.get("content-type") != "application/problem+json":
        return False
    return orjson.loads(s.body).get("status") == status


def _record(name: str, samples, **extra) -> None:
    STATS[name] = {"requests": len(samples), "ok_2xx": sum(1 for s in samples if s.status and s.status < 300),
                   "max_latency_s": round(max((s.elapsed for s in samples), default=0), 3), **extra}  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def _write_stats():
    yield
    out = Path(__file__).resolve().parents[1] / "test-artifacts"
    out.mkdir(exist_ok=True)
    (out / "faults.json").write_text(json.dumps({**STATS, "_provenance": provenance()}, indent=2))


# --- SQLite: file removed / corrupted, reloads, worker killed -------------------------------------------------


@pytest.fixture(scope="module")
def sqlite_service(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("faults-sqlite")
    path = tmp / "store.sqlite"
    report = load_archive(ARCHIVE, f"sqlite:///{path}")
    server = Gunicorn({"DATABASE_URL": f"sqlite:///{path}"}, workers=2)
    yield {"server": server, "path": path, "tmp": tmp, "generation": report.generation}
    server.stop()


def _wait_for(port: int, path: str, predicate, limit: float) -> float:
    """Seconds until a request to `path` satisfies predicate(status, headers, body); fails past `limit`."""
    start = time.monotonic()
    while True:
        try:
            status, headers, body = get(port, path, timeout=limit)
            if predicate(status, headers, body):
                return time.monotonic() - start
        except (OSError, http.client.HTTPException):
            pass
        if time.monotonic() - start > limit:
            pytest.fail(f"{path}: condition not met within {limit} s")
        time.sleep(0.02)


@pytest.mark.parametrize("fault", ["removed", "corrupted"])
def test_sqlite_file_removed_or_corrupted_is_503_then_recovers_without_restart(sqlite_service, fault):
    server, path = sqlite_service["server"], sqlite_service["path"]
    pids = server.worker_pids()
    backup = path.with_suffix(".backup")
    shutil.copy2(path, backup)
    clients = 3
    with Load(server.port, mixed, threads=clients) as load:
        time.sleep(0.5)
        t_fault = time.monotonic()
        if fault == "removed":
            path.rename(path.with_suffix(".away"))
        else:  # garbage over the header and first pages, in place (same inode and size)
            with open(path, "r+b") as f:
                f.write(os.urandom(8192))
        unavailable = _wait_for(server.port, "/readyz", lambda st, h, b: st == 503, 2)
        time.sleep(1.5)
        t_restore = time.monotonic()
        if fault == "removed":
            path.with_suffix(".away").rename(path)
        else:
            shutil.copyfile(backup, path)  # an operator restoring the file from a backup, in place
        back = _wait_for(server.port, "/readyz", lambda st, h, b: st == 200 and b'"ready"' in b, 2)
        uncached_back = _wait_for(server.port, cold_url(10**6), lambda st, h, b: st == 200, 2)
        time.sleep(0.5)
    # Requests sent after the fault was seen and answered before the restore began.
    during = [s for s in load.between(t_fault + unavailable + 0.1, t_restore) if s.end < t_restore]
    assert during, "no request was made during the fault"
    # While the store cannot be read, every answer is a 503 problem with Retry-After, quickly.
    for s in during:
        assert _is_problem(s, 503), (s.url, s.status, s.body[:200])
        assert s.headers.get("retry-after")
        assert s.elapsed < 2
    after = load.between(t_restore + back + uncached_back + 0.1, float("inf"))
    assert after and all(s.status == 200 for s in after)
    assert all(s.status in (200, 503) for s in load.samples), {s.status for s in load.samples}
    assert server.worker_pids() == pids  # recovered without any worker restart
    _record(f"sqlite_file_{fault}", load.samples, unavailable_within_s=round(unavailable, 3),
            ready_again_within_s=round(back + uncached_back, 3))  # fmt: skip


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_twenty_archive_reloads_under_load(request, backend, tmp_path):
    service = request.getfixturevalue(f"{backend}_service")
    server = service["server"]
    if backend == "sqlite":
        url, schema = f"sqlite:///{service['path']}", "bulletin"
    else:  # a new schema swapped in, noticed within GENERATION_CHECK_INTERVAL (1 s)
        url, schema = service["pg"].url, "bulletin"
    pids = server.worker_pids()
    smaller = copy_archive(tmp_path, ARCHIVE)
    shutil.rmtree(smaller / "2022-01-31")
    # Issue count of each archive, from the in-process app on a scratch store; a generation's id is recorded with
    # the archive it was loaded from (reloading one archive gives a new id: the change history is part of it).
    totals = {}
    for archive in (ARCHIVE, smaller):
        scratch = tmp_path / f"scratch-{len(totals)}.sqlite"
        load_archive(archive, f"sqlite:///{scratch}")
        app = make_app({"DATABASE_URL": f"sqlite:///{scratch}", "CACHE_REDIS_URL": None})
        totals[archive] = app.test_client().get("/v1/issues").get_json()["meta"]["total"]
        app.extensions["store"].dispose()
    assert totals[ARCHIVE] != totals[smaller]
    live = orjson.loads(get(server.port, "/v1/issues")[2])["meta"]
    assert live["total"] == totals[ARCHIVE]
    expected = {live["generation"]: totals[ARCHIVE]}
    load_times = []
    visible = []
    with Load(server.port, lambda n: "/v1/issues" if n % 2 else mixed(n), threads=2) as load:
        for i in range(RELOADS):
            archive = smaller if i % 2 == 0 else ARCHIVE
            t0 = time.monotonic()
            gen = load_archive(archive, url, schema=schema).generation[:20]
            load_times.append(time.monotonic() - t0)
            assert gen not in expected
            expected[gen] = totals[archive]

            def fresh(st, h, b, gen=gen):
                return st == 200 and orjson.loads(b)["meta"]["generation"] == gen

            # Visible everywhere: the time from the end of the load to the first of 8 fresh answers in a row
            # (several in a row, so every worker has answered with the new generation).
            loaded_at, streak_start, streak = time.monotonic(), None, 0
            while streak < 8:
                assert time.monotonic() - loaded_at < 5, f"generation {gen} not served consistently"
                sent = time.monotonic()
                if fresh(*get(server.port, "/v1/issues")):
                    streak, streak_start = streak + 1, streak_start or sent
                else:
                    streak, streak_start = 0, None
            visible.append(streak_start - loaded_at)
    assert max(visible) < 2
    assert not [s for s in load.samples if s.status is None or s.status >= 500]
    issues = [orjson.loads(s.body)["meta"] for s in load.samples if s.url == "/v1/issues" and s.status == 200]
    assert len(issues) > RELOADS
    # Every response comes from a single generation: its count is that generation's count.
    for meta in issues:
        assert expected[meta["generation"]] == meta["total"], meta
    assert server.worker_pids() == pids
    _record(f"archive_reloads_{backend}", load.samples, reloads=RELOADS, max_visible_after_s=round(max(visible), 3),
            max_load_s=round(max(load_times), 3))  # fmt: skip


def test_worker_sigkill_served_again_quickly(sqlite_service):
    server = sqlite_service["server"]
    pids = server.worker_pids()
    victim = min(pids)
    clients = 3
    with Load(server.port, mixed, threads=clients) as load:
        time.sleep(0.5)
        t_kill = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        served = _wait_for(server.port, cold_url(2 * 10**6), lambda st, h, b: st == 200, 5)
        while len(server.worker_pids() - {victim}) < server.workers:
            assert time.monotonic() - t_kill < 5, "gunicorn did not replace the killed worker within 5 s"
            time.sleep(0.05)
        replaced = time.monotonic() - t_kill
        time.sleep(0.5)
    assert served < 5
    after = server.worker_pids()
    assert victim not in after and len(after) == server.workers
    answered = [s for s in load.samples if s.status is not None]
    assert all(s.status == 200 for s in answered)
    # Only the requests the killed worker was serving may be lost (their connections are reset): a gthread worker
    # serves several at once, at most one per client thread, and nothing sent after the kill is lost.
    lost = [s for s in load.samples if s.status is None]
    assert len(lost) <= clients, [s.error for s in lost]
    assert all(s.start <= t_kill for s in lost), "a request sent after the kill was lost"
    _record("worker_sigkill", load.samples, served_again_within_s=round(served, 3),
            worker_replaced_within_s=round(replaced, 3), lost=len(lost))  # fmt: skip


# --- PostgreSQL + Redis: database stopped, Redis stopped and frozen -------------------------------------------


def _warm(server) -> None:
    """Fill the Redis response cache with the warm URLs (through both workers)."""
    for n in range(len(WARM) * 4):
        get(server.port, WARM[n % len(WARM)])


@pytest.fixture(scope="module")
def postgres_service():
    if not pg_bindir() or not shutil.which("redis-server"):
        _skip_or_fail("PostgreSQL server binaries or redis-server are not installed")
    if os.geteuid() == 0 and not shutil.which("runuser"):
        _skip_or_fail("running as root without runuser: cannot start a private PostgreSQL")
    pg = PrivatePostgres()
    redis = PrivateRedis()
    server = None
    try:
        pg.start()
        redis.start()
        load_archive(ARCHIVE, pg.url, schema="bulletin")
        env = {"DATABASE_URL": pg.url, "DATABASE_SCHEMA": "bulletin", "CACHE_REDIS_URL": redis.url,
               "GENERATION_CHECK_INTERVAL": str(CHECK_INTERVAL)}  # fmt: skip
        server = Gunicorn(env, workers=2)
        _warm(server)
        yield {"server": server, "pg": pg, "redis": redis, "env": env}
    finally:
        if server:
            server.stop()
        redis.close()
        pg.close()


def test_postgres_stopped_503_with_retry_after_then_recovers(postgres_service):
    server, pg = postgres_service["server"], postgres_service["pg"]
    pids = server.worker_pids()
    logs_before = server.log_text().count("store unavailable")
    with Load(server.port, mixed, threads=4) as load:
        time.sleep(1)
        t_stop = time.monotonic()
        pg.stop()
        t_down = time.monotonic()  # pg_ctl -w: the server has exited
        time.sleep(PG_OUTAGE)  # stopped for the whole PG_OUTAGE seconds
        t_restart = time.monotonic()
        pg.start()  # returns once the server accepts connections
        t_back = time.monotonic()
        first_uncached = _wait_for(server.port, cold_url(3 * 10**6), lambda st, h, b: st == 200, 5)
        time.sleep(1)
    samples = load.samples
    outage = load.between(t_stop, t_back)
    assert outage, "no request during the outage"
    assert any(s.status == 503 for s in outage)
    # Only 503s while the database is down: a worker notices at its next generation check (every
    # GENERATION_CHECK_INTERVAL = 1 s, until then a cache hit may still be a 200); from then on every request
    # re-checks and is refused, cached or not, until the database is back.
    down = [s for s in samples if s.start > t_down + CHECK_INTERVAL + 0.05 and s.end < t_restart]
    assert len(down) > 10, len(down)
    assert all(_is_problem(s, 503) for s in down), sorted({(s.url, s.status) for s in down if s.status != 503})
    for s in samples:
        assert s.status == 200 or _is_problem(s, 503), (s.url, s.status, s.error, s.body[:200])
        if s.status == 503:
            assert int(s.headers["retry-after"]) > 0
        assert s.elapsed < 2, (s.url, s.status, s.elapsed)
    assert first_uncached < 5
    # After the database returned (and the first uncached 200 came back), everything is a 200 again.
    assert all(s.status == 200 for s in load.between(t_back + first_uncached + 0.2, float("inf")))
    assert server.worker_pids() == pids  # no worker restarts
    # The outage is logged, but once per worker per 10 s with a count, not once per 503.
    lines = server.log_text().count("store unavailable") - logs_before
    assert 1 <= lines <= server.workers * (PG_OUTAGE / 10 + 2), lines
    _record("postgres_stopped", samples, store_log_lines=lines, stopped_s=round(t_back - t_down, 2),
            during_outage=len(outage), served_503=sum(1 for s in samples if s.status == 503),
            while_down_all_503=len(down), ok_200_during_outage=sum(1 for s in outage if s.status == 200),
            max_503_latency_s=round(max((s.elapsed for s in samples if s.status == 503), default=0), 3),
            first_uncached_200_after_s=round(first_uncached, 3))  # fmt: skip


def _cache_log_lines(server) -> int:
    return server.log_text().count("response cache unavailable")


@pytest.mark.parametrize("fault", ["stopped", "frozen"])
def test_redis_down_or_frozen_serves_everything_uncached(postgres_service, fault):
    # A gunicorn of its own, on the same database and Redis: its workers have never logged a cache error, so the
    # first one of this fault must be logged (the log is rate-limited per worker, one line per 30 s).
    redis = postgres_service["redis"]
    server = Gunicorn(postgres_service["env"], workers=2)
    try:
        _redis_fault(server, redis, fault)
    finally:
        server.stop()


def _redis_fault(server, redis, fault: str) -> None:
    _warm(server)
    pids = server.worker_pids()
    logs_before = _cache_log_lines(server)
    with Load(server.port, mixed, threads=4) as load:
        time.sleep(1)
        t_fault = time.monotonic()
        redis.stop() if fault == "stopped" else redis.freeze()
        time.sleep(REDIS_OUTAGE)
        t_back = time.monotonic()
        redis.start() if fault == "stopped" else redis.thaw()
        time.sleep(1)
    before, during = load.between(0, t_fault), load.between(t_fault, t_back)
    assert during
    bad = [(s.url, s.status, s.error) for s in load.samples if s.status is None or not 200 <= s.status < 300]
    assert not bad  # zero non-2xx, nothing lost
    # Latency no worse than uncached: a dead or frozen Redis costs one short timeout, then it is skipped.
    cold_before = sorted(s.elapsed for s in before if "from=" in s.url)
    during_sorted = sorted(s.elapsed for s in during)
    assert during_sorted[-1] < 1.0, during_sorted[-5:]
    median_cold = cold_before[len(cold_before) // 2]
    median_during = during_sorted[len(during_sorted) // 2]
    assert median_during <= max(3 * median_cold, median_cold + 0.05), (median_during, median_cold)
    # Cache errors are logged, rate-limited: a line per worker per 30 s (the outage is shorter), not one per request.
    lines = _cache_log_lines(server) - logs_before
    assert 1 <= lines <= server.workers, (lines, len(during))
    assert server.worker_pids() == pids
    _record(f"redis_{fault}", load.samples, outage_s=REDIS_OUTAGE, during_outage=len(during),
            cache_log_lines=lines, median_latency_during_s=round(median_during, 4),
            median_uncached_before_s=round(median_cold, 4))  # fmt: skip
