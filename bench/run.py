"""`make bench`: synthetic archive → real loader → gunicorn on loopback → wrk → table + JSON, per backend.

For each size (`--sizes`, default 1000 articles; 100000 and 1000000 are the large sizes) and backend (`--backends`:
sqlite, postgresql = PostgreSQL + Redis on private servers, see `Services`):

1. the synthetic archive of that size is generated with `bench.generate` (seed 1) into `.bench/archives/<N>`, or
   reused (the same cache as `make bench-loader`);
2. it is loaded with the real loader (`api.ingest.loader.load_archive`) into `.bench/stores/<N>-<code>/`, where
   `<code>` hashes the loader/model code, the vocabulary and the archive manifest, so a built store is reused
   until that code changes (the API opens SQLite read-only and immutable, so serving the cached file is safe);
3. gunicorn (`deploy/gunicorn.conf.py`, 2 sync workers) serves it on a free 127.0.0.1 port through
   `bench.reference:app` (the product app plus `/__bench/reference`, prepared bytes of the issue item's size);
4. wrk (`-t2 -c16 -d5s --latency`) runs every scenario cache-warm and cache-cold, and the reference again right
   after each scenario (the machine is shared: every ratio is to the adjacent reference);
5. when nginx is installed: nginx with the shipped `deploy/nginx.conf` (ports, upstream and cache directory
   substituted) in front of the same gunicorn, hot proxy_cache responses against nginx serving the same bytes as
   a static file, and a check that proxy_cache honours our Cache-Control and stale-if-error;
6. a 60-second warm run over every warm URL, sampling each gunicorn worker's RSS from /proc.
7. with --swap and nginx: a new generation swapped in under load through nginx, the 60 s after the swap against
   the 60 s before it (bench/swap.py).

Prints the table, the time each phase took, and writes JSON to bench/results/<UTC>-<N>.json. Loopback only;
every wrk run is bounded by -d and a subprocess timeout; gunicorn and nginx are always stopped.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import hashlib
import itertools
import json
import os
import platform
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench.provenance import provenance
from tests.live import stop_group

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
CACHE = ROOT / ".bench"
SEED = 1
COLD_URLS = 60000  # distinct cold URLs per scenario: more than any cold scenario completes in its run

# The URL list of a scenario, one `path<TAB>etag` per line (etag empty: none sent). Every wrk thread gets its own
# id (setup runs in the main Lua state) and walks the list with a stride of the thread count, so no two requests
# of one run use the same line until the list is exhausted.
THREAD_ID_LUA = """
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end
"""
LIST_LUA = (
    THREAD_ID_LUA
    + """paths, etags, n = {}, {}, 0
for line in io.lines("%(file)s") do
  local p, e = line:match("^([^\\t]*)\\t?(.*)$")
  n = n + 1
  paths[n] = p
  etags[n] = e
end
local i = nil
request = function()
  if i == nil then i = id or 0 end
  local k = (i %% n) + 1
  i = i + %(threads)d
  if etags[k] ~= "" then
    return wrk.format("GET", paths[k], {["If-None-Match"] = etags[k]})
  end
  return wrk.format("GET", paths[k])
end
"""
)


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


def ensure_nginx() -> str | None:
    found = shutil.which("nginx") or (Path("/usr/sbin/nginx").exists() and "/usr/sbin/nginx") or None
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("nginx not found: installing it with apt-get (its system service is not used)", file=sys.stderr)
        done = subprocess.run(["apt-get", "install", "-y", "-qq", "nginx-light"], check=False)
        if done.returncode != 0:
            subprocess.run(["apt-get", "install", "-y", "-qq", "nginx"], check=False)
        # Debian starts the packaged service on port 80 when it can; this bench never uses it.
        subprocess.run(["service", "nginx", "stop"], check=False, capture_output=True)
        found = shutil.which("nginx") or (Path("/usr/sbin/nginx").exists() and "/usr/sbin/nginx") or None
    if not found:
        print("nginx is not installed: the nginx scenarios are skipped", file=sys.stderr)
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_wrk(out: str) -> dict:
    def ms(value: str) -> float:
        m = re.match(r"([\d.]+)(us|ms|s|m)", value)
        num, unit = float(m.group(1)), m.group(2)
        return {"us": num / 1000, "ms": num, "s": num * 1000, "m": num * 60000}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"\s50%\s+(\S+)", out)
    p99 = re.search(r"\s99%\s+(\S+)", out)
    total = re.search(r"(\d+) requests in", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {
        "rps": rps,
        "requests": int(total.group(1)) if total else None,
        "p50_ms": ms(p50.group(1)) if p50 else None,
        "p99_ms": ms(p99.group(1)) if p99 else None,
        "non_2xx_3xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(0) if errors else None,
    }


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- archive and store


def archive(size: int) -> tuple[Path, dict, float]:
    """The cached synthetic archive of `size` articles, its manifest and the seconds spent generating it now."""
    from bench.loader import archive as cached_archive

    started = time.perf_counter()
    fresh = not (CACHE / "archives" / str(size) / ".manifest.json").exists()
    path, manifest = cached_archive(size)
    return path, manifest, (time.perf_counter() - started) if fresh else 0.0


def code_hash(manifest: dict) -> str:
    """What a built store depends on: the loader and model code, the vocabulary, the archive."""
    h = hashlib.sha256()
    # queries.py and db.py only read a store (the loader calls queries.public_articles for its report's count).
    reading = {"queries.py", "db.py"}
    for f in [*sorted(p for p in (ROOT / "api" / "store").glob("*.py") if p.name not in reading),
              *sorted((ROOT / "api" / "ingest").glob("*.py")), ROOT / "data" / "vocabulary.yaml"]:  # fmt: skip
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    h.update(json.dumps(manifest, sort_keys=True).encode())
    return h.hexdigest()[:12]


def built_store(size: int, path: Path, manifest: dict) -> tuple[Path, float, bool]:
    """The store of `size` built by the real loader (reused when the code is unchanged); seconds of this load."""
    from api.ingest.loader import load_archive
    from api.ingest.vocabulary import Vocabulary

    folder = CACHE / "stores" / f"{size}-{code_hash(manifest)}"
    store = folder / "store.sqlite"
    done = folder / "loaded.json"
    if done.exists() and store.exists():
        return store, json.loads(done.read_text())["seconds"], True
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for old in (CACHE / "stores").glob(f"{size}-*"):  # stores of older code are of no further use
        if old != folder:
            shutil.rmtree(old, ignore_errors=True)
    say(f"loading {size} articles into {store.relative_to(ROOT)} with the real loader ...")
    started = time.perf_counter()
    report = load_archive(path, f"sqlite:///{store}", vocabulary=Vocabulary.load(ROOT / "data" / "vocabulary.yaml"))
    seconds = time.perf_counter() - started
    if report.articles_loaded != manifest["articles"] or report.rejected:
        sys.exit(f"the load of {path} does not match its manifest ({report.articles_loaded} articles loaded)")
    done.write_text(json.dumps({"seconds": seconds, "articles_loaded": report.articles_loaded}) + "\n")
    say(f"  loaded in {seconds:.0f} s")
    return store, seconds, False


# --------------------------------------------------------------------------- URLs of the scenarios


def cold_dates(n: int) -> list[dt.date]:
    """Valid `from` dates long before the archive (it starts in 2001): a new cache key each, the same articles."""
    start = dt.date(1800, 1, 1)
    return [start + dt.timedelta(days=i) for i in range(n)]


def field_orders(names: tuple[str, ...], n: int, seed: int) -> list[str]:
    """`n` distinct orders of the full field list: the same response, a new cache key each (the key holds the
    raw query)."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out = []
    while len(out) < n:
        order = list(names)
        rng.shuffle(order)
        joined = ",".join(order)
        if joined not in seen:
            seen.add(joined)
            out.append(joined)
    return out


