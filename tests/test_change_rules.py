"""The change feed's rules as a property over two generated generations of an archive, on both backends.

A client syncs a view (everything, a section, a language, or both) of generation A, generation B replaces A, and
the client goes on from its token at a later clock time: directly, or once just after B's load (before any
embargo ends) and again then. The oracle, from docs/api.md:

- the synced copy, and a fresh sync at that time, are exactly the view's public articles of B;
- every change served belongs to the view: an upsert shows an article of it, a tombstone names a slug that was in
  it (by section, by language) in one of the generations, and no change names an article never published;
- changes come oldest first: their times never go back, within a page or across pages and the two syncs.
"""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from hypothesis import example, given, note
from hypothesis import strategies as st

from api import clock
from tests.test_rules import (
    ARCHIVE_PROPERTY,
    BASE,
    CLOCKS,
    SECTIONS,
    Doc,
    documents,
    store_history,
    sync_changes,
)

LANGS = ["en", "ru", "be"]
LOADED_A = BASE - dt.timedelta(days=5)
SYNCED_A = LOADED_A + dt.timedelta(hours=1)  # before every generated embargo ends
LOADED_B = BASE - dt.timedelta(days=3)  # before every clock time checked
SYNCED_B = LOADED_B + dt.timedelta(hours=1)  # before every generated embargo ends, too
VIEWS = [(None, None), ("economy", None), (None, "ru"), ("economy", "en")]


@st.composite
def generations(draw) -> tuple[list[Doc], list[Doc]]:
    """Generation A, then B: each article of A kept, edited (moved to another section or language, published,
    withdrawn, embargoed) or removed, and some new ones."""
    first = draw(documents(min_size=1, max_size=7))
    for doc in first:
        doc.lang = draw(st.sampled_from(LANGS))
    second = []
    for doc in first:
        action = draw(st.sampled_from(["keep", "move", "relang", "status", "embargo", "remove"]))
        if action == "remove":
            continue
        doc = copy.deepcopy(doc)
        if action == "move":
            doc.section = draw(st.sampled_from([None, *SECTIONS]))
        elif action == "relang":
            doc.lang = draw(st.sampled_from(LANGS))
        elif action == "status":
            doc.status = draw(st.sampled_from(["published", "draft", "retracted"]))
        elif action == "embargo":
            doc.embargo = draw(st.sampled_from([None, BASE, BASE + dt.timedelta(days=2)]))
        doc.words += 1  # every kept article is edited: its content changes
        second.append(doc)
    for new in draw(documents(min_size=0, max_size=3)):
        new.n += 10
        new.lang = draw(st.sampled_from(LANGS))
        second.append(new)
    return first, second


def _in_view(section: str | None, lang: str | None, doc: Doc) -> bool:
    return section in (None, doc.section) and lang in (None, doc.lang)


def check_served(served: list, section: str | None, lang: str | None, versions: dict[str, list[Doc]]) -> None:
    times = [change["at"] for change in served]
    assert times == sorted(times), times
    for change in served:
        if change["type"] == "upsert":
            article = change["article"]
            assert section in (None, (article["section"] or {}).get("slug")) and lang in (None, article["lang"])
            slug = article["slug"]
        else:
            slug = change["tombstone"]["slug"]
            assert section is None or any(d.section == section for d in versions[slug]), change
            assert lang is None or any(d.lang == lang for d in versions[slug]), change
        assert any(d.status == "published" for d in versions[slug]), change  # never a draft's slug


MOVES = (
    [Doc(0, section="economy", lang="en"), Doc(1, section="ruling-elite", lang="ru"), Doc(2, section="economy")],
    [Doc(0, section="ruling-elite", lang="en", words=4), Doc(1, section="security-issues", lang="en", words=4)],
)  # 0 leaves economy, 1 moves between two other sections and leaves Russian, 2 is removed
TIMES = (
    [Doc(0), Doc(1), Doc(3), Doc(4)],
    [Doc(0, embargo=BASE, words=4), Doc(1, words=4), Doc(3, words=4), Doc(4)],
)  # B's changes come at its load time (1, 3) and at an embargo's end (0): slug order is not time order, and the
# unchanged 4 keeps its change of A, older than B's but with a greater slug than a page of B ends on

AGAIN = ([Doc(0), Doc(1)], [Doc(0, embargo=BASE + dt.timedelta(days=2), words=4), Doc(1, words=4)])
# 0 was public in A and is embargoed again in B: gone from a synced copy at B's load, back when the embargo ends


@pytest.fixture
def archive_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("changes")


@ARCHIVE_PROPERTY
@given(pair=generations(), view=st.sampled_from(VIEWS), now=st.sampled_from(CLOCKS))
@example(pair=MOVES, view=("economy", None), now=CLOCKS[0])
@example(pair=MOVES, view=(None, "ru"), now=CLOCKS[3])
@example(pair=MOVES, view=("economy", "en"), now=CLOCKS[1])
@example(pair=TIMES, view=(None, None), now=CLOCKS[3])
@example(pair=AGAIN, view=(None, None), now=CLOCKS[1])
@example(pair=AGAIN, view=(None, "en"), now=CLOCKS[3])
def test_a_synced_view_ends_as_the_public_articles_of_the_new_generation(backend, archive_dir, pair, view, now):
    note(repr(pair))
    first, second = pair
    section, lang = view
    query = "&".join(f"{k}={v}" for k, v in (("section", section), ("lang", lang)) if v)
    versions: dict[str, list[Doc]] = {}
    for doc in first + second:
        versions.setdefault(doc.slug, []).append(doc)
    with store_history(backend, archive_dir) as load:
        client = load(first, LOADED_A).test_client()
        clock.freeze(SYNCED_A)
        copy_, served = {}, []
        token = sync_changes(client, copy_, query, None, served)
        assert set(copy_) == {d.slug for d in first if d.public(SYNCED_A) and _in_view(section, lang, d)}
        load(second, LOADED_B)
        # one client goes on just after B's load (before any embargo ends) and again at `now`, another only at
        # `now`
        clock.freeze(SYNCED_B)
        between, served_between = copy.deepcopy(copy_), copy.deepcopy(served)
        token_between = sync_changes(client, between, query, token, served_between)
        clock.freeze(now)
        sync_changes(client, copy_, query, token, served)
        sync_changes(client, between, query, token_between, served_between)
        expected = {d.slug for d in second if d.public(now) and _in_view(section, lang, d)}
        assert set(copy_) == expected, served
        assert between == copy_, served_between
        check_served(served, section, lang, versions)
        check_served(served_between, section, lang, versions)
        fresh, served = {}, []
        sync_changes(client, fresh, query, None, served)
        assert set(fresh) == expected and fresh == {s: copy_[s] for s in fresh}
        check_served(served, section, lang, versions)
