"""Round trips per request: how many statements one cold request (a new response-cache key) sends to the store.

Each route has a budget, with the reason for every statement in it. On PostgreSQL a request's round trips are its
statements and nothing else: no ping on a connection in steady use and no BEGIN/ROLLBACK around reads (the reader
engine is autocommit). The generation poll is one statement per GENERATION_CHECK_INTERVAL, not per request.
"""

from __future__ import annotations

import datetime as dt
import itertools
import shutil
import time

import psycopg
import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from api.ingest.loader import load_archive
from api.store import db
from tests.conftest import (
    ARCHIVE,
    PG_ADDRESS,
    PG_URL,
    SEED_SLUG,
    copy_archive,
    drop_pg_schema,
    new_pg_schema,
    require_service,
)

ISSUE = "2022-02-14"
#: path → (budget, why each statement is needed). Every URL is requested first with another `fields` (or `from`)
#: so the per-process and per-generation values (vocabulary, a list's total) are known, then once more, cold.
ROUTES = {
    f"/v1/issues/{ISSUE}?fields={{f}}": (4, "the issue; its bounded article summaries; its per-section counts; "
                                           "its previous and next issue (one UNION ALL)"),
    f"/v1/articles/{SEED_SLUG}?fields={{f}}": (2, "the article with its section, trend and aliases joined; its "
                                                 "translations"),
    "/v1/articles?fields={f}": (1, "the page (the total is kept per generation and filter set)"),
    "/v1/articles?section=international-relations&limit=10&fields={f}": (1, "the page"),
    "/v1/articles?q=pressure&fields={f}": (2, "the ranked page; the snippets of its hits"),
    "/v1/articles?from={d}": (2, "a new filter set: its total, counted once per generation; the page"),
    "/v1/feed.atom?from={d}": (2, "the entries with section and trend joined; the archive weeks of the new filter set"),
}  # fmt: skip
FIELDS = ("slug,title", "title,slug", "slug,title,lead")


class Recorder:
    """Statements sent to any engine, and the PostgreSQL round trips around them (pings, transaction control)."""

    def __init__(self):
        self.statements: list[str] = []
        self.pings = 0
        self.in_transaction = False

    def __enter__(self):
        event.listen(Engine, "before_cursor_execute", self._before)
        event.listen(Engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *exc):
        event.remove(Engine, "before_cursor_execute", self._before)
        event.remove(Engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append(" ".join(statement.split())[:300])

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        raw = conn.connection.dbapi_connection
        info = getattr(raw, "info", None)
        # psycopg sent a BEGIN before this statement if the connection is now inside a transaction (and will send a
        # ROLLBACK when the request returns it to the pool): two more round trips.
        if info is not None and info.transaction_status.name == "INTRANS":
            self.in_transaction = True

    def round_trips(self) -> int:
        return len(self.statements) + self.pings + (2 if self.in_transaction else 0)

    def report(self) -> str:
        return (
            "\n".join(f"  {i + 1}. {s}" for i, s in enumerate(self.statements))
            + (f"\n  + {self.pings} ping(s)" if self.pings else "")
            + ("\n  + BEGIN and ROLLBACK (the connection was in a transaction)" if self.in_transaction else "")
        )


@pytest.fixture
def counted_app(loaded, new_app, monkeypatch):
    """The app with a long generation-check interval (polls are tested on their own) and its pings counted."""
    app = new_app(loaded, GENERATION_CHECK_INTERVAL=3600.0, HOT_CACHE_MAX_BYTES=0)
    generation = app.extensions["store"].current()
    recorder = Recorder()
    dialect = generation.engine.dialect
    original = dialect.do_ping

    def do_ping(dbapi_conn):
        recorder.pings += 1
        return original(dbapi_conn)

    monkeypatch.setattr(dialect, "do_ping", do_ping)
    return app, recorder


_dates = (dt.date(1800, 1, 1) + dt.timedelta(days=d) for d in itertools.count())


def cold(template: str, n: int) -> str:
    return template.format(f=FIELDS[n % len(FIELDS)], d=next(_dates))


@pytest.mark.parametrize("template", ROUTES)
def test_cold_request_stays_within_its_statement_budget(counted_app, template):
    app, recorder = counted_app
    budget, why = ROUTES[template]
    client = app.test_client()
    for n in range(2):  # process and per-generation values, and (PostgreSQL) the pool's connection
        assert client.get(cold(template, n)).status_code == 200
    url = cold(template, 2)
    with recorder:
        resp = client.get(url)
    assert resp.status_code == 200, url
    assert resp.headers.get("X-Cache", "").lower() != "hit"
    assert len(recorder.statements) <= budget, (
        f"{url} ran {len(recorder.statements)} statements, budget {budget} ({why}):\n{recorder.report()}"
    )
    assert recorder.round_trips() == len(recorder.statements), (
        f"{url}: {recorder.round_trips()} round trips for {len(recorder.statements)} statements:\n{recorder.report()}"
    )


def test_generation_poll_is_one_statement_per_interval(loaded, new_app):
    """Within GENERATION_CHECK_INTERVAL a request does not poll the store; past it the poll is one statement."""
    app = new_app(loaded, GENERATION_CHECK_INTERVAL=3600.0, HOT_CACHE_MAX_BYTES=0)
    client = app.test_client()
    client.get("/v1/articles?fields=slug")
    with Recorder() as within:
        assert client.get("/v1/articles?fields=title").status_code == 200
    store = app.extensions["store"]
    store._checked = time.monotonic() - 7200  # the interval has passed
    with Recorder() as past:
        assert client.get("/v1/articles?fields=lead").status_code == 200
    polls = len(past.statements) - len(within.statements)
    expected = 0 if store.sqlite else 1  # SQLite stats the file instead
    assert polls == expected, f"within:\n{within.report()}\npast the interval:\n{past.report()}"


def kill_pooled(engine) -> None:
    """Terminate the server side of the pool's only connection, from a connection outside the pool."""
    with engine.connect() as conn:
        pid = conn.connection.dbapi_connection.info.backend_pid
    assert engine.pool.checkedin() == 1
    with psycopg.connect(PG_URL.replace("+psycopg", ""), autocommit=True) as other:
        assert other.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]


