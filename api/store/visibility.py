"""THE visibility rule, free of the web layer: the loader validates a new generation with it, queries serve by it.

It is written once (`_visibility`) and read two ways: as SQL over the article table (is_public) and over plain
values (is_public_row: the loader's change log and duplicate merge); the moment an article becomes visible
(visible_from) and the change feed's clock test (has_become_visible) are derived from it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Select, and_, or_, select

from api.store.models import Article

PUBLISHED = "published"


@dataclass(frozen=True)
class _Ops:
    """How the rule's connectives read over one kind of operand: SQL expressions or Python values."""

    both: object
    either: object
    unset: object
    reached: object  # reached(moment, now): the moment has come (evaluated eagerly: SQL has no short circuit)


_SQL = _Ops(both=and_, either=or_, unset=lambda v: v.is_(None), reached=lambda m, now: m <= now)
_PY = _Ops(
    both=lambda a, b: a and b,
    either=lambda a, b: a or b,
    unset=lambda v: v is None,
    reached=lambda m, now: m is not None and m <= now,
)


def _visibility(ops: _Ops, status, embargo_until, now):
    """Published, and no embargo or its embargo has passed."""
    return ops.both(status == PUBLISHED, ops.either(ops.unset(embargo_until), ops.reached(embargo_until, now)))


def is_public(now: dt.datetime, table=Article):
    """The rule as SQL over the article table (or another holding its visibility columns: the per-generation
    counts). Every article query goes through it."""
    return _visibility(_SQL, table.status, table.embargo_until, now)


def public_articles(now: dt.datetime) -> Select:
    return select(Article).where(is_public(now))


def is_public_at(status: str, embargo_until: dt.datetime | None, now: dt.datetime) -> bool:
    """The rule over plain values."""
    return bool(_visibility(_PY, status, embargo_until, now))


def is_public_row(row, now: dt.datetime) -> bool:
    """The rule over a row or record holding `status` and `embargo_until`."""
    return is_public_at(row.status, row.embargo_until, now)


def visible_from(status: str, embargo_until: dt.datetime | None, now: dt.datetime) -> dt.datetime | None:
    """From when an article loaded at `now` is public: now, or when its embargo ends; None: never."""
    if is_public_at(status, embargo_until, now):
        return now
    if embargo_until is not None and is_public_at(status, embargo_until, embargo_until):
        return embargo_until
    return None


def has_become_visible(column, now: dt.datetime):
    """SQL: a moment computed by visible_from (a change's visible_at) has come, by the rule's own clock test."""
    return _SQL.reached(column, now)
