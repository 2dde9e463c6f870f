"""Engines and generations: which store is live, how to open it, and how a reload is noticed without a restart."""

from __future__ import annotations

import bisect
import datetime as dt
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import orjson
from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DataError, DisconnectionError, SQLAlchemyError
from sqlalchemy.orm import Session

from api.store import search
from api.store.models import Article, Change, StoreMeta


class StoreUnavailable(Exception):
    """The store cannot be read right now (missing, corrupt, database down): the API answers 503."""


class StoreRejected(Exception):
    """The database refused a value of the request (out of range, not representable): a client error, not an outage."""


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: str) -> str:
    return make_url(url).database or ""


@dataclass
class Generation:
    """One loaded store: its content id, build time and the embargo ends that change what is public."""

    id: str
    built_at: dt.datetime
    engine: Engine
    embargo_ends: list[dt.datetime] = field(default_factory=list)
    search_copies: bool = False  # PostgreSQL: its search documents carry copies of the article columns

    def epoch(self, now: dt.datetime) -> int:
        """How many embargoes have ended by `now`: public content changes only when this does."""
        return bisect.bisect_right(self.embargo_ends, now)

    def key(self, now: dt.datetime) -> str:
        """The visible-content version: generation id plus embargo epoch; cache keys and ETags derive from it."""
        return f"{self.id[:20]}.{self.epoch(now)}"

    def next_change(self, now: dt.datetime) -> dt.datetime | None:
        """When the next embargo ends (public content changes then), if any."""
        i = self.epoch(now)
        return self.embargo_ends[i] if i < len(self.embargo_ends) else None

    def last_modified(self, now: dt.datetime) -> dt.datetime:
        i = self.epoch(now)
        return max(self.built_at, self.embargo_ends[i - 1]) if i else self.built_at


def _sqlite_engine(path: str, query_timeout_ms: int) -> Engine:
    # The live file is never written in place (a reload renames a new file over it), so it can be
    # opened read-only and immutable: no locking, no journal look-ups, and mmap for the hot pages.
    engine = create_engine(
        f"sqlite:///file:{path}?mode=ro&immutable=1&uri=true", pool_pre_ping=False, json_deserializer=orjson.loads
    )

    @event.listens_for(engine, "connect")
    def _tune(dbapi_conn, _record):
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA mmap_size=268435456")
        cur.execute("PRAGMA cache_size=-65536")
        cur.execute("PRAGMA query_only=1")
        cur.close()
        install_progress_deadline(dbapi_conn, query_timeout_ms)

    return engine


_deadline = threading.local()


def install_progress_deadline(dbapi_conn, timeout_ms: int) -> None:
    """Abort any SQLite statement that runs past the per-query deadline (SQLite has no statement timeout)."""

    def check() -> int:
        started = getattr(_deadline, "started", None)
        return 1 if started is not None and (time.monotonic() - started) * 1000 > timeout_ms else 0

    dbapi_conn.set_progress_handler(check, 10_000)


#: A pooled PostgreSQL connection idle for longer than this is pinged before it is used again (seconds).
PING_AFTER_IDLE_S = 5.0


def _postgres_engine(url: str, schema: str, query_timeout_ms: int) -> Engine:
    """The reader's engine: autocommit and pinged only after an idle spell, so a request costs its statements.

    Every request only reads, and each statement at READ COMMITTED takes its own snapshot inside a transaction
    too, so autocommit reads the same rows without the BEGIN and ROLLBACK round trips a transaction adds.
    `pool_pre_ping` would add a `SELECT` to every checkout; instead a connection that sat idle in the pool past
    PING_AFTER_IDLE_S is pinged (a connection that fails it is replaced before the request sees it), and one
    that fails mid-request (the database restarted under load) is a disconnect, after which SQLAlchemy replaces
    every pooled connection opened before it. psycopg prepares a statement server-side once a connection has run
    it five times (`prepare_threshold`, its default); the article lists bind every value, so theirs recur.
    """
    engine = create_engine(
        url,
        pool_size=5,
        max_overflow=5,
        pool_pre_ping=False,
        pool_timeout=2,
        pool_recycle=1800,
        isolation_level="AUTOCOMMIT",
        json_deserializer=orjson.loads,  # the JSON columns of every list row (the stdlib's decoder: 3x the time)
        connect_args={
            "connect_timeout": 2,
            # no parallel query and no JIT: every statement reads a bounded set of rows, and on a few cores under
            # load launching parallel workers cost more than the scan (a search's count at 1 000 000 articles:
            # 40 ms of Gather Merge over a 2 ms index scan) and a JIT compile would cost more than any of them
            "options": f"-csearch_path={schema} -cstatement_timeout={query_timeout_ms} "
            "-cmax_parallel_workers_per_gather=0 -cjit=off -crandom_page_cost=1.1",
        },
    )

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_conn, record):
        if record is not None:
            record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_conn, record, _proxy):
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since <= PING_AFTER_IDLE_S:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)  # psycopg's: an empty query, one round trip
        except Exception as exc:  # noqa: BLE001 - any failure: the pool replaces this connection and retries
            raise DisconnectionError(exc.__class__.__name__) from exc

    return engine


