"""Response schemas: how issues, articles, sections and trend tags look on the wire.

They also type the OpenAPI document (api/openapi.py): `required=True` on a field means it is in every dump (it
changes nothing when dumping), and a computed field carries the JSON Schema of its value (`computed`). Article
fields other than `slug` stay optional: `fields=…` (a sparse fieldset) may leave any of them out.

What a dump needs besides the object (language, base URL, body format) is passed to it explicitly: computed fields
are `func(obj, context)`, and a schema is dumped as `Schema(context=…)` or by `dumper(Schema)(obj, context)`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from marshmallow import Schema, fields, missing

from api.ingest.text import reading_minutes
from schemas.fields import Computed, KnownTime, Nested, OneOf
from schemas.weeks import week_title

LANGUAGES = ("en", "ru", "be")
LANG = {"type": "string", "enum": list(LANGUAGES)}
DAY = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
#: A trend tag's direction (the vocabulary's −1 / 0 / +1) as it is written on the wire, everywhere.
DIRECTIONS = {-1: "worse", 0: "unchanged", 1: "better"}
DIRECTION_DOC = "worse, unchanged or better (the same three words on trend tags, latest trends and the timeline)."


@dataclass(frozen=True)
class DumpContext:
    """What a dump needs besides the object, passed explicitly (`dumper(schema)(obj, context)`,
    `Schema(context=…)`): the response language, the absolute API root of every link and the body format asked
    for (None: HTML). api.context.RequestContext has the same three attributes and is passed as one."""

    lang: str
    base: str
    format: str | None = None


class OutputSchema(Schema):
    """A response schema, dumped with an explicit context: `ArticleSchema(context=DumpContext(…)).dump(obj)`
    (nested schemas get their parent's; see schemas.fields.dump_context)."""

    def __init__(self, *args, context=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.context = context


def localized_with(names: dict, lang: str) -> tuple[str, str]:
    """(text, language it is in): `lang`, else English, else the first one there is."""
    for candidate in (lang, "en", *names):
        if names.get(candidate):
            return names[candidate], candidate
    return "", lang


def localized(names: dict, lang: str) -> str:
    return localized_with(names, lang)[0]


FALLBACK_DOC = (
    "Present only when some of this object's text is not in the response language (Content-Language): "
    "field name → the language it is in instead."
)


def fallback(lang: str, **texts) -> dict:
    """{field: language} for the fields whose language is not the response language `lang`; `missing` when none."""
    found = {name: used for name, used in texts.items() if used and used != lang}
    return found or missing


def issue_id(day) -> str:
    return day.isoformat()


def direction(value: int) -> str:
    """A trend tag's direction on the wire: the name of its sign."""
    return DIRECTIONS[(value > 0) - (value < 0)]


def computed(func, schema: dict, *, required: bool = True, allow_none: bool = False, **metadata) -> Computed:
    """A field computed at dump time by `func(obj, context)`, with the JSON Schema of its value (it has no type of
    its own)."""
    return Computed(func, required=required, allow_none=allow_none, metadata={**schema, **metadata})


def fallback_field(func, names: tuple[str, ...], more: str = "") -> Computed:
    schema = {"type": "object", "properties": dict.fromkeys(names, LANG), "additionalProperties": False}
    return computed(func, schema, required=False, description=(FALLBACK_DOC + " " + more).strip())


def url_field(func, description: str | None = None) -> Computed:
    return computed(func, {"type": "string"}, **({"description": description} if description else {}))


def text(**kwargs) -> fields.String:
    return fields.String(required=True, **kwargs)


def integer(**kwargs) -> fields.Integer:
    return fields.Integer(required=True, **kwargs)


def nested(schema, **kwargs) -> Nested:
    return Nested(schema, required=True, **kwargs)


class SectionRefSchema(OutputSchema):
    slug = text()
    name = computed(
        lambda s, c: localized(s.names, c.lang), {"type": "string"}, description="Name in the response language."
    )
    url = url_field(lambda s, c: f"{c.base}/v1/sections/{s.slug}")
    fallback = fallback_field(lambda s, c: fallback(c.lang, name=localized_with(s.names, c.lang)[1]), ("name",))


class TrendRefSchema(OutputSchema):
    slug = text()
    label = computed(
        lambda t, c: localized(t.labels, c.lang), {"type": "string"}, description="Label in the response language."
    )
    direction = computed(lambda t, c: direction(t.direction), {"type": "string", "enum": list(DIRECTIONS.values())},
                         description=DIRECTION_DOC)  # fmt: skip
    fallback = fallback_field(lambda t, c: fallback(c.lang, label=localized_with(t.labels, c.lang)[1]), ("label",))


ISSUE_ID = {"type": "string", "pattern": DAY, "example": "2022-02-14"}
WEEK_TITLE_DOC = (
    "The week as the edition in the response language prints it: `February 14 – February 20, 2022`, "
    "`14 – 20 февраля 2022`, `14 – 20 лютага 2022`."
)


class IssueRefSchema(OutputSchema):
    id = computed(lambda i, c: issue_id(i.start), ISSUE_ID, description="The Monday that starts the issue week.")
    iso_week = text(metadata={"example": "2022-W07"})
    title = computed(
        lambda i, c: week_title(i.start, c.lang)[0],
        {"type": "string", "example": "February 14 – February 20, 2022"},
        description=WEEK_TITLE_DOC,
    )
    url = url_field(lambda i, c: f"{c.base}/v1/issues/{issue_id(i.start)}")
    fallback = fallback_field(lambda i, c: fallback(c.lang, title=week_title(i.start, c.lang)[1]), ("title",))


def _body(article, c) -> dict:
    """The body in the requested `format` (HTML by default), keyed by that format: {"html": "<p>…"}."""
    fmt = c.format or "html"
    body = {"html": article.body_html, "text": article.body_text, "blocks": article.blocks}
    return {fmt: body[fmt]}


BODY_DOC = (
    "The body in the `format` asked for, as {format: value}: `html` (default; sanitised HTML), `text` (plain text, "
    "paragraphs separated by blank lines) or `blocks` (structured paragraphs and lists for native rendering)."
)
#: One key, the format asked for; blocks are described by the Block components of the document.
BODY = {
    "type": "object",
    "properties": {
        "html": {"type": "string"},
        "text": {"type": "string"},
        "blocks": {"type": "array", "items": {"$ref": "#/components/schemas/Block"}},
    },
    "minProperties": 1,
    "maxProperties": 1,
    "additionalProperties": False,
}
IMAGE = {
    "type": "object",
    "properties": {"caption": {"type": ["string", "null"]}, "credit": {"type": ["string", "null"]}},
    "required": ["caption", "credit"],
    "additionalProperties": False,
}
ARTICLE_FALLBACK = "An article is in one language: its `lang`; see `translations`."


class ArticleSummarySchema(OutputSchema):
    """An article as lists show it; `fields=…` may keep any subset, so every field but `slug` is optional."""

    slug = text(metadata={"description": "Always present, whatever `fields` asks for."})
    title = fields.String()
    lead = fields.String()
    lang = fields.String(metadata={**LANG, "example": "en"})
    section = Nested(SectionRefSchema, allow_none=True)
    trend = Nested(TrendRefSchema, allow_none=True)
    issue = computed(
        lambda a, c: issue_id(a.issue_start) if a.issue_start else None, ISSUE_ID, required=False, allow_none=True,
        description="Id of the issue (null for articles whose week could not be recovered).",
    )  # fmt: skip
    position = fields.Integer()
    published_at = KnownTime(
        metadata={
            "description": "When the article was published; null when the archive does not say (a capture "
            "with no week and no stamp of its own). Such articles sort as the oldest: last when newest come first."
        }
    )
    updated_at = KnownTime()
    truncated = fields.Boolean(metadata={"description": "The archived capture was cut off."})
    word_count = fields.Integer(metadata={"description": "Words of the lead and body."})
    reading_minutes = computed(
        lambda a, c: reading_minutes(a.word_count or 0, a.lang), {"type": "integer", "minimum": 1}, required=False,
        description="Minutes to read the lead and body, rounded up: words / 200 per minute in English, 184 in "
        "Russian and Belarusian.",
    )  # fmt: skip
    url = computed(lambda a, c: f"{c.base}/v1/articles/{a.slug}", {"type": "string"}, required=False)
    fallback = fallback_field(
        lambda a, c: fallback(c.lang, title=a.lang, lead=a.lang), ("title", "lead"), ARTICLE_FALLBACK
    )
    snippet = fields.String(
        metadata={
            "description": "Search hits only (with q): an excerpt around the matches, HTML-escaped, the matched "
            "words in <mark>…</mark>."
        }
    )


class TranslationSchema(OutputSchema):
    slug = text()
    title = text()
    url = text()


TRANSLATIONS_DOC = "Language → the same article in that language."


def translations_field(description: str = TRANSLATIONS_DOC) -> fields.Dict:
    return fields.Dict(
        keys=fields.String(metadata=LANG),
        values=Nested(TranslationSchema),
        metadata={"description": description},
    )


class ArticleListItemSchema(ArticleSummarySchema):
    """An article of a list; `body` only when asked for (`format=…` or `fields=…,body`), to keep pages light."""

    body = computed(_body, BODY, required=False, description="Only with `format` or `fields=…,body`. " + BODY_DOC)
    authors = fields.List(fields.String(), metadata={"description": "Only with `fields=…,authors`."})
    image = computed(
        lambda a, c: {"caption": a.image_caption, "credit": a.image_credit} if a.image_caption or a.image_credit else None,
        IMAGE, required=False, allow_none=True, description="Only with `fields=…,image`.",
    )  # fmt: skip
    translations = translations_field("Only with `fields=…,translations`. " + TRANSLATIONS_DOC)


class ArticleSchema(ArticleSummarySchema):
    class Meta:
        exclude = ("snippet",)

    fallback = fallback_field(
        lambda a, c: fallback(c.lang, title=a.lang, lead=a.lang, body=a.lang),
        ("title", "lead", "body"),
        ARTICLE_FALLBACK,
    )
    body = computed(_body, BODY, required=False, description=BODY_DOC)
    authors = fields.List(fields.String())
    image = computed(
        lambda a, c: {"caption": a.image_caption, "credit": a.image_credit} if a.image_caption or a.image_credit else None,
        IMAGE, required=False, allow_none=True,
    )  # fmt: skip
    canonical_url = fields.String(allow_none=True)
    aliases = computed(lambda a, c: sorted(al.slug for al in a.aliases), {"type": "array", "items": {"type": "string"}},
                       required=False, description="Other slugs that answer with this article.")  # fmt: skip
    translation_key = fields.String(allow_none=True)


def complete(schema: type[Schema], name: str, optional: tuple[str, ...] = ()) -> type[Schema]:
    """`schema` where every field but `optional` is required: the shape of a dump no `fields=…` trims."""
    exclude = set(getattr(getattr(schema, "Meta", None), "exclude", ()))
    declared = {}
    for key, field in schema._declared_fields.items():
        if key not in exclude:
            declared[key] = copy.copy(field)
            declared[key].required = key not in optional
    return OutputSchema.from_dict(declared, name=name)


#: The article of a change-feed upsert: every field, always (the feed takes no `fields`).
ArticleFullSchema = complete(ArticleSchema, "ArticleFull", optional=("fallback",))


class LatestTrendSchema(OutputSchema):
    issue = text(metadata={"pattern": DAY, "example": "2022-02-28"})
    direction = text(
        metadata={"enum": list(DIRECTIONS.values()), "description": "The sign of net_index: " + DIRECTION_DOC}
    )
    net_index = fields.Float(
        required=True, metadata={"description": "(better − worse) / total of that issue's stories in the section."}
    )


class SectionSchema(SectionRefSchema):
    names = fields.Dict(keys=fields.String(), values=fields.String(), required=True,
                        metadata={"description": "Language → name."})  # fmt: skip
    position = integer()
    article_count = integer(metadata={"description": "Public articles in this section."})
    articles_url = url_field(lambda s, c: f"{c.base}/v1/sections/{s.slug}/articles")
    latest_trend = nested(
        LatestTrendSchema, allow_none=True,
        metadata={"description": "Direction of the section in the latest issue it appears in (null: no public article)."},
    )  # fmt: skip
    streak = integer(
        metadata={
            "description": "How many of the section's most recent issues kept that direction (0: no public article)."
        }
    )


class TrendSchema(TrendRefSchema):
    labels = fields.Dict(keys=fields.String(), values=fields.String(), required=True,
                         metadata={"description": "Language → label."})  # fmt: skip
    article_count = integer(metadata={"description": "Public articles with this trend."})
    articles_url = url_field(lambda t, c: f"{c.base}/v1/trends/{t.slug}/articles")


class IssueSummarySchema(IssueRefSchema):
    start = fields.Date(required=True)
    end = fields.Date(required=True)
    languages = fields.List(fields.String(metadata=LANG), required=True)
    article_count = integer()


class IssueSectionSchema(OutputSchema):
    section = nested(SectionRefSchema, allow_none=True, metadata={"description": "null: articles without a section."})
    articles = fields.List(
        Nested(ArticleSummarySchema), required=True,
        metadata={"description": "The section's first articles in editorial order (at most 20; 100 in the whole issue)."},
    )  # fmt: skip
    article_count = integer(metadata={"description": "All the section's public articles in this issue."})
    articles_url = text(metadata={"description": "All of them, paged: the issue's article list for this section."})


class IssueSchema(IssueSummarySchema):
    sections = fields.List(
        Nested(IssueSectionSchema), required=True,
        metadata={"description": "Articles grouped by section, in editorial order."},
    )  # fmt: skip
    previous = nested(IssueRefSchema, allow_none=True)
    next = nested(IssueRefSchema, allow_none=True)


class PageMetaSchema(OutputSchema):
    limit = integer()
    total = integer(metadata={"description": "Items of the whole collection (every page)."})
    page = integer(allow_none=True, metadata={"description": "The page number asked for (null: cursor paging)."})
    generation = text(metadata={"description": "The store generation this page was read from."})


NULLABLE_LINK = {"description": "null on the last (next) or first (prev) page."}


class PageLinksSchema(OutputSchema):
    self = text()
    first = text()
    next = text(allow_none=True, metadata=NULLABLE_LINK)
    prev = text(allow_none=True, metadata=NULLABLE_LINK)


def envelope(item_schema: type[Schema], name: str) -> type[Schema]:
    """A paginated collection of `item_schema`: data / meta / links."""
    return OutputSchema.from_dict(
        {
            "data": fields.List(Nested(item_schema), required=True),
            "meta": nested(PageMetaSchema),
            "links": nested(PageLinksSchema),
        },
        name=name,
    )


class IncludedSchema(OutputSchema):
    """`include=section,trend,issue`: the full objects the page's articles refer to, once each."""

    section = fields.List(Nested(SectionSchema))
    trend = fields.List(Nested(TrendSchema))
    issue = fields.List(Nested(IssueSummarySchema))
    related = fields.List(
        Nested(ArticleSummarySchema),
        metadata={"description": "Article item only, `include=related`: its related articles, best first."},
    )


RELATED_DOC = (
    "Public articles in the article's language ranked by shared section, trend tag and terms and nearness in time, "
    "best first; never the same story in another language, never a hidden article (at most 5)."
)
RelatedListSchema = OutputSchema.from_dict(
    {
        "data": fields.List(Nested(ArticleSummarySchema), required=True, metadata={"description": RELATED_DOC}),
        "meta": nested(OutputSchema.from_dict({"max": integer(metadata={"description": "At most this many."}),
                                               "generation": text()}, name="RelatedMeta")),
        "links": nested(OutputSchema.from_dict({"self": text(), "article": text()}, name="RelatedLinks")),
    },
    name="RelatedList",
)  # fmt: skip

INCLUDED = Nested(IncludedSchema, metadata={"description": "Only with `include`."})
ArticleListSchema = OutputSchema.from_dict(
    {**envelope(ArticleListItemSchema, "ArticleList")._declared_fields, "included": INCLUDED}, name="ArticleList"
)
IssueListSchema = envelope(IssueSummarySchema, "IssueList")
SectionListSchema = envelope(SectionSchema, "SectionList")
TrendListSchema = envelope(TrendSchema, "TrendList")


class FeedLinksSchema(OutputSchema):
    """The feeds of a resource's articles."""

    feed = text(metadata={"description": "Atom feed."})
    feed_json = text(metadata={"description": "JSON Feed."})


def item(schema: type[Schema], name: str, links: type[Schema] | None = None) -> type[Schema]:
    """A single resource: {"data": …}, with `links` where the resource has some."""
    shape = {"data": nested(schema)}
    if links:
        shape["links"] = nested(links)
    return OutputSchema.from_dict(shape, name=name)


class ArticleDetailSchema(ArticleSchema):
    translations = translations_field()
    requested_slug = fields.String(
        metadata={"description": "The slug asked for (an alias slug when it differs from `slug`)."}
    )
    related_url = fields.String(metadata={"description": "Its related articles (the list `include=related` embeds)."})


ArticleItemSchema = OutputSchema.from_dict(
    {**item(ArticleDetailSchema, "ArticleItem")._declared_fields, "included": INCLUDED}, name="ArticleItem"
)


class IssueItemMetaSchema(OutputSchema):
    """How much of the issue the item lists: its summaries are bounded, the rest are behind `links.articles`."""

    articles_listed = integer(metadata={"description": "Article summaries embedded in `data.sections`."})
    article_count = integer(metadata={"description": "All the issue's public articles (in `lang` if given)."})
    truncated = fields.Boolean(required=True, metadata={"description": "true: some articles are not embedded."})
    per_section_max = integer(metadata={"description": "At most this many summaries per section."})
    max = integer(metadata={"description": "At most this many summaries in all."})


class IssueItemLinksSchema(FeedLinksSchema):
    articles = text(metadata={"description": "The issue's articles, all of them, paged."})


IssueItemSchema = OutputSchema.from_dict(
    {"data": nested(IssueSchema), "meta": nested(IssueItemMetaSchema), "links": nested(IssueItemLinksSchema)},
    name="IssueItem",
)
SectionItemSchema = item(SectionSchema, "SectionItem", links=FeedLinksSchema)
TrendItemSchema = item(TrendSchema, "TrendItem")

ROOT_LINKS = ("issues", "latest_issue", "articles", "sections", "trends", "feed_atom", "feed_rss", "feed_json",
              "changes", "openapi", "docs")  # fmt: skip
RootLinksSchema = OutputSchema.from_dict({name: text() for name in ROOT_LINKS}, name="RootLinks")


class RootSchema(OutputSchema):
    name = text()
    version = text()
    links = nested(RootLinksSchema)


class InvalidParamSchema(OutputSchema):
    name = text(metadata={"description": "The query parameter (or header) at fault."})
    reason = text()


class ProblemSchema(OutputSchema):
    """RFC 9457 problem details, the body of every error."""

    type = text()
    title = text()
    status = integer()
    detail = text()
    invalid_params = fields.List(
        Nested(InvalidParamSchema), metadata={"description": "Each bad parameter and why (400 only)."}
    )


class TimelineCountsSchema(OutputSchema):
    worse = integer()
    unchanged = integer()
    better = integer()


class TimelineIssueSchema(OutputSchema):
    """The issue of a timeline cell (a reference without the ISO week)."""

    id = computed(lambda i, c: issue_id(i.start), ISSUE_ID)
    title = computed(
        lambda i, c: week_title(i.start, c.lang)[0],
        {"type": "string", "example": "February 14 – February 20, 2022"},
        description=WEEK_TITLE_DOC,
    )
    url = url_field(lambda i, c: f"{c.base}/v1/issues/{issue_id(i.start)}")
    fallback = fallback_field(lambda i, c: fallback(c.lang, title=week_title(i.start, c.lang)[1]), ("title",))


class TimelineCellSchema(OutputSchema):
    """One (issue, section) point of the trend timeline."""

    issue = nested(TimelineIssueSchema)
    section = nested(SectionRefSchema)
    counts = nested(
        TimelineCountsSchema,
        metadata={
            "description": "Public stories per trend direction: a story (an article and its translations) counts "
            "once, whatever the response language."
        },
    )
    total = integer(metadata={"description": "Public stories, including those without a trend tag."})
    net_index = fields.Float(
        required=True, metadata={"description": "(better − worse) / total, rounded to 3 decimals."}
    )
    direction = text(metadata={"enum": list(DIRECTIONS.values()), "description": "Sign of net_index: " + DIRECTION_DOC})
    articles_url = text(
        metadata={"description": "The articles of this cell, every language version of each story counted."}
    )


class TimelineMetaSchema(OutputSchema):
    issues = fields.List(fields.String(), required=True, metadata={"description": "Issue ids charted, oldest first."})
    sections = fields.List(
        fields.String(), required=True, metadata={"description": "Section slugs charted, in display order."}
    )
    limit = integer(metadata={"description": "Issue weeks per page."})
    total = integer(metadata={"description": "Issue weeks matching the filters, on every page."})
    page = integer(allow_none=True, metadata={"description": "The page number asked for (null: cursor paging)."})
    generation = text()


SelfLinkSchema = OutputSchema.from_dict({"self": text()}, name="SelfLink")


class TimelineSchema(OutputSchema):
    data = fields.List(Nested(TimelineCellSchema), required=True)
    meta = nested(TimelineMetaSchema)
    links = nested(PageLinksSchema)


# --------------------------------------------------------------------------- the change feed


class ChangeUpsertSchema(OutputSchema):
    """An article created or changed (or moved into the feed's filtered view): the whole article as it is now."""

    type = text(metadata={"enum": ["upsert"]})
    at = fields.DateTime(format="iso", required=True, metadata={"description": "When the change became visible."})
    article = nested(ArticleFullSchema)


class TombstoneSchema(OutputSchema):
    id = text(metadata={"description": "The article's API URL, which now answers 404 (or 410)."})
    slug = text()
    section = text(allow_none=True, metadata={"description": "The section it was in (null: none)."})
    lang = text(metadata=LANG)
    removed_at = fields.DateTime(format="iso", required=True)


class ChangeDeleteSchema(OutputSchema):
    """An article removed (retracted, made a draft again, deleted, or moved out of the feed's filtered view)."""

    type = text(metadata={"enum": ["delete"]})
    at = fields.DateTime(format="iso", required=True, metadata={"description": "When the change became visible."})
    tombstone = nested(TombstoneSchema)


class ChangeMetaSchema(OutputSchema):
    has_more = fields.Boolean(required=True, metadata={"description": "More changes follow right away: call `next`."})
    next = text(
        allow_none=True,
        metadata={"description": "The token to send as `since` next time (null: no change visible yet)."},
    )


class ChangeFeedSchema(OutputSchema):
    data = fields.List(
        OneOf({"upsert": ChangeUpsertSchema, "delete": ChangeDeleteSchema}, "type"),
        required=True,
        metadata={"description": "Changes, oldest first."},
    )
    meta = nested(ChangeMetaSchema)
    links = nested(
        OutputSchema.from_dict({"next": text(metadata={"description": "This view's URL with since=meta.next."})},
                         name="ChangeLinks")
    )  # fmt: skip
