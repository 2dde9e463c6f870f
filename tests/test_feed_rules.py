"""The feeds' rules (Atom, RSS 2.0, JSON Feed 1.1) as properties over generated archives, on both backends.

Each example loads a small generated archive (tests/test_rules.py: random statuses, embargo times, weeks across
month and year boundaries, tied publication times, authors, canonical URLs, languages, an undated article) and
reads every feed kind page by page under one filter, one page size, one clock time and one Accept-Language,
against an oracle written from docs/api.md and the formats' specifications:

- the entries are the public articles matching the filters, in the feed's order, paged exactly as the oracle
  pages them, with first / next / previous links (in the document and the Link header) exactly where they belong;
- every entry carries its article's facts: id, title, lead, links (reader page, API, canonical `via`), language,
  authors, categories labelled in the feed's language, publication time (none when unknown) and `updated` (its
  last change, else its publication, else the store's build; told apart per entry within the second);
- the feed's own facts: title naming the filters, language (the `lang` filter, else the negotiated one), author,
  rights, self / alternate links, `updated` (the newest entry's);
- RFC 5005 archives: the subscription document points at the newest week with a public article, each week's
  document is an archive linked to its neighbour weeks and to the subscription document, nothing else is one;
- the documents as written: UTF-8 with the XML declaration, one element a line, links side by side, the `Link`
  header; an entry's content is the article's whole body, its media URLs absolute (a small archive of its own).
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import email.utils
import io
import re
from pathlib import Path
from urllib.parse import urlencode

import pytest
import yaml
from hypothesis import example, given, note
from hypothesis import strategies as st
from lxml import etree
from PIL import Image

from api import clock, http
from api.ingest.vocabulary import Vocabulary
from api.store import queries
from schemas.weeks import week_title
from tests.conftest import load_archive
from tests.test_rules import (
    ARCHIVE_PROPERTY,
    BASE,
    CLOCKS,
    PUBLISHED,
    WEEKS,
    Doc,
    documents,
    served,
)

HOST = "http://localhost"
ATOM = "{http://www.w3.org/2005/Atom}"
FH = "{http://purl.org/syndication/history/1.0}"
DC = "{http://purl.org/dc/elements/1.1/}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
MIMETYPES = {"atom": "application/atom+xml", "rss": "application/rss+xml", "json": "application/feed+json"}
SITE_NAME = {"en": "Situation in Belarus", "ru": "Ситуация в Беларуси", "be": "Сітуацыя ў Беларусі"}
#: A document's way of saying that nothing tells when it was published: the store's "unknown" instant.
UNKNOWN = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_VOCABULARY = yaml.safe_load((Path(__file__).resolve().parents[1] / "data" / "vocabulary.yaml").read_text())
NAMES = {s["slug"]: s["names"] for s in _VOCABULARY["sections"]}
LABELS = {t["slug"]: t["labels"] for t in _VOCABULARY["trends"]}
#: filter name in the query -> what a document must be to match it
FILTERS = {
    "": {},
    "section=economy": {"section": "economy"},
    "lang=ru": {"lang": "ru"},
    "section=economy&trend=worse": {"section": "economy", "trend": "worse"},
    "from=2025-12-28": {"from": "2025-12-28"},  # issue weeks ending on or after: across a year
    "section=economy,ruling-elite": {"section": ["economy", "ruling-elite"]},  # either
}


def _text(value) -> str:
    return ",".join(value) if isinstance(value, list) else value


def _named(names: dict, lang: str) -> str:
    return names.get(lang) or names["en"]


def categories(doc: Doc, lang: str) -> list[tuple[str, str, str]]:
    """(term, scheme, label) of an entry: section, trend tag and issue week, labelled in the feed's language."""
    found = []
    if doc.section:
        found.append((doc.section, f"{HOST}/v1/sections", _named(NAMES[doc.section], lang)))
    if doc.trend:
        found.append((doc.trend, f"{HOST}/v1/trends", _named(LABELS[doc.trend], lang)))
    if doc.week:
        found.append((f"issue-{doc.week.isoformat()}", f"{HOST}/v1/issues", week_title(doc.week, lang)[0]))
    return found


def matches(doc: Doc, wanted: dict) -> bool:
    if "from" in wanted and not (doc.week and doc.week + dt.timedelta(days=6) >= dt.date.fromisoformat(wanted["from"])):
        return False
    return all(getattr(doc, k) in (v if isinstance(v, list) else [v]) for k, v in wanted.items() if k != "from")


