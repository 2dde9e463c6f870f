"""Compiled dumpers (schemas/compiled.py) give exactly what marshmallow gives, and lists built from plain rows
(queries.article_list + ArticleItem) dump exactly like the ORM articles they replace."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from marshmallow import Schema, fields, post_dump
from sqlalchemy import select

from api import clock
from api.pagination import paginate
from api.store import queries
from api.store.models import Article, Issue, Section, Trend
from schemas import output
from schemas.compiled import dump_many, dumper

CONTEXTS = [
    output.DumpContext(lang, base, fmt)
    for lang in ("en", "ru", "be")
    for base, fmt in (("http://127.0.0.1:8000", None), ("https://api.example", "text"), ("", "blocks"))
]


def same(schema: type[Schema], objs: list, context: output.DumpContext) -> None:
    assert objs, "nothing to compare"
    assert dump_many(schema, objs, context) == schema(context=context).dump(objs, many=True)


@pytest.fixture
def session(app):
    store = app.extensions["store"]
    with app.app_context(), store.session(store.current()) as session:
        yield session


@pytest.mark.parametrize("context", CONTEXTS, ids=lambda c: f"{c.lang}-{c.format}")
def test_every_article_schema_matches_marshmallow_on_every_article(session, context):
    articles = list(session.scalars(select(Article).order_by(Article.id)))  # drafts too: any row must dump alike
    for article in articles:
        article.snippet = f"… <mark>{article.slug[:5]}</mark> …"  # a search hit's attribute
    for schema in (output.ArticleSummarySchema, output.ArticleListItemSchema, output.ArticleSchema):
        same(schema, articles, context)


@pytest.mark.parametrize("context", CONTEXTS[:3], ids=lambda c: c.lang)
def test_taxonomy_issue_and_timeline_schemas_match_marshmallow(session, context):
    now = clock.now()
    sections = list(session.scalars(select(Section)))
    queries.annotate_counts(session, sections, Article.section_slug, "slug", now)
    queries.annotate_streaks(session, sections, now)
    trends = list(session.scalars(select(Trend)))
    queries.annotate_counts(session, trends, Article.trend_slug, "slug", now)
    issues = list(session.scalars(select(Issue)))
    queries.annotate_issues(session, issues, now)
    for schema, objs in (
        (output.SectionSchema, sections),
        (output.SectionRefSchema, sections),
        (output.TrendSchema, trends),
        (output.IssueSummarySchema, issues),
        (output.IssueRefSchema, issues),
        (output.TimelineCellSchema, _cells(session, issues, sections, now)),
    ):
        same(schema, objs, context)


def _cells(session, issues, sections, now) -> list[dict]:
    by_start, by_slug = {i.start: i for i in issues}, {s.slug: s for s in sections}
    cells = queries.trend_timeline(session, now)
    for cell in cells:  # as api/resources/timeline.py shapes them
        cell["issue"], cell["section"] = by_start[cell["issue_start"]], by_slug[cell["section_slug"]]
        cell["articles_url"] = "http://x/v1/articles"
    assert cells
    return cells


@pytest.mark.parametrize("context", CONTEXTS, ids=lambda c: f"{c.lang}-{c.format}")
def test_a_list_of_plain_rows_dumps_like_the_orm_articles(app, session, context):
    """Every public article, page by page through the prepared list query, against the ORM object of the same
    article dumped by marshmallow: the Core rows, the shared section/trend terms and the compiled dump change
    nothing on the wire."""
    now = clock.now()
    generation = app.extensions["store"].current()
    terms = queries.terms(session, generation.id)
    orm = {a.id: a for a in session.scalars(queries.public_articles(now))}
    for with_body, schema in ((False, output.ArticleSummarySchema), (True, output.ArticleListItemSchema)):
        stmt, params, prepared = queries.article_list(now, {}, with_body)
        order, cursor, seen = queries.ARTICLE_ORDERS["newest"], None, []
        while True:
            page = paginate(session, stmt, order, limit=7, cursor=cursor, params=params, prepared=prepared,
                            signer=app.extensions["signer"], row=lambda r: queries.ArticleItem(r, terms))  # fmt: skip
            expected = schema(context=context).dump([orm[i.id] for i in page.items], many=True)
            assert dump_many(schema, page.items, context) == expected
            seen += [i.id for i in page.items]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert sorted(seen) == sorted(orm), "the prepared list walks every public article once"


# --------------------------------------------------------------------------- marshmallow semantics kept


class Inner(Schema):
    x = fields.Integer()
    y = fields.String(data_key="why")


class Odd(Schema):
    """Field kinds and options the dumper handles itself or hands to marshmallow."""

    name = fields.String(attribute="title")
    count = fields.Integer(dump_default=7)
    as_text = fields.Integer(as_string=True)
    ratio = fields.Float()
    flag = fields.Boolean()
    when = fields.DateTime(format="%Y/%m/%d")
    day = fields.Date()
    stamp = fields.DateTime()
    tags = fields.List(fields.String())
    meta = fields.Dict(keys=fields.String(), values=fields.Integer())
    inner = fields.Nested(Inner, allow_none=True)
    many = fields.Nested(Inner, many=True)
    only = fields.Nested(Inner, only=("x",))
    plucked = fields.Pluck(Inner, "x")
    method = fields.Method("shout")
    gone = fields.Function(lambda o: fields.missing_ if _title(o) is None else _title(o).upper())
    dotted = fields.String(attribute="inner.y")
    raw = fields.Raw()

    def shout(self, obj):
        return f"{_title(obj)}!"


def _title(obj):
    return obj["title"] if isinstance(obj, dict) else obj.title


def _odd(**changes) -> SimpleNamespace:
    values = dict(
        title="t", as_text=3, ratio=1, flag="yes", when=dt.datetime(2022, 2, 14, 9, tzinfo=dt.UTC),
        day=dt.date(2022, 2, 14), stamp=dt.datetime(2022, 2, 14, 9, 30), tags=["a", 1], meta={"k": "2"},
        inner=SimpleNamespace(x="5", y="z"), many=[SimpleNamespace(x=1, y=None)], only=SimpleNamespace(x=2, y="n"),
        plucked=SimpleNamespace(x=9, y="p"), raw={"any": [1]},
    )  # fmt: skip
    values.update(changes)
    return SimpleNamespace(**values)


@pytest.mark.parametrize(
    "obj",
    [
        _odd(),
        _odd(title=None, inner=None, tags=None, ratio=None, day=None),
        {"title": "from a dict", "count": 2, "inner": {"x": 1, "y": "d"}, "tags": [], "many": [], "only": None},
    ],
    ids=["object", "nones", "dict"],
)
def test_odd_fields_dump_as_marshmallow_does(obj):
    assert dumper(Odd)(obj, None) == Odd().dump(obj)


def test_a_schema_with_dump_hooks_is_dumped_by_marshmallow_itself():
    class Hooked(Schema):
        a = fields.String()

        @post_dump
        def wrap(self, data, **kwargs):
            return {"wrapped": data}

    assert (
        dumper(Hooked)(SimpleNamespace(a="x"), None) == {"wrapped": {"a": "x"}} == Hooked().dump(SimpleNamespace(a="x"))
    )


def test_a_missing_attribute_is_left_out_as_marshmallow_leaves_it_out():
    class Sparse(Schema):
        a = fields.String()
        b = fields.Integer()

    assert dumper(Sparse)(SimpleNamespace(a="x"), None) == {"a": "x"} == Sparse().dump(SimpleNamespace(a="x"))


# --------------------------------------------------------------------------- the prepared page statements' plans


@pytest.mark.parametrize(
    ("filters", "index"),
    [({}, "ix_article_newest"), ({"section": ["economy"]}, "ix_article_section_newest"),
     ({"lang": ["ru"]}, "ix_article_lang_newest")],
)  # fmt: skip
@pytest.mark.parametrize("sort", ["newest", "oldest"])
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the plan checked is SQLite's
def test_a_cursor_page_is_one_range_of_its_order_index(loaded, filters, index, sort):
    """SQLite's plan for a cursor page seeks the order's index by the row value (published_at, slug): no scan of
        the rows before the cursor, and none of a run of equal dates (the undated articles share 1970-01-01), so the
        last page costs what the first does. PostgreSQL answers a row-value range from its btree the same way; its plan
    on a sample this small would be a sequential scan anyway. (Speed itself is for `make bench`.)"""
    from sqlalchemy import create_engine, event

    from api.pagination import _page_statement

    stmt, params, prepared = queries.article_list(clock.now(), filters)
    page = _page_statement(stmt, queries.ARTICLE_ORDERS[sort], prepared, False, "seek")
    engine, sent = create_engine(loaded["DATABASE_URL"]), []
    event.listen(engine, "before_cursor_execute", lambda *a: sent.append((a[2], a[3])))
    with engine.connect() as conn:  # the SQL and parameters SQLAlchemy sends, expanded IN lists included
        conn.execute(page, {**params, "_limit": 21, "_k0": dt.datetime(2022, 2, 14, tzinfo=dt.UTC), "_k1": "m"})
        sql, values = sent[-1]
        plan = " ".join(r[-1] for r in conn.connection.driver_connection.execute(f"EXPLAIN QUERY PLAN {sql}", values))
    engine.dispose()
    assert f"INDEX {index} (" in plan and "(published_at,slug)" in plan and "SCAN" not in plan, plan
