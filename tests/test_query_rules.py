"""The derived views of the store as properties over generated archives, on both backends: what the trend
timeline charts, the sections' latest trend and streak, issues and their counts per language, neighbours and the
latest issue, translations, filtered search and the filtered change feed, all from public articles only.

Each example loads a small generated archive (tests/test_rules.py, plus translation groups and languages) and
checks the API at one clock time against an oracle written from docs/api.md:

- timeline: the issue weeks holding a public article (in the `section` filter, within `from` and `to`: weeks
  ending on or after, starting on or before), newest first, paged; per (issue, section) the public stories
  (a translation group counts once, as its earliest published public version, then slug) per direction, their
  total, net index ((better - worse) / total, to 3 places) and direction;
- sections: each in use with its public article count, its latest timeline cell and how many of its most recent
  cells kept that direction;
- issues: article_count of the public articles (in `lang`, if given), languages of all of them; an issue's
  sections with their counts, its previous and next public weeks; the latest issue (holding one in `lang`);
- an article's translations: the public articles of its group in other languages, keyed in language order, on the
  item and on list items that ask for them;
- a search under the section and language filters: exactly the matching public articles, with their bodies when
  asked, paged no deeper than search.CANDIDATES hits;
- changes in a section or language: the upserts of its public articles, paged.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from hypothesis import example, given, note
from hypothesis import strategies as st

from api import clock
from api.store import queries, search
from tests.test_rules import (
    ARCHIVE_PROPERTY,
    BASE,
    CLOCKS,
    DIRECTION,
    PUBLISHED,
    SECTIONS,
    WEEKS,
    WORD,
    Doc,
    documents,
    items,
    local,
    served,
    walk_pages,
)

_VOCABULARY = yaml.safe_load((Path(__file__).resolve().parents[1] / "data" / "vocabulary.yaml").read_text())
POSITION = {s["slug"]: s["order"] for s in _VOCABULARY["sections"]}
LANGS = ["en", "ru", "be"]
# Around the weeks of WEEKS (Mondays): inside a week, the Sunday before one, the Monday of one
BOUNDS = [None, dt.date(2024, 2, 4), dt.date(2024, 2, 5), dt.date(2025, 12, 28), dt.date(2025, 12, 31)]


def end(week: dt.date) -> dt.date:
    return week + dt.timedelta(days=6)


def stories(public: list[Doc]) -> list[Doc]:
    """One version per story: a translation group's earliest published public version (then slug)."""
    groups: dict[str, list[Doc]] = {}
    for d in public:
        groups.setdefault(d.translation_key or f"a:{d.slug}", []).append(d)
    return [min(g, key=lambda d: (d.published, d.slug)) for g in groups.values()]


def cells_of(public: list[Doc], section: str | None, from_, to) -> dict[tuple[str, str], dict]:
    """(issue, section) -> the timeline cell the oracle expects, over the story versions matching the filters."""
    cells: dict[tuple[str, str], dict] = {}
    for d in stories(public):
        if not (d.week and d.section) or (section and d.section != section):
            continue
        if (from_ and end(d.week) < from_) or (to and d.week > to):
            continue
        cell = cells.setdefault((d.week.isoformat(), d.section), {"worse": 0, "unchanged": 0, "better": 0})
        cell.setdefault("_total", 0)
        cell["_total"] += 1
        if d.trend:
            cell[DIRECTION[d.trend]] += 1
    out = {}
    for key, c in cells.items():
        total = c.pop("_total")
        net = round((c["better"] - c["worse"]) / total, 3)
        direction = "better" if net > 0 else "worse" if net < 0 else "unchanged"
        out[key] = {"counts": c, "total": total, "net_index": net, "direction": direction}
    return out