def in_order(docs: list[Doc], sort: str) -> list[Doc]:
    return sorted(docs, key=lambda d: (d.published, d.slug), reverse=sort == "newest")


def api_url(doc: Doc) -> str:
    return f"{HOST}/v1/articles/{doc.slug}"


def reader_url(doc: Doc) -> str:
    return f"{HOST}/#/article/{doc.slug}"


def reader_list(wanted: dict) -> str:
    shown = {k: _text(v) for k, v in sorted(wanted.items()) if k in ("section", "trend", "issue")}
    return f"{HOST}/#/articles?{urlencode(shown)}" if shown else f"{HOST}/"


def feed_url(kind: str, params: dict) -> str:
    return f"/v1/feed.{kind}?" + "&".join(urlencode({k: params[k]}) for k in sorted(params))


def link_header(resp) -> dict[str, str]:
    found = {}
    for part in filter(None, resp.headers.get("Link", "").split(", ")):
        href, rel = part.split("; ")
        found[rel.removeprefix('rel="').removesuffix('"')] = href.strip("<>")
    return found


def known(doc: Doc) -> dt.datetime | None:
    """The publication time an entry shows: None when the document gives the unknown instant."""
    return None if doc.published == UNKNOWN else doc.published


def last_change(doc: Doc) -> dt.datetime | None:
    return doc.updated or known(doc)


def last_modified(resp) -> dt.datetime:
    return email.utils.parsedate_to_datetime(resp.headers["Last-Modified"])


def check_updated(stamp: dt.datetime, doc: Doc, resp) -> None:
    """An entry's `updated`: its last change (else the store's build, to the second), plus under a second."""
    base = last_change(doc) or last_modified(resp)
    assert base <= stamp < base + dt.timedelta(seconds=1), (doc.slug, stamp, base)


#: What every XML feed document starts with: the XML declaration, naming the UTF-8 the body is written in.
DECLARATION = b"<?xml version='1.0' encoding='UTF-8'?>\n"


def check_xml_text(body: bytes, outer: bytes) -> None:
    """An XML feed is UTF-8 with its declaration, written one element a line and indented by depth: its first
    element starts the second line, the first of that element's children the third, two spaces in."""
    assert body.startswith(DECLARATION), body[:60]
    lines = body.split(b"\n")
    assert len(lines) > 3 and lines[1].startswith(outer) and lines[2].startswith(b"  <"), lines[:3]
    assert body.endswith(b">\n")


