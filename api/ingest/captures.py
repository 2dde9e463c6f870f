"""Parser of legacy page captures: plain-text renderings of the bulletin's two public sites.

A capture is read in three steps. The URL (host and path) and then the text say whether the page is an article at
all. The sites' furniture (data/site.yaml: chrome lines, sidebar headings, breadcrumbs, the "similar articles"
tail) is set aside. The head (author line, week, section, title, trend, stamp, caption) is then read by scoring
the candidate title line against strong anchors (the title printed again, the markers that follow a title, the
URL's slug, the length and shape of a title) instead of one rule per layout: the same reading takes the issue
view, the canonical view, the body-only capture, a capture that begins at its stamp or at its lead, and the title
printed again after the lead. Captions, stamps and dates are recognised by the forms listed in the furniture.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

from api.ingest.records import ArchiveError, ArticleRecord, Skip
from api.ingest.text import detect_language, slugify
from api.ingest.vocabulary import BulkImportRule, SiteFurniture, Vocabulary

Line = tuple[int, str]  # (1-based line number in the file, text without outer whitespace)

# Month names as printed: English (full or abbreviated), Russian and Belarusian genitive.
_MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    (
        ("january", "января", "студзеня"), ("february", "февраля", "лютага"), ("march", "марта", "сакавіка"),
        ("april", "апреля", "красавіка"), ("may", "мая", "мая"), ("june", "июня", "чэрвеня"),
        ("july", "июля", "ліпеня"), ("august", "августа", "жніўня"), ("september", "сентября", "верасня"),
        ("october", "октября", "кастрычніка"), ("november", "ноября", "лістапада"), ("december", "декабря", "снежня"),
    ),
    start=1,
):  # fmt: skip
    for _name in _names:
        _MONTHS[_name] = _number
    _MONTHS[_names[0][:3]] = _number
_MONTHS["sept"] = 9

_DASH = r"\s*[–—-]\s*"  # the site prints an EN DASH with spaces; hand-made pages use a hyphen
_WORD = r"[^\W\d_]+"
# "February 14 – February 20, 2022", "July 31 – August 6, 2023", "December 29, 2025 – January 4, 2026".
_WEEK_MONTH_FIRST = re.compile(
    rf"^(?P<m1>{_WORD})\.?\s+(?P<d1>\d{{1,2}})(?:,?\s+(?P<y1>\d{{4}}))?{_DASH}"
    rf"(?:(?P<m2>{_WORD})\.?\s+)?(?P<d2>\d{{1,2}})(?:,?\s+(?P<y2>\d{{4}}))?$"
)
# "14 февраля – 20 февраля 2022", "14 – 20 февраля 2022", "29 декабря 2025 – 4 января 2026 г."
_WEEK_DAY_FIRST = re.compile(
    rf"^(?P<d1>\d{{1,2}})(?:\s+(?P<m1>{_WORD}))?(?:\s+(?P<y1>\d{{4}}))?{_DASH}"
    rf"(?P<d2>\d{{1,2}})\s+(?P<m2>{_WORD})(?:\s+(?P<y2>\d{{4}}))?(?:\s*(?:г\.?|года))?$"
)
# Canonical-view publication stamp: "March 20, 2017 9:55" (day may be zero-padded, hour is not).
_STAMP = re.compile(
    rf"^(?:(?P<m1>{_WORD})\s+(?P<d1>\d{{1,2}}),?|(?P<d2>\d{{1,2}})\s+(?P<m2>{_WORD}))\s+(?P<y>\d{{4}}),?\s+"
    r"(?P<hh>\d{1,2}):(?P<mm>\d{2})$"
)
_BULLET = re.compile(r"^[•·▪]\s*")
_DASH_ITEM = re.compile(r"^[–—]\s+")
_NUMBERED = re.compile(r"^\d{1,2}\)\s+")
_HEADER = re.compile(r"^(?P<key>URL|Fetched):\s*(?P<value>.*)$", re.IGNORECASE)
# A paragraph is complete when it ends like a sentence; anything else at the very end was cut off.
_TERMINAL = (".", "!", "?", "…", "»", "”", '"', ")")
# A verdict printed as "- (The situation has improved)" under "Category status:" on the older site.
_VERDICT_DRESS = re.compile(r"^[-–—•]?\s*[(\[]?\s*(?P<phrase>.*?)\s*[)\]]?$")
_SENTENCE_BREAK = re.compile(r"[.!?…][”»\"')]?\s+[A-ZА-ЯЁІЎ0-9“«\"]")

# Text evidence of pages that are not articles.
_EVENT_FIELD = re.compile(
    r"^(?:date|time|date and time|venue|place|location|where|when|registration|register|"
    r"дата|время|место|регистрация|час|месца|рэгістрацыя)\s*:",
    re.IGNORECASE,
)
# A page that says it is a sister project (strong), and the "Our projects" block that home pages carry too (weak).
_SISTER_SAYS = re.compile(r"^(?:an? )?(?:sister|partner) project\b|\bis an? (?:sister|partner) project of\b", re.I)
_SISTER_BLOCK = re.compile(r"^(?:our|other) projects$|^(?:наши|другие) проекты$|^(?:нашы|іншыя) праекты$", re.I)
# URL path segments that structure a site, not name a section (issue views, numbered nodes).
_STRUCTURE_SEGMENTS = frozenset({"issue", "issues", "article", "articles", "news", "node", "content", "analytics"})

# Title scoring (see _title_score): a first text line is the title unless the evidence says otherwise.
_TITLE_MAX = 200  # longer lines read as a lead
_SLUG_MIN_WORDS = 3  # shorter URL slugs ("untitled", "x") say nothing about the title


@dataclass
class _Head:
    """What the lines above the lead say about the article."""

    title: str = ""
    title_line: int = 0
    authors: list[str] = field(default_factory=list)
    week_start: dt.date | None = None
    week_source: str | None = None
    section: str | None = None
    trend: str | None = None
    timestamp: dt.datetime | None = None
    caption: str | None = None
    credit: str | None = None


# ---------------------------------------------------------------- dates


def _month(name: str | None) -> int | None:
    return _MONTHS.get(name.casefold().rstrip(".")) if name else None


def _week_parts(text: str) -> tuple[int, int, int | None, int, int, int | None] | None:
    """(day1, month1, year1, day2, month2, year2) of a printed week range, or None if the line is none."""
    match = _WEEK_MONTH_FIRST.match(text) or _WEEK_DAY_FIRST.match(text)
    if not match:
        return None
    g = match.groupdict()
    m1, m2 = _month(g["m1"] or g["m2"]), _month(g["m2"] or g["m1"])
    if m1 is None or m2 is None:
        return None
    y1, y2 = (int(y) if y else None for y in (g["y1"], g["y2"]))
    return int(g["d1"]), m1, y1, int(g["d2"]), m2, y2


def _is_dated_week(text: str) -> bool:
    """True for a line printed as a week with a year, valid or not."""
    parts = _week_parts(text)
    return parts is not None and not (parts[2] is None and parts[5] is None)


def is_yearless_week(text: str) -> bool:
    """True for a week range printed without a year (`March 13 – March 19`): sidebar and listing chrome."""
    parts = _week_parts(text)
    return parts is not None and parts[2] is None and parts[5] is None


def parse_week(text: str) -> tuple[dt.date, dt.date] | None:
    """(Monday, last day) of a printed issue week with a year; None if the line is not one.

    Raises ValueError for a week-shaped line that names an impossible date or does not start on a Monday.
    """
    parts = _week_parts(text)
    if parts is None or (parts[2] is None and parts[5] is None):
        return None
    d1, m1, y1, d2, m2, y2 = parts
    crosses_year = (m1, d1) > (m2, d2)  # "December 29 – January 4, 2026": the year printed once is the end's
    if y1 is None:
        y1 = y2 - 1 if crosses_year else y2
    if y2 is None:
        y2 = y1 + 1 if crosses_year else y1
    try:
        start, end = dt.date(y1, m1, d1), dt.date(y2, m2, d2)
    except ValueError:
        raise ValueError(f"impossible date in week '{text}'") from None
    if start.weekday() != 0:
        raise ValueError(f"week '{text}' starts on a {start:%A}, not on a Monday")
    if end <= start:
        raise ValueError(f"week '{text}' ends before it starts")
    return start, end


def parse_stamp(text: str) -> dt.datetime | None:
    """The aware-UTC datetime of a canonical-view stamp (`March 20, 2017 9:55`), or None if the line is none."""
    match = _STAMP.match(text)
    if not match:
        return None
    month = _month(match["m1"] or match["m2"])
    if month is None:
        return None
    try:
        return dt.datetime(
            int(match["y"]), month, int(match["d1"] or match["d2"]), int(match["hh"]), int(match["mm"]), tzinfo=dt.UTC
        )
    except ValueError:
        return None


def week_from_timestamp(stamp: dt.datetime) -> dt.date:
    """Issue week inferred from a publication stamp.

    Issues went out on the Monday after their week, so a Monday stamp belongs to the week before;
    any other day is taken to fall inside its own week.
    """
    day = stamp.date()
    return day - dt.timedelta(days=7) if day.weekday() == 0 else day - dt.timedelta(days=day.weekday())


def _busiest(stamps: list[dt.datetime], window: dt.timedelta) -> int:
    """The most stamps that fall inside one window of the given length (stamps sorted)."""
    best, j = 0, 0
    for i in range(len(stamps)):
        while j < len(stamps) and stamps[j] - stamps[i] <= window:
            j += 1
        best = max(best, j - i)
    return best


def bulk_import_stamps(stamps: Iterable[dt.datetime], rule: BulkImportRule | None = None) -> list[str]:
    """The minute marks ('YYYY-MM-DD HH:MM') of stamps that belong to a bulk import, not to a publication.

    One stamp per article. A bulk import stamped hundreds of old articles within a couple of hours: a window of
    `rule.window_minutes` holding more stamps than one issue ever publishes (`issue_capacity`) and `density_factor`
    times the stamps of a typical week's busiest window of the same length. The typical week is the median week,
    so the import's own week does not raise the bar, and a sample of the archive (a few captures per week) is
    judged on its own density like the whole archive is.
    """
    rule = rule or BulkImportRule()
    ordered = sorted(stamps)
    if not ordered:
        return []
    window = dt.timedelta(minutes=rule.window_minutes)
    weeks: dict[tuple[int, int], list[dt.datetime]] = defaultdict(list)
    for stamp in ordered:
        weeks[stamp.isocalendar()[:2]].append(stamp)
    typical = statistics.median_low(_busiest(week, window) for week in weeks.values())
    flagged: set[dt.datetime] = set()
    j = 0
    for i in range(len(ordered)):
        while j + 1 < len(ordered) and ordered[j + 1] - ordered[i] <= window:
            j += 1
        count = j - i + 1
        if count > rule.issue_capacity and count >= rule.density_factor * typical:
            flagged.update(ordered[i : j + 1])
    return sorted({stamp.strftime("%Y-%m-%d %H:%M") for stamp in flagged})


def publication_time(rec: ArticleRecord, *, bulk: bool = False) -> dt.datetime | None:
    """When the article was published, if anything says so; None when nothing does.

    A document's own time; a canonical view's stamp, unless the stamp is a bulk import's; the Monday after the
    printed (or inferred) issue week, when the bulletin went out. Never the capture's `Fetched:` time: that is when
    the page was copied, not when it was published.
    """
    if rec.published_at:
        return rec.published_at
    if rec.timestamp and not bulk:
        return rec.timestamp
    if rec.week_start and not (bulk and rec.week_source == "timestamp"):  # the bulletin goes out the Monday after
        return dt.datetime.combine(rec.week_start + dt.timedelta(days=7), dt.time(9), dt.UTC)
    return None


# ---------------------------------------------------------------- lines, header, chrome


def _numbered_lines(text: str) -> list[Line]:
    # split("\n") rather than splitlines(): line numbers must match what an editor shows.
    return [(n, raw.strip()) for n, raw in enumerate(text.lstrip("\ufeff").split("\n"), start=1)]


def _split_header(path: str, lines: list[Line]) -> tuple[str | None, dt.datetime | None, list[Line]]:
    """The optional `URL:` / `Fetched:` lines (and the blank line after them), then the rest."""
    url = fetched = None
    i = 0
    while i < len(lines) and (match := _HEADER.match(lines[i][1])):
        if match["key"].casefold() == "url":
            url = match["value"].strip() or None
        else:
            fetched = _fetched(path, lines[i][0], match["value"].strip())
        i += 1
    return url, fetched, lines[i:]


def _fetched(path: str, line: int, value: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ArchiveError(path, line, f"Fetched is not an ISO timestamp: '{value}'") from None
    # A capture tool that wrote no offset ran in UTC.
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)


def _strip_chrome(lines: list[Line], site: SiteFurniture) -> tuple[list[Line], bool]:
    """The lines without site chrome (blank lines kept, for the layout), and whether chrome ends the page."""
    kept: list[Line] = []
    chrome_at_end = False
    last = max((i for i, (_, text) in enumerate(lines) if text), default=-1)
    for i, (n, text) in enumerate(lines):
        kind = site.chrome(text) if text else None
        if kind == "tail":
            return kept, True
        if text and (kind == "line" or is_yearless_week(text) or (i == last and site.is_cut_chrome(text))):
            chrome_at_end = True
            continue
        if text:
            chrome_at_end = False
        kept.append((n, text))
    return kept, chrome_at_end


# ---------------------------------------------------------------- pages that are not articles


@functools.lru_cache(maxsize=256)
def _url_parts(url: str | None) -> tuple[str, tuple[str, ...], frozenset[str]]:
    """(host, path segments, query keys) of a URL, all case-folded."""
    if not url:
        return "", (), frozenset()
    parts = urlsplit(url)
    segments = tuple(unquote(s).casefold() for s in parts.path.split("/") if s)
    return (parts.hostname or "").casefold(), segments, frozenset(k.casefold() for k in parse_qs(parts.query, True))


def _url_reason(url: str, vocab: Vocabulary) -> str | None:
    """Why the path of a URL shows a page is no article."""
    site = vocab.site
    _, segments, query = _url_parts(url)
    content = [s for s in segments if s not in site.language_segments]
    if not content:
        return "home page"
    if site.event_paths.intersection(content):
        return "event announcement"
    if site.static_paths.intersection(content):
        return "static page"
    numbered_page = any(a == "page" and b.isdigit() for a, b in zip(content, content[1:], strict=False))
    if site.listing_paths.intersection(content) or site.listing_queries & query or numbered_page:
        return "section listing page"
    if len(content) == 1 and vocab.section(content[0]):
        return "section listing page"
    return None


def _non_article_reason(lines: list[Line], url: str | None, vocab: Vocabulary) -> str | None:
    """Why a capture is not an article, or None if it looks like one: the URL first, then the text.

    A page saying it is a sister project is one whatever its path; the "Our projects" block only counts after
    the home page and listings, which carry it too.
    """
    texts = [text for _, text in lines if text]
    if vocab.site.is_sister_host(_url_parts(url)[0]) or any(len(t) <= 150 and _SISTER_SAYS.search(t) for t in texts):
        return "sister project page"
    if url and (reason := _url_reason(url, vocab)):
        return reason
    if sum(bool(_EVENT_FIELD.match(t)) for t in texts) >= 2:
        return "event announcement"
    # The sidebar shows one year-less week right after "Situation in Belarus"; a listing shows many.
    listed_weeks = sum(
        is_yearless_week(t) and (i == 0 or texts[i - 1].casefold() != "situation in belarus")
        for i, t in enumerate(texts)
    )
    teasers = sum(t.endswith(("...", "…")) for t in texts)
    if teasers >= 3 or listed_weeks >= 2:
        # Both list many articles: the home page without a URL, a listing by its weeks. (A home page also
        # names the sister projects, so this comes before the sister-project markers.)
        return "home page" if url is None and listed_weeks < 2 else "section listing page"
    if any(_SISTER_BLOCK.search(t) for t in texts):
        return "sister project page"
    return None


# ---------------------------------------------------------------- reading the head


def _same_text(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def _caption(text: str, site: SiteFurniture, *, described: bool = False) -> tuple[str, str] | None:
    """(caption, credit) of an image caption line, or None.

    `<label>: <credit>` and `<label> from <credit>` anywhere; with `described`, also a description followed by its
    credit on the same line (`<description> / Фото …`, `<description>. Фота: <site>`), which only the head has.
    """
    if len(text) > site.caption_max_length:
        return None
    match = site.caption_plain.match(text)
    if match and (match["credit"] or len(match["source"].split()) <= 8):
        return text, (match["credit"] or match["source"]).strip()
    if described and not text.endswith((".", "!", "?")):
        match = site.caption_described.match(text)
        if match and len(match["credit"].split()) <= 8:
            return text, match["credit"].strip()
    return None


def _author(text: str, site: SiteFurniture) -> str | None:
    """The names on an author line (`by`, `by <name>`, `By <name>`, `Автор: <name>`); None for other lines."""
    folded = text.casefold()
    for label in site.author_labels:
        if folded == label:
            return ""
        if folded.startswith(label) and not folded[len(label)].isalnum():
            name = text[len(label) :].lstrip(" :").strip()
            if name and len(name) <= 60 and len(name.split()) <= 6 and not name.endswith((".", "!", "?", ",")):
                return name
    return None


def _trend_phrase(text: str) -> str:
    """The verdict inside its dress: `- (The situation has improved)` → `The situation has improved`."""
    match = _VERDICT_DRESS.match(text)
    return match["phrase"] if match else text


def _marker(text: str, vocab: Vocabulary, *, under_week: bool) -> str | None:
    """What kind of head marker a line is (trend, category, stamp, caption, author, week), or None for text."""
    site = vocab.site
    folded = text.casefold()
    if folded.startswith("category status:"):
        return "category"
    if parse_stamp(text):
        return "stamp"
    if _is_dated_week(text):
        return "week"
    if vocab.trend(_trend_phrase(text)):
        return "trend"
    if under_week and vocab.looks_like_trend(_trend_phrase(text)):
        return "verdict"
    if _caption(text, site, described=True):
        return "caption"
    if _author(text, site) is not None:
        return "author"
    return None


def _slug_words(url: str | None) -> list[str] | None:
    """The words of the URL's last segment, or None when there are too few to say anything about a title."""
    _, segments, _ = _url_parts(url)
    if not segments:
        return None
    words = [w for w in re.sub(r"\.(?:html?|php)$", "", segments[-1]).split("-") if w]
    return words if len(words) >= _SLUG_MIN_WORDS else None


