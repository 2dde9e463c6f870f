"""The archive loader: parse every file, deduplicate, build a new store beside the live one, validate, swap."""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
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
from api.store.models import Alias, Article, Base, Change, Issue, Section, StoreMeta, Trend
from api.store.records import ArchiveError, ArticleRecord, Skip
from api.store.text import blocks_to_html, blocks_to_text, slugify
from api.store.vocabulary import Vocabulary

BATCH = 500
SWAP_ATTEMPTS = 40  # PostgreSQL swap attempts (each waits at most 200 ms for readers' locks)
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


@dataclass
class _Summary:
    """What pass one keeps of each record: little enough that memory stays flat with archive size."""

    path: str
    keys: set[str]
    rank: tuple
    timestamp: str | None
    slug: str
    urls: list[str]


class _UnionFind:
    def __init__(self):
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)


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
    files = list(archive_files(root))

    # Pass 1: parse everything, keep only what deduplication needs.
    summaries: list[_Summary] = []
    for i, file in enumerate(files):
        report.files_read += 1
        try:
            result = parse_file(file, root, vocab)
        except ArchiveError as exc:
            report.rejected.append(str(exc))
        else:
            if isinstance(result, Skip):
                report.skipped.setdefault(result.reason, []).append(result.path)
            else:
                summaries.append(
                    _Summary(
                        str(file),
                        identity_keys(result),
                        richness(result),
                        result.timestamp.strftime("%Y-%m-%d %H:%M")
                        if result.week_source == "timestamp" and result.timestamp
                        else None,
                        result.slug,
                        result.urls,
                    )  # fmt: skip
                )
        if progress:
            progress(i + 1)
    if report.rejected and not skip_invalid:
        raise LoadFailed(f"{len(report.rejected)} file(s) rejected; the live store is untouched", report)

    # Duplicates: union records sharing any identity key; the richest of each group wins.
    uf, owner = _UnionFind(), {}
    for i, s in enumerate(summaries):
        uf.find(i)
        for key in s.keys:
            if key in owner:
                uf.union(i, owner[key])
            else:
                owner[key] = i
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(summaries)):
        groups[uf.find(i)].append(i)
    # Several *articles* (groups, not captures: one article's canonical view may be captured thrice) sharing a stamp.
    bulk_stamps = {
        stamp
        for stamp, n in Counter(
            stamp for members in groups.values() for stamp in {summaries[i].timestamp for i in members} if stamp
        ).items()
        if n >= BULK_STAMP_MIN
    }
    report.bulk_import_stamps = sorted(bulk_stamps)

    target = Target(database_url, schema)
    target.lock()
    try:
        engine = target.build_engine()
        try:
            _build(engine, target, root, vocab, summaries, groups, bulk_stamps, report)
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
    return report


