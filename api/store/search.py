"""Ranked full-text search over title, lead and body: SQLite FTS5 or PostgreSQL tsvector + GIN.

The loader calls `build_index(conn)` once per generation, after the articles are inserted. The index holds the
published articles only: drafts and retracted ones never become public without a reload, so their words stay out
of the index and of its statistics (document counts and lengths that every score depends on). Embargoed articles
are in it, since an embargo ends without a reload; until then they count in those statistics (they can shift the
order of public hits slightly) but never match a query result, a count or a snippet, and no score is ever served
(relevance cursors are positions). Visibility is decided by the one rule (`visibility.is_public`) over the
articles, or on PostgreSQL over the documents' copies of its columns, and again as a page joins its articles.

SQLite: an FTS5 table `article_fts` (its own copy of the text; tokenizer `porter unicode61 remove_diacritics 2`,
so English words are stemmed and every script, Cyrillic included, is case- and accent-folded), ranked by
bm25 with title ×10, lead ×4, body ×1; past 16 384 published articles also contentless FTS5 tables of the newest
ones (`TIERS`), on which a search past SCORED matches scores its candidates. PostgreSQL: a table `article_search`
holding a weighted tsvector (title A, lead B, body C) built with the `english` configuration for English articles
and `russian` for Russian and Belarusian ones (PostgreSQL has no Belarusian stemmer; the Russian one is the
nearest), with a GIN index, ranked by ts_rank, beside copies of the article columns the visibility rule and the
filters read (`COPIED`), so candidates are found without reading the articles. A relevance search scores a bounded
candidate set, the newest SCORED matches (`top_candidates`): exact at or below it, the best of the newest past it
(docs/performance.md#search-cost).

User input is never query syntax: `tokens()` splits it into words (letters and digits; everything else is a
separator), and each word is passed as a quoted FTS5 string or through plainto_tsquery, so quotes, AND/OR/NOT,
`-x`, `a:b`, `*`, NEAR and parentheses are plain separators or words.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import NamedTuple

from sqlalchemy import (
    Boolean,
    Float,
    Integer,
    Select,
    bindparam,
    cast,
    column,
    func,
    literal,
    literal_column,
    select,
    table,
    text,
)
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
        top = conn.exec_driver_sql("SELECT max(id) FROM article").scalar()
        if top is not None and top >= KEY_IDS:
            raise ValueError(f"the search index keys hold article ids below {KEY_IDS}, not {top}")
        conn.exec_driver_sql(
            f"INSERT INTO article_fts (rowid, title, lead, body) SELECT {_sqlite_key('article')}, "
            + ", ".join(strip.format(c) for c in ("title", "lead", "body_text"))
            + " FROM article WHERE status = 'published'"
        )
        conn.exec_driver_sql("INSERT INTO article_fts (article_fts) VALUES ('optimize')")
        _build_tiers(conn)
        return
    search, article = _qualified(conn, "article_search"), _qualified(conn, "article")
    columns = Article.__table__.c
    copies = ", ".join(
        f"{name} {columns[name].type.compile(conn.dialect)}{'' if columns[name].nullable else ' NOT NULL'}"
        for name in COPIED
    )
    conn.exec_driver_sql(
        f"CREATE TABLE {search} (article_id integer PRIMARY KEY REFERENCES {article} (id), "
        f"seq integer NOT NULL UNIQUE, config regconfig NOT NULL, document tsvector NOT NULL, {copies})"
    )
    conn.exec_driver_sql(  # written in recency order, so a window of the newest is a run of adjacent pages
        f"INSERT INTO {search} (article_id, seq, config, document, {', '.join(COPIED)}) "
        "SELECT id, row_number() OVER (ORDER BY date_trunc('second', published_at), id), cfg, "
        "setweight(to_tsvector(cfg, title), 'A') || setweight(to_tsvector(cfg, lead), 'B') "
        f"|| setweight(to_tsvector(cfg, body_text), 'C'), {', '.join(COPIED)} FROM ("
        "SELECT *, (CASE WHEN lang = 'en' THEN 'english' ELSE 'russian' END)::regconfig AS cfg "
        f"FROM {article} WHERE status = 'published') AS a ORDER BY 2"
    )
    conn.exec_driver_sql(f"CREATE INDEX article_search_document ON {search} USING gin (document)")
    conn.exec_driver_sql(f"ANALYZE {search}")  # the planner weighs a word's matches by these statistics


def _build_tiers(conn: Connection) -> None:
    """SQLite: index the newest TIERS[i] published articles again, each set in a contentless FTS5 table of its own
    (`content=''`: the index and its statistics, no copy of the text), listed in TIER_TABLE with the least recency
    key (rowid) each holds. Only sizes below the number of published articles get a table."""
    conn.exec_driver_sql(
        f"CREATE TABLE {TIER_TABLE} (name TEXT PRIMARY KEY, size INTEGER NOT NULL, least INTEGER NOT NULL)"
    )
    indexed = conn.exec_driver_sql("SELECT count(*) FROM article WHERE status = 'published'").scalar()
    for size in sorted(TIERS):
        if indexed <= size:
            break
        name = f"article_fts_{size}"
        conn.exec_driver_sql(
            f"CREATE VIRTUAL TABLE {name} USING fts5(title, lead, body, content = '', "
            "tokenize = 'porter unicode61 remove_diacritics 2')"
        )
        newest = f"SELECT rowid, title, lead, body FROM article_fts ORDER BY rowid DESC LIMIT {int(size)}"
        conn.exec_driver_sql(f"INSERT INTO {name} (rowid, title, lead, body) {newest}")
        conn.exec_driver_sql(f"INSERT INTO {name} ({name}) VALUES ('optimize')")
        conn.exec_driver_sql(
            f"INSERT INTO {TIER_TABLE} (name, size, least) SELECT '{name}', {int(size)}, min(rowid) FROM ({newest})"
        )


#: How many of a search's best hits are ranked and served: pages reach this deep.
CANDIDATES = 1000
#: How many matches a relevance search scores at most: the newest SCORED public matches of its words and filters
#: (by publication time to the second, then slug). At or below it that is every match, so the ranking is exact and
#: so is the total; past it the total is SCORED, marked as estimated (a lower bound).
SCORED = 1000
#: SQLite: an indexed article's FTS5 rowid is its publication second × KEY_IDS + its id (ids follow slug order), so
#: FTS5 walks matches newest first (`ORDER BY rowid DESC`, consumed by the virtual table, stops at the LIMIT).
KEY_IDS = 1 << 24
#: SQLite: the sizes of the recent tiers, contentless FTS5 indexes of the newest published articles (by recency
#: key). A search past SCORED matches scores its candidates with bm25 on the smallest tier holding all of them: FTS5
#: computes a word's inverse document frequency by walking its posting list in the index it runs on, so a common
#: word then costs at most a tier's entries, not the archive's. The trade-off: past SCORED, the scores' document
#: frequencies and length normalisation are the tier's (the newest tens of thousands of articles), not the whole
#: archive's; at or below SCORED the full index scores every match, exactly (docs/performance.md#search-cost).
TIERS = (16384, 131072)
TIER_TABLE = "article_fts_tier"  # name, size, least rowid of each recent tier (SQLite)
#: PostgreSQL: the first window `recent_matches` looks in is the newest WALK × (SCORED + 1) seq values. A word with
#: more than SCORED public matches there (about one document in WALK or more) is common, and its candidates are
#: read by walking that window down the seq index and testing each document: a cost bounded by the window, whatever
#: the archive's size or the word's matches. A sparser word's window is wider, up to the whole index, and walking
#: it would test every document in it: its candidates come from the GIN index instead, at what its matches cost.
WALK = 4


class Found(NamedTuple):
    """What `recent_matches` found, a fact of the content (kept per generation, filter set and backend):
    `found`, how many public articles match, counted up to SCORED + 1 (more than SCORED: there are more); `least`,
    past SCORED the least recency key of the newest SCORED + 1 of them (SQLite: the FTS5 rowid; PostgreSQL: seq),
    else 0 (every match is a candidate); `walk` (PostgreSQL), whether those lie in the first window, the newest
    WALK × (SCORED + 1) seq values."""

    found: int
    least: int
    walk: bool = False


#: What recent_matches finds of a search with at most SCORED matches: every match is a candidate
FEW = Found(0, 0)
#: The conditions a search's articles meet, over a table of the article's columns (or copies of them): `where(t)`
Where = Callable[[object], tuple]
FULL_INDEX = "article_fts"
_INDEX_NAME = re.compile(r"article_fts(_[0-9]+)?")
_PG_MATCH = (  # one parenthesised condition on the documents `{t}`: ANDed with the visibility rule and the filters
    "(({t}.config = 'english'::regconfig AND {t}.document @@ plainto_tsquery('english', :fts_q))"
    " OR ({t}.config = 'russian'::regconfig AND {t}.document @@ plainto_tsquery('russian', :fts_q)))"
)
#: PostgreSQL: the article columns each search document carries a copy of: every column the visibility rule and
#: the list filters read, and the slug (a page's tie-breaker). A search finds, filters, counts and orders its
#: candidates in the documents alone and reads the articles of its page only: joining each candidate to its
#: article for those columns cost more than finding and scoring it (1 000 index lookups into the wide article
#: rows, 6 of a cold page's 15 ms at 100 000 articles). The copies are written with the documents, in the load's
#: transaction, and the page statement still joins its articles under the visibility rule.
COPIED = ("slug", "status", "embargo_until", "section_slug", "trend_slug", "issue_start", "lang", "updated_at")
_DOCUMENTS = table(
    "article_search", column("article_id", Integer), column("seq", Integer), column("config"), column("document")
)
_DOCUMENTS_WITH_COPIES = table(  # a column belongs to one table: the documents' own are declared again
    "article_search",
    *(column(c.name, c.type) for c in _DOCUMENTS.c),
    *(column(name, Article.__table__.c[name].type) for name in COPIED),
)


def _documents(copies: bool):
    """The search documents as a table, with their copies of the article columns when the store has them."""
    return _DOCUMENTS_WITH_COPIES if copies else _DOCUMENTS


#: PostgreSQL: a boolean SQL expression, whether the documents table (`:documents`) has every COPIED column
#: (`:names`); with copies_params, alone (has_copies) or in the store's poll of the generation (one statement).
#: It counts nothing (an array containment): the tests that pin what a request counts read every statement.
COPIES_SQL = (
    "(coalesce((SELECT array_agg(attname::text) FROM pg_attribute WHERE attrelid = to_regclass(:documents) "
    "AND NOT attisdropped), '{}') @> CAST(:names AS text[]))"
)


def copies_params(conn: Connection) -> dict:
    return {"documents": _qualified(conn, "article_search"), "names": list(COPIED)}


def has_copies(conn: Connection) -> bool:
    """PostgreSQL: whether the store's search documents carry the COPIED article columns (a store built before
    them does not: its searches join every candidate to its article). Always False on SQLite."""
    if conn.dialect.name != "postgresql":
        return False
    return bool(conn.execute(text(f"SELECT {COPIES_SQL}"), copies_params(conn)).scalar())


def copies_drift(conn: Connection) -> int:
    """PostgreSQL: how many published articles lack a search document, or have one whose copies of the article
    columns differ from the article's, plus documents of articles not published (the loader refuses to swap in a
    store where this is not 0: the copies decide which articles a search counts and ranks). 0 on SQLite."""
    if conn.dialect.name != "postgresql":
        return 0
    search, article = _qualified(conn, "article_search"), _qualified(conn, "article")
    copies, originals = (", ".join(f"{t}.{name}" for name in COPIED) for t in ("s", "a"))
    return conn.exec_driver_sql(
        f"SELECT count(*) FROM {article} a FULL JOIN {search} s ON s.article_id = a.id "
        f"WHERE (a.status = 'published') IS DISTINCT FROM (s.article_id IS NOT NULL) "
        f"OR (s.article_id IS NOT NULL AND ({copies}) IS DISTINCT FROM ({originals}))"
    ).scalar()


def _newest_documents(documents):
    """PostgreSQL: the `documents` of seq `_search_from` and newer, as the newest (max seq − `_search_from` + 1)
    rows walked down the seq index. A LIMIT with an ORDER BY of the index is read that way by every plan, the
    generic plan of a prepared statement included, which knows neither the words nor the window: given `seq >= $n`
    and the words instead, it chose to AND the GIN index's bitmap of every match of a common word (51 096 at
    100 000 articles, twice: once per configuration) with the seq range, twice the cost of reading the window."""
    newest = select(func.max(documents.c.seq)).scalar_subquery()
    window = newest - bindparam("_search_from", type_=Integer) + 1
    rows = select(*documents.c).order_by(documents.c.seq.desc()).limit(window)
    return rows.subquery("search_window")


def _sqlite_key(name: str) -> str:
    """The FTS5 rowid of the article row `name` (publication second × KEY_IDS + id; the unknown time is 0)."""
    return f"CAST(strftime('%s', {name}.published_at) AS INTEGER) * {KEY_IDS} + {name}.id"


def _fts(index: str):
    """The FTS5 table `index` (the full index or a recent tier) as a selectable of its rowid."""
    if not _INDEX_NAME.fullmatch(index):
        raise ValueError(f"not a search index: {index!r}")
    return table(index, column("rowid", Integer))


def _bm25(index: str) -> str:
    return f"bm25({index}, 10.0, 4.0, 1.0)"  # title ×10, lead ×4, body ×1 (lower is better)


def _recent_matches(
    dialect: str,
    where: Where,
    words: list[str],
    columns=lambda source: (),
    since=None,
    index: str = FULL_INDEX,
    copies: bool = False,
) -> Select:
    """The articles meeting the conditions `where(t)` (over `t`, the article table or the documents' copies of
    its columns) and matching every word, newest first, as (id, recency key `recency`, slug, and the
    `columns(source)` of the index or documents they come from), at most the bound parameter `_candidates` of
    them; on SQLite in the FTS5 table `index`; on PostgreSQL those of recency (seq) from `since`, by default from
    the parameter `_search_from` (the window `recent_matches` found, read newest first), read from the documents
    alone when they carry the copies (`copies`), else joined to their articles."""
    if dialect == "sqlite":
        fts = _fts(index)
        match = text(f"{index} MATCH :fts_q").bindparams(fts_q=fts5_query(words))
        recency = fts.c.rowid
        found = select(Article.id, recency.label("recency"), Article.slug, *columns(fts))
        found = found.join_from(Article, fts, Article.id == fts.c.rowid.op("&")(KEY_IDS - 1))
        return (
            found.where(*where(Article), match).order_by(recency.desc()).limit(bindparam("_candidates", type_=Integer))
        )
    documents = _documents(copies)
    documents = documents if since is not None else _newest_documents(documents)
    match = text(_PG_MATCH.format(t=documents.name)).bindparams(fts_q=" ".join(words))
    recency = documents.c.seq
    if copies:
        found = select(documents.c.article_id.label("id"), recency.label("recency"), documents.c.slug)
        found = found.add_columns(*columns(documents)).where(*where(documents.c), match)
    else:
        found = select(Article.id, recency.label("recency"), Article.slug, *columns(documents))
        found = found.join_from(Article, documents, documents.c.article_id == Article.id).where(*where(Article), match)
    if since is not None:
        # seq + 0: never the seq index's order. A prepared statement's generic plan does not know the words, and
        # walking that index backwards testing every document would cost the whole archive for a rare word; so the
        # matches come from the GIN index (and the seq range), sorted (a top-N sort).
        found = found.where(recency >= since)
        recency = recency + 0
    return found.order_by(recency.desc()).limit(bindparam("_candidates", type_=Integer))


def top_candidates(
    dialect: str,
    where: Where,
    words: list[str],
    index: str = FULL_INDEX,
    matches: Found = FEW,
    copies: bool = False,
):
    """A subquery (id, slug, rank, nth) of the newest SCORED + 1 articles meeting the conditions `where(t)` (those
    that may be found: the public ones under the request's filters, over `t`, a table of the article's columns)
    that match every word; higher rank is better, `nth` is the position in recency (1 = newest). The candidates
    are those of nth ≤ SCORED; the extra one tells that there are more. The bound is the parameter `_candidates`
    (SCORED + 1). The slug comes with them: a page's order (rank, slug) is the candidates' own.

    Only the candidates are scored, and finding them costs what they cost, not what all the hits do:
    SQLite: FTS5 yields the matches newest first by rowid (the recency key) and the join stops once enough of them
    pass the conditions; each is scored with bm25 (title ×10, lead ×4, body ×1) in `index`, the full index or the
    recent tier holding every candidate (`index_holding`: the same candidates, walked in a smaller index; the
    scores' statistics are the tier's).
    PostgreSQL, by `matches` (recent_matches): past SCORED, in the first window (`walk`, a common word), the newest
    documents from seq `_search_from` (`search_from`) on, read down the seq index and tested; past SCORED in a
    wider window, the matches of seq `_search_from` and newer, from the GIN index; at most SCORED, every match, from
    the GIN index. Each is tested against the conditions on the documents' copies of the article columns
    (`copies`; else joined to its article) and scored with ts_rank as it is found, and the subquery is sorted in a
    page's order (rank, slug), so a page joins its own articles after the sort, under its LIMIT, not every
    candidate before it. Below the bound each is every match, so the ranking is the exact full ranking.
    """
    if dialect == "sqlite":
        score = literal_column(f"-{_bm25(index)}", Float)
        recent = _recent_matches(dialect, where, words, lambda fts: (score.label("rank"),), index=index)
    else:
        query = bindparam("fts_pg_q", " ".join(words))

        def score(documents):
            rank = func.ts_rank(documents.c.document, func.plainto_tsquery(documents.c.config, query))
            return (cast(rank, Float).label("rank"),)

        if matches.found <= SCORED:
            since = literal(0)  # a rare word: every match
        else:  # past SCORED: the window from `_search_from`, walked when it is the first one
            since = None if matches.walk else bindparam("_search_from", type_=Integer)
        recent = _recent_matches(dialect, where, words, score, since=since, copies=copies)
    recent = recent.subquery("search_recent")
    nth = func.row_number().over(order_by=recent.c.recency.desc())
    hits = select(recent.c.id, recent.c.slug, recent.c.rank, nth.label("nth"))
    if dialect != "sqlite":
        hits = hits.order_by(recent.c.rank.desc(), recent.c.slug)
    return hits.subquery("search_hits")


def recent_matches(session, where: Where, params: dict, words: list[str], copies: bool = False) -> Found:
    """How many of the articles meeting the conditions `where(t)` match every word and where the newest SCORED + 1
    of them lie (Found): facts of the content, the same on every store of one generation and backend, so the web
    layer may share them; where the candidates are read and scored follows from them: PostgreSQL's `_search_from`
    (`search_from`) and the way top_candidates reads them, SQLite's index (`index_holding`).

    SQLite counts the newest SCORED + 1 matches (FTS5 walks them newest first and stops; nothing is scored).
    PostgreSQL counts the matches among the newest WALK × (SCORED + 1) seq values (in the documents alone when they
    carry the copies): a common word is settled there, at the window's cost. Fewer: it counts every match up to
    SCORED + 1 in no order (a rare word is settled there, at what its hits cost); more than SCORED: it looks in
    windows four times wider each time, until one holds SCORED + 1 matches or covers the whole index."""
    dialect = session.get_bind().dialect.name
    values = {**params, "_candidates": SCORED + 1}
    if dialect == "sqlite":
        recent = _recent_matches(dialect, where, words).subquery()
        n, least = session.execute(select(func.count(), func.min(recent.c.recency)), values).one()
        return Found(n, least if n > SCORED else 0)
    # windows seq > newest - width, one statement each (the newest seq, the index's size, is a subquery)
    start = select(func.max(_DOCUMENTS.c.seq)).scalar_subquery() - bindparam("_width", type_=Integer)
    recent = _recent_matches(dialect, where, words, since=start + 1, copies=copies).subquery()
    probe = select(func.count(), func.min(recent.c.recency), start)
    width = WALK * (SCORED + 1)
    n, least, begins = session.execute(probe, {**values, "_width": width}).one()
    if n > SCORED:  # a common word: settled in the first window
        return Found(n, least, walk=True)
    if begins is None or begins <= 0:
        return Found(n, 0)
    # fewer in the newest window: every match, counted up to SCORED + 1 in no order (the GIN bitmap, the heap scan
    # stopping there); a rare word is settled here, at what its hits cost
    every = _recent_matches(dialect, where, words, since=literal(0), copies=copies).order_by(None).subquery()
    n = session.scalar(select(func.count()).select_from(every), values)
    if n <= SCORED:
        return Found(n, 0)
    while True:  # a word between: wider windows, until one holds SCORED + 1 or covers the index
        width *= 4
        n, least, begins = session.execute(probe, {**values, "_width": width}).one()
        if n > SCORED or begins <= 0:
            return Found(n, least if n > SCORED else 0)


def search_from(found: int, least: int) -> int:
    """PostgreSQL: the `_search_from` of top_candidates, the least seq of the newest SCORED + 1 matches when more
    than SCORED match, else 0 (every match)."""
    return least if found > SCORED else 0


def read_tiers(conn: Connection) -> tuple[tuple[str, int], ...]:
    """SQLite: the store's recent tiers as (name, least recency key), smallest first; none on PostgreSQL or in a
    store built before the tiers."""
    if conn.dialect.name != "sqlite":
        return ()
    listed = text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name")
    if conn.execute(listed, {"name": TIER_TABLE}).first() is None:
        return ()
    rows = conn.execute(text(f"SELECT name, least FROM {TIER_TABLE} ORDER BY size")).all()
    return tuple((name, least) for name, least in rows if _INDEX_NAME.fullmatch(name))


def index_holding(tiers: tuple[tuple[str, int], ...], found: int, least: int) -> str:
    """SQLite: the index a search scores its candidates in: when more than SCORED match, the smallest of `tiers`
    (read_tiers) holding every indexed article of recency key ≥ `least`; else, or when none does, the full index."""
    if found > SCORED:
        for name, tier_least in tiers:
            if tier_least <= least:
                return name
    return FULL_INDEX


#: PostgreSQL: ts_headline parses all the text it is given, so its cost grows with the article (about 0.02 ms a
#: word); it is given a window of HEADLINE_WINDOW characters instead, from HEADLINE_BEFORE characters before the
#: first word that starts with a query word or its stem (the window's ends are moved to whitespace), or from the
#: start when none does. A match only past the window is not marked (as a search engine bounds the text it
#: analyses for highlighting); the excerpt still comes from the article.
HEADLINE_WINDOW, HEADLINE_BEFORE = 600, 150


def pg_snippets_sql(window: int, before: int) -> str:
    """The PostgreSQL snippets statement with a headline window of `window` characters from `before` characters
    before the first match (bench/snippets.py also builds it with a window holding the whole text)."""
    return f"""