@pytest.fixture(scope="module")
def pg_loaded():
    """The sample archive in a PostgreSQL schema of its own (this test is about server connections only)."""
    require_service("PostgreSQL", *PG_ADDRESS)
    schema = new_pg_schema()
    load_archive(ARCHIVE, PG_URL, schema=schema)
    yield {"DATABASE_URL": PG_URL, "DATABASE_SCHEMA": schema, "CACHE_REDIS_URL": None}
    drop_pg_schema(schema)


def test_idle_connection_killed_by_the_server_is_replaced_before_use(pg_loaded, new_app, monkeypatch):
    """A pooled connection the server has dropped while it sat idle (a restart, an idle timeout) is pinged on its
    next checkout and replaced, so the request is a 200, not a 503; a connection in steady use is never pinged."""
    app = new_app(pg_loaded, GENERATION_CHECK_INTERVAL=3600.0, HOT_CACHE_MAX_BYTES=0)
    client = app.test_client()
    assert client.get("/v1/articles?fields=slug").status_code == 200
    engine = app.extensions["store"].current().engine
    kill_pooled(engine)
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 3600.0)
    resp = client.get("/v1/articles?fields=title")
    # Not idle long enough to be pinged: the dead connection fails this one request (503, retried by the client)
    # and SQLAlchemy replaces every pooled connection, so the next request is served.
    assert resp.status_code == 503, resp.status_code
    assert client.get("/v1/articles?fields=title").status_code == 200
    kill_pooled(engine)
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)  # every pooled connection has now idled long enough
    time.sleep(0.01)
    resp = client.get("/v1/articles?fields=lead")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]


def test_statements_prepared_before_a_reload_read_the_new_generation(scratch_store, tmp_path, new_app):
    """psycopg prepares a statement server-side after five runs on a connection; a reload swaps the schema under
    it. The same statements must then read the new generation (PostgreSQL replans them), not fail or serve old
    rows; on SQLite the engine of the new file is new."""
    archive = copy_archive(tmp_path, ARCHIVE)
    load_archive(archive, scratch_store["DATABASE_URL"], schema=scratch_store["DATABASE_SCHEMA"])
    app = new_app(scratch_store, HOT_CACHE_MAX_BYTES=0)
    client = app.test_client()
    names = ("slug", "title", "lead", "section", "issue", "published_at", "lang", "url")
    urls = [f"/v1/articles?limit=100&fields={','.join(names[: i + 1])}" for i in range(len(names))]
    before = [client.get(u).get_json() for u in urls[:7]]  # one connection, the same page statement 7 times
    assert all(b["meta"]["total"] == before[0]["meta"]["total"] for b in before)
    store = app.extensions["store"]
    if not store.sqlite:  # the pool's one connection now holds the page statement prepared
        with store.current().engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM pg_prepared_statements").scalar() >= 1
    shutil.rmtree(archive / "2022-01-31")  # a week of the sample archive: the new generation lacks its articles
    load_archive(archive, scratch_store["DATABASE_URL"], schema=scratch_store["DATABASE_SCHEMA"])
    after = client.get(urls[7])
    assert after.status_code == 200, after.get_data(as_text=True)[:300]
    body = after.get_json()
    assert body["meta"]["generation"] != before[0]["meta"]["generation"]
    assert body["meta"]["total"] < before[0]["meta"]["total"]
    fresh = new_app(scratch_store, HOT_CACHE_MAX_BYTES=0).test_client().get(urls[7]).get_json()
    assert [a["slug"] for a in body["data"]] == [a["slug"] for a in fresh["data"]]
