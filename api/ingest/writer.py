"""The store writer: build a new generation beside the live one, record changes, validate, swap atomically."""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import os
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import orjson
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from api import clock
from api.ingest.captures import publication_time
from api.ingest.media import Catalog, media_hash
from api.ingest.merge import BATCH, Index, in_batches
from api.ingest.records import BULK_IMPORTED, ArticleRecord
from api.ingest.related import build_related
from api.ingest.report import LoadFailed, LoadReport
from api.ingest.text import blocks_to_html, blocks_to_text, image_blocks, word_count
from api.ingest.vocabulary import Vocabulary
from api.store import counts, search, visibility
from api.store.db import is_sqlite, sqlite_path
from api.store.models import (
    UNKNOWN_TIME,
    Alias,
    Article,
    ArticleUrl,
    Base,
    Change,
    Issue,
    MediaFile,
    MediaUse,
    Section,
    StoreMeta,
    Trend,
)
from api.store.visibility import public_articles

SWAP_ATTEMPTS = 40  # PostgreSQL swap attempts (each waits at most 200 ms for readers' locks)
#: How long after its changes are recorded the old generation may still be served: the build's last steps, the
#: swap and every instance noticing it (GENERATION_CHECK_INTERVAL), with room for instances' clocks. An article a
#: load withdraws whose embargo ends before then may reach clients from the old generation, so it gets a tombstone;
#: one whose embargo ends later is forgotten (its slug never surfaces). The cost of the margin: an article withdrawn
#: by a load that swaps in just before its embargo ends is named by a tombstone once that time has passed. The
#: build's end is measured from when _build starts (the plan and the lock before it, the validation and the swap
#: after the changes are recorded fall within the margin), and near the margin's edge which articles get a
#: tombstone, and so the generation id, depends on how long the build took.
SERVED_MARGIN = dt.timedelta(minutes=10)


def issue_title(start: dt.date) -> str:
    """`February 14 – February 20, 2022`; the year once at the end, twice when the week crosses years."""
    end = start + dt.timedelta(days=6)
    if start.year != end.year:
        return f"{start:%B} {start.day}, {start.year} – {end:%B} {end.day}, {end.year}"
    return f"{start:%B} {start.day} – {end:%B} {end.day}, {end.year}"


def _published_at(rec: ArticleRecord) -> dt.datetime:
    """The publication time to store: the one the archive gives (captures.publication_time), else UNKNOWN_TIME,
    which sorts before every known time and is served as null; never the capture's fetch time."""
    known = publication_time(rec, bulk=rec.week_source == BULK_IMPORTED)
    return known or UNKNOWN_TIME


