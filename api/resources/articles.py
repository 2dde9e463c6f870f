"""Articles: the filtered, paginated list and one article by slug (or by an alias slug)."""

from __future__ import annotations

import functools

from flask import Blueprint

from api.http import cached_endpoint
from api.problems import NotFound
from api.resources.collection import collection
from api.store import queries, search
from api.store.models import Article
from schemas.args import ArticleItemArgs, ArticleListArgs
from schemas.compiled import dump_many, dumper
from schemas.output import (
    ArticleItemSchema,
    ArticleListItemSchema,
    ArticleListSchema,
    ArticleSchema,
    ArticleSummarySchema,
    IssueSummarySchema,
    SectionSchema,
    TrendSchema,
)

bp = Blueprint("articles", __name__)

FILTER_KEYS = ("section", "trend", "issue", "lang", "from_", "to", "updated_since", "q")


def article_filters(args: dict) -> dict:
    """The filters of an article list, normalised (a single `lang` becomes a one-item list)."""
    filters = {k: args[k] for k in FILTER_KEYS if args.get(k) is not None}
    if "lang" in filters:
        filters["lang"] = [filters["lang"]]
    return filters


@functools.cache
def list_item_schema(exclude: tuple[str, ...]) -> type:
    """The list item schema without the opt-in fields `fields` did not name."""
    if not exclude:
        return ArticleListItemSchema
    meta = type("Meta", (), {"exclude": exclude})
    return type(f"ArticleListItemSchema_{'_'.join(exclude)}", (ArticleListItemSchema,), {"Meta": meta})


def article_page(session, ctx, **fixed):
    """One page of public articles matching args plus fixed filters (a section's or trend's articles).

    With `q` the default order is relevance (rank, then slug), and every hit carries a `snippet`; with
    `format` (or `fields=…,body`) every article carries its body in that format (HTML by default).
    """
    args, now = ctx.args, ctx.now
    filters = {**article_filters(args), **fixed}
    sort = args.get("sort") or ("relevance" if args.get("q") is not None else "newest")
    with_body = args.get("format") is not None or "body" in (args.get("fields_") or ())
    named = set(args.get("fields_") or ())
    extras = with_body or bool({"authors", "image"} & named)
    wanted = named | ({"body"} if with_body else set())
    schema = list_item_schema(tuple(f for f in ("body", "authors", "image") if f not in wanted)) if extras else None
    words = search.tokens(args.get("q"))
    if sort == "relevance" and words:
        stmt, params, order = queries.ranked_article_list(session, now, filters, with_body)
        prepared, count = None, True  # the hits subquery holds the words; its count is bounded by the candidates
    else:  # a q without words finds nothing, in any order
        stmt, params, prepared = queries.article_list(now, filters, with_body)
        order = queries.ARTICLE_ORDERS["newest" if sort == "relevance" else sort]

        def count():
            return queries.article_total(session, now, filters)

    page_items: list = []

    def annotate(items):
        page_items.extend(items)
        found = search.snippets(session.connection(), [a.id for a in items], words) if words else {}
        for article in items:
            if words:
                article.snippet = found.get(article.id, "")

    terms = queries.terms(session, ctx.generation.id)
    body, headers = collection(
        session,
        stmt,
        order,
        ctx,
        schema or ArticleSummarySchema,
        filters=_jsonable(filters),
        annotate=annotate,
        params=params,
        prepared=prepared,
        count=count,
        row=lambda row: queries.ArticleItem(row, terms),
    )
    return shape(session, body, page_items, args, now), headers


def pick(item: dict, names: list[str] | None) -> dict:
    """A sparse fieldset of one dumped item: only `names`, and always `slug` (to link and paginate)."""
    if not names:
        return item
    keep = {*names, "slug"}
    return {k: v for k, v in item.items() if k in keep}


def shape(session, body: dict, articles: list, args: dict, now) -> dict:
    """Apply `fields` to the body's article(s) and add the `included` objects the articles refer to."""
    names = args.get("fields_")
    if isinstance(body["data"], list):
        body["data"] = [pick(item, names) for item in body["data"]]
    else:
        body["data"] = pick(body["data"], names)
    if args.get("include"):
        body["included"] = included(session, articles, args["include"], now)
    return body


def included(session, articles: list, names: list[str], now) -> dict:
    """The full section, trend and issue objects that `articles` refer to, once each, in display order."""
    out: dict = {}
    if "section" in names:
        sections = queries.sections_by_slug(session, {a.section_slug for a in articles if a.section_slug})
        if sections:
            queries.annotate_counts(session, sections, Article.section_slug, "slug", now)
            queries.annotate_streaks(session, sections, now)
        out["section"] = dump_many(SectionSchema, sections)
    if "trend" in names:
        trends = queries.trends_by_slug(session, {a.trend_slug for a in articles if a.trend_slug})
        if trends:
            queries.annotate_counts(session, trends, Article.trend_slug, "slug", now)
        out["trend"] = dump_many(TrendSchema, trends)
    if "issue" in names:
        issues = queries.issues_by_start(session, {a.issue_start for a in articles if a.issue_start})
        queries.annotate_issues(session, issues, now)
        out["issue"] = dump_many(IssueSummarySchema, issues)
    return out


def _jsonable(filters: dict) -> dict:
    return {k: ([str(x) for x in v] if isinstance(v, list) else str(v)) for k, v in filters.items()}


@bp.get("/v1/articles")
@cached_endpoint(ArticleListArgs(), ArticleListSchema)
def list_articles(session, ctx):
    """Public articles, newest first, filtered and paginated."""
    return article_page(session, ctx)


@bp.get("/v1/articles/<slug>")
@cached_endpoint(ArticleItemArgs(), ArticleItemSchema)
def get_article(session, ctx, slug):
    """One public article by slug; an alias slug answers with the canonical article."""
    args, now = ctx.args, ctx.now
    article, via_alias = queries.get_article(session, slug[:200], now)
    if article is None:
        raise NotFound(f"No article with slug '{slug[:200]}'.")
    data = dumper(ArticleSchema)(article)
    data["translations"] = {
        t.lang: {"slug": t.slug, "title": t.title, "url": f"{ctx.base}/v1/articles/{t.slug}"}
        for t in queries.translations(session, article, now)
    }
    data["requested_slug"] = slug if via_alias else article.slug
    headers = {"Link": f'<{ctx.base}/v1/articles/{article.slug}>; rel="canonical"'} if via_alias else {}
    return shape(session, {"data": data}, [article], args, now), headers


get_article.link_header = "Link-Canonical"  # the OpenAPI document's name for this Link header
