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

import contextlib
import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from hypothesis import example, given, note
from hypothesis import strategies as st
from PIL import Image
from sqlalchemy import select, text
from sqlalchemy.orm import aliased

from api import clock
from api.ingest.vocabulary import Vocabulary
from api.resources.changes import encode_token
from api.store import queries, search
from api.store.models import RELATED_MAX, Article, MediaFile, MediaUse, Related
from tests.test_rules import (
    ARCHIVE_PROPERTY,
    BASE,
    CLOCKS,
    DIRECTION,
    LOADED_AT,
    PUBLISHED,
    SECTIONS,
    WEEKS,
    WORD,
    Doc,
    documents,
    items,
    local,
    path_examples,
    reverse_heap,
    served,
    store_history,
    sync_changes,
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


# --------------------------------------------------------------------------------------------------- media, related


@dataclass
class Pictured(Doc):
    """A generated document that may show one of PICTURES as its lead image."""

    picture: str | None = None

    def text(self) -> str:
        front = f"---\nimage: media/{self.picture}\nimage_alt: Alt of {self.picture}\n" if self.picture else "---\n"
        return front + super().text().removeprefix("---\n")


def _png(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


# Two images of the same widths (each rendered at 320 and 400, webp and png): a rendition differs from its
# neighbours by hash alone, by width alone and by type alone
PICTURES = {"red.png": _png(400, 200, (200, 30, 30)), "blue.png": _png(400, 300, (30, 30, 200))}


@contextlib.contextmanager
def pictured(backend: dict, tmp_path: Path, docs: list[Pictured]):
    """served() with the archive's media/ holding PICTURES; yields the client and its app."""
    with served(backend, tmp_path, docs, files={f"media/{name}": data for name, data in PICTURES.items()}) as client:
        yield client, client.application


def stored(app) -> tuple[list, dict[str, set[str]], dict[str, list[tuple[int, str]]]]:
    """What the loader wrote, read back: the renditions, the slugs showing each image (by hash), and each
    article's ranked neighbours ((rank, slug), as api/ingest/related.py kept them)."""
    store = app.extensions["store"]
    neighbour = aliased(Article)
    with store.session(store.current()) as session:
        files = session.execute(select(MediaFile.hash, MediaFile.width, MediaFile.ext, MediaFile.type,
                                       MediaFile.etag, MediaFile.data)).all()  # fmt: skip
        uses: dict[str, set[str]] = {}
        for digest, slug in session.execute(select(MediaUse.hash, Article.slug).join(Article)):
            uses.setdefault(digest, set()).add(slug)
        ranked: dict[str, list[tuple[int, str]]] = {}
        rows = session.execute(
            select(Article.slug, Related.rank, neighbour.slug)
            .join(Related, Related.article_id == Article.id)
            .join(neighbour, neighbour.id == Related.related_id)
        )
        for slug, rank, other in rows:
            ranked.setdefault(slug, []).append((rank, other))
    return files, uses, ranked


def check_media(client, files: list, uses: dict[str, set[str]], public: set[str], pictures: int) -> None:
    """A rendition is served (its own bytes, type and tag) while a public article shows its image, else a 404 as
    for one that does not exist; a width, type or hash the store does not hold is a 404 whoever shows the image."""
    assert len(files) == 2 * 2 * pictures  # the images an article shows, each at two widths in two types
    held = {(f.hash, f.width, f.ext) for f in files}
    for f in files:
        resp = client.get(f"/media/{f.hash}-{f.width}.{f.ext}")
        if uses.get(f.hash, set()) & public:
            assert resp.status_code == 200, f
            assert (resp.data, resp.mimetype, resp.headers["ETag"]) == (f.data, f.type, f.etag), f
        else:
            assert resp.status_code == 404, f
        for name in (f"{f.hash}-{f.width + 1}.{f.ext}", f"{f.hash}-{f.width}.gif", f"{'0' * 20}-{f.width}.{f.ext}"):
            assert (name.split("-")[0], int(name.split("-")[1].split(".")[0]), name.rsplit(".")[-1]) not in held
            assert client.get(f"/media/{name}").status_code == 404, name
    # the OpenAPI document's example image is the first rendition (by hash, width, type) a public article shows,
    # none when none does, and its other examples are there either way
    found = path_examples(client.get("/v1/openapi.json").get_json())
    example = found.get("/media/{name}", set())
    assert bool(found.get("/v1/articles/{slug}")) == bool(public) and found.get("/v1/articles/{slug}", set()) <= public
    shown = sorted((f.hash, f.width, f.ext) for f in files if uses.get(f.hash, set()) & public)
    assert example == ({"{}-{}.{}".format(*shown[0])} if shown else set()), (example, shown)


def check_related(client, docs: list[Doc], ranked: dict[str, list[tuple[int, str]]], public: set[str]) -> None:
    """A public article's related articles: its ranked neighbours public now, best rank first, at most
    RELATED_MAX; a hidden article has none to show (a 404)."""
    for d in docs:
        resp = client.get(f"/v1/articles/{d.slug}/related")
        item = client.get(f"/v1/articles/{d.slug}?include=related")
        if d.slug not in public:
            assert (resp.status_code, item.status_code) == (404, 404), d.slug
            continue
        want = [slug for _, slug in sorted(ranked.get(d.slug, [])) if slug in public][:RELATED_MAX]
        assert [a["slug"] for a in resp.get_json()["data"]] == want, d.slug
        assert [a["slug"] for a in item.get_json()["included"]["related"]] == want, d.slug


def check_included(client, public: list[Doc]) -> None:
    """A list's `included` trend tags, worse to better (direction, then slug), and issues, newest first: those
    its items refer to, once each."""
    body = client.get("/v1/articles?include=trend,issue&limit=100").get_json()
    order = {"worse": -1, "unchanged": 0, "better": 1}
    trends = sorted({d.trend for d in public if d.trend}, key=lambda t: (order[DIRECTION[t]], t))
    assert [t["slug"] for t in body["included"]["trend"]] == trends
    weeks = sorted({d.week.isoformat() for d in public if d.week}, reverse=True)
    assert [i["id"] for i in body["included"]["issue"]] == weeks


@st.composite
def pictured_archives(draw) -> list[Pictured]:
    docs = draw(documents(min_size=1, max_size=9))
    return [Pictured(**{**vars(d), "picture": draw(st.sampled_from([None, None, *PICTURES]))}) for d in docs]


PICTURED = [
    Pictured(0, picture="red.png", embargo=BASE - dt.timedelta(days=1), trend="better", week=WEEKS[0]),
    Pictured(1, picture="blue.png", status="draft", trend="worse", week=WEEKS[1]),  # shown by a hidden one only
    Pictured(2, trend="canarydraft-tag", week=WEEKS[3]),
    Pictured(3, embargo=BASE + dt.timedelta(days=2), trend="unchanged", week=WEEKS[2]),  # a kept, hidden neighbour
    Pictured(4, trend="worse", week=WEEKS[4], mentions=2),
]
# More public neighbours than a list shows: eight public at load, and three embargoed at load that end before BASE
CROWD = [
    Pictured(n, embargo=BASE - dt.timedelta(days=1) if n % 4 == 0 else None, picture="blue.png" if n == 0 else None,
             published=PUBLISHED[n % 4], section="economy", mentions=1 + n % 3, words=2 + n)
    for n in range(11)
]  # fmt: skip


@ARCHIVE_PROPERTY
@given(docs=pictured_archives(), now=st.sampled_from(CLOCKS))
@example(docs=PICTURED, now=CLOCKS[1])
@example(docs=PICTURED, now=CLOCKS[0])
@example(docs=CROWD, now=CLOCKS[3])
def test_images_related_lists_and_included_terms_show_public_articles_only(backend, archive_dir, docs, now):
    note(repr(docs))
    with pictured(backend, archive_dir, docs) as (client, app):
        clock.freeze(now)
        public = [d for d in docs if d.public(now)]
        files, uses, ranked = stored(app)
        check_media(client, files, uses, {d.slug for d in public}, len({d.picture for d in docs if d.picture}))
        check_related(client, docs, ranked, {d.slug for d in public})
        check_included(client, public)
        check_changes(client, public, None, None)
        # a feed searched by one article's own title token holds that article alone; a search of no words, nothing
        for d in public:
            feed = client.get(f"/v1/feed.json?q={d.token}&limit=100").get_json()
            assert [e["url"].rsplit("/", 1)[-1] for e in feed["items"]] == [d.slug], d.slug
        for url in ("/v1/articles?q=%21%21&sort=newest", "/v1/articles?q=%21%21"):
            body = client.get(url).get_json()
            assert (body["data"], body["meta"]["total"]) == ([], 0), url
        assert client.get("/readyz").status_code == 200


def test_the_example_image_is_the_first_rendition_whatever_the_row_order(backend, archive_dir):
    """The OpenAPI document's image example is the first rendition by (hash, width, type) of those public articles
    show, in the order the loader wrote them and, on PostgreSQL, with the table's physical order turned around."""
    docs = [Pictured(0, picture="red.png"), Pictured(1, picture="blue.png")]
    with pictured(backend, archive_dir, docs) as (client, app):
        clock.freeze(BASE)
        files, _, _ = stored(app)
        first = "{}-{}.{}".format(*min((f.hash, f.width, f.ext) for f in files))
        assert path_examples(client.get("/v1/openapi.json").get_json())["/media/{name}"] == {first}
    with pictured(backend, archive_dir, [*docs, Pictured(2)]) as (client, app):  # another generation: not cached
        if reverse_heap(app, "media_file"):
            clock.freeze(BASE)
            assert path_examples(client.get("/v1/openapi.json").get_json())["/media/{name}"] == {first}


# --------------------------------------------------------------------------------------------------- calendar edges

# Issues on the first and last days of a year (Mondays both), and two weeks a week apart; every article in one
# desk with one direction, so its streak runs over every week
EDGES = [
    Doc(0, week=WEEKS[4]),
    Doc(1, week=dt.date(2018, 12, 31)),
    Doc(2, week=dt.date(2024, 1, 1)),
    Doc(3, week=dt.date(2024, 1, 1), lang="ru"),
    Doc(4, week=WEEKS[0]),
    Doc(5, week=WEEKS[1]),
    Doc(6, week=WEEKS[3]),
    Doc(7, week=dt.date(2024, 1, 1), lang="ru"),
]
for _doc in EDGES:
    _doc.section, _doc.trend = "economy", "worse"


def test_ranges_hold_their_first_and_last_days_and_streak_windows_widen_fourfold(backend, archive_dir, monkeypatch):
    """`year` takes the issues starting on its first and last days; `covers` a week's Monday; `to` an issue
    starting on it; `from` an issue ending on or after it (the Monday after a week is past it), from the
    calendar's first days on. A total under counted filters counts only the matching articles, exactly whatever
    COUNT_BOUND. A streak's window widens fourfold until it holds every week of the desk."""
    weeks = sorted({d.week for d in EDGES})
    windows: list[int] = []
    timeline = queries.trend_timeline

    def counted(session, now, filters=None):
        windows.append(len(filters["issue"]))
        assert len(windows) <= 3, windows  # 1, 4, then 16 holds them all
        return timeline(session, now, filters)

    monkeypatch.setattr(queries, "STREAK_WINDOW", 1)
    monkeypatch.setattr(queries, "trend_timeline", counted)
    monkeypatch.setattr(queries, "COUNT_BOUND", 1)
    with served(backend, archive_dir, EDGES) as client:
        clock.freeze(BASE)

        def issues(query: str) -> list[str]:
            return items(client, f"/v1/issues?limit=100&{query}", "id")

        def articles(query: str) -> list[str]:
            body = client.get(f"/v1/articles?limit=100&{query}").get_json()
            assert body["meta"]["total"] == len(body["data"]) and not body["meta"]["total_estimated"], query
            return sorted(a["slug"] for a in body["data"])

        assert issues("year=2018") == ["2018-12-31"]
        assert issues("year=2024") == ["2024-02-05", "2024-01-29", "2024-01-01"]
        for week in weeks:
            assert issues(f"covers={week}") == [week.isoformat()]
            assert issues(f"to={week}")[-1] == weeks[0].isoformat() and issues(f"to={week}")[0] == week.isoformat()
            after = week + dt.timedelta(days=7)  # the next Monday: this week has ended
            assert week.isoformat() not in issues(f"from={after}")
            assert [d.slug for d in EDGES if d.week == week][0] not in articles(f"from={after}")
            assert [d.slug for d in EDGES if d.week == week][0] in articles(f"from={week + dt.timedelta(days=6)}")
        assert articles("from=0001-01-01") == sorted(d.slug for d in EDGES)
        assert articles("from=0001-01-03") == sorted(d.slug for d in EDGES)
        assert articles("lang=ru") == ["article-3", "article-7"]
        assert articles("section=economy&lang=en&issue=2024-01-01") == ["article-2"]
        every = "section=economy&trend=worse&issue=2024-01-01&lang=ru&from=2024-01-01&to=2024-01-07"
        assert articles(every) == ["article-3", "article-7"]  # every counted filter: still the counts' exact sum
        (economy,) = client.get("/v1/sections").get_json()["data"]
        assert (economy["slug"], economy["streak"], economy["latest_trend"]["issue"]) == (
            "economy", len(weeks), weeks[-1].isoformat()
        )  # fmt: skip
        # (with a shared response cache, as on PostgreSQL with Redis, an earlier run may have answered already)
        assert windows == [1, 4, len(weeks)] or (backend["CACHE_REDIS_URL"] and windows == []), windows


# --------------------------------------------------------------------------------------------------- merge, changes


def test_a_hidden_copy_lends_nothing_even_past_its_embargo(backend, archive_dir):
    """A draft stays hidden whatever its embargo says: as a duplicate it neither wins nor lends a fact."""
    title = "One article told twice"
    docs = [
        Doc(0, title=title, words=3),
        Doc(1, status="draft", embargo=LOADED_AT - dt.timedelta(days=1), title=title, words=9, week=WEEKS[1],
            section="ruling-elite", trend="worse", caption="a draft's caption"),
    ]  # fmt: skip
    with served(backend, archive_dir, docs) as client:
        clock.freeze(BASE)
        assert items(client, "/v1/articles?limit=100") == ["article-0"]
        data = client.get("/v1/articles/article-0").get_json()["data"]
        assert data["lead"] == f"Lead {WORD} of {docs[0].token}"
        assert (data["section"], data["trend"], data["issue"], data["image"]) == (None, None, None, None)
        assert docs[1].token not in str(data)


def test_changes_across_loads_come_in_time_then_slug_order_and_never_name_an_unseen_article(backend, archive_dir):
    """Two loads: changes come oldest first, then in slug order, a change of the second load that becomes visible
    at the same moment as one of the first included (pages end on (time, slug)); an article embargoed in the first and withdrawn in the second before
    its embargo ended was never seen, so no change names it."""
    soon, later = BASE + dt.timedelta(hours=1), BASE + dt.timedelta(days=2)
    first = [Doc(1, embargo=soon), Doc(2, embargo=later), Doc(5)]
    second = [Doc(0, embargo=soon), Doc(1, embargo=soon), Doc(5)]
    with store_history(backend, archive_dir) as load:
        for docs, at in ((first, LOADED_AT), (second, LOADED_AT + dt.timedelta(days=1))):
            app = load(docs, at)
        client = app.test_client()
        for now, want in ((BASE, ["article-5"]), (CLOCKS[3], ["article-5", "article-0", "article-1"])):
            clock.freeze(now)
            got, url = [], "/v1/changes?limit=1"
            while url:
                body = client.get(url).get_json()
                assert "article-2" not in str(body), now
                got += [(c["at"], c["type"], c["article"]["slug"]) for c in body["data"]]
                url = local(body["links"]["next"]) if body["meta"]["has_more"] else None
            assert got == sorted(got), (now, got)  # oldest first, then by slug
            assert sorted({slug for _, _, slug in got}) == sorted(want) and {t for _, t, _ in got} == {"upsert"}


def test_a_removal_at_the_instant_an_embargo_ends_comes_after_that_embargos_upsert(backend, archive_dir):
    """Public in A, embargoed again in B (removed now, back at the embargo's end), retracted by C loaded at the very
    instant the embargo ends: the upsert B scheduled and C's removal share (time, slug), and the log's order (seq)
    must decide: a client, syncing a page of one change at a time, ends without the retracted article."""
    end = LOADED_AT + dt.timedelta(days=2)
    loads = (([Doc(1), Doc(2)], LOADED_AT), ([Doc(1, embargo=end, words=4), Doc(2)], LOADED_AT + dt.timedelta(days=1)),
             ([Doc(1, status="retracted"), Doc(2)], end))  # fmt: skip
    with store_history(backend, archive_dir) as load:
        copy, token = {}, None
        for n, (docs, at) in enumerate(loads):
            app = load(docs, at)
            if n == 0:  # a client synced generation A
                token = sync_changes(app.test_client(), copy, "", None, [], limit=1)
        clock.freeze(end + dt.timedelta(hours=1))
        served = []
        sync_changes(app.test_client(), copy, "", token, served, limit=1)
        assert set(copy) == {"article-2"}, served
        mine = [(c["type"], c["at"]) for c in served if (c.get("article") or c.get("tombstone"))["slug"] == "article-1"]
        assert mine[-1][0] == "delete" and ("upsert", mine[-1][1]) not in mine, served  # removed, not back
        fresh = {}
        sync_changes(app.test_client(), fresh, "", None, [], limit=1)
        assert set(fresh) == {"article-2"}
        # in one page: the upserts the retraction superseded are left out, not served as tombstones of their own
        served = []
        sync_changes(app.test_client(), {}, "", None, served, limit=10)
        mine = [(c["type"], c["at"]) for c in served if (c.get("article") or c.get("tombstone"))["slug"] == "article-1"]
        assert mine == [("delete", (LOADED_AT + dt.timedelta(days=1)).isoformat()), ("delete", end.isoformat())]


@pytest.mark.parametrize("started", [dt.timedelta(minutes=20), dt.timedelta(0)], ids=["before", "at-the-instant"])
def test_a_client_that_synced_during_a_load_misses_none_of_its_changes(backend, archive_dir, started):
    """A load reads the clock when it starts and records its changes at that time, but the old generation is served
    until the swap. An embargo that ends meanwhile (or at that very instant) hands a syncing client a token past the
    load's time; after the swap the client must still get every change the load recorded (a client may see a
    change twice, never miss one), and a client that synced before the embargo ended is served each change once."""
    end = LOADED_AT + dt.timedelta(days=2)
    load_b = end - started  # B's clock: before the embargo ends, or as it ends; its swap: after a client's sync
    # 6 public between a client's early sync and B's start: behind B's changes, after that client's token
    first = [Doc(1), Doc(2, embargo=end), Doc(4), Doc(6, embargo=load_b - dt.timedelta(minutes=30))]
    # 1 updated, 3 and 7 new (7's slug sorts before every letter), 4 removed
    second = [Doc(1, words=7), Doc(2, embargo=end), Doc(3), first[3], Doc(7, name="2026-budget")]
    with store_history(backend, archive_dir) as load:
        app = load(first, LOADED_AT)
        clock.freeze(end + dt.timedelta(minutes=5))  # A still served: the embargo of article-2 has ended
        during, before = {}, {}
        token = sync_changes(app.test_client(), during, "", None, [], limit=1)
        assert set(during) == {"article-1", "article-2", "article-4", "article-6"}
        clock.freeze(load_b - dt.timedelta(hours=1))
        early = sync_changes(app.test_client(), before, "", None, [], limit=1)
        load(second, load_b)
        clock.freeze(end + dt.timedelta(hours=1))
        fresh = {}
        sync_changes(app.test_client(), fresh, "", None, [], limit=100)
        assert set(fresh) == {"article-1", "article-2", "article-3", "article-6", "2026-budget"}
        for state, since in ((during, token), (before, early)):
            for limit in (1, 100):
                mine, served = dict(state), []  # the client's copy: sync_changes sets and drops its keys
                sync_changes(app.test_client(), mine, "", since, served, limit=limit)
                assert mine == fresh, (since, limit, served)
                if since == early:  # a client behind the load is not sent back: nothing before its token again
                    assert min(dt.datetime.fromisoformat(c["at"]) for c in served) > LOADED_AT, served
                else:  # the feed went back to the load's changes, not further
                    assert min(dt.datetime.fromisoformat(c["at"]) for c in served) == load_b, served


WITHDRAWALS = {
    "removed": [Doc(1)],
    "retracted": [Doc(1), Doc(2, status="retracted")],
    "embargo-moved": [Doc(1), Doc(2, embargo=LOADED_AT + dt.timedelta(days=5), words=4)],
}


@pytest.mark.parametrize("withdrawal", list(WITHDRAWALS))
def test_an_article_withdrawn_by_a_load_its_embargo_ended_during_leaves_a_tombstone(backend, archive_dir, withdrawal):
    """A load begins shortly before an embargo ends and withdraws that article (removes it, retracts it or moves the
    embargo on); the old generation, served until the swap, hands it to a syncing client when the embargo ends. The
    load must judge what the old generation may have served by when it ends, not by when it began: the client is
    told the article is gone, and with the embargo moved on, it comes back when the new embargo ends."""
    end = LOADED_AT + dt.timedelta(days=2)
    with store_history(backend, archive_dir) as load:
        app = load([Doc(1), Doc(2, embargo=end)], LOADED_AT)
        clock.freeze(end + dt.timedelta(minutes=1))  # the old generation still served: article-2 is public
        copy = {}
        token = sync_changes(app.test_client(), copy, "", None, [], limit=1)
        assert set(copy) == {"article-1", "article-2"}
        load(WITHDRAWALS[withdrawal], end - dt.timedelta(minutes=2))  # began before the embargo's end
        clock.freeze(end + dt.timedelta(hours=1))
        for limit in (1, 100):
            mine, served = dict(copy), []
            sync_changes(app.test_client(), mine, "", token, served, limit=limit)
            assert set(mine) == {"article-1"}, (limit, served)
        fresh = {}
        sync_changes(app.test_client(), fresh, "", None, [], limit=1)
        assert set(fresh) == {"article-1"}
        clock.freeze(LOADED_AT + dt.timedelta(days=6))
        sync_changes(app.test_client(), mine, "", token, [], limit=1)
        assert set(mine) == ({"article-1", "article-2"} if withdrawal == "embargo-moved" else {"article-1"})


RETURNS = {
    "removed, back public": ([Doc(1)], [Doc(1), Doc(2, words=5)]),
    "removed, back at its embargo": ([Doc(1)], [Doc(1), Doc(2, embargo=LOADED_AT + dt.timedelta(days=2), words=5)]),
    "moved on, back public": ([Doc(1), Doc(2, embargo=LOADED_AT + dt.timedelta(days=7), words=4)], [Doc(1), Doc(2)]),
}


@pytest.mark.parametrize("case", list(RETURNS))
def test_an_article_withdrawn_within_the_margin_and_brought_back_stays(backend, archive_dir, case):
    """B withdraws an article within the margin of its embargo's end (a tombstone timed just after that end); C,
    loaded before that end, brings it back. C's upsert must not sort before B's tombstone: after the end a fresh
    sync, and a client synced before C, hold the article that /v1/articles serves."""
    end = LOADED_AT + dt.timedelta(days=2)
    withdrawn, back = RETURNS[case]
    with store_history(backend, archive_dir) as load:
        app = load([Doc(1), Doc(2, embargo=end)], LOADED_AT)
        load(withdrawn, end - dt.timedelta(minutes=3))
        clock.freeze(end - dt.timedelta(minutes=2))
        early = {}
        token = sync_changes(app.test_client(), early, "", None, [], limit=1)
        load(back, end - dt.timedelta(minutes=1))
        clock.freeze(end + dt.timedelta(hours=1))
        client = app.test_client()
        assert client.get("/v1/articles/article-2").status_code == 200
        for state, since in (({}, None), (early, token)):
            served = []
            sync_changes(client, state, "", since, served, limit=1)
            assert set(state) == {"article-1", "article-2"}, (since, served)


def test_a_tombstone_timed_after_the_build_is_a_boundary_of_the_cache(backend, archive_dir):
    """The tombstone of an article withdrawn within the margin becomes visible when no article's embargo ends (the
    withdrawn one is no longer in the store): the feed's cache key, ETag and lifetime must still change then, or a
    page cached before that moment, or a 304, would hide the tombstone from a client that synced the article."""
    end = LOADED_AT + dt.timedelta(days=2)
    with store_history(backend, archive_dir) as load:
        app = load([Doc(1), Doc(2, embargo=end)], LOADED_AT)
        clock.freeze(end + dt.timedelta(minutes=1))  # the old generation served article-2
        token = sync_changes(app.test_client(), {}, "", None, [], limit=100)
        load([Doc(1)], end - dt.timedelta(minutes=2))
        client = app.test_client()
        url = f"/v1/changes?limit=100&since={token}"
        clock.freeze(end - dt.timedelta(seconds=30))  # an instance whose clock is behind answers first
        before = client.get(url)
        assert before.get_json()["data"] == []
        assert int(before.headers["Cache-Control"].split("max-age=")[1].split(",")[0]) <= 31
        clock.freeze(end + dt.timedelta(hours=1))
        after = client.get(url)
        assert [c["type"] for c in after.get_json()["data"]] == ["delete"], after.get_json()
        assert after.headers["ETag"] != before.headers["ETag"]
        assert client.get(url, headers={"If-None-Match": before.headers["ETag"]}).status_code == 200


def test_an_article_withdrawn_long_before_its_embargo_ends_is_never_named(backend, archive_dir):
    """The other side of the margin: withdrawn by a load that ends well before its embargo does, an article no
    generation served is forgotten; no change ever names it, before its old embargo's end or after."""
    end = LOADED_AT + dt.timedelta(days=2)
    with store_history(backend, archive_dir) as load:
        load([Doc(1), Doc(2, embargo=end)], LOADED_AT)
        app = load([Doc(1)], end - dt.timedelta(hours=1))
        for now in (end - dt.timedelta(minutes=30), end + dt.timedelta(hours=1)):
            clock.freeze(now)
            served = []
            sync_changes(app.test_client(), {}, "", None, served, limit=100)
            assert "article-2" not in str(served), now


def test_an_article_seen_then_embargoed_again_and_withdrawn_keeps_its_tombstone(backend, archive_dir):
    """Public in A (a client syncs it), embargoed again by B (a tombstone now, back at the embargo's end), withdrawn
    by C before that end: C must not forget the article as one never seen, for the log says it was; the client
    syncing after C is told it is gone."""
    with store_history(backend, archive_dir) as load:
        app = load([Doc(1), Doc(2)], LOADED_AT)
        clock.freeze(LOADED_AT + dt.timedelta(hours=1))
        copy = {}
        token = sync_changes(app.test_client(), copy, "", None, [], limit=1)
        assert set(copy) == {"article-1", "article-2"}
        load([Doc(1, embargo=LOADED_AT + dt.timedelta(days=3)), Doc(2)], LOADED_AT + dt.timedelta(days=1))
        load([Doc(1, status="draft"), Doc(2)], LOADED_AT + dt.timedelta(days=2))
        for at in (dt.timedelta(days=2, hours=1), dt.timedelta(days=4)):  # before the old embargo's end and after
            clock.freeze(LOADED_AT + at)
            mine = dict(copy)
            sync_changes(app.test_client(), mine, "", token, [], limit=1)
            assert set(mine) == {"article-2"}, at
            fresh = {}
            sync_changes(app.test_client(), fresh, "", None, [], limit=100)
            assert set(fresh) == {"article-2"}, at


def test_the_lookback_for_an_older_token_is_a_seek_of_the_loads_since(archive_dir):
    """first_change_recorded_after reads only the changes recorded between the token's generation and the token's
    time: SQLite plans it as a two-sided range of the recorded_at index, not a walk of the log by visible_at."""
    sqlite = {"DATABASE_URL": "sqlite:///unused", "DATABASE_SCHEMA": "bulletin", "CACHE_REDIS_URL": None}
    with store_history(sqlite, archive_dir) as load:  # own_store puts the file beside the archive
        store = load([Doc(1), Doc(2)], LOADED_AT).extensions["store"]
        plans = []
        with store.session(store.current()) as session:
            real = session.scalar

            def explained(stmt, *args, **kwargs):
                sql = str(stmt.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
                plans.extend(row[-1] for row in session.execute(text("EXPLAIN QUERY PLAN " + sql)))
                return real(stmt, *args, **kwargs)

            session.scalar = explained
            queries.first_change_recorded_after(session, BASE, LOADED_AT - dt.timedelta(days=1), BASE)
        assert plans == ["SEARCH change USING INDEX ix_change_recorded_at (recorded_at>? AND recorded_at<?)"], plans


def test_the_lookback_never_skips_what_lies_between_a_token_and_a_later_embargo(backend, archive_dir):
    """A load that began before a client's token but recorded only an article embargoed until after it gives no
    reason to go back, nor to jump ahead: the client still gets the change that lies between its token and that
    embargo's end (an embargo of the older generation ending meanwhile), then the embargoed article."""
    end = LOADED_AT + dt.timedelta(days=2)
    between, after = end + dt.timedelta(minutes=10), end + dt.timedelta(minutes=30)
    with store_history(backend, archive_dir) as load:
        app = load([Doc(1), Doc(2, embargo=end), Doc(6, embargo=between)], LOADED_AT)
        clock.freeze(end + dt.timedelta(minutes=5))
        copy = {}
        token = sync_changes(app.test_client(), copy, "", None, [], limit=1)
        assert set(copy) == {"article-1", "article-2"}
        # 7 sorts after the others: no publication-order position moves, so B records its upsert alone
        load([Doc(1), Doc(2, embargo=end), Doc(6, embargo=between), Doc(7, embargo=after)], end - dt.timedelta(hours=1))
        clock.freeze(end + dt.timedelta(hours=1))
        served = []
        sync_changes(app.test_client(), copy, "", token, served, limit=100)
        assert set(copy) == {"article-1", "article-2", "article-6", "article-7"}, served


def test_a_token_from_an_older_generation_names_no_time_still_hidden(backend, archive_dir):
    """The feed goes back for a token of an older generation only to changes visible now: a load that recorded
    nothing but an embargoed article gives a client whose token lies past the embargo's end (an instance whose
    clock is behind the one that served it) no token naming that end, which is not public yet."""
    end = LOADED_AT + dt.timedelta(days=2)
    load_b, hidden_until = end - dt.timedelta(minutes=20), end - dt.timedelta(minutes=10)
    with store_history(backend, archive_dir) as load:
        app = load([Doc(1), Doc(2, embargo=end)], LOADED_AT)
        clock.freeze(end + dt.timedelta(minutes=5))
        token = sync_changes(app.test_client(), {}, "", None, [], limit=1)
        load([Doc(1), Doc(2, embargo=end), Doc(5, embargo=hidden_until)], load_b)
        now = load_b + dt.timedelta(minutes=1)
        clock.freeze(now)
        body = app.test_client().get(f"/v1/changes?since={token}").get_json()
        signer = app.extensions["signer"]
        named = {dt.datetime.fromtimestamp(int(signer.unsign("changes", t).split(b":")[1]) / 1e6, dt.UTC)
                 for t in (token, body["meta"]["next"])}  # fmt: skip
        assert hidden_until not in named and named <= {end} | {t for t in named if t <= now}, named


def test_a_token_past_this_instances_clock_keeps_its_lookback(backend, archive_dir):
    """An instance whose clock is behind the one that served a token cannot yet see what a load since recorded
    behind it (an embargo ending between its clock and the token): the token it hands back keeps the older
    generation's build time, so once that embargo ends the feed still goes back for it. Re-signed with the current
    build time, the next request would skip the back-look and the change would never be served."""
    end = LOADED_AT + dt.timedelta(days=2)
    load_b, hidden_until = end - dt.timedelta(minutes=20), end - dt.timedelta(minutes=10)
    with store_history(backend, archive_dir) as load:
        app = load([Doc(1), Doc(2, embargo=end)], LOADED_AT)
        clock.freeze(end + dt.timedelta(minutes=5))  # the instance that served the token runs ahead
        token = sync_changes(app.test_client(), {}, "", None, [], limit=1)
        load([Doc(1), Doc(2, embargo=end), Doc(5, embargo=hidden_until)], load_b)
        clock.freeze(load_b + dt.timedelta(minutes=1))  # this one behind: article-5 is not visible to it yet
        state, served = {}, []
        token = sync_changes(app.test_client(), state, "", token, served)
        assert served == []
        clock.freeze(end + dt.timedelta(minutes=6))
        sync_changes(app.test_client(), state, "", token, served)
        assert "article-5" in state, served


def test_the_change_feed_pages_tombstones_links_and_problems_exactly(backend, archive_dir, monkeypatch):
    """One page reads at most `limit` + 1 changes and says `has_more` only when another change follows; a tombstone
    names the section and language the article left (a removed one's own); the `next` link and the Link header name
    the view and the token, and a feed with nothing to serve yet links to itself; a token older than the history by
    more than a microsecond's rounding is 410, a malformed one a 400, each with its own problem text."""
    later = LOADED_AT + dt.timedelta(days=1)
    first = [Doc(1, lang="ru", section="economy"), Doc(2, section="economy"), Doc(3)]
    second = [Doc(1, lang="en", section="ruling-elite", words=4), Doc(2, status="retracted"), Doc(3)]
    limits = []
    with store_history(backend, archive_dir) as load:
        client = load(first, LOADED_AT).test_client()
        clock.freeze(LOADED_AT + dt.timedelta(hours=1))
        for limit, more in ((3, False), (2, True)):  # three changes, none superseded
            body = client.get(f"/v1/changes?limit={limit}").get_json()
            assert (len(body["data"]), body["meta"]["has_more"]) == (limit, more), limit
        load(second, later)
        clock.freeze(BASE)
        real = queries.changes_after
        monkeypatch.setattr(queries, "changes_after", lambda *a: limits.append(a[-1]) or real(*a))
        full = client.get("/v1/changes?limit=1000").get_json()
        assert limits == [1001] and full["meta"]["has_more"] is False
        assert [c["type"] for c in full["data"]].count("delete") == 1  # the retraction; the move is an upsert here
        resp = client.get("/v1/changes?section=economy&limit=2")
        body = resp.get_json()
        token = body["meta"]["next"]
        assert body["links"]["next"] == f"http://localhost/v1/changes?section=economy&limit=2&since={token}"
        assert resp.headers["Link"] == f'<{body["links"]["next"]}>; rel="next"'
        tombstones = {
            (view, c["tombstone"]["slug"]): c["tombstone"]
            for view in ("lang=ru", "section=economy", "")
            for c in client.get(f"/v1/changes?{view}&limit=100").get_json()["data"]
            if c["type"] == "delete"
        }
        at = later.isoformat()

        def tomb(slug: str, section: str | None, lang: str) -> dict:
            return {"id": f"http://localhost/v1/articles/{slug}", "slug": slug, "section": section, "lang": lang}

        assert {k: {f: v for f, v in t.items() if f != "removed_at"} for k, t in tombstones.items()} == {
            ("lang=ru", "article-1"): tomb("article-1", "economy", "ru"),  # moved out of Russian and of economy
            ("section=economy", "article-1"): tomb("article-1", "economy", "ru"),
            ("section=economy", "article-2"): tomb("article-2", "economy", "en"),  # retracted
            ("", "article-2"): tomb("article-2", "economy", "en"),
        }
        assert {t["removed_at"] for t in tombstones.values()} == {at}
        # the oldest change's instant, and a microsecond before it (rounding), are within the history; two are not
        oldest = dt.datetime.fromisoformat(full["data"][0]["at"])
        signer, built = client.application.extensions["signer"], client.application.extensions["store"].current()
        for back, status in ((1, 200), (2, 410)):
            since = encode_token(signer, oldest - dt.timedelta(microseconds=back), "", built.built_at)
            resp = client.get(f"/v1/changes?since={since}")
            assert resp.status_code == status, back
        assert resp.get_json()["detail"] == (
            "This change token is older than the retained change history (or from another archive). "
            "Resync: GET /v1/changes without `since`, replace your copy with the result, then continue from `next`."
        )
        bad = client.get("/v1/changes?since=" + signer.sign("changes", b"v4:0:x:a")).get_json()
        assert (bad["detail"], bad["invalid_params"]) == (
            "Malformed change token.", [{"name": "since", "reason": "not a token from this API"}]
        )  # fmt: skip
    with store_history(backend, archive_dir) as load:  # nothing visible yet: the feed links to itself
        client = load([Doc(1, embargo=BASE + dt.timedelta(days=9))], LOADED_AT).test_client()
        clock.freeze(BASE)
        for view, link in (
            ("", "http://localhost/v1/changes?limit=100"),
            ("section=economy&limit=5", "http://localhost/v1/changes?section=economy&limit=5"),
        ):
            body = client.get(f"/v1/changes?{view}").get_json()
            assert (body["data"], body["meta"], body["links"]["next"]) == ([], {"has_more": False, "next": None}, link)


def test_changes_of_one_instant_and_slug_are_served_in_the_order_they_were_logged(backend, archive_dir):
    """Public in A; embargoed again by B until `end` (removed at B, back at `end`); embargoed again by C, loaded at
    the very instant `end`, until `later` (removed at `end`, back at `later`). The upsert B scheduled and C's removal
    share (time, slug): the feed serves them in the log's order (seq), upsert then removal, whatever order the rows
    lie in (on PostgreSQL the change table's physical order is turned around)."""
    end, later = LOADED_AT + dt.timedelta(days=2), LOADED_AT + dt.timedelta(days=3)
    loads = (([Doc(1), Doc(2)], LOADED_AT), ([Doc(1, embargo=end, words=4), Doc(2)], LOADED_AT + dt.timedelta(days=1)),
             ([Doc(1, embargo=later, words=5), Doc(2)], end))  # fmt: skip
    want = [("upsert", LOADED_AT), ("delete", LOADED_AT + dt.timedelta(days=1)), ("upsert", end), ("delete", end),
            ("upsert", later)]  # fmt: skip
    with store_history(backend, archive_dir) as load:
        for docs, at in loads:
            app = load(docs, at)
        for reverse in (False, True):
            if reverse and not reverse_heap(app, "change"):
                continue
            clock.freeze(later + dt.timedelta(hours=1))
            served, copy = [], {}
            sync_changes(app.test_client(), copy, "", None, served, limit=10 - reverse)  # another URL: not cached
            mine = [
                (c["type"], dt.datetime.fromisoformat(c["at"]))
                for c in served
                if (c.get("article") or c.get("tombstone"))["slug"] == "article-1"
            ]
            assert mine == want, (reverse, served)
            assert set(copy) == {"article-1", "article-2"}


def test_articles_of_one_desk_and_position_come_in_slug_order_whatever_the_row_order(backend, archive_dir):
    """Two articles of one desk may share an editorial position (both given it, or one given it and the other
    placed there by publication order): the issue item then lists them by slug, in the order the loader wrote them
    and, on PostgreSQL, with the article table's physical order turned around."""
    docs = [Doc(n, week=WEEKS[1], section="economy", position=1 if n != 1 else None, published=PUBLISHED[n % 2])
            for n in range(4)]  # fmt: skip
    for reverse in (False, True):
        with served(backend, archive_dir, [*docs, *([Doc(9)] if reverse else [])]) as client:  # not cached
            app = client.application
            if reverse and not reverse_heap(app, "article"):
                continue
            clock.freeze(BASE)
            store = app.extensions["store"]
            with store.session(store.current()) as session:
                issue = queries.get_issue(session, WEEKS[1], BASE)
                terms = queries.terms(session, store.current().id)
                shown = queries.issue_articles(session, issue, BASE, terms)
            assert [a.slug for a in shown] == ["article-0", "article-1", "article-2", "article-3"], reverse


def test_openapi_examples_are_the_newest_issue_and_the_first_desk_by_position_then_slug(backend, archive_dir):
    """The OpenAPI document's path examples are chosen by rule, not by the order rows come back in: the newest of
    several public issues (written oldest first), and of two desks of one display position the first by slug,
    wherever the vocabulary lists it. SQLite here returns unordered rows in reverse and PostgreSQL in the order
    they were written, so an example left to row order is wrong on one of the two."""
    first = min(s.order for s in _vocabulary().sections)
    docs = [
        Doc(0, week=WEEKS[0], section="ruling-elite", trend="worse"),
        Doc(1, week=WEEKS[2], section="economy", trend="better"),
        Doc(2, week=WEEKS[1], section="ruling-elite"),
        Doc(3, week=WEEKS[3], section="economy", status="draft"),
    ]
    for listed in (False, True):  # the two desks listed either way round
        with store_history(backend, archive_dir) as load:
            app = load(docs, LOADED_AT, _vocabulary({"ruling-elite": first - 1, "economy": first - 1}, listed))
            clock.freeze(BASE)
            found = path_examples(app.test_client().get("/v1/openapi.json").get_json())
            assert found["/v1/issues/{issue_id}"] == {WEEKS[2].isoformat()}
            assert found["/v1/sections/{slug}"] == {"economy"}
            assert found["/v1/articles/{slug}"] == {"article-0"}
            assert found["/v1/trends/{slug}"] == {"better"}


def _vocabulary(orders: dict[str, int] | None = None, reverse: bool = False) -> Vocabulary:
    """data/'s vocabulary with the display positions of some desks changed (and its desks listed last first)."""
    root = Path(__file__).resolve().parents[1] / "data"
    data = yaml.safe_load((root / "vocabulary.yaml").read_text())
    for s in data["sections"]:
        s["order"] = (orders or {}).get(s["slug"], s["order"])
    if reverse:
        data["sections"] = data["sections"][::-1]
    return Vocabulary(data, yaml.safe_load((root / "site.yaml").read_text()))


def test_sections_of_one_position_chart_in_slug_order(backend, archive_dir):
    """A vocabulary may give two desks one display position: the timeline then charts them in slug order (issue,
    position, slug), whatever their directions."""
    docs = [
        Doc(0, week=WEEKS[1], section="ruling-elite", trend="worse"),
        Doc(1, week=WEEKS[1], section="economy", trend="better"),
        Doc(2, week=WEEKS[1], section="ruling-elite", published=PUBLISHED[1]),
        Doc(3, week=WEEKS[1], section="economy", published=PUBLISHED[1]),
    ]
    with store_history(backend, archive_dir) as load:
        app = load(docs, LOADED_AT, _vocabulary({"ruling-elite": POSITION["economy"]}))
        clock.freeze(BASE)
        cells = app.test_client().get("/v1/trends/timeline").get_json()["data"]
        assert [c["section"]["slug"] for c in cells] == ["economy", "ruling-elite"]
        # the issue item's first articles in editorial order: the first desk's (by slug), then the next's, never
        # the two desks interleaved by their articles' positions, which a bound on the total would cut
        store = app.extensions["store"]
        with store.session(store.current()) as session:
            issue = queries.get_issue(session, WEEKS[1], BASE)
            terms = queries.terms(session, store.current().id)
            shown = queries.issue_articles(session, issue, BASE, terms, total=2)
        assert [(a.section_slug, a.slug) for a in shown] == [("economy", "article-1"), ("economy", "article-3")]