def check_atom(resp, page: list[Doc], url: str, first: str, links: dict, wanted: dict, language: str) -> None:
    check_xml_text(resp.data, b"<feed ")
    root = etree.fromstring(resp.data)
    config = resp.app_config
    assert root.get(XML_LANG) == language
    assert root.find(f"{ATOM}id").text == first
    assert root.find(f"{ATOM}title").text == feed_title(config, wanted)
    assert root.find(f"{ATOM}subtitle").text == config["FEED_ATTRIBUTION"]
    assert root.find(f"{ATOM}rights").text == config["FEED_RIGHTS"]
    assert root.find(f"{ATOM}generator").text == "Bulletin Content API"
    assert [a.find(f"{ATOM}name").text for a in root.findall(f"{ATOM}author")] == [SITE_NAME[language]]
    feed_links = {(x.get("rel"), x.get("type")): x.get("href") for x in root.findall(f"{ATOM}link")}
    expected_links = {("alternate", "text/html"): reader_list(wanted), ("self", MIMETYPES["atom"]): HOST + url}
    for rel, key in (("first", "first"), ("next", "next"), ("previous", "prev")):
        if links.get(key):
            expected_links[(rel, MIMETYPES["atom"])] = links[key]
    archive = {k: v for k, v in feed_links.items() if k[0] in ("current", "prev-archive", "next-archive")}
    assert {k: v for k, v in feed_links.items() if k not in archive} == expected_links
    if "cursor=" in url:  # a later page is no archive and links none (the first page's are checked apart)
        assert archive == {} and root.find(f"{FH}archive") is None
    entries = root.findall(f"{ATOM}entry")
    assert [e.find(f"{ATOM}id").text for e in entries] == [api_url(d) for d in page]
    stamps = []
    for entry, doc in zip(entries, page, strict=True):
        assert entry.get(XML_LANG) == doc.lang
        assert entry.find(f"{ATOM}title").text == f"Title {doc.token}"
        assert entry.find(f"{ATOM}summary").text == f"Lead quokka of {doc.token}"
        content = entry.find(f"{ATOM}content")
        assert content.get("type") == "html" and "quokka" in content.text
        assert entry.find(f"{ATOM}rights").text == config["FEED_RIGHTS"]
        entry_links = [(x.get("href"), x.get("rel"), x.get("type")) for x in entry.findall(f"{ATOM}link")]
        expected = [(reader_url(doc), "alternate", "text/html"), (api_url(doc), "alternate", "application/json")]
        assert entry_links == expected + ([(doc.canonical, "via", "text/html")] if doc.canonical else [])
        tags = [c.tag for c in entry]  # the links together, right after the title (what a reader shows first)
        after = tags.index(f"{ATOM}title") + 1
        assert tags[after : after + len(entry_links)] == [f"{ATOM}link"] * len(entry_links), tags
        assert [a.find(f"{ATOM}name").text for a in entry.findall(f"{ATOM}author")] == doc.authors
        tags = [(c.get("term"), c.get("scheme"), c.get("label")) for c in entry.findall(f"{ATOM}category")]
        assert tags == categories(doc, language)
        published = entry.find(f"{ATOM}published")
        if known(doc):
            assert dt.datetime.fromisoformat(published.text) == doc.published
        else:
            assert published is None
        stamps.append(dt.datetime.fromisoformat(entry.find(f"{ATOM}updated").text))
        check_updated(stamps[-1], doc, resp)
    assert len(set(stamps)) == len(stamps)  # two entries with one `updated` read as one change
    updated = dt.datetime.fromisoformat(root.find(f"{ATOM}updated").text)
    assert updated == (max(stamps) if stamps else last_modified(resp))


def check_rss(resp, page: list[Doc], url: str, first: str, links: dict, wanted: dict, language: str) -> None:
    check_xml_text(resp.data, b"<rss ")
    channel = etree.fromstring(resp.data).find("channel")
    config = resp.app_config
    assert channel.find("title").text == feed_title(config, wanted)
    assert channel.find("link").text == reader_list(wanted)
    assert channel.find("language").text == language
    atom_links = {x.get("rel"): (x.get("href"), x.get("type")) for x in channel.findall(f"{ATOM}link")}
    expected_links = {"self": (HOST + url, MIMETYPES["rss"])}
    for rel, key in (("first", "first"), ("next", "next"), ("previous", "prev")):
        if links.get(key):
            expected_links[rel] = (links[key], MIMETYPES["rss"])
    assert atom_links == expected_links
    # the channel's atom:links side by side, self then first, next, previous (as Atom's feed links)
    at = [i for i, x in enumerate(channel) if x.tag == f"{ATOM}link"]
    assert at == list(range(at[0], at[0] + len(at))), at
    order = ["self", "first", "next", "previous"]
    assert [channel[i].get("rel") for i in at] == [r for r in order if r in expected_links]
    items = channel.findall("item")
    assert [i.find("guid").text for i in items] == [api_url(d) for d in page]
    for item, doc in zip(items, page, strict=True):
        assert item.find("guid").get("isPermaLink") == "false"
        assert item.find("title").text == f"Title {doc.token}"
        assert item.find("link").text == reader_url(doc)
        assert item.find("description").text == f"Lead quokka of {doc.token}"
        assert [c.text for c in item.findall(f"{DC}creator")] == doc.authors
        assert [c.text for c in item.findall(f"{DC}language")] == [doc.lang]
        assert [(c.get("domain"), c.text) for c in item.findall("category")] == [
            (scheme, label) for _, scheme, label in categories(doc, language)
        ]
        pub = item.find("pubDate")
        if known(doc):
            assert email.utils.parsedate_to_datetime(pub.text) == doc.published
        else:
            assert pub is None
        assert [(x.get("href"), x.get("rel"), x.get("type")) for x in item.findall(f"{ATOM}link")] == [
            (api_url(doc), "alternate", "application/json")
        ]


