"""Related articles: ranked per generation at load time, read through the visibility rule, never shaped by hidden text."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.ingest.loader import load_archive
from tests.conftest import make_app

WORDS = [
    "sanctions",
    "potash",
    "rouble",
    "border",
    "drills",
    "talks",
    "budget",
    "deficit",
    "export",
    "refinery",
    "protest",
    "detention",
    "militia",
    "referendum",
    "ministry",
    "governor",
    "harvest",
    "railway",
    "pipeline",
    "garrison",
]
SECTIONS = ("economy", "security-issues", "ruling-elite", "international-relations")
TRENDS = ("worse", "unchanged", "better")
#: Visible: published (an embargo passed). Hidden: a draft, a retracted article, an embargo still running.
STATUSES = ("published", "published", "published", "passed", "draft", "retracted", "embargoed")
HIDDEN = {"draft", "retracted", "embargoed"}
MONDAY = dt.date(2022, 1, 3)

_text = st.lists(st.sampled_from(WORDS), min_size=8, max_size=40).map(" ".join)
_article = st.fixed_dictionaries(
    {
        "section": st.sampled_from(SECTIONS),
        "trend": st.sampled_from(TRENDS),
        "week": st.integers(0, 8),
        "status": st.sampled_from(STATUSES),
        "lang": st.sampled_from(("en", "en", "en", "ru")),
        "story": st.none() | st.integers(0, 2),
        "body": _text,
    }
)


def _one_per_language(articles: list[dict]) -> list[dict]:
    """A story has one article per language (two of one language sharing a key are merged as duplicates)."""
    seen: set = set()
    for a in articles:
        if (a["lang"], a["story"]) in seen:
            a["story"] = None
        seen.add((a["lang"], a["story"]))
    return articles


_archive = st.lists(_article, min_size=4, max_size=12).map(_one_per_language)


def _document(n: int, a: dict) -> str:
    week = MONDAY + dt.timedelta(weeks=a["week"])
    status = "published" if a["status"] in ("published", "passed", "embargoed", "soon") else a["status"]
    lines = [
        "---",
        f"slug: article-{n}",
        f'title: "Article {n}"',
        f"lang: {a['lang']}",
        f"issue: {week.isoformat()}",
        f"section: {a['section']}",
        f"trend: {a['trend']}",
        f"position: {n + 1}",
        'authors: ["Desk"]',
        f"status: {status}",
        f"published_at: {week + dt.timedelta(days=7)}T09:00:00Z",
        f'lead: "Lead {n}."',
    ]
    if a["story"] is not None:
        lines.append(f"translation_key: story-{a['story']}")
    if a["status"] == "embargoed":
        lines.append("embargo_until: 2099-01-01T09:00:00Z")
    if a["status"] == "passed":
        lines.append("embargo_until: 2022-03-01T09:00:00Z")
    if a["status"] == "soon":
        lines.append("embargo_until: 2030-06-01T09:00:00Z")
    return "\n".join([*lines, "---", a["body"], ""])


def _related_lists(store: dict, articles: list[dict], load: bool = True) -> dict[str, list[str] | None]:
    """slug → the related slugs the API serves (None: the article itself answers 404), both ways of asking."""
    with tempfile.TemporaryDirectory() as tmp:
        for n, a in enumerate(articles):
            week = Path(tmp) / (MONDAY + dt.timedelta(weeks=a["week"])).isoformat()
            week.mkdir(exist_ok=True)
            (week / f"article-{n}.{a['lang']}.md").write_text(_document(n, a), encoding="utf-8")
        if load:
            load_archive(Path(tmp), store["DATABASE_URL"], schema=store["DATABASE_SCHEMA"])
    app = make_app(store)
    try:
        client = app.test_client()
        out: dict[str, list[str] | None] = {}
        for n in range(len(articles)):
            response = client.get(f"/v1/articles/article-{n}/related")
            item = client.get(f"/v1/articles/article-{n}?include=related")
            if response.status_code == 404:
                assert item.status_code == 404
                out[f"article-{n}"] = None
                continue
            assert response.status_code == 200 and item.status_code == 200
            listed = [a["slug"] for a in response.get_json()["data"]]
            assert [a["slug"] for a in item.get_json()["included"]["related"]] == listed
            assert item.get_json()["data"]["related_url"].endswith(f"/v1/articles/article-{n}/related")
            out[f"article-{n}"] = listed
        return out
    finally:
        app.extensions["store"].dispose()


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_archive, st.data())
def test_related_lists_show_no_hidden_article_and_hidden_text_changes_none(scratch_store, articles, data):
    served = _related_lists(scratch_store, articles)
    for n, a in enumerate(articles):
        listed = served[f"article-{n}"]
        assert (listed is None) == (a["status"] in HIDDEN)
        if listed is None:
            continue
        assert len(listed) <= 5 and len(set(listed)) == len(listed) and f"article-{n}" not in listed
        for slug in listed:
            other = articles[int(slug.rsplit("-", 1)[1])]
            assert other["status"] not in HIDDEN, (slug, other)
            assert other["lang"] == a["lang"]  # candidates share the language
            assert a["story"] is None or other["story"] != a["story"], "the same story in another language"
    # Rewrite every hidden article's text (and its section, trend and time): no public list may change.
    rewritten = [
        {
            **a,
            "body": data.draw(_text),
            "section": data.draw(st.sampled_from(SECTIONS)),
            "week": data.draw(st.integers(0, 8)),
        }
        if a["status"] in HIDDEN
        else a
        for a in articles
    ]
    assert _related_lists(scratch_store, rewritten) == served


def test_an_embargoed_neighbour_joins_the_list_when_its_embargo_ends(scratch_store, frozen_clock):
    """Kept at load time beside the public neighbours, it is served only from the moment the rule says so."""
    base = {"section": "economy", "trend": "worse", "status": "published", "lang": "en", "story": None}
    twin = " ".join(["potash refinery railway"] * 6)
    articles = [
        {**base, "week": 2, "body": twin},
        {**base, "week": 2, "status": "soon", "body": twin},  # the nearest neighbour there is, under embargo
        *({**base, "week": w, "section": "regions", "body": f"harvest governor {w}"} for w in range(6)),
    ]
    frozen_clock(dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    before = _related_lists(scratch_store, articles)
    assert before["article-1"] is None and "article-1" not in before["article-0"]
    frozen_clock(dt.datetime(2031, 1, 1, tzinfo=dt.UTC))  # the embargo has ended; no reload
    after = _related_lists(scratch_store, articles, load=False)
    assert after["article-0"][0] == "article-1" and after["article-1"][0] == "article-0"
    assert after["article-0"][1:] == before["article-0"][:4]
