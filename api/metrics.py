"""Prometheus metrics (official client, multiprocess mode under gunicorn) and the request wrapper that feeds them.

The wrapper (`Observed`, outermost after ProxyFix) gives every request its id (X-Request-Id on every response,
hot-path replays and errors included), counts it by route template, method and status, times it, and writes its
JSON access line when LOG_FORMAT=json. The inner layers only leave notes in the WSGI environ, which costs nothing
when metrics are off: the hot path (`bulletin.cache` = hot, `bulletin.hot_miss`), the cached response path
(`bulletin.cache` = response/none, `bulletin.lookups` of the response, compressed-body and per-generation value
layers), the error handlers (`bulletin.error`, `bulletin.problem`). Database queries are counted by SQLAlchemy
cursor events into a per-thread tally that only exists while a measured request runs.

Facts about the store (live generation, next embargo end, last load's report) are read when Prometheus scrapes,
by whichever worker answers, so they are never stale and need no cross-process gauge.

`/metrics` is answered only to addresses in METRICS_ALLOW (loopback by default; after ProxyFix, so behind nginx
the real client counts); to anybody else it is the API's ordinary 404, and deploy/nginx.conf never forwards it.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import threading
import time
from bisect import bisect_left
from pathlib import Path
from time import perf_counter

import orjson
from flask import Flask, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import event
from sqlalchemy.engine import Engine

from api import clock, logs
from api.store.db import StoreUnavailable

disable_created_metrics()  # no `_created` series beside every counter and histogram: half the scrape for nothing

UNMATCHED = "<unmatched>"  # route label of a request no route matched (404/405): bounded label values
METHODS = frozenset({"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"})
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter("bulletin_http_requests", "HTTP requests answered, by route template, method and status.",
                   ["route", "method", "status"])  # fmt: skip
LATENCY = Histogram("bulletin_http_request_duration_seconds", "Time to answer a request, by route template.",
                    ["route"], buckets=LATENCY_BUCKETS)  # fmt: skip
CACHE = Counter("bulletin_cache_lookups", "Cache lookups by layer (hot, response, compressed, value) and result.",
                ["layer", "result"])  # fmt: skip
CACHE_ERRORS = Counter("bulletin_cache_errors", "Response-cache backend failures (each costs one short timeout).")
CACHE_BYPASSED = Counter("bulletin_cache_bypassed",
                         "Response-cache reads and writes skipped while its circuit breaker is open.")  # fmt: skip
DB_QUERIES = Counter("bulletin_db_queries", "Database statements run for requests.")
DB_SECONDS = Counter("bulletin_db_query_seconds", "Time spent in database statements run for requests.")
DB_PER_REQUEST = Histogram("bulletin_db_queries_per_request", "Statements per request that ran any, by route.",
                           ["route"], buckets=(1, 2, 3, 5, 8, 13, 21, 34, 55))  # fmt: skip
DB_TIME_PER_REQUEST = Histogram("bulletin_db_seconds_per_request", "Database time per request that ran any.",
                                ["route"], buckets=LATENCY_BUCKETS)  # fmt: skip
DEADLINE = Counter("bulletin_query_deadline_exceeded", "Requests answered 503 because a query ran past "
                   "QUERY_TIMEOUT_MS, by route.", ["route"])  # fmt: skip
RATE_LIMITED = Counter("bulletin_rate_limited", "Requests refused by the rate limiter (429), by route.", ["route"])


FLUSH_INTERVAL = 1.0  # seconds: the most a worker's request counts and latencies lag behind in a scrape


class Pending:
    """The per-request samples (request count, latency, hot-path hit), tallied in plain Python and written into
    prometheus_client's values at most every FLUSH_INTERVAL. In multiprocess mode every `inc` or `observe` is a
    locked write into a memory-mapped file, four of them per request, which cost more than a whole hot-path replay.

    Each thread tallies into slots of its own (one per label set: [requests, latency sum, a count per bucket]),
    so a request takes no lock and allocates nothing; only that thread ever writes them. A flush reads every
    thread's slots (a list copy is atomic under the GIL) and writes what grew since it last read them: a slot
    read between two of its increments is made good by the next flush, and nothing is lost or counted twice.
    A flush runs at the end of a request once the interval has passed, in a daemon thread of each worker every
    interval (so an idle worker's counts still arrive), before this process answers a scrape, and when a gunicorn
    worker exits (deploy/gunicorn.conf.py)."""

    _UPPER = (*LATENCY_BUCKETS, float("inf"))
    _FIRST = LATENCY_BUCKETS[0]

    def __init__(self, interval: float = FLUSH_INTERVAL):
        self.interval = interval
        self._lock = threading.Lock()  # taken when a thread or label set first appears, and by a flush
        self._local = threading.local()  # .slots: this thread's {(route, method, status, hot-path hit): slot}
        self._threads: list[dict] = []  # every thread's slots, for the flush
        self._written: dict[int, list] = {}  # id(slot) -> what a flush has written of it so far
        self._flushed = 0.0  # perf_counter() of the last flush
        self._thread_pid: int | None = None

    def add(self, key: tuple, elapsed: float, now: float) -> None:
        """One request: `key` is (route, method, status, hot-path hit), `now` a perf_counter() reading."""
        try:
            slot = self._local.slots[key]
        except (AttributeError, KeyError):
            slot = self._slot(key)
        slot[0] += 1
        slot[1] += elapsed
        slot[2 if elapsed <= self._FIRST else 2 + bisect_left(self._UPPER, elapsed)] += 1
        if now - self._flushed >= self.interval:
            self.flush()

    def _slot(self, key: tuple) -> list:
        slots = getattr(self._local, "slots", None)
        if slots is None:
            slots = self._local.slots = {}
            with self._lock:
                self._threads.append(slots)
        slot = slots.get(key)
        if slot is None:
            slot = [0, 0.0] + [0] * len(self._UPPER)
            with self._lock:
                self._written[id(slot)] = slot[:]
                slots[key] = slot
        return slot

    def flush(self) -> None:
        """Write what was tallied since the last flush into the metrics (and start this process's flusher)."""
        with self._lock:  # one flush at a time: a request's, the flusher's or a scrape's
            self._flushed = perf_counter()
            if self._thread_pid != os.getpid():  # first flush in this process (a gunicorn worker is a fork)
                if self._thread_pid is not None:  # what a parent tallied is the parent's: never flushed here
                    for slots in self._threads:
                        for slot in list(slots.values()):
                            self._written[id(slot)] = slot[:]
                self._thread_pid = os.getpid()
                threading.Thread(target=self._run, name="metrics-flush", daemon=True).start()
            for slots in self._threads:
                for (route, method, status, hot), slot in list(slots.items()):
                    now, before = slot[:], self._written[id(slot)]
                    if now[0] == before[0] and now[2:] == before[2:]:
                        continue
                    self._written[id(slot)] = now
                    requests = now[0] - before[0]
                    if requests:
                        REQUESTS.labels(route, method, status).inc(requests)
                        if hot:
                            CACHE.labels("hot", "hit").inc(requests)
                    latency = LATENCY.labels(route)
                    latency._sum.inc(now[1] - before[1])  # prometheus_client has no bulk observe: as observe() does
                    for i in range(2, len(now)):
                        if now[i] != before[i]:
                            latency._buckets[i - 2].inc(now[i] - before[i])

    def _run(self) -> None:
        pid = os.getpid()
        while self._thread_pid == pid:
            time.sleep(self.interval)
            if perf_counter() - self._flushed >= self.interval:
                self.flush()


PENDING = Pending()


def flush() -> None:
    """Flush this process's pending samples (gunicorn's worker_exit hook calls it)."""
    PENDING.flush()


def multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


# --- database statements ------------------------------------------------------------------------------------

_db = threading.local()  # .tally = [statements, seconds] while a measured request runs in this thread
_db_events_installed = False


def _before_cursor(conn, cursor, statement, parameters, context, executemany):
    if getattr(_db, "tally", None) is not None:
        conn.info["bulletin.started"] = perf_counter()


def _after_cursor(conn, cursor, statement, parameters, context, executemany):
    started = conn.info.pop("bulletin.started", None)
    tally = getattr(_db, "tally", None)
    if started is not None and tally is not None:
        tally[0] += 1
        tally[1] += perf_counter() - started


def _failed_statement(exception_context):
    conn = exception_context.connection
    if conn is not None:
        _after_cursor(conn, None, None, None, None, None)


def install_db_events() -> None:
    """Count every engine's statements (engines are made per generation, so listen on the class), once."""
    global _db_events_installed
    if not _db_events_installed:
        event.listen(Engine, "before_cursor_execute", _before_cursor)
        event.listen(Engine, "after_cursor_execute", _after_cursor)
        event.listen(Engine, "handle_error", _failed_statement)
        _db_events_installed = True


# --- the last load's report (written by `flask archive load`, read at scrape time) ----------------------------


def load_summary(report, ok: bool, error: str | None, duration_s: float, previous: dict | None = None) -> dict:
    """What the loader leaves for the metrics (and logs as its JSON line): counts, outcome, times."""
    now = dt.datetime.now(dt.UTC).isoformat()
    previous = previous or {}
    summary = {
        "ok": ok,
        "error": error,
        "finished_at": now,
        "duration_s": round(duration_s, 3),
        "archive": getattr(report, "archive", None),
        "files": getattr(report, "files_read", 0),
        "articles": getattr(report, "articles_loaded", 0),
        "public_articles": getattr(report, "public_articles", 0),
        "rejected": len(getattr(report, "rejected", []) or []),
        "skipped": sum(len(v) for v in (getattr(report, "skipped", {}) or {}).values()),
        "generation": (getattr(report, "generation", "") or "")[:20] or None,
        "swapped": getattr(report, "swapped", False),
        "last_success_at": now if ok else previous.get("last_success_at"),
    }
    return summary


def read_load_report(path: str | os.PathLike | None) -> dict | None:
    if not path:
        return None
    try:
        return orjson.loads(Path(path).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None


def write_load_report(path: str | os.PathLike, summary: dict) -> None:
    """Atomically (write + rename): a scrape never reads half a report."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    os.replace(tmp, path)


def _timestamp(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


class StoreCollector:
    """Scrape-time facts: the live generation, the next embargo end, the last load's report."""

    def __init__(self, store, report_path: str | None):
        self.store, self.report_path = store, report_path

    def describe(self):
        return []  # registering must not read the store

    def collect(self):
        up = GaugeMetricFamily("bulletin_store_up", "1 when the live store can be read, 0 otherwise.")
        try:
            generation = self.store.current()
        except StoreUnavailable:
            generation = None
        up.add_metric([], 1 if generation is not None else 0)
        yield up
        if generation is not None:
            now = clock.now()
            info = GaugeMetricFamily("bulletin_generation_info", "The live store generation (value 1; its id as in "
                                     "/readyz is the label).", labels=["generation"])  # fmt: skip
            info.add_metric([generation.id[:20]], 1)
            yield info
            built = generation.built_at.timestamp()
            yield GaugeMetricFamily("bulletin_generation_built_timestamp_seconds",
                                    "When the live generation's content was built (Unix time).", value=built)  # fmt: skip
            yield GaugeMetricFamily("bulletin_generation_age_seconds", "Seconds since the live generation was built.",
                                    value=max(0.0, now.timestamp() - built))  # fmt: skip
            nxt = generation.next_change(now)
            if nxt is not None:
                yield GaugeMetricFamily("bulletin_next_embargo_change_timestamp_seconds",
                                        "When the next embargo ends and public content changes (Unix time).",
                                        value=nxt.timestamp())  # fmt: skip
        report = read_load_report(self.report_path)
        if report is None:
            return
        gauges = [
            ("success", "1 when the last load succeeded, 0 when it failed.", 1 if report.get("ok") else 0),
            ("timestamp_seconds", "When the last load finished (Unix time).", _timestamp(report.get("finished_at"))),
            ("duration_seconds", "How long the last load took.", report.get("duration_s")),
            ("files", "Archive files the last load read.", report.get("files")),
            ("articles", "Articles the last load built.", report.get("articles")),
            ("rejected", "Files the last load rejected.", report.get("rejected")),
            ("skipped", "Files the last load skipped (not articles, duplicates…).", report.get("skipped")),
        ]
        for name, doc, value in gauges:
            if value is not None:
                yield GaugeMetricFamily(f"bulletin_last_load_{name}", doc, value=float(value))
        success = _timestamp(report.get("last_success_at"))
        if success is not None:
            yield GaugeMetricFamily("bulletin_last_successful_load_timestamp_seconds",
                                    "When a load last succeeded (Unix time).", value=success)  # fmt: skip


# --- the request wrapper ------------------------------------------------------------------------------------


def _networks(spec: str) -> list:
    return [ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip()]


class Observed:
    """WSGI middleware: request id, metrics, JSON access line, and `/metrics` for allowed addresses."""

    def __init__(self, wsgi_app, *, store, metrics: bool, json_logs: bool, trusted: bool, allow: str,
                 report_path: str | None, hot: bool):  # fmt: skip
        from api.http import REPLAYABLE  # (api.http counts cache errors here: imported late)

        self.wsgi_app, self.metrics, self.json_logs, self.trusted, self.hot = wsgi_app, metrics, json_logs, trusted, hot
        self.replayable = REPLAYABLE
        self.allow = _networks(allow) if metrics else []
        self._children: dict = {}
        self.pending = PENDING
        if metrics:
            if multiprocess():
                self.registry = CollectorRegistry()
                MultiProcessCollector(self.registry)
            else:
                self.registry = REGISTRY
            self.own = CollectorRegistry(auto_describe=False)
            self.own.register(StoreCollector(store, report_path))

    # Children of labelled metrics, looked up once: `labels()` validates and locks on every call.
    def _child(self, metric, *labels):
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def _allowed(self, addr: str | None) -> bool:
        if not self.allow or not addr:
            return False
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:
            return False
        return any(ip in net for net in self.allow)

    def exposition(self) -> bytes:
        self.pending.flush()
        return generate_latest(self.registry) + generate_latest(self.own)

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == "/metrics" and self._allowed(environ.get("REMOTE_ADDR")):
            body = self.exposition()
            start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST), ("Cache-Control", "no-store"),
                                      ("Content-Length", str(len(body)))])  # fmt: skip
            return [body]
        started = perf_counter()
        rid = logs.request_id(environ.get("HTTP_X_REQUEST_ID"), self.trusted)
        environ["bulletin.request_id"] = logs.context.request_id = rid
        answered = []

        def with_id(status, headers, exc_info=None):
            answered.append(status)
            # A new list: the hot path hands over the header list it replays.
            return start_response(status, [*headers, ("X-Request-Id", rid)], exc_info)

        try:
            return self.wsgi_app(environ, with_id)
        finally:
            ended = perf_counter()
            self._record(environ, answered[-1] if answered else "500", ended - started, ended)
            logs.context.request_id = None

    def _record_miss(self, environ, route: str, code: str) -> None:
        tally = environ.get("bulletin.db")
        if self.hot and environ.get("bulletin.hot_miss") and self.replayable in environ:
            self._child(CACHE, "hot", "miss").inc()  # a miss of a response the hot path then kept
        for layer, hit in environ.get("bulletin.lookups", ()):
            self._child(CACHE, layer, "hit" if hit else "miss").inc()
        if tally is not None and tally[0]:
            DB_QUERIES.inc(tally[0])
            DB_SECONDS.inc(tally[1])
            self._child(DB_PER_REQUEST, route).observe(tally[0])
            self._child(DB_TIME_PER_REQUEST, route).observe(tally[1])
        if code == "429":
            self._child(RATE_LIMITED, route).inc()
        if environ.get("bulletin.error") == "query_deadline":
            self._child(DEADLINE, route).inc()

    def _record(self, environ, status: str, elapsed: float, ended: float) -> None:
        route = environ.get("bulletin.route") or UNMATCHED
        code = status[:3]
        cache = environ.get("bulletin.cache")
        if self.metrics:
            hot = cache == "hot"
            pending = self.pending
            try:  # Pending.add, inlined: this is every request's cost of metrics
                slot = pending._local.slots[route, environ["REQUEST_METHOD"], code, hot]
            except (AttributeError, KeyError):
                method = environ["REQUEST_METHOD"]  # bounded labels: a client picks the method
                slot = pending._slot((route, method if method in METHODS else "OTHER", code, hot))
            slot[0] += 1
            slot[1] += elapsed
            slot[2 if elapsed <= pending._FIRST else 2 + bisect_left(pending._UPPER, elapsed)] += 1
            if ended - pending._flushed >= pending.interval:
                pending.flush()
            if not hot:  # a replay ran no lookups, no statement, no limiter and no error handler
                self._record_miss(environ, route, code)
        if self.json_logs:
            line = {
                "method": environ.get("REQUEST_METHOD"),
                "path": environ.get("PATH_INFO"),
                "query": environ.get("QUERY_STRING") or None,
                "route": route,
                "status": int(code) if code.isdigit() else code,
                "duration_ms": round(elapsed * 1000, 3),
                "cache": cache or "none",
                "generation": environ.get("bulletin.generation"),
                "remote_addr": environ.get("REMOTE_ADDR"),
                "pid": os.getpid(),  # which gunicorn worker
            }
            tally = environ.get("bulletin.db")
            if tally is not None and tally[0]:
                line["db_queries"], line["db_ms"] = tally[0], round(tally[1] * 1000, 3)
            for key in ("problem", "error"):
                if environ.get(f"bulletin.{key}"):
                    line[key] = environ[f"bulletin.{key}"]
            logs.access(line)