def _title_score(items: list[Line], j: int, after_markers: bool, url: str | None, vocab: Vocabulary) -> int:
    """How strongly line j reads as the title: the anchors around it against the shape of a lead."""
    text = items[j][1]
    score = 1  # a first text line is the title unless the evidence says otherwise
    if any(_same_text(t, text) for _, t in items[j + 1 : j + 8]):
        score += 4  # printed again: the issue view repeats its title around the trend (or after the lead)
    if j + 1 < len(items) and _marker(items[j + 1][1], vocab, under_week=True) in ("trend", "verdict", "category"):
        score += 2
    if j + 1 < len(items) and _marker(items[j + 1][1], vocab, under_week=False) in ("stamp", "caption"):
        score += 2
    if after_markers:
        score -= 6  # no layout prints its title under the trend, the stamp or the caption: outweighs the slug
    if len(text) > _TITLE_MAX:
        score -= 3
    if _SENTENCE_BREAK.search(text):
        score -= 2
    if words := _slug_words(url):
        title_words = set(slugify(text).split("-"))
        score += round(4 * sum(w in title_words for w in words) / len(words)) - 1
    return score


def _title_from_url(url: str | None) -> str | None:
    words = _slug_words(url)
    if not words:
        return None
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def _section_of(name: str, vocab: Vocabulary) -> str:
    return vocab.section(name) or vocab.provisional_section(name, slugify(name))


