"""Query functions: the only place that reads articles, through one "public now" choke point."""

from __future__ import annotations

import datetime as dt
import weakref
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial

from sqlalchemy import (
    Integer,
    Select,
    String,
    and_,
    bindparam,
    cast,
    false,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session, aliased, joinedload

from api.pagination import Key, Order, Total, bounded_total
from api.store import search
from api.store.models import (
    RELATED_MAX,
    Alias,
    Article,
    ArticleCount,
    ArticleTotal,
    Change,
    Issue,
    MediaFile,
    MediaUse,
    Related,
    Section,
    Trend,
)
from api.store.visibility import has_become_visible, is_public, public_articles  # noqa: F401 - the rule lives with the writer's side

ARTICLE_ORDERS = {
    "newest": Order(
        "newest",
        (Key("published_at", Article.published_at, True, dt.datetime), Key("slug", Article.slug, True, str)),
    ),
    "oldest": Order(
        "oldest",
        (Key("published_at", Article.published_at, False, dt.datetime), Key("slug", Article.slug, False, str)),
    ),
}
ISSUE_ORDERS = {
    "newest": Order("issues-newest", (Key("start", Issue.start, True, dt.date),)),
    "oldest": Order("issues-oldest", (Key("start", Issue.start, False, dt.date),)),
}
SECTION_ORDER = Order(
    "sections", (Key("position", Section.position, False, int), Key("slug", Section.slug, False, str))
)
TREND_ORDER = Order("trends", (Key("direction", Trend.direction, False, int), Key("slug", Trend.slug, False, str)))


# --------------------------------------------------------------------------- article lists, prepared
#: What a list item shows (schemas.output.ArticleSummarySchema) and, with `format`, its bodies.
SUMMARY_COLUMNS = (
    Article.id, Article.slug, Article.title, Article.lead, Article.lang, Article.section_slug, Article.trend_slug,
    Article.issue_start, Article.position, Article.published_at, Article.updated_at, Article.truncated,
    Article.word_count, Article.authors, Article.image, Article.image_caption, Article.image_credit,
    Article.translation_key,
)  # fmt: skip
BODY_COLUMNS = (Article.body_html, Article.body_text, Article.blocks)
#: The article filters but `q`: name → the condition on a value over a table holding the article's filterable
#: columns (the article table, the per-generation counts for all but updated_since, or PostgreSQL's search
#: documents, which copy them: search.COPIED); the value is a literal or a bound parameter (lists hold several
#: values; filters compose with AND). `q` changes the statement itself (search.Matches).
_FILTERS = {
    "section": lambda t, v: t.section_slug.in_(v),
    "trend": lambda t, v: t.trend_slug.in_(v),
    "issue": lambda t, v: t.issue_start.in_(v),
    "lang": lambda t, v: t.lang.in_(v),
    "from_": lambda t, v: t.issue_start >= v,  # v: `from` − 6 days, since the issue week must end on or after it
    "to": lambda t, v: t.issue_start <= v,
    "updated_since": lambda t, v: t.updated_at >= v,
}
#: The filters the per-generation counts answer (ArticleTotal and ArticleCount hold their columns).
COUNTED = {"section", "trend", "issue", "lang", "from_", "to"}
#: Past this many rows a total the counts do not answer (a search by date, `updated_since`) is estimated.
COUNT_BOUND = 10_000
_LISTS = {"section", "trend", "issue", "lang"}


def _filter_values(filters: dict) -> dict:
    """The values of the set filters (but `q`), as the conditions of _FILTERS take them."""
    values = {k: filters[k] for k in _FILTERS if filters.get(k) is not None}
    if "from_" in values:  # the first day of the calendar has no six days before it
        values["from_"] = max(dt.date.min + dt.timedelta(days=6), values["from_"]) - dt.timedelta(days=6)
    return values


def _search(stmt: Select, q: str | None) -> Select:
    if q is None:
        return stmt
    words = search.tokens(q)
    return stmt.where(search.Matches(words) if words else false())


def _conditions(shape: tuple[str, ...], t=Article) -> tuple:
    """The conditions of an article list of filter `shape` over `t` (the article table, or a table holding copies
    of the columns they read: the search documents), every value a bound parameter: public at `now`, and each
    filter of `shape`."""
    return is_public(bindparam("now"), t), *(
        _FILTERS[name](t, bindparam(name, expanding=name in _LISTS)) for name in shape
    )


@cache
def _article_list(shape: tuple[str, ...], with_body: bool) -> Select:
    return select(*SUMMARY_COLUMNS, *(BODY_COLUMNS if with_body else ())).where(*_conditions(shape))


def article_list(now: dt.datetime, filters: dict, with_body: bool = False) -> tuple[Select, dict, tuple | None]:
    """The public articles matching `filters` as plain rows (SUMMARY_COLUMNS, plus BODY_COLUMNS with_body):
    (statement, its parameters, shape).

    The filters of filter_articles(), with every value a bound parameter, `now` included, so one statement object
    per filter shape is built once per process and SQLAlchemy compiles its SQL once: a cold list page skips
    statement construction and cache-key generation. `shape` is None when the statement is built for this
    request only (a search: its words are part of the SQL).
    """
    values = _filter_values(filters)
    shape = tuple(sorted(values))
    stmt = _article_list(shape, with_body)
    params = {"now": now, **values}
    if filters.get("q") is None:
        return stmt, params, (shape, with_body)
    return _search(stmt, filters["q"]), params, None


def article_total(session: Session, now: dt.datetime, filters: dict) -> Total:
    """How many public articles match `filters`, without counting the articles: a sum over the per-generation
    counts (exact, at any clock time: the visibility rule reads their embargo ends) when every filter is one they
    hold, else the matching articles counted up to COUNT_BOUND (past it, estimated)."""
    values = _counted(filters)
    if values is not None:
        return Total(int(session.scalar(_counted_total(now, values)) or 0))
    stmt, params, _ = article_list(now, filters)
    return bounded_total(session, stmt.with_only_columns(Article.id), params, COUNT_BOUND)


def _counted(filters: dict) -> dict | None:
    """The values of `filters` (as _filter_values gives them) when the per-generation counts answer every one of
    them (no `q`, none outside COUNTED), else None."""
    values = _filter_values(filters)
    return values if filters.get("q") is None and set(values) <= COUNTED else None


def _counted_total(now: dt.datetime, values: dict) -> Select:
    """The sum of the per-generation counts (api/store/counts.py) matching counted filter `values`.

    Listed weeks (`issue`): the weekly rows of those weeks, looked up per public combination. Otherwise one row
    per public combination of section, trend tag and language: its whole count without a date filter, else its
    running count at the last week on or before `to` (or its dated count) less that at the last week before
    `from_`; so the rows read do not grow with the archive's weeks."""
    total = ArticleTotal
    conditions = [_FILTERS[k](total, v) for k, v in values.items() if k not in ("issue", "from_", "to")]
    if "issue" in values:  # the weekly rows of the public combinations in those weeks (and the date range)
        weeks = (_FILTERS[k](ArticleCount, v) for k, v in values.items() if k in ("issue", "from_", "to"))
        weekly = total.__table__.join(ArticleCount, ArticleCount.combo == total.combo)
        return select(func.sum(ArticleCount.n)).select_from(weekly).where(is_public(now, total), *conditions, *weeks)
    if "from_" not in values and "to" not in values:
        return select(func.sum(total.n)).where(is_public(now, total), *conditions)

    def running(before) -> object:  # the combination's running count at its last week matching `before`
        last = (
            select(ArticleCount.running)
            .where(ArticleCount.combo == total.combo, before)
            .order_by(ArticleCount.combo.desc(), ArticleCount.issue_start.desc())  # the index's order, backwards
            .limit(1)
            .scalar_subquery()
        )
        return func.coalesce(last, 0)

    upto = running(ArticleCount.issue_start <= values["to"]) if "to" in values else total.dated
    below = running(ArticleCount.issue_start < values["from_"]) if "from_" in values else literal(0)
    return select(func.sum(upto - below)).where(is_public(now, total), *conditions)


class ArticleItem:
    """An article of a list: one row of article_list() with its section and trend (shared per generation)."""

    def __init__(self, row, terms: Terms):
        self.__dict__.update(zip(row._fields, row, strict=True))
        self.section = terms.sections.get(self.section_slug)
        self.trend = terms.trends.get(self.trend_slug)


@dataclass(frozen=True, eq=False)
class Term:
    """A section or trend tag as list items refer to it (slug, names or labels, position or direction)."""

    slug: str
    names: dict | None = None
    labels: dict | None = None
    position: int | None = None
    direction: int | None = None


@dataclass(frozen=True)
class Terms:
    sections: dict[str, Term]
    trends: dict[str, Term]


_TERMS: dict[str, Terms] = {}


def terms(session: Session, generation_id: str) -> Terms:
    """Every section and trend tag of the store, read once per generation (they are a few dozen rows)."""
    found = _TERMS.get(generation_id)
    if found is None:
        found = Terms(
            {s.slug: Term(s.slug, names=s.names, position=s.position) for s in session.scalars(select(Section))},
            {t.slug: Term(t.slug, labels=t.labels, direction=t.direction) for t in session.scalars(select(Trend))},
        )
        if len(_TERMS) >= 4:  # the live generation and the previous ones a reload may still be serving
            _TERMS.pop(next(iter(_TERMS), None), None)
        _TERMS[generation_id] = found
    return found


def filter_articles(stmt: Select, filters: dict) -> Select:
    """Apply the article filters (each may hold several values; filters compose with AND)."""
    stmt = stmt.where(*(_FILTERS[k](Article, v) for k, v in _filter_values(filters).items()))
    return _search(stmt, filters.get("q"))


def relevance_order(
    dialect: str,
    where: search.Where,
    q: str,
    index: str = search.FULL_INDEX,
    matches: search.Found = search.FEW,
    copies: bool = False,
) -> tuple[Order, object]:
    """The relevance order of a search (rank, then slug as the unique tie-breaker) and its candidates, the
    subquery to join (search.top_candidates under the conditions `where`: the newest search.SCORED matches,
    scored, with their slugs, so the order is settled among them before the page's articles are read).

    Positional: its pages are positions in this order, so no cursor ever carries a score; they reach
    search.CANDIDATES deep."""
    hits = search.top_candidates(dialect, where, search.tokens(q), index, matches, copies)
    order = Order(
        "relevance",
        (Key("search_rank", hits.c.rank, True, float), Key("slug", hits.c.slug, False, str)),
        positional=True,
        depth=search.CANDIDATES,
    )
    return order, hits


_TIERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def search_tiers(session: Session) -> tuple[tuple[str, int], ...]:
    """The recent search tiers of the store this session reads (search.read_tiers), read once per engine: SQLite
    opens an engine per generation, whose tiers never change; PostgreSQL has none."""
    engine = session.get_bind()
    found = _TIERS.get(engine)
    if found is None:
        found = _TIERS[engine] = search.read_tiers(session.connection())
    return found


def search_copies(session: Session) -> bool:
    """Whether the search documents of the store this session reads carry copies of the article columns
    (search.has_copies): as the store read it with the generation (`session.info`), else asked."""
    found = session.info.get("search_copies")
    return search.has_copies(session.connection()) if found is None else found


def ranked_article_list(
    session: Session, now: dt.datetime, filters: dict, with_body: bool, memo: Callable | None = None
) -> tuple[Select, dict, Order, Callable[[], Total]]:
    """The public articles matching `filters` and every word of `filters["q"]` among the newest search.SCORED of
    them, joined to their search rank: (statement, its parameters, the relevance order, their total). Joining the
    candidates is the search filter itself. The total is exact up to search.SCORED; past it, it is SCORED,
    marked as estimated. `memo(compute)` may keep search.recent_matches (the web layer: once per generation,
    embargo epoch, filter set and backend); the index its candidates are scored in is this store's own choice."""
    stmt, params, (shape, _) = article_list(now, {k: v for k, v in filters.items() if k != "q"}, with_body)
    dialect = session.get_bind().dialect.name
    words = search.tokens(filters["q"])
    params = {**params, "_candidates": search.SCORED + 1, "_scored": search.SCORED}
    where, copies = partial(_conditions, shape), search_copies(session)
    # how many match and the least recency key of the candidates, found by counting them (the total comes with it):
    # on PostgreSQL the window of recency to rank in, on SQLite the smallest index holding them
    matches = (memo or (lambda compute: compute()))(
        lambda: search.recent_matches(session, where, params, words, copies)
    )
    found, least = matches.found, matches.least
    params["_search_from"] = search.search_from(found, least)
    index = search.index_holding(search_tiers(session), found, least) if dialect == "sqlite" else search.FULL_INDEX
    order, hits = relevance_order(dialect, where, filters["q"], index, matches, copies)

    def total() -> Total:
        return Total(search.SCORED, True) if found > search.SCORED else Total(found)

    ranked = stmt.join(hits, and_(hits.c.id == Article.id, hits.c.nth <= bindparam("_scored", type_=Integer)))
    return ranked, params, order, total


def get_article(session: Session, slug: str, now: dt.datetime) -> tuple[Article | None, bool]:
    """The public article with this slug, or the one this alias slug points to: (article, via_alias). Its aliases
    come joined in the same statement (an item shows them all; a list loads them by a second select)."""
    stmt = public_articles(now).options(joinedload(Article.aliases))
    article = session.scalars(stmt.where(Article.slug == slug)).unique().one_or_none()
    if article is not None:
        return article, False
    alias_target = select(Alias.article_id).where(Alias.slug == slug).scalar_subquery()
    return session.scalars(stmt.where(Article.id == alias_target)).unique().one_or_none(), True


def translations_of(session: Session, articles: list, now: dt.datetime) -> dict[str, list]:
    """Translation key → the public articles carrying it (id, lang, slug, title), by language, for the keys of
    `articles` (each article is among its own key's: callers leave it out)."""
    keys = {a.translation_key for a in articles if a.translation_key}
    if not keys:
        return {}
    stmt = (
        select(Article.id, Article.lang, Article.slug, Article.title, Article.translation_key)
        .where(is_public(now), Article.translation_key.in_(keys))
        .order_by(Article.lang, Article.slug)
    )
    found: dict[str, list] = defaultdict(list)
    for row in session.execute(stmt):
        found[row.translation_key].append(row)
    return found


def related(session: Session, article_id: int, now: dt.datetime, terms: Terms, limit: int = RELATED_MAX) -> list:
    """The article's related articles public now, best first, as list items: the ranks the loader wrote
    (api/ingest/related.py) filtered by the visibility rule, one index range of the `related` table."""
    stmt = (
        select(*SUMMARY_COLUMNS)
        .join(Related, Related.related_id == Article.id)
        .where(Related.article_id == article_id, is_public(now))
        .order_by(Related.rank)
        .limit(limit)
    )
    return [ArticleItem(row, terms) for row in session.execute(stmt)]


def has_public_article(now: dt.datetime, article_filters: dict | None = None):
    """The issue (correlated with Issue.start) holds a public article matching `article_filters`: an EXISTS, one
    seek of ix_article_issue_order per issue (an IN (SELECT DISTINCT …) scanned every matching article)."""
    in_issue = select(Article.id).where(Article.issue_start == Issue.start, is_public(now))
    return filter_articles(in_issue, article_filters or {}).exists()


def public_issues(now: dt.datetime, filters: dict | None = None) -> Select:
    """Issues that hold at least one public article (an issue of drafts only does not exist yet)."""
    stmt = select(Issue).where(has_public_article(now))
    filters = filters or {}
    if filters.get("covers"):
        stmt = stmt.where(Issue.start <= filters["covers"], Issue.end >= filters["covers"])
    if filters.get("from_"):
        stmt = stmt.where(Issue.end >= filters["from_"])
    if filters.get("to"):
        stmt = stmt.where(Issue.start <= filters["to"])
    if filters.get("year"):
        stmt = stmt.where(
            Issue.start >= dt.date(filters["year"], 1, 1), Issue.start <= dt.date(filters["year"], 12, 31)
        )
    return stmt


def timeline_issues(now: dt.datetime, filters: dict) -> Select:
    """The issues a timeline charts: those with a public article (in the `section` filter, if any) within `from_`
    and `to` (issue weeks ending on or after, starting on or before)."""
    stmt = select(Issue).where(has_public_article(now, {k: filters[k] for k in ("section",) if k in filters}))
    if filters.get("from_"):
        stmt = stmt.where(Issue.end >= filters["from_"])
    if filters.get("to"):
        stmt = stmt.where(Issue.start <= filters["to"])
    return stmt


def annotate_issues(session: Session, issues: list[Issue], now: dt.datetime, lang: str | None = None) -> None:
    """Attach article_count and languages (of public articles) to each issue, in one query; with `lang`,
    article_count counts the articles in that language only (languages still names them all)."""
    if not issues:
        return
    rows = session.execute(
        select(Article.issue_start, Article.lang, func.count())
        .where(is_public(now), Article.issue_start.in_([i.start for i in issues]))
        .group_by(Article.issue_start, Article.lang)
    ).all()
    counts: dict = defaultdict(int)
    langs: dict = defaultdict(set)
    for start, language, n in rows:
        if lang is None or language == lang:
            counts[start] += n
        langs[start].add(language)
    for issue in issues:
        issue.article_count = counts[issue.start]
        issue.languages = sorted(langs[issue.start])


def get_issue(session: Session, start: dt.date, now: dt.datetime) -> Issue | None:
    return session.scalar(public_issues(now).where(Issue.start == start))


def latest_issue(session: Session, now: dt.datetime, lang: str | None = None) -> Issue | None:
    """The newest public issue; with `lang`, the newest holding a public article in that language."""
    stmt = public_issues(now)
    if lang:
        stmt = stmt.where(has_public_article(now, {"lang": [lang]}))
    return session.scalar(stmt.order_by(Issue.start.desc()).limit(1))


def neighbours(session: Session, issue: Issue, now: dt.datetime) -> tuple[Issue | None, Issue | None]:
    """The previous and next public issues, in one statement (the two one-row seeks, UNION ALL)."""
    before = public_issues(now).where(Issue.start < issue.start).order_by(Issue.start.desc()).limit(1)
    after = public_issues(now).where(Issue.start > issue.start).order_by(Issue.start.asc()).limit(1)
    both = aliased(Issue, union_all(select(before.subquery()), select(after.subquery())).subquery("neighbours"))
    found = {("prev" if i.start < issue.start else "next"): i for i in session.scalars(select(both))}
    return found.get("prev"), found.get("next")


#: How many article summaries an issue item embeds: per section and in all (the rest are one link away).
ISSUE_ARTICLES_PER_SECTION = 20
ISSUE_ARTICLES_MAX = 100


def issue_articles(
    session: Session,
    issue: Issue,
    now: dt.datetime,
    terms: Terms,
    lang: str | None = None,
    per_section: int = ISSUE_ARTICLES_PER_SECTION,
    total: int = ISSUE_ARTICLES_MAX,
) -> list:
    """The issue's first public articles in editorial order (section order, then position in the section): at
    most `per_section` of each section and `total` in all, as list items (ArticleItem: plain rows of
    article_list(), no ORM objects). A week of any size costs one bounded read."""
    stmt, params, _ = article_list(now, {"issue": [issue.start], **({"lang": [lang]} if lang else {})})
    in_section = func.row_number().over(partition_by=Article.section_slug, order_by=(Article.position, Article.slug))
    ranked = stmt.add_columns(in_section.label("in_section")).subquery("ranked")
    outer = (
        select(*(ranked.c[c.key] for c in SUMMARY_COLUMNS))
        .outerjoin(Section, Section.slug == ranked.c.section_slug)
        .where(ranked.c.in_section <= per_section)
        # desks in display order (position, then slug, as the resource lists them), then each desk's own order:
        # two desks of one position must not interleave, or the bound on the total would cut the wrong articles
        .order_by(Section.position.nulls_last(), ranked.c.section_slug, ranked.c.position, ranked.c.slug)
        .limit(total)
    )
    return [ArticleItem(row, terms) for row in session.connection().execute(outer, params)]


def issue_section_counts(session: Session, issue: Issue, now: dt.datetime, lang: str | None = None) -> dict:
    """Section slug (None: no section) → how many public articles of the issue it holds (in `lang`, if given), and
    the issue's article_count and languages attached as annotate_issues() does: one grouped query for both."""
    rows = session.execute(
        select(Article.section_slug, Article.lang, func.count())
        .where(is_public(now), Article.issue_start == issue.start)
        .group_by(Article.section_slug, Article.lang)
    ).all()
    counts: dict = defaultdict(int)
    for slug, language, n in rows:
        if lang is None or language == lang:
            counts[slug] += n
    issue.article_count = sum(counts.values())
    issue.languages = sorted({language for _, language, _ in rows})
    return dict(counts)


def annotate_counts(session: Session, items: list, column, attr: str, now: dt.datetime) -> None:
    """Attach article_count (public articles) to sections or trends (`column` an Article column, the same-named one
    of the per-generation totals is summed: a row per combination, not per article), in one grouped query."""
    column = getattr(ArticleTotal, column.key)
    counts = dict(
        session.execute(
            select(column, func.sum(ArticleTotal.n))
            .where(is_public(now, ArticleTotal), column.in_([getattr(i, attr) for i in items]))
            .group_by(column)
        ).all()
    )
    for item in items:
        item.article_count = int(counts.get(getattr(item, attr), 0))


def in_use(column, slug, now: dt.datetime):
    """A term (section, trend tag) that at least one public article carries, `slug` being the term's slug column
    (correlated) or value: a term known only from drafts or embargoed articles (a desk not launched yet) is
    invisible, like them."""
    return select(Article.id).where(column == slug, is_public(now)).exists()


def get_section(session: Session, slug: str) -> Section | None:
    return session.get(Section, slug)


def get_trend(session: Session, slug: str) -> Trend | None:
    return session.get(Trend, slug)


DIRECTIONS = {-1: "worse", 0: "unchanged", 1: "better"}


def story_versions(now: dt.datetime, issues: list[dt.date] | None = None) -> Select:
    """The ids of one public version per story: a story is a translation group (an article without a
    translation key is a story of its own), represented by its earliest published public version (then slug).

    Chosen over every public version of a story before any filter, so a story is counted the same way in any view.
    With `issues`, only the stories with an article in those issues are ranked (their versions in other issues
    included): the same choice for every article of those issues, at a cost bounded by theirs, not the archive's.
    """
    story = func.coalesce(literal("k:") + Article.translation_key, literal("a:") + cast(Article.id, String))
    rank = func.row_number().over(partition_by=story, order_by=(Article.published_at, Article.slug))
    candidates = select(Article.id, rank.label("version")).where(is_public(now))
    if issues is not None:
        keys = select(Article.translation_key).where(
            Article.issue_start.in_(issues), Article.translation_key.is_not(None)
        )
        candidates = candidates.where(
            or_(Article.issue_start.in_(issues), Article.translation_key.in_(keys.scalar_subquery()))
        )
    ranked = candidates.subquery()
    return select(ranked.c.id).where(ranked.c.version == 1)


def trend_timeline(session: Session, now: dt.datetime, filters: dict | None = None) -> list[dict]:
    """Per (issue, section): public story counts per trend direction, total and net index, in chart order.

    A story is counted once however many language versions are public (`story_versions`); one grouped
    query (GROUP BY issue, section, trend direction); stories without a trend count in `total` only;
    stories without an issue or a section are not charted.
    """
    filters = filters or {}
    versions = story_versions(now, filters.get("issue"))
    stmt = (
        filter_articles(public_articles(now).where(Article.id.in_(versions)), filters)
        .with_only_columns(Article.issue_start, Article.section_slug, Trend.direction, func.count(Article.id))
        .join_from(Article, Section, Section.slug == Article.section_slug)
        .outerjoin(Trend, Trend.slug == Article.trend_slug)
        .where(Article.issue_start.is_not(None))
        .group_by(Article.issue_start, Section.position, Article.section_slug, Trend.direction)
        .order_by(Article.issue_start, Section.position, Article.section_slug, Trend.direction)
    )
    cells: dict[tuple, dict] = {}
    for start, section, direction, n in session.execute(stmt):
        cell = cells.setdefault(
            (start, section),
            {
                "issue_start": start,
                "section_slug": section,
                "counts": dict.fromkeys(DIRECTIONS.values(), 0),
                "total": 0,
            },
        )
        cell["total"] += n
        if direction in DIRECTIONS:
            cell["counts"][DIRECTIONS[direction]] += n
    for cell in cells.values():
        counts = cell["counts"]
        cell["net_index"] = round((counts["better"] - counts["worse"]) / cell["total"], 3)
        cell["direction"] = "better" if cell["net_index"] > 0 else "worse" if cell["net_index"] < 0 else "unchanged"
    return list(cells.values())


def section_streaks(cells: list[dict]) -> dict[str, tuple[dict, int]]:
    """Section slug → (its latest timeline cell, how many of its most recent issues kept that direction).

    `cells` come in issue order (trend_timeline); the streak runs over the issues in which the section
    had public articles, newest first, and stops at the first issue with another direction.
    """
    by_section: dict[str, list[dict]] = defaultdict(list)
    for cell in cells:
        by_section[cell["section_slug"]].append(cell)
    result = {}
    for slug, history in by_section.items():
        latest = history[-1]
        streak = 0
        for cell in reversed(history):
            if cell["direction"] != latest["direction"]:
                break
            streak += 1
        result[slug] = (latest, streak)
    return result


#: How many of the newest issues a streak is first computed over; a streak that fills its window is computed again
#: over four times as many, so the cost follows the streaks' length, not the archive's.
STREAK_WINDOW = 8


def recent_streaks(session: Session, slugs: list[str], now: dt.datetime) -> dict[str, tuple[dict, int]]:
    """section_streaks over the whole history of the sections `slugs`, read over a window of their newest issues
    that widens (×4) only for the sections whose streak (or silence) fills it."""
    result: dict[str, tuple[dict, int]] = {}
    window, pending = STREAK_WINDOW, list(slugs)
    while pending:
        weeks = session.scalars(
            select(Article.issue_start)
            .where(is_public(now), Article.section_slug.in_(pending), Article.issue_start.is_not(None))
            .group_by(Article.issue_start)
            .order_by(Article.issue_start.desc())
            .limit(window)
        ).all()
        if not weeks:
            break
        cells = trend_timeline(session, now, {"section": pending, "issue": weeks})
        shown = Counter(c["section_slug"] for c in cells)
        found = section_streaks(cells)
        whole = len(weeks) < window  # the window holds every issue of these sections
        for slug in pending:
            if slug in found and (whole or found[slug][1] < shown[slug]):
                result[slug] = found[slug]
        if whole:
            break
        pending = [slug for slug in pending if slug not in result]
        window *= 4
    return result


def annotate_streaks(session: Session, sections: list[Section], now: dt.datetime) -> None:
    """Attach latest_trend and streak to sections, over a window of their newest issues (recent_streaks)."""
    if not sections:
        return
    streaks = recent_streaks(session, [s.slug for s in sections], now)
    for section in sections:
        latest, streak = streaks.get(section.slug, (None, 0))
        section.latest_trend = (
            None
            if latest is None
            else {
                "issue": latest["issue_start"].isoformat(),
                "direction": latest["direction"],
                "net_index": latest["net_index"],
            }
        )
        section.streak = streak


# --------------------------------------------------------------------------- the change feed


def first_change(session: Session, now: dt.datetime) -> dt.datetime | None:
    """When the oldest retained change that has become visible by `now` happened."""
    return session.scalar(select(func.min(Change.visible_at)).where(has_become_visible(Change.visible_at, now)))


def changes_after(
    session: Session, now: dt.datetime, position: tuple | None, section: str | None, lang: str | None, limit: int
) -> list[Change]:
    """Visible changes after `position` (visible_at, slug), oldest first, at most `limit`.

    A section or language view also takes the updates that moved an article out of it: they become its tombstones.
    """
    stmt = select(Change).where(has_become_visible(Change.visible_at, now))
    if section:
        stmt = stmt.where(or_(Change.section_slug == section, Change.previous_section_slug == section))
    if lang:
        stmt = stmt.where(or_(Change.lang == lang, Change.previous_lang == lang))
    if position is not None:
        at, slug = position
        stmt = stmt.where(or_(Change.visible_at > at, and_(Change.visible_at == at, Change.slug > slug)))
    return list(session.scalars(stmt.order_by(Change.visible_at, Change.slug, Change.seq).limit(limit)))


def first_change_recorded_after(
    session: Session, now: dt.datetime, recorded_after: dt.datetime, until: dt.datetime
) -> dt.datetime | None:
    """When the first change visible by `now` and at or before `until` became visible, of those that a load after
    `recorded_after` recorded: changes a client holding a position from an older generation may have passed without
    seeing (the load began before an embargo ended and swapped after the client synced). None when there is none.
    The changes recorded between the two times are a load's worth or so: the index on recorded_at finds them.
    """
    return session.scalar(
        select(func.min(Change.visible_at)).where(
            Change.recorded_at > recorded_after,
            # a change never becomes visible before its load began: this bounds the index range on recorded_at to
            # the loads that began between the two times (a seek on either backend, not a walk of the log)
            Change.recorded_at <= until,
            Change.visible_at <= until,
            has_become_visible(Change.visible_at, now),
        )
    )


def public_by_slug(session: Session, now: dt.datetime, slugs: list[str]) -> list[Article]:
    """The public articles among `slugs`."""
    return list(session.scalars(public_articles(now).where(Article.slug.in_(slugs)))) if slugs else []


# --------------------------------------------------------------------------- terms and issues by key


def sections_by_slug(session: Session, slugs) -> list[Section]:
    """Fresh Section objects (callers annotate them) for `slugs`, in display order (position, then slug)."""
    found = session.scalars(select(Section).where(Section.slug.in_(set(slugs)))) if slugs else []
    return sorted(found, key=lambda s: (s.position, s.slug))  # Python's order, whatever the collation


def trends_by_slug(session: Session, slugs) -> list[Trend]:
    """Trend objects for `slugs`, worse to better (direction, then slug)."""
    found = session.scalars(select(Trend).where(Trend.slug.in_(set(slugs)))) if slugs else []
    return sorted(found, key=lambda t: (t.direction, t.slug))


def issues_by_start(session: Session, starts) -> list[Issue]:
    """Issue objects for these start days, newest first."""
    if not starts:
        return []
    return list(session.scalars(select(Issue).where(Issue.start.in_(set(starts))).order_by(Issue.start.desc())))


def terms_in_use(model, column, now: dt.datetime) -> Select:
    """The sections or trend tags (`model`) that a public article carries in `column`."""
    return select(model).where(in_use(column, model.slug, now))


def term_in_use(session: Session, column, slug: str, now: dt.datetime) -> bool:
    return bool(session.scalar(select(in_use(column, slug, now))))


def archive_week(session: Session, now: dt.datetime, filters: dict, *, before=None, after=None) -> dt.date | None:
    """The issue week nearest to a day holding a public article that matches `filters` (but `issue`): the newest
    one before `before`, the oldest one after `after`, or with neither the newest of all; None when there is none.

    With filters the per-generation counts hold, the nearest week of each public combination (one index lookup
    each) and the nearest of those: its cost does not grow with the archive's weeks, however sparse the matches.
    Otherwise the issues are walked from that day on and the first that holds a match (one EXISTS seek each) is it.
    """
    newest = after is None
    filters = {k: v for k, v in filters.items() if k != "issue"}
    values = _counted(filters)
    if values is not None:
        c, total = ArticleCount, ArticleTotal
        weeks = [_FILTERS[k](c, v) for k, v in values.items() if k in ("from_", "to")]
        if before is not None:
            weeks.append(c.issue_start < before)
        if after is not None:
            weeks.append(c.issue_start > after)
        order = (c.combo.desc(), c.issue_start.desc()) if newest else (c.combo.asc(), c.issue_start.asc())
        nearest = select(c.issue_start).where(c.combo == total.combo, *weeks).order_by(*order).limit(1)
        conditions = [_FILTERS[k](total, v) for k, v in values.items() if k not in ("from_", "to")]
        edge = func.max if newest else func.min
        return session.scalar(select(edge(nearest.scalar_subquery())).where(is_public(now, total), *conditions))
    stmt = select(Issue.start).where(has_public_article(now, filters))
    if before is not None:
        stmt = stmt.where(Issue.start < before)
    if after is not None:
        stmt = stmt.where(Issue.start > after)
    return session.scalar(stmt.order_by(Issue.start.desc() if newest else Issue.start.asc()).limit(1))


def holds_public_article(session: Session, now: dt.datetime, filters: dict, week: dt.date) -> bool:
    """The issue week `week` holds a public article that matches `filters` (but `issue`)."""
    filters = {**filters, "issue": [week]}
    values = _counted(filters)
    if values is not None:
        return bool(session.scalar(_counted_total(now, values)))
    in_week = select(Issue.start).where(Issue.start == week, has_public_article(now, filters))
    return session.scalar(in_week.exists().select()) or False


# --------------------------------------------------------------------------- media


def public_rendition(session: Session, now: dt.datetime, digest: str, width: int, ext: str) -> tuple[str, str] | None:
    """(media type, ETag) of a rendition some public article shows; None when there is none, or only hidden ones do."""
    shown = (
        select(MediaUse.article_id)
        .join(Article, Article.id == MediaUse.article_id)
        .where(MediaUse.hash == digest, is_public(now))
        .exists()
    )
    row = session.execute(
        select(MediaFile.type, MediaFile.etag).where(
            MediaFile.hash == digest, MediaFile.width == width, MediaFile.ext == ext, shown
        )
    ).first()
    return None if row is None else (row.type, row.etag)


def rendition_bytes(session: Session, digest: str, width: int, ext: str) -> bytes:
    """The bytes of a rendition public_rendition found."""
    return session.scalar(
        select(MediaFile.data).where(MediaFile.hash == digest, MediaFile.width == width, MediaFile.ext == ext)
    )


def example_rendition(session: Session, now: dt.datetime) -> str | None:
    """`<hash>-<width>.<ext>` of a rendition a public article shows (the OpenAPI document's example), if any."""
    row = session.execute(
        select(MediaFile.hash, MediaFile.width, MediaFile.ext)
        .join(MediaUse, MediaUse.hash == MediaFile.hash)
        .join(Article, Article.id == MediaUse.article_id)
        .where(is_public(now))
        .order_by(MediaFile.hash, MediaFile.width, MediaFile.ext)
        .limit(1)
    ).first()
    return None if row is None else f"{row.hash}-{row.width}.{row.ext}"


def ping(session: Session) -> None:
    """One round trip to the store (readiness)."""
    session.execute(select(literal(1)))


def examples(session: Session, now: dt.datetime) -> tuple[str | None, str | None, str | None, str | None]:
    """A public article's slug, the newest issue's, the first section's and the first trend tag's that a public
    article is in (for the OpenAPI document's examples): none names what a client could not fetch, nor a hidden
    article's issue, desk or tag. None where the store has none."""
    article = session.scalar(public_articles(now).with_only_columns(Article.slug).order_by(Article.slug).limit(1))
    issue = session.scalar(public_issues(now).with_only_columns(Issue.start).order_by(Issue.start.desc()).limit(1))
    section = session.scalar(
        terms_in_use(Section, Article.section_slug, now).with_only_columns(Section.slug)
        .order_by(Section.position, Section.slug).limit(1)
    )  # fmt: skip
    trend = session.scalar(
        terms_in_use(Trend, Article.trend_slug, now).with_only_columns(Trend.slug).order_by(Trend.slug).limit(1)
    )
    return article, issue.isoformat() if issue else None, section, trend
