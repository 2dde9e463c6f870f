"""Parser of legacy page captures: plain-text renderings of the public site, in the six known layouts."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from api.ingest.records import ArchiveError, ArticleRecord, Skip
from api.ingest.text import detect_language, slugify
from api.ingest.vocabulary import Vocabulary

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
_CAPTION = re.compile(r"^(?:image|photo|фото|фота)\s*:\s*(?P<credit>\S.*)$", re.IGNORECASE)
_BULLET = re.compile(r"^[•·▪]\s*")
_DASH_ITEM = re.compile(r"^[–—]\s+")
_NUMBERED = re.compile(r"^\d{1,2}\)\s+")
_HEADER = re.compile(r"^(?P<key>URL|Fetched):\s*(?P<value>.*)$", re.IGNORECASE)

# Site chrome that stands on a line of its own (compared case-insensitively).
_CHROME_LINES = frozenset(
    s.casefold()
    for s in (
        "You have been successfully subscribed", "Subscribe to our newsletter", "Subscribe", "Subscribe to us",
        "Situation in Belarus", "View all", "Read more", "Error message", "All trends", "header -->", "EN",
        "BE/RU", "Category status:",
        # Assumed equivalents on the Russian/Belarusian pages of the site (not seen yet).
        "Читать далее", "Подробнее", "Падрабязней", "Подписаться", "Падпісацца",
    )
)  # fmt: skip
# Everything from these on belongs to another article ("Similar articles" repeats title, stamp and lead).
_CHROME_TAIL = frozenset(s.casefold() for s in ("Similar articles", "Похожие статьи", "Похожие материалы"))
_NEWSLETTER_SENTENCE = "once a week, in coordination with"
# A paragraph is complete when it ends like a sentence; anything else at the very end was cut off.
_TERMINAL = (".", "!", "?", "…", "»", "”", '"', ")")

# Layout 6: signs of pages that are not articles.
_EVENT_SEGMENTS = frozenset({"event", "events", "meropriyatiya", "meraprymstvy"})
_EVENT_FIELD = re.compile(
    r"^(?:date|time|date and time|venue|place|location|where|when|registration|register|"
    r"дата|время|место|регистрация|час|месца|рэгістрацыя)\s*:",
    re.IGNORECASE,
)
_SISTER_MARKER = re.compile(
    r"^(?:an? )?(?:sister|partner) project\b|\bis an? (?:sister|partner) project of\b"
    r"|^(?:our|other) projects$|^(?:наши|другие) проекты$|^(?:нашы|іншыя) праекты$",
    re.IGNORECASE,
)
_LANGUAGE_SEGMENTS = frozenset({"en", "ru", "be", "by"})


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


def _is_chrome(text: str) -> bool:
    folded = text.casefold()
    return folded in _CHROME_LINES or folded.startswith(_NEWSLETTER_SENTENCE) or is_yearless_week(text)


def _is_cut_chrome(text: str) -> bool:
    """A chrome line the capturing tool cut off mid-word (`You have been succ`): only ever the last line."""
    folded = text.casefold()
    chrome = (*_CHROME_LINES, *_CHROME_TAIL, _NEWSLETTER_SENTENCE)
    return len(folded) >= 4 and any(c.startswith(folded) for c in chrome)


def _strip_chrome(lines: list[Line]) -> tuple[list[Line], bool]:
    """The lines without site chrome (blank lines kept, for the layout), and whether chrome ends the page."""
    kept: list[Line] = []
    chrome_at_end = False
    last = max((i for i, (_, text) in enumerate(lines) if text), default=-1)
    for i, (n, text) in enumerate(lines):
        if text.casefold() in _CHROME_TAIL:
            return kept, True
        if text and (_is_chrome(text) or (i == last and _is_cut_chrome(text))):
            chrome_at_end = True
            continue
        if text:
            chrome_at_end = False
        kept.append((n, text))
    return kept, chrome_at_end


# ---------------------------------------------------------------- pages that are not articles


def _url_segments(url: str | None) -> list[str]:
    return [unquote(s) for s in urlsplit(url).path.split("/") if s] if url else []


def _non_article_reason(lines: list[Line], url: str | None) -> str | None:
    """Why a capture is not an article (layout 6), or None if it looks like one."""
    texts = [text for _, text in lines if text]
    segments = [s.casefold() for s in _url_segments(url)]
    if _EVENT_SEGMENTS.intersection(segments) or sum(bool(_EVENT_FIELD.match(t)) for t in texts) >= 2:
        return "event announcement"
    if any(len(t) <= 150 and _SISTER_MARKER.search(t) for t in texts):
        return "sister project page"
    # The sidebar shows one year-less week right after "Situation in Belarus"; a listing shows many.
    listed_weeks = sum(
        is_yearless_week(t) and (i == 0 or texts[i - 1].casefold() != "situation in belarus")
        for i, t in enumerate(texts)
    )
    teasers = sum(t.endswith(("...", "…")) for t in texts)
    is_root = url is not None and all(s in _LANGUAGE_SEGMENTS for s in segments)
    if teasers >= 3 or listed_weeks >= 2 or (teasers >= 2 and is_root):
        # Both list many articles: the home page lives at the site root, a listing under its section.
        return "home page" if is_root or (url is None and listed_weeks < 2) else "section listing page"
    return None


# ---------------------------------------------------------------- the head: week, section, title, trend


def _skip_blank(lines: list[Line], i: int) -> int:
    while i < len(lines) and not lines[i][1]:
        i += 1
    return i


def _same_text(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def _caption(text: str) -> str | None:
    """The credit of an image caption line, or None; long lines are paragraphs that happen to start so."""
    match = _CAPTION.match(text)
    return match["credit"].strip() if match and len(text) <= 300 else None


def _read_author_and_week(path: str, lines: list[Line], i: int, head: _Head, vocab: Vocabulary) -> int:
    """Layouts 1 and 3: [`by`] / week / [section name]; returns the index after them."""
    if i < len(lines) and lines[i][1].casefold().split(" ", 1)[0] == "by":
        author = lines[i][1][2:].strip()
        after = _skip_blank(lines, i + 1)
        # "by" alone is the old template's empty author line; "by <name>" only counts above a week.
        if not author or (after < len(lines) and _is_dated_week(lines[after][1])):
            head.authors = [author] if author else []
            i = after
    if i >= len(lines):
        return i
    n, text = lines[i]
    try:
        week = parse_week(text)
    except ValueError as exc:
        raise ArchiveError(path, n, str(exc)) from None
    if week is None:
        return i
    head.week_start, head.week_source = week[0], "printed"
    i += 1
    # Newer site: the section name sits right under the week; the older one leaves a blank line
    # (a title that lost that blank line is recognised by its repetition under the trend phrase).
    if i < len(lines) and lines[i][1] and not _is_repeated_title(lines, i):
        n, name = lines[i]
        head.section = vocab.section(name)
        if head.section is None:
            raise ArchiveError(path, n, f"unknown section name '{name}'")
        i += 1
    return i


def _is_repeated_title(lines: list[Line], i: int) -> bool:
    """True if line i comes back two lines further on, as a title does around the trend phrase."""
    texts = [text for _, text in lines[i + 1 :] if text][:2]
    return len(texts) == 2 and _same_text(texts[1], lines[i][1])


def _read_title(path: str, lines: list[Line], i: int, head: _Head, vocab: Vocabulary) -> int:
    """The title line; a verdict, stamp, caption or week found in its place means the title is missing."""
    i = _skip_blank(lines, i)
    if i >= len(lines):
        n = lines[-1][0] if lines else 1
        raise ArchiveError(path, n, "empty title: the capture has no article text")
    n, text = lines[i]
    # Under a printed week a verdict-like line followed by no verdict is the trend, not the title.
    verdict = head.week_start is not None and vocab.looks_like_trend(text)
    next_text = _next_text(lines, i)
    if verdict and next_text is not None and vocab.looks_like_trend(next_text):
        verdict = False
    if verdict or vocab.trend(text) or parse_stamp(text) or _caption(text) or _is_dated_week(text):
        raise ArchiveError(path, n, f"empty title: found '{text}' where the title should be")
    head.title, head.title_line = text, n
    return i + 1


def _next_text(lines: list[Line], i: int) -> str | None:
    j = _skip_blank(lines, i + 1)
    return lines[j][1] if j < len(lines) else None


def _read_markers(path: str, lines: list[Line], i: int, head: _Head, vocab: Vocabulary) -> int:
    """Trend phrase, title again, `Category status:`, stamp and caption between the title and the lead."""
    while (i := _skip_blank(lines, i)) < len(lines):
        n, text = lines[i]
        folded = text.casefold()
        if folded.startswith("category status:"):
            # Seen empty; if a verdict is ever printed after it, it is the trend.
            phrase = text.split(":", 1)[1].strip()
            if phrase:
                head.trend = _trend(path, n, phrase, vocab)
        elif _same_text(text, head.title):
            pass  # the issue view repeats the title under the trend phrase
        elif head.timestamp is None and (stamp := parse_stamp(text)):
            head.timestamp = stamp
        elif head.caption is None and (credit := _caption(text)):
            head.caption, head.credit = text, credit
        elif head.trend is None and _in_trend_position(text, lines, i, head, vocab):
            head.trend = _trend(path, n, text, vocab)
        else:
            return i
        i += 1
    return i


def _in_trend_position(text: str, lines: list[Line], i: int, head: _Head, vocab: Vocabulary) -> bool:
    """Whether a line under the title is the trend verdict (and so must be a known phrase).

    Only pages with a printed week carry a verdict, or a line followed by the repeated title; elsewhere
    a lead like "The situation on the border..." is text, not an unknown verdict.
    """
    if vocab.trend(text):
        return True
    next_text = _next_text(lines, i)
    if next_text is not None and _same_text(next_text, head.title):
        return True
    return head.week_start is not None and vocab.looks_like_trend(text)


def _trend(path: str, line: int, phrase: str, vocab: Vocabulary) -> str:
    slug = vocab.trend(phrase)
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
    segments = _url_segments(url)
    last = re.sub(r"\.(?:html?|php)$", "", segments[-1]) if segments else ""
    return slugify(last) if last else slugify(title)


def _section_from_url(url: str | None, vocab: Vocabulary) -> str | None:
    # The last segment is the slug; a section segment sits somewhere before it (`/by/<section>/<slug>`).
    for segment in _url_segments(url)[:-1]:
        if section := vocab.section(segment):
            return section
    return None


def parse_capture(path: str, text: str, vocab: Vocabulary) -> ArticleRecord | Skip:
    """Parse one page capture into a record, or a Skip for a page that is not an article.

    Raises ArchiveError naming the offending line for an article that cannot be loaded.
    """
    url, fetched, lines = _split_header(path, _numbered_lines(text))
    if reason := _non_article_reason(lines, url):
        return Skip(path, reason)
    lines, chrome_at_end = _strip_chrome(lines)

    head = _Head()
    i = _read_author_and_week(path, lines, _skip_blank(lines, 0), head, vocab)
    i = _read_title(path, lines, i, head, vocab)
    i = _read_markers(path, lines, i, head, vocab)

    body: list[str] = []
    for _, line in lines[i:]:
        if not line:
            continue
        if credit := _caption(line):  # captions are never body text, wherever the capture put them
            if head.caption is None:
                head.caption, head.credit = line, credit
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
        truncated=not chrome_at_end and not _last_text(lead, blocks).endswith(_TERMINAL),
        fetched_at=fetched,
    )