def check_json(resp, page: list[Doc], url: str, first: str, links: dict, wanted: dict, language: str) -> None:
    feed = resp.get_json()
    config = resp.app_config
    items = feed.pop("items")
    expected = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": feed_title(config, wanted),
        "home_page_url": reader_list(wanted),
        "feed_url": HOST + url,
        "description": config["FEED_ATTRIBUTION"] + ". " + config["FEED_RIGHTS"],
        "authors": [{"name": SITE_NAME[language], "url": f"{HOST}/"}],
        "language": language,
    }
    if links.get("next"):
        expected["next_url"] = links["next"]
    assert feed == expected
    assert [i["id"] for i in items] == [api_url(d) for d in page]
    for item, doc in zip(items, page, strict=True):
        assert "quokka" in item.pop("content_html")
        tags = [label for _, _, label in categories(doc, language)]
        want = {
            "id": api_url(doc),
            "url": reader_url(doc),
            "external_url": doc.canonical,
            "title": f"Title {doc.token}",
            "summary": f"Lead quokka of {doc.token}",
            "date_published": known(doc) and known(doc).isoformat(),
            "date_modified": last_change(doc) and last_change(doc).isoformat(),
            "authors": [{"name": n} for n in doc.authors] or None,
            "tags": tags or None,
            "language": doc.lang,
            "_bulletin": {
                "api_url": api_url(doc),
                "section": doc.section,
                "trend": doc.trend,
                "issue": doc.week and doc.week.isoformat(),
                "rights": config["FEED_RIGHTS"],
            },
        }
        assert item == {k: v for k, v in want.items() if v is not None}


def feed_title(config, wanted: dict) -> str:
    parts = [f"{k}={_text(v)}" for k, v in sorted(wanted.items())]
    return f"{config['FEED_ATTRIBUTION']} ({'; '.join(parts)})" if parts else config["FEED_ATTRIBUTION"]


ORDERS = ("newest", "oldest")
CHECKS = {"atom": check_atom, "rss": check_rss, "json": check_json}


def walk_feed(client, kind: str, params: dict, headers: dict, expected: list[Doc], limit: int, wanted, language):
    """Every page of one feed, each checked against its slice of `expected`; `prev` of the second page is the
    first page again."""
    url = feed_url(kind, params)
    first, pages, at = HOST + url, [], 0
    while True:
        resp = client.get(url, headers=headers)
        assert resp.status_code == 200 and resp.mimetype == MIMETYPES[kind], (url, resp.status_code)
        resp.app_config = client.application.config
        assert [k for k, _ in resp.headers.items() if k.lower() == "link"] == ["Link"]  # as every collection names it
        links = link_header(resp)
        page = expected[at : at + limit]
        assert links.get("first") == first
        assert ("next" in links) == (at + limit < len(expected)), (url, links)
        assert ("prev" in links) == (at > 0), (url, links)
        CHECKS[kind](resp, page, url, first, links, wanted, language)
        pages.append((url, resp.data))
        if len(pages) == 2:
            back = client.get(links["prev"].removeprefix(HOST), headers=headers)
            assert [e for e in _ids(kind, back.data)] == [api_url(d) for d in expected[:limit]]
        if "next" in links and wanted:  # a cursor belongs to its filters: another filter set refuses it
            cursor = links["next"].split("cursor=")[1].split("&")[0]
            other = client.get(feed_url(kind, {"limit": str(limit), "cursor": cursor}), headers=headers)
            assert other.status_code == 400, (url, other.status_code)
        if "next" not in links:
            return pages
        url, at = links["next"].removeprefix(HOST), at + limit


def _ids(kind: str, body: bytes) -> list[str]:
    if kind == "json":
        import orjson

        return [i["id"] for i in orjson.loads(body)["items"]]
    root = etree.fromstring(body)
    if kind == "rss":
        return [i.find("guid").text for i in root.find("channel").findall("item")]
    return [e.find(f"{ATOM}id").text for e in root.findall(f"{ATOM}entry")]


