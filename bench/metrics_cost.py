"""`python -m bench.metrics_cost`: what metrics add to a warm hot-path hit, in process, without HTTP or wrk noise.

Two apps on the sample archive (SQLite), metrics on and off, both in Prometheus multiprocess mode as under gunicorn
(a temporary PROMETHEUS_MULTIPROC_DIR); the WSGI app is called directly for `--path`, in alternating batches.
Prints the median microseconds per request of each and their difference. `bench.run --metrics-cost` measures the
same over HTTP with wrk, where a shared machine's noise is larger than the difference.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def measure(apps: dict, batch, batches: int, requests: int) -> dict:
    """Adjacent on/off batches, the order swapped every pair (the machine drifts): the figure is the median of the
    pairs' ratios, each pair measured within a few milliseconds of itself."""
    pairs, on_us, off_us = [], [], []
    for i in range(batches):
        order = (True, False) if i % 2 == 0 else (False, True)
        got = {on: batch(apps[on], requests) for on in order}
        on_us.append(got[True])
        off_us.append(got[False])
        pairs.append(got[True] / got[False])
    return {"on_us": _quantile(on_us, 0.5), "off_us": _quantile(off_us, 0.5), "ratio": _quantile(pairs, 0.5),
            "ratio_q1": _quantile(pairs, 0.25), "ratio_q3": _quantile(pairs, 0.75), "batches": batches,
            "requests_per_batch": requests}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.metrics_cost", description=__doc__.split("\n\n")[0])
    ap.add_argument("--path", default="/v1/issues", help="URL path requested (default /v1/issues)")
    ap.add_argument("--batches", type=int, default=60, help="adjacent on/off batch pairs (default 60)")
    ap.add_argument("--requests", type=int, default=1000, help="requests per batch (default 1000)")
    ap.add_argument("--json", help="also write the figures to this JSON file")
    ap.add_argument("--store", help="an existing SQLite store file (default: the sample archive, loaded anew)")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="metrics-cost-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(tmp / "multiproc")  # before prometheus_client is imported
    (tmp / "multiproc").mkdir()
    sys.path.insert(0, str(ROOT))
    from api.app import create_app
    from api.ingest.loader import load_archive

    if args.store:
        store = Path(args.store).resolve()
    else:
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
        started = time.process_time_ns()  # CPU time of the process (its flusher thread too), not of others
        for _ in range(n):
            b"".join(app(dict(environ), start_response))
        return (time.process_time_ns() - started) / n / 1e3

    for app in apps.values():
        batch(app, 1000)  # warm: every later request is a hot-path hit
    if set(statuses) != {"200 OK"}:
        sys.exit(f"{args.path} answered {sorted(set(statuses))}")
    result = measure(apps, batch, args.batches, args.requests)
    print(f"warm hot-path hit of {args.path}, in process, multiprocess mode: metrics on {result['on_us']:.2f} µs, "
          f"off {result['off_us']:.2f} µs per request (CPU time, medians of {args.batches} adjacent batch pairs of "
          f"{args.requests}); on/off ratio {result['ratio']:.3f} (interquartile {result['ratio_q1']:.3f}–"
          f"{result['ratio_q3']:.3f}), metrics add {result['on_us'] - result['off_us']:.2f} µs")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps({"path": args.path, **result}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
