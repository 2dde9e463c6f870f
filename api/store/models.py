"""SQLAlchemy 2.0 models of the store: issues, sections, trend tags, articles, aliases, related articles,
media and the change log."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in Python, naive UTC in the database: one behaviour on SQLite and PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=dt.UTC)


# Stored as published_at (and updated_at) when nothing in the archive says when an article was published (a
# body-only capture, a bulk-import stamp): it sorts before every real time (last when newest come first) and the API
# serves it as null.
UNKNOWN_TIME = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class Base(DeclarativeBase):
    pass


class StoreMeta(Base):
    """Key/value facts about one generation of the store (its id, when it was built, from what)."""

    __tablename__ = "store_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Issue(Base):
    """One weekly issue, identified by the Monday that starts its week."""

    __tablename__ = "issue"
    start: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    end: Mapped[dt.date] = mapped_column(Date)
    iso_week: Mapped[str] = mapped_column(String(8), unique=True)
    title: Mapped[str] = mapped_column(String(80))


class Section(Base):
    """A section family (old and new site slugs mapped onto one)."""

    __tablename__ = "section"
    slug: Mapped[str] = mapped_column(String(80), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    names: Mapped[dict] = mapped_column(JSON)


class Trend(Base):
    """A trend tag of the vocabulary: worse / unchanged / better."""

    __tablename__ = "trend"
    slug: Mapped[str] = mapped_column(String(40), primary_key=True)
    direction: Mapped[int] = mapped_column(Integer)
    labels: Mapped[dict] = mapped_column(JSON)


VISIBILITY = ("status", "embargo_until")  # the columns of queries.is_public() (copied by search.COPIED too)


class Article(Base):
    """An article of an issue; only rows passing queries.public() are ever served."""

    __tablename__ = "article"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    title: Mapped[str] = mapped_column(Text)
    lead: Mapped[str] = mapped_column(Text)
    lang: Mapped[str] = mapped_column(String(8))
    translation_key: Mapped[str | None] = mapped_column(String(200), index=True)
    section_slug: Mapped[str | None] = mapped_column(ForeignKey("section.slug"))
    trend_slug: Mapped[str | None] = mapped_column(ForeignKey("trend.slug"))
    issue_start: Mapped[dt.date | None] = mapped_column(ForeignKey("issue.start"))
    position: Mapped[int] = mapped_column(Integer)
    authors: Mapped[list] = mapped_column(JSON)
    image_caption: Mapped[str | None] = mapped_column(Text)
    image_credit: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    embargo_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    canonical_url: Mapped[str | None] = mapped_column(Text)
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    word_count: Mapped[int] = mapped_column(Integer, default=0)
    sample: Mapped[bool] = mapped_column(Boolean, default=False)
    source_path: Mapped[str] = mapped_column(Text)
    # The lead image when the archive holds its file: url, width, height, alt, renditions (api/ingest/media.py).
    image: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
    content_hash: Mapped[str] = mapped_column(String(64))
    # The bodies come last: SQLite stores a row's columns in order and spills long values to overflow pages, so a
    # filter or count that reads the columns above (status, embargo, dates) never has to walk the bodies.
    body_html: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    blocks: Mapped[list] = mapped_column(JSON)

    section: Mapped[Section | None] = relationship(lazy="joined", innerjoin=False)
    trend: Mapped[Trend | None] = relationship(lazy="joined", innerjoin=False)
    aliases: Mapped[list[Alias]] = relationship(back_populates="article", lazy="selectin")

    __table_args__ = (
        # One index per list order the API offers; the slug is the unique tie-breaker of each. Each also carries
        # the visibility columns, so the public rule and counts are answered from the index, never from the rows.
        Index("ix_article_newest", "published_at", "slug", *VISIBILITY),
        Index("ix_article_section_newest", "section_slug", "published_at", "slug", *VISIBILITY),
        Index("ix_article_trend_newest", "trend_slug", "published_at", "slug", *VISIBILITY),
        # lang last: an issue's per-language counts (queries.annotate_issues) are read from the index alone.
        Index("ix_article_issue_order", "issue_start", "section_slug", "position", "slug", *VISIBILITY, "lang"),
        Index("ix_article_lang_newest", "lang", "published_at", "slug", *VISIBILITY),
        Index("ix_article_updated", "updated_at", "slug", *VISIBILITY),
    )


class ArticleCount(Base):
    """How many articles of one combination (an ArticleTotal: section, trend tag, language, status and embargo end)
    one issue week holds (`n`), and how many the combination holds up to and including that week (`running`),
    written by the loader with each generation (api/store/counts.py). A total over a range of weeks is two lookups
    per combination, whatever the number of weeks; a total over listed weeks one per combination and week."""

    __tablename__ = "article_count"
    combo: Mapped[int] = mapped_column(Integer, primary_key=True)
    issue_start: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
    running: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        # Every lookup of a total: a combination's week (its count) or its last week before a day (its running
        # count), answered from the index alone.
        Index("ix_article_count_running", "combo", "issue_start", "running", "n"),
    )


class ArticleTotal(Base):
    """How many articles share one combination of section, trend tag, language and the visibility columns over the
    whole archive (`n`) and in its issue weeks (`dated`: those with a week), written by the loader with each
    generation (api/store/counts.py): a row per combination, so a total without a date filter, or a section's or
    trend tag's count, sums a number of rows that does not grow with the archive, and the visibility rule
    (queries.is_public over these columns) answers it at any clock time."""

    __tablename__ = "article_total"
    combo: Mapped[int] = mapped_column(Integer, primary_key=True)
    section_slug: Mapped[str | None] = mapped_column(String(80))
    trend_slug: Mapped[str | None] = mapped_column(String(40))
    lang: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    embargo_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    n: Mapped[int] = mapped_column(Integer)
    dated: Mapped[int] = mapped_column(Integer)


class Alias(Base):
    """Another slug or URL under which an article was captured; resolves to the article."""

    __tablename__ = "alias"
    slug: Mapped[str] = mapped_column(String(200), primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("article.id"), index=True)
    url: Mapped[str | None] = mapped_column(Text)
    article: Mapped[Article] = relationship(back_populates="aliases")


#: How many related articles an article lists (the loader keeps at least this many public at load time).
RELATED_MAX = 5


class Related(Base):
    """An article's related articles, ranked at load time (api/ingest/related.py); read through the visibility rule."""

    __tablename__ = "related"
    article_id: Mapped[int] = mapped_column(ForeignKey("article.id"), primary_key=True)
    rank: Mapped[int] = mapped_column(Integer, primary_key=True)
    related_id: Mapped[int] = mapped_column(ForeignKey("article.id"))


