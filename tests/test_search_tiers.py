"""SQLite's recent tiers (search.TIERS): contentless FTS5 indexes of the newest published articles, on which a search
past search.SCORED matches scores its candidates, so that a common word's inverse document frequency walks at most
a tier's entries. Checked on a generated archive (drafts and embargoed articles in English and Russian) loaded with
the tiers patched small, against an oracle computed here from the full index: each tier holds exactly the newest
`size` indexed articles; past SCORED the pages are the newest SCORED visible matches (under the filters) ranked by
bm25 in the smallest tier holding them all, or in the full index when none does; at or below SCORED the ranking
is the full index's, exactly; a store without tiers searches its full index."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import uuid

import pytest

from api.extensions import cache
from api.ingest.loader import load_archive
from api.store import queries, search
from tests.conftest import make_app, walk
from tests.test_search_topk import _forget, _spy_on_recent_matches, _walk_fresh

TIERS = (40, 120)


@pytest.fixture(scope="module")
def tiered(tmp_path_factory):
    """(app, store path, public slugs) over a generated archive of 500 articles loaded with TIERS patched in."""
    from bench.generate import Rates, generate

    archive = tmp_path_factory.mktemp("tiers") / "archive"
    generate(archive, 500, seed=7, rates=Rates(per_issue=6, documents=0.6, draft=0.1, embargoed=0.2), per_dir=200)
    path = tmp_path_factory.mktemp("tiers-store") / "s.sqlite"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(search, "TIERS", TIERS)
        assert load_archive(archive, f"sqlite:///{path}").rejected == []
    app = make_app({"DATABASE_URL": f"sqlite:///{path}", "DATABASE_SCHEMA": "bulletin", "CACHE_REDIS_URL": None},
                   HOT_CACHE_MAX_BYTES=0)  # fmt: skip
    public = {a["slug"] for a in walk(app.test_client(), "/v1/articles?limit=100")}
    yield app, path, public
    app.extensions["store"].dispose()


def _db(path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def _newest_rowids(db, n: int) -> list[int]:
    return [r for (r,) in db.execute("SELECT rowid FROM article_fts ORDER BY rowid DESC LIMIT ?", (n,))]


def _common_words(path, n: int, lang: str | None = None) -> list[str]:
    """The `n` words found in most indexed articles (of `lang`), by the full index's own vocabulary."""
    db = sqlite3.connect(":memory:")
    db.execute("ATTACH DATABASE ? AS s", (f"file:{path}?mode=ro",))
    db.execute("CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(s, article_fts, 'instance')")
    words = [w for (w,) in db.execute(
        "SELECT v.term FROM temp.vocab v JOIN s.article a ON a.id = (v.doc & 16777215) "
        "WHERE (?1 IS NULL OR a.lang = ?1) AND length(v.term) > 3 GROUP BY v.term "
        "ORDER BY count(DISTINCT v.doc) DESC, v.term LIMIT ?2", (lang, n))]  # fmt: skip
    db.close()
    return words


def test_each_tier_holds_exactly_the_newest_indexed_articles(tiered):
    _, path, _ = tiered
    db = _db(path)
    indexed = db.execute("SELECT count(*) FROM article WHERE status = 'published'").fetchone()[0]
    assert indexed > max(TIERS), "the archive must be larger than every tier"
    assert db.execute("SELECT count(*) FROM article_fts").fetchone()[0] == indexed
    listed = db.execute("SELECT name, size, least FROM article_fts_tier ORDER BY size").fetchall()
    assert [(name, size) for name, size, _ in listed] == [(f"article_fts_{s}", s) for s in TIERS]
    for name, size, least in listed:
        held = [r for (r,) in db.execute(f"SELECT rowid FROM {name} ORDER BY rowid DESC")]
        assert held == _newest_rowids(db, size)
        assert least == held[-1]
    db.close()


def test_a_store_smaller_than_a_tier_has_no_table_for_it(tmp_path, monkeypatch):
    from bench.generate import Rates, generate

    generate(tmp_path / "a", 30, seed=3, rates=Rates(per_issue=5, documents=0.6, draft=0.1, embargoed=0.2))
    monkeypatch.setattr(search, "TIERS", (10, 1000))
    load_archive(tmp_path / "a", f"sqlite:///{tmp_path / 's.sqlite'}")
    db = _db(tmp_path / "s.sqlite")
    assert [n for (n,) in db.execute("SELECT name FROM article_fts_tier")] == ["article_fts_10"]
    assert not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'article_fts_1000'").fetchall()
    db.close()


def _public_matches(path, public, q, lang=None, since: str | None = None) -> list[tuple[int, str]]:
    """(rowid, slug) of the public matches of `q` (of `lang`, published from `since`), newest first, from the full
    index."""
    db = _db(path)
    rows = db.execute(
        "SELECT f.rowid, a.slug, a.lang FROM article_fts f JOIN article a ON a.id = (f.rowid & 16777215) "
        "WHERE article_fts MATCH ? AND (? IS NULL OR a.published_at >= ?) ORDER BY f.rowid DESC",
        (search.fts5_query(search.tokens(q)), since, since),
    ).fetchall()
    db.close()
    return [(rowid, slug) for rowid, slug, article_lang in rows if slug in public and lang in (None, article_lang)]


