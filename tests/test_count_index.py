"""Totals of article filter sets come from the per-generation counts (or a bounded count, marked as estimated past
its bound), never from a count over the archive: on generated archives with drafts and embargoes, whenever
`meta.total_estimated` is false the total equals an oracle count of the visible articles, at clock times either
side of the embargo end, on both backends."""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, func, select

from api import clock
from api.store import queries
from api.store.models import Article, ArticleTotal
from tests.conftest import generated_store, make_app, recorded_statements

EMBARGO_END = dt.datetime(2099, 1, 1, tzinfo=dt.UTC)  # the generator's embargo end
CLOCKS = (EMBARGO_END - dt.timedelta(seconds=1), EMBARGO_END)


@pytest.fixture(scope="module")
def counted(backend, tmp_path_factory):
    """A generated archive (about 40 weeks; drafts and embargoed documents) loaded into a store of this backend,
    an app over it, and every article's filterable and visibility columns (the oracle's input)."""
    with generated_store(backend, tmp_path_factory, "counted") as store:
        app = make_app(store, HOT_CACHE_MAX_BYTES=0, CACHE_REDIS_URL=None)
        db = app.extensions["store"]
        columns = (Article.status, Article.embargo_until, Article.section_slug, Article.trend_slug,
                   Article.issue_start, Article.lang, Article.updated_at)  # fmt: skip
        with db.session(db.current()) as session:
            rows = session.execute(select(*columns)).all()
        yield app, rows
        db.dispose()


def oracle(rows, now: dt.datetime, f: dict) -> int:
    """The visible articles matching the filters, counted row by row (the rule written out here again)."""

    def visible(r) -> bool:
        return r.status == "published" and (r.embargo_until is None or r.embargo_until <= now)

    def matches(r) -> bool:
        if "section" in f and r.section_slug not in f["section"]:
            return False
        if "trend" in f and r.trend_slug not in f["trend"]:
            return False
        if "issue" in f and r.issue_start not in f["issue"]:
            return False
        if "lang" in f and r.lang != f["lang"]:
            return False
        if "from" in f and (r.issue_start is None or r.issue_start + dt.timedelta(days=6) < f["from"]):
            return False
        if "to" in f and (r.issue_start is None or r.issue_start > f["to"]):
            return False
        return "updated_since" not in f or r.updated_at >= f["updated_since"]

    return sum(visible(r) and matches(r) for r in rows)


def _query(f: dict) -> dict:
    out = {"limit": 1}
    for k, v in f.items():
        if isinstance(v, list | tuple | set | frozenset):
            out[k] = ",".join(sorted(x.isoformat() if isinstance(x, dt.date) else x for x in v))
        elif isinstance(v, dt.datetime):
            out[k] = v.strftime("%Y-%m-%dT%H:%M:%SZ")
        elif isinstance(v, dt.date):
            out[k] = v.isoformat()
        else:
            out[k] = v
    return out


@st.composite
def filter_sets(draw, rows) -> dict:
    sections = sorted({r.section_slug for r in rows if r.section_slug})
    trends = sorted({r.trend_slug for r in rows if r.trend_slug})
    issues = sorted({r.issue_start for r in rows if r.issue_start})
    f: dict = {}
    if draw(st.booleans()):
        f["section"] = draw(st.sets(st.sampled_from(sections), min_size=1, max_size=3))
    if draw(st.booleans()):
        f["trend"] = draw(st.sets(st.sampled_from(trends), min_size=1, max_size=2))
    if draw(st.integers(0, 3)) == 0:
        f["issue"] = draw(st.sets(st.sampled_from(issues), min_size=1, max_size=3))
    if draw(st.booleans()):
        f["lang"] = draw(st.sampled_from(["en", "ru"]))
    span = (issues[-1] - issues[0]).days
    if draw(st.booleans()):
        f["from"] = issues[0] + dt.timedelta(days=draw(st.integers(-10, span + 10)))
    if draw(st.booleans()):
        f["to"] = issues[0] + dt.timedelta(days=draw(st.integers(-10, span + 10)))
    if "from" in f and "to" in f and f["from"] > f["to"]:  # from after to is a 400
        f["from"], f["to"] = f["to"], f["from"]
    if draw(st.integers(0, 3)) == 0:
        f["updated_since"] = dt.datetime.combine(
            issues[0] + dt.timedelta(days=draw(st.integers(0, span))), dt.time(), dt.UTC
        )
    return f