def _looks_like_section_name(text: str) -> bool:
    return len(text) <= 60 and len(text.split()) <= 6 and not text.endswith((".", "!", "?", ":", ",", "…"))


def _read_preamble(path: str, items: list[Line], lines: list[Line], head: _Head, vocab: Vocabulary) -> int:
    """Author line, week and section, as the issue views print them above the title; the index after them."""
    k = 0
    name = _author(items[0][1], vocab.site) if items else None
    # "by" alone is the old template's empty author line; "by <name>" only counts above a week.
    if name is not None and (not name or (len(items) > 1 and _is_dated_week(items[1][1]))):
        head.authors = [name] if name else []
        k += 1
    if k >= len(items):
        return k
    n, text = items[k]
    try:
        week = parse_week(text)
    except ValueError as exc:
        raise ArchiveError(path, n, str(exc)) from None
    if week is None:
        return k
    head.week_start, head.week_source = week[0], "printed"
    k += 1
    # Newer site: the section name sits right under the week, with no blank line between; a title that lost its
    # blank line is told apart by being printed again two lines on.
    if k < len(items):
        n2, name = items[k]
        next_line = next((t for ln, t in lines if ln == n + 1), "")
        repeated = any(_same_text(t, name) for _, t in items[k + 1 : k + 4])
        plain = next_line and _marker(name, vocab, under_week=True) is None and not repeated
        if plain and (vocab.section(name) or _looks_like_section_name(name)):
            head.section = _section_of(name, vocab)
            k += 1
    return k


