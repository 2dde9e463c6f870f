"""Sections: the list with article counts, one section, and a section's articles."""

from __future__ import annotations

from flask import Blueprint
from sqlalchemy import select

from api.errors import NotFound
from api.http import base_url, cached_endpoint
from api.resources.articles import article_page
from api.resources.collection import collection
from api.store import queries
from api.store.models import Article, Section
from schemas.args import ArticleFilterArgs, ItemArgs, PageArgs
from schemas.output import ArticleListSchema, SectionItemSchema, SectionListSchema, SectionSchema

bp = Blueprint("sections", __name__)


def _annotate(session, now):
    return lambda items: queries.annotate_counts(session, items, Article.section_slug, "slug", now)


@bp.get("/v1/sections")
@cached_endpoint(PageArgs(), SectionListSchema)
def list_sections(session, args, now, lang):
    """Every section in display order, with its count of public articles."""
    return collection(
        session, select(Section), queries.SECTION_ORDER, args, SectionSchema(), annotate=_annotate(session, now)
    )


def _section_or_404(session, slug: str) -> Section:
    section = queries.get_section(session, slug[:80])
    if section is None:
        raise NotFound(f"No section '{slug[:80]}'.")
    return section


@bp.get("/v1/sections/<slug>")
@cached_endpoint(ItemArgs(), SectionItemSchema)
def get_section(session, args, now, lang, slug):
    """One section with its count of public articles."""
    section = _section_or_404(session, slug)
    _annotate(session, now)([section])
    feed = f"{base_url()}/v1/feed.atom?section={section.slug}"
    return {
        "data": SectionSchema().dump(section),
        "links": {"feed": feed, "feed_json": feed.replace("feed.atom", "feed.json")},
    }


@bp.get("/v1/sections/<slug>/articles")
@cached_endpoint(ArticleFilterArgs(), ArticleListSchema)
def section_articles(session, args, now, lang, slug):
    """The section's public articles, newest first, with every article filter."""
    section = _section_or_404(session, slug)
    if args.get("section") and section.slug not in args["section"]:
        return article_page(session, args, now, section=[])
    return article_page(session, args, now, section=[section.slug])
