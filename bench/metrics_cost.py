"""`python -m bench.metrics_cost`: what metrics add to a warm hot-path hit, in process, without HTTP or wrk noise.

Two apps on the sample archive (SQLite), metrics on and off, both in Prometheus multiprocess mode as under gunicorn
(a temporary PROMETHEUS_MULTIPROC_DIR); the WSGI app is called directly for `--path`, in alternating batches.
Prints the median microseconds per request of each and their difference. `bench.run --metrics-cost` measures the
same over HTTP with wrk, where a shared machine's noise is larger than the difference.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.metrics_cost", description=__doc__.split("\n\n")[0])
    ap.add_argument("--path", default="/v1/issues", help="URL path requested (default /v1/issues)")
    ap.add_argument("--batches", type=int, default=10, help="alternating batches per app (default 10)")
    ap.add_argument("--requests", type=int, default=5000, help="requests per batch (default 5000)")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="metrics-cost-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(tmp / "multiproc")  # before prometheus_client is imported
    (tmp / "multiproc").mkdir()
    sys.path.insert(0, str(ROOT))
    from api.app import create_app
    from api.ingest.loader import load_archive

    store = tmp / "store.sqlite"
    load_archive(ROOT / "data" / "archive", f"sqlite:///{store}")
    settings = {"DATABASE_URL": f"sqlite:///{store}", "CACHE_REDIS_URL": None, "LOAD_REPORT_PATH": ""}
    apps = {on: create_app({**settings, "METRICS_ENABLED": on}).wsgi_app for on in (True, False)}
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": args.path, "QUERY_STRING": "", "SERVER_NAME": "localhost",
               "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": "localhost", "REMOTE_ADDR": "127.0.0.1",
               "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(), "wsgi.errors": sys.stderr, "wsgi.version": (1, 0),
               "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False}  # fmt: skip
    statuses = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    def batch(app, n: int) -> float:
        started = time.perf_counter()
        for _ in range(n):
            b"".join(app(dict(environ), start_response))
        return (time.perf_counter() - started) / n * 1e6

    for app in apps.values():
        batch(app, 1000)  # warm: every later request is a hot-path hit
    if set(statuses) != {"200 OK"}:
        sys.exit(f"{args.path} answered {sorted(set(statuses))}")
    timings: dict[bool, list[float]] = {True: [], False: []}
    for i in range(args.batches):
        for on in (True, False) if i % 2 == 0 else (False, True):
            timings[on].append(batch(apps[on], args.requests))
    on, off = (sorted(timings[k])[len(timings[k]) // 2] for k in (True, False))
    print(f"warm hot-path hit of {args.path}, in process, multiprocess mode: metrics on {on:.1f} µs, off {off:.1f} µs "
          f"per request (medians of {args.batches} batches of {args.requests}): metrics add {on - off:.1f} µs")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
