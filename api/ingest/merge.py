"""Deduplication: which captures are one article, which copy wins, and what its duplicates lend it.

Pass one of a load puts what it learns of every capture in a scratch SQLite index (`Index`); grouping and the
winner rule run as SQL and Python over it, so memory stays flat with archive size.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from urllib.parse import urlsplit

import orjson

from api.ingest.records import ArticleRecord
from api.ingest.text import slugify

BATCH = 500
BULK_STAMP_MIN = 3  # this many canonical-view stamps equal to the minute mark a bulk import, not a week


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

        in_batches(planned(), self._insert_plan)
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


def in_batches(rows: Iterable, write: Callable[[list], object]) -> None:
    """Hand a stream of rows to `write` BATCH at a time (memory stays flat with the archive)."""
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            write(batch)
            batch = []
    if batch:
        write(batch)
