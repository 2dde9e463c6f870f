"""Search ranks a bounded candidate set (search.CANDIDATES) on both backends: below the bound a search serves
exactly the full ranking (the oracle: every public match scored by the backend's own function, computed here
independently); past it the total is a marked lower bound, pages stop at the bound and deeper ones are a 400; and
hidden articles never count, match or take a candidate's place."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from api.extensions import cache
from api.store import search
from tests.conftest import walk

WORDS = ["military", "sanctions", "minsk", "solidarity", "civic solidarity", "networks", "belarus", "pressure"]
# Words for which the embargoed canary, were it public, would rank first of several hits.
SHARED_WITH_HIDDEN = ["risks", "channels", "society", "ukrainian"]


def _is_postgres(app) -> bool:
    return app.config["DATABASE_URL"].startswith("postgresql")


def _oracle(app, public: set[str] | None, q: str) -> list[tuple[str, float]]:
    """Every public article (every indexed one, if `public` is None) matching all words of `q`, best first (then
    slug), with its score (higher better)."""
    if _is_postgres(app):
        sql = (
            "SELECT a.slug, ts_rank(s.document, plainto_tsquery(s.config, :q)) FROM article_search s "
            "JOIN article a ON a.id = s.article_id WHERE s.document @@ plainto_tsquery(s.config, :q)"
        )
        params = {"q": " ".join(search.tokens(q))}
    else:
        sql = (
            "SELECT a.slug, -bm25(article_fts, 10.0, 4.0, 1.0) FROM article_fts "
            "JOIN article a ON a.id = article_fts.rowid WHERE article_fts MATCH :q"
        )
        params = {"q": search.fts5_query(search.tokens(q))}
    store = app.extensions["store"]
    with store.session(store.current()) as session:
        rows = session.execute(text(sql), params).all()
    found = ((slug, float(score)) for slug, score in rows if public is None or slug in public)
    return sorted(found, key=lambda r: (-r[1], r[0]))


@pytest.fixture
def fresh(loaded, new_app):
    """An app of this backend with a response cache of its own (the bound is patched per test)."""
    return new_app(loaded, HOT_CACHE_MAX_BYTES=0, CACHE_REDIS_URL=None)


@pytest.fixture
def public(fresh) -> set[str]:
    return {a["slug"] for a in walk(fresh.test_client(), "/v1/articles?limit=100")}


@pytest.mark.parametrize("q", WORDS)
def test_below_the_bound_a_search_serves_exactly_the_full_ranking(fresh, public, q):
    client = fresh.test_client()
    expected = _oracle(fresh, public, q)
    assert expected, f"{q!r} must find something"
    assert len(expected) < search.CANDIDATES
    first = client.get("/v1/articles", query_string={"q": q, "limit": 3}).get_json()
    assert [a["slug"] for a in first["data"]] == [s for s, _ in expected[:3]]
    assert first["meta"]["total"] == len(expected) and first["meta"]["total_estimated"] is False
    assert [a["slug"] for a in walk(client, f"/v1/articles?q={q}&limit=2")] == [s for s, _ in expected]


@pytest.mark.parametrize("q", SHARED_WITH_HIDDEN + ["military"])
def test_past_the_bound_the_total_is_a_marked_lower_bound_and_hidden_articles_take_no_place(
    fresh, public, monkeypatch, q
):
    expected = _oracle(fresh, public, q)
    hits = len(expected)
    assert hits >= 3
    if q in SHARED_WITH_HIDDEN:  # the hidden article is indexed (an embargo ends without a reload) and matches
        everything = [slug for slug, _ in _oracle(fresh, None, q)]
        assert set(everything) - public
        assert _is_postgres(fresh) or everything[0] not in public  # bm25 ranks it first
    scores = dict(expected)
    for bound in sorted({1, 2, hits - 1, hits, hits + 1}):
        monkeypatch.setattr(search, "CANDIDATES", bound)
        served = _walk_fresh(fresh, q)
        slugs = [a["slug"] for a in served]
        assert len(slugs) == len(set(slugs)) == min(hits, bound)
        assert set(slugs) <= set(scores)  # every one a public match
        # served best first (then slug), by the oracle's scores
        assert slugs == sorted(slugs, key=lambda s: (-scores[s], s))
        if not _is_postgres(fresh):  # FTS5 yields matches best first: the candidates are the top of the ranking
            assert [scores[s] for s in slugs] == [score for _, score in expected[:bound]]
        meta = fresh.test_client().get("/v1/articles", query_string={"q": q, "limit": 1}).get_json()["meta"]
        assert (meta["total"], meta["total_estimated"]) == (min(hits, bound), hits > bound)


def _forget(app) -> None:
    """Empty the app's own response cache: its keys hold the code, not the patched bound."""
    with app.app_context():
        cache.clear()


def _walk_fresh(app, q: str) -> list[dict]:
    _forget(app)
    return walk(app.test_client(), f"/v1/articles?q={q}&limit=2")


def test_a_page_past_the_bound_is_a_400_naming_it(fresh, public, monkeypatch):
    client = fresh.test_client()
    deep = client.get("/v1/articles?q=military&limit=2&page=3").get_json()
    assert len(deep["data"]) == 2 and deep["links"]["next"]
    cursor = deep["links"]["next"].replace("http://localhost", "")  # position 6
    monkeypatch.setattr(search, "CANDIDATES", 5)
    _forget(fresh)
    for url, name in ((cursor, "cursor"), ("/v1/articles?q=military&limit=2&page=4", "page")):
        response = client.get(url)
        assert response.status_code == 400, url
        body = response.get_json()
        assert response.mimetype == "application/problem+json"
        assert [p["name"] for p in body["invalid_params"]] == [name]
        assert "5 best hits" in body["detail"]
    last = client.get("/v1/articles?q=military&limit=2&page=3").get_json()  # positions 4..5: one left
    assert len(last["data"]) == 1 and last["links"]["next"] is None
    assert last["meta"]["total"] == 5 and last["meta"]["total_estimated"] is True