def article_row(rec: ArticleRecord, article_id: int, position: int) -> dict:
    published = _published_at(rec)
    row = {
        "id": article_id,
        "slug": rec.slug,
        "title": rec.title,
        "lead": rec.lead,
        "body_html": rec.body_html or blocks_to_html(rec.blocks),
        "body_text": blocks_to_text(rec.blocks),
        "word_count": word_count(rec.lead + "\n\n" + blocks_to_text(rec.blocks)),
        "blocks": rec.blocks,
        "lang": rec.lang,
        "translation_key": rec.translation_key,
        "section_slug": rec.section,
        "trend_slug": rec.trend,
        "issue_start": rec.week_start,
        "position": position,
        "authors": rec.authors,
        "image": rec.image,
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


def build_and_swap(
    index: Index,
    target: Target,
    root: Path,
    vocab: Vocabulary,
    report: LoadReport,
    now: dt.datetime | None = None,
    media: Catalog | None = None,
) -> None:
    target.lock()
    try:
        engine = target.build_engine()
        try:
            _build(engine, target, root, vocab, index, report, now or clock.now(), media)
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


def _insertin_batches(conn, model, rows: Iterable[dict]) -> None:
    in_batches(rows, lambda batch: conn.execute(insert(model), batch))


def _planned_record(plan: dict) -> ArticleRecord:
    """Pass 2: the richest record of one article, read back from the index, with what its duplicates lend it."""
    fields = orjson.loads(plan.pop("record"))
    for name in _RECORD_DATETIMES:
        fields[name] = fields[name] and dt.datetime.fromisoformat(fields[name])
    fields.update((name, value) for name, value in plan.items() if name != "id")
    fields["timestamp"] = plan["timestamp"] and dt.datetime.fromisoformat(plan["timestamp"])
    fields["week_start"] = plan["week_start"] and dt.date.fromisoformat(plan["week_start"])
    return ArticleRecord(**fields)


def shown_images(rec: ArticleRecord) -> set[str]:
    """The hashes of the archive's images an article shows (its lead image and inline ones)."""
    found = [rec.image] if rec.image else []
    found += [b for b in image_blocks(rec.blocks) if b.get("renditions")]
    return {media_hash(image["url"]) for image in found}


def _media_rows(media: Catalog, hashes: list[str]) -> Iterator[dict]:
    for digest, width, ext, height, mime, data in media.renditions(hashes):
        etag = '"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"'
        yield {"hash": digest, "width": width, "ext": ext, "height": height, "type": mime, "etag": etag, "data": data}


def _build(engine, target, root, vocab, index: Index, report, now: dt.datetime, media: Catalog | None = None) -> None:
    started = time.monotonic()
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
        _insertin_batches(conn, Issue, issues)

        uses: list[dict] = []  # (image, article) pairs: a few per article at most

        def article_rows() -> Iterator[dict]:
            for plan in index.articles():  # streamed in slug order: one parsed record in memory at a time
                rec = _planned_record(plan)
                row = article_row(rec, plan["id"], rec.position)
                uses.extend({"hash": h, "article_id": plan["id"]} for h in sorted(shown_images(rec)))
                digest.update(row["content_hash"].encode())
                if rec.truncated:
                    report.truncated.append(rec.slug)
                if rec.week_start is None:
                    report.without_issue.append(rec.slug)
                if rec.week_source == BULK_IMPORTED:
                    report.bulk_imported.append(rec.slug)
                if rec.section and rec.section in vocab.provisional:
                    report.new_sections.setdefault(rec.section, []).append(rec.slug)
                yield row

        def alias_rows() -> Iterator[dict]:
            for slug, article_id, url in index.aliases():
                digest.update(f"{slug}\0{article_id}".encode())
                yield {"slug": slug, "article_id": article_id, "url": url}

        def url_rows() -> Iterator[dict]:
            for url, article_id in index.urls():
                digest.update(f"{url}\0{article_id}".encode())
                yield {"url": url, "article_id": article_id}

        _insertin_batches(conn, Article, article_rows())
        _insertin_batches(conn, Alias, alias_rows())
        _insertin_batches(conn, ArticleUrl, url_rows())
        _insertin_batches(conn, MediaUse, uses)
        # Only the images a stored article shows: those of a losing duplicate are not served.
        shown = sorted({u["hash"] for u in uses})
        if media is not None and shown:
            sizes: list[int] = []

            def write(batch: list[dict]) -> None:
                conn.execute(insert(MediaFile), batch)
                sizes.extend(len(r["data"]) for r in batch)

            in_batches(_media_rows(media, shown), write, size=50)  # a rendition may be a few hundred KB
            report.images, report.media_bytes = len(shown), sum(sizes)
        search.build_index(conn)  # the full-text index of the articles just inserted (api/store/search.py)
        report.related_rows = build_related(conn, now, digest)  # what the related-articles lookup reads
        counts.build_counts(conn)  # the totals of filter sets, summed instead of counted (api/store/counts.py)

        # The change feed is served content too: two stores of the same archive with different histories (a
        # fresh one and one that has seen edits, or two whose removed articles had other languages) must not share
        # a generation, nor the cached responses keyed by it: every row of the log goes into the digest.
        served_until = now + dt.timedelta(seconds=time.monotonic() - started) + SERVED_MARGIN
        report.changes_recorded = _record_changes(conn, previous, now, served_until, digest)
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
            select(func.count()).select_from(public_articles(now).where(
                (Article.status != "published") | (Article.embargo_until > now)
            ).subquery())
        ).scalar()  # fmt: skip
        if leaked:
            raise LoadFailed("the public query would show unpublished articles", report)
        drift = search.copies_drift(conn)
        if drift:
            raise LoadFailed(f"{drift} search documents disagree with their articles' columns", report)
        report.public_articles = conn.execute(
            select(func.count()).select_from(public_articles(now).subquery())
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


_LOG_COLUMNS = tuple(c.key for c in Change.__table__.columns)


def _digest_log(digest, rows: list[dict]) -> None:
    """Every column of each change row, in a fixed order (a carried row lacking a newer column counts as None),
    times in UTC: a row digests the same when written and when read back by the next load."""

    def value(v):
        return v.astimezone(dt.UTC).isoformat() if isinstance(v, dt.datetime) else v

    for row in rows:
        digest.update(orjson.dumps([value(row.get(key)) for key in _LOG_COLUMNS]))


def _record_changes(conn, previous: dict | None, now: dt.datetime, served_until: dt.datetime, digest) -> int:
    """Carry the change log forward and append what this load changed (upserts and tombstones), each row of the
    whole log, in seq order, fed to `digest`. Changes are recorded at `now`, when the load began; the old generation
    is served until `served_until` (its build's end with SERVED_MARGIN), and what it may have served by then is
    what a withdrawal must take back."""
    history = previous["changes"] if previous else []
    old = previous["articles"] if previous else {}

    def old_from(r) -> dt.datetime | None:
        """From when the old generation serves `r`: now, when its embargo ends, or never."""
        return visibility.visible_from(r.status, r.embargo_until, now)

    def maybe_served(r) -> bool:
        return visibility.is_public_row(r, served_until)

    def removed_at(r) -> dt.datetime:
        # public now: removed now; public from an embargo's end during the load: just after its upsert there
        start = old_from(r)
        return now if start == now else start + dt.timedelta(microseconds=1)

    # An article withdrawn before it ever became visible is forgotten entirely, so not even its slug surfaces.
    # "Ever" is the log's word, not the last store's: one public once, then embargoed again by a later load and now
    # withdrawn, was seen by clients, and the tombstone that load recorded must stay.
    seen = {c["slug"] for c in history if c["visible_at"] <= served_until}
    unseen = [
        slug for slug, before in old.items()
        if before.status == "published" and not maybe_served(before) and slug not in seen
    ]  # fmt: skip
    still = {r.slug for r in _built_articles(conn, unseen) if r.status == "published"}
    forgotten = set(unseen) - still
    history = [c for c in history if c["slug"] not in forgotten]
    # A tombstone a load timed after an embargo it withdrew (removed_at) that has not come yet, of an article this
    # load publishes again from before then: no client can have seen the article go, and this load's upsert would
    # sort before it, so the article would end removed. It is dropped; a tombstone the clock has passed stays.
    pending = {c["slug"] for c in history if c["kind"] == "delete" and c["visible_at"] > now}
    back = {
        r.slug: visibility.visible_from(r.status, r.embargo_until, now)
        for r in _built_articles(conn, sorted(pending))
        if r.status == "published"
    }
    history = [
        c for c in history
        if not (c["kind"] == "delete" and c["slug"] in back and back[c["slug"]] <= c["visible_at"] and c["visible_at"] > now)
    ]  # fmt: skip
    _insertin_batches(conn, Change, history)
    _digest_log(digest, history)
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
            _digest_log(digest, rows)
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
        visible_at = visibility.visible_from(row.status, row.embargo_until, now)
        if before is not None and maybe_served(before) and visible_at > old_from(before):
            # public until this load (or from an embargo's end before the swap), embargoed again (or on): removed
            # then, back (the upsert below) when the new embargo ends
            record("delete", row.slug, removed_at(before), before.section_slug, before.lang, None)
        record(
            "upsert", row.slug, visible_at, row.section_slug, row.lang, row.content_hash,
            before.section_slug if before is not None and before.section_slug != row.section_slug else None,
            before.lang if before is not None and before.lang != row.lang else None,
        )  # fmt: skip
    for slug, before in old.items():
        if before.status == "published" and slug not in published_now and maybe_served(before):
            record("delete", slug, removed_at(before), before.section_slug, before.lang, None)
    if rows:
        conn.execute(insert(Change), rows)
        _digest_log(digest, rows)
    return recorded
