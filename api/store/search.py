"""Ranked full-text search over title, lead and body: SQLite FTS5 or PostgreSQL tsvector + GIN.

The loader calls `build_index(conn)` once per generation, after the articles are inserted. The index holds the
published articles only: drafts and retracted ones never become public without a reload, so their words stay out
of the index and of its statistics (document counts and lengths that every score depends on). Embargoed articles
are in it, since an embargo ends without a reload; until then they count in those statistics (they can shift the
order of public hits slightly) but never match a query result, a count or a snippet, and no score is ever served
(relevance cursors are positions). Visibility is still decided by joining the index to
`queries.public_articles(now)`.

SQLite: an FTS5 table `article_fts` (its own copy of the text; tokenizer `porter unicode61 remove_diacritics 2`,
so English words are stemmed and every script, Cyrillic included, is case- and accent-folded), ranked by
bm25 with title ×10, lead ×4, body ×1. PostgreSQL: a table `article_search` holding a weighted tsvector
(title A, lead B, body C) built with the `english` configuration for English articles and `russian` for
Russian and Belarusian ones (PostgreSQL has no Belarusian stemmer; the Russian one is the nearest), with a
GIN index, ranked by ts_rank. A relevance search ranks a bounded candidate set (`top_candidates`).

User input is never query syntax: `tokens()` splits it into words (letters and digits; everything else is a
separator), and each word is passed as a quoted FTS5 string or through plainto_tsquery, so quotes, AND/OR/NOT,
`-x`, `a:b`, `*`, NEAR and parentheses are plain separators or words.
"""

from __future__ import annotations

import html
import re

from sqlalchemy import Boolean, Float, Integer, Select, bindparam, cast, column, func, select, table, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement

from api.store.models import Article

MARK_START, MARK_END = "\ue000", "\ue001"  # private-use sentinels, replaced by <mark> after HTML-escaping
MAX_TOKENS = 20
_WORD = re.compile(r"\w+", re.UNICODE)


def tokens(q: str | None) -> list[str]:
    """The words of a search text, lower-cased; separators and operators are dropped (at most 20 words)."""
    return [t.casefold() for t in _WORD.findall((q or "").replace("_", " "))][:MAX_TOKENS]


def fts5_query(words: list[str]) -> str:
    """An FTS5 MATCH expression: every word as a quoted string, all required (implicit AND)."""
    return " ".join('"' + w.replace('"', '""') + '"' for w in words)


def _qualified(conn: Connection, name: str) -> str:
    schema = (conn.get_execution_options().get("schema_translate_map") or {}).get(None)
    return f'"{schema}".{name}' if schema else name


def build_index(conn: Connection) -> None:
    """Build the search index of the articles just inserted (same transaction as the load)."""
    strip = f"replace(replace({{}}, '{MARK_START}', ''), '{MARK_END}', '')"
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(
            "CREATE VIRTUAL TABLE article_fts USING fts5("
            "title, lead, body, tokenize = 'porter unicode61 remove_diacritics 2')"
        )
        conn.exec_driver_sql(
            "INSERT INTO article_fts (rowid, title, lead, body) SELECT id, "
            + ", ".join(strip.format(c) for c in ("title", "lead", "body_text"))
            + " FROM article WHERE status = 'published'"
        )
        conn.exec_driver_sql("INSERT INTO article_fts (article_fts) VALUES ('optimize')")
        return
    search, article = _qualified(conn, "article_search"), _qualified(conn, "article")
    conn.exec_driver_sql(
        f"CREATE TABLE {search} (article_id integer PRIMARY KEY REFERENCES {article} (id), "
        "config regconfig NOT NULL, document tsvector NOT NULL)"
    )
    conn.exec_driver_sql(
        f"INSERT INTO {search} (article_id, config, document) "
        "SELECT id, cfg, setweight(to_tsvector(cfg, title), 'A') || setweight(to_tsvector(cfg, lead), 'B') "
        "|| setweight(to_tsvector(cfg, body_text), 'C') FROM ("
        "SELECT *, (CASE WHEN lang = 'en' THEN 'english' ELSE 'russian' END)::regconfig AS cfg "
        f"FROM {article} WHERE status = 'published') AS a"
    )
    conn.exec_driver_sql(f"CREATE INDEX article_search_document ON {search} USING gin (document)")


#: How many of a search's best hits are ranked and served: pages reach this deep, and a total past it is a lower
#: bound, marked as estimated.
CANDIDATES = 1000
_FTS = table("article_fts", column("rowid", Integer), column("rank", Float))
BM25 = "bm25(10.0, 4.0, 1.0)"  # title ×10, lead ×4, body ×1
_PG_MATCH = (
    "(article_search.config = 'english'::regconfig AND article_search.document @@ plainto_tsquery('english', :fts_q))"
    " OR (article_search.config = 'russian'::regconfig AND article_search.document @@ plainto_tsquery('russian', :fts_q))"
)
_DOCUMENTS = table("article_search", column("article_id", Integer), column("config"), column("document"))


