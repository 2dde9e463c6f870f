"""`make bench BENCH_ARGS=--swap`: the weekly swap under load, through nginx.

A new generation makes every cached URL cold at once: every response-cache key, hot-path entry and ETag derives
from the generation. This phase serves a many-URL mix through the shipped nginx in front of a fresh gunicorn and
swaps a new generation in mid-run (bench/generation.py: a copy of the live store under a new generation id,
swapped with the writer's own Target.swap), then compares the 60 s after the swap with the 60 s before it.

One wrk run carries the load from the warm-up through the steady window, the swap and the window after it, so the
swap happens under load and nothing restarts at the swap. wrk reports percentiles over a whole run only, so every
request is timed in its Lua script (LuaJIT's ffi, CLOCK_MONOTONIC, the clock of Python's time.monotonic) from the
moment it is written to the moment its response is complete, with its status and X-Cache-Status; one connection per
wrk thread, so a thread's requests alternate with their responses. A request belongs to the window its start falls
in: the steady window is the `--swap-seconds` before the swap, the measured one the `--swap-seconds` from it. A
request still unanswered when wrk stops counts as an error of its window.

nginx keeps a response for its s-maxage (300 s as shipped), so after a swap it would serve fresh copies of the old
generation, and the upstream would see the new generation only as entries expire over the next five minutes. The
worst case the issue asks about is every entry expiring at once: this gunicorn runs with CACHE_S_MAXAGE =
`--swap-s-maxage` (5 s), so within 5 s of the swap every entry is due, nginx revalidates it (If-None-Match with
the old ETag, which the new generation does not match: a full cold render upstream) while stale-while-revalidate
(60 s as shipped) serves the stale copy and `proxy_cache_background_update` does the fetch; proxy_cache_lock holds
concurrent misses of one URL to one upstream request. The steady window has the same setting (its revalidations
are 304s of the same generation).
"""

from __future__ import annotations

import concurrent.futures
import math
import os
import shutil
import subprocess
import time
from pathlib import Path

from bench.generation import NextGeneration

SWAP_LUA = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000000 + tonumber(ts.tv_nsec) / 1000
end

local threads, next_id = {}, 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local paths, n = {}, 0
for line in io.lines("__FILE__") do
  n = n + 1
  paths[n] = line
end
local i, out, started, current, previous = nil, nil, nil, 0, "-"
pending = -1
request = function()
  if i == nil then
    i = id or 0
    out = io.open("__OUT__." .. i, "w")
    out:setvbuf("full", 1048576)
  end
  local k = (i % n) + 1
  i = i + __THREADS__
  current = k
  started = now_us()
  pending = started
  return wrk.format("GET", paths[k])
end
response = function(status, headers, body)
  local cache = headers["X-Cache-Status"] or "-"
  out:write(string.format("%.0f %.0f %d %s %d %s\n", started, now_us() - started, status, cache, current, previous))
  previous = cache
  pending = -1
end
done = function(summary, latency, requests)
  local f = io.open("__OUT__.done", "w")
  for _, t in ipairs(threads) do
    f:write(string.format("pending %.0f\n", t:get("pending")))
  end
  local e = summary.errors
  f:write(string.format("requests %d\nconnect %d\nread %d\nwrite %d\nstatus %d\ntimeout %d\n", summary.requests,
                        e.connect, e.read, e.write, e.status, e.timeout))
  f:close()