def _ranked_in(path, q, candidates: list[tuple[int, str]], index: str) -> list[str]:
    """The slugs of `candidates` ranked by -bm25 in `index`, then slug."""
    db = _db(path)
    scores = dict(db.execute(f"SELECT rowid, -bm25({index}, 10.0, 4.0, 1.0) FROM {index} WHERE {index} MATCH ?",
                             (search.fts5_query(search.tokens(q)),)).fetchall())  # fmt: skip
    db.close()
    return [slug for _, slug in sorted((-scores[rowid], slug) for rowid, slug in candidates)]


def _oracle(path, public: set[str], q: str, scored: int, lang: str | None) -> tuple[str, list[str]]:
    """The index a search scoring `scored` must rank in and the slugs it serves: the newest `scored` public
    matches (of `lang`), ranked by -bm25 in the smallest tier holding the newest scored + 1, else the full index
    (and the full index whenever at most `scored` match)."""
    matches = _public_matches(path, public, q, lang)
    index = "article_fts"
    if len(matches) > scored:
        least = matches[scored][0]
        db = _db(path)
        index = next((f"article_fts_{n}" for n in TIERS if _newest_rowids(db, n)[-1] <= least), index)
        db.close()
    return index, _ranked_in(path, q, matches[:scored], index)


@pytest.mark.parametrize("lang", [None, "en", "ru"])
def test_past_scored_the_candidates_are_ranked_in_the_smallest_tier_holding_them(tiered, monkeypatch, lang):
    app, path, public = tiered
    extra = f"&lang={lang}" if lang else ""
    used, differs, between = set(), False, False
    words = _common_words(path, 80, lang)
    # one word: a tier changes its scores' IDF by a common factor, so only the length normalisation can reorder;
    # two words of middling frequency weigh each other by their IDFs, which the tier's statistics change
    pairs = [f"{words[i]} {words[i + 20]}" for i in range(40, min(60, len(words) - 20), 4)]
    for q in [*words[:4], *pairs]:
        for scored in (5, 15, 39, 60, 100, 200):
            monkeypatch.setattr(search, "SCORED", scored)
            index, expected = _oracle(path, public, q, scored, lang)
            used.add(index)
            assert [a["slug"] for a in _walk_fresh(app, q, extra)] == expected, (q, scored, index)
            _, full = _oracle_in(path, public, q, scored, lang, "article_fts")
            differs |= index != "article_fts" and full != expected
            if index == "article_fts_40":  # the larger tier holds them too, and ranks them otherwise at times
                between |= _oracle_in(path, public, q, scored, lang, "article_fts_120")[1] != expected
    _forget(app)
    assert used == {"article_fts_40", "article_fts_120", "article_fts"}, used  # every choice was exercised
    assert between or lang is not None, "no case tells the smallest tier's order from the larger one's"
    assert differs or lang is not None, (
        "no case tells a tier's scores from the full index's: the test would not see the wrong index"
    )


def _oracle_in(path, public, q, scored, lang, index, since: str | None = None):
    """The newest `scored` public matches (of `lang`, published from `since`) ranked in `index` (to tell that the
    tier's scores differ from the full index's)."""
    return index, _ranked_in(path, q, _public_matches(path, public, q, lang, since)[:scored], index)


def test_at_or_below_scored_the_full_index_ranks_every_match(tiered, monkeypatch):
    app, path, public = tiered
    for q in _common_words(path, 3):
        index, expected = _oracle(path, public, q, 10_000, None)
        assert index == "article_fts" and len(expected) > max(TIERS) // 4
        monkeypatch.setattr(search, "SCORED", len(expected))
        meta = None
        assert [a["slug"] for a in _walk_fresh(app, q)] == expected
        meta = app.test_client().get("/v1/articles", query_string={"q": q, "limit": 1}).get_json()["meta"]
        assert (meta["total"], meta["total_estimated"]) == (len(expected), False)
    _forget(app)


def test_a_store_without_tiers_searches_its_full_index(tiered, tmp_path, monkeypatch):
    _, path, public = tiered
    copy = tmp_path / "old.sqlite"
    shutil.copy(path, copy)
    db = sqlite3.connect(copy)
    db.execute("DROP TABLE article_fts_tier")
    db.commit()
    db.close()
    app = make_app({"DATABASE_URL": f"sqlite:///{copy}", "DATABASE_SCHEMA": "bulletin", "CACHE_REDIS_URL": None},
                   HOT_CACHE_MAX_BYTES=0)  # fmt: skip
    try:
        q = _common_words(path, 1)[0]
        monkeypatch.setattr(search, "SCORED", 5)
        _, expected = _oracle_in(copy, public, q, 5, None, "article_fts")
        response = app.test_client().get("/v1/articles", query_string={"q": q, "limit": 5})
        assert response.status_code == 200
        assert [a["slug"] for a in response.get_json()["data"]] == expected
    finally:
        app.extensions["store"].dispose()