def _read_head(
    path: str, items: list[Line], lines: list[Line], url: str | None, vocab: Vocabulary
) -> tuple[_Head, int]:
    """The head of the article and the index of its lead among the non-blank lines."""
    head = _Head()
    k = _read_preamble(path, items, lines, head, vocab)
    under_week = head.week_start is not None
    # The title candidate: the first line that is no marker. Markers before it mean the capture starts below
    # its title (at the trend, the stamp or the caption).
    j = k
    while j < len(items) and _marker(items[j][1], vocab, under_week=under_week) not in (None, "week"):
        j += 1
    if j >= len(items):
        n = items[k][0] if k < len(items) else (lines[-1][0] if lines else 1)
        raise ArchiveError(path, n, "empty title: the capture has no article text")
    if _title_score(items, j, j > k, url, vocab) > 0:
        head.title, head.title_line = items[j][1], items[j][0]
        _read_markers(path, items, k, j, head, vocab)
        lead = _read_markers(path, items, j + 1, len(items), head, vocab)
        return head, lead
    # No title line: name the article after its URL; a head of markers without a title and without a URL to
    # name it is an issue view that lost its title.
    title = _title_from_url(url)
    if title is None and j > k:
        n, text = items[k]
        raise ArchiveError(path, n, f"empty title: found '{text}' where the title should be")
    lead = _read_markers(path, items, k, len(items), head, vocab)
    if lead >= len(items):
        raise ArchiveError(path, items[k][0], "no lead paragraph")
    head.title = title or re.split(r"(?<=[.!?])\s", items[lead][1], maxsplit=1)[0][:120]
    head.title_line = items[lead][0]
    return head, lead


