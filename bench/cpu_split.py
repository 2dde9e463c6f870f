"""CPU per cold request by process, SQLite against PostgreSQL + Redis, in one run:
`python -m bench.cpu_split [--size 100000] [--requests 400] [--rounds 2] [--scenarios first,search]`.

Each round runs every cold scenario's URLs (bench.run.scenarios: a new response-cache key per request) in process
through the WSGI app, once on the bench's SQLite store and once on PostgreSQL + Redis (the local servers, as
`--local-services`: TEST_DATABASE_URL, TEST_REDIS_URL, the bench's kept schema of this size, loaded first when
there is none), each backend in a child process of its own. It reads the CPU time, user and system, of the child
(the worker: Flask, SQLAlchemy, the drivers, the Redis client), of every PostgreSQL process and of redis-server
from /proc before and after, so the figures add up what one cold request costs every process it touches. The
ratio PostgreSQL / SQLite is of the totals: what the bench's throughput ratio approaches on a machine whose cores
every process shares, without wrk's and the reference's noise. Per scenario the median of the rounds.

Linux only (/proc). Run it on an otherwise idle machine: PostgreSQL's own background work (autovacuum after a
fresh load, the checkpointer) counts as the requests'.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _pids(name: str) -> list[int]:
    """The processes whose command name is `name` (postgres, redis-server)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds of `pids` (a process gone since is left out)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICK


def child(keys: list[str], requests: int) -> dict:
    """In the child: every scenario of `keys`, its cold URLs after 50 to warm the process; CPU ms per request."""
    os.environ.update(BENCH_REFERENCE="1", RATELIMIT_ENABLED="0")
    sys.path.insert(0, str(ROOT))
    from bench.reference import app
    from bench.run import Plan, scenarios

    client = app.test_client()
    out = {}
    for scenario in scenarios(Plan(app), 2 * requests + 100):
        if scenario["key"] not in keys or not isinstance(scenario["cold"], list):
            continue
        urls = scenario["cold"]
        for url in urls[:50]:  # the process's vocabulary, per-generation totals, compiled dumpers, pool
            assert client.get(url).status_code == 200, url
        cold = urls[50 : 50 + requests]
        postgres, redis = _pids("postgres"), _pids("redis-server")
        before = (time.process_time(), _cpu_s(postgres), _cpu_s(redis), time.perf_counter())
        for url in cold:
            status = client.get(url).status_code
            if status != 200:
                raise SystemExit(f"{url} answered {status}")
        after = (time.process_time(), _cpu_s(postgres), _cpu_s(redis), time.perf_counter())
        worker, pg, rd, wall = (1000 * (b - a) / len(cold) for a, b in zip(before, after, strict=True))
        out[scenario["key"]] = {"name": scenario["name"], "worker": worker, "postgres": pg, "redis": rd, "wall": wall}
    return out


def _stores(size: int) -> tuple[str, str, str, str]:
    """(SQLite URL, PostgreSQL URL, its schema, Redis URL) of the bench's stores of `size`, built when missing."""
    sys.path.insert(0, str(ROOT))
    from api.ingest.loader import load_archive
    from api.ingest.vocabulary import Vocabulary
    from bench.run import Services, archive, built_store, code_hash

    path, manifest, _ = archive(size)
    store, _, _ = built_store(size, path, manifest)
    services = Services(local=True)
    services.schema = f"bench_{size}_{code_hash(manifest)}"
    if services.kept_load() is None:
        started = time.perf_counter()
        print(f"loading {path} into PostgreSQL schema {services.schema} ...", flush=True)
        load_archive(path, services.db_url, schema=services.schema,
                     vocabulary=Vocabulary.load(ROOT / "data" / "vocabulary.yaml"))  # fmt: skip
        services.keep_load(size, round(time.perf_counter() - started, 1))
    return f"sqlite:///{store}", services.db_url, services.schema, services.redis_url


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=100000)
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--scenarios", default="issue,article,first,first_filter,deepest,filtered,search,feed")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    keys = args.scenarios.split(",")
    if args.child:
        print(json.dumps(child(keys, args.requests)))
        return 0
    sqlite_url, pg_url, schema, redis_url = _stores(args.size)
    import redis

    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DATABASE_SCHEMA", "CACHE_REDIS_URL")}
    backends = {
        "sqlite": {**base, "DATABASE_URL": sqlite_url},
        "postgresql": {**base, "DATABASE_URL": pg_url, "DATABASE_SCHEMA": schema, "CACHE_REDIS_URL": redis_url},
    }
    runs: dict[str, list[dict]] = {name: [] for name in backends}
    command = [sys.executable, "-m", "bench.cpu_split", "--child", "--scenarios", args.scenarios,
               "--requests", str(args.requests)]  # fmt: skip
    for _ in range(args.rounds):
        for name, env in backends.items():
            redis.Redis.from_url(redis_url).flushdb()  # every URL cold, in every round
            done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
            if done.returncode:
                raise SystemExit(f"{name}: {done.stderr[-2000:]}")
            runs[name].append(json.loads(done.stdout.strip().splitlines()[-1]))

    def median(name: str, key: str, part: str) -> float:
        return statistics.median(run[key][part] for run in runs[name])

    print(f"CPU ms per cold request, {args.size} articles, {args.requests} requests, median of {args.rounds} rounds")
    print("\n| scenario | SQLite | PostgreSQL + Redis: worker | postgres | redis-server | total | PG / SQLite |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for key in [k for k in keys if k in runs["sqlite"][0]]:
        lite = sum(median("sqlite", key, p) for p in ("worker", "postgres", "redis"))
        parts = [median("postgresql", key, p) for p in ("worker", "postgres", "redis")]
        name = runs["sqlite"][0][key]["name"]
        cells = " | ".join(f"{p:.2f}" for p in parts)
        print(f"| {name} | {lite:.2f} | {cells} | {sum(parts):.2f} | {sum(parts) / lite:.2f}× |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
