"""Trend tags and section families (data/vocabulary.yaml) and the sites' furniture (data/site.yaml), as data tables,
never as constants in code."""

from __future__ import annotations

import fnmatch
import functools
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from api.ingest.text import slugify

DATA = Path(__file__).resolve().parents[2] / "data"
DEFAULT_PATH = DATA / "vocabulary.yaml"
SITE_PATH = DATA / "site.yaml"

# A line that reads like a trend verdict: these openings are the only ones the site ever used.
_TREND_OPENINGS = ("the situation", "ситуация", "сітуацыя")
_LANGS = ("en", "ru", "be")


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).replace("’", "'").casefold()
    return re.sub(r"[\s.!]+", " ", text).strip()


def _fold(text: str) -> str:
    """Case- and whitespace-insensitive form of a line of furniture."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


@dataclass(frozen=True)
class Trend:
    slug: str
    direction: int
    labels: dict[str, str]


@dataclass(frozen=True)
class Section:
    slug: str
    order: int
    names: dict[str, str]
    provisional: bool = False  # not in the vocabulary file: named after what a capture printed


@dataclass(frozen=True)
class BulkImportRule:
    window_minutes: int = 180
    issue_capacity: int = 8
    density_factor: float = 3.0


@dataclass(frozen=True)
class SiteFurniture:
    """What the public sites print around articles (data/site.yaml): never article text, or evidence of a page
    that is no article at all."""

    chrome_lines: frozenset[str] = frozenset()
    chrome_prefixes: tuple[str, ...] = ()
    chrome_tails: frozenset[str] = frozenset()
    breadcrumb_separators: tuple[str, ...] = ("»",)
    breadcrumb_roots: frozenset[str] = frozenset()
    caption_labels: tuple[str, ...] = ()
    caption_max_length: int = 300
    author_labels: tuple[str, ...] = ("by",)
    sister_project_hosts: tuple[str, ...] = ()
    static_paths: frozenset[str] = frozenset()
    event_paths: frozenset[str] = frozenset()
    listing_paths: frozenset[str] = frozenset()
    listing_queries: frozenset[str] = frozenset()
    language_segments: frozenset[str] = frozenset()
    capture_limits_bytes: tuple[int, ...] = ()
    capture_limit_slack_bytes: int = 0
    bulk_import: BulkImportRule = field(default_factory=BulkImportRule)

    @classmethod
    def from_data(cls, data: dict) -> SiteFurniture:
        crumbs = data.get("breadcrumb") or {}
        return cls(
            chrome_lines=frozenset(_fold(s) for s in data.get("chrome_lines", [])),
            chrome_prefixes=tuple(_fold(s) for s in data.get("chrome_prefixes", [])),
            chrome_tails=frozenset(_fold(s) for s in data.get("chrome_tails", [])),
            breadcrumb_separators=tuple(crumbs.get("separators", ["»"])),
            breadcrumb_roots=frozenset(_fold(s) for s in crumbs.get("roots", [])),
            caption_labels=tuple(_fold(s) for s in data.get("caption_labels", [])),
            caption_max_length=int(data.get("caption_max_length", 300)),
            author_labels=tuple(_fold(s) for s in data.get("author_labels", ["by"])),
            sister_project_hosts=tuple(s.casefold() for s in data.get("sister_project_hosts", [])),
            static_paths=frozenset(s.casefold() for s in data.get("static_paths", [])),
            event_paths=frozenset(s.casefold() for s in data.get("event_paths", [])),
            listing_paths=frozenset(s.casefold() for s in data.get("listing_paths", [])),
            listing_queries=frozenset(s.casefold() for s in data.get("listing_queries", [])),
            language_segments=frozenset(s.casefold() for s in data.get("language_segments", [])),
            capture_limits_bytes=tuple(int(n) for n in data.get("capture_limits_bytes", [])),
            capture_limit_slack_bytes=int(data.get("capture_limit_slack_bytes", 0)),
            bulk_import=BulkImportRule(**(data.get("bulk_import") or {})),
        )

    def chrome(self, line: str) -> str | None:
        """ "tail" for a line from which the page shows other articles, "line" for chrome, None for text."""
        folded = _fold(line)
        if folded in self.chrome_tails:
            return "tail"
        if folded in self.chrome_lines or folded.startswith(self.chrome_prefixes) or self.is_breadcrumb(line):
            return "line"
        return None

    def is_chrome(self, line: str) -> bool:
        return self.chrome(line) == "line"

    def is_chrome_tail(self, line: str) -> bool:
        return self.chrome(line) == "tail"

    @functools.cached_property
    def caption_plain(self) -> re.Pattern:
        """`<label>: <credit>`, `<label> from <credit>` and `<label> by <credit>` (a few words, no sentence)."""
        labels = "|".join(re.escape(label) for label in self.caption_labels) or "(?!)"
        return re.compile(
            rf"^(?:{labels})\s*(?::\s*(?P<credit>\S.*)|\s+(?:from|by)\s+(?P<source>\S.{{0,80}}?))(?<![.!?])$",
            re.IGNORECASE,
        )

    @functools.cached_property
    def caption_described(self) -> re.Pattern:
        """A description and its credit on one line: `<description> / Фото …`, `<description>. Фота: <site>`."""
        labels = "|".join(re.escape(label) for label in self.caption_labels) or "(?!)"
        return re.compile(
            rf"^(?P<desc>.+?)(?:[.!?…»”)]\s+|\s+[/|–—]\s*)(?:{labels})\b\s*:?\s*(?P<credit>\S.{{0,80}})$", re.IGNORECASE
        )

    def is_cut_chrome(self, line: str) -> bool:
        """A chrome line the capturing tool cut off mid-word (`You have been succ`): only ever a page's last line."""
        folded = _fold(line)
        every = (*self.chrome_lines, *self.chrome_tails, *self.chrome_prefixes)
        return len(folded) >= 4 and any(c.startswith(folded) for c in every)

    def is_breadcrumb(self, line: str) -> bool:
        for sep in self.breadcrumb_separators:
            if sep in line:
                return _fold(line.split(sep, 1)[0]) in self.breadcrumb_roots
        return False

    def is_sister_host(self, host: str) -> bool:
        first = host.casefold().removeprefix("www.").split(".", 1)[0]
        return "." in host and any(fnmatch.fnmatchcase(first, pattern) for pattern in self.sister_project_hosts)

    def capture_was_cut_at_limit(self, size: int) -> bool:
        return any(limit - self.capture_limit_slack_bytes <= size <= limit for limit in self.capture_limits_bytes)


