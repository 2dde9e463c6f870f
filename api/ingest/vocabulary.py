"""Trend tags and section families as data tables (data/vocabulary.yaml), never as constants in code."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import yaml

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "data" / "vocabulary.yaml"

# A line that reads like a trend verdict: these openings are the only ones the site ever used.
_TREND_OPENINGS = ("the situation", "ситуация", "сітуацыя")


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).replace("’", "'").casefold()
    return re.sub(r"[\s.!]+", " ", text).strip()


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


class Vocabulary:
    """Maps printed trend phrases and section names or URL slugs onto their canonical slugs."""

    def __init__(self, data: dict):
        self.trends = [Trend(t["slug"], int(t["direction"]), dict(t["labels"])) for t in data["trends"]]
        self.sections = [Section(s["slug"], int(s["order"]), dict(s["names"])) for s in data["sections"]]
        self._phrases = {}
        for t in data["trends"]:
            for phrase in [*t["phrases"], *t["labels"].values()]:
                self._phrases[_norm(phrase)] = t["slug"]
        self._sections = {}
        for s in data["sections"]:
            for name in [s["slug"], *s.get("aliases", []), *s["names"].values()]:
                self._sections[_norm(name.replace("-", " "))] = s["slug"]

    @classmethod
    def load(cls, path: str | Path | None = None) -> Vocabulary:
        with open(path or DEFAULT_PATH, encoding="utf-8") as fh:
            return cls(yaml.safe_load(fh))

    def trend(self, phrase: str) -> str | None:
        """The trend slug for a printed phrase, or None if the phrase is not in the table."""
        return self._phrases.get(_norm(phrase))

    @staticmethod
    def looks_like_trend(line: str) -> bool:
        """True for a line phrased like a trend verdict, known or not (so unknown ones are rejected)."""
        n = _norm(line)
        return n.startswith(_TREND_OPENINGS) and len(n) < 80

    def section(self, name_or_slug: str) -> str | None:
        """The section family slug for a printed name or a URL slug of the old or new site."""
        return self._sections.get(_norm(name_or_slug.replace("-", " ")))
