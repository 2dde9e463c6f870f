"""Syndication feeds: Atom (RFC 4287, paged per RFC 5005), RSS 2.0 and JSON Feed 1.1.

Feeds take exactly the article filters of /v1/articles (same marshmallow schema) and read through
the same public-articles choke point, so drafts and embargoed articles can never reach a feed.
Atom and RSS are written by feedgen (a maintained library that escapes and serialises via lxml);
JSON Feed is plain JSON built from the same entries.
"""

from __future__ import annotations

import datetime as dt

import orjson
from feedgen.feed import FeedGenerator
from flask import Blueprint, current_app
from lxml import etree

from api.http import cached_endpoint, per_generation
from api.resources.articles import _jsonable, article_filters
from api.resources.collection import page_links, requested_page
from api.store import queries
from schemas.args import ArticleFilterArgs

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
    # The weeks with a matching public article, once per generation and filter set.
    weeks = per_generation(
        ctx,
        "weeks",
        lambda: [w.isoformat() for w in queries.archive_weeks(session, now, filters)],
        filters=_jsonable(filters),
    )  # fmt: skip
    issue = args.get("issue")
    if not issue:
        return ({"prev-archive": ctx.url(issue=weeks[-1])} if weeks else {}), False
    if len(issue) != 1 or issue[0].isoformat() not in weeks:
        return {}, False
    at = weeks.index(issue[0].isoformat())
    current = ctx.url(issue=None)
    links = {"current": current, "next-archive": ctx.url(issue=weeks[at + 1]) if at + 1 < len(weeks) else current}
    if at > 0:
        links["prev-archive"] = ctx.url(issue=weeks[at - 1])
    return links, True


def _entries(session, ctx):
    filters = article_filters(ctx.args)
    stmt = queries.filter_articles(queries.public_articles(ctx.now), filters)
    order = queries.ARTICLE_ORDERS["newest"]
    return requested_page(session, stmt, order, ctx, filters=_jsonable(filters), count=False)  # no total shown


def _title(args) -> str:
    parts = [
        f"{k.rstrip('_')}={','.join(map(str, v)) if isinstance(v, list) else v}"
        for k, v in sorted(article_filters(args).items())
    ]
    name = current_app.config["FEED_ATTRIBUTION"]
    return f"{name} ({'; '.join(parts)})" if parts else name


def _article_url(ctx, a) -> str:
    return f"{ctx.base}/v1/articles/{a.slug}"


def _feed_language(args, page) -> str | None:
    """The feed's language: the `lang` filter, else the one language of its entries; none when they are mixed."""
    if args.get("lang"):
        return args["lang"]
    langs = {a.lang for a in page.items}
    return langs.pop() if len(langs) == 1 else None


def _updated(ctx, page) -> dt.datetime:
    times = [a.updated_at or a.published_at for a in page.items]
    return max(times) if times else ctx.generation.last_modified(ctx.now)


def _xml_feed(session, ctx, kind: str) -> bytes:
    args = ctx.args
    page = _entries(session, ctx)
    links = page_links(ctx, page)
    fg = FeedGenerator()
    fg.id(links["first"])
    fg.title(_title(args))
    fg.subtitle(current_app.config["FEED_ATTRIBUTION"])
    fg.rights(current_app.config["FEED_RIGHTS"])
    language = _feed_language(args, page)
    if language:
        fg.language(language)
    if kind == "rss":
        fg.load_extension("dc", atom=False, rss=True)  # RSS <author> demands an email; dc:creator takes a name
    fg.updated(_updated(ctx, page))
    fg.link(href=f"{ctx.base}/v1/articles", rel="alternate")
    fg.link(href=links["self"], rel="self", type=MIMETYPES[kind])
    archive, is_archive = _archive_links(session, ctx) if kind == "atom" else ({}, False)
    if kind == "atom":
        for key, rel in (("first", "first"), ("next", "next"), ("prev", "previous")):  # RFC 5005 says previous
            if links[key]:
                fg.link(href=links[key], rel=rel, type=MIMETYPES[kind])
        for rel, href in archive.items():
            fg.link(href=href, rel=rel, type=MIMETYPES[kind])
    fg.generator("Bulletin Content API")
    for a in reversed(page.items):  # feedgen prepends entries; keep newest first in output
        fe = fg.add_entry()
        fe.id(_article_url(ctx, a))
        fe.guid(_article_url(ctx, a), permalink=True)
        fe.title(a.title)
        fe.link(href=a.canonical_url or _article_url(ctx, a), rel="alternate")
        if a.lead:
            fe.summary(a.lead)
        fe.content(a.body_html or "", type="CDATA" if kind == "rss" else "html")
        for name in a.authors or []:
            if kind == "rss":
                fe.dc.dc_creator(name, replace=False)
            else:
                fe.author({"name": name})
        for term, scheme in ((a.section_slug, "section"), (a.trend_slug, "trend")):
            if term:
                fe.category(term=term, scheme=f"{ctx.base}/v1/{scheme}s", label=term)
        if a.issue_start:
            fe.category(
                term=f"issue-{a.issue_start.isoformat()}",
                scheme=f"{ctx.base}/v1/issues",
                label=a.issue_start.isoformat(),
            )
        fe.published(a.published_at)
        fe.updated(a.updated_at or a.published_at)
        fe.rights(current_app.config["FEED_RIGHTS"])
    if kind != "atom":
        return fg.rss_str(pretty=True)
    if not is_archive:
        return fg.atom_str(pretty=True)
    root = etree.fromstring(fg.atom_str())
    root.insert(0, etree.Element(f"{{{FH}}}archive", nsmap={"fh": FH}))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _json_feed(session, ctx) -> bytes:
    args = ctx.args
    page = _entries(session, ctx)
    links = page_links(ctx, page)
    items = []
    for a in page.items:
        item = {
            "id": _article_url(ctx, a),
            "url": a.canonical_url or _article_url(ctx, a),
            "title": a.title,
            "content_html": a.body_html or "",
            "summary": a.lead or None,
            "date_published": a.published_at.isoformat(),
            "date_modified": (a.updated_at or a.published_at).isoformat(),
            "authors": [{"name": n} for n in a.authors or []],
            "tags": [t for t in (a.section_slug, a.trend_slug) if t],
            "language": a.lang,
            "_bulletin": {
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
        "home_page_url": f"{ctx.base}/v1/articles",
        "feed_url": links["self"],
        "description": current_app.config["FEED_ATTRIBUTION"] + ". " + current_app.config["FEED_RIGHTS"],
        "language": _feed_language(args, page),
        "items": items,
    }
    if links["next"]:
        feed["next_url"] = links["next"]
    return orjson.dumps({k: v for k, v in feed.items() if v is not None})


@bp.get("/v1/feed.atom")
@cached_endpoint(ArticleFilterArgs(), mimetype=MIMETYPES["atom"])
def atom_feed(session, ctx):
    """Atom 1.0 feed of public articles (article filters apply), paged per RFC 5005."""
    return _xml_feed(session, ctx, "atom")


@bp.get("/v1/feed.rss")
@cached_endpoint(ArticleFilterArgs(), mimetype=MIMETYPES["rss"])
def rss_feed(session, ctx):
    """RSS 2.0 feed of public articles (article filters apply)."""
    return _xml_feed(session, ctx, "rss")


@bp.get("/v1/feed.json")
@cached_endpoint(ArticleFilterArgs(), mimetype=MIMETYPES["json"])
def json_feed(session, ctx):
    """JSON Feed 1.1 of public articles (article filters apply)."""
    return _json_feed(session, ctx)
