"""Related articles, ranked once per generation: each article's nearest neighbours, written to the `related` table.

Who may appear, and whose text may count (the rule docs/api.md states):

- Candidates are the *ever-public* articles: published ones, embargoed or not (an embargo ends by the clock, with
  no reload). Drafts and retracted articles are never read here, so nothing of them can shape a list.
- Term weights (inverse document frequencies) and every cut-off come from the articles public *at load time*
  only. An embargoed article's text shapes nothing but its own pair scores: whether it ranks in another article's
  list once it is public, and its own list.
- For each article the table keeps its top RELATED_MAX public-at-load neighbours, plus every embargoed one that
  would beat the last of them. The API filters these by the one visibility rule at read time and takes the first
  RELATED_MAX: exactly the top of the articles public at that moment (a neighbour in that top is either public at
  load, so among the kept top, or embargoed at load, so it beats the last kept public one), and while an
  embargoed neighbour is hidden the list is the same as if it did not exist.

A pair's score: shared section (SECTION), shared trend tag (TREND), the cosine of their top-term TF-IDF vectors
(× TERMS) and nearness in time (NEAR / (1 + days apart / 30)); ties go to the newer article, then to the slug.
Only articles in the same language are candidates, and never the same story in another language (a shared
translation key).
"""

from __future__ import annotations

import bisect
import datetime as dt
import heapq
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import insert, select

from api.ingest.merge import BATCH
from api.store import visibility
from api.store.models import RELATED_MAX, Article, Related

SECTION, TREND, TERMS, NEAR = 1.0, 0.5, 2.0, 0.5
TOP_TERMS = 12  # each article is represented by its 12 heaviest terms
MAX_POSTING = 100  # a term carried by more public articles than this says too little to find candidates by
CANDIDATES = 60  # found by shared terms, the 60 with the highest cosine are scored (and the section's near ones)
WINDOW_DAYS = 28  # same-section articles this close in time are candidates even without a shared term,
WINDOW_PUBLIC = 15  # up to 15 public ones on each side (with the embargoed ones among them)
_WORD = re.compile(r"[^\W\d_]{3,}")  # words of three letters or more, digits and short words aside


def terms_of(title: str, lead: str, body: str) -> Counter:
    """How often each (case-folded) word occurs in an article's title, lead and body."""
    return Counter(w.casefold() for w in _WORD.findall(f"{title}\n{lead}\n{body}"))


@dataclass
class _Doc:
    id: int
    slug: str
    lang: str
    story: str | None
    section: str | None
    trend: str | None
    published_at: dt.datetime
    public: bool  # public at load time; otherwise embargoed (ever-public, not yet)
    vector: dict[str, float] = field(default_factory=dict)
    at: float = 0.0  # published_at as a POSIX timestamp

    def __post_init__(self) -> None:
        self.at = self.published_at.timestamp()

    def order(self, score: float) -> tuple:
        """Sort key of this article as a candidate with `score`: best first, then newer, then by slug (unique)."""
        return (-score, -self.at, self.slug)


def _texts(conn) -> Iterator:
    """(id, title, lead, body_text) of every published article, in id order, read in keyset pages."""
    columns = (Article.id, Article.title, Article.lead, Article.body_text)
    last = 0
    while True:
        page = conn.execute(
            select(*columns).where(Article.status == visibility.PUBLISHED, Article.id > last)
            .order_by(Article.id).limit(BATCH)
        ).all()  # fmt: skip
        yield from page
        if len(page) < BATCH:
            return
        last = page[-1].id


def _documents(conn, now: dt.datetime) -> dict[int, _Doc]:
    rows = conn.execute(
        select(Article.id, Article.slug, Article.lang, Article.translation_key, Article.section_slug,
               Article.trend_slug, Article.published_at, Article.status, Article.embargo_until)
        .where(Article.status == visibility.PUBLISHED)
    )  # fmt: skip
    return {
        r.id: _Doc(
            r.id,
            r.slug,
            r.lang,
            r.translation_key,
            r.section_slug,
            r.trend_slug,
            r.published_at,
            visibility.is_public_row(r, now),
        )  # fmt: skip
        for r in rows
    }


def _vectors(conn, docs: dict[int, _Doc]) -> None:
    """Give each document its top terms, weighted (1 + log tf) × idf over the public-at-load articles, unit length."""
    df: Counter = Counter()
    public = 0
    for row in _texts(conn):
        if docs[row.id].public:
            public += 1
            df.update(terms_of(row.title, row.lead, row.body_text).keys())
    for row in _texts(conn):
        counts = terms_of(row.title, row.lead, row.body_text)
        weights = {t: (1 + math.log(n)) * (math.log((1 + public) / (1 + df[t])) + 1) for t, n in counts.items()}
        top = heapq.nsmallest(TOP_TERMS, weights.items(), key=lambda kv: (-kv[1], kv[0]))
        norm = math.sqrt(sum(w * w for _, w in top)) or 1.0
        docs[row.id].vector = {t: w / norm for t, w in top}


