"""Query-argument schemas, one per kind of endpoint; unknown parameters are rejected with a 400."""

from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from schemas.fields import CsvList, Date, DateTime, IssueId, StrictInt, Text

LANGUAGES = ("en", "ru", "be")


def ignored_param(name: str) -> bool:
    """Parameters a client may add without asking for anything: campaign tags (`utm_source`, `utm_medium`, …) and
    the `_` cache-buster of JavaScript clients. They are dropped before validation, links and cache keys."""
    return name == "_" or name.startswith("utm_")


SLUG = validate.Regexp(r"^[a-z0-9]+(?:-[a-z0-9]+)*$", error="Must be a slug: lowercase letters, digits and hyphens.")


class BaseArgs(Schema):
    """Every endpoint: the response language."""

    class Meta:
        unknown = RAISE

    lang = fields.String(
        validate=validate.OneOf(LANGUAGES),
        metadata={"description": "Language of labels (and of articles, on article lists)."},
    )


class PageArgs(BaseArgs):
    """Every collection: page size and position."""

    limit = StrictInt(
        load_default=20, validate=validate.Range(1, 100), metadata={"description": "Items per page (1–100)."}
    )
    cursor = Text(
        validate=validate.Length(1, 512), metadata={"description": "Opaque cursor from a `next`/`prev` link."}
    )
    page = StrictInt(
        validate=validate.Range(1, 10_000),
        metadata={"description": "Page number for shallow browsing; page × limit ≤ 10 000, use cursors beyond."},
    )


class ArticleFilterArgs(PageArgs):
    """Filters shared by every article collection (and the feeds)."""

    section = CsvList(Text(validate=SLUG), metadata={"description": "Section slug(s), comma-separated."})
    trend = CsvList(Text(validate=SLUG), metadata={"description": "Trend slug(s): worse, unchanged, better."})
    issue = CsvList(IssueId(), metadata={"description": "Issue id(s): 2022-02-14 or 2022-W07."})
    from_ = Date(data_key="from", metadata={"description": "Issue weeks ending on or after this date (inclusive)."})
    to = Date(metadata={"description": "Issue weeks starting on or before this date (inclusive)."})
    updated_since = DateTime(metadata={"description": "Articles updated at or after this RFC 3339 time."})
    q = Text(
        validate=validate.Length(1, 200),
        metadata={
            "description": "Full-text search (at most 200 characters) over title, lead and body: articles holding "
            "every word (stemmed: English everywhere, Russian on PostgreSQL; case- and accent-insensitive). "
            "No operators: quotes, AND/OR/NOT, -x, a:b, * and parentheses are word separators. Each hit carries a "
            "`snippet` (HTML-escaped text, matches in <mark>). Default order with q: relevance."
        },
    )
    sort = fields.String(
        validate=validate.OneOf(("newest", "oldest", "relevance")),
        metadata={"description": "newest (default), oldest, or relevance (only with q, and its default)."},
    )

    @validates_schema
    def _check(self, data, **kwargs):
        _check_article_filters(data)


class FeedArgs(ArticleFilterArgs):
    """The feeds: the article filters; feeds are chronological, so `sort` is newest or oldest (no relevance)."""

    sort = fields.String(
        validate=validate.OneOf(("newest", "oldest")),
        metadata={"description": "newest (default) or oldest first; with q too (a feed is chronological)."},
    )


def _check_range(data: dict) -> None:
    if data.get("from_") and data.get("to") and data["from_"] > data["to"]:
        raise ValidationError("from must not be after to.", "from")


def _check_article_filters(data: dict) -> None:
    """The article filters' own rules (plain functions, not the schema hooks: mutation testing reaches them)."""
    _check_range(data)
    if data.get("sort") == "relevance" and data.get("q") is None:
        raise ValidationError("sort=relevance needs a search text q.", "sort")


ARTICLE_FIELDS = (
    "slug", "title", "lead", "lang", "section", "trend", "issue", "position", "published_at", "updated_at",
    "truncated", "url", "snippet", "fallback",
)  # fmt: skip
ARTICLE_FIELDS = ARTICLE_FIELDS[:10] + ("word_count", "reading_minutes") + ARTICLE_FIELDS[10:]
#: Fields a list item carries only when `fields` names them (or, for the body, `format` asks for it).
ARTICLE_LIST_EXTRAS = ("body", "authors", "image", "translations")
ARTICLE_LIST_FIELDS = ARTICLE_FIELDS + ARTICLE_LIST_EXTRAS
ARTICLE_ITEM_FIELDS = ARTICLE_FIELDS[:-2] + (
    "body", "authors", "image", "canonical_url", "aliases", "translation_key", "translations", "requested_slug",
    "related_url", "fallback",
)  # fmt: skip
INCLUDES = ("section", "trend", "issue")
#: An article item may also embed its related articles.
ITEM_INCLUDES = (*INCLUDES, "related")