SELECT a.id, ts_headline(s.config, w.text, CAST(replace(CAST(plainto_tsquery(s.config, :fts_q) AS text), ' & ', ' | ') AS tsquery),
       'StartSel=' || :a || ', StopSel=' || :b || ', MaxWords=30, MinWords=12, MaxFragments=2, '
       || 'FragmentDelimiter=" … "')
FROM article a JOIN article_search s ON s.article_id = a.id
-- OFFSET 0: each text is computed once per row (a flattened subquery would repeat it where it is used)
CROSS JOIN LATERAL (
    SELECT full_text, lower(full_text) AS low
    FROM (SELECT replace(replace(a.lead || E'\\n' || a.body_text, :a, ''), :b, '') AS full_text OFFSET 0) x OFFSET 0
) t
CROSS JOIN LATERAL (
    SELECT coalesce(min(nullif(regexp_instr(t.low, '\\m' || k), 0)), 1) AS first_hit  -- at a word's start
    FROM unnest(tsvector_to_array(to_tsvector(s.config, :fts_q)) || CAST(:needles AS text[])) AS n,
         regexp_replace(n, '\\W', '', 'g') AS k  -- word characters only: no pattern syntax
    WHERE k <> ''
) f
CROSS JOIN LATERAL (  -- from the first whitespace after HEADLINE_BEFORE characters before it (or the start) ...
    SELECT CASE WHEN f.first_hit <= {before} THEN 1
                ELSE f.first_hit - {before}
                     + strpos(substr(t.full_text, f.first_hit - {before}, {before}), ' ') END AS start
) b
CROSS JOIN LATERAL (  -- ... to the first whitespace after HEADLINE_WINDOW characters (or the end)
    SELECT substr(t.full_text, b.start, {window}
                  + strpos(substr(t.full_text, b.start + {window}, 100) || ' ', ' ') - 1) AS text
) w
WHERE a.id IN :ids
"""


def snippets_statement(sql: str):
    """A snippets statement's text made executable: the ids expand to a list."""
    return text(sql).bindparams(bindparam("ids", expanding=True))