def check_archives(client, params: dict, headers: dict, public: list[Doc], wanted: dict, sort: str, limit: int):
    """RFC 5005: the subscription document, then every week's archive document back to the oldest."""

    def archive_links(url: str) -> tuple[dict, bool]:
        body = client.get(url, headers=headers).data
        root = etree.fromstring(body)
        archived = [
            x for x in root.findall(f"{ATOM}link") if x.get("rel") in ("current", "prev-archive", "next-archive")
        ]
        assert {x.get("type") for x in archived} <= {MIMETYPES["atom"]}, url  # each names the Atom it leads to
        marker = root.find(f"{FH}archive")
        if marker is not None:  # RFC 5005's `<fh:archive/>` (docs/api.md spells it so), the feed's first element
            assert (
                root[0].tag == f"{FH}archive"
                and b'<fh:archive xmlns:fh="http://purl.org/syndication/history/1.0"/>' in body
            )
        return {x.get("rel"): x.get("href") for x in archived}, marker is not None

    weeks = sorted({d.week for d in public if d.week})
    subscription = feed_url("atom", params)
    links, is_archive = archive_links(subscription)
    week_url = {w: HOST + feed_url("atom", {**params, "issue": w.isoformat()}) for w in WEEKS}
    assert links == ({"prev-archive": week_url[weeks[-1]]} if weeks else {}) and not is_archive
    for at, week in enumerate(weeks):
        links, is_archive = archive_links(week_url[week].removeprefix(HOST))
        expected = {"current": HOST + subscription}
        expected["next-archive"] = week_url[weeks[at + 1]] if at + 1 < len(weeks) else HOST + subscription
        if at > 0:
            expected["prev-archive"] = week_url[weeks[at - 1]]
        assert links == expected and is_archive, (week, links)
        entries = _ids("atom", client.get(week_url[week].removeprefix(HOST), headers=headers).data)
        assert entries == [api_url(d) for d in in_order([d for d in public if d.week == week], sort)][:limit]
    for week in WEEKS:  # a week without a matching public article is no archive
        if week not in weeks:
            assert archive_links(week_url[week].removeprefix(HOST)) == ({}, False)
    paged = feed_url("atom", {**params, "page": "1"})  # a numbered page, even the first, is no subscription
    assert archive_links(paged) == ({}, False)
    if len(weeks) > 1:  # two weeks at once are no archive either
        two = HOST + feed_url("atom", {**params, "issue": f"{weeks[0].isoformat()},{weeks[1].isoformat()}"})
        assert archive_links(two.removeprefix(HOST)) == ({}, False)


@st.composite
def feed_documents(draw) -> list[Doc]:
    docs = draw(documents(min_size=0, max_size=7))
    for doc in docs:
        doc.authors = draw(st.sampled_from([[], [], ["Ann Author"], ["Ann Author", "Bob Writer"]]))
        doc.canonical = draw(st.sampled_from([None, f"https://bulletin.example/a/{doc.n}"]))
        doc.lang = draw(st.sampled_from(["en", "en", "ru"]))
        if draw(st.integers(0, 5)) == 0:
            doc.published, doc.updated = UNKNOWN, None
    return docs


#: article-836 and article-877: slugs whose digests give one offset (found by search), so that two entries updated
#: at one instant collide and the later one steps a microsecond on
COLLIDING = (836, 877)
EXAMPLE = [
    Doc(0, week=WEEKS[3], section="economy", trend="worse", authors=["Ann Author", "Bob Writer"]),
    Doc(1, week=WEEKS[3], section="economy", trend="better", canonical="https://bulletin.example/a/1", lang="ru"),
    Doc(2, week=WEEKS[1], section="economy", trend="worse", published=PUBLISHED[1], updated=BASE, lang="ru"),
    Doc(3, week=WEEKS[4], section="ruling-elite", published=PUBLISHED[2], authors=["Ann Author"]),
    Doc(4, published=UNKNOWN),  # undated, and in no week: its `updated` is the store's build
    Doc(5, week=WEEKS[0], section="economy", status="draft"),  # a week of hidden articles only
    Doc(6, week=WEEKS[2], section="economy", trend="worse", embargo=BASE + dt.timedelta(days=2)),
    Doc(7, week=WEEKS[4], section="economy", trend="worse", published=PUBLISHED[3], updated=PUBLISHED[3]),
    *(Doc(n, week=WEEKS[4], section="ruling-elite") for n in COLLIDING),
]


@pytest.fixture
def archive_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("generated")