def test_an_exact_total_is_the_oracle_count_at_any_clock_time(counted):
    app, rows = counted
    client = app.test_client()
    assert sum(r.embargo_until is not None and r.status == "published" for r in rows) >= 3  # the clock matters

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(f=filter_sets(rows), now=st.sampled_from(CLOCKS))
    def check(f, now):
        clock.freeze(now)
        try:
            response = client.get("/v1/articles", query_string=_query(f))
        finally:
            clock.freeze(None)
        assert response.status_code == 200, response.get_json()
        meta = response.get_json()["meta"]
        if not meta["total_estimated"]:
            assert meta["total"] == oracle(rows, now, f), f
        else:  # a lower bound
            assert queries.COUNT_BOUND == meta["total"] <= oracle(rows, now, f)

    check()


@pytest.mark.parametrize("now", CLOCKS)
def test_a_total_of_counted_filters_never_counts_the_articles(counted, now):
    """Filters the counts hold are answered by a sum over them: no statement of the request counts articles."""
    app, rows = counted
    client = app.test_client()
    clock.freeze(now)
    try:
        with recorded_statements(app) as seen:
            body = client.get("/v1/articles?section=economy&lang=en&limit=1").get_json()
    finally:
        clock.freeze(None)
    assert body["meta"]["total_estimated"] is False
    assert body["meta"]["total"] == oracle(rows, now, {"section": {"economy"}, "lang": "en"}) > 0
    assert not [s for s in seen if "count(" in s]
    assert [s for s in seen if "article_total" in s]


@contextmanager
def _captured(app):
    """The (statement, parameters) pairs the app's live store runs inside the block."""
    engine = app.extensions["store"].current().engine
    seen: list[tuple] = []

    def record(conn, cursor, statement, parameters, *args):
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _plan(app, statement: str, parameters) -> list[str]:
    """The plan of one captured statement: SQLite's EXPLAIN QUERY PLAN lines, or PostgreSQL's plan nodes as
    "<node type> <relation> <index> <index condition>" strings. PostgreSQL is asked with sequential scans off: at
    the test's few hundred rows a scan is cheaper than any index, so the question is whether the index serves."""
    db = app.extensions["store"]
    with db.session(db.current()) as session:
        cursor = session.connection().connection.cursor()
        if session.get_bind().dialect.name == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            return [row[3] for row in cursor.fetchall()]
        cursor.execute("SET enable_seqscan = off")
        try:
            cursor.execute("EXPLAIN (FORMAT JSON) " + statement, parameters)
            root = cursor.fetchone()[0][0]["Plan"]
        finally:
            cursor.execute("RESET enable_seqscan")
        nodes, todo = [], [root]
        while todo:
            node = todo.pop()
            parts = (node["Node Type"], node.get("Relation Name"), node.get("Index Name"), node.get("Index Cond"))
            nodes.append(" ".join(p for p in parts if p))
            todo += node.get("Plans", [])
        return nodes


