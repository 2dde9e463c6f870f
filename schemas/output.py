"""Response schemas: how issues, articles, sections and trend tags look on the wire."""

from __future__ import annotations

from marshmallow import Schema, fields, missing
from marshmallow.experimental.context import Context

from schemas.weeks import week_title

_NO_CONTEXT = {"lang": "en", "base": "", "format": None}


def ctx() -> dict:
    """The dump context: {'lang': …, 'base': absolute API root, 'format': body format or None}."""
    return Context.get(default=_NO_CONTEXT)


def localized_with(names: dict) -> tuple[str, str]:
    """(text, language it is in): the response language, else English, else the first one there is."""
    lang = ctx()["lang"]
    for candidate in (lang, "en", *names):
        if names.get(candidate):
            return names[candidate], candidate
    return "", lang


def localized(names: dict) -> str:
    return localized_with(names)[0]


FALLBACK_DOC = (
    "Present only when some of this object's text is not in the response language (Content-Language): "
    "field name → the language it is in instead."
)


def fallback(**texts) -> dict:
    """{field: language} for the fields whose language is not the response language; `missing` when none."""
    lang = ctx()["lang"]
    found = {name: used for name, used in texts.items() if used and used != lang}
    return found or missing


def issue_id(day) -> str:
    return day.isoformat()


class SectionRefSchema(Schema):
    slug = fields.String(required=True)
    name = fields.Function(lambda s: localized(s.names), metadata={"description": "Name in the response language."})
    url = fields.Function(lambda s: f"{ctx()['base']}/v1/sections/{s.slug}")
    fallback = fields.Function(
        lambda s: fallback(name=localized_with(s.names)[1]), metadata={"description": FALLBACK_DOC}
    )


class TrendRefSchema(Schema):
    slug = fields.String(required=True)
    label = fields.Function(lambda t: localized(t.labels), metadata={"description": "Label in the response language."})
    direction = fields.Integer(metadata={"description": "−1 worse, 0 unchanged, +1 better."})
    fallback = fields.Function(
        lambda t: fallback(label=localized_with(t.labels)[1]), metadata={"description": FALLBACK_DOC}
    )


class IssueRefSchema(Schema):
    id = fields.Function(lambda i: issue_id(i.start), metadata={"example": "2022-02-14"})
    iso_week = fields.String(metadata={"example": "2022-W07"})
    title = fields.Function(
        lambda i: week_title(i.start, ctx()["lang"])[0],
        metadata={
            "description": "The week as the edition in the response language prints it: `February 14 – February 20, "
            "2022`, `14 – 20 февраля 2022`, `14 – 20 лютага 2022`.",
            "example": "February 14 – February 20, 2022",
        },
    )
    url = fields.Function(lambda i: f"{ctx()['base']}/v1/issues/{issue_id(i.start)}")
    fallback = fields.Function(
        lambda i: fallback(title=week_title(i.start, ctx()["lang"])[1]), metadata={"description": FALLBACK_DOC}
    )


class ArticleSummarySchema(Schema):
    slug = fields.String(required=True, metadata={"description": "Always present, whatever `fields` asks for."})
    title = fields.String()
    lead = fields.String()
    lang = fields.String(metadata={"example": "en"})
    section = fields.Nested(SectionRefSchema, allow_none=True)
    trend = fields.Nested(TrendRefSchema, allow_none=True)
    issue = fields.Function(
        lambda a: issue_id(a.issue_start) if a.issue_start else None, allow_none=True,
        metadata={"description": "Id of the issue (None for articles whose week could not be recovered)."},
    )  # fmt: skip
    position = fields.Integer()
    published_at = fields.DateTime(format="iso")
    updated_at = fields.DateTime(format="iso")
    truncated = fields.Boolean(metadata={"description": "The archived capture was cut off."})
    url = fields.Function(lambda a: f"{ctx()['base']}/v1/articles/{a.slug}")
    fallback = fields.Function(
        lambda a: fallback(title=a.lang, lead=a.lang),
        metadata={"description": FALLBACK_DOC + " An article is in one language: its `lang`; see `translations`."},
    )
    snippet = fields.String(
        metadata={
            "description": "Search hits only (with q): an excerpt around the matches, HTML-escaped, the matched "
            "words in <mark>…</mark>."
        }
    )


