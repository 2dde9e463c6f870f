"""Fixtures: the sample archive loaded through the real loader into SQLite and into PostgreSQL (+ Redis)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine

from api import clock
from api.app import create_app
from api.ingest.loader import load_archive
from bench.provenance import provenance

ROOT = Path(__file__).resolve().parents[1]
ARCHIVE = ROOT / "data" / "archive"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CANARIES = ("CANARYDRAFT", "CANARYEMBARGO", "CANARYRETRACT", "canarydraft", "canaryembargo", "canaryretract")
SEED_SLUG = "minsk-sends-conflicting-signals-about-the-expanding-russian-military-presence"


@event.listens_for(Engine, "connect")
def _reverse_unordered_selects(dbapi_conn, _record) -> None:
    """Under test, every SQLite connection SQLAlchemy opens (the store the loader writes, the one the app reads)
    returns the rows of a SELECT without ORDER BY in reverse (PRAGMA reverse_unordered_selects): an order that only
    the plan happens to give (issues by their primary key, articles by rowid) shows up as a failure here, not on
    PostgreSQL or after a new index. The loader's scratch files, opened by sqlite3 itself, are not covered."""
    if isinstance(dbapi_conn, sqlite3.Connection):
        dbapi_conn.execute("PRAGMA reverse_unordered_selects=ON")


if os.environ.get("MUTATION_TESTING"):
    # A mutant is killed by its first failing example: shrinking it would only spend the mutant's time limit.
    from hypothesis import Phase, settings

    settings.register_profile("mutation", phases=[Phase.explicit, Phase.reuse, Phase.generate])
    settings.load_profile("mutation")


def pytest_collection_modifyitems(config, items):
    """Under mutation testing (tools/mutation.py sets MUTATION_TEST_ORDER), run the group's test files in the order
    it lists them, plain tests before Hypothesis properties: mutmut stops a mutant at its first failing test, and
    hands pytest its tests in no particular order, so the fast exact tests go first."""
    order = os.environ.get("MUTATION_TEST_ORDER")
    if not order:
        return
    files = order.split(",")

    def rank(item) -> tuple[int, bool]:
        path = item.nodeid.split("::")[0]
        return (files.index(path) if path in files else len(files), hasattr(item.obj, "hypothesis"))

    items.sort(key=rank)  # stable: pytest's order within each rank


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _skip_unless_required(message: str) -> None:
    """Skip, except in CI (REQUIRE_SERVICES=1), where a missing service or program is a failure."""
    if os.environ.get("REQUIRE_SERVICES"):
        pytest.fail(f"{message}, and REQUIRE_SERVICES=1 forbids skipping its suite")
    pytest.skip(message)


def require_service(name: str, host: str, port: int) -> None:
    """Skip without the service, except in CI (REQUIRE_SERVICES=1), where a skipped backend is a failure."""
    if not _reachable(host, port):
        _skip_unless_required(f"{name} at {host}:{port} is not reachable")


def require_program(name: str) -> str:
    """The path of an installed program; without it, skip (or fail under REQUIRE_SERVICES=1)."""
    path = shutil.which(name)
    if path is None:
        _skip_unless_required(f"{name} is not installed")
    return path


def service_address(url: str, default_port: int) -> tuple[str, int]:
    """(host, port) a database or Redis URL points at."""
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


PG_ADDRESS = service_address(PG_URL, 5432)
REDIS_ADDRESS = service_address(REDIS_URL, 6379)


def new_pg_schema() -> str:
    return f"t_{uuid.uuid4().hex[:10]}"