def _read_markers(path: str, items: list[Line], start: int, stop: int, head: _Head, vocab: Vocabulary) -> int:
    """Trend, title again, `Category status:`, stamp, caption and author between the title and the lead.

    Returns the index of the first line that is none of them: the lead.
    """
    site = vocab.site
    i = start
    under_week = head.week_start is not None
    while i < stop:
        n, text = items[i]
        kind = _marker(text, vocab, under_week=under_week)
        if head.title and _same_text(text, head.title):
            pass  # the issue view repeats the title under the trend phrase
        elif kind == "category":
            # Seen empty, with the verdict after the colon, or with it on the next line: "- (The situation …)".
            phrase = text.split(":", 1)[1].strip()
            if not phrase and i + 1 < stop and vocab.trend(_trend_phrase(items[i + 1][1])):
                i += 1
                phrase = items[i][1]
            if phrase and head.trend is None:
                head.trend = _trend(path, items[i][0], phrase, vocab)
        elif kind == "stamp" and head.timestamp is None:
            head.timestamp = parse_stamp(text)
        elif kind == "caption" and head.caption is None:
            head.caption, head.credit = _caption(text, site, described=True)
        elif kind == "author" and not head.authors:
            name = _author(text, site)
            head.authors = [name] if name else []
        elif head.trend is None and _in_trend_position(text, items, i, head, vocab):
            head.trend = _trend(path, n, _trend_phrase(text), vocab)
        else:
            return i
        i += 1
    return i


