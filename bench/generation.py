"""A second generation of the same content, built cheaply from the live one and swapped in by the writer's own code.

The weekly load builds a new generation beside the live one and swaps it in (`api.ingest.writer.Target.swap`:
`os.replace` of the SQLite file, or a rename of the PostgreSQL build schema over the live one). Reloading the
archive with the loader takes many minutes at 100 000 articles, so the swap bench copies the live store instead
and gives the copy a new generation id (and build time) in `store_meta`: every cache key and ETag derives from the
generation, so the copy makes every cached URL cold at once, exactly as a real load does, while serving the same
content. The copy is made under the loader's lock (`Target.lock`), into the path or schema the loader builds in
(`Target.build`, `Target.build_schema`), and swapped with `Target.swap` itself.

SQLite: the live file copied to the build path, then `store_meta` updated in the copy.
PostgreSQL: the build schema made by `Target.build_engine` (drop, create), the model's tables created there by
`Base.metadata.create_all` as the loader does, their rows copied with `INSERT … SELECT` in dependency order;
tables of the live schema the model does not declare (the search table, created by `api.store.search`) copied
with `CREATE TABLE … (LIKE … INCLUDING ALL EXCLUDING INDEXES)`, their rows, then their constraints and indexes
(the GIN index included) re-created from the live schema's definitions; sequences set to the live values; then
`Target.validate` (ANALYZE of the model's tables) and ANALYZE of the others.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import sqlite3
import time

from sqlalchemy import text

from api.ingest.writer import Target
from api.store.models import Base


def new_generation_id(old: str, built_at: dt.datetime) -> str:
    """A generation id of the same form as the loader's (sha256 hex), distinct from `old`."""
    return hashlib.sha256(f"{old}\0copy\0{built_at.isoformat()}".encode()).hexdigest()


class NextGeneration:
    """`prepare()` copies the live store into the loader's build place with a new generation id; `swap()` makes it
    live with the writer's Target.swap. The loader's lock is held from prepare to swap (or `discard`)."""

    def __init__(self, url: str, schema: str = "bulletin"):
        self.target = Target(url, schema)
        self.old_id: str | None = None
        self.new_id: str | None = None
        self.prepare_s: float | None = None
        self.swap_s: float | None = None
        self.articles: int | None = None
        self._locked = False

    def prepare(self) -> str:
        started = time.perf_counter()
        self.target.lock()
        self._locked = True
        try:
            built_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
            if self.target.sqlite:
                self._prepare_sqlite(built_at)
            else:
                self._prepare_postgres(built_at)
        except BaseException:
            self.discard()
            raise
        self.prepare_s = round(time.perf_counter() - started, 2)
        return self.new_id

    def swap(self) -> float:
        """Make the copy live (Target.swap); returns the seconds the swap took."""
        started = time.perf_counter()
        try:
            self.target.swap()
        finally:
            self._unlock()
        self.swap_s = round(time.perf_counter() - started, 4)
        return self.swap_s

    def discard(self) -> None:
        try:
            self.target.discard()
        finally:
            self._unlock()

    def _unlock(self) -> None:
        if self._locked:
            self.target.unlock()
            self._locked = False

    # -- SQLite: a copy of the file, its store_meta updated
    def _prepare_sqlite(self, built_at: dt.datetime) -> None:
        live, build = self.target.live, self.target.build
        build.unlink(missing_ok=True)
        shutil.copyfile(live, build)
        conn = sqlite3.connect(build)
        try:
            self.old_id = conn.execute("SELECT value FROM store_meta WHERE key = 'generation'").fetchone()[0]
            self.new_id = new_generation_id(self.old_id, built_at)
            with conn:
                for key, value in _meta(self.new_id, built_at):
                    conn.execute("UPDATE store_meta SET value = ? WHERE key = ?", (value, key))
            self.articles = conn.execute("SELECT count(*) FROM article").fetchone()[0]
        finally:
            conn.close()

    # -- PostgreSQL: a copy of the schema
    def _prepare_postgres(self, built_at: dt.datetime) -> None:
        target = self.target
        live, build = target.schema, target.build_schema
        engine = target.build_engine()  # DROP SCHEMA build CASCADE; CREATE SCHEMA build
        Base.metadata.create_all(engine)  # the model's tables, sequences, keys and indexes, as the loader makes them
        declared = [t.name for t in Base.metadata.sorted_tables]
        with target.admin.begin() as conn:
            present = set(
                conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": live}).scalars()
            )
            missing = set(declared) - present
            if missing:
                raise RuntimeError(f"schema {live} lacks the tables {sorted(missing)}: not a store of this code")
            for name in declared:
                cols = ", ".join(f'"{c.name}"' for c in Base.metadata.tables[name].columns)
                conn.execute(text(f'INSERT INTO "{build}"."{name}" ({cols}) SELECT {cols} FROM "{live}"."{name}"'))
            extra = sorted(present - set(declared))
            for name in extra:
                conn.execute(text(
                    f'CREATE TABLE "{build}"."{name}" (LIKE "{live}"."{name}" INCLUDING ALL EXCLUDING INDEXES)'
                ))  # fmt: skip
                conn.execute(text(f'INSERT INTO "{build}"."{name}" SELECT * FROM "{live}"."{name}"'))
            _copy_constraints_and_indexes(conn, live, build, extra)
            _copy_sequences(conn, live, build)
            self.old_id = conn.execute(
                text(f"SELECT value FROM \"{live}\".store_meta WHERE key = 'generation'")
            ).scalar()
            self.new_id = new_generation_id(self.old_id, built_at)
            for key, value in _meta(self.new_id, built_at):
                conn.execute(text(f'UPDATE "{build}".store_meta SET value = :v WHERE key = :k'), {"v": value, "k": key})
            self.articles = conn.execute(text(f'SELECT count(*) FROM "{build}".article')).scalar()
        target.validate(engine)  # ANALYZE of the model's tables, as the loader does before its swap
        with target.admin.begin() as conn:
            for name in extra:  # the loader's validate does not name them: give the planner their statistics too
                conn.execute(text(f'ANALYZE "{build}"."{name}"'))
        target.close_build(engine)