def _body(article) -> dict:
    """The body in the requested `format` (HTML by default), keyed by that format: {"html": "<p>…"}."""
    fmt = ctx().get("format") or "html"
    body = {"html": article.body_html, "text": article.body_text, "blocks": article.blocks}
    return {fmt: body[fmt]}


BODY_DOC = (
    "The body in the `format` asked for, as {format: value}: `html` (default; sanitised HTML), `text` (plain text, "
    "paragraphs separated by blank lines) or `blocks` (structured paragraphs and lists for native rendering)."
)


class ArticleListItemSchema(ArticleSummarySchema):
    """An article of a list; `body` only when asked for (`format=…` or `fields=…,body`), to keep pages light."""

    body = fields.Function(_body, metadata={"description": "Only with `format` or `fields=…,body`. " + BODY_DOC})


class ArticleSchema(ArticleSummarySchema):
    class Meta:
        exclude = ("snippet",)

    fallback = fields.Function(
        lambda a: fallback(title=a.lang, lead=a.lang, body=a.lang),
        metadata={"description": FALLBACK_DOC + " An article is in one language: its `lang`; see `translations`."},
    )

    body = fields.Function(_body, metadata={"description": BODY_DOC})
    authors = fields.List(fields.String())
    image = fields.Function(
        lambda a: {"caption": a.image_caption, "credit": a.image_credit} if a.image_caption or a.image_credit else None,
        allow_none=True,
    )
    canonical_url = fields.String(allow_none=True)
    aliases = fields.Function(lambda a: sorted(al.slug for al in a.aliases))
    translation_key = fields.String(allow_none=True)


class SectionSchema(SectionRefSchema):
    names = fields.Dict(keys=fields.String(), values=fields.String())
    position = fields.Integer()
    article_count = fields.Integer(metadata={"description": "Public articles in this section."})
    articles_url = fields.Function(lambda s: f"{ctx()['base']}/v1/sections/{s.slug}/articles")
    latest_trend = fields.Nested(
        "LatestTrendSchema", allow_none=True,
        metadata={"description": "Direction of the section in the latest issue it appears in (null: no public article)."},
    )  # fmt: skip
    streak = fields.Integer(
        metadata={
            "description": "How many of the section's most recent issues kept that direction (0: no public article)."
        }
    )


class LatestTrendSchema(Schema):
    issue = fields.String(metadata={"example": "2022-02-28"})
    direction = fields.String(metadata={"description": "worse, unchanged or better: the sign of net_index."})
    net_index = fields.Float(
        metadata={"description": "(better − worse) / total of that issue's stories in the section."}
    )


class TrendSchema(TrendRefSchema):
    labels = fields.Dict(keys=fields.String(), values=fields.String())
    article_count = fields.Integer(metadata={"description": "Public articles with this trend."})
    articles_url = fields.Function(lambda t: f"{ctx()['base']}/v1/trends/{t.slug}/articles")


class IssueSummarySchema(IssueRefSchema):
    start = fields.Date()
    end = fields.Date()
    languages = fields.List(fields.String())
    article_count = fields.Integer()


class IssueSectionSchema(Schema):
    section = fields.Nested(SectionRefSchema, allow_none=True)
    articles = fields.List(fields.Nested(ArticleSummarySchema))


class IssueSchema(IssueSummarySchema):
    sections = fields.List(
        fields.Nested(IssueSectionSchema), metadata={"description": "Articles grouped by section, in editorial order."}
    )
    previous = fields.Nested(IssueRefSchema, allow_none=True)
    next = fields.Nested(IssueRefSchema, allow_none=True)


class PageMetaSchema(Schema):
    limit = fields.Integer()
    total = fields.Integer()
    page = fields.Integer(allow_none=True)
    generation = fields.String()


class PageLinksSchema(Schema):
    self = fields.String()
    first = fields.String()
    next = fields.String(allow_none=True)
    prev = fields.String(allow_none=True)


def envelope(item_schema: type[Schema], name: str) -> type[Schema]:
    """A paginated collection of `item_schema`: data / meta / links."""
    return Schema.from_dict(
        {
            "data": fields.List(fields.Nested(item_schema)),
            "meta": fields.Nested(PageMetaSchema),
            "links": fields.Nested(PageLinksSchema),
        },
        name=name,
    )


class IncludedSchema(Schema):
    """`include=section,trend,issue`: the full objects the page's articles refer to, once each."""

    section = fields.List(fields.Nested(SectionSchema))
    trend = fields.List(fields.Nested(TrendSchema))
    issue = fields.List(fields.Nested(IssueSummarySchema))


