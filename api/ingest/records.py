"""The validated article record that every archive format is parsed into before it reaches the store."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# Every date of an article lies in these years: far enough from the ends of the calendar (years 1 and 9999) that
# no arithmetic on it (a time-zone shift, the week around it, the Monday after it) can overflow.
MIN_YEAR, MAX_YEAR = 1900, 2999
MAX_POSITION = 10_000  # an article's editorial position in its issue and section

# The week_source of an article whose only stamp is a bulk import's: no week, no known publication time.
BULK_IMPORTED = "bulk-import"


class ArchiveError(Exception):
    """A file of the archive that cannot be loaded: reported as `path:line: reason` (`path: reason` when the
    reason concerns the whole file: line None)."""

    def __init__(self, path: str, line: int | None, reason: str):
        super().__init__(f"{path}:{line}: {reason}" if line is not None else f"{path}: {reason}")
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
    week_source: str | None = None  # "printed" | "timestamp" | "document" | BULK_IMPORTED | None
    timestamp: dt.datetime | None = None  # canonical-view publication stamp, if any
    published_at: dt.datetime | None = None  # aware UTC
    updated_at: dt.datetime | None = None  # aware UTC
    authors: list[str] = field(default_factory=list)
    image: dict | None = None  # the lead image, checked: url, width, height, alt, renditions (api/ingest/media.py)
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


def in_date_range(value: dt.date) -> bool:
    """True for a date or time inside [MIN_YEAR, MAX_YEAR] (aware times: in their own zone and in UTC)."""
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        return False
    if isinstance(value, dt.datetime) and value.tzinfo is not None:  # safe: a day or less from an in-range year
        return MIN_YEAR <= value.astimezone(dt.UTC).year <= MAX_YEAR
    return True


# Characters a feed, an XML document or a terminal cannot carry: C0 controls but tab and newline, DEL, C1 controls,
# and the Unicode non-characters.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ufdd0-\ufdef\ufffe\uffff]")


def control_characters(text: str) -> int:
    return len(_CONTROL.findall(text))


def without_controls(text: str) -> str:
    return _CONTROL.sub("", text)


def is_web_url(url: str) -> bool:
    """An absolute http(s) URL with a host and no whitespace: what a feed may link to (never `javascript:`)."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not re.search(r"\s", url) and len(url) <= 2000


_URL_SAFE = ":/?#[]@!$&'()*+,;=%~"

_DATES = ("timestamp", "published_at", "updated_at", "embargo_until", "fetched_at", "week_start")


def checked(rec: ArticleRecord) -> ArticleRecord:
    """The safety net every parsed record passes, whatever its format: dates and positions in range, slugs that are
    slugs, and no control character in any text it carries (each removed)."""
    for name in _DATES:
        value = getattr(rec, name)
        if value is not None and not in_date_range(value):
            raise ArchiveError(rec.path, rec.line, f"{name} is out of range: {value.isoformat()}")
    if rec.position is not None and not 1 <= rec.position <= MAX_POSITION:
        raise ArchiveError(rec.path, rec.line, f"position must be an integer from 1 to {MAX_POSITION}")
    if rec.canonical_url is not None:
        # White space and non-ASCII in a path are a capturing tool's rendering of the URL: percent-encode them.
        rec.canonical_url = quote(rec.canonical_url, safe=_URL_SAFE)
    if rec.canonical_url is not None and not is_web_url(rec.canonical_url):
        raise ArchiveError(rec.path, rec.line, f"canonical_url must be an http(s) URL: {rec.canonical_url[:80]!r}")
    for slug in (rec.slug, *rec.aliases):
        if not SLUG_RE.match(slug) or len(slug) > 200:
            raise ArchiveError(rec.path, rec.line, f"not a slug: {slug[:80]!r}")
    rec.title, rec.lead = without_controls(rec.title), without_controls(rec.lead)
    rec.authors = [without_controls(a) for a in rec.authors]
    for name in ("image_caption", "image_credit", "body_html", "canonical_url", "translation_key"):
        if (value := getattr(rec, name)) is not None:
            setattr(rec, name, without_controls(str(value)))
    if rec.image is not None:
        rec.image["alt"] = without_controls(rec.image["alt"])
    for block in rec.blocks:
        if "text" in block:
            block["text"] = without_controls(block["text"])
        if "items" in block:
            block["items"] = [without_controls(item) for item in block["items"]]
    return rec
