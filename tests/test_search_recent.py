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
