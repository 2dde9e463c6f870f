"""Syndication feeds: Atom (RFC 4287, paged per RFC 5005), RSS 2.0 and JSON Feed 1.1.

Feeds take exactly the article filters of /v1/articles (same marshmallow schema) and read through
the same public-articles choke point, so drafts and embargoed articles can never reach a feed.
Atom and RSS are written by feedgen (a maintained library that escapes and serialises via lxml);
JSON Feed is plain JSON built from the same entries.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import orjson
from feedgen.feed import FeedGenerator
from flask import Blueprint, current_app
from lxml import etree
from sqlalchemy.orm import lazyload

from api.http import cached_endpoint, per_generation
from api.ingest.text import html_with_base
from api.pagination import jsonable_filters
from api.resources.articles import article_filters
from api.resources.collection import page_links, requested_page
from api.site import reader_article_url, reader_list_url, reader_url, site_name
from api.store import queries
from api.store.models import UNKNOWN_TIME, Article
from schemas.args import FeedArgs
from schemas.weeks import week_title

bp = Blueprint("feeds", __name__)

MIMETYPES = {"atom": "application/atom+xml", "rss": "application/rss+xml", "json": "application/feed+json"}
FH = "http://purl.org/syndication/history/1.0"  # RFC 5005 feed history


def feed_links(ctx, **filters: str) -> dict:
    """`links.feed` / `links.feed_json` of a resource: the feeds of its articles (one filter, e.g. section=…)."""
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    return {"feed": f"{ctx.base}/v1/feed.atom?{query}", "feed_json": f"{ctx.base}/v1/feed.json?{query}"}


def _archive_links(session, ctx) -> tuple[dict, bool]:
    """RFC 5005 archived feeds, one archive document per issue week (same filters plus `issue`).

    The subscription document (no `issue`, first page) points `prev-archive` at the newest week's
    document; a one-week document is an archive (`fh:archive`), linked to its neighbour weeks and to
    the subscription document (`current`). A week's content changes only when the archive is reloaded.
    """
    args, now = ctx.args, ctx.now
    if args.get("cursor") or args.get("page"):
        return {}, False
    filters = {k: v for k, v in article_filters(args).items() if k != "issue"}
    issue = args.get("issue")
    if not issue:  # the newest week with a matching public article, once per generation and filter set

        def newest() -> list:
            week = queries.archive_week(session, now, filters)
            return [week.isoformat()] if week else []

        weeks = per_generation(ctx, "weeks", newest, filters=filters)
        return ({"prev-archive": ctx.url(issue=weeks[-1])} if weeks else {}), False
    if len(issue) != 1:
        return {}, False
    week = issue[0]

    def neighbours() -> list:  # [] when the week holds no matching public article, else its neighbour weeks
        if not queries.holds_public_article(session, now, filters, week):
            return []
        before = queries.archive_week(session, now, filters, before=week)
        after = queries.archive_week(session, now, filters, after=week)
        return [before and before.isoformat(), after and after.isoformat()]

    found = per_generation(ctx, "archive", neighbours, filters=filters, issue=week.isoformat())
    if not found:
        return {}, False
    before, after = found
    current = ctx.url(issue=None)
    links = {"current": current, "next-archive": ctx.url(issue=after) if after else current}
    if before:
        links["prev-archive"] = ctx.url(issue=before)
    return links, True


def _entries(session, ctx):
    args, now = ctx.args, ctx.now
    filters = article_filters(args)
    # No entry shows its aliases: they load only if something asks (the model would select them for every page).
    stmt = queries.filter_articles(queries.public_articles(now), filters).options(lazyload(Article.aliases))
    order = queries.ARTICLE_ORDERS[args.get("sort") or "newest"]
    return requested_page(session, stmt, order, ctx, filters=jsonable_filters(filters), count=False)  # no total shown


def _title(args) -> str:
    parts = [
        f"{k.rstrip('_')}={','.join(map(str, v)) if isinstance(v, list) else v}"
        for k, v in sorted(article_filters(args).items())
    ]
    name = current_app.config["FEED_ATTRIBUTION"]
    return f"{name} ({'; '.join(parts)})" if parts else name


def _article_url(ctx, a) -> str:
    return f"{ctx.base}/v1/articles/{a.slug}"


def _feed_language(args, lang: str) -> str:
    """The feed's language: the `lang` filter, else the response language its labels and categories are in
    (entries carry their own language: xml:lang in Atom, dc:language in RSS, `language` in JSON Feed)."""
    return args.get("lang") or lang


def _known(value: dt.datetime | None) -> dt.datetime | None:
    """A stored time, or None when it is UNKNOWN_TIME (nothing in the archive says when)."""
    return None if value is None or value == UNKNOWN_TIME else value


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _categories(session, ctx, a, lang: str) -> list[tuple[str, str, str]]:
    """(term, scheme, label) of the article's section, trend tag and issue week, labelled in `lang`."""
    terms = queries.terms(session, ctx.generation.id)
    found = []
    if a.section_slug:
        section = terms.sections.get(a.section_slug)
        found.append((a.section_slug, f"{ctx.base}/v1/sections", _named(section and section.names, lang)))
    if a.trend_slug:
        trend = terms.trends.get(a.trend_slug)
        found.append((a.trend_slug, f"{ctx.base}/v1/trends", _named(trend and trend.labels, lang)))
    if a.issue_start:
        found.append(
            (f"issue-{a.issue_start.isoformat()}", f"{ctx.base}/v1/issues", week_title(a.issue_start, lang)[0])
        )
    return [(term, scheme, label or term) for term, scheme, label in found]