def _meta(generation: str, built_at: dt.datetime) -> list[tuple[str, str]]:
    """The generation record of the copy: a new id and build time (the archive name stays)."""
    return [("generation", generation), ("built_at", built_at.isoformat())]


def _copy_constraints_and_indexes(conn, live: str, build: str, tables: list[str]) -> None:
    """Primary, unique, exclusion and foreign keys, then the other indexes of `tables`, as the live schema has them.

    The constraints are read with the live schema on the search path, so they name the tables they reference
    unqualified, and run with the build schema on it, so they reference the build schema's tables; an index
    definition names its table's schema, which is replaced."""
    if not tables:
        return
    conn.execute(text(f'SET LOCAL search_path TO "{live}"'))
    constraints = conn.execute(text(
        "SELECT rel.relname, con.conname, pg_get_constraintdef(con.oid), con.contype FROM pg_constraint con "
        "JOIN pg_class rel ON rel.oid = con.conrelid JOIN pg_namespace ns ON ns.oid = rel.relnamespace "
        "WHERE ns.nspname = :s AND rel.relname = ANY(:t) AND con.contype IN ('p', 'u', 'x', 'f') "
        "ORDER BY con.contype = 'f', rel.relname, con.conname"
    ), {"s": live, "t": tables}).all()  # fmt: skip
    indexes = conn.execute(text(
        "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class rel ON rel.oid = i.indrelid "
        "JOIN pg_namespace ns ON ns.oid = rel.relnamespace WHERE ns.nspname = :s AND rel.relname = ANY(:t) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) ORDER BY 1"
    ), {"s": live, "t": tables}).scalars().all()  # fmt: skip
    conn.execute(text(f'SET LOCAL search_path TO "{build}"'))
    for table, name, definition, _kind in constraints:
        conn.execute(text(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}'))
    for definition in indexes:  # pg_get_indexdef names the table with its schema, always
        quoted = conn.execute(text("SELECT quote_ident(:s)"), {"s": live}).scalar()
        moved = definition.replace(f" ON {quoted}.", f' ON "{build}".', 1)
        if moved == definition:
            raise RuntimeError(f"cannot move the index definition {definition!r} to schema {build}")
        conn.execute(text(moved))
    conn.execute(text("SET LOCAL search_path TO DEFAULT"))


def _copy_sequences(conn, live: str, build: str) -> None:
    """Every sequence of the build schema at its live counterpart's position (the loader inserts explicit ids, so
    these are usually untouched; copied anyway, so the copy is the live schema's in every respect the API reads)."""
    names = conn.execute(text("SELECT sequencename FROM pg_sequences WHERE schemaname = :s"), {"s": build}).scalars()
    for name in list(names):
        row = conn.execute(
            text("SELECT last_value FROM pg_sequences WHERE schemaname = :s AND sequencename = :n"),
            {"s": live, "n": name},
        ).one_or_none()
        if row is not None and row.last_value is not None:
            conn.execute(text("SELECT setval(:q, :v, true)"), {"q": f'"{build}"."{name}"', "v": row.last_value})