@ARCHIVE_PROPERTY
@given(
    docs=feed_documents(),
    query=st.sampled_from(sorted(FILTERS)),
    limit=st.integers(1, 4),
    sort=st.sampled_from(["newest", "oldest"]),
    now=st.sampled_from(CLOCKS),
    accept=st.sampled_from([None, "ru", "be;q=0.9, en;q=0.5"]),
)
@example(docs=EXAMPLE, query="section=economy", limit=2, sort="newest", now=CLOCKS[1], accept=None)
@example(docs=EXAMPLE, query="", limit=3, sort="oldest", now=CLOCKS[3], accept="ru")
@example(docs=EXAMPLE, query="lang=ru", limit=1, sort="newest", now=CLOCKS[0], accept="be;q=0.9, en;q=0.5")
@example(docs=EXAMPLE, query="section=economy&trend=worse", limit=1, sort="oldest", now=CLOCKS[3], accept=None)
@example(docs=EXAMPLE, query="from=2025-12-28", limit=2, sort="newest", now=CLOCKS[3], accept=None)
@example(docs=EXAMPLE, query="section=economy,ruling-elite", limit=4, sort="oldest", now=CLOCKS[1], accept="ru")
def test_feeds_carry_the_public_articles_and_their_facts(backend, archive_dir, docs, query, limit, sort, now, accept):
    note(repr(docs))
    wanted = FILTERS[query]
    params = {"limit": str(limit), **dict(p.split("=") for p in query.split("&") if p)}
    if sort == "oldest":
        params["sort"] = sort
    headers = {"Accept-Language": accept} if accept else {}
    language = wanted.get("lang") or {None: "en", "ru": "ru", "be;q=0.9, en;q=0.5": "be"}[accept]
    with served(backend, archive_dir, docs) as client:
        clock.freeze(now)
        public = [d for d in docs if d.public(now) and matches(d, wanted)]
        expected = in_order(public, sort)
        for kind in ("atom", "rss", "json"):
            walk_feed(client, kind, params, headers, expected, limit, wanted, language)
        check_archives(client, params, headers, public, wanted, sort, limit)
        # an entry's `updated` is its own, the same in every document (whatever entries share its instant)
        stamps = [
            {
                e.find(f"{ATOM}id").text: e.find(f"{ATOM}updated").text
                for e in etree.fromstring(body).iter(f"{ATOM}entry")
            }
            for body in (client.get(f"/v1/feed.atom?limit=100&sort={s}", headers=headers).data for s in ORDERS)
        ]
        shared = {api_url(d) for d in docs if d.n in COLLIDING}  # their order in a document decides which steps on
        assert {k: v for k, v in stamps[0].items() if k not in shared} == {
            k: v for k, v in stamps[1].items() if k not in shared
        }
        if wanted:  # the weeks of another filter set (kept per generation and filters) are its own
            unfiltered = {k: v for k, v in params.items() if k in ("limit", "sort")}
            check_archives(client, unfiltered, headers, [d for d in docs if d.public(now)], {}, sort, limit)
        shown = [d for d in docs if d.public(now)]
        for path, query, exists in [
            ("sections/economy", "section=economy", any(d.section == "economy" for d in shown)),
            (f"issues/{WEEKS[3]}", f"issue={WEEKS[3]}", any(d.week == WEEKS[3] for d in shown)),
        ]:
            resp = client.get(f"/v1/{path}")
            assert resp.status_code == (200 if exists else 404), path
            if exists:  # a resource links the feeds of its articles
                assert {k: resp.get_json()["links"][k] for k in ("feed", "feed_json")} == {
                    "feed": f"{HOST}/v1/feed.atom?{query}",
                    "feed_json": f"{HOST}/v1/feed.json?{query}",
                }


def test_a_reload_relabels_the_feeds_categories(backend, tmp_path):
    """Section names and trend labels are read once per generation: a reload that renames them relabels every feed's
    categories. A name missing in the feed's language falls back to English, then to any language, then the slug."""
    docs = [
        Doc(0, week=WEEKS[3], section="economy", trend="worse"),
        Doc(1, week=WEEKS[3], section="ruling-elite", trend="better", published=PUBLISHED[1]),
    ]
    with served(backend, tmp_path, docs) as client:
        assert client.get("/v1/feed.json?sort=oldest").get_json()["items"][0]["tags"][:2] == [
            "Economy",
            LABELS["worse"]["en"],
        ]
        renamed = copy.deepcopy(_VOCABULARY)
        names = {s["slug"]: s for s in renamed["sections"]}
        names["economy"]["names"] = {"ru": "Экономика-2", "be": "Эканоміка-2"}  # no English name
        names["ruling-elite"]["names"] = {"ru": "Элита-2", "en": "Elite renamed"}  # no Belarusian one
        next(t for t in renamed["trends"] if t["slug"] == "worse")["labels"] = {}  # no label at all
        site = yaml.safe_load((Path(__file__).resolve().parents[1] / "data" / "site.yaml").read_text())
        archive = tmp_path / "renamed"
        archive.mkdir()
        for doc in docs:
            (archive / f"{doc.slug}.md").write_text(doc.text(), encoding="utf-8")
        config = client.application.config
        load_archive(
            archive, config["DATABASE_URL"], schema=config["DATABASE_SCHEMA"], vocabulary=Vocabulary(renamed, site)
        )
        expected = {
            "en": [["Экономика-2", "worse"], ["Elite renamed", LABELS["better"]["en"]]],
            "be": [["Эканоміка-2", "worse"], ["Elite renamed", LABELS["better"]["be"]]],
        }
        for lang, labels in expected.items():
            items = client.get("/v1/feed.json?sort=oldest", headers={"Accept-Language": lang}).get_json()["items"]
            assert [i["tags"][:2] for i in items] == labels, lang


