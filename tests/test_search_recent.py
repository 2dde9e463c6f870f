"""The newest-matches rule of a relevance search (search.SCORED) on a generated archive with drafts and embargoed
articles in English and Russian, on both backends: past the bound the pages are exactly the oracle's ranking of the
newest SCORED visible matches, and a hidden article of either language never takes a candidate's place (the
PostgreSQL match is one condition per language: both must stay under the visibility rule)."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import uuid

import pytest
from sqlalchemy import Column, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.sql import visitors
from sqlalchemy.sql.expression import ColumnClause

from api.store import queries, search
from api.store.models import Article
from tests.conftest import generated_store, make_app, walk
from tests.test_search_topk import _forget, _is_postgres, _newest, _oracle, _spy_on_recent_matches, _walk_fresh

WORDS = ["контроль", "переговоров", "minsk", "export"]


@pytest.fixture(scope="module")
def generated(backend, tmp_path_factory):
    """A generated archive (160 articles, a fifth of the documents embargoed, a tenth drafts) in a store of this
    backend, an app over it and the slugs of its public articles."""
    with generated_store(backend, tmp_path_factory, "recent") as store:
        app = make_app(store, HOT_CACHE_MAX_BYTES=0, CACHE_REDIS_URL=None)
        public = {a["slug"] for a in walk(app.test_client(), "/v1/articles?limit=100")}
        yield app, public
        app.extensions["store"].dispose()


@pytest.mark.parametrize("q", WORDS)
def test_past_scored_the_pages_are_the_best_of_the_newest_visible_matches(generated, monkeypatch, q):
    app, public = generated
    expected = _oracle(app, public, q)
    hits = len(expected)
    assert hits >= 5
    everything = sorted(_oracle(app, None, q), key=lambda r: r[2], reverse=True)  # newest first, hidden ones too
    hidden = [i for i, (slug, _, _) in enumerate(everything) if slug not in public]
    assert hidden and hidden[0] < hits - 1  # a hidden match among the newest: admitted, it would take a place
    found = _spy_on_recent_matches(monkeypatch)
    # PostgreSQL reads the candidates three ways (search.WALK): walking the first window, from the GIN index past a
    # wider one, every match at most SCORED; a window as narrow as SCORED + 1 or as wide as the archive takes each;
    # and tests them on the documents' copies of the article columns, or on the articles (a store without them)
    walks = (1, search.WALK, 10**6) if _is_postgres(app) else (search.WALK,)
    assert app.extensions["store"].current().search_copies is _is_postgres(app)
    for width, copies in itertools.product(walks, {_is_postgres(app), False}):
        monkeypatch.setattr(search, "WALK", width)
        _read_copies(monkeypatch, copies)
        for scored in sorted({1, 3, hidden[0] + 1, hits // 2, hits - 1, hits, hits + 1}):
            monkeypatch.setattr(search, "SCORED", scored)
            slugs = [a["slug"] for a in _walk_fresh(app, q)]
            assert slugs == [s for s, _, _ in _newest(expected, scored)], (width, copies, scored)
            meta = app.test_client().get("/v1/articles", query_string={"q": q, "limit": 1}).get_json()["meta"]
            assert (meta["total"], meta["total_estimated"]) == (min(hits, scored), hits > scored)
            assert app.extensions["store"].current().search_copies is copies
    _read_copies(monkeypatch, True)
    _forget(app)
    if len(walks) > 1:  # each way was taken
        assert {(m.walk, m.found > m.scored) for m in found} == {(True, True), (False, True), (False, False)}


def _generic_plan(app, url: str, page: bool = True) -> dict[str, int]:
    """PostgreSQL: the nodes of the generic plan (plan_cache_mode=force_generic_plan, what a prepared statement
    runs from its sixth execution when PostgreSQL keeps it) of the page statement (or, not `page`, the first probe
    of search.recent_matches) a request to `url` runs against article_search, with sequential scans and plain
    sorts off so the choice is between index paths, as on a large archive: node type, index name and direction → the rows it read (EXPLAIN ANALYZE: returned + removed by its
    filter, over all loops)."""
    seen = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "search_window" in statement or "article_search.seq" in statement:
            seen.append((statement, parameters))

    event.listen(Engine, "before_cursor_execute", capture)
    try:
        assert app.test_client().get(url).status_code == 200
    finally:
        event.remove(Engine, "before_cursor_execute", capture)
    statement, parameters = next((s, p) for s, p in seen if ("row_number()" if page else "count(") in s)
    names = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", statement)))
    prepared = re.sub(r"%\((\w+)\)s", lambda m: f"${names.index(m.group(1)) + 1}", statement)
    nodes: dict[str, int] = {}
    generation = app.extensions["store"].current()
    with generation.engine.connect() as conn:
        for setting in ("plan_cache_mode = force_generic_plan", "enable_seqscan = off", "enable_sort = off"):
            conn.execute(text(f"SET {setting}"))
        conn.exec_driver_sql(f"PREPARE page AS {prepared}")
        values = ", ".join("NULL" if parameters[n] is None else conn.execute(
            text("SELECT quote_literal(CAST(:v AS text))"), {"v": str(parameters[n])}).scalar() for n in names)  # fmt: skip
        plan = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE page({values})").scalar()[0]["Plan"]
        conn.exec_driver_sql("DEALLOCATE page")

    def walk_nodes(node):
        name = f"{node['Node Type']} {node.get('Index Name', '')} {node.get('Scan Direction', '')}".strip()
        read = (node["Actual Rows"] + node.get("Rows Removed by Filter", 0)) * node["Actual Loops"]
        nodes[name] = nodes.get(name, 0) + read
        for child in node.get("Plans", ()):
            walk_nodes(child)

    walk_nodes(plan)
    return nodes


def test_postgres_reads_a_common_words_window_down_the_seq_index_in_every_plan(generated, monkeypatch):
    """Past SCORED matches the candidates are the matches in the window of the newest documents from the least
    recency found: PostgreSQL must read that window down the seq index and test each document, in every plan. The
    page statement is prepared, and a generic plan knows neither the words nor the window: given `seq >= $n` and
    the words, it ANDed the GIN index's bitmap of every match of the word with the seq range (twice the cost of
    the window at 100 000 articles, and growing with the word's matches)."""
    app, public = generated
    if not _is_postgres(app):
        pytest.skip("a PostgreSQL plan")
    q = "minsk"
    hits = len(_oracle(app, public, q))
    monkeypatch.setattr(search, "SCORED", hits // 4)
    found = _spy_on_recent_matches(monkeypatch)
    _forget(app)
    nodes = _generic_plan(app, f"/v1/articles?q={q}&limit=5")
    assert found[-1].walk, found  # the word is common in the first window
    window = search.WALK * (search.SCORED + 1)
    assert window < _documents(app)  # so a walk of the whole index reads more than the window
    assert 0 < nodes.get("Index Scan article_search_seq_key Backward", 0) <= window, nodes  # the window, no more
    assert not [n for n in nodes if "article_search_document" in n], nodes  # no GIN bitmap of every match
    _forget(app)


def test_postgres_reads_a_sparser_words_candidates_from_the_gin_index_in_every_plan(generated, monkeypatch):
    """Past SCORED matches but fewer than SCORED in the first window, the candidates' window may span the whole
    archive: walking it down the seq index would test every document in it (at 100 000 articles, a word with 1 200
    matches would read nearly all of them on every page). Its candidates come from the GIN index, in every plan."""
    app, public = generated
    if not _is_postgres(app):
        pytest.skip("a PostgreSQL plan")
    q = "minsk"
    monkeypatch.setattr(search, "SCORED", len(_oracle(app, public, q)) // 4)
    monkeypatch.setattr(search, "WALK", 1)  # a first window of SCORED + 1 documents: too few of them match
    found = _spy_on_recent_matches(monkeypatch)
    _forget(app)
    nodes = _generic_plan(app, f"/v1/articles?q={q}&limit=5")
    assert found[-1].found > search.SCORED and not found[-1].walk, found
    assert [n for n in nodes if "article_search_document" in n], nodes
    assert not [n for n in nodes if n.startswith("Index Scan article_search_seq_key")], nodes  # no walk
    _forget(app)


@pytest.mark.parametrize("walk_width", [4, 1, 10**6])
def test_postgres_reads_only_the_pages_own_articles(generated, monkeypatch, walk_width):
    """The candidates are found, tested against the visibility rule and the filters, scored and sorted in the
    search documents alone (their copies of the article columns), and the page statement reads the article table
    for the page's rows only, after the sort, in every plan and each way of reading the candidates (the first
    window walked, the GIN index past a wider one, every match): joining each candidate to its article before the
    sort cost more than finding and scoring it."""
    app, public = generated
    if not _is_postgres(app):
        pytest.skip("a PostgreSQL plan")
    q, limit = "minsk", 5
    monkeypatch.setattr(search, "SCORED", len(_oracle(app, public, q)) // 4)
    monkeypatch.setattr(search, "WALK", walk_width)
    assert 2 * (limit + 1) < search.SCORED  # so a join of every candidate reads more articles than the page's
    _forget(app)
    for extra in ("", "&lang=en", "&section=society-and-politics"):
        nodes = _generic_plan(app, f"/v1/articles?q={q}&limit={limit}{extra}")
        articles = {
            n: rows for n, rows in nodes.items() if re.search(r"\b(article_pkey|article_slug_key|ix_article)", n)
        }
        assert articles and sum(articles.values()) <= limit + 1, (extra, nodes)  # the page and one to tell of more
        assert "Seq Scan" not in " ".join(nodes), nodes
        _forget(app)  # and the probe that counts the matches reads the documents alone
        probe = _generic_plan(app, f"/v1/articles?q={q}&limit={limit}{extra}", page=False)
        assert probe and not [n for n in probe if re.search(r"\b(article_pkey|article_slug_key|ix_article)", n)], probe
        assert "Seq Scan" not in " ".join(probe), probe
    _forget(app)


def test_a_session_reads_the_documents_format_from_its_generation_or_asks(generated):
    """queries.search_copies: what the store read with the generation (`Session.info`) decides, and a session
    of no store asks the documents themselves."""
    app, _ = generated
    store = app.extensions["store"]
    generation, expected = store.current(), _is_postgres(app)
    with Session(generation.engine) as session:
        assert queries.search_copies(session) is expected
    with Session(generation.engine, info={"search_copies": not expected}) as session:
        assert queries.search_copies(session) is (not expected)
    with store.session(generation) as session:
        assert queries.search_copies(session) is expected


def test_postgres_documents_carry_their_articles_columns(generated):
    """Every search document's copies of the article columns are its article's (the candidates are tested and
    ordered on them), and the documents are the published articles, each once."""
    app, _ = generated
    if not _is_postgres(app):
        pytest.skip("PostgreSQL's search documents")
    copied = ", ".join(search.COPIED)
    with app.extensions["store"].current().engine.connect() as conn:
        assert search.has_copies(conn)
        differ = conn.execute(text(
            f"SELECT count(*) FROM article_search s JOIN article a ON a.id = s.article_id "
            f"WHERE ({', '.join('s.' + c for c in search.COPIED)}) IS DISTINCT FROM ({', '.join('a.' + c for c in search.COPIED)})"
        )).scalar()  # fmt: skip
        assert differ == 0
        documents = conn.execute(text(f"SELECT article_id, {copied} FROM article_search ORDER BY article_id")).all()
        published = conn.execute(text(f"SELECT id, {copied} FROM article WHERE status = 'published' ORDER BY id")).all()
        assert documents == published and len(documents) > 100


def test_postgres_store_without_copies_searches_through_the_articles(tmp_path_factory, monkeypatch):
    """A store whose search documents lack the copies of the article columns (built before them) is read as such
    when its generation is: its searches join every candidate to its article and serve the same pages."""
    from tests.conftest import PG_ADDRESS, PG_URL, require_service

    require_service("PostgreSQL", *PG_ADDRESS)
    pg = {"DATABASE_URL": PG_URL, "DATABASE_SCHEMA": None, "CACHE_REDIS_URL": None}
    with generated_store(pg, tmp_path_factory, "no-copies") as store:
        app = make_app(store, HOT_CACHE_MAX_BYTES=0)
        try:
            public = {a["slug"] for a in walk(app.test_client(), "/v1/articles?limit=100")}
            q = "minsk"
            expected = _oracle(app, public, q)
            monkeypatch.setattr(search, "SCORED", len(expected) // 3)
            with_copies = [a["slug"] for a in _walk_fresh(app, q)]
            assert with_copies == [s for s, _, _ in _newest(expected, search.SCORED)]
            generation = app.extensions["store"].current()
            with generation.engine.begin() as conn:  # as a loader without the copies reloading the same content
                drop = ", ".join(f"DROP COLUMN {name}" for name in search.COPIED)
                conn.execute(text(f"ALTER TABLE article_search {drop}"))
                assert not search.has_copies(conn)
            # the running store notices at its next poll, though the generation id is the same
            assert [a["slug"] for a in _walk_fresh(app, q)] == with_copies
            assert app.extensions["store"].current().id == generation.id
            assert app.extensions["store"].current().search_copies is False
            app.extensions["store"].dispose()
            app = make_app(store, HOT_CACHE_MAX_BYTES=0)  # and a new one reads it so
            assert app.extensions["store"].current().search_copies is False
            assert [a["slug"] for a in _walk_fresh(app, q)] == with_copies
            assert [a["slug"] for a in _walk_fresh(app, q, "&lang=en")] == [
                s for s, _, _ in _newest(_oracle(app, public, q, "en"), search.SCORED)
            ]
        finally:
            _forget(app)
            app.extensions["store"].dispose()


def test_the_documents_copy_every_column_the_rule_and_the_filters_read():
    """Every article column the visibility rule and the list filters read, over all filters at once, is among
    search.COPIED, typed as the article's (its bind processing: the clock and the update times in UTC)."""
    read = set()
    for condition in queries._conditions(tuple(queries._FILTERS)):
        read |= {c.name for c in visitors.iterate(condition) if isinstance(c, Column) and c.table is Article.__table__}
    assert read >= {"status", "embargo_until", "section_slug", "issue_start", "updated_at"}  # the walk finds them
    assert read <= set(search.COPIED)
    documents = search._documents(True).c
    for name in search.COPIED:
        assert type(documents[name].type) is type(Article.__table__.c[name].type), name
    for condition in queries._conditions(tuple(queries._FILTERS), documents):  # each reads the documents' columns
        assert {c.table.name for c in visitors.iterate(condition) if isinstance(c, ColumnClause)} == {"article_search"}


@pytest.mark.parametrize("scored", [5, 1000])
def test_postgres_copies_answer_every_filter_as_the_articles_do(generated, monkeypatch, scored):
    """The same searches, under each filter the API has and some together, with the candidates tested on the
    documents' copies and on the articles themselves: the same pages and the same totals."""
    app, public = generated
    if not _is_postgres(app):
        pytest.skip("PostgreSQL's search documents")
    client = app.test_client()
    items = walk(client, "/v1/articles?limit=100")
    dated = [a for a in items if a["published_at"] and a["issue"] and a["section"]]
    middle = sorted(dated, key=lambda a: a["published_at"])[len(dated) // 2]
    filters = [
        "",
        f"&from={middle['issue']}",
        f"&to={middle['issue']}",
        f"&issue={middle['issue']}",
        f"&updated_since={middle['updated_at'].replace('+00:00', 'Z')}",
        "&trend=worse",
        f"&section={middle['section']['slug']}&lang=ru",
        f"&lang=en&from={middle['issue']}&trend=worse,better",
    ]
    monkeypatch.setattr(search, "SCORED", scored)
    for q in ("minsk", "контроль", "export minsk"):
        for extra in filters:
            served = []
            for copies in (True, False):
                _read_copies(monkeypatch, copies)
                _forget(app)
                total = client.get(f"/v1/articles?q={q}&limit=1{extra}").get_json()["meta"]
                assert app.extensions["store"].current().search_copies is copies
                slugs = [a["slug"] for a in walk(client, f"/v1/articles?q={q}&limit=10{extra}")]
                served.append((slugs, total["total"], total["total_estimated"]))
            assert served[0] == served[1], (q, extra)
            assert set(served[0][0]) <= public
    _read_copies(monkeypatch, True)
    _forget(app)


_COPIES_SQL = search.COPIES_SQL


def _read_copies(monkeypatch, copies: bool) -> None:
    """Have the store read its search documents as carrying the copies of the article columns, or as a store built
    before them (search.COPIES_SQL, what has_copies and the poll of the generation ask), from its next poll of the
    generation (every request here)."""
    monkeypatch.setattr(search, "COPIES_SQL", _COPIES_SQL if copies else "(false)")


def _documents(app) -> int:
    """How many documents the store's article_search holds (every published article)."""
    with app.extensions["store"].current().engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM article_search")).scalar()


def test_a_search_memoised_on_one_backend_is_not_read_by_the_other(tmp_path_factory, monkeypatch, frozen_clock):
    """A SQLite and a PostgreSQL store of the same content (the same generation) on one shared Redis: their
    recency keys differ (an FTS5 rowid against a seq) and so do their stemmers, so neither may read the other's
    memoised matches. Read across, PostgreSQL would walk a window of max(seq) minus a rowid (a negative LIMIT, an
    error) and SQLite would take PostgreSQL's count. Each way round, the second store's pages are its own ranking."""
    from tests.conftest import PG_ADDRESS, PG_URL, REDIS_ADDRESS, REDIS_URL, require_service

    require_service("PostgreSQL", *PG_ADDRESS)
    require_service("Redis", *REDIS_ADDRESS)
    prefix = f"memo-{uuid.uuid4().hex[:12]}:"
    frozen_clock(dt.datetime.now(dt.UTC).replace(microsecond=0))  # both loads record their changes at one time
    lite = {"DATABASE_URL": "sqlite://", "DATABASE_SCHEMA": "bulletin", "CACHE_REDIS_URL": None}
    pg = {"DATABASE_URL": PG_URL, "DATABASE_SCHEMA": None, "CACHE_REDIS_URL": None}
    with (
        generated_store(lite, tmp_path_factory, "memo-sqlite") as lite,
        generated_store(pg, tmp_path_factory, "memo-pg") as pg,
    ):
        apps = [
            make_app({**store, "CACHE_REDIS_URL": REDIS_URL, "CACHE_KEY_PREFIX": prefix}, HOT_CACHE_MAX_BYTES=0)
            for store in (lite, pg)
        ]
        try:
            assert len({app.extensions["store"].current().id for app in apps}) == 1  # the same memo keys but one
            public = {a["slug"] for a in walk(apps[0].test_client(), "/v1/articles?limit=100")}
            q = "minsk"
            monkeypatch.setattr(search, "SCORED", min(len(_oracle(app, public, q)) for app in apps) // 4)
            for first, second in (apps, apps[::-1]):
                for app in apps:
                    _forget(app)
                assert first.test_client().get(f"/v1/articles?q={q}&limit=5").status_code == 200  # memoises
                response = second.test_client().get(f"/v1/articles?q={q}&limit=5&fields=slug,title")
                assert response.status_code == 200, response.get_data(as_text=True)
                expected = _newest(_oracle(second, public, q), search.SCORED)[:5]
                assert [a["slug"] for a in response.get_json()["data"]] == [s for s, _, _ in expected]
        finally:
            for app in apps:
                _forget(app)
                app.extensions["store"].dispose()