def top_candidates(dialect: str, stmt: Select, words: list[str]):
    """A subquery (id, rank) of at most CANDIDATES + 1 of the articles of `stmt` (a select over the article table
    whose conditions say which articles may be found: the public ones under the request's filters) that match
    every word; higher rank is better. The extra one tells that there are more.

    SQLite: FTS5 yields its matches best first (`ORDER BY rank` with the bm25 weights, consumed by the virtual
    table) and the join stops once enough of them pass the conditions: the best CANDIDATES of the full ranking.
    PostgreSQL: the first CANDIDATES + 1 matches that the GIN index and the conditions yield (no order: the
    scan stops there), each then scored with ts_rank; below the bound they are every match.
    The bound is the bound parameter `_candidates`.
    """
    bound = bindparam("_candidates", type_=Integer)
    found = stmt.with_only_columns(Article.id)
    if dialect == "sqlite":
        match = text("article_fts MATCH :fts_q AND article_fts.rank MATCH :fts_rank").bindparams(
            fts_q=fts5_query(words), fts_rank=BM25
        )
        found = found.add_columns((-_FTS.c.rank).label("rank")).join_from(Article, _FTS, _FTS.c.rowid == Article.id)
        return found.where(match).order_by(_FTS.c.rank).limit(bound).subquery("search_hits")
    query = " ".join(words)
    hits = (
        found.add_columns(_DOCUMENTS.c.config, _DOCUMENTS.c.document)
        .join_from(Article, _DOCUMENTS, _DOCUMENTS.c.article_id == Article.id)
        .where(text(_PG_MATCH).bindparams(fts_q=query))
        .limit(bound)
        .subquery("search_matches")
    )
    score = func.ts_rank(hits.c.document, func.plainto_tsquery(hits.c.config, bindparam("fts_pg_q", query)))
    return select(hits.c.id, cast(score, Float).label("rank")).subquery("search_hits")


def snippets(conn: Connection, ids: list[int], words: list[str]) -> dict[int, str]:
    """Article id → an HTML-safe excerpt around the hits, the matched words wrapped in <mark>…</mark>."""
    if not ids or not words:
        return {}
    if conn.dialect.name == "sqlite":
        stmt = text(
            "SELECT rowid, snippet(article_fts, -1, :a, :b, '…', 24) FROM article_fts "
            "WHERE article_fts MATCH :fts_q AND rowid IN :ids"
        ).bindparams(bindparam("ids", expanding=True))
        params = {"fts_q": fts5_query(words)}
    else:
        stmt = text(
            "SELECT a.id, ts_headline(s.config, replace(replace(a.lead || E'\\n' || a.body_text, :a, ''), :b, ''), plainto_tsquery(s.config, :fts_q), "
            "'StartSel=' || :a || ', StopSel=' || :b || ', MaxWords=30, MinWords=12, MaxFragments=2, "
            'FragmentDelimiter=" … "\') FROM article a JOIN article_search s ON s.article_id = a.id '
            "WHERE a.id IN :ids"
        ).bindparams(bindparam("ids", expanding=True))
        params = {"fts_q": " ".join(words)}
    rows = conn.execute(stmt, {**params, "a": MARK_START, "b": MARK_END, "ids": list(ids)})
    return {row[0]: mark(row[1]) for row in rows}


def mark(raw: str) -> str:
    """Escape the text, then turn the sentinels into <mark>…</mark> (the only markup a snippet holds)."""
    escaped = html.escape(raw.replace("\n", " "), quote=False)
    return escaped.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")


class Matches(ColumnElement):
    """`article.id` is among the articles matching every word (a filter usable on any article query)."""

    type = Boolean()
    inherit_cache = False

    def __init__(self, words: list[str]):
        self.words = words


@compiles(Matches, "sqlite")
def _matches_sqlite(element, compiler, **kw):
    query = compiler.process(bindparam(None, fts5_query(element.words), unique=True), **kw)
    return f"{compiler.process(Article.id, **kw)} IN (SELECT rowid FROM article_fts WHERE article_fts MATCH {query})"


@compiles(Matches, "postgresql")
def _matches_postgresql(element, compiler, **kw):
    query = compiler.process(bindparam(None, " ".join(element.words), unique=True), **kw)
    return (
        f"{compiler.process(Article.id, **kw)} IN (SELECT article_id FROM article_search WHERE "
        f"(config = 'english'::regconfig AND document @@ plainto_tsquery('english', {query})) "
        f"OR (config = 'russian'::regconfig AND document @@ plainto_tsquery('russian', {query})))"
    )