class ArticleUrl(Base):
    """Every URL the archive captured an article under, its merged duplicates' included (record, not routing)."""

    __tablename__ = "article_url"
    url: Mapped[str] = mapped_column(Text, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("article.id"), index=True)


class MediaFile(Base):
    """One rendition of an image of the archive, served at /media/<hash>-<width>.<ext> (api/ingest/media.py)."""

    __tablename__ = "media_file"
    hash: Mapped[str] = mapped_column(String(20), primary_key=True)
    width: Mapped[int] = mapped_column(Integer, primary_key=True)
    ext: Mapped[str] = mapped_column(String(8), primary_key=True)
    height: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(32))
    etag: Mapped[str] = mapped_column(String(40))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class MediaUse(Base):
    """An image an article shows (lead or inline): a rendition is served only while one of its articles is public."""

    __tablename__ = "media_use"
    hash: Mapped[str] = mapped_column(String(20), primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("article.id"), primary_key=True)


class Change(Base):
    """One entry of the change log carried across generations: an article created, updated or removed."""

    __tablename__ = "change"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "upsert" | "delete"
    # The load that recorded it (its clock when it started): a token of an older generation finds by it the changes
    # of the loads since (api/resources/changes.py).
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    # When the change becomes visible: the load time, or the embargo end if later.
    visible_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    section_slug: Mapped[str | None] = mapped_column(String(80))
    lang: Mapped[str | None] = mapped_column(String(8))
    content_hash: Mapped[str | None] = mapped_column(String(64))
    # An update that moved the article out of a section or language records where it was, so a client syncing
    # only that section or language gets a tombstone for it.
    previous_section_slug: Mapped[str | None] = mapped_column(String(80))
    previous_lang: Mapped[str | None] = mapped_column(String(8))
