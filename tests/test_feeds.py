"""Feeds on both backends: every variant parses cleanly in feedparser, JSON Feed 1.1 rules, caching, no canaries."""

from __future__ import annotations

import datetime as dt
import warnings

import feedparser
import pytest

from tests.conftest import CANARIES

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
    api = client.get(
        f"/v1/articles{query or '?'}&limit=100" if "limit" not in query else f"/v1/articles{query}"
    ).get_json()
    # The feed lists the same articles as the API, in the same order, each linking to the article's own URL.
    assert [e.link for e in parsed.entries] == [a["url"] for a in api["data"]][: len(parsed.entries)]
    first = parsed.entries[0]
    assert first.title and first.summary and first.published_parsed
    assert any(t.term for t in first.tags)
    if kind == "atom":
        assert first.content[0].value
        assert parsed.feed.rights
        # An entry's `updated` is the article's last change (updated_at), falling back to its publication.
        for entry, article in zip(parsed.entries, api["data"], strict=False):
            expected = dt.datetime.fromisoformat(article["updated_at"] or article["published_at"])
            assert dt.datetime.fromisoformat(entry.updated) == expected, entry.link
    for canary in CANARIES:
        assert canary not in resp.get_data(as_text=True)


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
    """The feed's language is the lang filter or its entries' one language, never a guess; RSS names authors
    with dc:creator (no invented email)."""
    mixed = client.get("/v1/feed.json?limit=100").get_json()
    langs = {item["language"] for item in mixed["items"]}
    assert len(langs) > 1 and "language" not in mixed
    ru = client.get("/v1/feed.json?lang=ru").get_json()
    assert ru["language"] == "ru" and {item["language"] for item in ru["items"]} == {"ru"}
    parsed = feedparser.parse(client.get("/v1/feed.rss?limit=100").data)
    assert parsed.bozo == 0
    authored = [e for e in parsed.entries if e.get("author")]
    assert authored and all("@" not in e.author for e in authored)
    assert b"example.invalid" not in client.get("/v1/feed.rss?limit=100").data
    en_atom = feedparser.parse(client.get("/v1/feed.atom?lang=en").data)
    assert en_atom.feed.get("language") == "en"