def _in_trend_position(text: str, items: list[Line], i: int, head: _Head, vocab: Vocabulary) -> bool:
    """Whether a line under the title is the trend verdict (and so must be a known phrase).

    Only pages with a printed week carry a verdict, or a line followed by the repeated title; elsewhere
    a lead like "The situation on the border..." is text, not an unknown verdict.
    """
    if vocab.trend(_trend_phrase(text)):
        return True
    if head.title and i + 1 < len(items) and _same_text(items[i + 1][1], head.title):
        return True
    return head.week_start is not None and vocab.looks_like_trend(_trend_phrase(text))


def _trend(path: str, line: int, phrase: str, vocab: Vocabulary) -> str:
    slug = vocab.trend(_trend_phrase(phrase))
    if slug is None:
        raise ArchiveError(path, line, f"unknown trend phrase '{phrase}'")
    return slug


# ---------------------------------------------------------------- the body


def _list_marker(text: str) -> tuple[str | None, str]:
    """(kind, text without the marker) for a list item line; kind None for a paragraph."""
    for kind, pattern in (("bullet", _BULLET), ("dash", _DASH_ITEM), ("number", _NUMBERED)):
        if match := pattern.match(text):
            return kind, text[match.end() :]
    return None, text


def _blocks(texts: list[str]) -> list[dict]:
    """Paragraph and list blocks; consecutive item lines of one kind make one list."""
    blocks: list[dict] = []
    run: list[tuple[str, str]] = []  # (line, item) of the current list run
    run_kind: str | None = None

    def flush() -> None:
        nonlocal run, run_kind
        after_colon = bool(blocks) and blocks[-1]["type"] == "paragraph" and blocks[-1]["text"].endswith(":")
        # A lone "– " line is more often direct speech (Russian typography) than a one-item list.
        if run_kind == "dash" and len(run) == 1 and not after_colon:
            blocks.append({"type": "paragraph", "text": run[0][0]})
        elif run:
            blocks.append({"type": "list", "ordered": run_kind == "number", "items": [item for _, item in run]})
        run, run_kind = [], None

    for text in texts:
        kind, item = _list_marker(text)
        if kind != run_kind:
            flush()
        if kind is None:
            blocks.append({"type": "paragraph", "text": text})
        else:
            run_kind = kind
            run.append((text, item))
    flush()
    return blocks


