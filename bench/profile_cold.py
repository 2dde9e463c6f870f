"""Where a cold request's time goes: `python -m bench.profile_cold [--size N] [--scenario first] [--requests 400]`.

Runs one bench scenario's cold URLs (bench.run.scenarios: a new response-cache key per request) in process,
through the WSGI app (no socket, no gunicorn), under cProfile, against the bench's cached store of `--size`
articles (or DATABASE_URL), beside the bench's reference view (prepared bytes) timed in the same process. Prints
the time per request by the package that spends it (self time: sqlite3/psycopg, sqlalchemy, marshmallow,
the compressors, werkzeug/flask, the project's own code) and the functions with the most self time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: self time of functions whose file path holds the key is put under that label (first match wins)
BUCKETS = (
    ("/sqlalchemy/", "sqlalchemy"),
    ("/psycopg", "psycopg (driver)"),
    ("sqlite3", "sqlite3 (driver)"),
    ("/marshmallow/", "marshmallow"),
    ("/werkzeug/", "werkzeug"),
    ("/flask/", "flask"),
    ("/flask_caching/", "flask-caching"),
    ("/cachelib/", "flask-caching"),
    ("/redis/", "redis client"),
    ("brotli", "compression"),
    ("zlib", "compression"),
    ("gzip", "compression"),
    ("/json/", "json"),
    ("orjson", "json"),
    (str(ROOT / "api" / "store"), "api.store (queries)"),
    (str(ROOT / "api"), "api (request path)"),
    (str(ROOT / "schemas"), "schemas"),
)


def bucket(filename: str, name: str) -> str:
    key = f"{filename}:{name}"
    for needle, label in BUCKETS:
        if needle in key:
            return label
    if filename == "~":  # a built-in: its name tells (e.g. <method 'execute' of 'sqlite3.Cursor' objects>)
        for needle, label in BUCKETS:
            if needle.strip("/") in name:
                return label
        return "built-ins (other)"
    return "other Python"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=1000, help="the bench's cached archive size (its store is built)")
    ap.add_argument("--scenario", default="first", help="a bench scenario key (first, issue, article, search ...)")
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from bench.run import Plan, archive, built_store, scenarios

    if "DATABASE_URL" not in os.environ:
        path, manifest, _ = archive(args.size)
        store, _, _ = built_store(args.size, path, manifest)
        os.environ["DATABASE_URL"] = f"sqlite:///{store}"
    os.environ.update(BENCH_REFERENCE="1", RATELIMIT_ENABLED="0")
    from bench.reference import app

    plan = Plan(app)
    chosen = [s for s in scenarios(plan, 2 * args.requests + 50) if s["key"] == args.scenario]
    if not chosen or not chosen[0]["cold"]:
        sys.exit(f"no cold URLs for scenario {args.scenario!r}")
    urls = chosen[0]["cold"]
    client = app.test_client()
    for url in urls[:50]:  # warm the process (vocabulary, per-generation totals, compiled dumpers)
        assert client.get(url).status_code == 200, url
    cold = urls[50 : 50 + args.requests]

    started = time.perf_counter()
    for _ in range(len(cold)):
        client.get("/__bench/reference")
    ref_ms = (time.perf_counter() - started) * 1000 / len(cold)

    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    for url in cold:
        client.get(url)
    profile.disable()
    cold_ms = (time.perf_counter() - started) * 1000 / len(cold)

    stats = pstats.Stats(profile)
    by_bucket: dict[str, float] = defaultdict(float)
    total = 0.0
    for (filename, _line, name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():
        by_bucket[bucket(filename, name)] += tottime
        total += tottime
    print(f"{args.scenario} cold, {len(cold)} requests in process on {os.environ['DATABASE_URL']}")
    print(f"  {cold_ms:.2f} ms per request under the profiler; reference view {ref_ms:.3f} ms (unprofiled)")
    print("\n| spent in (self time) | ms per request | share |\n| --- | ---: | ---: |")
    for label, seconds in sorted(by_bucket.items(), key=lambda kv: -kv[1]):
        print(f"| {label} | {seconds * 1000 / len(cold):.3f} | {100 * seconds / total:.1f} % |")
    unprofiled = time.perf_counter()
    for url in urls[50 + len(cold) :][: len(cold)] or cold:
        client.get(url)
    print(f"  {(time.perf_counter() - unprofiled) * 1000 / len(cold):.2f} ms per cold request without the profiler")
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(args.top)
    print("\nThe functions with the most self time:\n" + out.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