def drop_pg_schema(schema: str) -> None:
    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        for name in (schema, f"{schema}_build", f"{schema}_old"):
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    engine.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def backend(request, tmp_path_factory):
    """Settings of one backend: SQLite file + SimpleCache, or PostgreSQL schema + Redis."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("store") / "store.sqlite"
        yield {"DATABASE_URL": f"sqlite:///{path}", "DATABASE_SCHEMA": "bulletin", "CACHE_REDIS_URL": None}
        return
    require_service("PostgreSQL", *PG_ADDRESS)
    require_service("Redis", *REDIS_ADDRESS)
    schema = new_pg_schema()
    # a prefix of this session's own: a response another run cached (under mutation: another mutant, whose code
    # version and store generation are the same) is never served here instead of this code's answer
    yield {"DATABASE_URL": PG_URL, "DATABASE_SCHEMA": schema, "CACHE_REDIS_URL": REDIS_URL,
           "CACHE_KEY_PREFIX": f"test-{uuid.uuid4().hex[:12]}:"}  # fmt: skip
    drop_pg_schema(schema)


@pytest.fixture(scope="session")
def loaded(backend):
    """The sample archive (seed + editorial documents) loaded once per backend through the real loader."""
    report = load_archive(ARCHIVE, backend["DATABASE_URL"], schema=backend["DATABASE_SCHEMA"])
    return {**backend, "report": report}


def make_app(settings: dict, **extra):
    overrides = {k: v for k, v in settings.items() if k.isupper()}
    overrides.update({"GENERATION_CHECK_INTERVAL": 0.0, **extra})
    return create_app(overrides)


@pytest.fixture
def new_app():
    """make_app, with every app's store disposed at teardown (PostgreSQL connections must not outlive a test)."""
    made = []

    def build(settings, **extra):
        app = make_app(settings, **extra)
        made.append(app)
        return app

    yield build
    for app in made:
        app.extensions["store"].dispose()


@pytest.fixture
def app(loaded):
    app = make_app(loaded)
    yield app
    app.extensions["store"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def frozen_clock():
    """Freeze the service clock; the test sets the time with frozen_clock(datetime)."""
    yield clock.freeze
    clock.freeze(None)


@pytest.fixture
def scratch_store(tmp_path, backend):
    """An empty store of this backend for tests that load their own archives (and a copy helper)."""
    if backend["DATABASE_URL"].startswith("sqlite"):
        settings = {**backend, "DATABASE_URL": f"sqlite:///{tmp_path / 'store.sqlite'}"}
        yield settings
        return
    schema = new_pg_schema()
    yield {**backend, "DATABASE_SCHEMA": schema}
    drop_pg_schema(schema)


def copy_archive(tmp_path: Path, *sources: Path) -> Path:
    """A writable copy of archive directories (merged), for tests that edit an archive."""
    dest = tmp_path / "archive"
    for src in sources:
        shutil.copytree(src, dest, dirs_exist_ok=True)
    return dest


def walk(client, url: str) -> list[dict]:
    """Every item of a collection, following `links.next` from `url` (a path with its query)."""
    found = []
    while url:
        body = client.get(url).get_json()
        found += body["data"]
        url = body["links"]["next"] and body["links"]["next"].replace("http://localhost", "")
    return found


ARTIFACTS = ROOT / "test-artifacts"


def record_figures(suite: str, **figures) -> None:
    """Merge figures of this run into test-artifacts/<suite>.json (git-ignored), where docs/reliability.md's are generated from."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{suite}.json"
    known = json.loads(path.read_text()) if path.exists() else {}
    known.update(figures)
    runs = known.setdefault("_provenance", {})
    runs.update({name: provenance() for name in figures})
    path.write_text(json.dumps(known, indent=2, sort_keys=True))


@contextmanager
def recorded_statements(app, containing: str = ""):
    """The statements (lower-cased) the app's live store runs inside the block, those holding `containing` only."""
    engine = app.extensions["store"].current().engine
    seen: list[str] = []

    def record(conn, cursor, statement, *args):
        if containing in statement.lower():
            seen.append(statement.lower())

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


@contextmanager
def generated_store(backend: dict, tmp_path_factory, name: str):
    """A generated archive (160 articles over about 40 weeks, a fifth of the documents embargoed, a tenth drafts,
    seed 31) loaded into a fresh store of this backend: yields the backend settings pointing at it, and drops it
    (a PostgreSQL schema) afterwards."""
    from bench.generate import Rates, generate

    archive = tmp_path_factory.mktemp(name) / "archive"
    generate(archive, 160, seed=31, rates=Rates(per_issue=4, documents=0.6, draft=0.1, embargoed=0.2), per_dir=200)
    if backend["DATABASE_URL"].startswith("sqlite"):
        store = {**backend, "DATABASE_URL": f"sqlite:///{tmp_path_factory.mktemp(name + '-store') / 's.sqlite'}"}
    else:
        store = {**backend, "DATABASE_SCHEMA": new_pg_schema()}
    try:
        assert load_archive(archive, store["DATABASE_URL"], schema=store["DATABASE_SCHEMA"]).rejected == []
        yield store
    finally:
        if not store["DATABASE_URL"].startswith("sqlite"):
            drop_pg_schema(store["DATABASE_SCHEMA"])