def test_the_tier_boundary_is_inclusive_and_the_smallest_tier_wins(tiered):
    app, path, _ = tiered
    db = _db(path)
    listed = db.execute("SELECT name, least FROM article_fts_tier ORDER BY size").fetchall()
    db.close()
    (small, small_least), (large, large_least) = listed
    store = app.extensions["store"]
    with store.session(store.current()) as session:
        tiers = queries.search_tiers(session)
    assert tiers == ((small, small_least), (large, large_least))
    past = search.SCORED + 1
    assert search.index_holding(tiers, past, small_least) == small  # the tier's own least row is in it
    assert search.index_holding(tiers, past, small_least + 1) == small
    assert search.index_holding(tiers, past, small_least - 1) == large
    assert search.index_holding(tiers, past, large_least) == large
    assert search.index_holding(tiers, past, large_least - 1) == "article_fts"
    for found in (0, search.SCORED):  # at or below the bound: every match, scored exactly in the full index
        assert search.index_holding(tiers, found, small_least) == "article_fts"
    assert search.index_holding((), past, small_least) == "article_fts"  # a store built without tiers


def test_at_or_below_scored_matches_within_a_tier_are_ranked_in_the_full_index(tiered, monkeypatch):
    """A search whose few matches all lie in the newest tier (a `from` filter) still ranks in the full index, whose
    order differs from the tier's for some of them: exact below the bound, wherever the matches are."""
    app, path, public = tiered
    db = _db(path)
    least = db.execute("SELECT least FROM article_fts_tier ORDER BY size LIMIT 1").fetchone()[0]
    since = db.execute(
        "SELECT min(substr(published_at, 1, 10)) FROM article WHERE id IN "
        "(SELECT rowid & 16777215 FROM article_fts WHERE rowid >= ?)",
        (least,),
    ).fetchone()[0]
    db.close()
    since = (dt.date.fromisoformat(since) + dt.timedelta(days=1)).isoformat()  # every match from it is in the tier
    words = _common_words(path, 80)
    told = 0
    for q in [f"{words[i]} {words[i + 20]}" for i in range(30, 60, 3)]:
        _, recent = _oracle_in(path, public, q, 10_000, None, "article_fts", since=since)
        if len(recent) < 3:
            continue
        monkeypatch.setattr(search, "SCORED", len(recent))
        _, in_tier = _oracle_in(path, public, q, len(recent), None, "article_fts_40", since=since)
        assert [a["slug"] for a in _walk_fresh(app, q, f"&from={since}")] == recent, q
        told += in_tier != recent
    _forget(app)
    assert told, "no case where the tier's order differs: the test would not see the wrong index"


def test_a_search_memoised_by_a_tiered_store_is_served_by_one_without_tiers(tiered, tmp_path, monkeypatch):
    """Two stores of the same content (the same generation and so the same memo keys), one built without tiers, on
    one shared Redis: the tiered one memoises a search's matches and ranks them in a tier; the other, sharing the
    memo, ranks them in its full index (each store chooses from its own indexes)."""
    from tests.conftest import REDIS_ADDRESS, REDIS_URL, require_service

    require_service("Redis", *REDIS_ADDRESS)
    _, path, public = tiered
    copy = tmp_path / "untiered.sqlite"
    shutil.copy(path, copy)
    db = sqlite3.connect(copy)
    for (name,) in db.execute("SELECT name FROM article_fts_tier").fetchall():
        db.execute(f"DROP TABLE {name}")
    db.execute("DROP TABLE article_fts_tier")
    db.commit()
    db.close()
    prefix = f"tiers-{uuid.uuid4().hex[:12]}:"
    apps = [make_app({"DATABASE_URL": f"sqlite:///{p}", "DATABASE_SCHEMA": "bulletin", "CACHE_REDIS_URL": REDIS_URL,
                      "CACHE_KEY_PREFIX": prefix}, HOT_CACHE_MAX_BYTES=0) for p in (path, copy)]  # fmt: skip
    try:
        tiered_app, untiered = apps
        assert tiered_app.extensions["store"].current().id == untiered.extensions["store"].current().id
        monkeypatch.setattr(search, "SCORED", 5)
        q = _common_words(path, 1)[0]
        index, in_tier = _oracle(path, public, q, 5, None)
        assert index == "article_fts_40"
        url = f"/v1/articles?q={q}&limit=5"
        counted = _spy_on_recent_matches(monkeypatch)
        assert [a["slug"] for a in tiered_app.test_client().get(url).get_json()["data"]] == in_tier
        response = untiered.test_client().get(url + "&fields=slug,title")  # a new response key, the same memo
        assert response.status_code == 200, response.get_data(as_text=True)
        assert len(counted) == 1  # the untiered store took the tiered one's memo, not a count of its own
        _, full = _oracle_in(copy, public, q, 5, None, "article_fts")
        assert [a["slug"] for a in response.get_json()["data"]] == full
    finally:
        for app in apps:
            with app.app_context():
                cache.clear()
            app.extensions["store"].dispose()
