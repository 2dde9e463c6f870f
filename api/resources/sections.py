"""Sections: the list with article counts and trend streaks, one section, and a section's articles."""

from __future__ import annotations

from flask import Blueprint

from api.http import cached_endpoint
from api.resources.articles import list_fields
from api.resources.feeds import feed_links
from api.resources.taxonomy import Taxonomy
from api.store import queries
from api.store.models import Article, Section
from schemas.args import ArticleListArgs, ItemArgs, PageArgs
from schemas.output import ArticleListSchema, SectionItemSchema, SectionListSchema

bp = Blueprint("sections", __name__)

SECTIONS = Taxonomy(
    "section", Section, Article.section_slug, "section", queries.SECTION_ORDER, queries.get_section,
    annotations=(queries.annotate_streaks,),
)  # fmt: skip


@bp.get("/v1/sections")
@cached_endpoint(PageArgs(), SectionListSchema)
def list_sections(session, ctx):
    """Every section in display order, with its count of public articles, latest trend and streak."""
    return SECTIONS.list(session, ctx)


@bp.get("/v1/sections/<slug>")
@cached_endpoint(ItemArgs(), SectionItemSchema)
def get_section(session, ctx, slug):
    """One section with its count of public articles, its latest trend and how many issues that trend has lasted."""
    item = SECTIONS.item(session, ctx.now, slug)
    item["links"] = feed_links(ctx, section=item["data"].slug)
    return item


@bp.get("/v1/sections/<slug>/articles")
@cached_endpoint(ArticleListArgs(), ArticleListSchema, exclude=list_fields)
def section_articles(session, ctx, slug):
    """The section's public articles, newest first, with every article filter."""
    return SECTIONS.articles(session, ctx, slug)