class Plan:
    """Everything the scenarios need from the store: items, a section, a search word and the deepest cursor."""

    def __init__(self, app, limit: int = 20):
        from api import clock
        from api.pagination import _cursor, fingerprint, jsonable_filters
        from api.resources.articles import article_filters
        from api.store import queries

        self.client = app.test_client()
        get = self.client.get
        issues = get("/v1/issues?limit=100").get_json()
        self.issue_ids = [i["id"] for i in issues["data"]]
        slugs = []
        url = "/v1/articles?limit=100&fields=slug"
        for _ in range(5):  # up to 500 article slugs, by cursor
            page = get(url).get_json()
            slugs += [a["slug"] for a in page["data"]]
            nxt = page["links"].get("next")
            if not nxt:
                break
            url = "/v1/articles?" + nxt.split("?", 1)[1]
        self.slugs = slugs
        first = get("/v1/articles?limit=1").get_json()
        self.total = first["meta"]["total"]
        art = first["data"][0]
        section = art.get("section")
        self.section = section.get("slug") if isinstance(section, dict) else section
        self.search = None
        for word in ("pressure", "government", "minsk", "economy"):
            found = get(f"/v1/articles?q={word}&limit=1").get_json()
            if found["meta"]["total"]:
                self.search, self.search_total = word, found["meta"]["total"]
                break
        if self.search is None:  # a word of the newest article's title
            self.search = re.findall(r"\w{4,}", art["title"])[0].lower()
            self.search_total = get(f"/v1/articles?q={self.search}&limit=1").get_json()["meta"]["total"]

        # The deepest cursor page: the last page of /v1/articles (newest first) is the `limit` oldest articles,
        # reached by a cursor just after the (limit+1)-th oldest one. The cursor is built exactly as the API
        # builds its own (api.pagination), once per filter set (a cursor carries its filters' fingerprint).
        order = queries.ARTICLE_ORDERS["newest"]
        store = app.extensions["store"]
        generation = store.current()
        now = clock.now()
        pivots: dict = {}

        def pivot(args: dict):
            """The (limit+1)-th oldest article under these filters (cached per filter set)."""
            key = repr(sorted(article_filters(args).items()))
            if key not in pivots:
                with store.session(generation) as session:
                    stmt = queries.filter_articles(queries.public_articles(now), article_filters(args))
                    stmt = stmt.order_by(*order.clauses(reverse=True)).offset(limit).limit(1)
                    pivots[key] = session.scalars(stmt).first()
            return pivots[key]

        def cursor(args: dict) -> str | None:
            """The last page's cursor under the filters `args`."""
            item = pivot(args)
            if item is None:
                return None
            fp = fingerprint({"order": order.name, **jsonable_filters(article_filters(args))})
            return _cursor(order, item, fp, False, app.extensions["signer"])

        self.pivot = pivot({})
        self.cursor = cursor
        self.limit = limit

    def check_deepest(self, path: str, total: int) -> None:
        body = self.client.get(path).get_json()
        if "data" not in body or len(body["data"]) != min(self.limit, total) or body["links"].get("next"):
            sys.exit(f"deepest cursor page {path}: not the last full page ({str(body)[:300]})")


