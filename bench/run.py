"""`make bench`: load the sample archive, start gunicorn on loopback, drive it with wrk, print and save a table.

Bounded: one warm-up, then each scenario runs for --duration seconds (default 5) with -t2 -c16; the whole
run stays under two minutes. gunicorn is always stopped on exit. wrk is installed with apt if missing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

COLD_LIST_LUA = """
-- cache-cold list pages: a valid but irrelevant `from` date that changes every request (new cache key)
counter = 0
request = function()
  counter = counter + 1
  local day = counter % 28 + 1
  local month = math.floor(counter / 28) % 12 + 1
  local year = 1900 + math.floor(counter / 336) % 120
  local path = string.format("/v1/articles?from=%04d-%02d-%02d", year, month, day)
  return wrk.format("GET", path)
end
"""

REVALIDATE_LUA = """
-- 304 revalidation: send the ETag of a first response as If-None-Match
wrk.headers["If-None-Match"] = "%s"
"""


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk not found: installing it with apt-get", file=sys.stderr)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
        found = shutil.which("wrk")
    if not found:
        sys.exit("wrk is required: install it (e.g. `apt-get install wrk`) and rerun `make bench`")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_wrk(out: str) -> dict:
    def ms(value: str) -> float:
        m = re.match(r"([\d.]+)(us|ms|s)", value)
        num, unit = float(m.group(1)), m.group(2)
        return num / 1000 if unit == "us" else num * 1000 if unit == "s" else num

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {
        "rps": rps,
        "p50_ms": p50,
        "p99_ms": p99,
        "non_2xx_3xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(0) if errors else None,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--duration", type=int, default=5, help="seconds per scenario (default 5)")
    ap.add_argument("--ref-duration", type=int, default=3, help="seconds of the reference run after each scenario")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--archive", default=str(ROOT / "data" / "archive"))
    args = ap.parse_args(argv)
    wrk = ensure_wrk()

    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"sqlite:///{tmp / 'store.sqlite'}",
        BENCH_REFERENCE="1",
        WEB_CONCURRENCY=str(args.workers),
        RATELIMIT_ENABLED="0",
        PYTHONPATH=str(ROOT),
    )
    env.pop("CACHE_REDIS_URL", None)
    os.environ.update({k: env[k] for k in ("DATABASE_URL",)})
    sys.path.insert(0, str(ROOT))
    from api.app import create_app
    from api.store.loader import load_archive
    from api.store.vocabulary import Vocabulary

    app = create_app()
    cfg = app.config
    report = load_archive(args.archive, cfg["DATABASE_URL"], schema=cfg["DATABASE_SCHEMA"],
                          vocabulary=Vocabulary.load(cfg["VOCABULARY_PATH"]))  # fmt: skip
    client = app.test_client()
    issue_id = client.get("/v1/issues").get_json()["data"][0]["id"]
    article_slug = client.get("/v1/articles?limit=1").get_json()["data"][0]["slug"]
    first = client.get("/v1/articles").get_json()["data"][0]
    section = first.get("section", {}).get("slug") if isinstance(first.get("section"), dict) else first.get("section")
    issue_body = client.get(f"/v1/issues/{issue_id}").get_data()
    env["BENCH_REFERENCE_BYTES"] = str(len(issue_body))

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    gunicorn = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
                "-b", f"127.0.0.1:{port}", "-w", str(args.workers), "bench.reference:app"]  # fmt: skip
    proc = subprocess.Popen(gunicorn, env=env, cwd=ROOT, start_new_session=True)
    results = []
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    sys.exit("gunicorn did not start")
                time.sleep(0.2)

        filtered = f"/v1/articles?section={section}&limit=10" if section else "/v1/articles?lang=en&limit=10"
        scenarios = [
            ("reference (prepared bytes)", "/__bench/reference", None, None),
            ("issue item, warm", f"/v1/issues/{issue_id}", None, "warm"),
            ("article item, warm", f"/v1/articles/{article_slug}", None, "warm"),
            ("first list page, warm", "/v1/articles", None, "warm"),
            ("filtered list, warm", filtered, None, "warm"),
            ("feed (Atom), warm", "/v1/feed.atom", None, "warm"),
            ("304 revalidation, warm", "/v1/articles", "revalidate", "304"),
            ("list page, cold (cache miss)", "/v1/articles", "cold", None),
        ]
        for name, path, script, target in scenarios:
            lua = None
            if script == "cold":
                lua = COLD_LIST_LUA
            elif script == "revalidate":
                etag = urllib.request.urlopen(base + path).headers["ETag"]
                try:
                    urllib.request.urlopen(urllib.request.Request(base + path, headers={"If-None-Match": etag}))
                    sys.exit("revalidation scenario: the server did not answer 304 to If-None-Match")
                except urllib.error.HTTPError as exc:
                    if exc.code != 304:
                        raise
                lua = REVALIDATE_LUA % etag.replace('"', '\\"')
            for _ in range(args.workers * 8):  # warm every worker's cache
                urllib.request.urlopen(base + path).read()
            cmd = [wrk, f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s", "--latency"]
            if lua:
                lua_path = tmp / f"{script}.lua"
                lua_path.write_text(lua)
                cmd += ["-s", str(lua_path)]
            out = subprocess.run(cmd + [base + path], capture_output=True, text=True, check=True, timeout=60).stdout
            row = {"scenario": name, "path": path, "target": target, **parse_wrk(out)}
            if results:  # the machine is shared and noisy: measure the reference again right after each scenario
                ref_cmd = [wrk, f"-t{args.threads}", f"-c{args.connections}", f"-d{args.ref_duration}s"]
                ref_out = subprocess.run(ref_cmd + [base + "/__bench/reference"], capture_output=True, text=True,
                                         check=True, timeout=60).stdout  # fmt: skip
                row["adjacent_reference_rps"] = float(re.search(r"Requests/sec:\s+([\d.]+)", ref_out).group(1))
            results.append(row)
            print(f"  {name}: {row['rps']:.0f} req/s", file=sys.stderr)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)

    ref = results[0]["rps"]
    results[0]["adjacent_reference_rps"] = ref
    goals = {"warm": 0.90, "304": 0.95}
    lines = [
        "| scenario | requests/s | p50 ms | p99 ms | reference req/s right after | ratio | target | met |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for row in results:
        row["ratio"] = round(row["rps"] / row["adjacent_reference_rps"], 3)
        goal = goals.get(row["target"])
        row["goal_ratio"] = goal
        row["met"] = None if goal is None else row["ratio"] >= goal
        met = "—" if goal is None else ("met" if row["met"] else "not met")
        lines.append(f"| {row['scenario']} | {row['rps']:.0f} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f} | "
                     f"{row['adjacent_reference_rps']:.0f} | "
                     f"{row['ratio']:.2f}× | {f'≥ {goal:.2f}×' if goal else '—'} | {met} |")  # fmt: skip
    table = "\n".join(lines)
    print(table)
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    doc = {
        "when": stamp,
        "machine": {"nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version()},
        "settings": {
            "workers": args.workers,
            "threads": args.threads,
            "connections": args.connections,
            "duration_s": args.duration,
            "archive": args.archive,
            "articles_loaded": report.as_dict().get("articles_loaded"),
        },  # fmt: skip
        "results": results,
        "table_markdown": table,
    }
    out_path = RESULTS / f"{stamp}.json"
    out_path.write_text(json.dumps(doc, indent=2, ensure_ascii=False))
    print(f"\nwritten {out_path.relative_to(ROOT)}  (machine: {os.cpu_count()} cpu, {cpu})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
