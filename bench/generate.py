"""Synthetic editorial archives: `python -m bench.generate --articles N --out DIR [--seed S]`.

Deterministic (one seeded random.Random, no clock), streaming (every file is written as soon as it is made; the
generator keeps counters and the set of issue weeks, nothing per article) and sharded (at most --per-dir files per
directory). It writes both formats the loader reads:

* page captures (`.txt`) in layouts 1-5 of ARCHIVE.md, in the seed's typography (en dashes, curly quotes,
  `  • ` bullets, the site chrome blocks), English and Russian;
* editorial documents (`.md`, YAML front matter), English and Russian, a few of them drafts or embargoed;

with the irregularities of a real archive mixed in at configurable rates: duplicate captures of one article
(http/https, `www.`, `?page=N`, old vs new domain, issue view vs canonical view, a cut-off copy), truncated
captures, pages that are not articles (section listings, the home page, events, a sister project), weeks with no
issue, articles with no recoverable week, and bulk-import stamps shared by several canonical views.

Everything it writes loads in strict mode. What it wrote is printed (counts by kind) and saved as
`DIR/.manifest.json` (a dot file: the loader never reads it), with the counts a load must report.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from api.ingest.text import slugify

ROOT = Path(__file__).resolve().parent.parent
VOCABULARY = ROOT / "data" / "vocabulary.yaml"
NEW = "situation.example.org"
OLD = "old.situation-belarus.example.net"
FIRST_WEEK = dt.date(2001, 1, 1)  # a Monday
MANIFEST = ".manifest.json"

# Unique names: four consonant-vowel syllables, the same in Latin and Cyrillic (a transliteration round trip),
# so every article's title and slug carry one word no other article has.
_CONSONANTS = ("b", "v", "d", "z", "k", "l", "m", "n", "p", "r", "s", "t")
_CONSONANTS_RU = ("б", "в", "д", "з", "к", "л", "м", "н", "п", "р", "с", "т")
_VOWELS = ("a", "e", "i", "o", "u")
_VOWELS_RU = ("а", "е", "и", "о", "у")
_SYLLABLES = [
    (c + v, cr + vr)
    for c, cr in zip(_CONSONANTS, _CONSONANTS_RU, strict=True)
    for v, vr in zip(_VOWELS, _VOWELS_RU, strict=True)
]

MONTHS_RU = (
    "января", "февраля", "марта", "апреля", "мая", "июня",
    "июля", "августа", "сентября", "октября", "ноября", "декабря",
)  # fmt: skip

EN = {
    "title": (
        "{A} {v} {o} in {N}",
        "{N} becomes a test of {o}",
        "{A} and {N}: {o} under pressure",
        "Why {N} matters for {o}",
        "{A} {v} {o} after talks in {N}",
    ),
    "actor": (
        "Minsk",
        "The government",
        "The Ministry of Finance",
        "Lukashenka",
        "Lukashenko",
        "The KGB",
        "The National Bank",
        "Regional officials",
        "The opposition",
        "Moscow",
        "Brussels",
        "Trade unions",
    ),
    "verb": (
        "tightens",
        "reviews",
        "postpones",
        "expands",
        "questions",
        "defends",
        "renegotiates",
        "restricts",
        "announces",
        "revises",
    ),
    "object": (
        "grain export quotas",
        "the border regime",
        "loan conditions",
        "media licensing",
        "military exercises",
        "price controls",
        "potash transit",
        "public sector wages",
        "the budget deficit",
        "civil society",
        "the nomenklatura",
        "energy subsidies",
    ),
    "adjunct": (
        "ahead of the referendum",
        "despite the sanctions",
        "for the third month in a row",
        "without public debate",
        "under pressure from the Kremlin",
        "after a series of detentions",
        "in the regional centres",
        "according to official statistics",
        "as export earnings fall",
        "with no visible effect",
    ),
    "opener": (
        "Officials say that",
        "Independent analysts note that",
        "According to Belstat,",
        "Sources in Minsk report that",
        "It is likely that",
        "At the same time,",
        "As before,",
        "Nevertheless,",
    ),
    "intro": ("The main reasons are:", "The measures include:", "Three factors stand out:"),
    "item": (
        "higher logistics costs",
        "a shortage of qualified staff",
        "the loss of Western markets",
        "dependence on Russian credit",
        "new loyalty checks",
        "lower output at state enterprises",
        "tighter control of the internet",
        "selective pardons",
    ),
}
RU = {
    "title": (
        "{A} {v} {o} в {N}",
        "{N} становится проверкой для {o}",
        "{A} и {N}: {o} под давлением",
        "{A} {v} {o} после переговоров в {N}",
    ),
    "actor": (
        "Минск",
        "Правительство",
        "Министерство финансов",
        "Лукашенко",
        "КГБ",
        "Национальный банк",
        "Региональные власти",
        "Оппозиция",
        "Москва",
        "Брюссель",
        "Профсоюзы",
    ),
    "verb": (
        "ужесточает",
        "пересматривает",
        "откладывает",
        "расширяет",
        "оспаривает",
        "защищает",
        "ограничивает",
        "объявляет",
    ),
    "object": (
        "квоты на экспорт зерна",
        "пограничный режим",
        "условия кредитов",
        "лицензирование СМИ",
        "военные учения",
        "контроль над ценами",
        "транзит калия",
        "зарплаты в бюджетной сфере",
        "дефицит бюджета",
        "гражданское общество",
        "номенклатуру",
        "энергетические субсидии",
    ),
    "adjunct": (
        "накануне референдума",
        "несмотря на санкции",
        "третий месяц подряд",
        "без публичного обсуждения",
        "под давлением Кремля",
        "после серии задержаний",
        "в областных центрах",
        "по официальной статистике",
        "на фоне падения экспортной выручки",
        "без видимого эффекта",
    ),
    "opener": (
        "Чиновники утверждают, что",
        "Независимые аналитики отмечают, что",
        "По данным Белстата,",
        "Источники в Минске сообщают, что",
        "Вероятно,",
        "В то же время",
        "Как и прежде,",
        "Тем не менее",
    ),
    "intro": ("Основные причины таковы:", "Меры включают:", "Выделяются три фактора:"),
    "item": (
        "рост логистических издержек",
        "нехватка квалифицированных кадров",
        "потеря западных рынков",
        "зависимость от российских кредитов",
        "новые проверки на лояльность",
        "снижение выпуска на госпредприятиях",
        "усиление контроля над интернетом",
        "выборочные помилования",
    ),
}
CREDITS = ("BelTA", "Belsat", "Radio Svaboda", "belta.by", "Reuters")
CAPTION_FORMS = ("Image: {c}", "photo: {c}", "Фото: {c}", "Фота: {c}")

NEWSLETTER = (
    "You have been successfully subscribed\n\nSubscribe to our newsletter\n\n"
    "Once a week, in coordination with a group of leading Belarusian analysts, we provide analytical commentaries "
    "to the most topical and relevant issues, including on behind the scenes processes ongoing in Belarus.\n\n"
)


@dataclass
class Rates:
    """How often each kind and irregularity appears (per article unless said otherwise)."""

    documents: float = 0.25  # editorial documents instead of captures
    russian: float = 0.3
    duplicate: float = 0.15  # a capture gets one or two extra captures of itself
    truncated: float = 0.03
    no_week: float = 0.03  # body-only or moved captures (layouts 4, 5)
    bulk: float = 0.005  # a group of three canonical views sharing one later bulk-import stamp
    non_article: float = 0.03  # listings, home page, events, sister projects
    missing_week: float = 0.05  # per week: no issue that week (holidays)
    draft: float = 0.05  # of documents
    embargoed: float = 0.05  # of documents
    per_issue: int = 0  # articles per issue week; 0: 10, or more so that the weeks end before 2025


@dataclass
class Manifest:
    """What one generation wrote, and the counts a load of it must report."""

    seed: int
    articles: int = 0  # unique articles = articles a load must report as loaded
    files: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)  # file kinds written
    merged_duplicates: int = 0
    aliases: int = 0  # duplicates captured under a slug of their own: alias rows a load must store
    skipped: dict[str, int] = field(default_factory=dict)  # reason → pages
    truncated: int = 0
    without_issue: int = 0
    bulk_import_stamps: int = 0
    drafts: int = 0
    embargoed: int = 0
    public: int = 0
    languages: dict[str, int] = field(default_factory=dict)
    issues: int = 0
    missing_weeks: int = 0
    issues_per_year: dict[str, int] = field(default_factory=dict)


class _Writer:
    """Writes files into shards of at most `per_dir` files: DIR/<kind>/<shard>/<n>.<ext>."""

    def __init__(self, out: Path, per_dir: int):
        self.out, self.per_dir = out, per_dir
        self.count: Counter = Counter()

    def write(self, kind: str, ext: str, content: str) -> None:
        n = self.count[ext]
        self.count[ext] += 1
        folder = self.out / ("documents" if ext == "md" else "captures") / f"{n // self.per_dir:05d}"
        if n % self.per_dir == 0:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{n:07d}.{ext}").write_text(content, encoding="utf-8")


def _name(index: int) -> tuple[str, str]:
    """The unique (Latin, Cyrillic) name of article `index`."""
    lat, cyr = [], []
    for _ in range(4):
        index, digit = divmod(index, len(_SYLLABLES))
        lat.append(_SYLLABLES[digit][0])
        cyr.append(_SYLLABLES[digit][1])
    return "".join(lat).capitalize(), "".join(cyr).capitalize()


def week_en(start: dt.date, rng: random.Random) -> str:
    end = start + dt.timedelta(days=6)
    if start.year != end.year and rng.random() < 0.5:
        return f"{start:%B} {start.day}, {start.year} – {end:%B} {end.day}, {end.year}"
    return f"{start:%B} {start.day} – {end:%B} {end.day}, {end.year}"


def week_ru(start: dt.date) -> str:
    end = start + dt.timedelta(days=6)
    m1, m2 = MONTHS_RU[start.month - 1], MONTHS_RU[end.month - 1]
    if start.year != end.year:
        return f"{start.day} {m1} {start.year} – {end.day} {m2} {end.year}"
    if start.month == end.month:
        return f"{start.day} – {end.day} {m2} {end.year}"
    return f"{start.day} {m1} – {end.day} {m2} {end.year}"


def stamp_text(stamp: dt.datetime, lang: str, rng: random.Random) -> str:
    if lang == "ru":
        return f"{stamp.day} {MONTHS_RU[stamp.month - 1]} {stamp.year} {stamp.hour}:{stamp.minute:02d}"
    day = f"{stamp.day:02d}" if rng.random() < 0.5 else str(stamp.day)  # the day may be zero-padded
    return f"{stamp:%B} {day}, {stamp.year} {stamp.hour}:{stamp.minute:02d}"


@dataclass
class _Article:
    """One synthetic article (kept only while its files are written)."""

    index: int
    lang: str
    title: str
    slug: str
    lead: str
    body: list[tuple[str, object]]  # ("p", text) | ("bullets"|"dashes"|"numbered", [items])
    week: dt.date | None
    section: dict
    trend: dict
    caption: str | None
    credit: str | None


class Generator:
    def __init__(self, out: Path, seed: int, rates: Rates, per_dir: int = 1000):
        self.out, self.rng, self.rates = out, random.Random(seed), rates
        self.writer = _Writer(out, per_dir)
        self.manifest = Manifest(seed=seed)
        vocab = yaml.safe_load(VOCABULARY.read_text(encoding="utf-8"))
        # The sample archive's leak canaries are no editorial terms: synthetic articles never use them.
        self.sections = [s for s in vocab["sections"] if not s.get("canary")]
        self.trends = [t for t in vocab["trends"] if not t.get("canary")]
        self.weeks: set[dt.date] = set()
        self.index = 0  # names: one per article, documents included
        self.week = FIRST_WEEK
        self.in_week = 0
        self.stamps_in_week = 0
        self.bulk_groups = 0

    # ------------------------------------------------------------------ text

    def _sentence(self, words: dict) -> str:
        r = self.rng
        parts = (r.choice(words[k]) for k in ("opener", "actor", "verb", "object", "adjunct"))
        return " ".join(parts) + "."

    def _paragraph(self, words: dict) -> str:
        return " ".join(self._sentence(words) for _ in range(self.rng.randint(1, 3)))

    def _article(self, lang: str, week: dt.date | None) -> _Article:
        r, words = self.rng, (RU if lang == "ru" else EN)
        self.index += 1
        name = _name(self.index)[1 if lang == "ru" else 0]
        title = r.choice(words["title"]).format(
            A=r.choice(words["actor"]), v=r.choice(words["verb"]), o=r.choice(words["object"]), N=name
        )
        title = title.replace('"', "")
        if lang == "en" and r.random() < 0.2:
            title = f"“{title}”"  # curly quotes, as the site prints them
        body: list[tuple[str, object]] = []
        for _ in range(r.randint(2, 5)):
            body.append(("p", self._paragraph(words)))
            if r.random() < 0.25:
                kind = r.choice(("bullets", "dashes", "numbered"))
                body.append(("p", r.choice(words["intro"])))
                picked = r.sample(words["item"], r.randint(2, 4))
                body.append((kind, [f"{item};" for item in picked[:-1]] + [f"{picked[-1]}."]))
        body.append(("p", self._paragraph(words)))  # always end on a sentence
        credit = r.choice(CREDITS) if r.random() < 0.3 else None
        caption = r.choice(CAPTION_FORMS).format(c=credit) if credit else None
        return _Article(
            index=self.index,
            lang=lang,
            title=title,
            slug=slugify(title),
            lead=self._paragraph(words),
            body=body,
            week=week,
            section=r.choice(self.sections),
            trend=r.choice(self.trends),
            caption=caption,
            credit=credit,
        )

    # ------------------------------------------------------------------ weeks

    def _next_week(self) -> dt.date:
        if self.in_week >= self.rates.per_issue:
            self.week += dt.timedelta(days=7)
            while self.rng.random() < self.rates.missing_week:
                self.week += dt.timedelta(days=7)
                self.manifest.missing_weeks += 1
            self.in_week, self.stamps_in_week = 0, 0
        self.in_week += 1
        return self.week

    def _stamp(self, week: dt.date) -> dt.datetime:
        """A canonical-view stamp: the Monday after the week (or, now and then, inside it), unique to the minute."""
        self.stamps_in_week += 1
        day = week + dt.timedelta(days=7) if self.rng.random() < 0.8 else week + dt.timedelta(days=2)
        minutes = 7 * 60 + self.stamps_in_week % 180  # 7:00-9:59, never a bulk stamp (those are after noon)
        return dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60))

    # ------------------------------------------------------------------ captures

    def _url(
        self, a: _Article, site: str, scheme: str = "https", www: bool = False, page: int | None = None, slug=None
    ) -> str:
        host = ("www." if www else "") + (NEW if site == "new" else OLD)
        prefix = "/ru" if a.lang == "ru" else ("" if site == "new" else "/en")
        section = a.section["slug"]
        if site == "old":  # the old site's slugs for the same section family (any alias of the vocabulary)
            aliases = a.section.get("aliases") or [section]
            section = aliases[a.index % len(aliases)]
        if site == "issue":
            host = OLD
            path = f"/en/issue/{slugify(week_en(a.week, random.Random(0)))}/{slug or a.slug}"
        elif site == "moved":
            path = f"/{slug or a.slug}"
        else:
            path = f"{prefix}/{section}/{slug or a.slug}"
        return f"{scheme}://{host}{path}" + (f"?page={page}" if page else "")

    def _header(self, url: str | None, fetched: dt.datetime) -> str:
        if url is None:
            return ""
        return f"URL: {url}\nFetched: {fetched:%Y-%m-%dT%H:%M:%S}Z\n\n"

    def _fetched(self, a: _Article) -> dt.datetime:
        base = a.week or dt.date(2020, 1, 1)
        return dt.datetime.combine(base + dt.timedelta(days=30 + a.index % 400), dt.time(a.index % 24, a.index % 60))

    def _body_lines(self, a: _Article, blank: bool) -> list[str]:
        sep = [""] if blank else []
        lines: list[str] = []
        for kind, content in a.body:
            if kind == "p":
                lines += [content, *sep]
            elif kind == "bullets":
                lines += [f"  • {item}" for item in content] + sep
            elif kind == "dashes":
                lines += [f"– {item}" for item in content] + sep
            else:
                lines += [f"{n}) {item}" for n, item in enumerate(content, start=1)] + sep
        return lines

    def _capture(self, a: _Article, layout: int, url: str | None, truncated: bool = False) -> str:
        r = self.rng
        trend = a.trend["labels"]["ru" if a.lang == "ru" else "en"]
        week = (week_ru(a.week) if a.lang == "ru" and r.random() < 0.7 else week_en(a.week, r)) if a.week else ""
        caption = [a.caption] if a.caption else []
        tail: list[str]
        if layout == 1:
            head = ["header -->", "EN", "BE/RU", "by", week, "", a.title, "", trend, a.title, *caption, ""]
            tail = ["Read more", "Read more", "All trends"]
        elif layout == 2:
            stamp = stamp_text(self._stamp_for(a), a.lang, r)
            head = [a.title, "", "Category status:", stamp, *caption, ""]
            other = self._article(a.lang, None)  # a different article's title, stamp and lead: dropped
            self.index -= 1  # it is not an article of the archive; its name may be reused
            other_stamp = stamp_text(dt.datetime(2016, 3, 14, 10, 20), a.lang, r)
            tail = ["Similar articles", "", other.title, other_stamp, other.lead, "Read more"]
        elif layout == 3:
            section = a.section["names"]["ru" if a.lang == "ru" else "en"]
            by = ["by"] if r.random() < 0.5 else []
            head = [*by, week, section, "", a.title, "", trend, a.title, *caption, ""]
            sidebar = self.week - dt.timedelta(days=7 * r.randint(0, 3))
            end = sidebar + dt.timedelta(days=6)
            tail = [
                *NEWSLETTER.rstrip("\n").split("\n"), "", "Situation in Belarus", "",
                f"{sidebar:%B} {sidebar.day} – {end:%B} {end.day}", "View all", "", "Subscribe to us", "",
                *["Read more"] * r.randint(1, 5),
            ]  # fmt: skip
        else:  # 4 and 5: body only, one paragraph per line
            head = [a.title]
            tail = []
        lines = head + [a.lead, "" if layout in (1, 2, 3) else None] + self._body_lines(a, layout in (1, 2, 3))
        lines = [line for line in lines if line is not None]
        while lines and lines[-1] == "":
            lines.pop()
        text = "\n".join(lines)
        if truncated:  # cut off mid-word inside the last paragraph; no chrome follows
            last = text.rfind("\n") + 1
            cut = max(last + 12, len(text) - 1 - r.randint(5, 40))
            while cut > last + 3 and not (text[cut - 1].isalpha() and text[cut].isalpha()):
                cut -= 1
            return self._header(url, self._fetched(a)) + text[:cut]
        if tail:
            text += "\n\n" + "\n".join(tail)
        return self._header(url, self._fetched(a)) + text + ("\n" if layout != 3 else "")

    def _stamp_for(self, a: _Article) -> dt.datetime:
        if getattr(a, "stamp", None) is None:
            a.stamp = self._stamp(a.week)  # type: ignore[attr-defined]
        return a.stamp  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ kinds of article

    def _lang(self) -> str:
        return "ru" if self.rng.random() < self.rates.russian else "en"

    def _count(self, kind: str) -> None:
        self.manifest.by_kind[kind] = self.manifest.by_kind.get(kind, 0) + 1
        self.manifest.files += 1

    def _loaded(self, a: _Article, *, week: bool = True, truncated: bool = False, public: bool = True) -> None:
        m = self.manifest
        m.articles += 1
        m.languages[a.lang] = m.languages.get(a.lang, 0) + 1
        m.truncated += truncated
        m.public += public
        if week and a.week:
            self.weeks.add(a.week)
        else:
            m.without_issue += 1

    def document(self) -> None:
        r = self.rng
        a = self._article(self._lang(), self._next_week())
        status, embargo = "published", None
        roll = r.random()
        if roll < self.rates.draft:
            status = "draft"
        elif roll < self.rates.draft + self.rates.embargoed:
            embargo = "2099-01-01T00:00:00Z"
        published = dt.datetime.combine(a.week + dt.timedelta(days=7), dt.time(9))
        front = {
            "slug": a.slug,
            "title": a.title,
            "lang": a.lang,
            "issue": a.week.isoformat(),
            "section": a.section["slug"],
            "trend": a.trend["slug"],
            "authors": ["Analytical group" if a.lang == "en" else "Аналитическая группа"],
            "status": status,
            "published_at": f"{published:%Y-%m-%dT%H:%M:%S}Z",
            "lead": a.lead,
        }
        if embargo:
            front["embargo_until"] = embargo
        if a.caption:
            front["image_caption"], front["image_credit"] = a.caption, a.credit
        lines = ["---", *(f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in front.items()), "---"]
        for kind, content in a.body:
            if kind == "p":
                lines += [content, ""]
            elif kind == "numbered":
                lines += [f"{n}. {item}" for n, item in enumerate(content, start=1)] + [""]
            else:
                lines += [f"- {item}" for item in content] + [""]
        self.writer.write("document", "md", "\n".join(lines))
        self._count(f"document ({status})" if not embargo else "document (embargoed)")
        self.manifest.drafts += status == "draft"
        self.manifest.embargoed += embargo is not None
        self._loaded(a, public=status == "published" and embargo is None)

    def capture(self) -> None:
        r = self.rng
        a = self._article(self._lang(), self._next_week())
        layout = r.choice((1, 2, 3, 3, 3)) if a.lang == "en" else r.choice((2, 3))
        site = {1: "old", 2: "old", 3: "new"}[layout]
        truncated = r.random() < self.rates.truncated
        copies: list[tuple[str, int, str, bool]] = []  # (kind, layout, url, truncated)
        if not truncated and r.random() < self.rates.duplicate:
            kinds = ["scheme", "www", "page", "truncated copy"]
            if a.lang == "en":
                kinds += ["issue vs canonical view", "old vs new domain"]
            for kind in r.sample(kinds, r.randint(1, 2)):
                if kind == "scheme":
                    copies.append((kind, layout, self._url(a, site, scheme="http"), False))
                elif kind == "www":
                    copies.append((kind, layout, self._url(a, site, www=True), False))
                elif kind == "page":
                    copies.append((kind, layout, self._url(a, site, page=r.randint(2, 9)), False))
                elif kind == "truncated copy" and layout != 2:  # a cut-off copy never beats a complete one
                    copies.append((kind, layout, self._url(a, site, scheme="http", page=1), True))
                elif kind == "issue vs canonical view":
                    other = 2 if layout != 2 else 1
                    where = "issue" if other == 1 else "old"
                    copies.append((kind, other, self._url(a, where, scheme="http"), False))
                elif kind == "old vs new domain":  # the old site's slug differs: it becomes an alias
                    other, where = (1, "old") if layout == 3 else (3, "new")
                    old_slug = f"{a.slug[:30].rstrip('-')}-{a.index}"
                    copies.append((kind, other, self._url(a, where, slug=old_slug), False))
                    self.manifest.aliases += 1
        url = self._url(a, site)
        self.writer.write("capture", "txt", self._capture(a, layout, url, truncated))
        self._count(f"capture layout {layout}" + (" (truncated)" if truncated else ""))
        for kind, other, copy_url, cut in copies:
            self.writer.write("capture", "txt", self._capture(a, other, copy_url, cut))
            self._count(f"duplicate: {kind}")
            self.manifest.merged_duplicates += 1
        self._loaded(a, truncated=truncated)

    def no_week(self) -> None:
        a = self._article(self._lang(), None)
        layout = self.rng.choice((4, 5))
        url = None if layout == 4 else self._url(a, "moved")
        self.writer.write("capture", "txt", self._capture(a, layout, url))
        self._count(f"capture layout {layout} (no week)")
        self._loaded(a, week=False)

    def bulk(self) -> None:
        """Three canonical views sharing one stamp to the minute, years after their weeks: no issue from it."""
        self.bulk_groups += 1
        g = self.bulk_groups
        stamp = dt.datetime(2030, 1, 1, 12) + dt.timedelta(days=g // 700, minutes=g % 700)
        for _ in range(3):
            a = self._article("en", self._next_week())
            a.stamp = stamp  # type: ignore[attr-defined]
            self.writer.write("capture", "txt", self._capture(a, 2, self._url(a, "old")))
            self._count("capture layout 2 (bulk-import stamp)")
            self._loaded(a, week=False)
        self.manifest.bulk_import_stamps += 1

    def non_article(self) -> None:
        r = self.rng
        kind = r.choice(("section listing page", "home page", "event announcement", "sister project page"))
        n = self.manifest.by_kind.get(f"non-article: {kind}", 0) + 1
        fetched = dt.datetime(2023, 3, 21, 7, 40) + dt.timedelta(minutes=n)
        if kind == "section listing page":
            section = r.choice(self.sections)
            url = f"https://{NEW}/{section['slug']}?page={n}"
            lines = [section["names"]["en"], ""]
            for k in range(3):
                start = self.week - dt.timedelta(days=7 * (k + 1))
                end = start + dt.timedelta(days=6)
                a = self._article("en", None)
                self.index -= 1
                lines += [a.title, f"{start:%B} {start.day} – {end:%B} {end.day}", "Read more", ""]
            lines += ["Situation in Belarus", "", "View all", "", "Subscribe to us"]
        elif kind == "home page":
            url = f"https://{NEW}/" if n % 2 else f"https://{NEW}/en/"
            lines = ["EN", "BE/RU", "", "Situation in Belarus", ""]
            for section in r.sample(self.sections, 3):
                a = self._article("en", None)
                self.index -= 1
                lines += [section["names"]["en"], a.title, a.lead.rstrip(".") + "...", "Read more", ""]
            lines += ["View all", "Subscribe to us"]
        elif kind == "event announcement":
            url = f"https://{NEW}/events/round-table-{n}"
            lines = [
                "Events", "", f"Round table number {n} on the situation in Belarus", "",
                f"Date: March {n % 28 + 1}, 2022", "Time: 15:00–17:00 (Vilnius time)", "Venue: Vilnius, and online",
                "", self._paragraph(EN),
            ]  # fmt: skip
        else:
            url = f"https://monitor-{n}.example.com/about"
            lines = [
                "Belarus Economy Monitor", "", "Belarus Economy Monitor is a sister project of Situation in Belarus.",
                "", self._paragraph(EN), "", "Our projects", "Situation in Belarus", "Belarus Economy Monitor",
            ]  # fmt: skip
        self.writer.write("capture", "txt", self._header(url, fetched) + "\n".join(lines) + "\n")
        self._count(f"non-article: {kind}")
        self.manifest.skipped[kind] = self.manifest.skipped.get(kind, 0) + 1

    # ------------------------------------------------------------------ the run

    def run(self, articles: int) -> Manifest:
        r, rates = self.rng, self.rates
        if not rates.per_issue:
            rates.per_issue = max(10, -(-articles // 1150))
        while self.manifest.articles < articles:
            left = articles - self.manifest.articles
            roll = r.random()
            if roll < rates.bulk and left >= 3:
                self.bulk()
            elif roll < rates.bulk + rates.no_week:
                self.no_week()
            elif roll < rates.bulk + rates.no_week + rates.documents:
                self.document()
            else:
                self.capture()
            if r.random() < rates.non_article:
                self.non_article()
        m = self.manifest
        m.issues = len(self.weeks)
        m.issues_per_year = dict(sorted(Counter(str(w.year) for w in self.weeks).items()))
        m.by_kind = dict(sorted(m.by_kind.items()))
        m.skipped = dict(sorted(m.skipped.items()))
        m.languages = dict(sorted(m.languages.items()))
        (self.out / MANIFEST).write_text(json.dumps(asdict(m), indent=2, ensure_ascii=False) + "\n")
        return m


def generate(
    out: str | Path, articles: int, seed: int = 0, rates: Rates | None = None, per_dir: int = 1000
) -> Manifest:
    """Write a synthetic archive of `articles` unique articles into `out` (which must be empty or absent)."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty")
    out.mkdir(parents=True, exist_ok=True)
    return Generator(out, seed, rates or Rates(), per_dir).run(articles)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, required=True, help="unique articles to write")
    parser.add_argument("--out", required=True, help="an empty or absent directory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-dir", type=int, default=1000, help="files per shard directory")
    for name, default in asdict(Rates()).items():
        flag = "--" + name.replace("_", "-") + ("" if name == "per_issue" else "-rate")
        parser.add_argument(flag, dest=name, type=type(default), default=default)
    args = parser.parse_args(argv)
    rates = Rates(**{k: getattr(args, k) for k in asdict(Rates())})
    started = time.perf_counter()
    try:
        m = generate(args.out, args.articles, args.seed, rates, args.per_dir)
    except FileExistsError as exc:
        print(f"generate: {exc}", file=sys.stderr)
        return 1
    print(
        f"wrote {m.files} files ({m.articles} unique articles) to {args.out} in {time.perf_counter() - started:.1f} s"
    )
    for kind, n in m.by_kind.items():
        print(f"  {kind}: {n}")
    print(
        f"expected load: articles {m.articles} (public {m.public}, drafts {m.drafts}, embargoed {m.embargoed}), "
        f"merged duplicates {m.merged_duplicates} ({m.aliases} under another slug), skipped {sum(m.skipped.values())}, truncated {m.truncated}, "
        f"without issue {m.without_issue}, bulk-import stamps {m.bulk_import_stamps}, issues {m.issues} "
        f"({m.missing_weeks} weeks missing), languages {m.languages}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