def _named(names: dict | None, lang: str) -> str:
    names = names or {}
    return next((names[c] for c in (lang, "en", *names) if names.get(c)), "")


def _entry_updated(ctx, page) -> dict[str, dt.datetime]:
    """Atom `updated` of each entry: the article's updated time, told apart within one document.

    Articles of one issue are stored with one shared instant, and Atom readers (and the W3C validator) take two
    entries with one `updated` for one change. Each entry's instant is its updated time plus a fraction of a
    second derived from its slug (the same in every document, unless two entries of one updated time share an
    offset: one in a million, then the later of them in the document steps a microsecond on), never earlier than the
    stored time.
    """
    seen: set[dt.datetime] = set()
    found = {}
    for a in page.items:
        offset = int.from_bytes(hashlib.blake2b(a.slug.encode(), digest_size=4).digest(), "big") % 1_000_000
        # Atom requires <updated>: an undated article (no week, no stamp) says when the store was built, not a
        # fetch time dressed up as a publication.
        known = _known(a.updated_at) or _known(a.published_at) or ctx.generation.last_modified(ctx.now)
        instant = known + dt.timedelta(microseconds=offset)
        while instant in seen:
            instant += dt.timedelta(microseconds=1)
        seen.add(instant)
        found[a.slug] = instant
    return found


def _link_header(links: dict) -> dict:
    """The paging links as an RFC 8288 Link header, as every collection sends them."""
    rels = {"first": "first", "next": "next", "prev": "prev"}
    value = ", ".join(f'<{links[k]}>; rel="{rel}"' for k, rel in rels.items() if links.get(k))
    return {"Link": value} if value else {}


def _entry_links(ctx, a) -> list[tuple[str, str, str]]:
    """(href, rel, type) of an Atom entry: the reader page's article view (what a feed reader opens), the article
    in the API, and the page it was first published on (`via`) when known."""
    links = [
        (reader_article_url(ctx.base, a.slug), "alternate", "text/html"),
        (_article_url(ctx, a), "alternate", "application/json"),
    ]
    if a.canonical_url:
        links.append((a.canonical_url, "via", "text/html"))
    return links


