"""Articles: the filtered, paginated list and one article by slug (or by an alias slug)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint
from marshmallow import Schema

from api.http import cached_endpoint, per_generation
from api.pagination import jsonable_filters
from api.problems import NotFound
from api.resources.collection import Extended, collection
from api.store import queries, search
from api.store.models import Article
from schemas.args import ARTICLE_LIST_EXTRAS, ArticleItemArgs, ArticleListArgs, RelatedArgs
from schemas.output import (
    ArticleDetailSchema,
    ArticleItemSchema,
    ArticleListItemSchema,
    ArticleListSchema,
    ArticleSummarySchema,
    RelatedListSchema,
)

bp = Blueprint("articles", __name__)

FILTER_KEYS = ("section", "trend", "issue", "lang", "from_", "to", "updated_since", "q")


def article_filters(args: dict) -> dict:
    """The filters of an article list, normalised (a single `lang` becomes a one-item list)."""
    filters = {k: args[k] for k in FILTER_KEYS if args.get(k) is not None}
    if "lang" in filters:
        filters["lang"] = [filters["lang"]]
    return filters


def fieldset(prefix: str, schema: type[Schema], opt_in: tuple[str, ...] = ()) -> Callable[[dict], tuple[str, ...]]:
    """`exclude(args)` for an endpoint whose articles are dumped by `schema` at `prefix` (`data.`): the fields the
    arguments leave out. With `fields`, every field it does not name (`slug` always stays); of the `opt_in` fields,
    those not named (`body` is also asked for by `format`)."""
    names = tuple(schema().fields)

    def exclude(args: dict) -> tuple[str, ...]:
        named = set(args.get("fields_") or ())
        asked = named | ({"body"} if args.get("format") is not None else set())
        left_out = {f for f in opt_in if f not in asked}
        if named:
            left_out |= {f for f in names if f not in named | {"slug"}}
        return tuple(prefix + f for f in sorted(left_out))

    return exclude


#: The sparse fieldset of every article list (its `exclude`): /v1/articles and a section's, trend's or issue's.
list_fields = fieldset("data.", ArticleListItemSchema, ARTICLE_LIST_EXTRAS)


def article_page(session, ctx, **fixed):
    """One page of public articles matching args plus fixed filters (a section's or trend's articles).

    With `q` the default order is relevance (rank, then slug), and every hit carries a `snippet`; with
    `format` (or `fields=…,body`) every article carries its body in that format (HTML by default).
    """
    args, now = ctx.args, ctx.now
    filters = {**article_filters(args), **fixed}
    sort = args.get("sort") or ("relevance" if args.get("q") is not None else "newest")
    with_body = args.get("format") is not None or "body" in (args.get("fields_") or ())
    words = search.tokens(args.get("q"))
    if sort == "relevance" and words:

        def memo(compute):  # where a search's candidates are, and how many: once per generation and filter set
            # and backend: the two index and count by other rules (recency keys, stemmers) in one shared Redis
            backend = session.get_bind().dialect.name
            return per_generation(
                ctx, "search_matches", compute, filters=jsonable_filters(filters), scored=search.SCORED, backend=backend
            )

        stmt, params, order, count = queries.ranked_article_list(session, now, filters, with_body, memo)
        prepared = None  # the hits subquery holds the words; its count is bounded by search.SCORED
    else:  # a q without words finds nothing, in any order
        stmt, params, prepared = queries.article_list(now, filters, with_body)
        order = queries.ARTICLE_ORDERS["newest" if sort == "relevance" else sort]

        def count():
            return queries.article_total(session, now, filters)

    named = set(args.get("fields_") or ())

    def annotate(items):
        found = search.snippets(session.connection(), [a.id for a in items], words) if words else {}
        for article in items:
            if words:
                article.snippet = found.get(article.id, "")
        if "translations" in named:
            linked = translation_links(session, items, ctx)
            for article in items:
                article.translations = linked[article.id]

    terms = queries.terms(session, ctx.generation.id)
    body, headers = collection(
        session,
        stmt,
        order,
        ctx,
        filters=jsonable_filters(filters),
        annotate=annotate,
        params=params,
        prepared=prepared,
        count=count,
        row=lambda row: queries.ArticleItem(row, terms),
    )
    if args.get("include"):
        body["included"] = included(session, body["data"], args["include"], ctx)
    return body, headers


def translation_links(session, articles: list, ctx) -> dict[int, dict]:
    """Article id → {lang: {slug, title, url}} of its public translations (one query for all of `articles`)."""
    found = queries.translations_of(session, articles, ctx.now)
    return {
        a.id: {
            t.lang: {"slug": t.slug, "title": t.title, "url": f"{ctx.base}/v1/articles/{t.slug}"}
            for t in found.get(a.translation_key, ())
            if t.id != a.id
        }
        for a in articles
    }


def included(session, articles: list, names: list[str], ctx) -> dict:
    """The full section, trend and issue objects that `articles` refer to, once each, in display order; on an
    article item, `related`: its related articles."""
    now = ctx.now
    out: dict = {}
    if "section" in names:
        sections = queries.sections_by_slug(session, {a.section_slug for a in articles if a.section_slug})
        if sections:
            queries.annotate_counts(session, sections, Article.section_slug, "slug", now)
            queries.annotate_streaks(session, sections, now)
        out["section"] = sections
    if "trend" in names:
        trends = queries.trends_by_slug(session, {a.trend_slug for a in articles if a.trend_slug})
        if trends:
            queries.annotate_counts(session, trends, Article.trend_slug, "slug", now)
        out["trend"] = trends
    if "issue" in names:
        issues = queries.issues_by_start(session, {a.issue_start for a in articles if a.issue_start})
        queries.annotate_issues(session, issues, now)
        out["issue"] = issues
    if "related" in names:  # only an item's arguments allow it: one article
        (article,) = articles
        out["related"] = queries.related(session, article.id, now, queries.terms(session, ctx.generation.id))
    return out


@bp.get("/v1/articles")
@cached_endpoint(ArticleListArgs(), ArticleListSchema, exclude=list_fields)
def list_articles(session, ctx):
    """Public articles, newest first, filtered and paginated."""
    return article_page(session, ctx)


@bp.get("/v1/articles/<slug>")
@cached_endpoint(ArticleItemArgs(), ArticleItemSchema, exclude=fieldset("data.", ArticleDetailSchema))
def get_article(session, ctx, slug):
    """One public article by slug; an alias slug answers with the canonical article."""
    args, now = ctx.args, ctx.now
    article, via_alias = queries.get_article(session, slug[:200], now)
    if article is None:
        raise NotFound(f"No article with slug '{slug[:200]}'.")
    body = {
        "data": Extended(
            article,
            translations=translation_links(session, [article], ctx)[article.id],
            requested_slug=slug if via_alias else article.slug,
            related_url=f"{ctx.base}/v1/articles/{article.slug}/related",
        )
    }
    if args.get("include"):
        body["included"] = included(session, [article], args["include"], ctx)
    headers = {"Link": f'<{ctx.base}/v1/articles/{article.slug}>; rel="canonical"'} if via_alias else {}
    return body, headers


get_article.link_header = "Link-Canonical"  # the OpenAPI document's name for this Link header


@bp.get("/v1/articles/<slug>/related")
@cached_endpoint(RelatedArgs(), RelatedListSchema, exclude=fieldset("data.", ArticleSummarySchema))
def related_articles(session, ctx, slug):
    """A public article's related articles (at most 5), best first; an alias slug answers for its article."""
    article, _ = queries.get_article(session, slug[:200], ctx.now)
    if article is None:
        raise NotFound(f"No article with slug '{slug[:200]}'.")
    return {
        "data": queries.related(session, article.id, ctx.now, queries.terms(session, ctx.generation.id)),
        "meta": {"max": queries.RELATED_MAX, "generation": ctx.generation.id[:20]},
        "links": {"self": ctx.url(), "article": f"{ctx.base}/v1/articles/{article.slug}"},
    }
