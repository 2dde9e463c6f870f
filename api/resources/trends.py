"""Trend tags: the vocabulary with counts, one tag, and the articles marked with it."""

from __future__ import annotations

from flask import Blueprint
from sqlalchemy import select

from api.errors import NotFound
from api.http import cached_endpoint
from api.resources.articles import article_page
from api.resources.collection import collection
from api.store import queries
from api.store.models import Article, Trend
from schemas.args import ArticleFilterArgs, ItemArgs, PageArgs
from schemas.output import ArticleListSchema, TrendItemSchema, TrendListSchema, TrendSchema

bp = Blueprint("trends", __name__)


def _annotate(session, now):
    return lambda items: queries.annotate_counts(session, items, Article.trend_slug, "slug", now)


@bp.get("/v1/trends")
@cached_endpoint(PageArgs(), TrendListSchema)
def list_trends(session, args, now, lang):
    """The trend vocabulary (worse → better), with counts of public articles."""
    return collection(session, select(Trend), queries.TREND_ORDER, args, TrendSchema(), annotate=_annotate(session, now))


def _trend_or_404(session, slug: str) -> Trend:
    trend = queries.get_trend(session, slug[:40])
    if trend is None:
        raise NotFound(f"No trend tag '{slug[:40]}'.")
    return trend


@bp.get("/v1/trends/<slug>")
@cached_endpoint(ItemArgs(), TrendItemSchema)
def get_trend(session, args, now, lang, slug):
    """One trend tag with its count of public articles."""
    trend = _trend_or_404(session, slug)
    _annotate(session, now)([trend])
    return {"data": TrendSchema().dump(trend)}


@bp.get("/v1/trends/<slug>/articles")
@cached_endpoint(ArticleFilterArgs(), ArticleListSchema)
def trend_articles(session, args, now, lang, slug):
    """Public articles with this trend, newest first, with every article filter."""
    trend = _trend_or_404(session, slug)
    if args.get("trend") and trend.slug not in args["trend"]:
        return article_page(session, args, now, trend=[])
    return article_page(session, args, now, trend=[trend.slug])
