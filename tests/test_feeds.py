"""Feeds on both backends: every variant parses cleanly in feedparser, JSON Feed 1.1 rules, caching, no canaries."""

from __future__ import annotations

import datetime as dt
import re
import warnings

import feedparser
import pytest
from lxml import etree

from tests.conftest import CANARIES

ATOM = "{http://www.w3.org/2005/Atom}"
QUERIES = [
    "",
    "?section=economy",
    "?trend=worse",
    "?issue=2022-02-14",
    "?lang=en",
    "?section=economy,security-issues&trend=worse&limit=2",
]


def _parse(body: bytes):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        parsed = feedparser.parse(body)
    return parsed, caught


def _links(entry) -> dict[str, str]:
    """(rel, type) -> href of an entry's links."""
    return {(link.get("rel"), link.get("type")): link["href"] for link in entry.links}


@pytest.mark.parametrize("kind", ["atom", "rss"])
@pytest.mark.parametrize("query", QUERIES)
def test_xml_feeds_parse_cleanly(client, kind, query):
    resp = client.get(f"/v1/feed.{kind}{query}")
    assert resp.status_code == 200
    assert resp.mimetype == {"atom": "application/atom+xml", "rss": "application/rss+xml"}[kind]
    parsed, caught = _parse(resp.data)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert not caught
    assert parsed.entries
    sep = "&" if query else "?"
    api = client.get(f"/v1/articles{query}" if "limit" in query else f"/v1/articles{query}{sep}limit=100").get_json()
    assert [e.id for e in parsed.entries] == [a["url"] for a in api["data"]][: len(parsed.entries)]
    for entry, article in zip(parsed.entries, api["data"], strict=False):
        links = _links(entry)
        # a feed reader opens the reader page's view of the article; the API's JSON is the second link
        assert entry.link == links[("alternate", "text/html")] == f"http://localhost/#/article/{article['slug']}"
        assert links[("alternate", "application/json")] == article["url"]
    first = parsed.entries[0]
    assert first.title and first.summary and first.published_parsed
    assert any(t.term for t in first.tags)
    if kind == "atom":
        assert first.content[0].value
        assert parsed.feed.rights
        # An entry's `updated` is the article's last change (updated_at), falling back to its publication, to the
        # second (the fraction tells apart entries updated at the same second)
        for entry, article in zip(parsed.entries, api["data"], strict=False):
            expected = dt.datetime.fromisoformat(article["updated_at"] or article["published_at"])
            assert dt.datetime.fromisoformat(entry.updated).replace(microsecond=0) == expected, entry.link
    for canary in CANARIES:
        assert canary not in resp.get_data(as_text=True)


def test_the_reader_page_opens_an_entrys_link(client):
    """The alternate link's page is the reader (HTML), whose script routes #/article/<slug> to the article view."""
    entry = feedparser.parse(client.get("/v1/feed.atom?limit=1").data).entries[0]
    page = client.get(entry.link.replace("http://localhost", "").split("#")[0])
    assert page.status_code == 200 and page.mimetype == "text/html"
    script = client.get(_asset(page.get_data(as_text=True), "reader"))
    assert b'hash.startsWith("/article/")' in script.get_data()
    script.close()


def _asset(html: str, name: str) -> str:
    import re

    return re.search(rf'src="([^"]*{name}[^"]*\.js)"', html).group(1)


def test_an_atom_entry_with_a_canonical_url_links_it_as_via(client):
    slugs = {a["slug"]: a for a in client.get("/v1/articles?limit=100&fields=slug").get_json()["data"]}
    for entry in feedparser.parse(client.get("/v1/feed.atom?limit=100").data).entries:
        article = client.get(entry.id.replace("http://localhost", "")).get_json()["data"]
        assert article["slug"] in slugs
        assert _links(entry).get(("via", "text/html")) == article.get("canonical_url")


def test_every_atom_entry_has_an_author(client):
    """RFC 4287 4.1.2: an entry without <author> needs one on the feed; the feed names the bulletin."""
    for query in [*QUERIES, "?issue=2022-02-14", "?limit=100"]:
        body = client.get(f"/v1/feed.atom{query}").data
        parsed = feedparser.parse(body)
        assert parsed.feed.author_detail["name"] == "Situation in Belarus"
        root = etree.fromstring(body)
        assert root.find(f"{ATOM}author/{ATOM}name").text == "Situation in Belarus"
    with_own = [e for e in root.findall(f"{ATOM}entry") if e.find(f"{ATOM}author") is not None]
    assert with_own  # the sample names some authors: their entries keep them
    ru = feedparser.parse(client.get("/v1/feed.atom?lang=ru").data)
    assert ru.feed.author_detail["name"] == "Ситуация в Беларуси"


