"""THE visibility rule, free of the web layer: the loader validates a new generation with it, queries serve by it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, and_, or_, select

from api.store.models import Article


def is_public(now: dt.datetime):
    """Published, and past its embargo. Every article query goes through it."""
    return and_(
        Article.status == "published",
        or_(Article.embargo_until.is_(None), Article.embargo_until <= now),
    )


def public_articles(now: dt.datetime) -> Select:
    return select(Article).where(is_public(now))