end
"""


def swap_urls(plan, warm_paths: list[str]) -> list[str]:
    """A realistic mix of distinct, repeatedly read URLs: the warm URL of every scenario, every sampled issue
    item (up to 100), every sampled article item (up to 500), each section's first page, the issue list, the
    sections and trends, and the feeds."""
    sections = plan.client.get("/v1/sections").get_json().get("data", [])
    urls = [
        *warm_paths,
        *(f"/v1/issues/{i}" for i in plan.issue_ids),
        *(f"/v1/articles/{s}" for s in plan.slugs),
        *(f"/v1/articles?section={s['slug']}" for s in sections if isinstance(s, dict) and s.get("slug")),
        "/v1/issues",
        "/v1/sections",
        "/v1/trends",
        "/v1/feed.atom",
        "/v1/feed.json",
    ]
    return list(dict.fromkeys(urls))


def percentile(ordered: list[float], q: float) -> float | None:
    """The q-quantile of sorted values (nearest rank, as wrk reports them)."""
    if not ordered:
        return None
    k = max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))
    return ordered[k]


def window(records: list[tuple], start_us: float, end_us: float, unfinished: int, urls: list[str]) -> dict:
    """The figures of the requests that started in [start_us, end_us): latency percentiles, statuses, nginx cache
    statuses, p99 by the cache status of the request and by that of the previous response on its connection (a
    background update holds its client connection until the upstream answers), and the slowest requests."""
    inside = [r for r in records if start_us <= r[0] < end_us]
    lat = sorted(r[1] / 1000 for r in inside)
    statuses: dict[str, int] = {}
    cache: dict[str, int] = {}
    for r in inside:
        statuses[str(r[2])] = statuses.get(str(r[2]), 0) + 1
        cache[r[3]] = cache.get(r[3], 0) + 1
    seconds = (end_us - start_us) / 1e6
    return {
        "seconds": round(seconds, 2),
        "requests": len(inside),
        "rps": round(len(inside) / seconds, 1) if seconds else None,
        "p50_ms": _round(percentile(lat, 0.50)),
        "p99_ms": _round(percentile(lat, 0.99)),
        "p999_ms": _round(percentile(lat, 0.999)),
        "max_ms": _round(lat[-1] if lat else None),
        "non_2xx": sum(n for s, n in statuses.items() if not 200 <= int(s) < 300),
        "unfinished": unfinished,
        "statuses": statuses,
        "x_cache_status": dict(sorted(cache.items(), key=lambda kv: -kv[1])),
        "p99_ms_by_x_cache_status": _p99_by(inside, 3),
        "p99_ms_by_previous_x_cache_status": _p99_by(inside, 5),
        "miss_paths": _top_paths([r for r in inside if r[3] == "MISS"], urls),
        "slowest": [
            {
                "ms": round(r[1] / 1000, 1),
                "path": urls[r[4] - 1] if 0 < r[4] <= len(urls) else None,
                "x_cache_status": r[3],
                "previous_on_connection": r[5],
            }
            for r in sorted(inside, key=lambda r: -r[1])[:10]
        ],  # fmt: skip
    }


def _top_paths(records: list[tuple], urls: list[str], n: int = 5) -> dict:
    """The URLs most of `records` asked for, with their counts."""
    counts: dict[str, int] = {}
    for r in records:
        path = urls[r[4] - 1] if 0 < r[4] <= len(urls) else "?"
        counts[path] = counts.get(path, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1])[:n])


def _p99_by(records: list[tuple], field: int) -> dict:
    groups: dict[str, list[float]] = {}
    for r in records:
        groups.setdefault(r[field], []).append(r[1] / 1000)
    return {k: {"requests": len(v), "p99_ms": _round(percentile(sorted(v), 0.99))} for k, v in sorted(groups.items())}


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 2)


def timeline(records: list[tuple], start_us: float, seconds: float, step: float = 5.0) -> list[dict]:
    """p99 and requests per `step` seconds from `start_us` (how the post-swap burst decays)."""
    out = []
    t = 0.0
    while t < seconds - 1e-9:
        a, b = start_us + t * 1e6, start_us + min(seconds, t + step) * 1e6
        lat = sorted(r[1] / 1000 for r in records if a <= r[0] < b)
        out.append({"from_s": t, "requests": len(lat), "p99_ms": _round(percentile(lat, 0.99)),
                    "max_ms": _round(lat[-1] if lat else None)})  # fmt: skip
        t += step
    return out


def read_records(out: Path, threads: int, since_us: float = 0.0) -> tuple[list[tuple], int]:
    """The requests the Lua script recorded that started from `since_us` on (the warm-up's are only counted, to
    keep a long run's list small), and how many it recorded in all."""
    records, total = [], 0
    for k in range(threads):
        f = Path(f"{out}.{k}")
        if not f.exists():
            continue
        for line in f.read_text().splitlines():
            parts = line.split(" ")
            if len(parts) == 6:  # start µs, latency µs, status, X-Cache-Status, URL line, previous X-Cache-Status
                total += 1
                if float(parts[0]) >= since_us:
                    records.append((float(parts[0]), float(parts[1]), int(parts[2]), parts[3], int(parts[4]), parts[5]))
    return records, total


def read_done(out: Path) -> tuple[list[float], dict]:
    pending, totals = [], {}
    for line in Path(f"{out}.done").read_text().splitlines():
        name, value = line.split(" ", 1)
        if name == "pending":
            if float(value) >= 0:
                pending.append(float(value))
        else:
            totals[name] = int(value)
    return pending, totals


def private_store(store: Path) -> tuple[Path, Path]:
    """A private name for the live SQLite store of the swap (a hard link to the cached store where the file system
    allows, else a copy): the swap replaces that name, never the cached file. Returns (folder, store path)."""
    parent = store.parent.parent
    for old in parent.glob("swap-*"):  # left by a killed run
        try:
            os.kill(int(old.name.split("-", 1)[1]), 0)
        except (ValueError, ProcessLookupError):
            shutil.rmtree(old, ignore_errors=True)
        except PermissionError:
            pass
    folder = parent / f"swap-{os.getpid()}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    live = folder / "store.sqlite"
    try:
        os.link(store, live)
    except OSError:
        shutil.copyfile(store, live)
    return folder, live


def run_swap(binary: str, bench, plan, scen: list[dict], tmp: Path, env: dict, args, store: Path | None,
             services) -> dict:  # fmt: skip
    """The swap phase of one size on one backend (see the module's docstring)."""
    from bench.run import Nginx, Server, fetch, say

    seconds, warm, tail = args.swap_seconds, args.swap_warm, 5
    folder = None
    if services is None:
        folder, live = private_store(store)
        url, schema = f"sqlite:///{live}", "bulletin"
        senv = {**env, "DATABASE_URL": url}
    else:
        url, schema = services.db_url, services.schema
        senv = dict(env)
    senv["CACHE_S_MAXAGE"] = str(args.swap_s_maxage)
    urls = swap_urls(plan, [s["warm"] for s in scen])
    nxt = NextGeneration(url, schema)
    server = ng = proc = None
    try:
        say(
            f"  swap: preparing a second generation ({'a copy of the file' if services is None else 'a copy of the schema'}) ..."
        )
        nxt.prepare()
        say(f"  swap: prepared in {nxt.prepare_s} s ({nxt.articles} articles, generation {nxt.new_id[:12]})")
        server = Server(senv, args.workers, tmp / "gunicorn-swap.log")
        ng = Nginx(binary, tmp / "nginx-swap", server.port)
        front = f"http://127.0.0.1:{ng.port}"
        probe = "/v1/articles?limit=1"
        before = fetch(server.base + probe)[2]
        # Every URL once through nginx before the load (a cold render each), so the warm-up only has to settle.
        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            statuses = list(pool.map(lambda u: fetch(front + u)[0], urls))
        prewarm_s = round(time.perf_counter() - started, 1)
        bad = [(u, st) for u, st in zip(urls, statuses, strict=True) if st != 200]
        if bad:
            raise RuntimeError(f"swap: {len(bad)} URLs of the mix do not answer 200 through nginx, e.g. {bad[:3]}")
        data = tmp / "swap-urls.txt"
        data.write_text("\n".join(urls) + "\n")
        out = tmp / "swap-records"
        threads = args.connections  # one connection per thread: each request is timed from write to response
        script = tmp / "swap.lua"
        script.write_text(SWAP_LUA.replace("__FILE__", str(data)).replace("__OUT__", str(out))
                          .replace("__THREADS__", str(threads)))  # fmt: skip
        duration = warm + 2 * seconds + tail
        cmd = [bench.wrk, f"-t{threads}", f"-c{args.connections}", f"-d{duration}s", "--timeout", "10s",
               "-s", str(script), front + "/"]  # fmt: skip
        say(f"  swap: {len(urls)} URLs through nginx (s-maxage {args.swap_s_maxage} s), {warm} s warm-up, "
            f"{seconds} s steady, swap, {seconds} s after it ...")  # fmt: skip
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        begun = time.monotonic()
        time.sleep(max(0.0, begun + warm + seconds - time.monotonic()))
        swap_at = time.monotonic()
        nxt.swap()
        say(f"  swap: swapped under load ({nxt.swap_s * 1000:.1f} ms), measuring {seconds} s ...")
        stdout, stderr = proc.communicate(timeout=duration + 60)
        if proc.returncode != 0:
            raise RuntimeError(f"wrk failed: {stderr.strip()[-500:]}")
        proc = None
        after_direct = fetch(server.base + probe)[2]
        after_front = fetch(front + probe)[2]
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
        if ng is not None:
            ng.stop()
        if server is not None:
            server.stop()
        if nxt._locked:
            nxt.discard()
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    import json

    def generation(body: bytes) -> str | None:
        try:
            return json.loads(body)["meta"]["generation"]
        except (ValueError, KeyError, TypeError):
            return None

    swap_us = swap_at * 1e6
    begin, end = swap_us - seconds * 1e6, swap_us + seconds * 1e6
    records, recorded = read_records(out, threads, begin)
    pending, totals = read_done(out)
    steady = window(records, begin, swap_us, sum(1 for p in pending if begin <= p < swap_us), urls)
    after = window(records, swap_us, end, sum(1 for p in pending if swap_us <= p < end), urls)
    socket_errors = {k: totals.get(k, 0) for k in ("connect", "read", "write", "timeout")}
    gens = {"before": generation(before), "after_direct": generation(after_direct),
            "after_nginx": generation(after_front), "new": nxt.new_id[:20]}  # fmt: skip
    seen = bool(
        gens["after_nginx"] and gens["after_nginx"].startswith(gens["new"]) and gens["before"] != gens["after_nginx"]
    )
    errors = after["non_2xx"] + after["unfinished"] + sum(socket_errors.values())
    met = after["p99_ms"] is not None and after["p99_ms"] < 100 and errors == 0 and seen
    result = {
        "urls": len(urls),
        "url_sample": urls[:12],
        "s_maxage": args.swap_s_maxage,
        "warm_s": warm,
        "window_s": seconds,
        "connections": args.connections,
        "wrk_threads": threads,
        "prepare_s": nxt.prepare_s,
        "prewarm_s": prewarm_s,
        "swap_ms": round(nxt.swap_s * 1000, 2),
        "generations": gens,
        "new_generation_served_by_nginx": seen,
        "steady": steady,
        "after_swap": after,
        "after_swap_timeline": timeline(records, swap_us, seconds),
        "socket_errors_whole_run": socket_errors,
        "wrk_requests_whole_run": totals.get("requests"),
        "recorded_requests_whole_run": recorded,
        # Every response wrk counted was timed by the script (else the windows miss some).
        "records_complete": recorded == totals.get("requests"),
        "target": "p99 < 100 ms and zero errors in the 60 s after the swap",
        "met": met,
    }
    if steady["x_cache_status"].get("MISS"):
        result["warning"] = "nginx missed in the steady window: the warm-up did not cache every URL (--swap-warm)"
    result["verdict"] = "met" if met else "NOT met" + (
        "" if seen else " (nginx did not serve the new generation)")  # fmt: skip
    say(f"  swap: steady p99 {steady['p99_ms']} ms ({steady['requests']} requests); after the swap p99 "
        f"{after['p99_ms']} ms, max {after['max_ms']} ms ({after['requests']} requests, {after['non_2xx']} non-2xx, "
        f"{after['unfinished']} unfinished); socket errors {socket_errors}: {result['verdict']}")  # fmt: skip
    return result


def swap_table(s: dict) -> str:
    """The printed table of the swap phase."""
    if "error" in s:
        return f"\nswap under load through nginx: failed ({s['error']}): {s['verdict']}"

    def row(name: str, w: dict) -> str:
        return (f"| {name} | {w['requests']} | {w['rps']:.0f} | {w['p50_ms']} | {w['p99_ms']} | {w['max_ms']} | "
                f"{w['non_2xx'] + w['unfinished']} | "
                + ", ".join(f"{k} {v}" for k, v in w["x_cache_status"].items()) + " |")  # fmt: skip

    lines = [
        f"\nswap under load through nginx: {s['urls']} URLs, {s['connections']} connections, s-maxage {s['s_maxage']} s;"
        f" second generation prepared in {s['prepare_s']} s, swapped in {s['swap_ms']} ms\n",
        "| window | requests | req/s | p50 ms | p99 ms | max ms | non-2xx + unfinished | X-Cache-Status |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        row(f"steady {s['window_s']} s before the swap (reference)", s["steady"]),
        row(f"{s['window_s']} s from the swap", s["after_swap"]),
        "",
        "p99 ms by the previous response's X-Cache-Status on the connection, after the swap: "
        + ", ".join(
            f"{k} {v['p99_ms']} ({v['requests']})"
            for k, v in s["after_swap"]["p99_ms_by_previous_x_cache_status"].items()
        ),
        "after the swap, per 5 s: "
        + ", ".join(f"{t['from_s']:.0f}s p99 {t['p99_ms']}" for t in s["after_swap_timeline"]),
        f"socket errors (whole run): {s['socket_errors_whole_run']}; generation {s['generations']['before']} → "
        f"{s['generations']['after_nginx']} through nginx",
        f"target {s['target']}: {s['verdict']}" + (f" (warning: {s['warning']})" if s.get("warning") else ""),
    ]
    return "\n".join(lines)