def _score(a: _Doc, b: _Doc, cosine: float) -> float:
    days = abs(a.at - b.at) / 86400
    same_section = a.section is not None and a.section == b.section
    same_trend = a.trend is not None and a.trend == b.trend
    return SECTION * same_section + TREND * same_trend + TERMS * cosine + NEAR / (1 + days / 30)


def _nearest(timeline: list[_Doc], keys: list[tuple[float, int]], doc: _Doc) -> Iterator[_Doc]:
    """The section's articles within WINDOW_DAYS of `doc`, walking out from it in time on each side until
    WINDOW_PUBLIC public ones are found: how far it walks depends on public articles only."""
    here = bisect.bisect_left(keys, (doc.at, doc.id))
    window = WINDOW_DAYS * 86400
    for step, start in ((-1, here - 1), (1, here)):
        public, i = 0, start
        while 0 <= i < len(timeline) and abs(timeline[i].at - doc.at) <= window and public < WINDOW_PUBLIC:
            public += timeline[i].public
            yield timeline[i]
            i += step


def related_rows(conn, now: dt.datetime) -> Iterator[dict]:
    """The rows of the `related` table: (article_id, rank, related_id), each article's kept neighbours best first.

    Candidates come from posting lists of each article's top terms (the cosine accumulates along them; a term on
    more than MAX_POSTING public articles finds none), the CANDIDATES best of them, and its section's articles
    nearest in time (within WINDOW_DAYS, WINDOW_PUBLIC public ones on each side).
    """
    docs = _documents(conn, now)
    _vectors(conn, docs)
    postings: dict[tuple[str, str], list[tuple[_Doc, float]]] = defaultdict(list)
    public_count: Counter = Counter()
    timeline: dict[tuple[str, str], list[_Doc]] = defaultdict(list)
    for doc in sorted(docs.values(), key=lambda d: (d.published_at, d.id)):
        for term, weight in doc.vector.items():
            postings[doc.lang, term].append((doc, weight))
            public_count[doc.lang, term] += doc.public
        if doc.section is not None:
            timeline[doc.lang, doc.section].append(doc)
    times = {key: [(d.at, d.id) for d in docs_] for key, docs_ in timeline.items()}
    for doc in sorted(docs.values(), key=lambda d: d.id):
        dots: dict[int, float] = {}
        found: dict[int, _Doc] = {}
        for term, weight in doc.vector.items():
            if public_count[doc.lang, term] > MAX_POSTING:  # counted over public articles only
                continue
            for other, w in postings[doc.lang, term]:
                dots[other.id] = dots.get(other.id, 0.0) + weight * w
                found[other.id] = other
        for group in (True, False):  # the best by shared terms, public and embargoed apart: neither crowds the other
            ids = [i for i, d in found.items() if d.public is group]
            if len(ids) > CANDIDATES:
                for i in set(ids) - set(heapq.nlargest(CANDIDATES, ids, key=lambda i: (dots[i], -i))):
                    del found[i]
        if doc.section is not None:
            found.update(
                (d.id, d) for d in _nearest(timeline[doc.lang, doc.section], times[doc.lang, doc.section], doc)
            )
        found.pop(doc.id, None)
        public, hidden = [], []
        for c in found.values():
            if doc.story is not None and c.story == doc.story:
                continue
            (public if c.public else hidden).append((c.order(_score(doc, c, dots.get(c.id, 0.0))), c))
        top = heapq.nsmallest(RELATED_MAX, public)
        if len(top) == RELATED_MAX:  # embargoed ones kept only when they beat the last public one
            hidden = [h for h in hidden if h[0] < top[-1][0]]
        for rank, (_, c) in enumerate(sorted(top + hidden)):
            yield {"article_id": doc.id, "rank": rank, "related_id": c.id}


def build_related(conn, now: dt.datetime, digest) -> int:
    """Write the `related` table of the generation just inserted; returns how many rows it holds."""
    rows: list[dict] = []
    written = 0
    for row in related_rows(conn, now):
        digest.update(f"{row['article_id']}\0{row['rank']}\0{row['related_id']}\n".encode())
        rows.append(row)
        if len(rows) >= BATCH:
            conn.execute(insert(Related), rows)
            written, rows = written + len(rows), []
    if rows:
        conn.execute(insert(Related), rows)
        written += len(rows)
    return written