INCLUDED = fields.Nested(IncludedSchema, metadata={"description": "Only with `include`."})
ArticleListSchema = Schema.from_dict(
    {**envelope(ArticleListItemSchema, "ArticleList")._declared_fields, "included": INCLUDED}, name="ArticleList"
)
IssueListSchema = envelope(IssueSummarySchema, "IssueList")
SectionListSchema = envelope(SectionSchema, "SectionList")
TrendListSchema = envelope(TrendSchema, "TrendList")


def item(schema: type[Schema], name: str, links: str | None = None) -> type[Schema]:
    """A single resource: {"data": …}, with `links` (name → URL) where the resource has some."""
    shape = {"data": fields.Nested(schema)}
    if links:
        shape["links"] = fields.Dict(keys=fields.String(), values=fields.String(), metadata={"description": links})
    return Schema.from_dict(shape, name=name)


class TranslationSchema(Schema):
    slug = fields.String()
    title = fields.String()
    url = fields.String()


class ArticleDetailSchema(ArticleSchema):
    translations = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(TranslationSchema),
        metadata={"description": "Language → the same article in that language."},
    )
    requested_slug = fields.String(
        metadata={"description": "The slug asked for (an alias slug when it differs from `slug`)."}
    )


ArticleItemSchema = Schema.from_dict(
    {**item(ArticleDetailSchema, "ArticleItem")._declared_fields, "included": INCLUDED}, name="ArticleItem"
)
FEED_LINKS = "`feed` (Atom) and `feed_json` (JSON Feed) of this resource's articles."
IssueItemSchema = item(IssueSchema, "IssueItem", links=FEED_LINKS)
SectionItemSchema = item(SectionSchema, "SectionItem", links=FEED_LINKS)
TrendItemSchema = item(TrendSchema, "TrendItem")


class RootSchema(Schema):
    name = fields.String()
    version = fields.String()
    links = fields.Dict(keys=fields.String(), values=fields.String())


class ProblemSchema(Schema):
    """RFC 9457 problem details, the body of every error."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    invalid_params = fields.List(fields.Dict(), metadata={"description": "[{name, reason}] for each bad parameter."})


class TimelineCountsSchema(Schema):
    worse = fields.Integer()
    unchanged = fields.Integer()
    better = fields.Integer()


class TimelineIssueSchema(Schema):
    """The issue of a timeline cell (a reference without the ISO week)."""

    id = fields.Function(lambda i: issue_id(i.start), metadata={"example": "2022-02-14"})
    title = fields.Function(
        lambda i: week_title(i.start, ctx()["lang"])[0],
        metadata={
            "description": "The week as the edition in the response language prints it: `February 14 – February 20, "
            "2022`, `14 – 20 февраля 2022`, `14 – 20 лютага 2022`.",
            "example": "February 14 – February 20, 2022",
        },
    )
    url = fields.Function(lambda i: f"{ctx()['base']}/v1/issues/{issue_id(i.start)}")
    fallback = fields.Function(
        lambda i: fallback(title=week_title(i.start, ctx()["lang"])[1]), metadata={"description": FALLBACK_DOC}
    )


class TimelineCellSchema(Schema):
    """One (issue, section) point of the trend timeline."""

    issue = fields.Nested(TimelineIssueSchema)
    section = fields.Nested(SectionRefSchema)
    counts = fields.Nested(
        TimelineCountsSchema,
        metadata={
            "description": "Public stories per trend direction: a story (an article and its translations) counts "
            "once, whatever the response language."
        },
    )
    total = fields.Integer(metadata={"description": "Public stories, including those without a trend tag."})
    net_index = fields.Float(metadata={"description": "(better − worse) / total, rounded to 3 decimals."})
    direction = fields.String(metadata={"description": "Sign of net_index: worse, unchanged or better."})
    articles_url = fields.String(
        metadata={"description": "The articles of this cell, every language version of each story counted."}
    )


class TimelineMetaSchema(Schema):
    issues = fields.List(fields.String(), metadata={"description": "Issue ids charted, oldest first."})
    sections = fields.List(fields.String(), metadata={"description": "Section slugs charted, in display order."})
    generation = fields.String()


class TimelineSchema(Schema):
    data = fields.List(fields.Nested(TimelineCellSchema))
    meta = fields.Nested(TimelineMetaSchema)
    links = fields.Dict(keys=fields.String(), values=fields.String())
