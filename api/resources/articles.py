"""Articles: the filtered, paginated list and one article by slug (or by an alias slug)."""

from __future__ import annotations

from flask import Blueprint

from api.errors import NotFound
from api.http import cached_endpoint
from api.resources.collection import collection
from api.store import queries
from schemas.args import ArticleFilterArgs, ArticleItemArgs
from schemas.output import ArticleItemSchema, ArticleListSchema, ArticleSchema, ArticleSummarySchema, ctx

bp = Blueprint("articles", __name__)

FILTER_KEYS = ("section", "trend", "issue", "lang", "from_", "to", "updated_since", "q")


def article_filters(args: dict) -> dict:
    """The filters of an article list, normalised (a single `lang` becomes a one-item list)."""
    filters = {k: args[k] for k in FILTER_KEYS if args.get(k) is not None}
    if "lang" in filters:
        filters["lang"] = [filters["lang"]]
    return filters


def article_page(session, args: dict, now, **fixed):
    """One page of public articles matching args plus fixed filters (a section's or trend's articles)."""
    filters = {**article_filters(args), **fixed}
    stmt = queries.filter_articles(queries.public_articles(now), filters)
    order = queries.ARTICLE_ORDERS[args.get("sort") or "newest"]
    return collection(session, stmt, order, args, ArticleSummarySchema(), filters=_jsonable(filters))


def _jsonable(filters: dict) -> dict:
    return {k: ([str(x) for x in v] if isinstance(v, list) else str(v)) for k, v in filters.items()}


@bp.get("/v1/articles")
@cached_endpoint(ArticleFilterArgs(), ArticleListSchema)
def list_articles(session, args, now, lang):
    """Public articles, newest first, filtered and paginated."""
    return article_page(session, args, now)


@bp.get("/v1/articles/<slug>")
@cached_endpoint(ArticleItemArgs(), ArticleItemSchema)
def get_article(session, args, now, lang, slug):
    """One public article by slug; an alias slug answers with the canonical article."""
    article, via_alias = queries.get_article(session, slug[:200], now)
    if article is None:
        raise NotFound(f"No article with slug '{slug[:200]}'.")
    data = ArticleSchema().dump(article)
    data["translations"] = {
        t.lang: {"slug": t.slug, "title": t.title, "url": f"{ctx()['base']}/v1/articles/{t.slug}"}
        for t in queries.translations(session, article, now)
    }
    data["requested_slug"] = slug if via_alias else article.slug
    headers = {"Link": f'<{ctx()["base"]}/v1/articles/{article.slug}>; rel="canonical"'} if via_alias else {}
    return {"data": data}, headers