def pg_snippets_params(ids: list[int], words: list[str]) -> dict:
    """What the PostgreSQL snippets statement binds for `ids` and the query's `words`."""
    return {"fts_q": " ".join(words), "needles": sorted({w.lower() for w in words}), "ids": list(ids),
            "a": MARK_START, "b": MARK_END}  # fmt: skip


# built once: text() parses its SQL for parameters, which a search page need not pay each time
_PG_SNIPPETS = snippets_statement(pg_snippets_sql(HEADLINE_WINDOW, HEADLINE_BEFORE))
_SQLITE_SNIPPETS = snippets_statement(
    f"SELECT rowid & {KEY_IDS - 1}, snippet(article_fts, -1, :a, :b, '…', 24) FROM article_fts "
    "WHERE article_fts MATCH :fts_q AND rowid IN (SELECT " + _sqlite_key("article") + " FROM article WHERE id IN :ids)"
)


def snippets(conn: Connection, ids: list[int], words: list[str]) -> dict[int, str]:
    """Article id → an HTML-safe excerpt around the hits, the matched words wrapped in <mark>…</mark>."""
    if not ids or not words:
        return {}
    if conn.dialect.name == "sqlite":
        params = {"fts_q": fts5_query(words), "ids": list(ids), "a": MARK_START, "b": MARK_END}
        rows = conn.execute(_SQLITE_SNIPPETS, params)
    else:
        rows = conn.execute(_PG_SNIPPETS, pg_snippets_params(ids, words))
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
    return f"{compiler.process(Article.id, **kw)} IN (SELECT rowid & {KEY_IDS - 1} FROM article_fts WHERE article_fts MATCH {query})"


@compiles(Matches, "postgresql")
def _matches_postgresql(element, compiler, **kw):
    query = compiler.process(bindparam(None, " ".join(element.words), unique=True), **kw)
    return (
        f"{compiler.process(Article.id, **kw)} IN (SELECT article_id FROM article_search WHERE "
        f"(config = 'english'::regconfig AND document @@ plainto_tsquery('english', {query})) "
        f"OR (config = 'russian'::regconfig AND document @@ plainto_tsquery('russian', {query})))"
    )