ATOM = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def _xml_feed(session, ctx, kind: str) -> tuple[bytes, dict]:
    args, now, lang = ctx.args, ctx.now, ctx.lang
    page = _entries(session, ctx)
    links = page_links(ctx, page)
    language = _feed_language(args, lang)
    fg = FeedGenerator()
    fg.id(links["first"])
    fg.title(_title(args))
    fg.subtitle(current_app.config["FEED_ATTRIBUTION"])
    fg.rights(current_app.config["FEED_RIGHTS"])
    fg.language(language)
    fg.author({"name": site_name(language)})  # RFC 4287 4.1.2: the feed's author stands for authorless entries
    if kind == "rss":
        fg.load_extension("dc", atom=False, rss=True)  # RSS <author> demands an email; dc:creator takes a name
    updated = _entry_updated(ctx, page)
    fg.updated(max(updated.values()) if updated else ctx.generation.last_modified(now))
    fg.link(href=reader_list_url(ctx.base, article_filters(args)), rel="alternate", type="text/html")
    fg.link(href=links["self"], rel="self", type=MIMETYPES[kind])
    archive, is_archive = _archive_links(session, ctx) if kind == "atom" else ({}, False)
    if kind == "atom":
        for key, rel in (("first", "first"), ("next", "next"), ("prev", "previous")):  # RFC 5005 says previous
            if links[key]:
                fg.link(href=links[key], rel=rel, type=MIMETYPES[kind])
        for rel, href in archive.items():
            fg.link(href=href, rel=rel, type=MIMETYPES[kind])
    fg.generator("Bulletin Content API")
    for a in reversed(page.items):  # feedgen prepends entries; keep the page's order in output
        fe = fg.add_entry()
        fe.id(_article_url(ctx, a))
        fe.guid(_article_url(ctx, a), permalink=False)  # an id; the page to read is <link>
        fe.title(a.title)
        if kind == "rss":  # Atom's links are written below (feedgen drops an Atom link's rel and type)
            fe.link(href=reader_article_url(ctx.base, a.slug), rel="alternate")
        if a.lead:
            fe.summary(a.lead)
        fe.content(html_with_base(a.body_html or "", ctx.base), type="CDATA" if kind == "rss" else "html")
        for name in a.authors or []:
            if kind == "rss":
                fe.dc.dc_creator(name, replace=False)
            else:
                fe.author({"name": name})
        if kind == "rss":
            fe.dc.dc_language(a.lang)
        for term, scheme, label in _categories(session, ctx, a, language):
            fe.category(term=term, scheme=scheme, label=label)
        if _known(a.published_at):
            fe.published(a.published_at)
        fe.updated(updated[a.slug])
        fe.rights(current_app.config["FEED_RIGHTS"])
    root = etree.fromstring(fg.rss_str() if kind == "rss" else fg.atom_str())
    if kind == "rss":
        channel = root.find("channel")
        channel.find("link").text = reader_list_url(
            ctx.base, article_filters(args)
        )  # the site (feedgen puts the feed there)
        at = list(channel).index(channel.find(f"{{{ATOM}}}link")) + 1
        for key, rel in (("first", "first"), ("next", "next"), ("prev", "previous")):
            if links[key]:
                link = etree.Element(f"{{{ATOM}}}link", href=links[key], rel=rel, type=MIMETYPES[kind])
                channel.insert(at, link)
                at += 1
        for item, a in zip(channel.findall("item"), page.items, strict=True):
            item.append(
                etree.Element(f"{{{ATOM}}}link", href=_article_url(ctx, a), rel="alternate", type="application/json")
            )
    else:
        for entry, a in zip(root.findall(f"{{{ATOM}}}entry"), page.items, strict=True):
            entry.set(XML_LANG, a.lang)
            at = list(entry).index(entry.find(f"{{{ATOM}}}title")) + 1
            for href, rel, mimetype in _entry_links(ctx, a):
                entry.insert(at, etree.Element(f"{{{ATOM}}}link", href=href, rel=rel, type=mimetype))
                at += 1
        if is_archive:
            root.insert(0, etree.Element(f"{{{FH}}}archive", nsmap={"fh": FH}))
    body = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return body, _link_header(links)


def _json_feed(session, ctx) -> tuple[bytes, dict]:
    args, lang = ctx.args, ctx.lang
    page = _entries(session, ctx)
    links = page_links(ctx, page)
    language = _feed_language(args, lang)
    items = []
    for a in page.items:
        categories = _categories(session, ctx, a, language)
        item = {
            "id": _article_url(ctx, a),
            "url": reader_article_url(ctx.base, a.slug),
            "external_url": a.canonical_url or None,
            "title": a.title,
            "content_html": html_with_base(a.body_html or "", ctx.base),
            "summary": a.lead or None,
            "date_published": _iso(_known(a.published_at)),
            "date_modified": _iso(_known(a.updated_at) or _known(a.published_at)),
            "authors": [{"name": n} for n in a.authors or []] or None,
            "tags": [label for _, _, label in categories] or None,
            "language": a.lang,
            "_bulletin": {
                "api_url": _article_url(ctx, a),
                "section": a.section_slug,
                "trend": a.trend_slug,
                "issue": a.issue_start.isoformat() if a.issue_start else None,
                "rights": current_app.config["FEED_RIGHTS"],
            },
        }
        items.append({k: v for k, v in item.items() if v is not None})
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": _title(args),
        "home_page_url": reader_list_url(ctx.base, article_filters(args)),
        "feed_url": links["self"],
        "description": current_app.config["FEED_ATTRIBUTION"] + ". " + current_app.config["FEED_RIGHTS"],
        "authors": [{"name": site_name(language), "url": reader_url(ctx.base)}],
        "language": language,
        "items": items,
    }
    if links["next"]:
        feed["next_url"] = links["next"]
    return orjson.dumps(feed), _link_header(links)


@bp.get("/v1/feed.atom")
@cached_endpoint(FeedArgs(), mimetype=MIMETYPES["atom"])
def atom_feed(session, ctx):
    """Atom 1.0 feed of public articles (article filters apply), paged per RFC 5005."""
    return _xml_feed(session, ctx, "atom")


@bp.get("/v1/feed.rss")
@cached_endpoint(FeedArgs(), mimetype=MIMETYPES["rss"])
def rss_feed(session, ctx):
    """RSS 2.0 feed of public articles (article filters apply), paged by atom:link first/next/previous."""
    return _xml_feed(session, ctx, "rss")


@bp.get("/v1/feed.json")
@cached_endpoint(FeedArgs(), mimetype=MIMETYPES["json"])
def json_feed(session, ctx):
    """JSON Feed 1.1 of public articles (article filters apply), paged by `next_url`."""
    return _json_feed(session, ctx)


for _feed in (atom_feed, rss_feed, json_feed):
    _feed.link_header = "Link"  # the OpenAPI document's name for this Link header: first, next, prev as in the body