BODY_FORMATS = ("html", "text", "blocks")


def format_param(on_lists: bool) -> fields.String:
    when = " Lists carry each article's body only when `format` is given or `fields` names `body`." if on_lists else ""
    return fields.String(
        validate=validate.OneOf(BODY_FORMATS),
        metadata={
            "description": "Form of the article body: html (default, sanitised HTML), text (plain text) or blocks "
            "(structured paragraphs and lists for native mobile rendering)." + when
        },
    )


def fields_param(allowed: tuple[str, ...], what: str) -> CsvList:
    return CsvList(
        Text(validate=validate.OneOf(allowed)),
        max_items=len(allowed),
        data_key="fields",
        metadata={
            "description": f"Sparse fieldset: only these fields of each {what} (comma-separated); `slug` is always "
            f"kept. One of: {', '.join(allowed)}."
        },
    )


def include_param(allowed: tuple[str, ...] = INCLUDES) -> CsvList:
    related = (
        " On an article item, `related` embeds its related articles (`included.related`, at most 5 summaries)."
        if "related" in allowed
        else ""
    )
    return CsvList(
        Text(validate=validate.OneOf(allowed)),
        max_items=len(allowed),
        data_key="include",
        metadata={
            "description": "Embed the full section, trend and/or issue objects the articles refer to, once each, in "
            f"a top-level `included` object (comma-separated: {', '.join(allowed)}).{related}"
        },
    )


class ArticleListArgs(ArticleFilterArgs):
    """Article collections (not the feeds, whose formats are fixed): the filters plus response shaping."""

    format = format_param(on_lists=True)
    fields_ = fields_param(ARTICLE_LIST_FIELDS, "article")
    include = include_param()


TIMELINE_WINDOW, TIMELINE_MAX = 52, 260


class TimelineArgs(PageArgs):
    """The trend timeline: which sections and issue weeks to chart (lang picks the labels; stories count once).

    Paged by issue week, newest weeks first: a page charts `limit` issues (52 by default, a year), oldest first.
    """

    limit = StrictInt(
        load_default=TIMELINE_WINDOW,
        validate=validate.Range(1, TIMELINE_MAX),
        metadata={"description": f"Issue weeks per page (1–{TIMELINE_MAX}, default {TIMELINE_WINDOW}: the latest)."},
    )

    section = CsvList(Text(validate=SLUG), metadata={"description": "Section slug(s), comma-separated."})
    from_ = Date(data_key="from", metadata={"description": "Issue weeks ending on or after this date (inclusive)."})
    to = Date(metadata={"description": "Issue weeks starting on or before this date (inclusive)."})

    @validates_schema
    def _check(self, data, **kwargs):
        _check_range(data)


class IssueListArgs(PageArgs):
    covers = Date(metadata={"description": "The issue whose week contains this date."})
    from_ = Date(data_key="from", metadata={"description": "Issues whose week ends on or after this date."})
    to = Date(metadata={"description": "Issues whose week starts on or before this date."})
    year = StrictInt(validate=validate.Range(1990, 2100), metadata={"description": "Issues starting in this year."})
    sort = fields.String(validate=validate.OneOf(("newest", "oldest")))

    @validates_schema
    def _check(self, data, **kwargs):
        _check_range(data)


class ItemArgs(BaseArgs):
    """Single resources."""


class ArticleItemArgs(BaseArgs):
    format = format_param(on_lists=False)
    fields_ = fields_param(ARTICLE_ITEM_FIELDS, "article")
    include = include_param(ITEM_INCLUDES)


class RelatedArgs(BaseArgs):
    """An article's related articles: `fields` shapes the summaries."""

    fields_ = fields_param(ARTICLE_FIELDS, "related article")


class IssueItemArgs(BaseArgs):
    """One issue: `fields` shapes the article summaries it lists."""

    fields_ = fields_param(ARTICLE_FIELDS, "article of the issue")