def _last_text(lead: str, blocks: list[dict]) -> str:
    if not blocks:
        return lead
    last = blocks[-1]
    return last["items"][-1] if last["type"] == "list" else last["text"]


def _body_text(title: str, lead: str, blocks: list[dict]) -> str:
    parts = [title, lead]
    for block in blocks:
        parts.extend(block["items"] if block["type"] == "list" else [block["text"]])
    return "\n".join(parts)


# ---------------------------------------------------------------- the record


def _slug(url: str | None, title: str) -> str:
    _, segments, _ = _url_parts(url)
    last = re.sub(r"\.(?:html?|php)$", "", segments[-1]) if segments else ""
    return slugify(last) if last else slugify(title)


def _section_from_url(url: str | None, vocab: Vocabulary) -> str | None:
    """The section a URL's path names: a known slug anywhere before the article's slug, else the segment right
    before it as a provisional section (language, structure and date-like segments name none)."""
    _, segments, _ = _url_parts(url)
    before = [s for s in segments[:-1] if s not in vocab.site.language_segments]
    for segment in before:
        if section := vocab.section(segment):
            return section
    candidates = [s for s in before if s not in _STRUCTURE_SEGMENTS and re.fullmatch(r"[^\W\d_]+(?:-[^\W\d_]+)*", s)]
    if candidates and candidates[-1] == (before[-1] if before else None):
        return vocab.provisional_section(candidates[-1], slugify(candidates[-1]))
    return None


