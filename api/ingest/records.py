"""The validated article record that every archive format is parsed into before it reaches the store."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


class ArchiveError(Exception):
    """A file of the archive that cannot be loaded: reported as `path:line: reason`."""

    def __init__(self, path: str, line: int, reason: str):
        super().__init__(f"{path}:{line}: {reason}")
        self.path, self.line, self.reason = path, line, reason


@dataclass(frozen=True)
class Skip:
    """A file that is not an article (a listing, the home page, an event...): skipped with a reason."""

    path: str
    reason: str


@dataclass
class ArticleRecord:
    """One article as parsed from a capture or an editorial document, before deduplication."""

    path: str
    line: int  # line of the title in the source file
    source: str  # "capture" | "document"
    slug: str
    title: str
    lead: str
    # Structured body: {"type": "paragraph", "text": ...} or {"type": "list", "ordered": bool, "items": [...]}
    blocks: list[dict] = field(default_factory=list)
    lang: str = "en"
    translation_key: str | None = None
    section: str | None = None  # section family slug (already mapped through the vocabulary)
    trend: str | None = None  # trend slug (already mapped through the vocabulary)
    week_start: dt.date | None = None  # Monday of the issue week
    week_source: str | None = None  # "printed" | "timestamp" | "document" | None
    timestamp: dt.datetime | None = None  # canonical-view publication stamp, if any
    published_at: dt.datetime | None = None  # aware UTC
    updated_at: dt.datetime | None = None  # aware UTC
    authors: list[str] = field(default_factory=list)
    image_caption: str | None = None
    image_credit: str | None = None
    status: str = "published"  # "published" | "draft" | "retracted"
    embargo_until: dt.datetime | None = None  # aware UTC
    position: int | None = None  # editorial order inside the issue, if given
    canonical_url: str | None = None
    urls: list[str] = field(default_factory=list)  # every URL this article was captured under
    aliases: list[str] = field(default_factory=list)  # other slugs that resolve to this article
    truncated: bool = False
    sample: bool = False
    fetched_at: dt.datetime | None = None
    body_html: str | None = None  # sanitised HTML when the source has richer markup than blocks
