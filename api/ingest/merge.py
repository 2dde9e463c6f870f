"""Deduplication: which captures are one article, which copy wins, and what its duplicates lend it.

Pass one of a load puts what it learns of every capture in a scratch SQLite index (`Index`); grouping and the
winner rule run as SQL and Python over it, so memory stays flat with archive size.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from urllib.parse import urlsplit

import orjson

from api.ingest.captures import bulk_import_stamps
from api.ingest.documents import LANGUAGES
from api.ingest.records import BULK_IMPORTED, ArticleRecord
from api.ingest.text import slugify
from api.ingest.vocabulary import BulkImportRule
from api.store import visibility

BATCH = 500


def _url_slug(url: str) -> str | None:
    segments = [s for s in urlsplit(url).path.split("/") if s]
    return slugify(segments[-1]) if segments else None


def identity_keys(rec: ArticleRecord) -> set[str]:
    """Keys under which two copies are the same article: URL slug (any scheme, host, ?page=N), title and
    translation key, each *within one language*: copies in different languages are different articles."""
    lang = rec.lang
    keys = {f"slug:{lang}:{rec.slug}", f"title:{lang}:{slugify(rec.title)}"}
    keys.update(f"slug:{lang}:{s}" for url in rec.urls if (s := _url_slug(url)))
    if rec.translation_key:
        keys.add(f"tk:{lang}:{rec.translation_key}")
    return keys


def richness(rec: ArticleRecord) -> tuple:
    """Which duplicate to keep, after visibility: week + trend beats none, untruncated beats truncated, a document
    beats a capture, then the longest, then a digest of the content (never the file's path or position)."""
    text_len = len(rec.lead) + sum(len(b.get("text", "")) + sum(map(len, b.get("items", []))) for b in rec.blocks)
    return (
        rec.week_start is not None and rec.trend is not None,
        not rec.truncated,
        rec.source == "document",
        text_len,
        content_digest(rec),
    )


def content_digest(rec: ArticleRecord) -> str:
    """A digest of everything a copy says but where its file lies: the last, order-independent tie-break."""
    return hashlib.sha256(orjson.dumps(replace(rec, path="", line=0))).hexdigest()


def visible_from(status: str, embargo_until: str | None, now: dt.datetime) -> dt.datetime | None:
    """From when a copy is public (`now` at the earliest, since a load serves from now on); None: never."""
    return visibility.visible_from(status, embargo_until and dt.datetime.fromisoformat(embargo_until), now)


def may_lend(lender: dt.datetime | None, winner: dt.datetime | None) -> bool:
    """A copy lends to the winner only what is public whenever the winner is: a hidden copy (a draft, a retraction,
    a later embargo) lends a public winner nothing: no caption, credit, section, trend, week, alias or URL."""
    if winner is None:  # a hidden winner shows nothing to anyone; whatever it is lent stays hidden with it
        return True
    return lender is not None and lender <= winner


_INDEX_SCHEMA = """
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
CREATE TABLE capture (
    idx INTEGER PRIMARY KEY, grp INTEGER, path TEXT, rel TEXT, slug TEXT, lang TEXT, status TEXT,
    embargo_until TEXT, complete INTEGER, untruncated INTEGER, document INTEGER, text_len INTEGER, digest TEXT,
    timestamp TEXT, week_start TEXT, week_source TEXT, section TEXT, trend TEXT,
    image_caption TEXT, image_credit TEXT, position INTEGER, record BLOB
);
CREATE TABLE ident (key TEXT, idx INTEGER);
CREATE TABLE key_group (key TEXT PRIMARY KEY, grp INTEGER) WITHOUT ROWID;
CREATE TABLE lender (idx INTEGER PRIMARY KEY, grp INTEGER);  -- the copies whose facts the article may show
CREATE TABLE alias_source (idx INTEGER, declared INTEGER, seq INTEGER, slug TEXT, url TEXT);
CREATE TABLE plan (
    id INTEGER, grp INTEGER, best INTEGER, members INTEGER, rel TEXT, slug TEXT, lang TEXT,
    document INTEGER, timestamp TEXT, week_start TEXT, week_source TEXT, section TEXT, trend TEXT,
    image_caption TEXT, image_credit TEXT, position INTEGER
);
"""
# What a duplicate can lend the richest capture of its article, in the order the index stores them.
_LENT = ("timestamp", "week_start", "week_source", "section", "trend", "image_caption", "image_credit")


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class Index:
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
        complete, untruncated, document, text_len, digest = richness(rec)
        lent = (
            _iso(rec.timestamp), _iso(rec.week_start), rec.week_source, rec.section, rec.trend,
            rec.image_caption, rec.image_credit,
        )  # fmt: skip
        self._captures.append(
            (idx, str(file), rec.path, rec.slug, rec.lang, rec.status, _iso(rec.embargo_until), complete, untruncated,
             document, text_len, digest, *lent, rec.position, orjson.dumps(rec))
        )  # fmt: skip
        self._keys.extend((key, idx) for key in sorted(identity_keys(rec)))
        for seq, url in enumerate(rec.urls or [None]):
            self._aliases.append((idx, 0, seq, _url_slug(url) if url else rec.slug, url))
        self._aliases.extend((idx, 1, seq, alias, None) for seq, alias in enumerate(rec.aliases))
        if len(self._captures) >= BATCH:
            self._flush()

    def _flush(self) -> None:
        self.db.executemany(
            "INSERT INTO capture (idx, path, rel, slug, lang, status, embargo_until, complete, untruncated, document, "
            "text_len, digest, timestamp, week_start, week_source, section, trend, image_caption, image_credit, "
            "position, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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

    def bulk_stamps(self, rule: BulkImportRule | None = None) -> list[str]:
        """Canonical-view stamps of a bulk import (captures.bulk_import_stamps), one stamp per *article* (group):
        the copies of one article stamped alike are one stamp, not a burst."""
        rows = self.db.execute(
            "SELECT min(timestamp) FROM capture WHERE week_source = 'timestamp' AND timestamp IS NOT NULL GROUP BY grp"
        )
        return bulk_import_stamps((dt.datetime.fromisoformat(stamp) for (stamp,) in rows), rule)

    def plan(self, bulk: set[str], now: dt.datetime) -> None:
        """One row per article: its winning copy, what its duplicates may lend it, its id and editorial position.

        The winner is the most visible copy (public now, then the earliest embargo end, then drafts and
        retractions), then the richest (`richness`), ties broken by a digest of the content, and between copies of
        identical content by the first path: never by the order files were read in. A duplicate lends only if it
        is public whenever the winner is, in the winner rule's order.
        """
        columns = (
            "grp, idx, complete, untruncated, document, text_len, digest, status, embargo_until, rel, slug, lang, "
            "position, " + ", ".join(_LENT)
        )
        rows = self.db.execute(f"SELECT {columns} FROM capture ORDER BY grp, idx")
        first_lent = 13
        never = dt.datetime.max.replace(tzinfo=dt.UTC)
        self.hidden_copies = []

        def rank(member: tuple) -> tuple:
            start = visible_from(member[7], member[8], now)
            return (start is not None, -(start or never).timestamp(), *member[2:7])

        def planned() -> Iterator[tuple]:
            for grp, group in groupby(rows, key=itemgetter(0)):
                # byte-identical copies tie on every rank and the digest: the first path wins (a stable sort keeps
                # the path order among equals), so the read order cannot decide which file `source_path` names
                members = sorted(sorted(group, key=itemgetter(9)), key=rank, reverse=True)
                best = members[0]
                best_from = visible_from(best[7], best[8], now)
                lent = dict(zip(_LENT, best[first_lent:], strict=True))
                lenders = [best[1]]
                for other in members[1:]:
                    if not may_lend(visible_from(other[7], other[8], now), best_from):
                        self.hidden_copies.append(f"{best[10]}: {other[9]} ({other[7]}) lends nothing to {best[9]}")
                        continue
                    lenders.append(other[1])
                    facts = dict(zip(_LENT, other[first_lent:], strict=True))
                    for name in ("section", "trend", "image_caption", "image_credit"):
                        lent[name] = lent[name] or facts[name]
                    if lent["week_start"] is None and facts["week_start"] is not None:
                        for name in ("week_start", "week_source", "timestamp"):
                            lent[name] = facts[name]
                stamp = lent["timestamp"] and lent["timestamp"][:16].replace("T", " ")
                if lent["week_source"] == "timestamp" and stamp in bulk:
                    # A bulk-import stamp says nothing about the week, nor about when the article was published.
                    lent["week_start"], lent["week_source"] = None, BULK_IMPORTED
                self._lenders.extend((idx, grp) for idx in lenders)
                yield (grp, best[1], len(members), best[9], best[10], best[11], best[4], *lent.values(), best[12])

        self._lenders: list[tuple] = []
        in_batches(planned(), self._insert_plan)
        self.db.executemany("INSERT INTO lender VALUES (?, ?)", self._lenders)
        self._lenders = []
        self.hidden_copies.sort()
        self.renamed = self._separate_languages()
        # Article ids in slug order; editorial position given by the document, else publication order (stamp, then
        # slug) in (issue, section): content, never file names, decides.
        self.db.executescript(
            "CREATE TABLE article_plan AS SELECT grp, best, members, rel, slug, "
            + ", ".join(_LENT)
            + ", row_number() OVER (ORDER BY slug) AS id, CASE WHEN coalesce(position, 0) > 0 THEN position "
            "ELSE row_number() OVER (PARTITION BY week_start, section, coalesce(position, 0) > 0 "
            "ORDER BY timestamp IS NULL, timestamp, slug) END AS position FROM plan; "
            "CREATE INDEX article_plan_id ON article_plan (id);"
        )

    def _separate_languages(self) -> list[str]:
        """Copies in different languages are different articles, even under one slug (a capture's slug comes from
        its URL; a translation may be filed under its original's slug): the slug stays with an article whose winner
        is an editorial document, then with the first language of LANGUAGES; the others become `<slug>-<lang>`,
        listed in the report. Two articles of one language under one slug are left for the load to refuse."""
        renamed = []
        shared = self.db.execute(
            "SELECT slug FROM plan GROUP BY slug HAVING count(*) > 1 AND count(DISTINCT lang) = count(*) ORDER BY slug"
        ).fetchall()
        for (slug,) in shared:
            holders = self.db.execute("SELECT grp, lang, document FROM plan WHERE slug = ?", (slug,)).fetchall()
            holders.sort(key=lambda h: (-h[2], LANGUAGES.index(h[1]) if h[1] in LANGUAGES else len(LANGUAGES), h[1]))
            for grp, lang, _ in holders[1:]:
                self.db.execute("UPDATE plan SET slug = ? WHERE grp = ?", (f"{slug}-{lang}", grp))
                renamed.append(f"{slug} ({lang}) -> {slug}-{lang}")
        return renamed

    def _insert_plan(self, batch: list[tuple]) -> None:
        self.db.executemany(
            "INSERT INTO plan (grp, best, members, rel, slug, lang, document, "
            + ", ".join(_LENT)
            + ", position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            f"SELECT p.id, p.slug, p.position, {lent}, c.record FROM article_plan p JOIN capture c ON c.idx = p.best "
            "ORDER BY p.id"
        )
        names = [d[0] for d in cursor.description]
        for row in cursor:
            yield dict(zip(names, row, strict=True))

    def aliases(self) -> Iterator[tuple[str, int, str | None]]:
        """(alias slug, article id, URL): every other URL slug of the copies that may lend to an article and the
        slugs its winning document declares, never another article's slug, each alias to the first article (slug
        order) naming it."""
        return self.db.execute(
            "SELECT slug, id, url FROM (SELECT a.slug, p.id, a.url, row_number() OVER "
            "(PARTITION BY a.slug ORDER BY p.id, a.declared, coalesce(a.url, ''), a.seq) AS n FROM alias_source a "
            "JOIN lender l ON l.idx = a.idx JOIN article_plan p ON p.grp = l.grp "
            "WHERE a.slug IS NOT NULL AND a.slug != '' AND (a.declared = 0 OR a.idx = p.best) "
            "AND a.slug NOT IN (SELECT slug FROM article_plan)) WHERE n = 1 ORDER BY id, slug"
        )

    def urls(self) -> Iterator[tuple[str, int]]:
        """(URL, article id) of every copy that may lend to an article; one URL is one identity key per language."""
        return self.db.execute(
            "SELECT DISTINCT a.url, p.id FROM alias_source a JOIN lender l ON l.idx = a.idx "
            "JOIN article_plan p ON p.grp = l.grp WHERE a.declared = 0 AND a.url IS NOT NULL ORDER BY p.id, a.url"
        )


def in_batches(rows: Iterable, write: Callable[[list], object], size: int = BATCH) -> None:
    """Hand a stream of rows to `write` `size` at a time (memory stays flat with the archive)."""
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            write(batch)
            batch = []
    if batch:
        write(batch)
