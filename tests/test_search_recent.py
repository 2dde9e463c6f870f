"""The newest-matches rule of a relevance search (search.SCORED) on a generated archive with drafts and embargoed
articles in English and Russian, on both backends: past the bound the pages are exactly the oracle's ranking of the
newest SCORED visible matches, and a hidden article of either language never takes a candidate's place (the
PostgreSQL match is one condition per language: both must stay under the visibility rule)."""

from __future__ import annotations

import pytest

from api.store import search
from tests.conftest import generated_store, make_app, walk
from tests.test_search_topk import _forget, _newest, _oracle, _walk_fresh

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
    for scored in sorted({1, 3, hidden[0] + 1, hits // 2, hits - 1, hits, hits + 1}):
        monkeypatch.setattr(search, "SCORED", scored)
        slugs = [a["slug"] for a in _walk_fresh(app, q)]
        assert slugs == [s for s, _, _ in _newest(expected, scored)], scored
        meta = app.test_client().get("/v1/articles", query_string={"q": q, "limit": 1}).get_json()["meta"]
        assert (meta["total"], meta["total_estimated"]) == (min(hits, scored), hits > scored)
    _forget(app)


def _generic_plan(app, url: str) -> list[str]:
    """PostgreSQL: the node types and index names of the generic plan (plan_cache_mode=force_generic_plan, what a
    prepared statement runs from its sixth execution when PostgreSQL keeps it) of the statement a request to
    `url` runs against article_search, with sequential scans and plain sorts off so the choice is between index
    paths, as on a large archive."""
    import re

    from sqlalchemy import event, text
    from sqlalchemy.engine import Engine

    seen = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "search_window" in statement or "article_search.seq" in statement:
            seen.append((statement, parameters))

    event.listen(Engine, "before_cursor_execute", capture)
    try:
        assert app.test_client().get(url).status_code == 200
    finally:
        event.remove(Engine, "before_cursor_execute", capture)
    statement, parameters = next((s, p) for s, p in seen if "row_number()" in s)  # the page, not the probe
    names = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", statement)))
    prepared = re.sub(r"%\((\w+)\)s", lambda m: f"${names.index(m.group(1)) + 1}", statement)
    nodes: list[str] = []
    generation = app.extensions["store"].current()
    with generation.engine.connect() as conn:
        for setting in ("plan_cache_mode = force_generic_plan", "enable_seqscan = off", "enable_sort = off"):
            conn.execute(text(f"SET {setting}"))
        conn.exec_driver_sql(f"PREPARE page AS {prepared}")
        values = ", ".join("NULL" if parameters[n] is None else conn.execute(
            text("SELECT quote_literal(CAST(:v AS text))"), {"v": str(parameters[n])}).scalar() for n in names)  # fmt: skip
        plan = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) EXECUTE page({values})").scalar()[0]["Plan"]
        conn.exec_driver_sql("DEALLOCATE page")

    def walk_nodes(node):
        nodes.append(f"{node['Node Type']} {node.get('Index Name', '')} {node.get('Scan Direction', '')}".strip())
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
    if not app.config["DATABASE_URL"].startswith("postgresql"):
        pytest.skip("a PostgreSQL plan")
    q = "minsk"
    hits = len(_oracle(app, public, q))
    monkeypatch.setattr(search, "SCORED", hits // 2)
    _forget(app)
    nodes = _generic_plan(app, f"/v1/articles?q={q}&limit=5")
    assert "Index Scan article_search_seq_key Backward" in nodes, nodes
    assert not [n for n in nodes if "article_search_document" in n], nodes  # no GIN bitmap of every match
    _forget(app)
