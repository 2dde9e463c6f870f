"""The pagination helper's rules (api/pagination.py) on generated rows, against an oracle, in memory.

Rows with many ties (a few distinct values per column) are paged in every kind of order the API uses: all keys
one way (the row-value comparison), mixed directions (the OR of keys with the seek range), and a positional
order with a depth (search relevance). The oracle is Python's sort of the same rows. Checked:

- a walk by `next` cursors visits every row once, in order, `limit` at a time, and stops exactly at the end;
- `prev` is absent exactly on the first page, and walking back by `prev` from anywhere gives the same pages;
- page numbers give the oracle's slices, with `next`/`prev` where they belong, and stop at MAX_PAGE_DEPTH;
- a positional order pages by position up to its depth, deeper is a 400, its cursors hold for one version;
- totals: counted, a given count function, a memo, none; a bounded total marks itself estimated past its bound;
- a cursor is refused (400 naming `cursor`) under another order, other filters, another secret, or edited.

Each example runs in milliseconds (SQLite in memory, no app), so mutation testing runs this file per mutant.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Date, Float, Integer, MetaData, String, Table, bindparam, create_engine, select
from sqlalchemy.orm import Session

from api import pagination
from api.pagination import Key, Order, Total, bounded_total, decode_cursor, fingerprint, paginate
from api.problems import BadRequest
from api.signing import Signer
from api.store.models import UTCDateTime

SIGNER = Signer(b"pagination rules")
META = MetaData()
ITEM = Table(
    "item",
    META,
    Column("id", Integer, primary_key=True),
    Column("day", Date, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("score", Float, nullable=False),
    Column("name", String, nullable=False),
)
BASE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _key(name: str, descending: bool, kind: type) -> Key:
    return Key(name, ITEM.c[name], descending, kind)


ORDERS = {
    "newest": Order("newest", (_key("at", True, dt.datetime), _key("id", True, int))),
    "oldest": Order("oldest", (_key("day", False, dt.date), _key("name", False, str), _key("id", False, int))),
    "mixed": Order("mixed", (_key("score", True, float), _key("name", False, str), _key("id", False, int))),
    "mixed2": Order("mixed2", (_key("day", False, dt.date), _key("id", True, int))),
}
RELEVANCE = Order("relevance", (_key("score", True, float), _key("id", False, int)), positional=True, depth=7)


class Row:
    def __init__(self, r):
        self.id, self.day, self.at, self.score, self.name = r.id, r.day, r.at, r.score, r.name

    def __repr__(self) -> str:
        return f"Row({self.id})"


rows = st.lists(
    st.tuples(st.integers(0, 2), st.integers(0, 2), st.sampled_from([0.5, 1.0, 2.25]), st.sampled_from("abc")),
    max_size=13,
)


def _session(data) -> Session:
    engine = create_engine("sqlite://")
    META.create_all(engine)
    with engine.begin() as conn:
        for i, (day, at, score, name) in enumerate(data, start=1):
            conn.execute(
                ITEM.insert().values(
                    id=i * 7 % 50,  # ids not in insertion order
                    day=dt.date(2026, 1, 1) + dt.timedelta(days=day),
                    at=BASE + dt.timedelta(hours=at),
                    score=score,
                    name=name,
                )
            )
    return Session(engine)


def _oracle(session: Session, order: Order) -> list[int]:
    found = [Row(r) for r in session.execute(select(ITEM))]
    for key in reversed(order.keys):  # stable sorts, least significant key first
        found.sort(key=lambda r, k=key: getattr(r, k.attr), reverse=key.descending)
    return [r.id for r in found]


def _page(session, order, **kw):
    kw.setdefault("limit", 3)
    return paginate(session, select(ITEM), order, signer=SIGNER, row=Row, **kw)


def _ids(page) -> list[int]:
    return [r.id for r in page.items]


@settings(max_examples=30, deadline=None)
@given(data=rows, name=st.sampled_from(sorted(ORDERS)), limit=st.integers(1, 4))
def test_cursor_walks_visit_every_row_once_in_order_and_back(data, name, limit):
    order = ORDERS[name]
    with _session(data) as session:
        expected = _oracle(session, order)
        pages, cursor = [], None
        for _ in range(len(expected) + 2):  # bounded: a walk that repeats a page must fail, not loop
            page = _page(session, order, limit=limit, cursor=cursor)
            assert page.total == len(expected) and page.page is None and page.total_estimated is False
            assert (page.prev_cursor is None) == (cursor is None or not page.items)
            pages.append(page)
            if page.next_cursor is None:
                break
            assert len(page.items) == limit
            cursor = page.next_cursor
        walked = [i for p in pages for i in _ids(p)]
        assert walked == expected
        assert len(pages) == max(1, -(-len(expected) // limit))
        # back from the last page by `prev` alone: the same pages in reverse, the first one without `prev`
        back, seen = pages[-1], []
        for _ in range(len(pages) + 1):
            if back.prev_cursor is None:
                break
            back = _page(session, order, limit=limit, cursor=back.prev_cursor)
            seen.append(_ids(back))
        assert seen == [_ids(p) for p in reversed(pages[:-1])]
        for earlier, page in zip(reversed(pages[:-1]), reversed(pages[1:]), strict=True):
            back = _page(session, order, limit=limit, cursor=page.prev_cursor)
            assert _ids(back) == _ids(earlier)
            assert (back.prev_cursor is None) == (earlier is pages[0])
            assert back.next_cursor is not None
            assert _ids(_page(session, order, limit=limit, cursor=back.next_cursor)) == _ids(page)


@settings(max_examples=25, deadline=None)
@given(data=rows, name=st.sampled_from(sorted(ORDERS)), limit=st.integers(1, 4), number=st.integers(1, 5))
def test_page_numbers_give_the_oracles_slices(data, name, limit, number):
    order = ORDERS[name]
    with _session(data) as session:
        expected = _oracle(session, order)
        page = _page(session, order, limit=limit, page=number)
        start = (number - 1) * limit
        assert _ids(page) == expected[start : start + limit]
        assert page.page == number and page.total == len(expected)
        assert (page.next_cursor is not None) == (len(expected) > start + limit)
        assert (page.prev_cursor is not None) == (number > 1 and start < len(expected))
        if page.next_cursor:
            assert (
                _ids(_page(session, order, limit=limit, cursor=page.next_cursor))
                == expected[start + limit : start + 2 * limit]
            )
        if page.prev_cursor:
            assert _ids(_page(session, order, limit=limit, cursor=page.prev_cursor)) == expected[start - limit : start]


@settings(max_examples=25, deadline=None)
@given(data=rows, limit=st.integers(1, 4), number=st.integers(1, 4))
def test_a_positional_order_pages_by_position_up_to_its_depth(data, limit, number):
    with _session(data) as session:
        expected = _oracle(session, RELEVANCE)[: RELEVANCE.depth]
        start = (number - 1) * limit
        if start >= RELEVANCE.depth:
            with pytest.raises(BadRequest) as err:
                _page(session, RELEVANCE, limit=limit, page=number, version="v1")
            assert "page" in err.value.invalid_params
            return
        page = _page(session, RELEVANCE, limit=limit, page=number, version="v1")
        assert _ids(page) == expected[start : start + limit]
        assert page.total == min(len(data), RELEVANCE.depth) and page.total_estimated == (len(data) > 7)
        assert (page.next_cursor is not None) == (len(expected) > start + limit or (
            len(data) > start + limit and start + limit < RELEVANCE.depth))  # fmt: skip
        assert (page.prev_cursor is not None) == (start > 0)
        walked, cursor = [], None
        for _ in range(len(expected) + 2):
            p = _page(session, RELEVANCE, limit=limit, cursor=cursor, version="v1")
            walked += _ids(p)
            if p.next_cursor is None:
                break
            cursor = p.next_cursor
        assert walked == expected
        if page.prev_cursor:
            back = _page(session, RELEVANCE, limit=limit, cursor=page.prev_cursor, version="v1")
            assert _ids(back) == expected[max(0, start - limit) : start]
        if page.next_cursor:
            with pytest.raises(BadRequest) as err:  # a search cursor holds for its content version only
                _page(session, RELEVANCE, limit=limit, cursor=page.next_cursor, version="v2")
            assert err.value.invalid_params == {"cursor": "expired cursor"}


def test_a_position_cursor_at_the_depth_is_a_400_naming_cursor():
    with _session([(0, 0, 1.0, "a")] * 12) as session:
        page = _page(session, RELEVANCE, limit=4, page=2, version="v")
        assert _ids(page) == _oracle(session, RELEVANCE)[4:7]  # cut at the depth
        assert page.next_cursor is None
        forged = pagination._position_cursor(RELEVANCE, 7, fingerprint({"order": "relevance"}), SIGNER, "v")
        with pytest.raises(BadRequest) as err:
            _page(session, RELEVANCE, limit=4, cursor=forged, version="v")
        assert set(err.value.invalid_params) == {"cursor"}
        negative = pagination._position_cursor(RELEVANCE, -1, fingerprint({"order": "relevance"}), SIGNER, "v")
        with pytest.raises(BadRequest) as err:
            _page(session, RELEVANCE, limit=4, cursor=negative, version="v")
        assert err.value.invalid_params == {"cursor": "invalid cursor"}


def test_totals_counted_given_memoised_or_skipped():
    data = [(i % 3, i % 2, 1.0, "abc"[i % 3]) for i in range(9)]
    order = ORDERS["newest"]
    with _session(data) as session:
        assert _page(session, order).total == 9
        assert _page(session, order, count=False).total == -1
        assert _page(session, order, count=lambda: Total(42, True)).total == 42
        assert _page(session, order, count=lambda: Total(42, True)).total_estimated is True
        seen = []
        page = _page(session, order, memo=lambda compute: seen.append(compute()) or Total(5))
        assert page.total == 5 and seen == [Total(9)]
        assert bounded_total(session, select(ITEM), None, 9) == Total(9)
        assert bounded_total(session, select(ITEM), None, 8) == Total(8, True)
        assert bounded_total(session, select(ITEM).where(ITEM.c.id < 0), None, 3) == Total(0)


def test_page_depth_and_cursor_with_page_are_400s():
    order = ORDERS["newest"]
    with _session([(0, 0, 1.0, "a")]) as session:
        limit = 10
        deepest = pagination.MAX_PAGE_DEPTH // limit
        assert _page(session, order, limit=limit, page=deepest).items == []
        with pytest.raises(BadRequest) as err:
            _page(session, order, limit=limit, page=deepest + 1)
        assert set(err.value.invalid_params) == {"page"}
        first = _page(session, order, limit=1, count=False)
        with pytest.raises(BadRequest) as err:
            _page(session, order, limit=1, page=1, cursor=pagination._cursor(order, first.items[0], "x", False, SIGNER))
        assert set(err.value.invalid_params) == {"page"}


def test_a_cursor_is_refused_under_another_order_filters_secret_or_edit():
    data = [(i % 3, i % 2, 1.0, "abc"[i % 3]) for i in range(6)]
    order = ORDERS["newest"]
    with _session(data) as session:
        page = _page(session, order, limit=2, filters={"lang": "en"})
        cursor = page.next_cursor
        assert (
            _ids(_page(session, order, limit=2, cursor=cursor, filters={"lang": "en"})) == _oracle(session, order)[2:4]
        )
        refusals = {
            "other filters": lambda: _page(session, order, limit=2, cursor=cursor, filters={"lang": "ru"}),
            "no filters": lambda: _page(session, order, limit=2, cursor=cursor),
            "other order": lambda: _page(session, ORDERS["oldest"], limit=2, cursor=cursor, filters={"lang": "en"}),
            "edited": lambda: _page(session, order, limit=2, cursor=cursor[:-2] + "AA", filters={"lang": "en"}),
            "other secret": lambda: decode_cursor(
                cursor, order, fingerprint({"order": "newest", "lang": "en"}), Signer(b"another")
            ),  # fmt: skip
        }
        for why, attempt in refusals.items():
            with pytest.raises(BadRequest) as err:
                attempt()
            assert set(err.value.invalid_params) == {"cursor"}, why


@pytest.mark.parametrize(
    "key, value",
    [
        ("at", "2026-01-01T00:00:00"),  # a cursor time without its zone
        ("at", 5),
        ("id", 2**63),
        ("id", True),
        ("id", 1.0),
        ("score", float("inf")),
        ("score", "1.0"),
        ("name", 3),
        ("day", 20260101),
        ("at", "9999-12-31T23:59:59-23:59"),  # past the calendar's end once in UTC
    ],
)
def test_a_signed_cursor_with_a_value_of_the_wrong_kind_is_a_400(key, value):
    import orjson

    order = Order("all", (_key("at", True, dt.datetime), _key("day", True, dt.date), _key("score", True, float),
                          _key("name", True, str), _key("id", True, int)))  # fmt: skip
    good = {"at": "2026-01-01T00:00:00+00:00", "day": "2026-01-01", "score": 1.0, "name": "a", "id": 1}
    fp = fingerprint({"order": "all"})
    payload = {"o": "all", "f": fp, "k": [good[k.attr] for k in order.keys]}
    values, back = decode_cursor(SIGNER.sign(pagination.CURSOR, orjson.dumps(payload)), order, fp, SIGNER)
    assert values[0] == BASE and values[1] == dt.date(2026, 1, 1) and values[2:] == [1.0, "a", 1] and back is False
    payload["k"] = [value if k.attr == key else good[k.attr] for k in order.keys]
    try:
        signed = SIGNER.sign(pagination.CURSOR, orjson.dumps(payload))
    except orjson.JSONEncodeError:  # inf: orjson writes null
        return
    with pytest.raises(BadRequest) as err:
        decode_cursor(signed, order, fp, SIGNER)
    assert err.value.invalid_params == {"cursor": "invalid cursor"}
    short = {**payload, "k": payload["k"][:-1]}
    with pytest.raises(BadRequest):
        decode_cursor(SIGNER.sign(pagination.CURSOR, orjson.dumps(short)), order, fp, SIGNER)


def test_the_400s_say_what_is_wrong_in_their_detail_and_parameter():
    """The problem details a client reads (docs/api.md): their text and the parameter each names."""
    order = ORDERS["newest"]
    fp = fingerprint({"order": "newest"})
    with _session([(0, 0, 1.0, "a")] * 3) as session:
        first = _page(session, order, limit=1)
        cases = [
            (lambda: _page(session, order, limit=1, cursor="nonsense"),
             "The cursor is not one this API issued.", {"cursor": "invalid cursor"}),
            (lambda: _page(session, order, limit=1, cursor=SIGNER.sign(pagination.CURSOR, b"[1")),
             "The cursor is not one this API issued.", {"cursor": "invalid cursor"}),
            (lambda: _page(session, ORDERS["oldest"], limit=1, cursor=first.next_cursor),
             "This cursor belongs to another order or other filters.", {"cursor": "mismatched cursor"}),
            (lambda: _page(session, order, limit=1, page=1, cursor=first.next_cursor),
             "Use either cursor or page, not both.", {"page": "cannot be combined with cursor"}),
            (lambda: _page(session, order, limit=10, page=pagination.MAX_PAGE_DEPTH // 10 + 1),
             f"Page numbers reach only {pagination.MAX_PAGE_DEPTH} items deep; follow the `next` cursor links "
             "beyond that.", {"page": f"page × limit must be at most {pagination.MAX_PAGE_DEPTH}"}),
            (lambda: _page(session, RELEVANCE, limit=7, page=2, version="v"),
             "A search reaches only its 7 best hits; narrow it with more words or filters.",
             {"page": "a search page must start within its first 7 hits"}),
            (lambda: decode_cursor(pagination._position_cursor(RELEVANCE, 1, fp, SIGNER, "old"), RELEVANCE, fp,
                                   SIGNER, "new"),
             "This search cursor belongs to an earlier version of the archive; repeat the search.",
             {"cursor": "expired cursor"}),
        ]  # fmt: skip
        for attempt, detail, params in cases:
            with pytest.raises(BadRequest) as err:
                attempt()
            assert (err.value.detail, err.value.invalid_params) == (detail, params)


def test_counts_bind_the_statements_parameters():
    """A statement with bound parameters (every prepared list) is counted with them, in both ways of counting."""
    data = [(0, 0, score, "a") for score in (0.5, 1.0, 2.25, 2.25, 1.0)]
    stmt = select(ITEM).where(ITEM.c.score >= bindparam("floor"))
    with _session(data) as session:
        for floor, n in ((1.0, 4), (2.0, 2)):
            page = paginate(session, stmt, ORDERS["newest"], limit=1, signer=SIGNER, row=Row, params={"floor": floor})
            assert page.total == n and len(page.items) == 1
            page = paginate(session, stmt, RELEVANCE, limit=1, signer=SIGNER, row=Row, params={"floor": floor},
                            version="v")  # fmt: skip
            assert page.total == n and page.total_estimated is False


@pytest.mark.parametrize("rows_in, limit, number", [(6, 3, 2), (7, 3, 2), (2, 2, 1), (9, 2, 3), (7, 7, 1)])
def test_a_positional_page_links_on_exactly_when_more_lie_within_the_depth(rows_in, limit, number):
    with _session([(i % 3, 0, 1.0, "a") for i in range(rows_in)]) as session:
        expected = _oracle(session, RELEVANCE)[: RELEVANCE.depth]
        start = (number - 1) * limit
        page = _page(session, RELEVANCE, limit=limit, page=number, version="v")
        assert page.page == number
        assert _ids(page) == expected[start : start + limit]
        assert (page.next_cursor is not None) == (len(expected) > start + limit)


def test_a_positional_order_without_a_depth_or_with_depth_one():
    unbounded = Order("unbounded", RELEVANCE.keys, positional=True)
    one = Order("one", RELEVANCE.keys, positional=True, depth=1)
    with _session([(i % 3, 0, 1.0, "a") for i in range(5)]) as session:
        expected = _oracle(session, unbounded)
        page = _page(session, unbounded, limit=2, page=3, version="v")
        assert _ids(page) == expected[4:] and page.total == 5 and page.next_cursor is None
        assert _ids(_page(session, one, limit=1, page=1, version="v")) == expected[:1]
        with pytest.raises(BadRequest):
            _page(session, one, limit=1, page=2, version="v")


def test_page_statements_of_a_prepared_statement_are_built_once():
    with _session([(0, 0, 1.0, "a")] * 3) as session:
        shape = ("pagination rules", object())
        for order, mode, kw in ((RELEVANCE, "offset", {"page": 1, "version": "v"}), (ORDERS["newest"], "first", {})):
            paginate(session, select(ITEM), order, limit=1, signer=SIGNER, row=Row, prepared=shape, **kw)
            built = pagination._PAGE_STATEMENTS[(shape, order.name, False, mode)]
            paginate(session, select(ITEM), order, limit=2, signer=SIGNER, row=Row, prepared=shape, **kw)
            assert pagination._PAGE_STATEMENTS[(shape, order.name, False, mode)] is built


def test_a_page_number_keeps_an_estimated_total_marked():
    with _session([(0, 0, 1.0, "a")] * 4) as session:
        page = _page(session, ORDERS["newest"], limit=2, page=2, count=lambda: Total(10_000, True))
        assert (page.total, page.total_estimated) == (10_000, True)
        page = _page(session, ORDERS["newest"], limit=2, page=1)
        assert (page.total, page.total_estimated) == (4, False)


def test_a_backwards_cursor_before_the_first_row_gives_an_empty_page_without_links():
    order = ORDERS["newest"]
    with _session([(0, i, 1.0, "a") for i in range(3)]) as session:
        first = _page(session, order, limit=3)
        fp = fingerprint({"order": "newest"})
        before_all = pagination._cursor(order, first.items[0], fp, True, SIGNER)
        page = _page(session, order, limit=3, cursor=before_all)
        assert (page.items, page.next_cursor, page.prev_cursor) == ([], None, None)