class Vocabulary:
    """Maps printed trend phrases and section names or URL slugs onto their canonical slugs; knows the furniture."""

    def __init__(self, data: dict, site: dict | None = None):
        self.trends = [Trend(t["slug"], int(t["direction"]), dict(t["labels"])) for t in data["trends"]]
        self.sections = [Section(s["slug"], int(s["order"]), dict(s["names"])) for s in data["sections"]]
        self.site = SiteFurniture.from_data(site or {})
        self._phrases = {}
        for t in data["trends"]:
            for phrase in [*t["phrases"], *t["labels"].values()]:
                self._phrases[_norm(phrase)] = t["slug"]
        self._sections = {}
        for s in data["sections"]:
            for name in [s["slug"], *s.get("aliases", []), *s["names"].values()]:
                self._sections[_norm(name.replace("-", " "))] = s["slug"]
            for name in [*s.get("aliases", []), *s["names"].values()]:  # a Cyrillic name, as the sites' paths spell it
                self._sections.setdefault(_norm(slugify(name).replace("-", " ")), s["slug"])
        self.provisional: dict[str, str] = {}  # provisional section slug -> the name or URL slug it was made from

    @classmethod
    def load(cls, path: str | Path | None = None, site_path: str | Path | None = None) -> Vocabulary:
        with open(path or DEFAULT_PATH, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
        with open(site_path or SITE_PATH, encoding="utf-8") as fh:
            site = yaml.safe_load(fh)
        return cls(data, site)

    def trend(self, phrase: str) -> str | None:
        """The trend slug for a printed phrase, or None if the phrase is not in the table."""
        return self._phrases.get(_norm(phrase))

    @staticmethod
    def looks_like_trend(line: str) -> bool:
        """True for a line phrased like a trend verdict, known or not (so unknown ones are rejected)."""
        n = _norm(line)
        return n.startswith(_TREND_OPENINGS) and len(n) < 80

    def section(self, name_or_slug: str) -> str | None:
        """The section family slug for a printed name or a URL slug of the old or new site (provisional ones too)."""
        return self._sections.get(_norm(name_or_slug.replace("-", " ")))

    def provisional_section(self, name_or_slug: str, slug: str) -> str:
        """A section for a name or URL slug the vocabulary lacks: named as printed, kept until the vocabulary has it.

        The article keeps a section and the load report lists the name as new vocabulary (never silently lost).
        """
        known = self.section(name_or_slug) or self.section(slug)
        if known:
            return known
        printed = name_or_slug if not re.fullmatch(r"[\w-]+", name_or_slug) else name_or_slug.replace("-", " ")
        printed = printed[:1].upper() + printed[1:]
        order = max((s.order for s in self.sections), default=0) + 1
        self.sections.append(Section(slug, order, dict.fromkeys(_LANGS, printed), provisional=True))
        self._sections[_norm(name_or_slug.replace("-", " "))] = slug
        self._sections[_norm(slug.replace("-", " "))] = slug
        self.provisional[slug] = name_or_slug
        return slug