def read_generation(engine: Engine) -> Generation:
    """Read a store's generation facts; raises StoreUnavailable when it cannot be read."""
    try:
        with Session(engine) as session:
            meta = dict(session.execute(select(StoreMeta.key, StoreMeta.value)).all())
            if "generation" not in meta:
                raise StoreUnavailable("the store has no generation record")
            built = dt.datetime.fromisoformat(meta["built_at"])
            # the embargo ends, and every change the log makes visible later than the build: a tombstone timed just
            # after an embargo the load withdrew (api/ingest/writer.py) changes the feed when no article's ends
            moments = (
                select(Article.embargo_until)
                .where(Article.embargo_until.is_not(None))
                .union(select(Change.visible_at).where(Change.visible_at > built))
            )
            ends = sorted(session.scalars(moments).all())  # UNION: each moment once
            copies = search.has_copies(session.connection())
    except SQLAlchemyError as exc:
        raise StoreUnavailable(str(exc.__class__.__name__)) from exc
    return Generation(meta["generation"], built, engine, ends, copies)


class Store:
    """The live store of one app: notices a new generation (file swap or schema swap) without a restart."""

    def __init__(self, url: str, schema: str = "bulletin", check_interval: float = 1.0, query_timeout_ms: int = 3000):
        self.url, self.schema = url, schema
        self.sqlite = is_sqlite(url)
        self._path = sqlite_path(url) if self.sqlite else None  # parsed once: current() runs on every request
        self.check_interval = check_interval
        self.query_timeout_ms = query_timeout_ms
        self._lock = threading.Lock()
        self._current: Generation | None = None
        self._identity: object = None
        self._checked = 0.0
        self._pg_engine: Engine | None = None

    def current(self) -> Generation:
        """The live generation; cheap on the hot path (a stat for SQLite, a poll per interval for PostgreSQL)."""
        if self.sqlite:
            return self._current_sqlite()
        return self._current_postgres()

    def _current_sqlite(self) -> Generation:
        path = self._path
        try:
            st = os.stat(path)
        except OSError as exc:
            raise StoreUnavailable("the store file is missing") from exc
        identity = (st.st_ino, st.st_mtime_ns, st.st_size)
        if identity == self._identity and self._current is not None:
            return self._current
        with self._lock:
            if identity != self._identity or self._current is None:
                engine = _sqlite_engine(path, self.query_timeout_ms)
                try:
                    generation = read_generation(engine)
                except StoreUnavailable:
                    engine.dispose()
                    raise
                old, self._current, self._identity = self._current, generation, identity
                if old is not None:
                    old.engine.dispose()
        return self._current

    def _current_postgres(self) -> Generation:
        now = time.monotonic()
        if self._current is not None and now - self._checked < self.check_interval:
            return self._current
        with self._lock:
            if self._current is not None and now - self._checked < self.check_interval:
                return self._current
            if self._pg_engine is None:
                self._pg_engine = _postgres_engine(self.url, self.schema, self.query_timeout_ms)
            try:
                with self._pg_engine.connect() as conn:
                    # the same content may be reloaded by a loader of another version (the generation id is the
                    # content's): the search documents' format is polled with it, in the same statement
                    poll = text(f"SELECT (SELECT value FROM store_meta WHERE key = 'generation'), {search.COPIES_SQL}")
                    gen_id, copies = conn.execute(poll, search.copies_params(conn)).one()
            except SQLAlchemyError as exc:
                self._checked = 0.0
                raise StoreUnavailable(exc.__class__.__name__) from exc
            if gen_id is None:
                raise StoreUnavailable("the store has no generation record")
            current = self._current
            if current is None or current.id != gen_id or current.search_copies != copies:
                self._current = read_generation(self._pg_engine)
            self._checked = now
        return self._current

    @contextmanager
    def session(self, generation: Generation) -> Iterator[Session]:
        """A read-only session on `generation`, with the query deadline armed; DB errors become StoreUnavailable."""
        _deadline.started = time.monotonic()
        try:
            with Session(generation.engine, info={"search_copies": generation.search_copies}) as session:
                yield session
        except DataError as exc:
            raise StoreRejected(exc.__class__.__name__) from exc
        except SQLAlchemyError as exc:
            if self.sqlite is False:
                self._checked = 0.0  # re-check the generation (and the database) on the next request
            raise StoreUnavailable(exc.__class__.__name__) from exc
        finally:
            _deadline.started = None

    def after_fork(self) -> None:
        """In a forked worker: drop the pooled connections inherited from the parent without closing them (they
        are the parent's), so this process opens its own."""
        for engine in (self._current.engine if self._current else None, self._pg_engine):
            if engine is not None:
                engine.dispose(close=False)

    def dispose(self) -> None:
        if self._current is not None:
            self._current.engine.dispose()
        if self._pg_engine is not None:
            self._pg_engine.dispose()
