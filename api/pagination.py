"""One pagination helper for every collection: keyset cursors (fast at any depth) and shallow page numbers."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Select, and_, bindparam, func, or_, select, tuple_
from sqlalchemy.orm import Session

from api.problems import BadRequest
from api.signing import Signer

MAX_PAGE_DEPTH = 10_000  # page × limit beyond this must use cursors (offset scans grow with depth)

_INT_RANGE = range(-(2**63), 2**63)  # what a BIGINT column holds


def _datetime(value: str) -> dt.datetime:
    found = dt.datetime.fromisoformat(value)
    if found.tzinfo is None:
        raise ValueError("a cursor time carries its zone")
    return found.astimezone(dt.UTC)  # OverflowError past the calendar's ends


def _int(value) -> int:
    if type(value) is not int or value not in _INT_RANGE:
        raise ValueError("not a 64-bit integer")
    return value


def _float(value) -> float:
    if type(value) not in (int, float) or not math.isfinite(value):
        raise ValueError("not a finite number")
    return float(value)


def _str(value) -> str:
    if type(value) is not str:
        raise ValueError("not a string")
    return value


_DECODERS: dict[type, Callable[[Any], Any]] = {
    dt.datetime: _datetime,
    dt.date: lambda v: dt.date.fromisoformat(_str(v)),
    int: _int,
    float: _float,
    str: _str,
}
CURSOR = "cursor"  # the signing purpose of cursors (api.signing)


@dataclass(frozen=True)
class Key:
    """One column of a sort key: the ORM attribute, its direction and its Python type."""

    attr: str
    column: Any
    descending: bool
    type: type


@dataclass(frozen=True)
class Order:
    """A stable order: the last key is unique, so keyset pagination never skips or repeats an item.

    A positional order (search relevance) pages by position instead: its first key (a score) is never put in a
    cursor, and its cursors hold only for the content version that issued them; its pages reach `depth` items.
    """

    name: str
    keys: tuple[Key, ...]
    positional: bool = False
    depth: int | None = None

    def clauses(self, reverse: bool = False) -> list:
        return [(k.column.asc() if k.descending == reverse else k.column.desc()) for k in self.keys]

    def values(self, item: Any) -> list:
        return [getattr(item, k.attr) for k in self.keys]

    def after(self, values: Sequence, reverse: bool = False):
        """Rows strictly after `values` in this order (or before them when reverse)."""
        if len({k.descending for k in self.keys}) == 1:
            # All keys one way: a row-value comparison, which SQLite and PostgreSQL answer as one range of the
            # order's index, so a page costs the same at any depth, even inside a run of equal first keys (the
            # undated articles all share 1970-01-01).
            columns, bound = tuple_(*(k.column for k in self.keys)), tuple_(*values)
            return columns < bound if self.keys[0].descending != reverse else columns > bound
        ors = []
        for i, key in enumerate(self.keys):
            cmp = key.column < values[i] if key.descending != reverse else key.column > values[i]
            ors.append(and_(*[k.column == values[j] for j, k in enumerate(self.keys[:i])], cmp))
        # The same rows, plus a plain range on the first key, so the planner seeks the order's index to the cursor
        # instead of scanning it from the start (the deepest page costs what the first does).
        first, v0 = self.keys[0], values[0]
        seek = first.column <= v0 if first.descending != reverse else first.column >= v0
        return and_(seek, or_(*ors))


@dataclass(frozen=True)
class Total:
    """How many items a collection holds: exact, or (estimated) a lower bound, when counting would read more
    than a bounded number of rows."""

    n: int
    estimated: bool = False


@dataclass
class Page:
    items: list
    total: int
    next_cursor: str | None
    prev_cursor: str | None
    page: int | None
    total_estimated: bool = False


def bounded_total(session: Session, stmt: Select, params: dict | None, bound: int) -> Total:
    """The rows of `stmt`, counted up to `bound`: past it, the total is `bound`, marked as estimated (at least
    that many). The count reads at most bound + 1 rows, whatever the archive holds."""
    found = session.scalar(
        select(func.count()).select_from(stmt.order_by(None).limit(bound + 1).subquery()), params or {}
    )
    return Total(bound, True) if found > bound else Total(found)


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


def jsonable_filters(filters: dict) -> dict:
    """Filter values as text (a list of values as a list of texts): the form cursors fingerprint them in."""
    return {k: ([str(x) for x in v] if isinstance(v, list) else str(v)) for k, v in filters.items()}


def fingerprint(filters: dict) -> str:
    """A short hash of the normalised filters, so a cursor is refused under different filters."""
    return hashlib.blake2b(orjson.dumps(filters, option=orjson.OPT_SORT_KEYS), digest_size=6).hexdigest()


def decode_cursor(cursor: str, order: Order, filters_fp: str, signer: Signer, version: str | None = None):
    """Decode an opaque cursor into (key values, backwards?), or (position, False) for a positional order; a cursor
    this API did not sign, or signed for another order, other filters or (positional) another content version,
    is a 400 naming `cursor`."""
    raw = signer.unsign(CURSOR, cursor)
    if raw is None:
        raise BadRequest("The cursor is not one this API issued.", {"cursor": "invalid cursor"})
    try:
        payload = orjson.loads(raw)
        if payload["o"] != order.name or payload["f"] != filters_fp:
            raise BadRequest("This cursor belongs to another order or other filters.", {"cursor": "mismatched cursor"})
        if order.positional:
            if payload["v"] != version:
                raise BadRequest(
                    "This search cursor belongs to an earlier version of the archive; repeat the search.",
                    {"cursor": "expired cursor"},
                )
            position = _int(payload["n"])
            if position < 0:
                raise ValueError("a position is never negative")
            return position, False
        values = payload["k"]
        if not isinstance(values, list) or len(values) != len(order.keys):
            raise ValueError
        return [_DECODERS[k.type](v) for k, v in zip(order.keys, values, strict=True)], payload.get("d") == "p"
    except BadRequest:
        raise
    except (ValueError, KeyError, TypeError, OverflowError, orjson.JSONDecodeError):
        raise BadRequest("The cursor is not one this API issued.", {"cursor": "invalid cursor"}) from None


def _cursor(order: Order, item: Any, filters_fp: str, backwards: bool, signer: Signer) -> str:
    payload = {"o": order.name, "f": filters_fp, "k": [_json_value(v) for v in order.values(item)]}
    if backwards:
        payload["d"] = "p"
    return signer.sign(CURSOR, orjson.dumps(payload))


def _position_cursor(order: Order, position: int, filters_fp: str, signer: Signer, version: str | None) -> str:
    return signer.sign(CURSOR, orjson.dumps({"o": order.name, "f": filters_fp, "v": version, "n": position}))


def _fetch(session: Session, stmt: Select, params: dict | None, row: Callable | None) -> list:
    """The page's items: `row(r)` for each row, or else the row's first entity, further labelled columns (say, a
    search rank) becoming attributes of it."""
    if row is not None:  # plain column rows (a Core select): no ORM session work at all
        return [row(r) for r in session.connection().execute(stmt, params or {}).all()]
    items = []
    for r in session.execute(stmt, params or {}):
        item = r[0]
        for name, value in zip(r._fields[1:], r[1:], strict=True):
            setattr(item, name, value)
        items.append(item)
    return items


#: Page statements derived from prepared ones (queries.article_list), by (shape, order, direction, mode): the
#: cursor keys, limit and offset are bound parameters too, so a page of a known shape is a parameter change.
_PAGE_STATEMENTS: dict[tuple, Select] = {}


def _page_statement(stmt: Select, order: Order, prepared, reverse: bool, mode: str) -> Select:
    key = (prepared, order.name, reverse, mode)
    found = _PAGE_STATEMENTS.get(key) if prepared is not None else None
    if found is not None:
        return found
    if mode == "seek":
        keys = [bindparam(f"_k{i}", type_=k.column.type) for i, k in enumerate(order.keys)]
        stmt = stmt.where(order.after(keys, reverse=reverse))
    stmt = stmt.order_by(*order.clauses(reverse=reverse)).limit(bindparam("_limit"))
    if mode == "offset":
        stmt = stmt.offset(bindparam("_offset"))
    if prepared is not None:
        _PAGE_STATEMENTS[key] = stmt
    return stmt


def paginate(
    session: Session,
    stmt: Select,
    order: Order,
    *,
    limit: int,
    signer: Signer,
    version: str | None = None,
    cursor: str | None = None,
    page: int | None = None,
    filters: dict | None = None,
    count: bool | Callable[[], Total] = True,
    memo: Callable[[Callable[[], Total]], Total] | None = None,
    params: dict | None = None,
    prepared=None,
    row: Callable | None = None,
) -> Page:
    """Run `stmt` one page at a time in `order`: fetch limit+1 to know whether a next page exists.

    Cursors are signed by `signer`; a positional order's cursors name the content `version` they hold for, and its
    pages stop at its `depth` (deeper is a 400). The total is computed unless `count` is false, by `count()` when
    it is a function (else by counting `stmt`: a positional order's up to its depth), through `memo(compute)`
    when given (the web layer keeps it once per generation and filter set).
    `params` are the values of `stmt`'s bound parameters; `prepared` (hashable) names a statement built once
    per process, whose page statements are then kept too; `row` turns a plain row into an item.
    """
    fp = fingerprint({"order": order.name, **(filters or {})})
    total = Total(-1)
    if count:

        def compute() -> Total:
            if callable(count):
                return count()
            if order.depth is not None:
                return bounded_total(session, stmt, params, order.depth)
            return Total(session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()), params or {}))

        total = memo(compute) if memo is not None else compute()
    if cursor is not None and page is not None:
        raise BadRequest("Use either cursor or page, not both.", {"page": "cannot be combined with cursor"})
    values = {**(params or {}), "_limit": limit + 1}
    if page is not None and page * limit > MAX_PAGE_DEPTH:
        raise BadRequest(
            f"Page numbers reach only {MAX_PAGE_DEPTH} items deep; follow the `next` cursor links beyond that.",
            {"page": f"page × limit must be at most {MAX_PAGE_DEPTH}"},
        )
    if order.positional:
        start = (page - 1) * limit if page is not None else 0
        if cursor is not None:
            start, _ = decode_cursor(cursor, order, fp, signer, version)
        depth = order.depth if order.depth is not None else math.inf
        if start >= depth > 0:
            name = "cursor" if cursor is not None else "page"
            raise BadRequest(
                f"A search reaches only its {depth} best hits; narrow it with more words or filters.",
                {name: f"a search page must start within its first {depth} hits"},
            )
        values["_offset"] = start
        rows = _fetch(session, _page_statement(stmt, order, prepared, False, "offset"), values, row)
        items = rows[: max(0, min(limit, depth - start))]
        more = len(rows) > limit and start + limit < depth
        nxt = _position_cursor(order, start + limit, fp, signer, version) if more else None
        prev = _position_cursor(order, max(0, start - limit), fp, signer, version) if start > 0 else None
        return Page(items, total.n, nxt, prev, page, total.estimated)
    if page is not None:
        values["_offset"] = (page - 1) * limit
        rows = _fetch(session, _page_statement(stmt, order, prepared, False, "offset"), values, row)
        items = rows[:limit]
        nxt = _cursor(order, items[-1], fp, False, signer) if len(rows) > limit else None
        prev = _cursor(order, items[0], fp, True, signer) if page > 1 and items else None
        return Page(items, total.n, nxt, prev, page, total.estimated)
    backwards = False
    if cursor is not None:
        keys, backwards = decode_cursor(cursor, order, fp, signer)
        values.update({f"_k{i}": v for i, v in enumerate(keys)})
    mode = "seek" if cursor is not None else "first"
    rows = _fetch(session, _page_statement(stmt, order, prepared, backwards, mode), values, row)
    more = len(rows) > limit
    items = rows[:limit]
    if backwards:
        items.reverse()
        nxt = _cursor(order, items[-1], fp, False, signer) if items else None
        prev = _cursor(order, items[0], fp, True, signer) if more else None
    else:
        nxt = _cursor(order, items[-1], fp, False, signer) if more else None
        prev = _cursor(order, items[0], fp, True, signer) if cursor is not None and items else None
    return Page(items, total.n, nxt, prev, None, total.estimated)
