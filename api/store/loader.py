"""The archive loader: parse every file, deduplicate, build a new store beside the live one, validate, swap."""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import os
import shutil
import sqlite3
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from urllib.parse import urlsplit

import orjson
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from api import clock
from api.store import queries, search
from api.store.db import is_sqlite, sqlite_path
from api.store.documents import parse_document
from api.store.models import Alias, Article, ArticleUrl, Base, Change, Issue, Section, StoreMeta, Trend
from api.store.records import ArchiveError, ArticleRecord, Skip
from api.store.text import blocks_to_html, blocks_to_text, slugify
from api.store.vocabulary import Vocabulary

BATCH = 500
SWAP_ATTEMPTS = 40  # PostgreSQL swap attempts (each waits at most 200 ms for readers' locks)
SCRATCH_PREFIX = "bulletin-loader-"  # + pid: the scratch index of a load, in the temporary directory
BULK_STAMP_MIN = 3  # this many canonical-view stamps equal to the minute mark a bulk import, not a week


class LoadFailed(Exception):
    """The load was refused; the live store is untouched. `report` says why."""

    def __init__(self, message: str, report: LoadReport | None = None):
        super().__init__(message)
        self.report = report


@dataclass
class LoadReport:
    """What one load did, file by file, summed up for the editor (and as JSON with --report json)."""

    archive: str = ""
    files_read: int = 0
    articles_loaded: int = 0
    public_articles: int = 0
    merged_duplicates: int = 0
    skipped: dict[str, list[str]] = field(default_factory=dict)  # reason → paths
    rejected: list[str] = field(default_factory=list)  # `path:line: reason`
    truncated: list[str] = field(default_factory=list)
    without_issue: list[str] = field(default_factory=list)
    bulk_import_stamps: list[str] = field(default_factory=list)
    issues_per_year: dict[str, int] = field(default_factory=dict)
    changes_recorded: int = 0
    generation: str = ""
    swapped: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------------------------------- parsing