def _was_cut(raw_body: str, last: str, chrome_at_end: bool, site: SiteFurniture) -> bool:
    """Whether the capture stops inside the article: mid-word, mid-paragraph (a trailing space after a sentence,
    `…body” `), or at the capturing tool's size limit; never when the site's closing chrome was captured."""
    if chrome_at_end:
        return False
    if not last.endswith(_TERMINAL):
        return True
    if re.search(r"[ \t]$", raw_body):  # the file ends inside a line: the paragraph went on
        return True
    return site.capture_was_cut_at_limit(len(raw_body.encode("utf-8")))


def parse_capture(path: str, text: str, vocab: Vocabulary) -> ArticleRecord | Skip:
    """Parse one page capture into a record, or a Skip for a page that is not an article.

    Raises ArchiveError naming the offending line for an article that cannot be loaded.
    """
    site = vocab.site
    numbered = _numbered_lines(text)
    url, fetched, lines = _split_header(path, numbered)
    if reason := _non_article_reason(lines, url, vocab):
        return Skip(path, reason)
    raw_lines = text.lstrip("\ufeff").split("\n")
    header_lines = len(numbered) - len(lines)
    if header_lines and header_lines < len(raw_lines) and not raw_lines[header_lines].strip():
        header_lines += 1
    raw_body = "\n".join(raw_lines[header_lines:])
    lines, chrome_at_end = _strip_chrome(lines, site)
    items = [(n, t) for n, t in lines if t]

    head, lead_at = _read_head(path, items, lines, url, vocab)
    body: list[str] = []
    repeated_title = False
    for _, line in items[lead_at:]:
        if credit := _caption(line, site):  # captions are never body text, wherever the capture put them
            if head.caption is None:
                head.caption, head.credit = credit
            continue
        if not repeated_title and 0 < len(body) <= 3 and _same_text(line, head.title):
            repeated_title = True  # the title printed again after the lead
            continue
        body.append(line)
    if not body:
        raise ArchiveError(path, head.title_line, "no lead paragraph after the title")
    lead, blocks = body[0], _blocks(body[1:])

    week_start, week_source = head.week_start, head.week_source
    if week_start is None and head.timestamp is not None:
        week_start, week_source = week_from_timestamp(head.timestamp), "timestamp"

    return ArticleRecord(
        path=path,
        line=head.title_line,
        source="capture",
        slug=_slug(url, head.title),
        title=head.title,
        lead=lead,
        blocks=blocks,
        lang=detect_language(_body_text(head.title, lead, blocks)),
        section=head.section or _section_from_url(url, vocab),
        trend=head.trend,
        week_start=week_start,
        week_source=week_source,
        timestamp=head.timestamp,
        authors=head.authors,
        image_caption=head.caption,
        image_credit=head.credit,
        canonical_url=url,
        urls=[url] if url else [],
        truncated=_was_cut(raw_body, _last_text(lead, blocks), chrome_at_end, site),
        fetched_at=fetched,
    )
