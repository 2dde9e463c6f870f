"""`make load`: gunicorn on loopback under wrk for 60 s at 32 connections on a mixed URL list, warm then cold.

Loads the sample archive into a temporary SQLite store, starts gunicorn with deploy/gunicorn.conf.py (2 workers)
on a free 127.0.0.1 port, then runs two wrk phases, each with a Lua script that picks the URLs:

* warm: a fixed mix of items, lists, filters, search, the timeline and the feeds, all requested beforehand so
  every worker has them cached;
* cold: list and feed URLs with a `from` date that changes on every request (a new cache key: every request
  reaches the store).

Reports per phase: requests/s, p50/p99, non-2xx/3xx responses, socket errors, and every worker's RSS before
and after (growth must stay under 10 %). Prints a table, writes JSON to bench/results/load-<UTC>.json and exits
non-zero when a phase had a non-2xx/3xx response, a socket error, or a worker grew by 10 % or more.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.ingest.loader import load_archive  # noqa: E402
from bench.provenance import provenance  # noqa: E402
from bench.run import THREAD_ID_LUA, ensure_wrk, parse_wrk  # noqa: E402
from tests.live import Gunicorn, get, rss_kib  # noqa: E402

RESULTS = ROOT / "bench" / "results"
SEED = "minsk-sends-conflicting-signals-about-the-expanding-russian-military-presence"

WARM_LUA = """
paths = {%s}
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1])
end
"""

# Every wrk thread gets its own id (setup runs in the main state), so no two threads produce the same URL.
COLD_LUA = (
    THREAD_ID_LUA
    + """bases = {"/v1/articles?limit=10&from=", "/v1/issues?from=", "/v1/feed.atom?from=",
         "/v1/sections/security-issues/articles?from=", "/v1/articles?q=military&from="}
counter = 0
request = function()
  counter = counter + 1
  local n = counter * 16 + id
  local t = os.time({year = 1901, month = 1, day = 1}) + (n %% 40000) * 86400
  local base = bases[(math.floor(n / 40000) %% #bases) + 1]
  return wrk.format("GET", base .. os.date("!%%Y-%%m-%%d", t))
end
"""
)


def warm_paths(port: int) -> list[str]:
    issue = json.loads(get(port, "/v1/issues?limit=1")[2])["data"][0]["id"]
    return [
        "/v1",
        "/v1/issues",
        f"/v1/issues/{issue}",
        "/v1/issues/latest",
        "/v1/articles",
        "/v1/articles?limit=5&sort=oldest",
        f"/v1/articles/{SEED}",
        "/v1/articles?section=security-issues",
        "/v1/articles?trend=worse&lang=en",
        "/v1/articles?q=military",
        "/v1/sections",
        "/v1/sections/security-issues",
        "/v1/trends",
        "/v1/trends/worse/articles",
        "/v1/trends/timeline",
        "/v1/changes",
        "/v1/feed.atom",
        "/v1/feed.rss",
        "/v1/feed.json",
        "/v1/openapi.json",
    ]


def socket_errors(out: str) -> dict:
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return dict(zip(("connect", "read", "write", "timeout"), map(int, m.groups()), strict=True)) if m else {}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=60, help="seconds per phase (default 60)")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--archive", default=str(ROOT / "data" / "archive"))
    args = ap.parse_args(argv)
    wrk = ensure_wrk()
    tmp = Path(tempfile.mkdtemp(prefix="load-"))
    store = tmp / "store.sqlite"
    load_archive(args.archive, f"sqlite:///{store}")
    server = Gunicorn({"DATABASE_URL": f"sqlite:///{store}"}, workers=args.workers)
    phases = []
    try:
        paths = warm_paths(server.port)
        for _ in range(args.workers * 6):  # fill every worker's cache
            for path in paths:
                status = get(server.port, path)[0]
                if status != 200:
                    sys.exit(f"{path} answered {status} before the load")
        for name, lua in (("warm", WARM_LUA % ", ".join(f'"{p}"' for p in paths)), ("cold", COLD_LUA)):
            script = tmp / f"{name}.lua"
            script.write_text(lua)
            pids = sorted(server.worker_pids())
            before = {pid: rss_kib(pid) for pid in pids}
            cmd = [wrk, f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s", "--latency",
                   "-s", str(script), f"http://127.0.0.1:{server.port}"]  # fmt: skip
            print(f"  {name}: {' '.join(cmd)}", file=sys.stderr)
            started = time.monotonic()
            out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=args.duration + 60).stdout
            elapsed = time.monotonic() - started
            after_pids = sorted(server.worker_pids())
            after = {pid: rss_kib(pid) for pid in after_pids}
            growth = {pid: round((after.get(pid, 0) - before[pid]) / before[pid] * 100, 2) for pid in pids}
            requests = re.search(r"(\d+) requests in", out)
            row = {
                "phase": name,
                **parse_wrk(out),
                "requests": int(requests.group(1)) if requests else None,
                "socket_errors": socket_errors(out),
                "elapsed_s": round(elapsed, 1),
                "workers_restarted": pids != after_pids,
                "rss_kib_before": before,
                "rss_kib_after": after,
                "rss_growth_pct": growth,
                "wrk_output": out,
            }
            phases.append(row)
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    lines = [
        "| phase | requests | requests/s | p50 ms | p99 ms | non-2xx/3xx | socket errors | worker RSS growth |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    failed = False
    for row in phases:
        errs = sum(row["socket_errors"].values())
        worst = max(row["rss_growth_pct"].values())
        failed |= row["non_2xx_3xx"] > 0 or errs > 0 or worst >= 10 or row["workers_restarted"]
        lines.append(f"| {row['phase']} | {row['requests']} | {row['rps']:.0f} | {row['p50_ms']:.2f} | "
                     f"{row['p99_ms']:.2f} | {row['non_2xx_3xx']} | {errs} | "
                     + ", ".join(f"{g:+.1f} %" for g in row["rss_growth_pct"].values()) + " |")  # fmt: skip
    table = "\n".join(lines)
    print(table)
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    doc = {
        "when": stamp,
        "provenance": provenance(),
        "machine": {"nproc": os.cpu_count(), "cpu": cpu, "loadavg": os.getloadavg()},
        "settings": vars(args),
        "phases": phases,
        "table_markdown": table,
        "passed": not failed,
    }
    out_path = RESULTS / f"load-{stamp}.json"
    out_path.write_text(json.dumps(doc, indent=2))
    print(f"\nwritten {out_path.relative_to(ROOT)}; {'PASSED' if not failed else 'FAILED'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