def count_statements(wsgi_app):
    """Innermost, under the hot path: the statements of a request that reaches Flask (a replay runs none), as
    [count, seconds] in environ["bulletin.db"] for the wrapper's metrics and access line."""
    install_db_events()

    def counted(environ, start_response):
        environ["bulletin.db"] = _db.tally = [0, 0.0]
        try:
            return wsgi_app(environ, start_response)
        finally:
            _db.tally = None

    return counted


def _note_route() -> None:
    rule = request.url_rule
    request.environ["bulletin.route"] = rule.rule if rule is not None else None


def observe(app: Flask, wsgi_app, *, hot: bool) -> Observed:
    """Wrap `wsgi_app` (the hot path or Flask) in the request wrapper configured from `app.config`."""
    cfg = app.config
    # First of the before_request functions: a later one may refuse the request (it keeps its route).
    app.before_request_funcs.setdefault(None, []).insert(0, _note_route)
    return Observed(
        wsgi_app,
        store=app.extensions["store"],
        metrics=cfg["METRICS_ENABLED"],
        json_logs=cfg["LOG_FORMAT"] == "json",
        trusted=cfg["TRUSTED_PROXIES"] > 0,
        allow=cfg["METRICS_ALLOW"],
        report_path=cfg["LOAD_REPORT_PATH"] or None,
        hot=hot,
    )


class _OneShotStore:
    """The master's view of the store for scrapes: opened for each scrape and closed after it, so that no
    connection of the master is inherited by a worker forked later."""

    def __init__(self, cfg: dict):
        self.cfg = cfg

    def current(self):
        from api.store.db import Store

        store = Store(self.cfg["DATABASE_URL"], schema=self.cfg["DATABASE_SCHEMA"], check_interval=0.0,
                      query_timeout_ms=self.cfg["QUERY_TIMEOUT_MS"])  # fmt: skip
        try:
            return store.current()
        finally:
            store.dispose()


def serve_from_master(host: str, port: int):
    """The gunicorn master's metrics listener (METRICS_BIND): every worker's samples and the store's facts, for
    anybody who can reach that address (bind it to a private interface; METRICS_ALLOW is for /metrics)."""
    from prometheus_client import start_http_server

    from api.config import Config

    cfg = Config().as_dict()
    registry = CollectorRegistry()
    if multiprocess():
        MultiProcessCollector(registry)
    registry.register(StoreCollector(_OneShotStore(cfg), cfg["LOAD_REPORT_PATH"] or None))
    return start_http_server(port, addr=host, registry=registry)
