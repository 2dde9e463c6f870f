"""Bounded responses on generated archives bigger than the bounds: the issue item embeds at most
ISSUE_ARTICLES_PER_SECTION summaries per section and ISSUE_ARTICLES_MAX in all, and links to the rest."""

from __future__ import annotations

import pytest

from api.ingest.loader import load_archive
from api.store import queries
from bench.generate import Rates, generate
from tests.conftest import make_app, walk

LOCAL = "http://localhost"


@pytest.fixture(scope="module")
def big_weeks(tmp_path_factory):
    """Two issue weeks of 250 articles each (nine sections): sections of more than 20, issues of more than 100."""
    out = tmp_path_factory.mktemp("big-weeks") / "archive"
    generate(out, 520, seed=11, rates=Rates(per_issue=250, draft=0.0, embargoed=0.0), per_dir=200)
    return out


@pytest.fixture
def big_client(big_weeks, scratch_store):
    report = load_archive(big_weeks, scratch_store["DATABASE_URL"], schema=scratch_store["DATABASE_SCHEMA"])
    assert report.rejected == []
    app = make_app(scratch_store)
    yield app.test_client()
    app.extensions["store"].dispose()


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