def test_a_total_over_weeks_reads_a_row_per_combination_not_per_week(counted):
    """A `from`/`to` total reads one row per public combination (article_total) and looks up the running counts of
    its two edge weeks by index (article_count), so its cost does not grow with the number of weeks; the totals
    hold one row per combination of section, trend tag, language, status and embargo end."""
    app, rows = counted
    weeks = sorted({r.issue_start for r in rows if r.issue_start})
    f = {"from": weeks[len(weeks) // 4], "to": weeks[3 * len(weeks) // 4], "lang": "en"}
    with _captured(app) as seen:
        meta = app.test_client().get("/v1/articles", query_string=_query(f)).get_json()["meta"]
    assert (meta["total"], meta["total_estimated"]) == (oracle(rows, CLOCKS[0], f), False)
    [(statement, parameters)] = [(s, p) for s, p in seen if "article_total" in s]
    plan = _plan(app, statement, parameters)
    weekly = [line for line in plan if "article_count" in line]
    assert len(weekly) == 2, plan  # the last week at or before `to`, the last before `from`
    assert all("ix_article_count_running" in line and "combo" in line for line in weekly), plan
    assert not [line for line in weekly if line.startswith(("SCAN", "Seq Scan"))], plan
    db = app.extensions["store"]
    with db.session(db.current()) as session:
        combos = session.scalar(select(func.count()).select_from(ArticleTotal))
    assert combos == len({(r.section_slug, r.trend_slug, r.lang, r.status, r.embargo_until) for r in rows})
    assert combos < len(
        {(r.section_slug, r.trend_slug, r.lang, r.status, r.embargo_until, r.issue_start) for r in rows}
    )


def test_past_the_bound_an_uncounted_filter_set_is_estimated(counted, monkeypatch):
    app, rows = counted
    monkeypatch.setattr(queries, "COUNT_BOUND", 5)
    since = {"updated_since": dt.datetime(1990, 1, 1, tzinfo=dt.UTC)}
    assert oracle(rows, CLOCKS[0], since) > 5
    for sort in ("newest", "oldest"):
        meta = app.test_client().get("/v1/articles", query_string={**_query(since), "sort": sort}).get_json()["meta"]
        assert (meta["total"], meta["total_estimated"]) == (5, True)
    few = {"updated_since": max(r.updated_at for r in rows)}
    expected = oracle(rows, dt.datetime.now(dt.UTC), few)
    assert 0 < expected <= 5
    meta = app.test_client().get("/v1/articles", query_string=_query(few)).get_json()["meta"]
    assert (meta["total"], meta["total_estimated"]) == (expected, False)


def test_a_date_range_counts_the_weeks_it_touches_and_no_other(counted):
    """At the edges of a range: `from` on the last day of a week (its Sunday) still takes that week, the day after
    does not; `to` on the week's first day takes it, the day before does not. Checked at every week, so a running
    count read one week off at either edge would differ from the oracle."""
    app, rows = counted
    client = app.test_client()
    weeks = sorted({r.issue_start for r in rows if r.issue_start})
    now = CLOCKS[0]
    clock.freeze(now)
    try:
        for week in weeks[1:-1]:
            for f in (
                {"from": week + dt.timedelta(days=6)},
                {"from": week + dt.timedelta(days=7)},
                {"to": week},
                {"to": week - dt.timedelta(days=1)},
                {"from": week, "to": week},
            ):
                meta = client.get("/v1/articles", query_string=_query(f)).get_json()["meta"]
                assert (meta["total"], meta["total_estimated"]) == (oracle(rows, now, f), False), f
    finally:
        clock.freeze(None)


def test_a_feeds_archive_weeks_are_the_weeks_of_its_public_matches(counted):
    """queries.archive_week and holds_public_article (the RFC 5005 links of the Atom feed) against the oracle's
    weeks: the newest, the nearest before and after each week, whether a week holds a match; by the counts for
    counted filters, and by the issues for the same filters plus an `updated_since` older than every article (the
    same articles, the other path)."""
    app, rows = counted
    weeks = sorted({r.issue_start for r in rows if r.issue_start})
    db = app.extensions["store"]

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(f=filter_sets(rows), now=st.sampled_from(CLOCKS), at=st.sampled_from(weeks))
    def check(f, now, at):
        f = {k: v for k, v in f.items() if k not in ("issue", "updated_since")}
        held = sorted({r.issue_start for r in rows if r.issue_start and _matches(r, now, f)})
        filters = {("from_" if k == "from" else k): (sorted(v) if isinstance(v, set) else [v] if k == "lang" else v)
                   for k, v in f.items()}  # fmt: skip
        everything = {**filters, "updated_since": dt.datetime(1900, 1, 1, tzinfo=dt.UTC)}
        with db.session(db.current()) as session:
            for given_filters in (filters, everything):
                assert queries.archive_week(session, now, given_filters) == (held[-1] if held else None)
                before = [w for w in held if w < at]
                after = [w for w in held if w > at]
                assert queries.archive_week(session, now, given_filters, before=at) == (before[-1] if before else None)
                assert queries.archive_week(session, now, given_filters, after=at) == (after[0] if after else None)
                assert queries.holds_public_article(session, now, given_filters, at) == (at in held)

    check()


def _matches(row, now: dt.datetime, f: dict) -> bool:
    return oracle([row], now, f) == 1