def scenarios(plan: Plan, cold_n: int) -> list[dict]:
    """Every scenario: name, warm path, and cold URL list (distinct keys, so each request misses the cache)."""
    from schemas.args import ARTICLE_FIELDS, ARTICLE_ITEM_FIELDS

    dates = cold_dates(cold_n)
    issue_id, slug = plan.issue_ids[0], plan.slugs[0]
    # ARTICLE_ITEM_FIELDS has more names than `fields` accepts (20); requested_slug only appears on alias requests.
    item_names = tuple(dict.fromkeys(n for n in ARTICLE_ITEM_FIELDS if n != "requested_slug"))[:20]
    item_fields = field_orders(item_names, max(1, cold_n // max(1, len(plan.slugs)) + 1), 2)
    issue_fields = field_orders(ARTICLE_FIELDS, max(1, cold_n // max(1, len(plan.issue_ids)) + 1), 3)
    # Cold lists: the same filters (so the per-generation total is reused, as for page 2 of a list or another
    # client's shape of it), a new response-cache key on every request: page query, dump, JSON, compression.
    list_fields = field_orders(ARTICLE_FIELDS, cold_n, 4)
    filtered = f"/v1/articles?section={plan.section}&limit=10" if plan.section else "/v1/articles?lang=en&limit=10"
    deep_warm = f"/v1/articles?cursor={plan.cursor({})}" if plan.pivot is not None else "/v1/articles"
    out = [
        {
            "key": "issue",
            "name": "issue item",
            "kind": "item",
            "warm": f"/v1/issues/{issue_id}",
            "cold": [
                f"/v1/issues/{i}?fields={f}"
                for f, i in itertools.islice(itertools.product(issue_fields, plan.issue_ids), cold_n)
            ],
            "cold_how": "each request another issue and/or another order of the full `fields` list",
        },
        {
            "key": "article",
            "name": "article item",
            "kind": "item",
            "warm": f"/v1/articles/{slug}",
            "cold": [
                f"/v1/articles/{s}?fields={f}"
                for f, s in itertools.islice(itertools.product(item_fields, plan.slugs), cold_n)
            ],
            "cold_how": "each request another article and/or another order of the `fields` list",
        },
        {
            "key": "first",
            "name": "first list page",
            "kind": "list",
            "warm": "/v1/articles",
            "cold": [f"/v1/articles?fields={f}" for f in list_fields],
            "cold_how": "another order of the full `fields` list on every request (same filters: the total is reused)",
        },
        {
            "key": "first_filter",
            "name": "first list page, new filter",
            "kind": "list",
            "warm": "/v1/articles?from=1800-01-01",
            "cold": [f"/v1/articles?from={d}" for d in dates],
            "cold_how": "a valid `from` date before the archive, new on every request: the total is counted each time",
        },
        {
            "key": "deepest",
            "name": "deepest cursor page",
            "kind": "list",
            "warm": deep_warm,
            "cold": [f"{deep_warm}&fields={f}" for f in list_fields],
            "cold_how": "as the cold first page, on the last page's cursor",
        },
        {
            "key": "filtered",
            "name": "filtered list",
            "kind": "list",
            "warm": filtered,
            "cold": [f"{filtered}&fields={f}" for f in list_fields],
            "cold_how": "as the cold first page",
        },
        {
            "key": "search",
            "name": f"search (q={plan.search})",
            "kind": "list",
            "warm": f"/v1/articles?q={plan.search}",
            "cold": [f"/v1/articles?q={plan.search}&fields={f}" for f in list_fields],
            "cold_how": "as the cold first page (ranked search and snippets run every time)",
        },
        {
            "key": "feed",
            "name": "feed (Atom)",
            "kind": "list",
            "warm": "/v1/feed.atom",
            "cold": [f"/v1/feed.atom?from={d}" for d in dates],
            "cold_how": "a new `from` date on every request",
        },
        {
            "key": "304",
            "name": "304 revalidation",
            "kind": "304",
            "warm": "/v1/articles",
            "cold": [
                f"/v1/articles/{s}?fields={f}"
                for f, s in itertools.islice(itertools.product(item_fields, plan.slugs), min(cold_n, 1000))
            ],  # fmt: skip
            "cold_how": "1000 distinct article URLs, each with its own ETag (fetched once before the run)",
        },
    ]
    return out


# --------------------------------------------------------------------------- processes


class Server:
    """gunicorn (deploy/gunicorn.conf.py) serving bench.reference:app on a free loopback port."""

    def __init__(self, env: dict, workers: int, log: Path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
               "-b", f"127.0.0.1:{self.port}", "-w", str(workers), "bench.reference:app"]  # fmt: skip
        self.log = log.open("w")
        self.proc = subprocess.Popen(cmd, env=env, cwd=ROOT, start_new_session=True, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(self.base + "/healthz", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    sys.exit(f"gunicorn did not start (log: {log})")
                time.sleep(0.2)

    def workers(self) -> list[int]:
        try:
            text = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        except OSError:
            return []
        return sorted(int(p) for p in text.split())

    def stop(self) -> None:
        stop_group(self.proc, 15)
        self.log.close()


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def nginx_config(shipped: str, listen: int, upstream: int, cache_dir: Path) -> str:
    """The shipped deploy/nginx.conf with its listen port, upstream address and cache directory substituted."""
    subs = [
        (r"(proxy_cache_path\s+)\S+", rf"\g<1>{cache_dir}"),
        (r"(upstream\s+bulletin_api\s*\{\s*server\s+)127\.0\.0\.1:\d+", rf"\g<1>127.0.0.1:{upstream}"),
        (r"(listen\s+)127\.0\.0\.1:\d+", rf"\g<1>127.0.0.1:{listen}"),
        (r"(access_log\s+)\S+ bulletin_json", "\\g<1>off"),  # the bench measures; it keeps no access log
    ]
    out = shipped
    for pattern, repl in subs:
        out, n = re.subn(pattern, repl, out, count=1)
        if n != 1:
            sys.exit(f"deploy/nginx.conf no longer has the directive {pattern!r} the bench substitutes")
    return out


class Nginx:
    """A private nginx (own prefix, pid, logs, temp and cache dirs) with the shipped server block and, optionally,
    a second server serving `static` (a directory) on another port."""

    def __init__(self, binary: str, prefix: Path, upstream: int, static: Path | None = None):
        self.prefix = prefix
        for d in ("logs", "tmp", "cache"):
            (prefix / d).mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.static_port = free_port() if static else None
        shipped = (ROOT / "deploy" / "nginx.conf").read_text()
        (prefix / "bulletin.conf").write_text(nginx_config(shipped, self.port, upstream, prefix / "cache"))
        static_server = (
            f"""
    server {{
        listen 127.0.0.1:{self.static_port};
        root {static};
        default_type application/json;
        etag off;
    }}"""
            if static
            else ""
        )
        temp = "\n".join(
            f"    {name}_temp_path {prefix / 'tmp' / name};"
            for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        # As root, nginx's workers would drop to www-data, which cannot enter the private (0700) temp directory.
        user = "user root;\n" if os.geteuid() == 0 else ""
        (prefix / "nginx.conf").write_text(f"""# generated by bench/run.py around deploy/nginx.conf
{user}worker_processes 2;
pid {prefix / "nginx.pid"};
error_log {prefix / "logs" / "error.log"} warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    keepalive_requests 100000;
{temp}
    include {prefix / "bulletin.conf"};{static_server}
}}
""")
        test = subprocess.run([binary, "-t", "-p", str(prefix), "-c", str(prefix / "nginx.conf")],
                              capture_output=True, text=True)  # fmt: skip
        if test.returncode != 0:
            sys.exit(f"nginx -t failed on the generated config:\n{test.stderr}")
        self.proc = subprocess.Popen(
            [binary, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"],
            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    sys.exit("nginx did not start")
                time.sleep(0.1)

    def stop(self) -> None:
        stop_group(self.proc, 10)


def fetch(url: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


# --------------------------------------------------------------------------- the run


class Bench:
    def __init__(self, args, wrk: str, tmp: Path):
        self.args, self.wrk, self.tmp = args, wrk, tmp
        self.n = 0

    def wrk_run(
        self, url: str, lines: list[str] | None = None, duration: int | None = None, headers: dict | None = None
    ) -> dict:
        """wrk on one URL (with fixed `headers`), or on a URL list through the Lua script (`lines`)."""
        a = self.args
        duration = duration or a.duration
        cmd = [self.wrk, f"-t{a.threads}", f"-c{a.connections}", f"-d{duration}s", "--latency", "--timeout", "10s"]
        for name, value in (headers or {}).items():
            cmd += ["-H", f"{name}: {value}"]
        if lines:
            self.n += 1
            data = self.tmp / f"urls-{self.n}.txt"
            data.write_text("\n".join(lines) + "\n")
            script = self.tmp / f"urls-{self.n}.lua"
            script.write_text(LIST_LUA % {"file": data, "threads": a.threads})
            cmd += ["-s", str(script)]
        out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True, timeout=duration + 60).stdout
        return parse_wrk(out)

    def reference(self, url: str) -> float:
        self.drained_s = self.settle(url)
        return self.wrk_run(url, duration=self.args.ref_duration)["rps"]

    def settle(self, url: str, limit: float = 120.0) -> float:
        """Wait until the server has drained the requests wrk left queued (a slow cold scenario leaves up to one
        per connection): two answers in a row within 100 ms, or `limit` seconds. Returns the seconds waited."""
        begun = time.monotonic()
        fast = 0
        while fast < 2 and time.monotonic() - begun < limit:
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(url, timeout=10) as r:
                    r.read()
            except OSError:
                fast = 0
                continue
            fast = fast + 1 if time.perf_counter() - started < 0.1 else 0
        return round(time.monotonic() - begun, 1)


class Services:
    """PostgreSQL and Redis for the postgresql backend: private servers on free loopback ports (initdb'd in a
    temporary directory, as the fault suite does), or the local ones with --local-services (TEST_DATABASE_URL,
    TEST_REDIS_URL or 127.0.0.1:5432/test and 127.0.0.1:6379/14; schema `bench`)."""

    def __init__(self, local: bool):
        from tests.live import PrivatePostgres, PrivateRedis

        self.pg = self.redis = None
        self.local = local
        self.schema = "bench" if local else "bulletin"
        if local:
            self.db_url = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
            self.redis_url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
            import redis

            redis.Redis.from_url(self.redis_url).flushdb()
            return
        self.pg, self.redis = PrivatePostgres(), PrivateRedis()
        self.pg.start()
        self.redis.start()
        self.db_url, self.redis_url = self.pg.url, self.redis.url

    def _admin(self):
        from sqlalchemy import create_engine

        return create_engine(self.db_url, isolation_level="AUTOCOMMIT")

    def kept_load(self) -> float | None:
        """Seconds of the kept load into self.schema (local services), or None when there is none."""
        from sqlalchemy import text

        engine = self._admin()
        try:
            with engine.connect() as conn:
                conn.execute(text("CREATE TABLE IF NOT EXISTS bench_load (schema text PRIMARY KEY, seconds float)"))
                seconds = conn.execute(
                    text("SELECT seconds FROM bench_load l JOIN pg_namespace n ON n.nspname = l.schema "
                         "WHERE l.schema = :s"), {"s": self.schema}).scalar()  # fmt: skip
        finally:
            engine.dispose()
        return seconds

    def keep_load(self, size: int, seconds: float) -> None:
        """Record the load into self.schema; drop the loads of `size` by older code."""
        from sqlalchemy import text

        engine = self._admin()
        try:
            with engine.connect() as conn:
                for (old,) in conn.execute(
                    text("SELECT nspname FROM pg_namespace WHERE nspname LIKE :p AND nspname <> :s"),
                    {"p": f"bench\\_{size}\\_%", "s": self.schema},
                ).all():
                    conn.execute(text(f'DROP SCHEMA "{old}" CASCADE'))
                    conn.execute(text("DELETE FROM bench_load WHERE schema = :s"), {"s": old})
                conn.execute(
                    text("INSERT INTO bench_load VALUES (:s, :t) ON CONFLICT (schema) DO UPDATE SET seconds = :t"),
                    {"s": self.schema, "t": seconds},
                )
        finally:
            engine.dispose()

    def close(self) -> None:
        for server in (self.redis, self.pg):
            if server is not None:
                server.close()


def explain(app, url: str) -> list[dict]:
    """The statements one request to `url` runs (in process, a fresh app cache), each with its plan: EXPLAIN
    (ANALYZE, BUFFERS, FORMAT JSON) on PostgreSQL, EXPLAIN QUERY PLAN on SQLite."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from api.extensions import cache

    seen: list[tuple] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("EXPLAIN", "SET", "SHOW", "BEGIN", "COMMIT", "ROLLBACK")):
            seen.append((conn, statement, parameters))

    with app.app_context():
        cache.clear()
    app.extensions["values"].clear()
    hot = app.extensions.get("hot_path")
    if hot is not None:
        hot._entries.clear()
        hot._aliases.clear()
    event.listen(Engine, "before_cursor_execute", capture)
    try:
        app.test_client().get(url)
    finally:
        event.remove(Engine, "before_cursor_execute", capture)
    plans = []
    generation = app.extensions["store"].current()
    for _conn, statement, parameters in seen:
        entry = {"sql": " ".join(statement.split())[:2000]}
        try:
            with generation.engine.connect() as conn:
                cursor = conn.connection.cursor()
                if conn.dialect.name == "postgresql":
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, parameters)
                    plan = cursor.fetchone()[0][0]
                    entry.update(execution_ms=plan.get("Execution Time"), planning_ms=plan.get("Planning Time"),
                                 plan=plan["Plan"])  # fmt: skip
                else:
                    cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
                    entry["plan"] = [row[-1] for row in cursor.fetchall()]
                cursor.close()
        except Exception as exc:  # a plan is context, never a reason to lose the run
            entry["error"] = f"{exc.__class__.__name__}: {exc}"[:300]
        plans.append(entry)
    return plans


def run_size(size: int | None, args, wrk: str, nginx: str | None, backend: str = "sqlite") -> dict:
    """One size on one backend; the postgresql backend's servers are always stopped."""
    services = Services(args.local_services) if backend == "postgresql" else None
    try:
        return _run_size(size, args, wrk, nginx, services)
    finally:
        if services is not None:
            services.close()


def _run_size(size: int | None, args, wrk: str, nginx: str | None, services: Services | None) -> dict:
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if size is None:
        path, manifest, gen_s = Path(args.archive), None, 0.0
        tmpstore = Path(tempfile.mkdtemp(prefix="bench-store-")) / "store.sqlite"
        from api.ingest.loader import load_archive
        from api.ingest.vocabulary import Vocabulary

        started = time.perf_counter()
        load_archive(path, f"sqlite:///{tmpstore}", vocabulary=Vocabulary.load(ROOT / "data" / "vocabulary.yaml"))
        store, load_s, reused = tmpstore, time.perf_counter() - started, False
    else:
        path, manifest, gen_s = archive(size)
        store, load_s, reused = built_store(size, path, manifest)
    timings["generate_s"] = round(gen_s, 1)
    timings["load_s"] = round(load_s, 1)
    timings["store_reused"] = reused

    backend = "sqlite" if services is None else "postgresql"
    if services is not None:
        from api.ingest.loader import load_archive
        from api.ingest.vocabulary import Vocabulary

        if services.local and manifest:  # a load of this archive by this code, kept in the local PostgreSQL
            services.schema = f"bench_{size}_{code_hash(manifest)}"
            kept = services.kept_load()
        else:
            kept = None
        if kept is not None:
            timings["load_s"], timings["store_reused"] = kept, True
            say(f"reusing schema {services.schema} (loaded in {kept} s by the same code)")
        else:
            started = time.perf_counter()
            say(
                f"loading {path} into PostgreSQL ({services.db_url}, schema {services.schema}) with the real loader ..."
            )
            report = load_archive(path, services.db_url, schema=services.schema,
                                  vocabulary=Vocabulary.load(ROOT / "data" / "vocabulary.yaml"))  # fmt: skip
            if manifest and report.articles_loaded != manifest["articles"]:
                sys.exit(f"the PostgreSQL load of {path} does not match its manifest ({report.articles_loaded})")
            timings["load_s"], timings["store_reused"] = round(time.perf_counter() - started, 1), False
            say(f"  loaded in {timings['load_s']} s")
            if services.local and manifest:
                services.keep_load(size, timings["load_s"])

    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"sqlite:///{store}",
        BENCH_REFERENCE="1",
        WEB_CONCURRENCY=str(args.workers),
        RATELIMIT_ENABLED="0",
        PYTHONPATH=str(ROOT),
        # Cold queries on a large archive on a busy machine can outlast the 3 s production deadline; the bench
        # measures them instead of counting 503s (set QUERY_TIMEOUT_MS to bench with another deadline).
        QUERY_TIMEOUT_MS=os.environ.get("QUERY_TIMEOUT_MS", "30000"),
    )
    env.pop("CACHE_REDIS_URL", None)
    if services is not None:
        env.update(DATABASE_URL=services.db_url, DATABASE_SCHEMA=services.schema, CACHE_REDIS_URL=services.redis_url)
        os.environ["DATABASE_SCHEMA"] = services.schema
    else:
        env.pop("DATABASE_SCHEMA", None)
        os.environ.pop("DATABASE_SCHEMA", None)
    os.environ["DATABASE_URL"] = env["DATABASE_URL"]
    # The in-process planner (not measured) may wait longer: at 1 000 000 articles with a cold page cache, counting
    # the hits of the search word reads half a million rows.
    os.environ["QUERY_TIMEOUT_MS"] = "600000"
    os.environ.pop("CACHE_REDIS_URL", None)
    from api.app import create_app

    started = time.perf_counter()
    app = create_app()
    plan = Plan(app)
    scen = scenarios(plan, args.cold_urls)
    if args.scenarios:
        wanted = set(args.scenarios.split(","))
        unknown = wanted - {s["key"] for s in scen}
        if unknown:
            sys.exit(
                f"unknown scenario(s) {', '.join(sorted(unknown))}: choose from {', '.join(s['key'] for s in scen)}"
            )
        scen = [s for s in scen if s["key"] in wanted]
    for s in scen:
        if s["key"] == "deepest" and plan.pivot is not None:
            plan.check_deepest(s["warm"], plan.total)
            plan.check_deepest(s["cold"][0], plan.total)
            plan.check_deepest(s["cold"][-1], plan.total)
    # The issue's reference: a Flask view returning 10 KB of prepared bytes, at every size (the issue item grows
    # with the archive: 3 KB at 1 000 articles, 69 KB at 100 000, about 700 KB at 1 000 000).
    env["BENCH_REFERENCE_BYTES"] = str(args.reference_bytes)
    timings["plan_s"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    plans = {s["key"]: explain(app, s["cold"][0]) for s in scen if s["cold"]}
    timings["explain_s"] = round(time.perf_counter() - started, 1)
    say(f"size {size or path}: {plan.total} public articles, {len(plan.issue_ids)} issues sampled, "
        f"{len(plan.slugs)} slugs, search q={plan.search} ({plan.search_total} hits)")  # fmt: skip

    # A cold request on a large archive takes seconds here: 5 s would complete a handful of them.
    cold_duration = args.cold_duration or (args.duration if (size or 0) < 100_000 else max(args.duration, 20))
    bench = Bench(args, wrk, tmp)
    server = Server(env, args.workers, tmp / "gunicorn.log")
    base, ref_url = server.base, server.base + "/__bench/reference"
    rows: list[dict] = []
    nginx_rows: list[dict] = []
    cache_check: dict = {}
    memory: dict = {}
    metrics_cost: dict = {}
    swap: dict = {}
    try:
        started = time.perf_counter()
        for _ in range(args.workers * 8):
            fetch(ref_url)
        ref = bench.wrk_run(ref_url)
        rows.append({"scenario": "reference (prepared bytes)", "key": "reference", "mode": None, "path":
                     "/__bench/reference", **ref, "adjacent_reference_rps": ref["rps"]})  # fmt: skip
        say(f"  reference: {ref['rps']:.0f} req/s")
        for s in scen:
            for mode in ("warm", "cold"):
                lines, conditional = None, None
                if mode == "warm":
                    path = s["warm"]
                    status, headers, _ = fetch(base + path)
                    if status != 200:
                        sys.exit(f"{s['name']}: {path} answered {status}")
                    if s["kind"] == "304":
                        # A fixed header, like the other warm scenarios' fixed URL: no Lua script in the client
                        # (wrk's per-request script capped this scenario at 3 300 req/s beside 6 000 without it).
                        conditional = {"If-None-Match": headers["ETag"]}
                        if fetch(base + path, conditional)[0] != 304:
                            sys.exit("revalidation scenario: the server did not answer 304 to If-None-Match")
                    # Warm every worker with wrk itself: its requests carry no Accept-Encoding, urllib's carry
                    # `identity`, a hot-path variant of its own (a 304 warm run then found no 200 to replay once
                    # earlier cold scenarios had pushed it out of the bounded hot path, and ran at half speed).
                    bench.wrk_run(base + path, duration=1)
                else:
                    urls = s["cold"]
                    status = fetch(base + urls[0])[0]
                    if status != 200:
                        sys.exit(f"{s['name']} cold: {urls[0]} answered {status}")
                    if s["kind"] == "304":
                        with concurrent.futures.ThreadPoolExecutor(4) as pool:
                            tags = list(pool.map(lambda u: fetch(base + u)[1]["ETag"], urls))
                        lines = [f"{u}\t{t}" for u, t in zip(urls, tags, strict=True)]
                    else:
                        lines = [f"{u}\t" for u in urls[1:]]
                duration = cold_duration if mode == "cold" else args.duration
                if lines:
                    result = bench.wrk_run(base + "/", lines, duration=duration)
                else:
                    result = bench.wrk_run(base + s["warm"], duration=duration, headers=conditional)
                result["duration_s"] = duration
                row = {"scenario": f"{s['name']}, {mode}", "key": s["key"], "mode": mode, "kind": s["kind"],
                       "path": s["warm"] if mode == "warm" else s["cold"][0],
                       "cold_how": s["cold_how"] if mode == "cold" else None, **result}  # fmt: skip
                if mode == "cold" and result["requests"] and result["requests"] > len(s["cold"]) and s["kind"] != "304":
                    row["warning"] = "more requests than distinct cold URLs: some were cache hits"
                row["adjacent_reference_rps"] = bench.reference(ref_url)
                row["drained_s"] = bench.drained_s
                rows.append(row)
                say(f"  {row['scenario']}: {row['rps']:.0f} req/s, p99 {row['p99_ms']} ms "
                    f"(reference {row['adjacent_reference_rps']:.0f})")  # fmt: skip
        timings["scenarios_s"] = round(time.perf_counter() - started, 1)

        if args.metrics_cost and backend == "sqlite":  # a property of the request wrapper, not of the store
            started = time.perf_counter()
            metrics_cost = run_metrics_cost(bench, server, plan, tmp, env, args)
            timings["metrics_cost_s"] = round(time.perf_counter() - started, 1)

        if nginx and not args.no_nginx:
            started = time.perf_counter()
            nginx_rows, cache_check = run_nginx(nginx, bench, server, plan, tmp, env, args)
            timings["nginx_s"] = round(time.perf_counter() - started, 1)

        if args.memory_seconds:
            started = time.perf_counter()
            memory = run_memory(bench, server, [s["warm"] for s in scen], args)
            timings["memory_s"] = round(time.perf_counter() - started, 1)

        if args.swap:  # last: on PostgreSQL it swaps the live schema of this run
            if nginx and not args.no_nginx:
                from bench.swap import run_swap

                started = time.perf_counter()
                every = scenarios(plan, 1)  # the warm URL of every scenario, not only those --scenarios ran
                try:
                    swap = run_swap(nginx, bench, plan, every, tmp, env, args, store, services)
                except Exception as exc:  # noqa: BLE001 - a failed swap is a result: the size's JSON is still written
                    swap = {
                        "error": f"{exc.__class__.__name__}: {exc}"[:1000],
                        "met": False,
                        "verdict": "NOT met (error)",
                    }
                    say(f"  swap: failed: {swap['error']}")
                timings["swap_s"] = round(time.perf_counter() - started, 1)
            else:
                say("  swap: skipped (it measures through nginx, which is not available)")
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        app.extensions["store"].dispose()
        if size is None:
            shutil.rmtree(store.parent, ignore_errors=True)
    timings["total_s"] = round(time.perf_counter() - t0, 1)
    return {
        "size": size,
        "backend": backend,
        "explain": plans,
        "articles_public": plan.total,
        "archive": str(path),
        "manifest_articles": manifest["articles"] if manifest else None,
        "search_word": plan.search,
        "search_hits": plan.search_total,
        "rows": rows,
        "nginx": nginx_rows,
        "nginx_cache_check": cache_check,
        "memory": memory,
        "metrics_cost": metrics_cost,
        "swap": swap,
        "timings": timings,
    }


def run_metrics_cost(bench: Bench, server: Server, plan: Plan, tmp: Path, env: dict, args) -> dict:
    """The warm hot path (the issue item) on a fresh gunicorn with metrics on against one with METRICS_ENABLED=0:
    `--metrics-rounds` adjacent pairs of wrk runs; the figure is the median of the pairs' ratios (target ≥ 0.95),
    then the in-process CPU-time figure of bench/metrics_cost.py for context."""
    path = f"/v1/issues/{plan.issue_ids[0]}"
    # Two fresh servers alike but for METRICS_ENABLED: the bench's own server has run every scenario by now, and
    # its fuller caches (and garbage collector) would be measured too.
    off = Server({**env, "METRICS_ENABLED": "0"}, args.workers, tmp / "gunicorn-metrics-off.log")
    server = Server({**env, "METRICS_ENABLED": "1"}, args.workers, tmp / "gunicorn-metrics-on.log")
    try:
        if fetch(off.base + "/metrics")[0] != 404 or fetch(server.base + "/metrics")[0] != 200:
            sys.exit("metrics cost: /metrics should answer on the metrics-on server only")
        for base in (server.base, off.base):
            bench.wrk_run(base + path, duration=1)  # every worker's hot path holds the item
        on_rps, off_rps = [], []
        for i in range(args.metrics_rounds):  # adjacent pairs, the order swapped every round (the machine drifts)
            for base, into in ((server.base, on_rps), (off.base, off_rps))[:: 1 if i % 2 == 0 else -1]:
                into.append(bench.wrk_run(base + path)["rps"])
        counted = fetch(server.base + "/metrics")[2].decode()
        if 'route="/v1/issues/<issue_id>"' not in counted:
            sys.exit("metrics cost: the metrics-on server did not count the requests")
    finally:
        off.stop()
        server.stop()

    def median(values: list[float]) -> float:
        ordered = sorted(values)
        mid = len(ordered) // 2
        return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2

    pairs = [round(a / b, 3) for a, b in zip(on_rps, off_rps, strict=True) if b]
    result = {"path": path, "on_rps": on_rps, "off_rps": off_rps, "on_median_rps": median(on_rps),
              "off_median_rps": median(off_rps), "pair_ratios": pairs,
              "ratio": round(median(pairs), 3) if pairs else None}  # fmt: skip
    say(f"  metrics cost, warm hot path {path}: on {result['on_median_rps']:.0f} req/s, off "
        f"{result['off_median_rps']:.0f} req/s, median on/off ratio of adjacent runs {result['ratio']}")  # fmt: skip
    # The same replay without HTTP (bench/metrics_cost.py, on this size's store): the strict figure, since over
    # HTTP the socket and parsing work dwarfs what metrics add.
    out = tmp / "metrics-in-process.json"
    done = subprocess.run([sys.executable, "-m", "bench.metrics_cost", "--path", path, "--store", env["DATABASE_URL"]
                           .removeprefix("sqlite:///"), "--json", str(out)], cwd=ROOT, capture_output=True, text=True,
                          check=False)  # fmt: skip
    if done.returncode == 0 and out.exists():
        result["in_process"] = json.loads(out.read_text())
        say("  " + done.stdout.strip())
    else:
        say(f"  metrics cost in process failed: {done.stderr.strip()[-300:]}")
    return result


def run_nginx(binary: str, bench: Bench, server: Server, plan: Plan, tmp: Path, env: dict, args) -> tuple:
    """Hot proxy_cache responses through the shipped config against nginx serving the same bytes statically."""
    static = tmp / "static"
    static.mkdir()
    issue_path = f"/v1/issues/{plan.issue_ids[0]}"
    pages = {issue_path: "issue.json", "/v1/articles": "list.json"}  # each page against its own bytes, static
    for path, name in pages.items():
        (static / name).write_bytes(fetch(server.base + path)[2])
    ng = Nginx(binary, tmp / "nginx", server.port, static)
    rows = []
    try:
        front = f"http://127.0.0.1:{ng.port}"
        static_url = f"http://127.0.0.1:{ng.static_port}/issue.json"
        for path in (issue_path, "/v1/articles"):  # warm the cache with wrk's own headers (Vary: Accept-Encoding)
            bench.wrk_run(front + path, duration=1)
        fetch(front + issue_path)  # urllib's Accept-Encoding: identity is a variant of its own
        hit = fetch(front + issue_path)[1].get("X-Cache-Status")
        if hit != "HIT":
            say(f"  nginx: the issue item is not a proxy_cache HIT on a repeated request (X-Cache-Status {hit})")
        static_rps = bench.wrk_run(static_url)
        rows.append({"scenario": "nginx: the issue item as a static file (reference)", "path": "/issue.json",
                     **static_rps, "adjacent_reference_rps": static_rps["rps"]})  # fmt: skip
        for name, path in (("nginx: issue item via proxy_cache, hot", issue_path),
                           ("nginx: first list page via proxy_cache, hot", "/v1/articles")):  # fmt: skip
            result = bench.wrk_run(front + path)
            row = {"scenario": name, "path": path, **result, "x_cache_status": fetch(front + path)[1].get(
                "X-Cache-Status")}  # fmt: skip
            row["adjacent_reference_rps"] = bench.reference(f"http://127.0.0.1:{ng.static_port}/{pages[path]}")
            row["static_bytes"] = (static / pages[path]).stat().st_size
            rows.append(row)
            say(f"  {name}: {row['rps']:.0f} req/s (static {row['adjacent_reference_rps']:.0f})")
    finally:
        ng.stop()
    return rows, cache_check(binary, tmp, env, plan)


def cache_check(binary: str, tmp: Path, env: dict, plan: Plan) -> dict:
    """Does proxy_cache honour our Cache-Control and stale-if-error? A private gunicorn with max-age=1, s-maxage=2,
    stale-while-revalidate=0 behind a private nginx with the shipped config: MISS, HIT, then after s-maxage a
    revalidation (not a HIT: s-maxage honoured, not a STALE: stale-while-revalidate=0 honoured); gunicorn stopped,
    copy expired: a 200 STALE with stale-if-error=86400, and a 502 with stale-if-error=0 (the header decides)."""
    path = f"/v1/issues/{plan.issue_ids[0]}"

    def phase(stale_if_error: int) -> list[dict]:
        penv = {**env, "CACHE_MAX_AGE": "1", "CACHE_S_MAXAGE": "2", "CACHE_STALE_WHILE_REVALIDATE": "0",
                "CACHE_STALE_IF_ERROR": str(stale_if_error)}  # fmt: skip
        server = Server(penv, 1, tmp / f"gunicorn-check-{stale_if_error}.log")
        ng = Nginx(binary, tmp / f"nginx-check-{stale_if_error}", server.port)
        front = f"http://127.0.0.1:{ng.port}{path}"
        seen = []
        try:
            for label, pause in (("first", 0), ("second", 0), ("after s-maxage", 3.5)):
                time.sleep(pause)
                status, headers, _ = fetch(front)
                seen.append({"request": label, "status": status, "x_cache_status": headers.get("X-Cache-Status"),
                             "cache_control": headers.get("Cache-Control")})  # fmt: skip
            server.stop()
            time.sleep(3.5)
            status, headers, _ = fetch(front)
            seen.append({"request": f"upstream down, copy expired, stale-if-error={stale_if_error}",
                         "status": status, "x_cache_status": headers.get("X-Cache-Status")})  # fmt: skip
        finally:
            ng.stop()
            server.stop()
        return seen

    a, b = phase(86400), phase(0)
    statuses = [s["x_cache_status"] for s in a[:3]]
    ok_cc = statuses[:2] == ["MISS", "HIT"] and statuses[2] in ("REVALIDATED", "EXPIRED")
    ok_sie = a[3]["status"] == 200 and a[3]["x_cache_status"] == "STALE" and b[3]["status"] >= 500
    result = {"requests": a + b, "honours_cache_control": ok_cc, "honours_stale_if_error": ok_sie}
    say(f"  nginx cache check: Cache-Control {'honoured' if ok_cc else 'NOT honoured'} ({statuses}), "
        f"stale-if-error {'honoured' if ok_sie else 'NOT honoured'} (86400: {a[3]['status']} {a[3]['x_cache_status']}"
        f", 0: {b[3]['status']} {b[3]['x_cache_status']})")  # fmt: skip
    return result


def run_memory(bench: Bench, server: Server, paths: list[str], args) -> dict:
    """A warm run of every warm URL for --memory-seconds; each worker's RSS from /proc at start and end."""
    for p in paths:
        for _ in range(args.workers * 4):
            fetch(server.base + p)
    pids = server.workers()
    start = {pid: rss_kib(pid) for pid in pids}
    result = bench.wrk_run(server.base + "/", [f"{p}\t" for p in paths], duration=args.memory_seconds)
    end = {pid: rss_kib(pid) for pid in pids}
    workers = []
    for pid in pids:
        s, e = start[pid], end[pid]
        workers.append({"pid": pid, "rss_start_kib": s, "rss_end_kib": e,
                        "growth_pct": None if not s or e is None else round(100 * (e - s) / s, 2)})  # fmt: skip
    growth = max((w["growth_pct"] for w in workers if w["growth_pct"] is not None), default=None)
    say(f"  memory: {args.memory_seconds} s warm at {result['rps']:.0f} req/s, worst worker growth {growth} %")
    return {"seconds": args.memory_seconds, "rps": result["rps"], "requests": result["requests"],
            "workers": workers, "max_growth_pct": growth, "flat": growth is not None and growth < 5.0}  # fmt: skip


# --------------------------------------------------------------------------- targets and the table


def judge(run: dict) -> None:
    """Attach its target and verdict to every row."""
    size = run["size"] or 0
    rows = {(r["key"], r["mode"]): r for r in run["rows"]}
    for r in run["rows"]:
        r["ratio"] = round(r["rps"] / r["adjacent_reference_rps"], 3) if r["adjacent_reference_rps"] else None
        r["target"], r["met"] = None, None
        if r["mode"] == "warm":
            goal = 0.95 if r["kind"] == "304" else 0.90
            ok_ratio = r["ratio"] >= goal
            ok_p99 = r["p99_ms"] is not None and r["p99_ms"] < 10
            r["target"] = f"≥ {goal:.2f}× and p99 < 10 ms"
            r["met"] = ok_ratio and ok_p99
            r["verdict"] = "met" if r["met"] else ("ratio met, p99 not" if ok_ratio else
                                                   "p99 met, ratio not" if ok_p99 else "not met")  # fmt: skip
        elif (r["key"], r["mode"]) == ("first", "cold"):
            r["target"] = "≥ 0.45× (at 100 000)"
            if size >= 100_000:
                r["met"] = r["ratio"] >= 0.45
                r["verdict"] = "met" if r["met"] else "not met"
            else:
                r["verdict"] = f"n/a at {size or 'sample'} ({'≥' if r['ratio'] >= 0.45 else '<'} 0.45×)"
        elif (r["key"], r["mode"]) == ("deepest", "cold"):
            first = rows.get(("first", "cold"))
            rel = r["rps"] / first["rps"] if first and first["rps"] else None
            r["vs_first_page"] = round(rel, 3) if rel else None
            r["target"] = f"≥ 0.90× cold first page (at 1 000 000): {rel:.2f}×" if rel else "≥ 0.90× first page"
            if size >= 1_000_000:
                r["met"] = rel is not None and rel >= 0.90
                r["verdict"] = "met" if r["met"] else "not met"
            else:
                r["verdict"] = f"n/a at {size or 'sample'} ({'within' if rel and rel >= 0.9 else 'not within'} 10%)"
        r.setdefault("verdict", "—")
    for r in run["nginx"]:
        r["ratio"] = round(r["rps"] / r["adjacent_reference_rps"], 3) if r["adjacent_reference_rps"] else None
        if r["path"] == "/issue.json":
            r["target"], r["met"], r["verdict"] = None, None, "—"
        else:
            r["target"] = "≥ 0.70× static"
            r["met"] = r["ratio"] >= 0.70
            r["verdict"] = "met" if r["met"] else "not met"


def table(run: dict) -> str:
    def f(v, fmt):
        return "—" if v is None else format(v, fmt)

    lines = [
        "| scenario | requests/s (requests) | p50 ms | p99 ms | reference req/s right after | ratio | target | met |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for r in run["rows"] + run["nginx"]:
        note = " ⚠" if r.get("warning") or r.get("non_2xx_3xx") or r.get("socket_errors") else ""
        lines.append(
            f"| {r['scenario']}{note} | {r['rps']:.{0 if r['rps'] >= 10 else 1}f} ({r.get('requests')}) | {f(r['p50_ms'], '.2f')} | {f(r['p99_ms'], '.2f')} | "
            f"{r['adjacent_reference_rps']:.0f} | {f(r['ratio'], '.2f' if (r['ratio'] or 0) >= 0.1 else '.3f')}× | {r.get('target') or '—'} | {r['verdict']} |"
        )
    return "\n".join(lines)


def median_reference(run: dict) -> float | None:
    """The median of a run's reference figures (the first one and each scenario's adjacent one): a steadier scale
    than any one 3-second reference, against which a scenario's req/s is also shown (`by_median`)."""
    refs = [r["adjacent_reference_rps"] for r in run["rows"] if r.get("adjacent_reference_rps")]
    return statistics.median(refs) if refs else None


def by_median(row: dict, median: float | None) -> float | None:
    """A row's requests/s over its run's median reference (None when either is unknown)."""
    return row["rps"] / median if median and row.get("rps") else None


def side_by_side(runs: dict) -> str:
    """Every scenario on every backend: requests/s and ratio to its own adjacent reference; then PostgreSQL's cost
    per request relative to SQLite's, each normalised by its own adjacent reference, and again by each run's
    median reference (the references of one run spread over up to 3x on a shared machine)."""
    names = list(runs)
    medians = {b: median_reference(run) for b, run in runs.items()}
    lines = ["| scenario | " + " | ".join(f"{b} req/s (ratio)" for b in names)
             + " | postgresql / sqlite cost | by median references |",
             "| --- | " + " | ".join("---:" for _ in names) + " | ---: | ---: |"]  # fmt: skip
    keyed = {b: {(r["key"], r["mode"]): r for r in run["rows"]} for b, run in runs.items()}
    for key in keyed[names[0]]:
        cells, ratios, steady = [], {}, {}
        for b in names:
            r = keyed[b].get(key)
            if r is None:
                cells.append("—")
                continue
            ratios[b], steady[b] = r["ratio"], by_median(r, medians[b])
            cells.append(f"{r['rps']:.{0 if r['rps'] >= 10 else 1}f} ({r['ratio']:.3f}×)")
        cost = (ratios["sqlite"] / ratios["postgresql"] if ratios.get("sqlite") and ratios.get("postgresql")
                else None)  # fmt: skip
        median_cost = (steady["sqlite"] / steady["postgresql"] if steady.get("sqlite") and steady.get("postgresql")
                       else None)  # fmt: skip
        scenario = keyed[names[0]][key]["scenario"]
        lines.append(f"| {scenario} | " + " | ".join(cells) + f" | {'—' if cost is None else f'{cost:.2f}×'} | "
                     + ("—" if median_cost is None else f"{median_cost:.2f}×") + " |")  # fmt: skip
    refs = ", ".join(f"{b} {medians[b]:.0f}" for b in names if medians[b])
    return "\n".join([*lines, "", f"median reference req/s: {refs}" if refs else ""]).rstrip()


#: The scale target: every cold scenario at 1 000 000 articles within this multiple of its cost at 1 000.
GROWTH_LIMIT = 3.0


def growth(by_size: dict) -> str:
    """Each cold scenario's cost per request at every size of one backend relative to its cost at the smallest size
    (each normalised by its own adjacent reference: cost = smallest size's ratio / this size's ratio), then the same
    by each run's median reference. The target (GROWTH_LIMIT) is judged at 1 000 000 against 1 000, by the
    adjacent references."""
    sizes = sorted(by_size)
    base_size = sizes[0]
    base = {r["key"]: r for r in by_size[base_size]["rows"] if r["mode"] == "cold"}
    medians = {s: median_reference(by_size[s]) for s in sizes}
    label = [f"{s:,}".replace(",", " ") for s in sizes]
    lines = ["| scenario, cold | " + " | ".join(f"ratio at {x}" for x in label) + " | "
             + " | ".join(f"cost at {x} / at {label[0]}" for x in label[1:]) + " | "
             + " | ".join(f"by median references, {x}" for x in label[1:]) + " | target |",
             "| --- | " + " | ".join("---:" for _ in sizes) + " | "
             + " | ".join("---:" for _ in sizes[1:] * 2) + " | --- |"]  # fmt: skip
    for key, first in base.items():
        rows = [next((r for r in by_size[s]["rows"] if r["key"] == key and r["mode"] == "cold"), None) for s in sizes]
        ratios = [r["ratio"] if r else None for r in rows]
        costs = [first["ratio"] / x if x and first["ratio"] else None for x in ratios[1:]]
        steady = [by_median(r, medians[s]) if r else None for r, s in zip(rows, sizes, strict=True)]
        steady_costs = [steady[0] / x if x and steady[0] else None for x in steady[1:]]
        cost = dict(zip(sizes[1:], costs, strict=True)).get(1_000_000) if base_size <= 1000 else None
        verdict = (
            "—"
            if cost is None
            else f"≤ {GROWTH_LIMIT:g}× at 1 000 000: " + ("met" if cost <= GROWTH_LIMIT else "not met")
        )
        cells = [f"{x:.3f}×" if x is not None else "—" for x in ratios] + [
            f"{c:.2f}×" if c is not None else "—" for c in [*costs, *steady_costs]
        ]
        lines.append(f"| {first['scenario'].removesuffix(', cold')} | " + " | ".join(cells) + f" | {verdict} |")
    return "\n".join(lines)


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())  # fmt: skip
    return {"nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "loadavg": Path("/proc/loadavg").read_text().split()[:3]}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000", help="comma-separated archive sizes (articles), e.g. 1000,100000")
    ap.add_argument("--size", type=int, help="one size (same as --sizes N)")
    ap.add_argument("--archive", help="bench this archive directory instead (e.g. data/archive, the sample)")
    ap.add_argument("--duration", type=int, default=5, help="seconds per scenario (default 5)")
    ap.add_argument("--cold-duration", type=int, help="seconds per cold scenario (default: --duration; 20 at 100000+)")
    ap.add_argument("--ref-duration", type=int, default=3, help="seconds of the reference run after each scenario")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cold-urls", type=int, default=COLD_URLS, help="distinct URLs per cold scenario")
    ap.add_argument("--memory-seconds", type=int, default=60, help="warm run sampling worker RSS (0: skip)")
    ap.add_argument("--no-nginx", action="store_true", help="skip the nginx scenarios")
    ap.add_argument("--scenarios", help="run only these scenario keys, e.g. first,deepest (default: all)")
    ap.add_argument("--reference-bytes", type=int, default=10240, help="body size of the reference view (10 KB)")
    ap.add_argument("--metrics-cost", action="store_true",
                    help="also run the warm hot path with metrics on vs off (a second gunicorn), ratio of medians")  # fmt: skip
    ap.add_argument("--metrics-rounds", type=int, default=3, help="adjacent on/off wrk run pairs of --metrics-cost")
    ap.add_argument("--backends", default=os.environ.get("BENCH_BACKENDS", "sqlite"),
                    help="comma-separated: sqlite, postgresql (PostgreSQL + Redis; default $BENCH_BACKENDS or sqlite)")  # fmt: skip
    ap.add_argument("--swap", action="store_true",
                    help="also measure a generation swap under load through nginx (bench/swap.py)")  # fmt: skip
    ap.add_argument("--swap-seconds", type=int, default=60, help="the windows before and after the swap (60 s)")
    ap.add_argument("--swap-warm", type=int, default=20, help="seconds of load before the steady window (20)")
    ap.add_argument("--swap-s-maxage", type=int, default=5,
                    help="CACHE_S_MAXAGE of the swap's gunicorn: every nginx entry is due this soon after the swap")  # fmt: skip
    ap.add_argument("--local-services", action="store_true",
                    help="postgresql backend on the local PostgreSQL and Redis instead of private servers")  # fmt: skip
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    started = time.perf_counter()
    wrk = ensure_wrk()
    nginx = None if args.no_nginx else ensure_nginx()
    sizes: list[int | None] = [None] if args.archive else ([args.size] if args.size else
                                                           [int(s) for s in args.sizes.split(",")])  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    done: dict = {}
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(backends) - {"sqlite", "postgresql"}
    if unknown:
        sys.exit(f"unknown backend(s) {', '.join(sorted(unknown))}: choose sqlite and/or postgresql")
    for size, backend in itertools.product(sizes, backends):
        run = run_size(size, args, wrk, nginx, backend)
        judge(run)
        run["table_markdown"] = table(run)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        doc = {
            "when": stamp,
            "provenance": provenance(),
            "machine": machine(),
            "settings": {
                k: getattr(args, k)
                for k in (
                    "duration",
                    "cold_duration",
                    "ref_duration",
                    "connections",
                    "threads",
                    "workers",
                    "cold_urls",
                    "memory_seconds",
                    "scenarios",
                    "reference_bytes",
                    "metrics_cost",
                    "swap",
                    "swap_seconds",
                    "swap_warm",
                    "swap_s_maxage",
                    "local_services",
                )
            },  # fmt: skip
            **run,
        }
        suffix = "" if backend == "sqlite" else f"-{backend}"
        out = RESULTS / f"{stamp}-{size or 'archive'}{suffix}.json"
        out.write_text(json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n")
        t = run["timings"]
        print(
            f"\n## {size or args.archive} articles ({run['articles_public']} public), {backend}, {stamp}, "
            f"machine {doc['machine']}"
        )
        print(run["table_markdown"])
        if run["nginx_cache_check"]:
            c = run["nginx_cache_check"]
            print(f"\nnginx proxy_cache: Cache-Control honoured: {c['honours_cache_control']}; "
                  f"stale-if-error honoured: {c['honours_stale_if_error']}")  # fmt: skip
        if run["metrics_cost"]:
            c = run["metrics_cost"]
            print(f"\nmetrics cost, warm hot path {c['path']}: on {c['on_median_rps']:.0f} req/s, off "
                  f"{c['off_median_rps']:.0f} req/s (medians); adjacent on/off runs {c['pair_ratios']}: median ratio {c['ratio']}; "
                  f"target ≥ 0.95: {'met' if c['ratio'] and c['ratio'] >= 0.95 else 'NOT met'}")  # fmt: skip
            p = c.get("in_process")
            if p:
                print(f"metrics cost in process (CPU time, {p['batches']} adjacent batch pairs): on {p['on_us']:.2f} µs, "
                      f"off {p['off_us']:.2f} µs, median ratio {p['ratio']:.3f} (interquartile {p['ratio_q1']:.3f}–"
                      f"{p['ratio_q3']:.3f}), metrics add {p['on_us'] - p['off_us']:.2f} µs of CPU time per replay")  # fmt: skip
        if run["swap"]:
            from bench.swap import swap_table

            print(swap_table(run["swap"]))
        if run["memory"]:
            m = run["memory"]
            print(f"worker RSS over {m['seconds']} s warm: " + ", ".join(
                f"{w['rss_start_kib'] // 1024}→{w['rss_end_kib'] // 1024} MiB ({w['growth_pct']:+.1f} %)"
                for w in m["workers"] if w["rss_end_kib"]) + f"; flat (< 5 %): {m['flat']}")  # fmt: skip
        print(f"time: generate {t['generate_s']} s, load {t['load_s']} s{' (its first load; reused the cached store now)' if t['store_reused'] else ''}"
              f", plan {t['plan_s']} s, scenarios {t.get('scenarios_s')} s, nginx {t.get('nginx_s', '—')} s, "
              f"memory {t.get('memory_s', '—')} s, swap {t.get('swap_s', '—')} s, this size {t['total_s']} s")  # fmt: skip
        print(f"written {out.relative_to(ROOT)}")
        done.setdefault(size, {})[backend] = run
    if len(backends) > 1:
        for size, runs in done.items():
            print(f"\n## {size or args.archive} articles, backends side by side\n")
            print(side_by_side(runs))
    for backend in backends:
        by_size = {size: runs[backend] for size, runs in done.items() if size and backend in runs}
        if len(by_size) > 1:
            print(f"\n## {backend}: cold cost by archive size\n")
            print(growth(by_size))
    print(f"\nbench total: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
