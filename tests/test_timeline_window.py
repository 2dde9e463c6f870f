"""A timeline page ranks story versions over its window's stories only, and charts exactly what ranking every
public article did: on generated archives whose translation groups span issues, at clock times either side of an
embargo end, on both backends."""

from __future__ import annotations

import datetime as dt
import random
import re

import pytest

from api.ingest.loader import load_archive
from api.store import queries
from bench.generate import Rates, generate
from tests.conftest import make_app, walk

EMBARGO_END = dt.datetime(2099, 1, 1, tzinfo=dt.UTC)  # the generator's embargo end


@pytest.fixture(scope="module")
def grouped_archive(tmp_path_factory):
    """About 30 issue weeks of four articles; the editorial documents joined at random into translation groups
    of two or three, across issues (a story's earliest version is often in another week than its later ones)."""
    out = tmp_path_factory.mktemp("grouped") / "archive"
    generate(out, 120, seed=21, rates=Rates(per_issue=4, documents=0.7, draft=0.1, embargoed=0.2), per_dir=200)
    documents = sorted(out.rglob("*.md"))
    rng = random.Random(21)
    rng.shuffle(documents)
    groups = 0
    while len(documents) >= 2:
        size = rng.choice((2, 3))
        for path in documents[:size]:
            text = path.read_text(encoding="utf-8")
            path.write_text(
                re.sub(r"^lang: (.*)$", rf'lang: \1\ntranslation_key: "story-{groups}"', text, count=1, flags=re.M),
                encoding="utf-8",
            )
        documents = documents[size:]
        groups += 1
    return out


@pytest.fixture
def grouped(grouped_archive, scratch_store):
    report = load_archive(grouped_archive, scratch_store["DATABASE_URL"], schema=scratch_store["DATABASE_SCHEMA"])
    assert report.rejected == []
    app = make_app(scratch_store, HOT_CACHE_MAX_BYTES=0)
    yield app
    app.extensions["store"].dispose()


def _cell(cell: dict) -> tuple:
    return (cell["issue_start"].isoformat(), cell["section_slug"], tuple(sorted(cell["counts"].items())), cell["total"])


def _served(cell: dict) -> tuple:
    return (cell["issue"]["id"], cell["section"]["slug"], tuple(sorted(cell["counts"].items())), cell["total"])


@pytest.mark.parametrize("clock", [EMBARGO_END - dt.timedelta(seconds=1), EMBARGO_END])
@pytest.mark.parametrize("query", ["", "section=economy,society-and-politics"])
def test_a_window_charts_what_ranking_every_article_charted(grouped, frozen_clock, clock, query):
    frozen_clock(clock)
    client = grouped.test_client()
    store = grouped.extensions["store"]
    with store.session(store.current()) as session:
        # The whole-archive computation: one version per story chosen over every public article.
        filters = {"section": query.split("=")[1].split(",")} if query else {}
        everything = queries.trend_timeline(session, clock, filters)
        assert not any(cell["issue_start"] is None for cell in everything)
        whole = sorted(_cell(c) for c in everything)
        chosen = set(session.scalars(queries.story_versions(clock)))
        by_issue: dict = {}
        for article_id, start in session.execute(
            queries.public_articles(clock).with_only_columns(queries.Article.id, queries.Article.issue_start)
        ):
            by_issue.setdefault(start, set()).add(article_id)
        rng = random.Random(5)
        weeks = sorted(k for k in by_issue if k is not None)
        for _ in range(6):  # windows of a few weeks: the versions chosen in them are the whole ranking's
            window = sorted(rng.sample(weeks, rng.randint(1, 4)))
            in_window = set().union(*(by_issue[w] for w in window))
            bounded = set(session.scalars(queries.story_versions(clock, window)))
            assert bounded & in_window == chosen & in_window
    assert len(whole) > (5 if query else 20)
    pages = walk(client, f"/v1/trends/timeline?limit=3&{query}")
    assert sorted(_served(c) for c in pages) == whole


def test_the_groups_span_issues_and_change_their_chosen_version_at_the_embargo_end(grouped, frozen_clock):
    """The archive above tests something: some stories' versions sit in different weeks, and some story's chosen
    version changes when an embargo ends."""
    store = grouped.extensions["store"]
    with store.session(store.current()) as session:
        rows = session.execute(
            queries.select(queries.Article.translation_key, queries.Article.issue_start).where(
                queries.Article.translation_key.is_not(None)
            )
        ).all()
        spans = {}
        for key, start in rows:
            spans.setdefault(key, set()).add(start)
        assert sum(len(s) > 1 for s in spans.values()) > 5
        before = set(session.scalars(queries.story_versions(EMBARGO_END - dt.timedelta(seconds=1))))
        after = set(session.scalars(queries.story_versions(EMBARGO_END)))
        assert before - after  # an embargoed earlier version took a story over