def archive_files(root: Path) -> Iterator[Path]:
    """Every archive file under root, in a stable order (sorted paths)."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "_")))
        for name in sorted(filenames):
            if not name.startswith("."):
                yield Path(dirpath) / name


def parse_file(path: Path, root: Path, vocab: Vocabulary) -> ArticleRecord | Skip:
    """Parse one file of the archive by its kind (editorial document or page capture)."""
    rel = str(path.relative_to(root.parent)) if root.parent != path else str(path)
    try:
        raw = path.read_bytes()
        content = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ArchiveError(rel, line, "not valid UTF-8") from None
    if path.suffix == ".md":
        return parse_document(rel, content, vocab)
    if path.suffix == ".txt":
        from api.store.captures import parse_capture

        return parse_capture(rel, content, vocab)
    return Skip(rel, f"not an archive file ({path.suffix or 'no extension'})")


def _url_slug(url: str) -> str | None:
    segments = [s for s in urlsplit(url).path.split("/") if s]
    return slugify(segments[-1]) if segments else None


def identity_keys(rec: ArticleRecord) -> set[str]:
    """Keys under which two captures are the same article: URL slug (any scheme, host, ?page=N) and title."""
    keys = {f"slug:{rec.slug}", f"title:{rec.lang}:{slugify(rec.title)}"}
    keys.update(f"slug:{s}" for url in rec.urls if (s := _url_slug(url)))
    if rec.translation_key:
        keys.add(f"tk:{rec.translation_key}:{rec.lang}")
    return keys


def richness(rec: ArticleRecord) -> tuple:
    """Which duplicate to keep: week + trend beats none, untruncated beats truncated, then the longest."""
    text_len = len(rec.lead) + sum(len(b.get("text", "")) + sum(map(len, b.get("items", []))) for b in rec.blocks)
    return (
        rec.week_start is not None and rec.trend is not None,
        not rec.truncated,
        rec.source == "document",
        text_len,
        rec.path,
    )


_INDEX_SCHEMA = """
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
CREATE TABLE capture (
    idx INTEGER PRIMARY KEY, grp INTEGER, path TEXT, rel TEXT, slug TEXT,
    complete INTEGER, untruncated INTEGER, document INTEGER, text_len INTEGER,
    timestamp TEXT, week_start TEXT, week_source TEXT, section TEXT, trend TEXT,
    image_caption TEXT, image_credit TEXT, position INTEGER, record BLOB
);
CREATE TABLE ident (key TEXT, idx INTEGER);
CREATE TABLE key_group (key TEXT PRIMARY KEY, grp INTEGER) WITHOUT ROWID;
CREATE TABLE alias_source (idx INTEGER, declared INTEGER, seq INTEGER, slug TEXT, url TEXT);
CREATE TABLE plan (
    id INTEGER, grp INTEGER, best INTEGER, members INTEGER, path TEXT, rel TEXT, slug TEXT,
    timestamp TEXT, week_start TEXT, week_source TEXT, section TEXT, trend TEXT,
    image_caption TEXT, image_credit TEXT, position INTEGER
);
"""
# What a duplicate can lend the richest capture of its article, in the order the index stores them.
_LENT = ("timestamp", "week_start", "week_source", "section", "trend", "image_caption", "image_credit")


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class _Index:
    """What pass one learns of every capture, kept in a scratch SQLite file instead of memory.

    Identity keys, richness and the few fields a duplicate can lend live on disk, and deduplication runs as SQL
    over them, so the loader's memory stays flat with archive size; pass two then streams the plan it leaves
    (one row per article, in slug order), reading each article's richest record back from the index instead of
    parsing its file a second time.
    """

    def __init__(self, directory: str):
        self.db = sqlite3.connect(Path(directory) / "index.sqlite", isolation_level=None)
        self.db.executescript(_INDEX_SCHEMA)
        self.db.execute("BEGIN")
        self.size = 0
        self._captures: list[tuple] = []
        self._keys: list[tuple] = []
        self._aliases: list[tuple] = []

    def close(self) -> None:
        self.db.close()

    def add(self, file: Path, rec: ArticleRecord) -> None:
        idx = self.size
        self.size += 1
        complete, untruncated, document, text_len, rel = richness(rec)
        lent = (
            _iso(rec.timestamp), _iso(rec.week_start), rec.week_source, rec.section, rec.trend,
            rec.image_caption, rec.image_credit,
        )  # fmt: skip
        self._captures.append(
            (idx, str(file), rel, rec.slug, complete, untruncated, document, text_len, *lent, rec.position,
             orjson.dumps(rec))
        )  # fmt: skip
        self._keys.extend((key, idx) for key in sorted(identity_keys(rec)))
        for seq, url in enumerate(rec.urls or [None]):
            self._aliases.append((idx, 0, seq, _url_slug(url) if url else rec.slug, url))
        self._aliases.extend((idx, 1, seq, alias, None) for seq, alias in enumerate(rec.aliases))
        if len(self._captures) >= BATCH:
            self._flush()

    def _flush(self) -> None:
        self.db.executemany(
            "INSERT INTO capture (idx, path, rel, slug, complete, untruncated, document, text_len, timestamp, "
            "week_start, week_source, section, trend, image_caption, image_credit, position, record) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            self._captures,
        )
        self.db.executemany("INSERT INTO ident VALUES (?, ?)", self._keys)
        self.db.executemany("INSERT INTO alias_source VALUES (?, ?, ?, ?, ?)", self._aliases)
        self._captures, self._keys, self._aliases = [], [], []

    def group(self) -> None:
        """Put captures sharing any identity key, directly or through others, in one group (its lowest idx)."""
        self._flush()
        self.db.executescript(
            "CREATE INDEX ident_key ON ident (key, idx); CREATE INDEX ident_idx ON ident (idx, key);"
            "UPDATE capture SET grp = idx;"
        )
        while True:  # label propagation: each round spreads the lowest label one shared key further
            self.db.execute("DELETE FROM key_group")
            self.db.execute(
                "INSERT INTO key_group SELECT i.key, min(c.grp) FROM ident i JOIN capture c ON c.idx = i.idx "
                "GROUP BY i.key"
            )
            changed = self.db.execute(
                "UPDATE capture SET grp = m.grp FROM (SELECT i.idx, min(k.grp) AS grp FROM ident i "
                "JOIN key_group k ON k.key = i.key GROUP BY i.idx) AS m WHERE capture.idx = m.idx AND m.grp < capture.grp"
            ).rowcount
            if not changed:
                break
        self.db.execute("CREATE INDEX capture_grp ON capture (grp, idx)")

    def bulk_stamps(self) -> list[str]:
        """Canonical-view stamps shared to the minute by several *articles* (groups, not captures)."""
        rows = self.db.execute(
            "SELECT replace(substr(timestamp, 1, 16), 'T', ' ') AS stamp FROM capture "
            "WHERE week_source = 'timestamp' AND timestamp IS NOT NULL "
            "GROUP BY stamp HAVING count(DISTINCT grp) >= ? ORDER BY stamp",
            (BULK_STAMP_MIN,),
        )
        return [stamp for (stamp,) in rows]

    def plan(self, bulk: set[str]) -> None:
        """One row per article: its richest capture, what its duplicates lend it, its id and editorial position."""
        columns = "grp, idx, complete, untruncated, document, text_len, path, rel, slug, position, " + ", ".join(_LENT)
        rows = self.db.execute(f"SELECT {columns} FROM capture ORDER BY grp, idx")

        def planned() -> Iterator[tuple]:
            for grp, group in groupby(rows, key=itemgetter(0)):
                members = list(group)
                best = max(members, key=itemgetter(2, 3, 4, 5, 7))  # richness(), path last
                lent = dict(zip(_LENT, best[10:], strict=True))
                for other in members:  # fill what the richest capture lacks from its duplicates, in file order
                    if other is best:
                        continue
                    facts = dict(zip(_LENT, other[10:], strict=True))
                    for name in ("section", "trend", "image_caption", "image_credit"):
                        lent[name] = lent[name] or facts[name]
                    if lent["week_start"] is None and facts["week_start"] is not None:
                        for name in ("week_start", "week_source", "timestamp"):
                            lent[name] = facts[name]
                stamp = lent["timestamp"] and lent["timestamp"][:16].replace("T", " ")
                if lent["week_source"] == "timestamp" and stamp in bulk:
                    lent["week_start"] = lent["week_source"] = None  # a bulk-import stamp says nothing about the week
                yield (grp, best[1], len(members), best[6], best[7], best[8], *lent.values(), best[9])

        _in_batches(planned(), self._insert_plan)
        # Article ids in slug order; editorial position given by the document, else file order in (issue, section).
        self.db.executescript(
            "CREATE TABLE article_plan AS SELECT grp, best, members, path, rel, slug, "
            + ", ".join(_LENT)
            + ", row_number() OVER (ORDER BY slug) AS id, CASE WHEN coalesce(position, 0) > 0 THEN position "
            "ELSE row_number() OVER (PARTITION BY week_start, section, coalesce(position, 0) > 0 ORDER BY rel) END "
            "AS position FROM plan; CREATE INDEX article_plan_id ON article_plan (id);"
        )

    def _insert_plan(self, batch: list[tuple]) -> None:
        self.db.executemany(
            "INSERT INTO plan (grp, best, members, path, rel, slug, "
            + ", ".join(_LENT)
            + ", position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            batch,
        )

    def one(self, sql: str, *params):
        return self.db.execute(sql, params).fetchone()

    def rows(self, sql: str, *params) -> Iterator[tuple]:
        return self.db.execute(sql, params)

    def articles(self) -> Iterator[dict]:
        """The plan of every article, in id (slug) order."""
        lent = ", ".join(f"p.{name}" for name in _LENT)
        cursor = self.db.execute(
            f"SELECT p.id, p.position, {lent}, c.record FROM article_plan p JOIN capture c ON c.idx = p.best "
            "ORDER BY p.id"
        )
        names = [d[0] for d in cursor.description]
        for row in cursor:
            yield dict(zip(names, row, strict=True))

    def aliases(self) -> Iterator[tuple[str, int, str | None]]:
        """(alias slug, article id, URL): every other URL slug of an article's captures and the slugs its richest
        document declares, never another article's slug, each alias to the first article (slug order) naming it."""
        return self.db.execute(
            "SELECT slug, id, url FROM (SELECT a.slug, p.id, a.url, row_number() OVER "
            "(PARTITION BY a.slug ORDER BY p.id, a.declared, a.idx, a.seq) AS n FROM alias_source a "
            "JOIN capture c ON c.idx = a.idx JOIN article_plan p ON p.grp = c.grp "
            "WHERE a.slug IS NOT NULL AND a.slug != '' AND (a.declared = 0 OR a.idx = p.best) "
            "AND a.slug NOT IN (SELECT slug FROM article_plan)) WHERE n = 1 ORDER BY id, slug"
        )

    def urls(self) -> Iterator[tuple[str, int]]:
        """(URL, article id) of every capture of every article; one URL is one identity key, so one article."""
        return self.db.execute(
            "SELECT DISTINCT a.url, p.id FROM alias_source a JOIN capture c ON c.idx = a.idx "
            "JOIN article_plan p ON p.grp = c.grp WHERE a.declared = 0 AND a.url IS NOT NULL ORDER BY p.id, a.url"
        )