def check_timeline(client, public: list[Doc], section, from_, to, limit: int) -> None:
    weeks = sorted(
        {
            d.week
            for d in public
            if d.week
            and (not section or d.section == section)
            and (not from_ or end(d.week) >= from_)
            and (not to or d.week <= to)
        },
        reverse=True,
    )
    query = {"limit": limit, "section": section, "from": from_, "to": to}
    url = "/v1/trends/timeline?" + "&".join(f"{k}={v}" for k, v in sorted(query.items()) if v)
    pages = walk_pages(client, url)
    expected = cells_of(public, section, from_, to)
    for n, page in enumerate(pages):
        shown = weeks[n * limit : (n + 1) * limit]
        assert page["meta"]["total"] == len(weeks), (url, page["meta"])
        got = [(c["issue"]["id"], c["section"]["slug"]) for c in page["data"]]
        want = sorted(
            (k for k in expected if dt.date.fromisoformat(k[0]) in shown),
            key=lambda k: (k[0], POSITION[k[1]], k[1]),
        )
        assert got == want, (url, n)
        for c in page["data"]:
            cell = expected[(c["issue"]["id"], c["section"]["slug"])]
            assert {k: c[k] for k in cell} == cell, (url, c)
        assert page["meta"]["issues"] == sorted({k[0] for k in want})
    assert len(pages) == max(1, -(-len(weeks) // limit)), url


def check_sections(client, public: list[Doc]) -> None:
    listed = client.get("/v1/sections").get_json()["data"]
    cells = cells_of(public, None, None, None)
    in_use = sorted({d.section for d in public if d.section}, key=lambda s: (POSITION[s], s))
    assert [s["slug"] for s in listed] == in_use
    for s in listed:
        history = sorted((k[0], v) for k, v in cells.items() if k[1] == s["slug"])
        assert s["article_count"] == sum(1 for d in public if d.section == s["slug"])
        if not history:
            assert s["latest_trend"] is None and s["streak"] == 0, s
            continue
        week, latest = history[-1]
        streak = 0
        for _, cell in reversed(history):
            if cell["direction"] != latest["direction"]:
                break
            streak += 1
        expected = {"issue": week, "direction": latest["direction"], "net_index": latest["net_index"]}
        assert (s["latest_trend"], s["streak"]) == (expected, streak), s


def check_issues(client, public: list[Doc], lang: str | None) -> None:
    weeks = sorted({d.week for d in public if d.week})
    suffix = f"lang={lang}" if lang else ""
    listed = [i for page in walk_pages(client, f"/v1/issues?limit=2&{suffix}") for i in page["data"]]
    assert [i["id"] for i in listed] == [w.isoformat() for w in reversed(weeks)]
    for issue in listed:
        week = dt.date.fromisoformat(issue["id"])
        of_week = [d for d in public if d.week == week]
        counted = [d for d in of_week if not lang or d.lang == lang]
        assert issue["article_count"] == len(counted), issue
        assert issue["languages"] == sorted({d.lang for d in of_week}), issue
        body = client.get(f"/v1/issues/{issue['id']}?{suffix}").get_json()
        data = body["data"]
        assert data["article_count"] == len(counted) and data["languages"] == issue["languages"]
        groups = {g["section"]["slug"] if g["section"] else None: g for g in data["sections"]}
        want: dict = {}
        for d in counted:
            want.setdefault(d.section, []).append(d.slug)
        assert {k: g["article_count"] for k, g in groups.items()} == {k: len(v) for k, v in want.items()}
        assert {k: sorted(a["slug"] for a in g["articles"]) for k, g in groups.items()} == {
            k: sorted(v) for k, v in want.items()
        }
        at = weeks.index(week)
        previous = weeks[at - 1].isoformat() if at > 0 else None
        following = weeks[at + 1].isoformat() if at + 1 < len(weeks) else None
        assert (data["previous"] or {}).get("id") == previous and (data["next"] or {}).get("id") == following
    latest = [d.week for d in public if d.week and (not lang or d.lang == lang)]
    resp = client.get(f"/v1/issues/latest?{suffix}")
    if latest:
        assert resp.status_code == 200 and resp.get_json()["data"]["id"] == max(latest).isoformat()
    else:
        assert resp.status_code == 404


def check_translations(client, public: list[Doc]) -> None:
    """On an article and on every list item that asks for them: the other public versions of its story, by
    language (the object's keys in language order), none for an article of no story."""
    listed = {
        a["slug"]: a["translations"]
        for page in walk_pages(client, "/v1/articles?fields=slug,translations&limit=3")
        for a in page["data"]
    }
    assert set(listed) == {d.slug for d in public}
    for d in public:
        got = client.get(f"/v1/articles/{d.slug}").get_json()["data"]["translations"]
        want = {
            o.lang: o.slug
            for o in sorted(public, key=lambda o: o.lang)
            if d.translation_key and o.translation_key == d.translation_key and o.slug != d.slug
        }
        for shown in (got, listed[d.slug]):
            assert [(lang, t["slug"]) for lang, t in shown.items()] == list(want.items()), d.slug


def check_search(client, public: list[Doc], section: str | None, lang: str | None) -> None:
    """A search under filters finds the public articles matching them (every generated one holds the word), with
    their bodies when asked; its pages reach only search.CANDIDATES hits deep (deeper is a 400)."""
    query = "&".join(f"{k}={v}" for k, v in (("section", section), ("lang", lang)) if v)
    found = [
        a for page in walk_pages(client, f"/v1/articles?q={WORD}&format=html&limit=2&{query}") for a in page["data"]
    ]
    want = {d.slug for d in public if section in (None, d.section) and lang in (None, d.lang)}
    assert sorted(a["slug"] for a in found) == sorted(want), query
    assert all(WORD in a["body"]["html"] for a in found), query
    depth, search.CANDIDATES = search.CANDIDATES, 2
    try:
        deep = client.get(f"/v1/articles?q={WORD}&limit=2&page=2&{query}")
        assert deep.status_code == 400, deep.get_json()
        assert [p["name"] for p in deep.get_json()["invalid_params"]] == ["page"]
        assert client.get(f"/v1/articles?q={WORD}&limit=2&page=1&{query}").status_code == 200
    finally:
        search.CANDIDATES = depth


def check_changes(client, public: list[Doc], section: str | None, lang: str | None) -> None:
    query = "&".join(f"{k}={v}" for k, v in (("lang", lang), ("limit", 2), ("section", section)) if v)
    got, url = [], f"/v1/changes?{query}"
    while url:
        body = client.get(url).get_json()
        got += [(c["type"], (c.get("article") or {}).get("slug", c.get("slug"))) for c in body["data"]]
        url = local(body["links"]["next"]) if body["meta"]["has_more"] else None
    want = [d.slug for d in public if (not section or d.section == section) and (not lang or d.lang == lang)]
    assert sorted(got) == sorted(("upsert", s) for s in want), (query, got)


@st.composite
def archives(draw) -> list[Doc]:
    docs = draw(documents(min_size=1, max_size=9))
    keys = draw(st.lists(st.sampled_from([None, "story-a", "story-b"]), min_size=len(docs), max_size=len(docs)))
    used: dict[str, int] = {}
    for doc, key in zip(docs, keys, strict=True):
        if key and used.get(key, 0) < len(LANGS):
            doc.translation_key, doc.lang = key, LANGS[used.get(key, 0)]
            used[key] = used.get(key, 0) + 1
        else:
            doc.lang = draw(st.sampled_from(LANGS))
    return docs


EXAMPLE = [
    # one story in three languages: the earliest public version counts (the English one is a draft)
    Doc(0, week=WEEKS[3], section="economy", trend="worse", translation_key="story-a", status="draft"),
    Doc(1, week=WEEKS[3], section="economy", trend="better", translation_key="story-a", lang="ru", published=PUBLISHED[1]),
    Doc(2, week=WEEKS[4], section="economy", trend="worse", translation_key="story-a", lang="be", published=PUBLISHED[0]),
    Doc(3, week=WEEKS[3], section="economy", trend="worse", published=PUBLISHED[2]),
    Doc(4, week=WEEKS[3], section="economy", trend="worse", published=PUBLISHED[3], lang="ru"),
    Doc(5, week=WEEKS[1], section="economy", trend="worse"),
    Doc(6, week=WEEKS[0], section="ruling-elite", trend="better"),
    Doc(7, week=WEEKS[2], section="economy", trend="unchanged", embargo=BASE + dt.timedelta(hours=1)),
    Doc(8, week=WEEKS[4], section="security-issues", lang="ru"),
    Doc(9, section="ruling-elite", trend="worse"),  # in no week: counted, never charted
    # a story public in three languages whose slugs are not in language order
    Doc(10, week=WEEKS[1], section="ruling-elite", translation_key="story-b", published=PUBLISHED[3]),
    Doc(11, week=WEEKS[1], section="ruling-elite", translation_key="story-b", lang="ru", published=PUBLISHED[3]),
    Doc(12, week=WEEKS[1], section="ruling-elite", translation_key="story-b", lang="be", published=PUBLISHED[3]),
]  # fmt: skip


# The timeline's arithmetic and the streaks' windows: cells of several directions and of trendless stories, a net
# index that needs its rounding, a section whose direction changes inside the first window (settled there) and one
# whose public articles are in no week (nothing to chart, whatever the window)
CELLS = [
    Doc(20, week=WEEKS[0], section="economy", trend="better"),
    Doc(21, week=WEEKS[0], section="economy", trend="better", lang="ru"),
    Doc(22, week=WEEKS[0], section="economy", trend="worse"),  # 2 better, 1 worse: net 0.333
    Doc(23, week=WEEKS[1], section="economy", trend="worse"),
    Doc(24, week=WEEKS[1], section="economy"),  # no trend: in the total only (net -0.5)
    Doc(25, week=WEEKS[3], section="economy", trend="worse"),
    Doc(26, week=WEEKS[4], section="economy", trend="better"),
    Doc(27, week=WEEKS[1], section="ruling-elite", trend="unchanged"),
    Doc(28, week=WEEKS[1], section="ruling-elite", trend="worse"),
    Doc(29, week=WEEKS[1], section="ruling-elite", trend="better", lang="be"),  # one of each: net 0
    Doc(30, week=WEEKS[3], section="ruling-elite", trend="better"),
    Doc(31, week=WEEKS[4], section="ruling-elite", trend="worse"),
    Doc(32, section="security-issues", trend="better"),  # its only public article is in no week
    Doc(33, week=WEEKS[4], section="security-issues", trend="worse", status="draft"),
]  # fmt: skip


@pytest.fixture
def archive_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("generated")


@ARCHIVE_PROPERTY
@given(
    docs=archives(),
    now=st.sampled_from(CLOCKS),
    section=st.sampled_from([None, *SECTIONS[:3]]),
    from_=st.sampled_from(BOUNDS),
    to=st.sampled_from(BOUNDS),
    lang=st.sampled_from([None, *LANGS]),
    limit=st.integers(1, 3),
    window=st.sampled_from([1, 2, queries.STREAK_WINDOW]),
)
@example(docs=EXAMPLE, now=CLOCKS[1], section="economy", from_=None, to=BOUNDS[4], lang="ru", limit=1, window=1)
@example(docs=EXAMPLE, now=CLOCKS[3], section=None, from_=BOUNDS[2], to=None, lang=None, limit=2, window=2)
@example(docs=EXAMPLE, now=CLOCKS[0], section="economy", from_=BOUNDS[4], to=None, lang="be", limit=3, window=8)
@example(docs=EXAMPLE, now=CLOCKS[3], section=None, from_=BOUNDS[1], to=BOUNDS[3], lang="en", limit=1, window=1)
@example(docs=EXAMPLE, now=CLOCKS[3], section=None, from_=None, to=BOUNDS[2], lang=None, limit=2, window=8)
@example(docs=CELLS, now=CLOCKS[3], section=None, from_=None, to=None, lang=None, limit=2, window=2)
@example(docs=CELLS, now=CLOCKS[3], section="economy", from_=BOUNDS[1], to=None, lang="ru", limit=3, window=1)
def test_derived_views_count_public_articles_only(
    backend, archive_dir, docs, now, section, from_, to, lang, limit, window
):
    """`window`: the streaks' first window (queries.STREAK_WINDOW), small enough to be widened on these archives."""
    note(repr(docs))
    if from_ and to and from_ > to:
        from_, to = to, from_
    default, queries.STREAK_WINDOW = queries.STREAK_WINDOW, window
    try:
        with served(backend, archive_dir, docs) as client:
            clock.freeze(now)
            public = [d for d in docs if d.public(now)]
            check_timeline(client, public, section, from_, to, limit)
            check_sections(client, public)
            check_issues(client, public, lang)
            check_translations(client, public)
            check_search(client, public, section, lang)
            check_changes(client, public, section, lang)
            if lang:
                in_lang = sorted(items(client, f"/v1/articles?limit=100&lang={lang}"))
                assert in_lang == sorted(d.slug for d in public if d.lang == lang)
    finally:
        queries.STREAK_WINDOW = default
