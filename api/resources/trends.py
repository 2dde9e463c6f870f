"""Trend tags: the vocabulary with counts, one tag, and the articles marked with it."""

from __future__ import annotations

from flask import Blueprint

from api.http import cached_endpoint
from api.resources.articles import list_fields
from api.resources.taxonomy import Taxonomy
from api.store import queries
from api.store.models import Article, Trend
from schemas.args import ArticleListArgs, ItemArgs, PageArgs
from schemas.output import ArticleListSchema, TrendItemSchema, TrendListSchema

bp = Blueprint("trends", __name__)

TRENDS = Taxonomy("trend tag", Trend, Article.trend_slug, "trend", queries.TREND_ORDER, queries.get_trend)


@bp.get("/v1/trends")
@cached_endpoint(PageArgs(), TrendListSchema)
def list_trends(session, ctx):
    """The trend vocabulary (worse → better), with counts of public articles."""
    return TRENDS.list(session, ctx)


@bp.get("/v1/trends/<slug>")
@cached_endpoint(ItemArgs(), TrendItemSchema)
def get_trend(session, ctx, slug):
    """One trend tag with its count of public articles."""
    return TRENDS.item(session, ctx.now, slug)


@bp.get("/v1/trends/<slug>/articles")
@cached_endpoint(ArticleListArgs(), ArticleListSchema, exclude=list_fields)
def trend_articles(session, ctx, slug):
    """Public articles with this trend, newest first, with every article filter."""
    return TRENDS.articles(session, ctx, slug)