# --------------------------------------------------------------------------------------------- building


def issue_title(start: dt.date) -> str:
    """`February 14 – February 20, 2022`; the year once at the end, twice when the week crosses years."""
    end = start + dt.timedelta(days=6)
    if start.year != end.year:
        return f"{start:%B} {start.day}, {start.year} – {end:%B} {end.day}, {end.year}"
    return f"{start:%B} {start.day} – {end:%B} {end.day}, {end.year}"


def _published_at(rec: ArticleRecord) -> dt.datetime:
    if rec.published_at:
        return rec.published_at
    if rec.timestamp:
        return rec.timestamp
    if rec.week_start:  # the bulletin goes out the Monday after its week
        return dt.datetime.combine(rec.week_start + dt.timedelta(days=7), dt.time(9), dt.UTC)
    return rec.fetched_at or dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def article_row(rec: ArticleRecord, article_id: int, position: int) -> dict:
    published = _published_at(rec)
    row = {
        "id": article_id,
        "slug": rec.slug,
        "title": rec.title,
        "lead": rec.lead,
        "body_html": rec.body_html or blocks_to_html(rec.blocks),
        "body_text": blocks_to_text(rec.blocks),
        "blocks": rec.blocks,
        "lang": rec.lang,
        "translation_key": rec.translation_key,
        "section_slug": rec.section,
        "trend_slug": rec.trend,
        "issue_start": rec.week_start,
        "position": position,
        "authors": rec.authors,
        "image_caption": rec.image_caption,
        "image_credit": rec.image_credit,
        "published_at": published,
        "updated_at": max(rec.updated_at or published, published),
        "status": rec.status,
        "embargo_until": rec.embargo_until,
        "canonical_url": rec.canonical_url or (rec.urls[0] if rec.urls else None),
        "truncated": rec.truncated,
        "sample": rec.sample,
        "source_path": rec.path,
    }
    hashed = {k: v for k, v in row.items() if k not in ("id", "source_path")}
    row["content_hash"] = hashlib.sha256(orjson.dumps(hashed, default=str, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return row


class Target:
    """Where a new generation is built, and how it is swapped in: a file (SQLite) or a schema (PostgreSQL)."""

    def __init__(self, url: str, schema: str = "bulletin"):
        self.url, self.schema = url, schema
        self.sqlite = is_sqlite(url)
        self._lock_fh = None
        self._lock_conn = None
        if self.sqlite:
            self.live = Path(sqlite_path(url))
            self.build = self.live.with_name(f"{self.live.name}.build-{os.getpid()}")
            self.admin = None
        else:
            self.build_schema = f"{schema}_build"
            self.admin = create_engine(url, pool_pre_ping=True)

    # -- locking: a second concurrent loader refuses with a clear message
    def lock(self) -> None:
        if self.sqlite:
            self.live.parent.mkdir(parents=True, exist_ok=True)
            fh = open(self.live.with_name(self.live.name + ".lock"), "a+")  # noqa: SIM115 - held for the load
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.close()
                raise LoadFailed(f"another loader is already building {self.live}; wait for it to finish") from None
            self._lock_fh = fh
            for stale in self.live.parent.glob(self.live.name + ".build-*"):
                stale.unlink()  # left by a killed loader; never the live file
        else:
            conn = self.admin.connect()
            if not conn.execute(
                text("SELECT pg_try_advisory_lock(hashtext(:s))"), {"s": "loader:" + self.schema}
            ).scalar():
                conn.close()
                self.admin.dispose()  # the refused loader leaves no connection behind
                raise LoadFailed(f"another loader is already building schema {self.schema}; wait for it to finish")
            self._lock_conn = conn

    def unlock(self) -> None:
        if self._lock_fh:
            self._lock_fh.close()
        if self._lock_conn:
            self._lock_conn.close()
        if self.admin is not None:
            self.admin.dispose()

    def live_engine(self) -> Engine | None:
        """The live store, for carrying the change log forward; None on a first load."""
        if self.sqlite:
            return create_engine(f"sqlite:///file:{self.live}?mode=ro&uri=true") if self.live.exists() else None
        with self.admin.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": self.schema}).scalar()
        return self.admin.execution_options(schema_translate_map={None: self.schema}) if exists else None

    def build_engine(self) -> Engine:
        if self.sqlite:
            self.build.unlink(missing_ok=True)
            engine = create_engine(f"sqlite:///{self.build}")
            with engine.begin() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=OFF")
            return engine
        with self.admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.build_schema}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{self.build_schema}"'))
        return self.admin.execution_options(schema_translate_map={None: self.build_schema})

    def validate(self, engine: Engine) -> None:
        if self.sqlite:
            with engine.connect() as conn:
                result = conn.exec_driver_sql("PRAGMA integrity_check").scalar()
            if result != "ok":
                raise LoadFailed(f"the new store failed its integrity check: {result}")
        else:  # a freshly filled schema has no planner statistics until autovacuum comes by: give it some now
            with engine.begin() as conn:
                for table in Base.metadata.sorted_tables:
                    conn.execute(text(f'ANALYZE "{self.build_schema}"."{table.name}"'))

    def close_build(self, engine: Engine) -> None:
        """Close the build engine's connections (PostgreSQL build engines share the admin pool, closed at unlock)."""
        if self.sqlite:
            engine.dispose()

    def swap(self) -> None:
        """Make the new generation live in one atomic step."""
        if self.sqlite:
            with open(self.build, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(self.build, self.live)
            dir_fd = os.open(self.live.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
            return
        # A request reads the live tables in one transaction, locking them one by one; dropping the old generation
        # locks each of them exclusively, so a swap under load can deadlock with a reader (found by the fault
        # suite). The loader gives way: a lock_timeout below PostgreSQL's 1 s deadlock_timeout makes it the one
        # that fails (never a reader), then it retries the whole, still atomic, swap.
        old = f"{self.schema}_old"
        for attempt in range(SWAP_ATTEMPTS):
            try:
                with self.admin.begin() as conn:
                    conn.execute(text("SET LOCAL lock_timeout = '200ms'"))
                    conn.execute(text(f'DROP SCHEMA IF EXISTS "{old}" CASCADE'))
                    exists = conn.execute(
                        text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": self.schema}
                    ).scalar()
                    if exists:
                        conn.execute(text(f'ALTER SCHEMA "{self.schema}" RENAME TO "{old}"'))
                    conn.execute(text(f'ALTER SCHEMA "{self.build_schema}" RENAME TO "{self.schema}"'))
                    if exists:
                        conn.execute(text(f'DROP SCHEMA "{old}" CASCADE'))
                return
            except OperationalError as exc:
                sqlstate = getattr(exc.orig, "sqlstate", None)
                if sqlstate not in ("55P03", "40P01") or attempt == SWAP_ATTEMPTS - 1:  # lock timeout, deadlock
                    raise
                time.sleep(0.02 * (attempt + 1))

    def discard(self) -> None:
        if self.sqlite:
            self.build.unlink(missing_ok=True)
        else:
            with self.admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.build_schema}" CASCADE'))


# --------------------------------------------------------------------------------------------- the load


def load_archive(
    path: str | Path,
    database_url: str,
    *,
    schema: str = "bulletin",
    vocabulary: Vocabulary | None = None,
    skip_invalid: bool = False,
    progress: Callable[[int], None] | None = None,
) -> LoadReport:
    """Load the archive at `path` into a new generation of the store and swap it in atomically.

    Strict by default: any rejected file fails the load (LoadFailed, with every `path:line: reason`) and
    the live store is untouched. With skip_invalid the rest is loaded and the rejects are reported.
    """
    root = Path(path).resolve()
    if not root.is_dir():
        raise LoadFailed(f"{path}: no such archive directory")
    vocab = vocabulary or Vocabulary.load()
    report = LoadReport(archive=str(path))
    with _scratch_directory() as scratch:
        index = _Index(scratch)
        try:
            _index_archive(index, root, vocab, report, progress)
            if report.rejected and not skip_invalid:
                raise LoadFailed(f"{len(report.rejected)} file(s) rejected; the live store is untouched", report)
            index.group()
            report.bulk_import_stamps = index.bulk_stamps()
            index.plan(set(report.bulk_import_stamps))
            shared = index.one("SELECT slug FROM article_plan GROUP BY slug HAVING count(*) > 1 ORDER BY slug")
            if shared:
                raise LoadFailed(f"two different articles share the slug '{shared[0]}'", report)
            _build_and_swap(index, Target(database_url, schema), root, vocab, report)
        finally:
            index.close()
    return report


def _scratch_directory() -> tempfile.TemporaryDirectory:
    """A temporary directory for the index, named after this process; ones left by killed loaders go first."""
    for stale in Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*"):
        pid = stale.name.removeprefix(SCRATCH_PREFIX).split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    return tempfile.TemporaryDirectory(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _index_archive(index: _Index, root: Path, vocab: Vocabulary, report: LoadReport, progress) -> None:
    """Pass 1: parse every file, one at a time; keep only what deduplication needs, in the index."""
    for file in archive_files(root):
        report.files_read += 1
        try:
            result = parse_file(file, root, vocab)
        except ArchiveError as exc:
            report.rejected.append(str(exc))
        else:
            if isinstance(result, Skip):
                report.skipped.setdefault(result.reason, []).append(result.path)
            else:
                index.add(file, result)
        if progress:
            progress(report.files_read)


def _build_and_swap(index: _Index, target: Target, root: Path, vocab: Vocabulary, report: LoadReport) -> None:
    target.lock()
    try:
        engine = target.build_engine()
        try:
            _build(engine, target, root, vocab, index, report)
            target.validate(engine)
        except BaseException:
            target.close_build(engine)
            target.discard()
            raise
        target.close_build(engine)
        target.swap()
        report.swapped = True
    finally:
        target.unlock()


_RECORD_DATETIMES = ("timestamp", "published_at", "updated_at", "embargo_until", "fetched_at")


def _in_batches(rows: Iterable, write: Callable[[list], object]) -> None:
    """Hand a stream of rows to `write` BATCH at a time (memory stays flat with the archive)."""
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            write(batch)
            batch = []
    if batch:
        write(batch)


def _insert_in_batches(conn, model, rows: Iterable[dict]) -> None:
    _in_batches(rows, lambda batch: conn.execute(insert(model), batch))


def _planned_record(plan: dict) -> ArticleRecord:
    """Pass 2: the richest record of one article, read back from the index, with what its duplicates lend it."""
    fields = orjson.loads(plan.pop("record"))
    for name in _RECORD_DATETIMES:
        fields[name] = fields[name] and dt.datetime.fromisoformat(fields[name])
    fields.update((name, value) for name, value in plan.items() if name != "id")
    fields["timestamp"] = plan["timestamp"] and dt.datetime.fromisoformat(plan["timestamp"])
    fields["week_start"] = plan["week_start"] and dt.date.fromisoformat(plan["week_start"])
    return ArticleRecord(**fields)


def _build(engine, target, root, vocab, index: _Index, report) -> None:
    now = clock.now()
    Base.metadata.create_all(engine)
    previous = _previous_state(target)
    digest = hashlib.sha256()
    with engine.begin() as conn:
        for s in vocab.sections:
            conn.execute(insert(Section), {"slug": s.slug, "position": s.order, "names": s.names})
            digest.update(orjson.dumps([s.slug, s.order, s.names], option=orjson.OPT_SORT_KEYS))
        for t in vocab.trends:
            conn.execute(insert(Trend), {"slug": t.slug, "direction": t.direction, "labels": t.labels})
            digest.update(orjson.dumps([t.slug, t.direction, t.labels], option=orjson.OPT_SORT_KEYS))
        weeks = [
            dt.date.fromisoformat(week)
            for (week,) in index.rows(
                "SELECT DISTINCT week_start FROM article_plan WHERE week_start IS NOT NULL ORDER BY week_start"
            )
        ]
        issues = []
        for start in weeks:
            iso = start.isocalendar()
            issues.append({"start": start, "end": start + dt.timedelta(days=6),
                           "iso_week": f"{iso.year}-W{iso.week:02d}", "title": issue_title(start)})  # fmt: skip
        _insert_in_batches(conn, Issue, issues)

        def article_rows() -> Iterator[dict]:
            for plan in index.articles():  # streamed in slug order: one parsed record in memory at a time
                rec = _planned_record(plan)
                row = article_row(rec, plan["id"], rec.position)
                digest.update(row["content_hash"].encode())
                if rec.truncated:
                    report.truncated.append(rec.slug)
                if rec.week_start is None:
                    report.without_issue.append(rec.slug)
                yield row

        def alias_rows() -> Iterator[dict]:
            for slug, article_id, url in index.aliases():
                digest.update(f"{slug}\0{article_id}".encode())
                yield {"slug": slug, "article_id": article_id, "url": url}

        def url_rows() -> Iterator[dict]:
            for url, article_id in index.urls():
                digest.update(f"{url}\0{article_id}".encode())
                yield {"url": url, "article_id": article_id}

        _insert_in_batches(conn, Article, article_rows())
        _insert_in_batches(conn, Alias, alias_rows())
        _insert_in_batches(conn, ArticleUrl, url_rows())
        search.build_index(conn)  # the full-text index of the articles just inserted (api/store/search.py)

        report.changes_recorded = _record_changes(conn, previous, now)
        # The change feed is served content too: two stores of the same archive with different histories
        # (say, a fresh one and one that has seen edits) must not share a generation, nor cached responses.
        log = conn.execute(select(func.count(), func.max(Change.seq), func.max(Change.recorded_at))).one()
        digest.update(orjson.dumps([log[0], log[1], log[2].isoformat() if log[2] else None]))
        generation = digest.hexdigest()
        built_at = previous["built_at"] if previous and previous["generation"] == generation else now
        conn.execute(insert(StoreMeta), [
            {"key": "generation", "value": generation},
            {"key": "built_at", "value": built_at.isoformat()},
            {"key": "archive", "value": str(root.name)},
        ])  # fmt: skip
        report.generation = generation
        planned, captures = index.one("SELECT count(*), coalesce(sum(members), 0) FROM article_plan")
        report.articles_loaded = planned
        report.merged_duplicates = captures - planned
        report.issues_per_year = dict(sorted(Counter(str(w.year) for w in weeks).items()))

        # Validation before the swap: counts add up, and the public query shows nothing unpublished.
        stored = conn.execute(select(func.count()).select_from(Article)).scalar()
        if stored != planned:
            raise LoadFailed(f"the new store holds {stored} articles, expected {planned}", report)
        leaked = conn.execute(
            select(func.count()).select_from(queries.public_articles(now).where(
                (Article.status != "published") | (Article.embargo_until > now)
            ).subquery())
        ).scalar()  # fmt: skip
        if leaked:
            raise LoadFailed("the public query would show unpublished articles", report)
        report.public_articles = conn.execute(
            select(func.count()).select_from(queries.public_articles(now).subquery())
        ).scalar()


def _change_log(conn) -> list[dict]:
    """The live change log; a store written by an older version lacks the newer columns: carry what it has."""
    try:
        return [dict(r._mapping) for r in conn.execute(select(Change).order_by(Change.seq))]
    except SQLAlchemyError:
        conn.rollback()
    newer = {Change.previous_section_slug.key, Change.previous_lang.key}
    columns = [c for c in Change.__table__.columns if c.key not in newer]
    return [dict(r._mapping) for r in conn.execute(select(*columns).order_by(Change.seq))]


def _previous_state(target: Target) -> dict | None:
    """The live store's articles (slug → hash, status, embargo) and change log, to diff against."""
    engine = target.live_engine()
    if engine is None:
        return None
    try:
        with engine.connect() as conn:
            meta = dict(conn.execute(select(StoreMeta.key, StoreMeta.value)).all())
            articles = {
                r.slug: r
                for r in conn.execute(
                    select(
                        Article.slug,
                        Article.content_hash,
                        Article.status,
                        Article.embargo_until,
                        Article.section_slug,
                        Article.lang,
                    )
                )
            }
            changes = _change_log(conn)
    except SQLAlchemyError:
        return None  # an unreadable live store is replaced; its history cannot be carried
    finally:
        if target.sqlite:
            engine.dispose()
    return {
        "generation": meta.get("generation"),
        "built_at": dt.datetime.fromisoformat(meta["built_at"]) if "built_at" in meta else None,
        "articles": articles,
        "changes": changes,
    }


def _built_articles(conn, slugs: list[str] | None = None) -> Iterator:
    """(slug, content_hash, status, embargo_until, section_slug, lang) of the new generation (all, or those of
    `slugs`), in slug order, read in keyset pages so that no backend holds them all in memory."""
    columns = (Article.slug, Article.content_hash, Article.status, Article.embargo_until, Article.section_slug,
               Article.lang)  # fmt: skip
    if slugs is not None:
        for first in range(0, len(slugs), BATCH):
            yield from conn.execute(select(*columns).where(Article.slug.in_(slugs[first : first + BATCH])))
        return
    last = None
    while True:
        query = select(*columns).order_by(Article.slug).limit(BATCH)
        page = conn.execute(query if last is None else query.where(Article.slug > last)).all()
        yield from page
        if len(page) < BATCH:
            return
        last = page[-1].slug


def _record_changes(conn, previous: dict | None, now: dt.datetime) -> int:
    """Carry the change log forward and append what this load changed (upserts and tombstones)."""
    history = previous["changes"] if previous else []
    old = previous["articles"] if previous else {}

    def ever_public(r) -> bool:
        return queries.is_public_row(r, now)

    # An article withdrawn before it ever became visible is forgotten entirely, so not even its slug surfaces.
    unseen = [slug for slug, before in old.items() if before.status == "published" and not ever_public(before)]
    still = {r.slug for r in _built_articles(conn, unseen) if r.status == "published"}
    forgotten = set(unseen) - still
    history = [c for c in history if c["slug"] not in forgotten]
    _insert_in_batches(conn, Change, history)
    seq = max((c["seq"] for c in history), default=0)
    rows: list[dict] = []
    recorded = 0

    def record(kind, slug, visible_at, section, lang, content_hash, old_section=None, old_lang=None) -> None:
        nonlocal seq, rows, recorded
        seq += 1
        recorded += 1
        rows.append(
            {"seq": seq, "slug": slug, "kind": kind, "recorded_at": now, "visible_at": visible_at,
             "section_slug": section, "lang": lang, "content_hash": content_hash,
             "previous_section_slug": old_section, "previous_lang": old_lang}
        )  # fmt: skip
        if len(rows) >= BATCH:
            conn.execute(insert(Change), rows)
            rows = []

    published_now: set[str] = set()  # filled on a reload only: which of the old slugs are still published
    for row in _built_articles(conn):
        if row.status != "published":
            continue
        before = old.get(row.slug)
        if before is not None:
            published_now.add(row.slug)
            if before.content_hash == row.content_hash and before.status == "published":
                continue
        visible_at = queries.visible_from(row.embargo_until, now)
        record(
            "upsert", row.slug, visible_at, row.section_slug, row.lang, row.content_hash,
            before.section_slug if before is not None and before.section_slug != row.section_slug else None,
            before.lang if before is not None and before.lang != row.lang else None,
        )  # fmt: skip
    for slug, before in old.items():
        if before.status == "published" and slug not in published_now and ever_public(before):
            record("delete", slug, now, before.section_slug, before.lang, None)
    if rows:
        conn.execute(insert(Change), rows)
    return recorded


def report_lines(report: LoadReport) -> list[str]:
    """The human summary printed at the end of a load."""
    lines = [
        f"archive: {report.archive}",
        f"files read: {report.files_read}",
        f"articles loaded: {report.articles_loaded} ({report.public_articles} public now)",
        f"merged duplicates: {report.merged_duplicates}",
        f"skipped: {sum(len(v) for v in report.skipped.values())}"
        + "".join(f"\n  {reason}: {len(paths)}" for reason, paths in sorted(report.skipped.items())),
        f"rejected: {len(report.rejected)}" + "".join(f"\n  {line}" for line in report.rejected),
        f"truncated: {len(report.truncated)}",
        f"without issue: {len(report.without_issue)}" + "".join(f"\n  {s}" for s in report.without_issue[:50]),
        "issues per year: " + (", ".join(f"{y}: {n}" for y, n in report.issues_per_year.items()) or "none"),
        f"changes recorded: {report.changes_recorded}",
        f"generation: {report.generation[:20]}" + (" (swapped in)" if report.swapped else " (not swapped)"),
    ]
    return lines
