"""Query-argument schemas, one per kind of endpoint; unknown parameters are rejected with a 400."""

from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from schemas.fields import CsvList, Date, DateTime, IssueId, StrictInt, Text

LANGUAGES = ("en", "ru", "be")
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
            "description": "Search text (at most 200 characters): articles whose title, lead or body contain every "
            "word, case-insensitively. No operators: quotes, wildcards and the like are matched literally."
        },
    )
    sort = fields.String(validate=validate.OneOf(("newest", "oldest")))
    format = fields.String(validate=validate.OneOf(("html", "text", "blocks")))

    @validates_schema
    def _check(self, data, **kwargs):
        _check_range(data)


def _check_range(data: dict) -> None:
    if data.get("from_") and data.get("to") and data["from_"] > data["to"]:
        raise ValidationError("from must not be after to.", "from")


class TimelineArgs(BaseArgs):
    """The trend timeline: which sections and issue weeks to chart (lang also picks the articles counted)."""

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


class ItemArgs(BaseArgs):
    """Single resources."""


class ArticleItemArgs(BaseArgs):
    format = fields.String(validate=validate.OneOf(("html", "text", "blocks")))