def test_of_two_entries_sharing_an_instant_the_later_steps_one_microsecond_on():
    """Atom `updated` told apart (api/resources/feeds.py _entry_updated): entries of one updated time whose slugs
    give one offset (COLLIDING) get that instant plus the offset, and the later of them in the document one
    microsecond more: never the same instant, never earlier, whichever order the document has them in."""
    from types import SimpleNamespace

    from api.resources.feeds import _entry_updated

    when = dt.datetime(2026, 1, 5, 9, 30, tzinfo=dt.UTC)
    first, second = (SimpleNamespace(slug=f"article-{n}", updated_at=when, published_at=when) for n in COLLIDING)
    ctx = SimpleNamespace(now=when, generation=None)  # every time is known: the store's build is never asked

    def stamps(*items):
        return _entry_updated(ctx, SimpleNamespace(items=list(items)))

    alone = stamps(first)[first.slug]
    assert when <= alone < when + dt.timedelta(seconds=1)
    assert stamps(second)[second.slug] == alone  # one offset: that is what COLLIDING is
    assert stamps(first, second) == {first.slug: alone, second.slug: alone + dt.timedelta(microseconds=1)}
    assert stamps(second, first) == {second.slug: alone, first.slug: alone + dt.timedelta(microseconds=1)}


@contextlib.contextmanager
def served_files(backend, tmp_path, files: dict[str, str]):
    """An archive of these files (path: text) and one image, media/red.png, loaded into a store of its own; the
    clock then at BASE."""
    png = io.BytesIO()
    Image.new("RGB", (330, 12), (200, 30, 30)).save(png, format="PNG")
    with served(backend, tmp_path, [], files={**files, "media/red.png": png.getvalue()}) as client:
        clock.freeze(BASE)
        yield client


def _front(slug: str, published: str, *extra: str) -> str:
    return "\n".join(["---", f"slug: {slug}", f'title: "Title of {slug}"', "lang: en", f'lead: "Lead of {slug}"',
                      "status: published", f"published_at: {published}", *extra, "---", ""])  # fmt: skip