def _build(engine, target, root, vocab, summaries, groups, bulk_stamps, report) -> None:
    now = clock.now()
    Base.metadata.create_all(engine)
    previous = _previous_state(target)
    winners: list[tuple[ArticleRecord, list[int]]] = []
    for members in groups.values():
        best = max(members, key=lambda i: summaries[i].rank)
        rec = parse_file(Path(summaries[best].path), root, vocab)
        for i in members:  # fill what the richest capture lacks from its duplicates
            if i == best:
                continue
            other = parse_file(Path(summaries[i].path), root, vocab)
            rec.section = rec.section or other.section
            rec.trend = rec.trend or other.trend
            if rec.week_start is None and other.week_start is not None:
                rec.week_start, rec.week_source, rec.timestamp = other.week_start, other.week_source, other.timestamp
            rec.image_caption = rec.image_caption or other.image_caption
            rec.image_credit = rec.image_credit or other.image_credit
        if rec.week_source == "timestamp" and rec.timestamp and rec.timestamp.strftime("%Y-%m-%d %H:%M") in bulk_stamps:
            rec.week_start = rec.week_source = None  # a bulk-import stamp says nothing about the week
        report.merged_duplicates += len(members) - 1
        winners.append((rec, members))
    winners.sort(key=lambda w: w[0].slug)

    slugs = [w[0].slug for w in winners]
    if len(set(slugs)) != len(slugs):
        dup = next(s for s, n in Counter(slugs).items() if n > 1)
        raise LoadFailed(f"two different articles share the slug '{dup}'", report)

    # Editorial position: given by the document, else file order inside (issue, section).
    positions: dict = defaultdict(int)
    for rec, _ in sorted(winners, key=lambda w: (w[0].position or 0, w[0].path)):
        key = (rec.week_start, rec.section)
        positions[key] = max(positions[key], rec.position or 0) + (0 if rec.position else 1)
        if not rec.position:
            rec.position = positions[key]

    digest = hashlib.sha256()
    with engine.begin() as conn:
        for s in vocab.sections:
            conn.execute(insert(Section), {"slug": s.slug, "position": s.order, "names": s.names})
            digest.update(orjson.dumps([s.slug, s.order, s.names], option=orjson.OPT_SORT_KEYS))
        for t in vocab.trends:
            conn.execute(insert(Trend), {"slug": t.slug, "direction": t.direction, "labels": t.labels})
            digest.update(orjson.dumps([t.slug, t.direction, t.labels], option=orjson.OPT_SORT_KEYS))
        weeks = sorted({rec.week_start for rec, _ in winners if rec.week_start})
        for start in weeks:
            iso = start.isocalendar()
            conn.execute(
                insert(Issue),
                {
                    "start": start,
                    "end": start + dt.timedelta(days=6),
                    "iso_week": f"{iso.year}-W{iso.week:02d}",
                    "title": issue_title(start),
                },
            )
        rows, aliases, seen_alias = [], [], set(slugs)
        new_state = {}
        for article_id, (rec, members) in enumerate(winners, start=1):
            row = article_row(rec, article_id, rec.position)
            rows.append(row)
            digest.update(row["content_hash"].encode())
            new_state[rec.slug] = row
            for i in members:
                for url in summaries[i].urls or [None]:
                    alias = _url_slug(url) if url else summaries[i].slug
                    if alias and alias not in seen_alias:
                        seen_alias.add(alias)
                        aliases.append({"slug": alias, "article_id": article_id, "url": url})
                        digest.update(alias.encode())
            for alias in rec.aliases:
                if alias not in seen_alias:
                    seen_alias.add(alias)
                    aliases.append({"slug": alias, "article_id": article_id, "url": None})
            if rec.truncated:
                report.truncated.append(rec.slug)
            if rec.week_start is None:
                report.without_issue.append(rec.slug)
            if len(rows) >= BATCH:
                conn.execute(insert(Article), rows)
                rows = []
        if rows:
            conn.execute(insert(Article), rows)
        for start in range(0, len(aliases), BATCH):
            conn.execute(insert(Alias), aliases[start : start + BATCH])
        search.build_index(conn)  # the full-text index of the articles just inserted (api/store/search.py)

        report.changes_recorded = _record_changes(conn, previous, new_state, now)
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
        report.articles_loaded = len(winners)
        report.issues_per_year = dict(sorted(Counter(str(w.year) for w in weeks).items()))

        # Validation before the swap: counts add up, and the public query shows nothing unpublished.
        stored = conn.execute(select(func.count()).select_from(Article)).scalar()
        if stored != len(winners):
            raise LoadFailed(f"the new store holds {stored} articles, expected {len(winners)}", report)
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


def _record_changes(conn, previous: dict | None, new_state: dict, now: dt.datetime) -> int:
    """Carry the change log forward and append what this load changed (upserts and tombstones)."""
    history = previous["changes"] if previous else []
    old = previous["articles"] if previous else {}
    recorded = []

    def ever_public(r) -> bool:
        return r.status == "published" and (r.embargo_until is None or r.embargo_until <= now)

    for slug, row in new_state.items():
        if row["status"] != "published":
            continue
        before = old.get(slug)
        if before is not None and before.content_hash == row["content_hash"] and before.status == "published":
            continue
        visible_at = max(now, row["embargo_until"]) if row["embargo_until"] else now
        moved_from = (
            before.section_slug if before is not None and before.section_slug != row["section_slug"] else None,
            before.lang if before is not None and before.lang != row["lang"] else None,
        )
        recorded.append(("upsert", slug, visible_at, row["section_slug"], row["lang"], row["content_hash"], moved_from))
    for slug, before in old.items():
        row = new_state.get(slug)
        if before.status != "published" or (row is not None and row["status"] == "published"):
            continue
        if ever_public(before):
            recorded.append(("delete", slug, now, before.section_slug, before.lang, None, (None, None)))
        else:  # it never became visible: forget it entirely, so not even its slug surfaces
            history = [c for c in history if c["slug"] != slug]
    for start in range(0, len(history), BATCH):
        conn.execute(insert(Change), history[start : start + BATCH])
    seq = max((c["seq"] for c in history), default=0)
    rows = []
    for kind, slug, visible_at, section, lang, content_hash, (old_section, old_lang) in recorded:
        seq += 1
        rows.append(
            {"seq": seq, "slug": slug, "kind": kind, "recorded_at": now, "visible_at": visible_at,
             "section_slug": section, "lang": lang, "content_hash": content_hash,
             "previous_section_slug": old_section, "previous_lang": old_lang}
        )  # fmt: skip
    if rows:
        conn.execute(insert(Change), rows)
    return len(rows)


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