def test_atom_updated_is_the_articles_updated_time_and_distinct_per_entry(client):
    """Each entry's `updated` comes from the article's updated time (never before it, within the same second) and
    no two entries of a document share one (the W3C validator's DuplicateUpdated)."""
    for query in ("?limit=100", "?issue=2022-02-14", "?limit=5", "?sort=oldest&limit=100"):
        root = etree.fromstring(client.get(f"/v1/feed.atom{query}").data)
        entries = root.findall(f"{ATOM}entry")
        stamps = [dt.datetime.fromisoformat(e.find(f"{ATOM}updated").text) for e in entries]
        assert len(set(stamps)) == len(stamps) > 1
        feed_updated = dt.datetime.fromisoformat(root.find(f"{ATOM}updated").text)
        assert feed_updated == max(stamps)
        for entry, stamp in zip(entries, stamps, strict=True):
            article = client.get(entry.find(f"{ATOM}id").text.replace("http://localhost", "")).get_json()["data"]
            updated = dt.datetime.fromisoformat(article["updated_at"])
            assert updated <= stamp < updated + dt.timedelta(seconds=1)
    # an article updated after its publication: `updated` follows the update, not the publication
    edited = client.get("/v1/articles/belarus-budget-deficit-widens").get_json()["data"]
    assert edited["updated_at"] != edited["published_at"]
    root = etree.fromstring(client.get("/v1/feed.atom?issue=2022-02-14").data)
    entry = next(e for e in root.findall(f"{ATOM}entry") if e.find(f"{ATOM}id").text == edited["url"])
    assert entry.find(f"{ATOM}updated").text.startswith(edited["updated_at"][:19])
    assert entry.find(f"{ATOM}published").text.startswith(edited["published_at"][:19])


def test_atom_paging_walks_the_whole_archive(client):
    total = client.get("/v1/articles?limit=1").get_json()["meta"]["total"]
    url, seen = "/v1/feed.atom?limit=3", []
    while url:
        parsed, _ = _parse(client.get(url).data)
        assert parsed.bozo == 0
        seen += [e.id for e in parsed.entries]
        rels = {link.rel: link.href for link in parsed.feed.links}
        assert "first" in rels
        url = rels.get("next", "").replace("http://localhost", "") or None
    assert len(seen) == total == len(set(seen))


@pytest.mark.parametrize("query", ["", "section=economy", "lang=ru"])
def test_atom_archived_feeds_walk_every_week(client, query):
    """RFC 5005 section 4: from the subscription document, prev-archive leads through one archive per week."""

    def links(parsed):
        return {link["rel"]: link["href"].replace("http://localhost", "") for link in parsed.feed.links}

    subscription = f"/v1/feed.atom?{query}"
    url = links(_parse(client.get(subscription).data)[0])["prev-archive"]
    seen, weeks, later = [], [], subscription
    while url:
        body = client.get(url).data
        parsed, caught = _parse(body)
        assert parsed.bozo == 0 and not caught
        assert b"<fh:archive" in body and b'xmlns:fh="http://purl.org/syndication/history/1.0"' in body
        rels = links(parsed)
        assert rels["current"] == subscription.rstrip("?") and rels["next-archive"] == later.rstrip("?")
        weeks.append({e.tags[-1]["label"] for e in parsed.entries})
        seen += [e.id.rsplit("/", 1)[1] for e in parsed.entries]
        later, url = url, rels.get("prev-archive")
    assert all(len(w) == 1 for w in weeks) and len({w.pop() for w in weeks}) == len(weeks)  # one week each
    api = client.get(f"/v1/articles?limit=100&{query}").get_json()["data"]
    assert sorted(seen) == sorted(a["slug"] for a in api if a["issue"])  # each public article exactly once


def test_json_feed_follows_version_1_1(client):
    resp = client.get("/v1/feed.json?section=economy")
    assert resp.mimetype == "application/feed+json"
    feed = resp.get_json()
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert isinstance(feed["title"], str) and feed["title"]
    assert feed["items"]
    for item in feed["items"]:
        assert isinstance(item["id"], str)
        assert "content_html" in item or "content_text" in item
        assert item["_bulletin"]["section"] == "economy"
    for canary in CANARIES:
        assert canary not in resp.get_data(as_text=True)