def test_an_entrys_content_is_its_whole_body_with_absolute_media_urls(backend, tmp_path):
    """Every feed carries an article's sanitised body as is, but for its images' media URLs, made absolute under the
    API's base (a feed reader fetches them from elsewhere): each URL answers. A capture that is its lead alone has an
    empty body, and its content is empty in every format, not made up. JSON Feed's `date_modified` and Atom's
    `updated` are the last change the store knows, else the publication: an `updated_at` at the Unix epoch reads as
    the unknown instant (UNKNOWN_TIME), so an article published before it is modified when it was published."""
    files = {
        "pictured.md": _front("pictured", "2026-02-01T09:00:00Z") + "\nBody words.\n\n![A red square](media/red.png)\n",
        "lead-only.txt": "URL: https://situation.example.org/en/economy/lead-only-news\nFetched: 2026-02-02T10:00:00Z\n"
        "\nLead only news\nThe one paragraph of the capture, its lead.\n",
        "old.md": _front("old", "1960-05-02T09:00:00Z", "updated_at: 1970-01-01T00:00:00Z") + "\nOld words.\n",
    }
    with served_files(backend, tmp_path, files) as client:
        items = {
            i["id"].removeprefix(f"{HOST}/v1/articles/"): i for i in client.get("/v1/feed.json").get_json()["items"]
        }
        atom = etree.fromstring(client.get("/v1/feed.atom").data)
        rss = etree.fromstring(client.get("/v1/feed.rss").data).find("channel")
        bodies = {
            "json": {slug: item["content_html"] for slug, item in items.items()},
            "atom": {
                e.find(f"{ATOM}id").text.removeprefix(f"{HOST}/v1/articles/"): e.find(f"{ATOM}content").text or ""
                for e in atom.findall(f"{ATOM}entry")
            },
            "rss": {
                i.find("guid").text.removeprefix(f"{HOST}/v1/articles/"): i.find(
                    "{http://purl.org/rss/1.0/modules/content/}encoded"
                ).text
                or ""
                for i in rss.findall("item")
            },
        }
        assert bodies["atom"] == bodies["json"] and bodies["rss"] == bodies["json"]
        assert bodies["json"]["lead-only-news"] == ""
        assert bodies["json"]["old"] == "<p>Old words.</p>"
        pictured = bodies["json"]["pictured"]
        assert pictured.startswith("<p>Body words.</p>") and 'alt="A red square"' in pictured
        attrs = re.findall(r'\s(?:src|srcset)="([^"]*)"', pictured)
        urls = [u.split(" ")[0] for value in attrs for u in value.split(", ")]
        assert len(attrs) == 2 and len(urls) >= 2, pictured  # src, and a srcset of renditions
        assert all(u.startswith(f"{HOST}/media/") for u in urls), urls
        assert {client.get(u.removeprefix(HOST)).status_code for u in urls} == {200}
        old = items["old"]
        assert old["date_published"] == old["date_modified"] == "1960-05-02T09:00:00+00:00"
        entry = next(e for e in atom.findall(f"{ATOM}entry") if e.find(f"{ATOM}id").text == old["id"])
        published = dt.datetime(1960, 5, 2, 9, 0, tzinfo=dt.UTC)  # Atom's `updated` falls back to it as well
        assert (
            published
            <= dt.datetime.fromisoformat(entry.find(f"{ATOM}updated").text)
            < published + dt.timedelta(seconds=1)
        )


def test_only_atom_documents_look_up_the_archive_weeks(backend, tmp_path, monkeypatch):
    """RFC 5005 archives are Atom's: RSS and JSON Feed link none, so neither looks up the archive weeks (nor a total:
    no feed shows one), each request reading its response from the cache and nothing else. An Atom document looks
    up its weeks (the newest; or the week and its two neighbours) once, then keeps them per generation, filter set
    and week: another response of the same filters (another page size) looks up nothing."""
    docs = [Doc(0, week=WEEKS[3], section="economy"), Doc(1, week=WEEKS[4], section="economy", published=PUBLISHED[1])]
    with served(backend, tmp_path, docs) as client:
        clock.freeze(BASE)
        calls, reads = [], []
        nearest, holds, get = queries.archive_week, queries.holds_public_article, http.response_cache.get
        monkeypatch.setattr(queries, "archive_week", lambda *a, **k: calls.append(("week", k)) or nearest(*a, **k))
        monkeypatch.setattr(queries, "holds_public_article", lambda *a: calls.append(("holds",)) or holds(*a))
        monkeypatch.setattr(http.response_cache, "get", lambda key: reads.append(key) or get(key))
        for kind in ("rss", "json"):
            reads.clear()
            assert client.get(f"/v1/feed.{kind}?section=economy").status_code == 200
            assert len(reads) == 1, (kind, reads)
        assert calls == []
        for limit in ("", "&limit=5"):
            root = etree.fromstring(client.get(f"/v1/feed.atom?section=economy{limit}").data)
            links = {x.get("rel"): x.get("href") for x in root.findall(f"{ATOM}link")}
            assert f"issue={WEEKS[4]}" in links["prev-archive"]
        assert calls == [("week", {})]
        for limit in ("", "&limit=5"):
            root = etree.fromstring(client.get(f"/v1/feed.atom?section=economy&issue={WEEKS[4]}{limit}").data)
            links = {x.get("rel"): x.get("href") for x in root.findall(f"{ATOM}link")}
            assert f"issue={WEEKS[3]}" in links["prev-archive"] and "issue=" not in links["next-archive"]
        assert calls[1:] == [("holds",), ("week", {"before": WEEKS[4]}), ("week", {"after": WEEKS[4]})]
