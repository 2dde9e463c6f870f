"""Bounded responses on generated archives bigger than the bounds: the issue item embeds at most
ISSUE_ARTICLES_PER_SECTION summaries per section and ISSUE_ARTICLES_MAX in all, and links to the rest; the timeline
charts the latest TIMELINE_WINDOW issue weeks and pages back through the rest."""

from __future__ import annotations

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from api.ingest.loader import load_archive
from api.store import queries
from bench.generate import Rates, generate
from schemas.args import TIMELINE_MAX, TIMELINE_WINDOW
from tests.conftest import make_app, walk

LOCAL = "http://localhost"


@pytest.fixture(scope="module")
def big_weeks(tmp_path_factory):
    """Two issue weeks of 250 articles each (nine sections): sections of more than 20, issues of more than 100."""
    out = tmp_path_factory.mktemp("big-weeks") / "archive"
    generate(out, 520, seed=11, rates=Rates(per_issue=250, draft=0.0, embargoed=0.0), per_dir=200)
    return out


@pytest.fixture(scope="module")
def many_weeks(tmp_path_factory):
    """About 80 issue weeks of three articles: more than a timeline window."""
    out = tmp_path_factory.mktemp("many-weeks") / "archive"
    generate(out, 240, seed=12, rates=Rates(per_issue=3, draft=0.0, embargoed=0.0), per_dir=200)
    return out


def _served(archive, store):
    report = load_archive(archive, store["DATABASE_URL"], schema=store["DATABASE_SCHEMA"])
    assert report.rejected == []
    app = make_app(store)
    yield app.test_client()
    app.extensions["store"].dispose()


@pytest.fixture
def big_client(big_weeks, scratch_store):
    yield from _served(big_weeks, scratch_store)


@pytest.fixture
def weeks_client(many_weeks, scratch_store):
    yield from _served(many_weeks, scratch_store)


def _path(url: str) -> str:
    return url.replace(LOCAL, "")


def test_the_issue_item_embeds_a_bounded_number_of_summaries_and_links_to_the_rest(big_client):
    per_section, most = queries.ISSUE_ARTICLES_PER_SECTION, queries.ISSUE_ARTICLES_MAX
    issues = walk(big_client, "/v1/issues?limit=100")
    big = [i for i in issues if i["article_count"] > most]
    assert big, "the generated archive must hold an issue bigger than the bound"
    for summary in big:
        body = big_client.get(f"/v1/issues/{summary['id']}").get_json()
        sections, meta = body["data"]["sections"], body["meta"]
        listed = [a for s in sections for a in s["articles"]]
        assert len(listed) == meta["articles_listed"] == most
        assert meta["article_count"] == body["data"]["article_count"] == summary["article_count"]
        assert meta["truncated"] is True
        assert sum(s["article_count"] for s in sections) == meta["article_count"]
        assert any(s["article_count"] > per_section for s in sections)
        every = walk(big_client, _path(body["links"]["articles"]))
        assert len(every) == meta["article_count"]
        for s in sections:
            assert len(s["articles"]) <= per_section
            if s["section"] is None:
                continue
            members = walk(big_client, _path(s["articles_url"]))
            assert len(members) == s["article_count"]
            assert {a["section"]["slug"] for a in members} == {s["section"]["slug"]}
            # the embedded ones are the section's first in editorial order (position, then slug)
            first = sorted(members, key=lambda a: (a["position"], a["slug"]))[: len(s["articles"])]
            assert [a["slug"] for a in s["articles"]] == [a["slug"] for a in first]
        # sections come in editorial order, and the whole-issue bound fills them in that order
        filled = [len(s["articles"]) for s in sections]
        wanted = [min(per_section, s["article_count"]) for s in sections]
        cut = next((i for i, (f, w) in enumerate(zip(filled, wanted, strict=True)) if f < w), len(sections))
        assert filled[:cut] == wanted[:cut] and all(f == 0 for f in filled[cut + 1 :])


def test_the_timeline_charts_the_latest_window_and_pages_back_through_the_rest(weeks_client):
    newest_first = [i["id"] for i in walk(weeks_client, "/v1/issues?limit=100")]
    assert TIMELINE_WINDOW < len(newest_first) <= TIMELINE_MAX, "the archive must hold more weeks than a window"
    first = weeks_client.get("/v1/trends/timeline").get_json()
    assert first["meta"]["limit"] == TIMELINE_WINDOW and first["meta"]["total"] == len(newest_first)
    assert first["meta"]["issues"] == sorted(newest_first[:TIMELINE_WINDOW])
    assert first["links"]["prev"] is None and first["links"]["next"]
    whole = weeks_client.get(f"/v1/trends/timeline?limit={TIMELINE_MAX}").get_json()
    assert whole["links"]["next"] is None and whole["meta"]["issues"] == sorted(newest_first)

    def key(cell):
        return cell["issue"]["id"], cell["section"]["slug"]

    pages, url = [], "/v1/trends/timeline?limit=30"
    while url:
        body = weeks_client.get(url).get_json()
        assert len(body["meta"]["issues"]) <= 30
        pages.append(body["data"])
        url = body["links"]["next"] and _path(body["links"]["next"])
    # newest weeks first, page by page; each page oldest first; together the whole history, once
    paged = [c for page in reversed(pages) for c in page]
    assert [key(c) for c in paged] == [key(c) for c in whole["data"]]
    assert paged == whole["data"]


def test_a_cold_issue_item_costs_four_statements_whatever_its_size(big_client):
    """Round trips per request: the issue, its bounded summaries, its counts (sections, total and languages in one
    grouped query), the previous and the next issue in one; the generation poll and the per-generation vocabulary
    aside."""
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        if "store_meta" not in statement:
            statements.append(statement)

    issue = max(walk(big_client, "/v1/issues?limit=100"), key=lambda i: i["article_count"])
    assert big_client.get(f"/v1/issues/{issue['id']}").status_code == 200  # sections and trends: once a generation
    event.listen(Engine, "before_cursor_execute", count)
    try:
        for fields in ("slug,title", "title,slug"):  # a new response-cache key each time: the whole path runs
            statements.clear()
            assert big_client.get(f"/v1/issues/{issue['id']}?fields={fields}").status_code == 200
            assert len(statements) == 4, [" ".join(s.split())[:60] for s in statements]
    finally:
        event.remove(Engine, "before_cursor_execute", count)