def test_feeds_revalidate_and_reject_bad_filters(client):
    first = client.get("/v1/feed.atom")
    again = client.get("/v1/feed.atom", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    bad = client.get("/v1/feed.rss?section=Not A Slug")
    assert bad.status_code == 400
    assert bad.mimetype == "application/problem+json"


def test_feeds_discoverable_from_the_root(client):
    links = client.get("/v1").get_json()["links"]
    for kind in ("atom", "rss", "json"):
        assert client.get(links[f"feed_{kind}"].replace("http://localhost", "")).status_code == 200
    assert client.get(links["changes"].replace("http://localhost", "")).status_code == 200


@pytest.mark.parametrize("path", ["/v1/sections/economy", "/v1/issues/2022-02-14"])
def test_sections_and_issues_link_their_feed(client, path):
    link = client.get(path).get_json()["links"]["feed"].replace("http://localhost", "")
    parsed, _ = _parse(client.get(link).data)
    assert parsed.bozo == 0 and parsed.entries


def test_feed_language_and_authors(client):
    """The feed's language is the lang filter, else the response language its labels are in; every entry carries
    its own (xml:lang, dc:language, item language). RSS names authors with dc:creator (no invented email)."""
    mixed = client.get("/v1/feed.json?limit=100").get_json()
    assert len({item["language"] for item in mixed["items"]}) > 1 and mixed["language"] == "en"
    assert client.get("/v1/feed.json", headers={"Accept-Language": "be"}).get_json()["language"] == "be"
    ru = client.get("/v1/feed.json?lang=ru").get_json()
    assert ru["language"] == "ru" and {item["language"] for item in ru["items"]} == {"ru"}
    rss = client.get("/v1/feed.rss?limit=100").data
    parsed = feedparser.parse(rss)
    assert parsed.bozo == 0 and parsed.feed.language == "en"
    authored = [e for e in parsed.entries if e.get("author")]
    assert authored and all("@" not in e.author for e in authored)
    assert b"example.invalid" not in rss
    items = etree.fromstring(rss).findall("channel/item")
    api = {a["url"]: a["lang"] for a in client.get("/v1/articles?limit=100").get_json()["data"]}
    assert [i.find(f"{DC}language").text for i in items] == [api[i.find("guid").text] for i in items]
    atom = etree.fromstring(client.get("/v1/feed.atom?limit=100").data)
    assert atom.get(XML_LANG) == "en"
    assert [e.get(XML_LANG) for e in atom.findall(f"{ATOM}entry")] == [api[i.find("guid").text] for i in items]
    assert etree.fromstring(client.get("/v1/feed.rss?lang=ru").data).find("channel/language").text == "ru"


DC = "{http://purl.org/dc/elements/1.1/}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
LABELS = {"en": ("Economy", "February 14 – February 20, 2022"), "ru": ("Экономика", "14 – 20 февраля 2022")}


@pytest.mark.parametrize("lang", sorted(LABELS))
def test_categories_are_labelled_in_the_feeds_language(client, lang):
    section, week = LABELS[lang]
    query = "?section=economy&issue=2022-02-14"
    atom = feedparser.parse(client.get(f"/v1/feed.atom{query}", headers={"Accept-Language": lang}).data)
    for entry in atom.entries:
        labels = {t.scheme.rsplit("/", 1)[1]: (t.term, t.label) for t in entry.tags}
        assert labels["sections"] == ("economy", section) and labels["issues"] == ("issue-2022-02-14", week)
        assert labels["trends"][1] not in ("worse", "better", "unchanged")  # a label, not the slug
    rss = etree.fromstring(client.get(f"/v1/feed.rss{query}", headers={"Accept-Language": lang}).data)
    for item in rss.findall("channel/item"):
        assert {c.text for c in item.findall("category")} >= {section, week}
    json_feed = client.get(f"/v1/feed.json{query}", headers={"Accept-Language": lang}).get_json()
    assert all({section, week} <= set(item["tags"]) for item in json_feed["items"])


def test_rss_pages_with_atom_links_and_every_feed_sends_link_headers(client):
    total = client.get("/v1/articles?limit=1").get_json()["meta"]["total"]
    for kind in ("rss", "atom", "json"):
        url, seen = f"/v1/feed.{kind}?limit=5", []
        while url:
            resp = client.get(url)
            header = {rel: href for href, rel in re.findall(r'<([^>]+)>; rel="([^"]+)"', resp.headers["Link"])}
            if kind == "json":
                body = resp.get_json()
                seen += [i["id"] for i in body["items"]]
                in_body = {"next": body.get("next_url")}
            else:
                parsed = feedparser.parse(resp.data)
                seen += [e.id for e in parsed.entries]
                in_body = {link.rel: link.href for link in parsed.feed.links}
                assert in_body["first"] == header["first"]
            assert in_body.get("next") == header.get("next")
            url = (header.get("next") or "").replace("http://localhost", "") or None
        assert len(seen) == total == len(set(seen)), kind
    rss = etree.fromstring(client.get("/v1/feed.rss?limit=5").data)
    rels = {link.get("rel") for link in rss.findall(f"channel/{ATOM}link")}
    assert rels == {"self", "first", "next"}
    cursor = client.get("/v1/feed.rss?limit=5").headers["Link"].split('rel="first", <')[1].split(">")[0]
    second = etree.fromstring(client.get(cursor.replace("http://localhost", "")).data)
    assert {link.get("rel") for link in second.findall(f"channel/{ATOM}link")} >= {"previous", "next"}


@pytest.mark.parametrize("kind", ["atom", "rss", "json"])
def test_feeds_honour_sort(client, kind):
    def ids(query):
        resp = client.get(f"/v1/feed.{kind}{query}")
        assert resp.status_code == 200
        if kind == "json":
            return [i["id"] for i in resp.get_json()["items"]]
        return [e.id for e in feedparser.parse(resp.data).entries]

    newest, oldest = ids("?limit=100"), ids("?limit=100&sort=oldest")
    assert ids("?limit=100&sort=newest") == newest
    api_oldest = [a["url"] for a in client.get("/v1/articles?limit=100&sort=oldest").get_json()["data"]]
    assert oldest == api_oldest != newest
    assert sorted(oldest) == sorted(newest)
    for bad in ("relevance", "sideways"):
        resp = client.get(f"/v1/feed.{kind}?sort={bad}&q=sanctions")
        assert resp.status_code == 400 and resp.mimetype == "application/problem+json"
        assert [p["name"] for p in resp.get_json()["invalid_params"]] == ["sort"]


def test_the_documented_feed_sort_is_the_one_accepted(client):
    spec = client.get("/v1/openapi.json").get_json()
    for kind in ("atom", "rss", "json"):
        params = spec["paths"][f"/v1/feed.{kind}"]["get"]["parameters"]
        sort = next(p for p in params if p["name"] == "sort")
        assert sort["schema"]["enum"] == ["newest", "oldest"]


def test_json_feed_items_follow_the_1_1_spec(client):
    """JSON Feed 1.1 (jsonfeed.org/version/1.1): the required top-level and item fields, with their types."""
    for query in ("", "?limit=3", "?lang=be", "?section=economy"):
        feed = client.get(f"/v1/feed.json{query}").get_json()
        assert feed["version"] == "https://jsonfeed.org/version/1.1"
        assert isinstance(feed["title"], str) and feed["title"] and isinstance(feed["items"], list)
        assert feed["home_page_url"].startswith("http://localhost/") and feed["feed_url"].endswith(query)
        assert all(isinstance(a, dict) and (a.get("name") or a.get("url")) for a in feed["authors"])
        assert "author" not in feed  # the 1.0 field, deprecated in 1.1
        for item in feed["items"]:
            assert isinstance(item["id"], str) and item["id"]
            assert isinstance(item.get("content_html") or item.get("content_text"), str)
            assert item["url"] == f"http://localhost/#/article/{item['id'].rsplit('/', 1)[1]}"
            assert item["_bulletin"]["api_url"] == item["id"]
            for name in ("date_published", "date_modified"):
                assert dt.datetime.fromisoformat(item[name]).tzinfo is not None  # RFC 3339, with an offset
            assert all(isinstance(t, str) for t in item.get("tags", []))
            assert all(a.get("name") for a in item.get("authors", []))
            assert "author" not in item and not [k for k in item if k.startswith("_") and k != "_bulletin"]
            assert isinstance(item["language"], str)
